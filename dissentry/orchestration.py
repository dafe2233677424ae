"""What the Airflow DAGs (dags/) need from dissentry, without importing Airflow.

The DAG files only wire these helpers into tasks, so everything here can be tested without a
scheduler, and parsing a DAG file stays cheap: this module imports neither DuckDB nor pyarrow
(`dissentry.pipeline` is imported inside the task callables, on the worker).

    python -m dissentry.orchestration pools [CONFIG]    # prints the `airflow pools set` commands
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dissentry.config import SCHEDULE_PRESETS, CollectionSettings, Config, Source, load_config

CONFIG_VARIABLE = "dissentry_config"
"""Airflow Variable naming the configuration file."""
CONFIG_ENV = "DISSENTRY_CONFIG"
"""Environment variable naming the configuration file (used when the Variable is unset)."""

DUCKDB_POOL = "dissentry_duckdb"
"""One slot: only one task at a time opens dissentry.duckdb read-write."""
DEFAULT_PLATFORM_SLOTS = 4
"""Concurrent collection tasks per platform unless the operator sets the pool otherwise."""

MARTS_ASSET_URI = "dissentry://warehouse/marts"

# presets Airflow accepts, as cron, so every schedule gets the same timetable (the config checks them)
_PRESETS: dict[str, str] = SCHEDULE_PRESETS
# a cron field character -> a dag_id-safe token, distinct for each so two crons never share an id
_CRON_TOKENS: dict[str, str] = {"*": "x", "/": "every", "-": "to", ",": "and", "?": "q", "#": "nth"}


class CollectionFailed(RuntimeError):
    """A collection run that ended `failed`; raising it lets Airflow retry the task.

    What was fetched before the fault is already in the lake with the cursor covering it, so the
    retry resumes where the failed attempt stopped.
    """


# ---- configuration discovery -------------------------------------------------------------------
def config_path(variable: str | None, environ: Mapping[str, str], dags_folder: Path) -> Path:
    """The Airflow Variable if set, else $DISSENTRY_CONFIG, else dissentry.toml beside dags/."""
    for candidate in (variable, environ.get(CONFIG_ENV)):
        if candidate and candidate.strip():
            return Path(candidate.strip()).expanduser().resolve()
    return (dags_folder.parent / "dissentry.toml").resolve()


# ---- schedules ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Schedule:
    expression: str  # as written in the config
    cron: str
    interval: timedelta

    @property
    def dag_id(self) -> str:
        return f"dissentry_collect_{schedule_slug(self.expression)}"


def schedule_slug(expression: str) -> str:
    """`@daily` -> `daily`; `*/15 * * * *` -> `cron_xevery15_x_x_x_x`."""
    expression = expression.strip()
    if expression in _PRESETS:
        return expression[1:]
    fields = []
    for field in expression.split():
        fields.append("".join(_CRON_TOKENS.get(ch, ch) if not ch.isalnum() else ch.lower() for ch in field))
    return "cron_" + "_".join(fields)


def cron_period(cron: str, samples: int = 64) -> timedelta:
    """The longest gap between consecutive fire times of a cron expression.

    A run's data interval is [fire time - period, fire time). For an irregular cron ("weekdays at
    9") the longest gap makes consecutive intervals overlap instead of leaving holes; overlap costs
    nothing because collection is cursor-based and normalisation drops repeated records.
    """
    from croniter import croniter  # installed with apache-airflow; only needed when building DAGs

    if not croniter.is_valid(cron):
        raise ValueError(f"not a cron expression: {cron!r}")
    it = croniter(cron, datetime(2025, 1, 1))
    times = [it.get_next(datetime) for _ in range(samples + 1)]
    return max(b - a for a, b in itertools.pairwise(times))


def parse_schedule(expression: str) -> Schedule:
    expression = expression.strip()
    cron = _PRESETS.get(expression, expression)
    if cron.startswith("@"):
        raise ValueError(f"schedule {expression!r}: use one of {', '.join(_PRESETS)} or a cron expression")
    return Schedule(expression, cron, cron_period(cron))


def collection_plan(config: Config) -> dict[str, dict[str, list[str]]]:
    """{schedule expression: {platform: [source names]}}, in config order."""
    plan: dict[str, dict[str, list[str]]] = {}
    for source in config.sources:
        plan.setdefault(source.schedule.strip(), {}).setdefault(source.platform, []).append(source.name)
    return plan


def execution_timeout(schedule: Schedule, settings: CollectionSettings | None = None) -> timedelta:
    """`task_timeout_minutes` of `[settings.collection]` when set, else the run's own period
    (within 10 minutes and 6 hours)."""
    if settings is not None and settings.task_timeout_minutes is not None:
        return timedelta(minutes=settings.task_timeout_minutes)
    return min(max(schedule.interval, timedelta(minutes=10)), timedelta(hours=6))


@dataclass(frozen=True)
class CollectTask:
    """One mapped collection task of a schedule's DAG: a platform's sources that share Airflow settings."""

    task_id: str
    platform: str
    sources: tuple[str, ...]
    retries: int
    retry_delay: timedelta
    execution_timeout: timedelta


def collection_tasks(config: Config, schedule: Schedule) -> list[CollectTask]:
    """The collection tasks of one schedule, built from `[settings.collection]` and each source's
    overrides. Airflow sets retries and timeouts per task, not per mapped instance, so a platform's
    sources with different settings get one task each setting: `collect_<platform>` when they all
    agree, `collect_<platform>_1`, `_2`, ... when they do not."""
    tasks: list[CollectTask] = []
    for platform, names in collection_plan(config).get(schedule.expression.strip(), {}).items():
        by_settings: dict[tuple[int, timedelta, timedelta], list[str]] = {}
        for name in names:
            settings = config.collection_for(name)
            key = (settings.task_retries, timedelta(seconds=settings.task_retry_delay_seconds),
                   execution_timeout(schedule, settings))
            by_settings.setdefault(key, []).append(name)
        for n, ((retries, delay, timeout), group) in enumerate(by_settings.items(), start=1):
            task_id = f"collect_{platform}" if len(by_settings) == 1 else f"collect_{platform}_{n}"
            tasks.append(CollectTask(task_id, platform, tuple(group), retries, delay, timeout))
    return tasks


def by_platform(summaries: Mapping[str, Any], platform_of: Mapping[str, str]) -> dict[str, list[Any]]:
    """Task id -> summaries, merged into platform -> summaries (a platform may have several tasks)."""
    merged: dict[str, list[Any]] = {}
    for task_id, runs in summaries.items():
        merged.setdefault(platform_of.get(task_id, task_id), []).extend(list(runs))
    return merged


# ---- pools and assets --------------------------------------------------------------------------
def pool_name(platform: str) -> str:
    return f"dissentry_{platform}"


def pools(config: Config, slots: int = DEFAULT_PLATFORM_SLOTS) -> dict[str, int]:
    """Every pool the DAGs of this config use, with a default size."""
    wanted = {pool_name(p): slots for p in sorted({s.platform for s in config.sources})}
    return {**wanted, DUCKDB_POOL: 1}


def raw_asset_uri(platform: str) -> str:
    return f"dissentry://raw/{platform}"


def platforms_of(config: Config) -> list[str]:
    return sorted({s.platform for s in config.sources})


# ---- secrets -----------------------------------------------------------------------------------
PasswordLookup = Callable[[str], str | None]


@contextmanager
def secret_env(source: Source, password_for: PasswordLookup | None) -> Iterator[None]:
    """Put the password of the source's Airflow Connection in its `token_env` for one call.

    The previous value (usually none) is restored afterwards, so the secret lives in the
    environment only while the connector runs; it never enters a return value, XCom or log line.
    A source without `conn_id` reads `token_env` from the environment, as on the command line.
    """
    if not source.conn_id or password_for is None:
        yield
        return
    assert source.token_env, "the config refuses conn_id without token_env"
    password = password_for(source.conn_id)
    if not password:
        raise ValueError(f"source {source.name!r}: Airflow connection {source.conn_id!r} has no password")
    with _scoped_env({source.token_env: password}):
        yield


@contextmanager
def _scoped_env(values: Mapping[str, str]) -> Iterator[None]:
    """Set `values` in the environment for one call, then put back what was there (or nothing)."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


