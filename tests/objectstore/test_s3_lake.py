"""The lake on object storage: `warehouse_dir = "s3://bucket/prefix"`, against moto's S3 server on
loopback. The warehouse writes and reads the lake through fsspec (s3fs); DuckDB reads it through
the same file system, registered with the connection (no httpfs extension: none can be downloaded
here). The same sample, run once on local disk and once on S3, must give the same marts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dissentry import pipeline
from dissentry.cli import app
from dissentry.config import ConfigError, load_config
from dissentry.sample import generate_sample
from dissentry.warehouse.catalog import connect
from dissentry.warehouse.lake import Lake, LakeUnavailable
from tests.support.s3_server import ACCESS_KEY, SECRET_KEY, Bucket

REPO = Path(__file__).resolve().parents[2]
FORGOTTEN = "mastodon:@ugozeller@social.example"


def write_config(folder: Path, warehouse_dir: str, extra: str = "") -> Path:
    text = (REPO / "dissentry.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^warehouse_dir = ".*"$', f"warehouse_dir = {json.dumps(warehouse_dir)}\n{extra}", text)
    path = folder / f"dissentry-{re.sub(r'[^a-z0-9]+', '-', warehouse_dir)}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def sorted_rows(table: pa.Table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: json.dumps(r, sort_keys=True, default=str))


def test_lake_files_round_trip_through_s3(s3_bucket: Bucket, tmp_path: Path) -> None:
    lake = Lake(s3_bucket.url("lake"), local_dir=tmp_path / "local")
    assert lake.remote and lake.root == f"s3://{s3_bucket.name}/lake"
    assert lake.raw_files() == [] and not lake.has_files("raw")

    first = lake.write_parquet(pa.table({"n": [1, 2, 3]}), lake.raw_batch_path("mastodon", "../../etc", "2026-11-01", "r1", 0))
    lake.write_parquet(pa.table({"n": [4]}), lake.raw_batch_path("bluesky", "s", "2026-11-02", "r1", 0))
    lake.save_cursor("mastodon", "../../etc", {"max_id": "42"})

    # percent-encoded partition values stay one key component; nothing escapes the prefix
    assert s3_bucket.object_keys() == [
        "lake/raw/bluesky/s/2026-11-02/r1-00000.parquet",
        "lake/raw/mastodon/..%2F..%2Fetc/2026-11-01/r1-00000.parquet",
        "lake/state/cursors/platform=mastodon/source=..%2F..%2Fetc.json",
    ]
    assert lake.raw_files("mastodon") == [first] and first.startswith("s3://")
    assert lake.load_cursor("mastodon", "../../etc") == {"max_id": "42"}
    assert lake.num_rows(first) == 3 and lake.read_table(first).column("n").to_pylist() == [1, 2, 3]

    con = connect(lake=lake)
    try:
        assert "s3" in con.list_filesystems()  # the fsspec file system, registered
        total = con.execute(f"SELECT sum(n) FROM read_parquet('{lake.glob('raw')}')").fetchone()[0]
        loaded = con.execute("SELECT count(*) FROM duckdb_extensions() WHERE extension_name = 'httpfs' AND loaded")
        assert (total, loaded.fetchone()[0]) == (10, 0)
    finally:
        con.close()

    lake.delete(first)
    assert lake.raw_files("mastodon") == [] and len(lake.raw_files()) == 1
    # nothing of the lake is on local disk: staging files are gone once uploaded
    assert [p for p in (tmp_path / "local").rglob("*") if p.is_file()] == []


def test_a_failed_write_leaves_no_object_and_no_scratch(s3_bucket: Bucket, tmp_path: Path) -> None:
    lake = Lake(s3_bucket.url("lake"), local_dir=tmp_path)
    final = lake.mart_path("dissent_frequency")
    with pytest.raises(RuntimeError, match="killed"), lake.staged(final) as tmp:
        tmp.write_bytes(b"half a parquet file")
        raise RuntimeError("killed")
    assert s3_bucket.object_keys() == [] and not lake.exists(final)
    assert list((tmp_path / ".staging").iterdir()) == []


def test_a_missing_bucket_is_named_before_any_work(s3_bucket: Bucket, tmp_path: Path) -> None:
    missing = Lake(f"s3://{s3_bucket.name}-missing/lake", local_dir=tmp_path)
    with pytest.raises(LakeUnavailable, match=f"s3://{s3_bucket.name}-missing does not exist"):
        missing.check_reachable()
    generate_sample(tmp_path / "data" / "sample", seed=3, scale=0.05)
    config = write_config(tmp_path, f"s3://{s3_bucket.name}-missing/lake")
    result = CliRunner().invoke(app, ["--config", str(config), "run"])
    assert result.exit_code == 2 and "does not exist" in result.output and "Traceback" not in result.output
    with pytest.raises(ValueError, match="needs a local_dir"):
        Lake(s3_bucket.url("lake"))


def test_credentials_in_storage_options_are_refused(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, "s3://bucket/lake", extra='[storage_options]\nendpoint_url = "http://127.0.0.1:9"\nsecret = "x"\n'
    )
    with pytest.raises(ConfigError, match="secret: credentials do not belong in the config file"):
        load_config(config)


@pytest.mark.slow
def test_the_pipeline_on_s3_builds_the_marts_it_builds_on_local_disk(s3_bucket: Bucket, tmp_path: Path) -> None:
    generate_sample(tmp_path / "data" / "sample", seed=5, scale=0.3)
    local = load_config(write_config(tmp_path, "wh-local"))
    remote = load_config(write_config(tmp_path, s3_bucket.url("lake"), extra='local_dir = "serving"\n'))

    assert pipeline.run(local).ok
    result = pipeline.run(remote)
    assert result.ok and result.warehouse == s3_bucket.url("lake")

    keys = s3_bucket.object_keys("lake")
    layers = {k.split("/")[1] for k in keys}
    assert {"raw", "collection_runs", "normalised", "marts"} <= layers
    # the serving folder holds the DuckDB file and scratch only: the lake is all in the bucket
    local_files = {p.relative_to(tmp_path / "serving").as_posix()
                   for p in (tmp_path / "serving").rglob("*") if p.is_file()}
    assert "dissentry.duckdb" in local_files
    assert not [f for f in local_files if f.endswith((".parquet", ".json"))], local_files

    fs = s3_bucket.fs
    marts = sorted(p.name for p in (local.warehouse_path / "marts").glob("*.parquet"))
    assert len(marts) >= 4 and marts == sorted(k.rsplit("/", 1)[1] for k in keys if k.startswith("lake/marts/"))
    for name in marts:
        with fs.open(f"{s3_bucket.name}/lake/marts/{name}", "rb") as fh:
            on_s3 = pq.read_table(fh)
        assert sorted_rows(on_s3) == sorted_rows(pq.read_table(local.warehouse_path / "marts" / name)), name
    assert result.normalised == pipeline.run(local).normalised  # the same rows per canonical table

    # another process, as a researcher would: `dissentry sql` reads the views over the S3 lake
    done = subprocess.run(
        [sys.executable, "-m", "dissentry", "--config", str(remote.config_path), "sql", "--format", "json",
         "SELECT (SELECT count(*) FROM posts) AS posts, (SELECT count(*) FROM raw_records) AS raw, "
         "(SELECT count(*) FROM dissent_frequency) AS dissent"],
        env=dict(os.environ), cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (counts,) = json.loads(done.stdout)
    assert counts["posts"] == result.normalised["posts"] and counts["raw"] > counts["posts"] > 0
    assert counts["dissent"] == result.tables["dissent_frequency"]

    # the store's credentials came from the environment and went nowhere else
    for key in keys:
        with fs.open(f"{s3_bucket.name}/{key}", "rb") as fh:
            content = fh.read()
        assert SECRET_KEY.encode() not in content and ACCESS_KEY.encode() not in content, key
    for path in (tmp_path / "serving").rglob("*"):
        if path.is_file():
            assert SECRET_KEY.encode() not in path.read_bytes(), path
    assert SECRET_KEY not in done.stdout + done.stderr


@pytest.mark.slow
def test_forget_and_retention_work_on_s3(s3_bucket: Bucket, tmp_path: Path) -> None:
    generate_sample(tmp_path / "data" / "sample", seed=4, scale=0.2)
    config_path = write_config(tmp_path, s3_bucket.url("lake"),
                               extra='local_dir = "serving"\n\n[settings]\nraw_retention_days = 30\n')
    config = load_config(config_path)
    pipeline.collect(config)
    # age one raw object past the retention window: its rows must be frozen, then it goes
    fs = s3_bucket.fs
    # moved into an older lake's hive folders (platform=/source=/date=), which are still read
    aged_from = next(k for k in s3_bucket.object_keys("lake/raw") if k.startswith("lake/raw/mastodon/"))
    source, name = aged_from.split("/")[3], aged_from.rsplit("/", 1)[-1]
    aged_to = f"lake/raw/platform=mastodon/source={source}/date=2000-01-01/{name}"
    fs.mv(f"{s3_bucket.name}/{aged_from}", f"{s3_bucket.name}/{aged_to}")
    pipeline.normalise(config)
    pipeline.transform(config)
    keys = s3_bucket.object_keys("lake")
    # the frozen layer is published by its manifest, a generation folder per retention
    assert aged_to not in keys and "lake/frozen/_manifest.json" in keys
    assert any(re.fullmatch(r"lake/frozen/[^/]+/posts/(platform=)?mastodon/data\.parquet", k) for k in keys), keys

    result = CliRunner().invoke(app, ["--config", str(config_path), "forget", FORGOTTEN, "--yes"])
    assert result.exit_code == 0, result.output
    keys = s3_bucket.object_keys("lake")
    assert any(k.startswith("lake/erasures/") for k in keys) and "lake/state/erased_accounts.json" in keys
    for key in keys:
        if key.startswith("lake/marts/"):  # others' posts that mention the account are theirs, and stay
            with fs.open(f"{s3_bucket.name}/{key}", "rb") as fh:
                assert b"ugozeller@social.example" not in fh.read(), key
    con = connect(config.local_path / "dissentry.duckdb", read_only=True, lake=pipeline.lake_for(config))
    try:
        author = "mastodon:ugozeller@social.example"
        assert con.execute("SELECT count(*) FROM posts WHERE author_id = ?", [author]).fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] > 0
    finally:
        con.close()


def _normalised_rows(lake: Lake) -> dict[str, list[str]]:
    manifest = lake.normalised_manifest()
    out = {}
    for table in ("posts", "post_links", "post_mentions", "post_hashtags", "accounts"):
        rows = []
        for f in lake.normalised_files(table, manifest=manifest):
            with lake.fs.open(f, "rb") as fh:
                rows += [json.dumps(r, sort_keys=True, default=str) for r in pq.read_table(fh).to_pylist()]
        out[table] = sorted(rows)
    return out


def test_an_increment_on_s3_copies_the_parts_it_keeps_and_equals_a_full_build(
    s3_bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dissentry import normalise
    from dissentry.sample import STATUSES_FILE

    monkeypatch.setattr(normalise, "PART_ROWS", 16)  # parts at sample scale, as at 1M posts
    generate_sample(tmp_path / "data" / "sample", seed=6, scale=0.05)
    generate_sample(tmp_path / "more", seed=7, scale=0.05)
    config = load_config(write_config(tmp_path, s3_bucket.url("lake"), extra='local_dir = "serving"\n'))
    lake = pipeline.lake_for(config)
    pipeline.collect(config)
    pipeline.normalise(config)
    first = lake.normalised_manifest()
    pipeline.import_export(config, "mastodon", [tmp_path / "more" / STATUSES_FILE], "more-mastodon")
    pipeline.normalise(config)
    manifest = lake.normalised_manifest()
    assert first is not None and manifest is not None
    assert manifest["platforms"]["mastodon"]["state"]["built"] == "increment"
    before = {f.rsplit("/", 1)[-1] for f in first["platforms"]["mastodon"]["tables"]["posts"]["files"]}
    now = manifest["platforms"]["mastodon"]["tables"]["posts"]["files"]
    kept = [f for f in now if f.rsplit("/", 1)[-1] in before]
    assert kept and all(f.split("/")[1] == manifest["generation"] for f in now)  # copied into the new generation
    incremental = _normalised_rows(lake)
    pipeline.normalise(config, full=True)
    assert _normalised_rows(lake) == incremental
