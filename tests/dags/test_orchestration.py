"""dissentry.orchestration without Airflow: config discovery, schedules, pools, secrets, and a
collection task that fails halfway against a real loopback server."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dissentry import orchestration as orch
from dissentry.config import Config, Source, load_config
from dissentry.connectors.mastodon.fixtures.contract import fake_api as mastodon_api
from tests.dags.support import realtime_rate_limits, write_config
from tests.support.local_server import Reply, Request, serve


def test_config_path_prefers_the_variable_then_the_environment_then_the_repo(tmp_path: Path) -> None:
    dags = tmp_path / "repo" / "dags"
    assert orch.config_path("/etc/a.toml", {"DISSENTRY_CONFIG": "/etc/b.toml"}, dags) == Path("/etc/a.toml")
    assert orch.config_path(None, {"DISSENTRY_CONFIG": "/etc/b.toml"}, dags) == Path("/etc/b.toml")
    assert orch.config_path("  ", {"DISSENTRY_CONFIG": ""}, dags) == (tmp_path / "repo" / "dissentry.toml")


@pytest.mark.parametrize(
    ("expression", "slug", "cron", "period"),
    [
        ("@hourly", "hourly", "0 * * * *", timedelta(hours=1)),
        ("@daily", "daily", "0 0 * * *", timedelta(days=1)),
        ("@weekly", "weekly", "0 0 * * 0", timedelta(days=7)),
        ("@monthly", "monthly", "0 0 1 * *", timedelta(days=31)),  # the longest month
        ("*/15 * * * *", "cron_xevery15_x_x_x_x", "*/15 * * * *", timedelta(minutes=15)),
        ("0 9 * * 1-5", "cron_0_9_x_x_1to5", "0 9 * * 1-5", timedelta(days=3)),  # Friday 9:00 -> Monday 9:00
    ],
)
def test_schedules_become_cron_with_a_period_covering_every_gap(
    expression: str, slug: str, cron: str, period: timedelta
) -> None:
    schedule = orch.parse_schedule(expression)
    assert (schedule.cron, schedule.interval) == (cron, period)
    assert schedule.dag_id == f"dissentry_collect_{slug}"


def test_cron_slugs_of_different_expressions_differ() -> None:
    assert orch.schedule_slug("0 9 * * 1-5") != orch.schedule_slug("0 9 * * 1,5")


def test_an_unknown_preset_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="@fortnightly"):
        orch.parse_schedule("@fortnightly")
    with pytest.raises(ValueError, match="not a cron expression"):
        orch.parse_schedule("every day at noon")


def test_timeout_is_the_period_within_bounds() -> None:
    assert orch.execution_timeout(orch.parse_schedule("*/5 * * * *")) == timedelta(minutes=10)
    assert orch.execution_timeout(orch.parse_schedule("@hourly")) == timedelta(hours=1)
    assert orch.execution_timeout(orch.parse_schedule("@daily")) == timedelta(hours=6)


def _config(tmp_path: Path, *sources: Source) -> Config:
    return Config(warehouse_dir=str(tmp_path / "wh"), sources=list(sources), config_path=tmp_path / "x.toml")


def test_plan_groups_sources_by_schedule_then_platform_and_pools_cover_every_platform(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        Source(name="m1", platform="mastodon", accounts=["@a"], schedule="@hourly"),
        Source(name="b1", platform="bluesky", accounts=["a.bsky.social"], schedule="@hourly"),
        Source(name="m2", platform="mastodon", hashtags=["x"], schedule="@hourly"),
        Source(name="m3", platform="mastodon", accounts=["@c"]),
    )
    assert orch.collection_plan(config) == {
        "@hourly": {"mastodon": ["m1", "m2"], "bluesky": ["b1"]},
        "@daily": {"mastodon": ["m3"]},
    }
    assert orch.pools(config) == {"dissentry_bluesky": 4, "dissentry_mastodon": 4, "dissentry_duckdb": 1}
    assert orch.pool_commands(config)[-1] == "airflow pools set dissentry_duckdb 1 'dissentry'"


def test_the_connection_secrets_answer_the_sources_token_env_and_leave_the_environment_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("T_TOKEN", raising=False)
    monkeypatch.setenv("OTHER_NAME", "from-the-worker")
    source = Source(name="s", platform="mastodon", accounts=["@a"], token_env="T_TOKEN", conn_id="c1")
    config = _config(tmp_path, source)
    asked: list[str] = []

    def lookup(conn_id: str) -> str:
        asked.append(conn_id)
        return "pw-123"

    before = dict(os.environ)
    secrets = orch.connection_secrets(config, source, lookup)
    assert asked == ["c1"]  # read once, up front: a missing password fails before any request
    assert secrets("T_TOKEN") == "pw-123" and config.with_secrets(secrets).secrets("T_TOKEN") == "pw-123"
    assert secrets("OTHER_NAME") == "from-the-worker"  # any other name: the worker's environment
    assert "T_TOKEN" not in os.environ and dict(os.environ) == before  # nothing was put in the environment
    assert "pw-123" not in repr(secrets) and "pw-123" not in repr(config.with_secrets(secrets))
    assert config.secrets("T_TOKEN") == ""  # the config the lookup was handed to is a copy

    monkeypatch.setenv("T_TOKEN", "from-shell")
    assert secrets("T_TOKEN") == "pw-123"  # the Connection wins, as it did over the shell's value
    assert os.environ["T_TOKEN"] == "from-shell"  # untouched
    assert config.secrets("T_TOKEN") == "from-shell"  # the command line's lookup reads the environment


def test_the_connection_secrets_need_a_variable_and_a_password(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="conn_id needs token_env"):
        Source(name="s", platform="mastodon", accounts=["@a"], conn_id="c1")
    empty = Source(name="s", platform="mastodon", accounts=["@a"], conn_id="c1", token_env="T")
    with pytest.raises(ValueError, match="no password"):
        orch.connection_secrets(_config(tmp_path, empty), empty, lambda _c: None)
    plain = Source(name="s", platform="mastodon", accounts=["@a"], token_env="T")  # no conn_id: the CLI way
    orch.connection_secrets(_config(tmp_path, plain), plain, lambda _c: pytest.fail("no connection to look up"))


def _failing_after_first_page(failing: dict[str, bool]) -> object:
    """The contract Mastodon server, but while `failing` is set every request for page 2 is a 500."""
    inner = realtime_rate_limits(mastodon_api.make_handler())

    def handle(request: Request) -> Reply:
        if failing["on"] and request.param("max_id"):
            return Reply(500, {"error": "boom"})
        return inner(request)

    return handle


@pytest.mark.parametrize("lake_kind", ["local", "s3"])
def test_a_collection_that_fails_halfway_keeps_its_cursor_and_a_rerun_completes_it(
    lake_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from dissentry import pipeline

    bucket = request.getfixturevalue("s3_bucket") if lake_kind == "s3" else None
    failing = {"on": True}
    no_sleep = {"sleep": lambda _s: None}  # the client's backoff between its 6 attempts
    with serve(_failing_after_first_page(failing)) as server:
        path = write_config(tmp_path, [{"name": "m", "platform": "mastodon", "instance": server.url,
                                        "accounts": ["@alice"]}],
                            warehouse=bucket.url("wh") if bucket else "wh", top_level={"local_dir": "serving"} if bucket else None)
        interval = (datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC))
        with pytest.raises(orch.CollectionFailed, match="500"):
            orch.collect_source(path, "m", interval=interval, http_overrides=no_sleep)
        page2 = [r for r in server.requests if r.param("max_id")]
        assert len(page2) == 6  # the client's attempts, all answered 500

        config = load_config(path)
        lake = pipeline.lake_for(config)
        # no half-written file, in the lake or in local scratch
        assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
        if bucket is not None:
            assert not [k for k in bucket.object_keys() if k.endswith(".tmp")] and bucket.object_keys("wh/raw")
        raw = [r for f in lake.raw_files("mastodon") for r in lake.read_table(f).to_pylist()
               if r["record_type"] == "status"]
        assert len(raw) == 40  # page 1, limit=40, landed whole
        cursor = lake.load_cursor("mastodon", "m")
        oldest_kept = min(int(r["record_id"]) for r in raw)
        assert cursor["targets"]["account:alice"]["pending"]["max_id"] == str(oldest_kept)
        (failed_run,) = [r for f in lake.files("collection_runs") for r in lake.read_table(f).to_pylist()]
        assert failed_run["status"] == "failed" and json.loads(failed_run["cursor_after"]) == cursor

        failing["on"] = False
        summary = orch.collect_source(path, "m", interval=interval, http_overrides=no_sleep)
        assert summary["status"] == "ok"
        assert summary["data_interval_start"] == "2026-11-23T00:00:00+00:00"
        assert summary["records_new"] == 5  # 45 statuses, 40 already held
        assert set(summary) >= {"run_id", "records_seen", "requests"} and "payload" not in summary

        pipeline.normalise(config)
        posts = [r for f in lake.normalised_files("posts") for r in lake.read_table(f).to_pylist()]
        numbers = sorted(int(p["text"].rsplit(" ", 1)[1]) for p in posts)
        assert numbers == list(range(1, 46))  # every status once: nothing lost, nothing twice


def test_raw_events_sum_each_platforms_sources_and_leave_out_a_platform_with_none_landed() -> None:
    interval = (datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC))
    run = {"records_quarantined": 0, "requests": 3, "status": "ok", "pages": 2}
    events = orch.raw_events({
        "mastodon": [{**run, "source": "b", "run_id": "r2", "records_seen": 5, "records_new": 4},
                     {**run, "source": "a", "run_id": "r1", "records_seen": 7, "records_new": 0,
                      "records_quarantined": 2}],
        "bluesky": [],  # its one source failed past its retries: no summary, no event
    }, interval)
    assert events == {"mastodon": {
        "platform": "mastodon", "sources": ["a", "b"], "run_ids": ["r1", "r2"], "records_seen": 12,
        "records_new": 4, "records_quarantined": 2, "requests": 6,
        "data_interval_start": "2026-11-23T00:00:00+00:00", "data_interval_end": "2026-11-24T00:00:00+00:00"}}


def test_the_store_credentials_reach_the_lakes_options_and_never_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "the-workers-own")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    config = Config(warehouse_dir="s3://bucket/lake", storage_conn_id="store", config_path=tmp_path / "x.toml")
    asked: list[str] = []

    def credentials(conn_id: str) -> dict[str, object]:
        asked.append(conn_id)
        return {"login": "AKIA1", "password": "s3cret", "extra": {"endpoint_url": "http://127.0.0.1:9000",
                                                                  "region_name": "eu-west-1"}}

    before = dict(os.environ)
    secrets = orch.connection_secrets(config, credentials_for=credentials)
    options = config.with_secrets(secrets).lake_storage_options
    assert options == {"key": "AKIA1", "secret": "s3cret", "endpoint_url": "http://127.0.0.1:9000",
                       "client_kwargs": {"region_name": "eu-west-1"}}
    assert asked == ["store"]
    assert dict(os.environ) == before  # the worker's own key stays, and nothing was added
    assert "s3cret" not in repr(secrets) and "s3cret" not in repr(config.with_secrets(secrets))
    assert "s3cret" not in config.with_secrets(secrets).model_dump_json()
    assert config.lake_storage_options == {}  # the command line's: the store's own chain decides

    with pytest.raises(ValueError, match="needs a login"):
        orch.connection_secrets(config, credentials_for=lambda _c: {"password": "x"})
    no_conn = config.model_copy(update={"storage_conn_id": None})
    assert orch.connection_secrets(no_conn, credentials_for=credentials).store_options() == {}  # no conn id
    assert asked == ["store"]


def test_storage_conn_id_needs_an_s3_lake(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only an s3:// warehouse_dir"):
        Config(warehouse_dir="wh", storage_conn_id="store", config_path=tmp_path / "x.toml")
