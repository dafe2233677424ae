"""Secrets by name: `secrets(name) -> str`, read from wherever the caller of a run keeps them.

A secret's name is the name of the environment variable the command line reads it from: a
source's `token_env`, DISSENTRY_REDDIT_CLIENT_SECRET, `settings.pseudonym_key_env`. Who runs the
pipeline decides where the values come from, and hands the lookup over on the configuration
(`Config.with_secrets`): the command line's reads the environment (`ENVIRONMENT`, also the default),
Airflow's reads Connections (dissentry.orchestration.credentials), a test's is a dict
(`Secrets.of`). Nothing writes the process environment to pass a secret on.

A lookup never shows its values: its repr names where it reads from, and the object-store
credentials it may carry (`store_options`) go to the lake's file system, not to the config.

Core layer: this module imports nothing of dissentry, so the config, privacy and the connectors
can all take a lookup.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

SecretLookup = Callable[[str], str]
"""What a connector is given: a secret's name -> its value, "" when there is none."""


class Secrets:
    """A lookup of secrets by name, and the lake store's credentials (fsspec options), if any.

    `lookup` answers None (or "") for a name it does not hold; `store` are the options that give the
    lake's file system its credentials (for S3: key, secret, endpoint_url, client_kwargs); without
    them the store's own chain (environment, profile, instance role) decides, as boto does."""

    def __init__(self, lookup: Callable[[str], str | None], *, where: str,
                 store: Mapping[str, Any] | None = None) -> None:
        self._lookup = lookup
        self._store = dict(store or {})
        self.where = where

    @classmethod
    def of(cls, values: Mapping[str, str], *, where: str = "given values",
           store: Mapping[str, Any] | None = None) -> Secrets:
        """A lookup of fixed values (a test's, a notebook's)."""
        held = dict(values)
        return cls(held.get, where=where, store=store)

    def __call__(self, name: str) -> str:
        value = self._lookup(name) if name else None
        return value or ""

    def store_options(self) -> dict[str, Any]:
        """The lake store's credentials as file-system options ({}: the store's own chain decides)."""
        return {key: dict(value) if isinstance(value, Mapping) else value for key, value in self._store.items()}

    def __repr__(self) -> str:  # never a value, even in a traceback's locals
        return f"Secrets({self.where})"

    def __deepcopy__(self, memo: dict[int, Any]) -> Secrets:  # a copied config reads the same secrets
        return self


def _from_environment(name: str) -> str | None:
    return os.environ.get(name)  # read at each lookup: the environment of the moment, never a copy


ENVIRONMENT = Secrets(_from_environment, where="the environment")
"""The command line's lookup, and every configuration's until `Config.with_secrets` says otherwise."""
