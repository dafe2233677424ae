"""The collection DAGs take their task retries, retry delay and timeout from `[settings.collection]`
and each source's overrides (issue 11 §1), as Airflow parses them (DagBag) and as planned."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from dissentry import orchestration as orch
from dissentry.config import load_config
from tests.dags.conftest import AirflowRun
from tests.dags.support import write_config

SOURCES = [
    {"name": "m-a", "platform": "mastodon", "instance": "https://social.example", "accounts": ["@a"],
     "schedule": "@hourly"},
    {"name": "m-b", "platform": "mastodon", "instance": "https://social.example", "accounts": ["@b"],
     "schedule": "@hourly", "collection.task_retries": 0, "collection.task_timeout_minutes": 5},
    {"name": "b", "platform": "bluesky", "accounts": ["a.bsky.social"], "schedule": "@hourly"},
    {"name": "m-c", "platform": "mastodon", "instance": "https://social.example", "accounts": ["@c"],
     "schedule": "@daily"},
]
SETTINGS = "\n[settings.collection]\ntask_retries = 4\ntask_retry_delay_seconds = 30\ntask_timeout_minutes = 20\n"


def config_file(folder: Path) -> Path:
    path = write_config(folder, SOURCES)
    path.write_text(path.read_text(encoding="utf-8") + SETTINGS, encoding="utf-8")
    return path


def test_collection_tasks_follow_the_settings_and_the_overrides(tmp_path: Path) -> None:
    config = load_config(config_file(tmp_path))
    hourly = orch.collection_tasks(config, orch.parse_schedule("@hourly"))
    assert [(t.task_id, t.platform, t.sources, t.retries, t.retry_delay, t.execution_timeout) for t in hourly] == [
        ("collect_mastodon_1", "mastodon", ("m-a",), 4, timedelta(seconds=30), timedelta(minutes=20)),
        ("collect_mastodon_2", "mastodon", ("m-b",), 0, timedelta(seconds=30), timedelta(minutes=5)),
        ("collect_bluesky", "bluesky", ("b",), 4, timedelta(seconds=30), timedelta(minutes=20)),
    ]
    (daily,) = orch.collection_tasks(config, orch.parse_schedule("@daily"))
    assert (daily.task_id, daily.sources, daily.retries) == ("collect_mastodon", ("m-c",), 4)
    merged = orch.by_platform({"collect_mastodon_1": [{"n": 1}], "collect_mastodon_2": [{"n": 2}], "collect_bluesky": []},
                              {t.task_id: t.platform for t in hourly})
    assert merged == {"mastodon": [{"n": 1}, {"n": 2}], "bluesky": []}


def test_without_settings_the_defaults_and_the_schedule_decide(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, SOURCES[:1]))
    (task,) = orch.collection_tasks(config, orch.parse_schedule("@hourly"))
    assert (task.task_id, task.retries, task.retry_delay, task.execution_timeout) == (
        "collect_mastodon", 3, timedelta(minutes=1), timedelta(hours=1))


def test_the_parsed_dags_carry_the_settings(
    tmp_path: Path, airflow_run: AirflowRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISSENTRY_CONFIG", str(config_file(tmp_path)))
    result, _ = airflow_run("describe")
    assert result["import_errors"] == {}
    tasks = result["dags"]["dissentry_collect_hourly"]["tasks"]
    assert sorted(tasks) == ["collect_bluesky", "collect_mastodon_1", "collect_mastodon_2", "publish_raw"]
    assert (tasks["collect_mastodon_1"]["retries"], tasks["collect_mastodon_1"]["execution_timeout"]) == (4, 1200.0)
    assert (tasks["collect_mastodon_2"]["retries"], tasks["collect_mastodon_2"]["execution_timeout"]) == (0, 300.0)
    assert tasks["collect_mastodon_2"]["expand"] == {"source_name": ["m-b"]}
    assert tasks["collect_mastodon_2"]["pool"] == "dissentry_mastodon"
    assert tasks["publish_raw"]["outlets"] == ["dissentry://raw/bluesky", "dissentry://raw/mastodon"]
    daily = result["dags"]["dissentry_collect_daily"]["tasks"]["collect_mastodon"]
    assert (daily["retries"], daily["execution_timeout"]) == (4, 1200.0)
