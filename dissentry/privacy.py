"""Pseudonymised author ids: keyed hashes, consistent across platforms, runs and layers.

With `settings.pseudonymise = true` the normalised layer and the marts carry, instead of account
ids, handles and post ids, HMAC-SHA256 digests keyed with a secret from the environment
(`settings.pseudonym_key_env`, default DISSENTRY_PSEUDONYM_KEY; read through `Config.secrets`, so a
scheduler may hand it over without the environment). The key never enters the lake, so
only whoever holds it can link a pseudonym back to an account (by hashing candidate handles).

- ids keep their platform: `mastodon:alice@social.example` -> `mastodon:p3f9c...`; post ids too,
  so replies, reposts and mentions still join and the network measures are unchanged;
- handles become the digest alone, and the configuration's handles are mapped the same way, so
  group membership still resolves; post URLs (which spell the handle) are dropped; `@handle`
  mentions inside post text are replaced by their pseudonyms, found in the text as a reader sees
  it (NFKC, without zero-width and bidi characters: `@\u202ealice` and a fullwidth `＠alice` are
  mentions of alice too);
- links to a profile (`https://host/@alice`, `/users/alice`, `bsky.app/profile/alice...`,
  `x.com/alice`) keep their host and lose the handle; a link card titled with an account's display
  name (as Mastodon titles profile cards: `Name (@handle)`) gets a digest for a title;
- display names and bios are reduced to the configured identity markers they carry (whole words,
  as the transforms match them), so membership inference and identity-marker shares are unchanged
  while names and self-descriptions are gone.
The raw layer keeps the platform's JSON as evidence; `settings.raw_retention_days` limits how long,
and `dissentry forget` erases an account from it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from dissentry.config import Config, ConfigError
from dissentry.connectors.identity import INVISIBLE, canonical_handle, clean_text
from dissentry.terms import python_pattern  # the same whole-word rule the marts use

_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_][\w.\-]*(?:@[A-Za-z0-9][\w.\-]*[A-Za-z0-9])?)")
_CARD_HANDLE = re.compile(r"\s*\(@[^()]*\)\s*$")  # Mastodon's profile cards: "Name (@user@host)"
_X_HOSTS = {"twitter.com", "x.com", "mobile.twitter.com"}
_X_RESERVED = {"i", "home", "search", "intent", "share", "hashtag", "explore", "settings", "messages",
               "notifications", "compose", "login", "signup", "tos", "privacy"}


def _folded(value: str) -> tuple[str, list[int]]:
    """`value` as a reader sees it (NFKC, invisible characters gone), and for every character of
    that the index of the character of `value` it came from (plus one past the end)."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(value):
        if INVISIBLE.match(ch):
            continue
        folded = ch if ch.isascii() else unicodedata.normalize("NFKC", ch)
        out.append(folded)
        index.extend([i] * len(folded))
    index.append(len(value))
    return "".join(out), index


def title_key(value: str | None) -> str | None:
    """A link card title as comparable with display names: `Name (@handle)` -> `name`."""
    if not value:
        return None
    return _CARD_HANDLE.sub("", clean_text(value)).strip().lower() or None


@dataclass(frozen=True)
class Pseudonymiser:
    key: bytes
    markers: tuple[str, ...] = ()
    _marker_pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_marker_pattern", python_pattern(list(self.markers)))

    def markers_only(self, value: str | None) -> str | None:
        """The identity markers a display name or bio carries, and nothing else of it."""
        if not value or self._marker_pattern is None:
            return None
        found = [m.group(0) for m in self._marker_pattern.finditer(value)]
        return " ".join(found) or None

    def digest(self, value: str) -> str:
        return "p" + hmac.new(self.key, value.encode(), hashlib.sha256).hexdigest()[:24]

    def account_id(self, value: str | None) -> str | None:
        """`platform:rest` -> `platform:<digest of rest>` (also for post ids)."""
        if value is None:
            return None
        platform, sep, rest = value.partition(":")
        return f"{platform}:{self.digest(rest)}" if sep else self.digest(value)

    def handle(self, value: str | None) -> str | None:
        # canonical handles are lower case; `platform:` + handle(h) == account_id(`platform:h`)
        return None if value is None else self.digest(value.strip().lstrip("@").lower())

    def text(self, value: str | None) -> str | None:
        if value is None:
            return None
        if value.isascii():
            return _MENTION.sub(lambda m: "@" + self.handle(m.group(1)), value)
        # match in the folded text, replace in the original: the rest of the text stays as written
        folded, index = _folded(value)
        pieces: list[str] = []
        last = 0
        for m in _MENTION.finditer(folded):
            start, end = index[m.start()], index[m.end() - 1] + 1
            pieces += [value[last:start], "@" + self.handle(m.group(1))]
            last = end
        if not pieces:
            return value
        pieces.append(value[last:])
        return "".join(pieces)

    def url(self, value: str | None) -> str | None:
        """A link to a profile (or a post under it) with the handle replaced by its digest."""
        if not value:
            return value
        try:
            parts = urlsplit(value)
        except ValueError:
            return value
        host = (parts.hostname or "").lower()
        try:  # an instance on a port of its own is another namespace, as in the mappings
            if parts.port not in (None, 80, 443):
                host += f":{parts.port}"
        except ValueError:  # a port that is not a number: not a profile link we can read
            return value
        path = parts.path
        m = re.match(r"^/@([^/@]+)(@[^/]+)?(/.*)?$", path)  # Mastodon and its kin: /@user[@host][/id]
        if m:
            handle = canonical_handle(m.group(1) + (m.group(2) or "@" + host))
            path = f"/@{self.handle(handle)}{m.group(3) or ''}"
        elif m := re.match(r"^/users/([^/]+)(/.*)?$", path):  # an ActivityPub actor URI
            path = f"/users/{self.handle(canonical_handle(m.group(1) + '@' + host))}{m.group(2) or ''}"
        elif host.endswith("bsky.app") and (m := re.match(r"^/profile/([^/]+)(/.*)?$", path)):
            path = f"/profile/{self.handle(m.group(1))}{m.group(2) or ''}"
        elif (host.removeprefix("www.") in _X_HOSTS and (m := re.match(r"^/([A-Za-z0-9_]{1,15})(/.*)?$", path))
              and m.group(1).lower() not in _X_RESERVED):
            path = f"/{self.handle(m.group(1))}{m.group(2) or ''}"
        else:
            return value
        return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))

    def title_digest(self, value: str | None) -> str | None:
        """A link card title that is a display name, as a digest (the title stays, the name goes)."""
        key = title_key(value)
        return None if key is None else self.digest("title:" + key)


def pseudonymiser_for(config: Config) -> Pseudonymiser | None:
    """The configured pseudonymiser, or None when pseudonymisation is off."""
    settings = config.settings
    if not settings.pseudonymise:
        return None
    key = config.secrets(settings.pseudonym_key_env)  # the caller's lookup: the environment by default
    if len(key) < 16:
        name = settings.pseudonym_key_env
        where = (f"the environment variable {name}" if config.secrets_from == "the environment"
                 else f"the secret {name} ({config.secrets_from})")
        raise ConfigError(
            f"settings.pseudonymise is on, but {where} "
            "does not hold a key of at least 16 characters (it is never stored in the lake or the config)"
        )
    markers = tuple(sorted({m for g in config.groups for m in g.bio_markers if m.strip()}))
    return Pseudonymiser(key.encode(), markers)
