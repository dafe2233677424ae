"""What the Airflow DAGs (dags/) need from dissentry, without importing Airflow.

The DAG files only wire these helpers into tasks, so everything here can be tested without a
scheduler, and parsing a DAG file stays cheap: nothing here imports DuckDB or pyarrow
(`dissentry.pipeline` is imported inside the task callables, on the worker).

- discovery: which configuration file the DAGs build from;
- schedules: a source's schedule as cron and a period, and each schedule's collection tasks;
- assets: the pools, the asset URIs and the raw asset events;
- credentials: the secrets lookup of a task, read from Airflow Connections;
- tasks: the callables the DAGs run (collect one source, normalise, transform);
- __main__: `python -m dissentry.orchestration pools [CONFIG]` prints the `airflow pools set` commands.

Every public name is importable from here, as the DAG file does (`from dissentry import orchestration as orch`).
"""

from __future__ import annotations

from dissentry.config import load_config
from dissentry.orchestration.assets import (
    DEFAULT_PLATFORM_SLOTS,
    DUCKDB_POOL,
    MARTS_ASSET_URI,
    by_platform,
    platforms_of,
    pool_commands,
    pool_name,
    pools,
    raw_asset_uri,
    raw_events,
)
from dissentry.orchestration.credentials import PasswordLookup, StoreCredentials, connection_secrets, store_options
from dissentry.orchestration.discovery import CONFIG_ENV, CONFIG_VARIABLE, config_path
from dissentry.orchestration.schedules import (
    CollectTask,
    Schedule,
    collection_plan,
    collection_tasks,
    cron_period,
    execution_timeout,
    parse_schedule,
    schedule_slug,
)
from dissentry.orchestration.tasks import CollectionFailed, collect_source, normalise_all, summarise, transform_all

__all__ = [
    "CONFIG_ENV", "CONFIG_VARIABLE", "DEFAULT_PLATFORM_SLOTS", "DUCKDB_POOL", "MARTS_ASSET_URI", "CollectTask",
    "CollectionFailed", "PasswordLookup", "Schedule", "StoreCredentials", "by_platform", "collect_source",
    "collection_plan", "collection_tasks", "config_path", "connection_secrets", "cron_period", "execution_timeout",
    "load_config", "main", "normalise_all", "parse_schedule", "platforms_of", "pool_commands", "pool_name", "pools",
    "raw_asset_uri", "raw_events", "schedule_slug", "store_options", "summarise", "transform_all",
]


def main(argv: list[str]) -> int:
    """`python -m dissentry.orchestration pools [CONFIG]`: see __main__.py (imported only when called, so
    `python -m` does not find its own module imported before it runs)."""
    from dissentry.orchestration.__main__ import main as run

    return run(argv)
