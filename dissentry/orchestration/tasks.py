"""The task callables the DAGs wire: each loads the config, runs one pipeline step with the task's
secrets lookup, and returns a small dict (counts, ids), never data or a secret.

`dissentry.pipeline` is imported inside the callables, on the worker: parsing a DAG file imports
neither DuckDB nor pyarrow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from dissentry.config import load_config
from dissentry.orchestration.credentials import PasswordLookup, StoreCredentials, connection_secrets


class CollectionFailed(RuntimeError):
    """A collection run that ended `failed`; raising it lets Airflow retry the task.

    What was fetched before the fault is already in the lake with the cursor covering it, so the
    retry resumes where the failed attempt stopped.
    """


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
    config = config.with_secrets(connection_secrets(config, source, password_for, credentials_for))
    (row,) = pipeline.collect(config, source_name, http_overrides=http_overrides)
    summary = summarise(row, interval)
    if row["status"] == "failed":
        errors = "; ".join(json.loads(row["errors"] or "[]"))[:500]
        raise CollectionFailed(f"{source_name}: collection failed (run {row['run_id']}): {errors}")
    return summary


def normalise_all(config_file: str | Path, credentials_for: StoreCredentials | None = None) -> dict[str, Any]:
    from dissentry import pipeline

    config = load_config(config_file)
    config = config.with_secrets(connection_secrets(config, credentials_for=credentials_for))
    return {"rows": pipeline.normalise(config)}


def transform_all(config_file: str | Path, credentials_for: StoreCredentials | None = None) -> dict[str, Any]:
    from dissentry import pipeline

    config = load_config(config_file)
    config = config.with_secrets(connection_secrets(config, credentials_for=credentials_for))
    return {"tables": pipeline.transform(config), "warehouse": config.warehouse_location}
