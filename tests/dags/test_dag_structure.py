"""The DAGs folder as Airflow parses it (DagBag): no import errors, the DAGs, tasks, pools, retries
and timetables a config implies, and no heavy import while parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dags.conftest import REPO, AirflowRun
from tests.dags.support import write_config

SOURCES = [
    {"name": "m-members", "platform": "mastodon", "instance": "https://social.example", "accounts": ["@a"],
     "schedule": "@hourly", "token_env": "M_TOKEN", "conn_id": "dissentry_mastodon"},
    {"name": "m-tags", "platform": "mastodon", "instance": "https://social.example", "hashtags": ["x"],
     "schedule": "@hourly"},
    {"name": "b-members", "platform": "bluesky", "accounts": ["a.bsky.social"], "schedule": "@hourly"},
    {"name": "m-weekday", "platform": "mastodon", "instance": "https://other.example", "accounts": ["@b"],
     "schedule": "0 9 * * 1-5"},
    {"name": "saved", "platform": "jsonl", "files": ["exports/*.jsonl"]},  # schedule defaults to @daily
]


def test_dags_from_a_config(tmp_path: Path, airflow_run: AirflowRun, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISSENTRY_CONFIG", str(write_config(tmp_path, SOURCES)))
    result, _ = airflow_run("describe")
    print(f"\nDAGs folder parse time: {result['parse_seconds'] * 1000:.0f} ms")
    assert result["import_errors"] == {}
    assert result["heavy_modules"] == []  # DuckDB, pyarrow and the pipeline load in tasks, not at parse
    dags = result["dags"]
    assert sorted(dags) == [
        "dissentry_collect_cron_0_9_x_x_1to5",
        "dissentry_collect_daily",
        "dissentry_collect_hourly",
        "dissentry_transform",
    ]
    hourly = dags["dissentry_collect_hourly"]
    assert (hourly["timetable"], hourly["cron"], hourly["timezone"], hourly["interval"]) == (
        "CronTriggerTimetable", "0 * * * *", "UTC", 3600.0)
    assert hourly["max_active_runs"] == 1 and hourly["catchup"] is False
    assert sorted(hourly["tasks"]) == ["collect_bluesky", "collect_mastodon", "publish_raw"]
    mastodon = hourly["tasks"]["collect_mastodon"]
    assert mastodon["mapped"] is True
    assert mastodon["expand"] == {"source_name": ["m-members", "m-tags"]}
    assert mastodon["pool"] == "dissentry_mastodon"
    assert (mastodon["retries"], mastodon["retry_exponential_backoff"]) == (3, 2.0)
    assert mastodon["execution_timeout"] == 3600.0
    assert mastodon["outlets"] == [] and mastodon["downstream"] == ["publish_raw"]
    # one task emits the run's raw assets once every collection has ended, failed ones included
    publish = hourly["tasks"]["publish_raw"]
    assert publish["outlets"] == ["dissentry://raw/bluesky", "dissentry://raw/mastodon"]
    assert (publish["trigger_rule"], publish["mapped"]) == ("all_done", False)
    assert hourly["tasks"]["collect_bluesky"]["expand"] == {"source_name": ["b-members"]}
    assert hourly["tasks"]["collect_bluesky"]["pool"] == "dissentry_bluesky"

    weekday = dags["dissentry_collect_cron_0_9_x_x_1to5"]
    assert (weekday["cron"], weekday["interval"]) == ("0 9 * * 1-5", 3 * 86400.0)  # Friday -> Monday
    assert weekday["tasks"]["collect_mastodon"]["expand"] == {"source_name": ["m-weekday"]}
    daily = dags["dissentry_collect_daily"]
    assert (daily["cron"], daily["interval"]) == ("0 0 * * *", 86400.0)
    assert daily["tasks"]["collect_jsonl"]["pool"] == "dissentry_jsonl"

    transform = dags["dissentry_transform"]
    assert transform["timetable"] == "AssetTriggeredTimetable"
    assert transform["assets"] == ["dissentry://raw/bluesky", "dissentry://raw/jsonl", "dissentry://raw/mastodon"]
    assert transform["max_active_runs"] == 1
    assert transform["tasks"]["normalise"]["downstream"] == ["transform"]
    assert transform["tasks"]["transform"]["pool"] == "dissentry_duckdb"
    assert transform["tasks"]["transform"]["outlets"] == ["dissentry://warehouse/marts"]


def test_the_airflow_variable_wins_over_the_environment(
    tmp_path: Path, airflow_run: AirflowRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    weekly = write_config(tmp_path / "a", [{**SOURCES[1], "schedule": "@weekly"}])
    monkeypatch.setenv("AIRFLOW_VAR_DISSENTRY_CONFIG", str(weekly))  # how Airflow reads a Variable from env
    monkeypatch.setenv("DISSENTRY_CONFIG", str(write_config(tmp_path / "b", SOURCES)))
    result, _ = airflow_run("describe")
    assert sorted(result["dags"]) == ["dissentry_collect_weekly", "dissentry_transform"]


def test_without_variable_or_environment_the_repo_config_is_used(airflow_run: AirflowRun) -> None:
    from dissentry.config import load_config
    from dissentry.orchestration import collection_plan

    result, _ = airflow_run("describe")
    assert result["import_errors"] == {}
    expected = {f"dissentry_collect_{s[1:]}" for s in collection_plan(load_config(REPO / "dissentry.toml"))}
    assert set(result["dags"]) == expected | {"dissentry_transform"}
