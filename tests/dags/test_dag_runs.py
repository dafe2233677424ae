"""The DAGs run by real Airflow (`dag.test()`) against loopback servers shaped like Mastodon and
Bluesky: the collection DAG, the same interval again, then the transform DAG, whose marts must
equal those `dissentry.pipeline.run` builds from the same servers in another warehouse.

Twice: with the lake on local disk, and with the lake on S3 (moto's server on loopback), as the
tasks of a CeleryExecutor or KubernetesExecutor deployment share it: then no task leaves a lake
file on local disk, and the transform builds the marts from what the collection tasks uploaded."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dissentry import pipeline
from dissentry.config import load_config
from dissentry.connectors.bluesky.fixtures.contract import fake_api as bluesky_api
from dissentry.connectors.mastodon.fixtures.contract import fake_api as mastodon_api
from tests.dags.conftest import AirflowRun
from tests.dags.support import realtime_rate_limits, write_config
from tests.support.local_server import Reply, Request, serve
from tests.support.s3_server import ACCESS_KEY, SECRET_KEY, Bucket

TOKEN = "tok-Zq81-never-logged"
CONN_ID = "dissentry_test_mastodon"
TOKEN_ENV = "DISSENTRY_TEST_MASTODON_TOKEN"
STORE_CONN_ID = "dissentry_test_store"
INTERVAL = ("2026-11-23T00:00:00+00:00", "2026-11-24T00:00:00+00:00")


class Restartable:
    """A contract fake whose state (the first answer's exhausted budget) can start over, on the same
    port: post ids carry the instance's host:port, so both warehouses must see the same server."""

    def __init__(self, make: Callable[[], Callable[[Request], Reply]]) -> None:
        self._make = make
        self.headers_sent: list[dict[str, str]] = []
        self.restart()

    def restart(self) -> None:
        self._handler = realtime_rate_limits(self._make(), self.headers_sent)

    def __call__(self, request: Request) -> Reply:
        return self._handler(request)


def rows(path: Path) -> list[dict[str, Any]]:
    return sorted_rows(pq.read_table(path))


def sorted_rows(table: pa.Table) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=lambda r: json.dumps(r, sort_keys=True, default=str))


def by_task(result: dict[str, Any], key: str) -> dict[str, Any]:
    return {item["task_id"]: item[key] for item in result["xcoms"]}


