"""Secrets under Airflow: a lookup (dissentry/secrets.py) that reads Airflow Connections.

The DAG file hands over two small readers of Connections (it is the one place that imports
Airflow); this module turns them into the `Secrets` a task's configuration carries. Nothing is put
in the process environment: the collection reads a source's token through the lookup, and the
lake's file system gets the store's credentials as options. A value read here is never returned,
logged or put in XCom.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dissentry.config import Config, Source
from dissentry.secrets import ENVIRONMENT, Secrets

PasswordLookup = Callable[[str], str | None]
"""conn_id -> the password of an Airflow Connection (the DAG file reads it)."""
StoreCredentials = Callable[[str], Mapping[str, Any]]
"""conn_id -> {"login", "password", "extra"} of an Airflow Connection (the DAG file reads it)."""

WHERE = "Airflow Connections, then the worker's environment"


def connection_secrets(
    config: Config,
    source: Source | None = None,
    password_for: PasswordLookup | None = None,
    credentials_for: StoreCredentials | None = None,
) -> Secrets:
    """The lookup of one task: the source's `token_env` answers with the password of its
    `conn_id` Connection, every other name (and `token_env` of a source without `conn_id`, as on
    the command line) from the worker's environment; with `storage_conn_id`, the lake store's
    credentials from that Connection. Connections are read now, so a missing password fails the
    task before any request."""
    held: dict[str, str] = {}
    if source is not None and source.conn_id and password_for is not None:
        assert source.token_env, "the config refuses conn_id without token_env"
        password = password_for(source.conn_id)
        if not password:
            raise ValueError(f"source {source.name!r}: Airflow connection {source.conn_id!r} has no password")
        held[source.token_env] = password

    def lookup(name: str) -> str | None:
        return held.get(name) or ENVIRONMENT(name) or None

    return Secrets(lookup, where=WHERE, store=store_options(config, credentials_for))


def store_options(config: Config, credentials_for: StoreCredentials | None) -> dict[str, Any]:
    """The lake store's credentials from the `storage_conn_id` Connection as s3fs options (access
    key = login, secret = password, and the extra's `endpoint_url` and `region_name`). Without
    `storage_conn_id` none: the worker's own environment or role decides, as on the command line."""
    if not config.storage_conn_id or credentials_for is None:
        return {}
    connection = credentials_for(config.storage_conn_id)
    extra = connection.get("extra") or {}
    login, password = connection.get("login"), connection.get("password")
    if not (login and password):
        raise ValueError(f"Airflow connection {config.storage_conn_id!r} needs a login (access key id) and a password")
    options: dict[str, Any] = {"key": str(login), "secret": str(password)}
    if extra.get("endpoint_url"):
        options["endpoint_url"] = str(extra["endpoint_url"])
    if extra.get("region_name"):
        options["client_kwargs"] = {"region_name": str(extra["region_name"])}
    return options
