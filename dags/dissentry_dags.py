"""dissentry's Airflow DAGs, generated from dissentry.toml. Wiring only.

- dissentry_collect_<schedule>: one DAG per distinct source schedule; per platform one task mapped
  over that platform's sources, in the pool dissentry_<platform>; then `publish_raw`, once every
  collection of the run has ended, emits the raw Asset of each platform that landed data.
  One task emits them all, together: events from many mapped tasks finishing moments apart are
  partly left behind by Airflow's asset scheduling (apache/airflow#54659, #56050), which would
  delay the marts until some later collection.
- dissentry_transform: runs when any raw Asset is updated; normalise, then transform (one slot
  pool dissentry_duckdb), emitting the marts Asset.

The work is in dissentry.orchestration and dissentry.pipeline; the pipeline is imported inside the
tasks, so parsing this file imports neither DuckDB nor pyarrow and makes no network call.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from functools import reduce
from pathlib import Path
from typing import Any

from airflow.sdk import (
    DAG,
    Asset,
    Connection,
    CronTriggerTimetable,
    TriggerRule,
    Variable,
    get_current_context,
    task,
)
from airflow.sdk.exceptions import AirflowSkipException

from dissentry import orchestration as orch

log = logging.getLogger(__name__)
START = datetime(2026, 1, 1, tzinfo=UTC)


def _config_variable() -> str | None:
    try:
        return Variable.get(orch.CONFIG_VARIABLE, default=None)
    except Exception:  # no metadata DB while parsing (e.g. a bare DagBag): the environment decides
        log.warning("could not read Airflow Variable %s; using $%s", orch.CONFIG_VARIABLE, orch.CONFIG_ENV)
        return None


def _connection_password(conn_id: str) -> str | None:
    return Connection.get(conn_id).password


def _store_credentials(conn_id: str) -> dict[str, Any]:
    connection = Connection.get(conn_id)
    return {"login": connection.login, "password": connection.password, "extra": connection.extra_dejson}


CONFIG_FILE = str(orch.config_path(_config_variable(), os.environ, Path(__file__).resolve().parent))
CONFIG = orch.load_config(CONFIG_FILE)
MARTS = Asset(orch.MARTS_ASSET_URI)


# retries, retry_delay and execution_timeout come from [settings.collection] (per task, below)
@task(
    retry_exponential_backoff=2.0,
    max_retry_delay=timedelta(hours=1),
    map_index_template="{{ dissentry_source }}",
)
def collect(config_file: str, platform: str, source_name: str, **context: Any) -> dict[str, Any]:
    get_current_context()["dissentry_source"] = source_name  # type: ignore[typeddict-unknown-key]  # UI label
    interval = (context.get("data_interval_start"), context.get("data_interval_end"))
    return orch.collect_source(config_file, source_name, interval=interval, password_for=_connection_password,
                               credentials_for=_store_credentials)


@task(trigger_rule=TriggerRule.ALL_DONE)  # a failed source must not hold back what the others landed
def publish_raw(summaries: dict[str, Any], platform_of: dict[str, str], **context: Any) -> dict[str, Any]:
    interval = (context.get("data_interval_start"), context.get("data_interval_end"))
    events = orch.raw_events(orch.by_platform(summaries, platform_of), interval)
    if not events:
        raise AirflowSkipException("no collection of this run succeeded: nothing to publish")
    for platform, extra in events.items():
        context["outlet_events"][Asset(orch.raw_asset_uri(platform))].extra = extra
    return events


@task(retries=2, retry_delay=timedelta(minutes=1))
def normalise(config_file: str) -> dict[str, Any]:
    return orch.normalise_all(config_file, credentials_for=_store_credentials)


@task(retries=2, retry_delay=timedelta(minutes=1), pool=orch.DUCKDB_POOL, outlets=[MARTS])
def transform(config_file: str, **context: Any) -> dict[str, Any]:
    summary = orch.transform_all(config_file, credentials_for=_store_credentials)
    context["outlet_events"][MARTS].extra = summary
    return summary


for expression, by_platform in orch.collection_plan(CONFIG).items():
    schedule = orch.parse_schedule(expression)
    with DAG(
        dag_id=schedule.dag_id,
        description=f"dissentry: collect the sources scheduled {expression}",
        schedule=CronTriggerTimetable(schedule.cron, timezone="UTC", interval=schedule.interval),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        tags=["dissentry", "collect"],
        doc_md=f"Sources scheduled `{expression}` in `{CONFIG_FILE}`.",
    ):
        tasks = orch.collection_tasks(CONFIG, schedule)
        collected = {
            t.task_id: collect.override(
                task_id=t.task_id,
                pool=orch.pool_name(t.platform),
                retries=t.retries,
                retry_delay=t.retry_delay,
                execution_timeout=t.execution_timeout,
            ).partial(config_file=CONFIG_FILE, platform=t.platform).expand(source_name=list(t.sources))
            for t in tasks
        }
        publish_raw.override(outlets=[Asset(orch.raw_asset_uri(p)) for p in by_platform])(
            collected, {t.task_id: t.platform for t in tasks})

RAW_ASSETS = [Asset(orch.raw_asset_uri(p)) for p in orch.platforms_of(CONFIG)]
with DAG(
    dag_id="dissentry_transform",
    description="dissentry: raw -> normalised -> marts in dissentry.duckdb",
    # any platform's new raw data triggers a run; events queued meanwhile are consumed by the next
    schedule=reduce(lambda a, b: a | b, RAW_ASSETS) if RAW_ASSETS else None,
    start_date=START,
    catchup=False,
    max_active_runs=1,
    tags=["dissentry", "transform"],
    doc_md=f"Normalise and transform the lake of `{CONFIG_FILE}`.",
):
    normalise(CONFIG_FILE) >> transform(CONFIG_FILE)
