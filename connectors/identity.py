"""Canonical forms of what identifies an account: handles, instance hosts, look-alike text.

One person must be one account however a platform (or a hostile user) spells them:
- NFKC folds compatibility characters (fullwidth `＠ａｌｉｃｅ` -> `@alice`), and the characters a
  reader cannot see (zero-width spaces and joiners, bidi controls such as U+202E, soft hyphens, the
  byte-order mark) are removed, so `al\u200bice` and `alice` are one handle;
- an internationalised instance host is IDNA-encoded (`bücher.example` -> `xn--bcher-kva.example`),
  so the Unicode and punycode spellings of one host are one account.
`leap_second_clamped` turns a `:60` second (a leap second, which Python and DuckDB cannot hold) into
`:59`, so the record is kept instead of quarantined.
"""

from __future__ import annotations

import re
import unicodedata

# invisible formatting characters: zero-width space/non-joiner/joiner, LRM/RLM, bidi embeddings,
# overrides and isolates, word joiner and invisible operators, soft hyphen, Mongolian vowel
# separator, byte-order mark
INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_LEAP = re.compile(r"(?<=[T ]\d\d:\d\d):60(?=$|[.,Z+\-\s])")


def clean_text(value: str) -> str:
    """NFKC, without the invisible formatting characters that make look-alikes."""
    return unicodedata.normalize("NFKC", INVISIBLE.sub("", value))


def canonical_host(host: str) -> str:
    """Lower case, IDNA (punycode) encoded; a host IDNA cannot encode is kept lower-cased."""
    host = clean_text(host).strip().rstrip(".").lower()
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def canonical_handle(value: str) -> str:
    """`＠Alice@Bücher.Example` -> `alice@xn--bcher-kva.example`: one spelling per account."""
    text = clean_text(value).strip().lstrip("@").lower()
    user, sep, host = text.rpartition("@")
    if not sep:
        return text
    return f"{user}@{canonical_host(host)}"


def leap_second_clamped(value: str) -> str:
    """`2016-12-31T23:59:60Z` -> `2016-12-31T23:59:59Z` (a leap second is kept, as its last second)."""
    return _LEAP.sub(":59", value)
