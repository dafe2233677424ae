"""Run one DAG with `dag.test()` in a fresh process and print what happened as one JSON line.

A separate process because Airflow reads AIRFLOW_HOME and its configuration once, at import: the
tests set them per test, and the rest of the suite should not run with Airflow's logging set up.

    python -m tests.dags.run_dag describe              # the DAGs folder as parsed, and its parse time
    python -m tests.dags.run_dag test DAG_ID [LOGICAL_DATE|none]
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from typing import Any


def describe() -> dict[str, Any]:
    """Parse the DAGs folder as the dag processor does and report what it holds."""
    import time

    from airflow.models import DagBag

    started = time.perf_counter()
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    parse_seconds = time.perf_counter() - started
    dags = {}
    for dag_id, dag in bag.dags.items():
        tasks = {}
        for task in dag.tasks:
            tasks[task.task_id] = {
                "pool": task.pool,
                "trigger_rule": getattr(task.trigger_rule, "value", task.trigger_rule),
                "retries": task.retries,
                "retry_exponential_backoff": float(task.retry_exponential_backoff or 0),
                "execution_timeout": task.execution_timeout.total_seconds() if task.execution_timeout else None,
                "mapped": any(c.__name__ == "MappedOperator" for c in type(task).__mro__),
                "expand": _expand_input(task),
                "outlets": sorted(a.uri for a in task.outlets),
                "downstream": sorted(task.downstream_task_ids),
            }
        timetable = dag.timetable
        dags[dag_id] = {
            "timetable": type(timetable).__name__,
            "cron": getattr(timetable, "expression", None),
            "timezone": str(getattr(timetable, "timezone", "")) or None,
            "interval": timetable.interval.total_seconds() if hasattr(timetable, "interval") else None,
            "assets": _assets(getattr(timetable, "asset_condition", None)),
            "max_active_runs": dag.max_active_runs,
            "catchup": dag.catchup,
            "tasks": tasks,
        }
    heavy = sorted(m for m in ("duckdb", "pyarrow", "dissentry.pipeline") if m in sys.modules)
    return {"import_errors": bag.import_errors, "parse_seconds": parse_seconds, "dags": dags, "heavy_modules": heavy}


def _assets(condition: Any) -> list[str]:
    if condition is None:
        return []
    return sorted(asset.uri for asset in getattr(condition, "objects", [condition]))


def _expand_input(task: Any) -> Any:
    expand = getattr(task, "op_kwargs_expand_input", None) or getattr(task, "expand_input", None)
    value = getattr(expand, "value", None)
    return {k: list(v) for k, v in value.items()} if isinstance(value, dict) else None


def run(dag_id: str, logical_date: datetime | None) -> dict[str, Any]:
    from airflow.models import DagBag
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags[dag_id]
    run = dag.test(logical_date=logical_date)
    with create_session() as session:
        tis = [
            {"task_id": ti.task_id, "map_index": ti.map_index, "state": str(ti.state), "pool": ti.pool,
             "try_number": ti.try_number}
            for ti in run.get_task_instances(session=session)
        ]
        xcoms = [
            {"task_id": x.task_id, "map_index": x.map_index, "value": x.value}
            for x in session.scalars(
                select(XComModel).where(XComModel.dag_id == dag_id, XComModel.run_id == run.run_id,
                                        XComModel.key == "return_value")
            )
        ]
        events = [
            {"uri": uri, "extra": event.extra, "source_task_id": event.source_task_id}
            for event, uri in session.execute(
                select(AssetEvent, AssetModel.uri).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                .where(AssetEvent.source_dag_id == dag_id, AssetEvent.source_run_id == run.run_id)
            )
        ]
    return {
        "state": str(run.state),
        "data_interval": [str(run.data_interval_start), str(run.data_interval_end)],
        "tasks": sorted(tis, key=lambda t: (t["task_id"], t["map_index"])),
        "xcoms": sorted(xcoms, key=lambda x: (x["task_id"], x["map_index"])),
        "asset_events": events,
    }


def main(argv: list[str]) -> int:
    if argv[0] == "describe":
        print("RESULT " + json.dumps(describe(), default=str))
        return 0
    logical = None if len(argv) < 3 or argv[2] == "none" else datetime.fromisoformat(argv[2])
    result = run(argv[1], logical)
    print("RESULT " + json.dumps(result, default=str))
    return 0 if result["state"] == "success" else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