@pytest.mark.slow
@pytest.mark.parametrize("lake", ["local", "s3"])
def test_collect_then_transform_in_airflow_builds_the_marts_the_cli_builds(
    lake: str, tmp_path: Path, airflow_run: AirflowRun, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    bucket: Bucket | None = request.getfixturevalue("s3_bucket") if lake == "s3" else None
    warehouse = bucket.url("wh_airflow") if bucket else "wh_airflow"
    top_level = None
    if bucket is not None:
        # the store's credentials and endpoint reach the tasks through an Airflow Connection only
        top_level = {"local_dir": "serving", "storage_conn_id": STORE_CONN_ID}
        monkeypatch.setenv(f"AIRFLOW_CONN_{STORE_CONN_ID.upper()}", json.dumps({
            "conn_type": "aws", "login": ACCESS_KEY, "password": SECRET_KEY,
            "extra": {"endpoint_url": bucket.endpoint, "region_name": "us-east-1"}}))
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
            monkeypatch.delenv(name)
    mastodon, bluesky = Restartable(mastodon_api.make_handler), Restartable(bluesky_api.make_handler)
    with serve(mastodon) as m_server, serve(bluesky) as b_server:
        sources = [
            {"name": "alice-mastodon", "platform": "mastodon", "instance": m_server.url, "accounts": ["@alice"],
             "token_env": TOKEN_ENV, "conn_id": CONN_ID},
            {"name": "alice-bluesky", "platform": "bluesky", "instance": b_server.url,
             "accounts": ["alice.bsky.social"]},
        ]
        # Mastodon authors are named after the instance they were fetched from: here, the loopback server
        # with its port (issue 11: the port is part of the namespace)
        members = [f"mastodon:@alice@{urlsplit(m_server.url).netloc}", "bluesky:alice.bsky.social"]
        airflow_config = write_config(tmp_path, sources, warehouse=warehouse, members=members, top_level=top_level)
        monkeypatch.setenv("DISSENTRY_CONFIG", str(airflow_config))
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({"conn_type": "generic", "password": TOKEN}))
        monkeypatch.delenv(TOKEN_ENV, raising=False)

        collected, out_collect = airflow_run("test", "dissentry_collect_daily", INTERVAL[1])
        assert collected["state"] == "success"
        assert collected["data_interval"] == [s.replace("T", " ") for s in INTERVAL]
        assert [(t["task_id"], t["map_index"], t["state"], t["pool"]) for t in collected["tasks"]] == [
            ("collect_bluesky", 0, "success", "dissentry_bluesky"),
            ("collect_mastodon", 0, "success", "dissentry_mastodon"),
            ("publish_raw", -1, "success", "default_pool"),
        ]
        summaries = by_task(collected, "value")
        for task_id, source in (("collect_mastodon", "alice-mastodon"), ("collect_bluesky", "alice-bluesky")):
            summary = summaries[task_id]
            assert (summary["source"], summary["status"], summary["mode"]) == (source, "ok", "collect")
            assert [summary["data_interval_start"], summary["data_interval_end"]] == list(INTERVAL)
            assert summary["pages"] >= 2 and summary["records_new"] == summary["records_seen"] > 0
            # the answers carry rate-limit headers whose reset is already past, with a fresh budget: no wait
            assert (summary["rate_limit_waits"], summary["rate_limit_wait_seconds"]) == (0, 0.0)
        assert summaries["collect_mastodon"]["records_seen"] == 46  # alice's account + 45 statuses
        assert any("X-RateLimit-Reset" in h for h in mastodon.headers_sent)
        assert any("RateLimit-Reset" in h for h in bluesky.headers_sent)
        # one event per platform, all from publish_raw, with the counts of the platform's sources
        assert {e["source_task_id"] for e in collected["asset_events"]} == {"publish_raw"}
        events = {e["uri"]: e["extra"] for e in collected["asset_events"]}
        assert events == {f"dissentry://raw/{p}": summaries["publish_raw"][p] for p in ("mastodon", "bluesky")}
        for platform, source in (("mastodon", "alice-mastodon"), ("bluesky", "alice-bluesky")):
            one_run = summaries[f"collect_{platform}"]
            assert events[f"dissentry://raw/{platform}"] == {
                "platform": platform, "sources": [source], "run_ids": [one_run["run_id"]],
                **{k: one_run[k] for k in ("records_seen", "records_new", "records_quarantined", "requests")},
                "data_interval_start": INTERVAL[0], "data_interval_end": INTERVAL[1]}

        # the Connection's password reached the server, and nothing else
        assert {r.headers.get("Authorization") for r in m_server.requests} == {f"Bearer {TOKEN}"}
        assert all("Authorization" not in r.headers for r in b_server.requests)
        assert TOKEN not in out_collect and TOKEN not in json.dumps(collected)
        assert SECRET_KEY not in out_collect and SECRET_KEY not in json.dumps(collected)

        # the same interval again: cursors make it fetch nothing new, and nothing is doubled downstream
        again, out_again = airflow_run("test", "dissentry_collect_daily", INTERVAL[1])
        assert again["state"] == "success" and TOKEN not in out_again
        assert {t: v["records_new"] for t, v in by_task(again, "value").items() if t.startswith("collect_")} == {
            "collect_mastodon": 0, "collect_bluesky": 0}

        transformed, out_transform = airflow_run("test", "dissentry_transform", "none")
        assert transformed["state"] == "success" and TOKEN not in out_transform and SECRET_KEY not in out_transform
        assert [(t["task_id"], t["pool"]) for t in transformed["tasks"]] == [
            ("normalise", "default_pool"), ("transform", "dissentry_duckdb")]
        result = by_task(transformed, "value")
        assert result["normalise"]["rows"]["posts"] == 45 + 7  # the contract fakes' posts, each once
        assert [e["uri"] for e in transformed["asset_events"]] == ["dissentry://warehouse/marts"]
        assert result["transform"]["warehouse"] == (warehouse if bucket else str(tmp_path / warehouse))

        # the command-line way, same servers started over, another warehouse; the token from the env
        mastodon.restart()
        bluesky.restart()
        monkeypatch.setenv(TOKEN_ENV, TOKEN)
        reference = pipeline.run(load_config(write_config(tmp_path, sources, warehouse="wh_cli", members=members)))
        assert reference.ok

    def airflow_lake(*parts: str) -> list[dict[str, Any]]:
        if bucket is None:
            return rows(tmp_path.joinpath("wh_airflow", *parts))
        with bucket.fs.open("/".join([bucket.name, "wh_airflow", *parts]), "rb") as fh:
            return sorted_rows(pq.read_table(fh))

    if bucket is None:
        manifest = json.loads(tmp_path.joinpath("wh_airflow", "normalised", "_manifest.json").read_text())
    else:
        with bucket.fs.open("/".join([bucket.name, "wh_airflow", "normalised", "_manifest.json"]), "rb") as fh:
            manifest = json.loads(fh.read())
    (posts_file,) = manifest["platforms"]["mastodon"]["tables"]["posts"]["files"]  # the published generation
    posts = airflow_lake(*posts_file.split("/"))
    assert len({p["post_id"] for p in posts}) == len(posts) == 45
    marts = sorted((tmp_path / "wh_cli" / "marts").glob("*.parquet"))
    references = rows(tmp_path / "wh_cli" / "marts" / "org_references.parquet")
    assert len(references) == 45  # alice's 45 Mastodon posts name "Contract", an alias of org_a
    assert len(marts) >= 4
    for mart in marts:
        assert airflow_lake("marts", mart.name) == rows(mart), mart.name
    if bucket is not None:
        # the tasks shared the bucket, not a disk: local_dir holds the DuckDB file and locks only
        on_disk = sorted(p.relative_to(tmp_path / "serving").as_posix()
                         for p in (tmp_path / "serving").rglob("*") if p.is_file())
        assert not [p for p in on_disk if p.endswith((".parquet", ".json"))], on_disk
        assert not (tmp_path / "wh_airflow").exists()
        layers = {k.split("/")[1] for k in bucket.object_keys("wh_airflow")}
        assert {"raw", "collection_runs", "normalised", "marts", "state"} <= layers