StoreCredentials = Callable[[str], Mapping[str, Any]]
"""conn_id -> {"login", "password", "extra"} of an Airflow Connection (the DAG file reads it)."""


@contextmanager
def storage_env(config: Config, credentials_for: StoreCredentials | None) -> Iterator[None]:
    """Put the lake store's credentials from the `storage_conn_id` Connection in the environment
    for one task, the way boto reads them (access key = login, secret = password, and the extra's
    `endpoint_url` and `region_name`); restore what was there afterwards. Without `storage_conn_id`
    the worker's own environment or role decides, as on the command line."""
    if not config.storage_conn_id or credentials_for is None:
        yield
        return
    connection = credentials_for(config.storage_conn_id)
    extra = connection.get("extra") or {}
    wanted = {
        "AWS_ACCESS_KEY_ID": connection.get("login"),
        "AWS_SECRET_ACCESS_KEY": connection.get("password"),
        "AWS_ENDPOINT_URL": extra.get("endpoint_url"),
        "AWS_DEFAULT_REGION": extra.get("region_name"),
    }
    if not (wanted["AWS_ACCESS_KEY_ID"] and wanted["AWS_SECRET_ACCESS_KEY"]):
        raise ValueError(f"Airflow connection {config.storage_conn_id!r} needs a login (access key id) and a password")
    with _scoped_env({name: str(value) for name, value in wanted.items() if value}):
        yield


