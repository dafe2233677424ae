"""Pseudonymised author ids: keyed hashes, consistent across platforms, runs and layers.

With `settings.pseudonymise = true` the normalised layer and the marts carry, instead of account
ids, handles and post ids, HMAC-SHA256 digests keyed with a secret from the environment
(`settings.pseudonym_key_env`, default DISSENTRY_PSEUDONYM_KEY). The key never enters the lake, so
only whoever holds it can link a pseudonym back to an account (by hashing candidate handles).

- ids keep their platform: `mastodon:alice@social.example` -> `mastodon:p3f9c...`; post ids too,
  so replies, reposts and mentions still join and the network measures are unchanged;
- handles become the digest alone, and the configuration's handles are mapped the same way, so
  group membership still resolves; post URLs (which spell the handle) are dropped; `@handle`
  mentions inside post text are replaced by their pseudonyms;
- display names and bios are reduced to the configured identity markers they carry (whole words,
  as the transforms match them), so membership inference and identity-marker shares are unchanged
  while names and self-descriptions are gone.
The raw layer keeps the platform's JSON as evidence; `settings.raw_retention_days` limits how long,
and `dissentry forget` erases an account from it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass, field

from dissentry.config import Config, ConfigError

_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_][\w.\-]*(?:@[A-Za-z0-9][\w.\-]*[A-Za-z0-9])?)")


@dataclass(frozen=True)
class Pseudonymiser:
    key: bytes
    markers: tuple[str, ...] = ()
    _marker_pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from transforms.terms import python_pattern  # the same whole-word rule the marts use

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
        return _MENTION.sub(lambda m: "@" + self.handle(m.group(1)), value)


def pseudonymiser_for(config: Config) -> Pseudonymiser | None:
    """The configured pseudonymiser, or None when pseudonymisation is off."""
    settings = config.settings
    if not settings.pseudonymise:
        return None
    key = os.environ.get(settings.pseudonym_key_env, "")
    if len(key) < 16:
        raise ConfigError(
            f"settings.pseudonymise is on, but the environment variable {settings.pseudonym_key_env} "
            "does not hold a key of at least 16 characters (it is never stored in the lake or the config)"
        )
    markers = tuple(sorted({m for g in config.groups for m in g.bio_markers if m.strip()}))
    return Pseudonymiser(key.encode(), markers)