# ---- task callables: each returns a small dict, never data ----------------------------------------
_SUMMARY_KEYS = (
    "run_id",
    "source",
    "platform",
    "mode",
    "status",
    "pages",
    "records_seen",
    "records_new",
    "records_quarantined",
    "requests",
    "rate_limit_waits",
    "rate_limit_wait_seconds",
    "cap_hit",
)


def summarise(row: Mapping[str, Any], interval: tuple[datetime | None, datetime | None]) -> dict[str, Any]:
    """The collection_runs row cut to what belongs in XCom and an asset event: counts, no payloads."""
    summary = {key: row[key] for key in _SUMMARY_KEYS if key in row}
    summary["errors"] = len(json.loads(row.get("errors") or "[]"))
    summary["data_interval_start"] = interval[0].isoformat() if interval[0] else None
    summary["data_interval_end"] = interval[1].isoformat() if interval[1] else None
    return summary


def raw_events(
    summaries: Mapping[str, list[Mapping[str, Any]]], interval: tuple[datetime | None, datetime | None]
) -> dict[str, dict[str, Any]]:
    """The raw asset event of each platform whose collections of one DAG run succeeded at least
    once: summed counts and the run ids (small, for XCom and the event's extra), never records."""
    events: dict[str, dict[str, Any]] = {}
    for platform, runs in sorted(summaries.items()):
        runs = [r for r in runs if isinstance(r, Mapping)]  # a failed source left no summary
        if not runs:
            continue
        events[platform] = {
            "platform": platform,
            "sources": sorted(r["source"] for r in runs),
            "run_ids": sorted(r["run_id"] for r in runs),
            **{key: sum(int(r.get(key) or 0) for r in runs)
               for key in ("records_seen", "records_new", "records_quarantined", "requests")},
            "data_interval_start": interval[0].isoformat() if interval[0] else None,
            "data_interval_end": interval[1].isoformat() if interval[1] else None,
        }
    return events


def collect_source(
    config_file: str | Path,
    source_name: str,
    *,
    interval: tuple[datetime | None, datetime | None] = (None, None),
    password_for: PasswordLookup | None = None,
    credentials_for: StoreCredentials | None = None,
    http_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Collect (or import) one source; raise CollectionFailed when the run failed so it is retried.

    The interval is recorded, not used to filter: collectors resume from their cursor, so a
    re-run of an interval fetches what is new since the last run and rewrites nothing.
    """
    from dissentry import pipeline

    config = load_config(config_file)
    source = config.source(source_name)
    with secret_env(source, password_for), storage_env(config, credentials_for):
        (row,) = pipeline.collect(config, source_name, http_overrides=http_overrides)
    summary = summarise(row, interval)
    if row["status"] == "failed":
        errors = "; ".join(json.loads(row["errors"] or "[]"))[:500]
        raise CollectionFailed(f"{source_name}: collection failed (run {row['run_id']}): {errors}")
    return summary


def normalise_all(config_file: str | Path, credentials_for: StoreCredentials | None = None) -> dict[str, Any]:
    from dissentry import pipeline

    config = load_config(config_file)
    with storage_env(config, credentials_for):
        return {"rows": pipeline.normalise(config)}


def transform_all(config_file: str | Path, credentials_for: StoreCredentials | None = None) -> dict[str, Any]:
    from dissentry import pipeline

    config = load_config(config_file)
    with storage_env(config, credentials_for):
        return {"tables": pipeline.transform(config), "warehouse": config.warehouse_location}


# ---- command line ------------------------------------------------------------------------------
def pool_commands(config: Config) -> list[str]:
    return [f"airflow pools set {name} {slots} 'dissentry'" for name, slots in pools(config).items()]


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "pools":
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    path = argv[1] if len(argv) > 1 else config_path(None, os.environ, Path.cwd() / "dags")
    for line in pool_commands(load_config(path)):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
