"""Hostile inputs and crashes, round two (issue 10's smaller list): each one failed before its fix.

A 1 GiB CSV field, a SIGKILLed import, a SIGKILLed forget, a gzip with trailing garbage, a table
that calls itself Mastodon, one account spelled with a Unicode and a punycode host, look-alike
handles, leap seconds and a `javascript:` status URL.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dissentry import pipeline
from dissentry.cli import app
from dissentry.config import Config, ConfigError, load_config
from dissentry.warehouse.catalog import connect, create_lake_views
from dissentry.warehouse.lake import Lake
from tests.hostile.corpus import MB, jsonl, mastodon_status, table_row
from tests.support.sample_project import sample_project

REPO = Path(__file__).resolve().parents[2]


def make_project(root: Path, extra: str = "") -> Config:
    (root / "in").mkdir(parents=True, exist_ok=True)
    (root / "dissentry.toml").write_text('warehouse_dir = "wh"\n' + extra, encoding="utf-8")
    return load_config(root / "dissentry.toml")


def rows_of(root: Path, layer: str) -> list[dict]:
    return [r for f in sorted((root / "wh" / layer).rglob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def normalised(config: Config, sql: str) -> list[tuple]:
    """A query over the published normalised layer, through the catalog's own views."""
    lake = Lake(config.warehouse_location)
    con = connect(lake=lake)
    try:
        create_lake_views(con, lake)
        return con.execute(sql).fetchall()
    finally:
        con.close()


def status(n: int, acct: str, **fields: object) -> dict:
    s = mastodon_status(n, account=acct)
    s["account"]["id"] = f"9{n}"
    return {**s, **fields}


# ---- a 1 GiB CSV field: capped as JSONL lines are ------------------------------------------------------------
def test_a_100_mb_csv_field_is_quarantined_with_memory_far_below_its_size(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    path = tmp_path / "in" / "huge.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("post_id,author,created_at,text\np1,alice,2026-01-01T10:00:00Z,first\np2,bob,2026-01-01T11:00:00Z,")
        chunk = "x" * MB
        for _ in range(100):
            fh.write(chunk)
        fh.write("\np3,carol,2026-01-01T12:00:00Z,last\n")
    warm = tmp_path / "in" / "warm.csv"  # the first import loads DuckDB and Arrow: not what is measured
    warm.write_text("post_id,author,created_at,text\nw1,wendy,2026-01-01T09:00:00Z,warm\n", encoding="utf-8")
    pipeline.import_export(config, "csv", [warm], "warm-up")
    tracemalloc.start()
    try:
        row = pipeline.import_export(config, "csv", [path])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (row["records_seen"], row["records_quarantined"]) == (2, 1)
    (q,) = [r for r in rows_of(tmp_path, "quarantine") if r["run_id"] == row["run_id"]]
    assert q["locator"] == f"{path}:3" and "over the 16,777,216-character limit" in q["reason"]
    assert peak < 40 * MB, peak


# ---- SIGKILL during an import: every raw batch has its run row ---------------------------------------------
def test_a_killed_import_leaves_no_raw_batch_without_a_run_row(tmp_path: Path) -> None:
    config = make_project(tmp_path, '\n[[sources]]\nname = "big"\nplatform = "csv"\nfiles = ["in/big.csv"]\n')
    big = tmp_path / "in" / "big.csv"
    with big.open("w", encoding="utf-8") as fh:
        fh.write("post_id,author,created_at,text\n")
        for i in range(400_000):
            fh.write(f"p{i},user{i % 97},2026-01-01T10:00:00Z,post number {i} about nothing much\n")
    code = ("import sys; from dissentry import pipeline; from dissentry.config import load_config; "
            "pipeline.collect(load_config(sys.argv[1]))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "dissentry.toml")], cwd=REPO)
    raw = tmp_path / "wh" / "raw"
    deadline = time.monotonic() + 120
    while not (raw.exists() and any(raw.rglob("*.parquet"))):
        assert proc.poll() is None, "the import finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    batches = sorted(raw.rglob("*.parquet"))
    runs = {r["run_id"]: r for r in rows_of(tmp_path, "collection_runs")}
    orphans = [b.name for b in batches if b.name.rsplit("-", 1)[0] not in runs]
    assert batches and not orphans
    (killed,) = runs.values()
    assert killed["status"] == "running"

    # the next run of the source knows that one died, and says what it had landed
    big.write_text("post_id,author,created_at,text\nq1,alice,2026-01-02T10:00:00Z,again\n", encoding="utf-8")
    (row,) = pipeline.collect(config)
    assert row["status"] == "ok"
    after = {r["run_id"]: r for r in rows_of(tmp_path, "collection_runs")}
    dead = after[killed["run_id"]]
    landed = sum(pq.ParquetFile(b).metadata.num_rows for b in batches)
    assert dead["status"] == "interrupted" and dead["records_seen"] == landed > 0


# ---- SIGKILL during forget: the audit still counts the whole erasure ---------------------------------------
KILL_AFTER_FIRST_REWRITE = """
import os, signal, sys
import dissentry.forget as forget
from dissentry.config import load_config

real = forget._rewrite

def rewrite_then_die(lake, path, redactor, drop=None, columns=None):
    result = real(lake, path, redactor, drop, columns)
    if drop:  # the account's records are gone from this file: die the way kill -9 does
        os.kill(os.getpid(), signal.SIGKILL)
    return result

forget._rewrite = rewrite_then_die
forget.forget_account(load_config(sys.argv[1]), sys.argv[2])
"""


def test_the_erasures_audit_counts_everything_after_a_killed_and_rerun_forget(tmp_path: Path) -> None:
    account = "mastodon:@ugozeller@social.example"
    config = sample_project(tmp_path, seed=4, scale=0.2)
    pipeline.collect(config)
    export = tmp_path / "data" / "sample" / "mastodon.jsonl"
    own = 0  # the account's raw records, counted from the export itself
    for line in export.read_text(encoding="utf-8").splitlines():
        s = json.loads(line)
        embedded = [s, s.get("reblog") or {}, (s.get("quote") or {}).get("quoted_status") or {}]
        own += any((e.get("account") or {}).get("acct") == "ugozeller" for e in embedded)
    assert own > 5

    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(KILL_AFTER_FIRST_REWRITE),
                           str(tmp_path / "dissentry.toml"), account], cwd=REPO)
    assert proc.returncode == -signal.SIGKILL
    root = config.warehouse_path
    assert not list((root / "erasures").rglob("*.parquet"))  # killed before the audit was written

    result = CliRunner().invoke(app, ["--config", str(tmp_path / "dissentry.toml"), "forget", account, "--yes"])
    assert result.exit_code == 0, result.output
    (audit,) = [r for f in (root / "erasures").rglob("*.parquet") for r in pq.read_table(f).to_pylist()]
    assert audit["raw_records_removed"] == own
    assert audit["raw_files_rewritten"] == 1
    assert audit["account_key"].startswith("erased-") and "ugozeller" not in json.dumps(audit, default=str)
    assert not list((root / "state" / "erasures_pending").glob("*.json"))


# ---- a small gzip with trailing garbage keeps its good records --------------------------------------------
def test_a_gzip_with_trailing_garbage_keeps_its_good_records(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    path = tmp_path / "in" / "posts.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl(*(table_row(i) for i in range(1, 4)))) + b"\x00\x00 trailing junk")
    row = pipeline.import_export(config, "jsonl", [path])
    assert (row["records_seen"], row["records_quarantined"]) == (3, 0), row["errors"]


# ---- a table may not pass itself off as a platform ----------------------------------------------------------
def test_a_table_label_naming_a_real_platform_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="platform_label 'mastodon' is the name of a platform"):
        make_project(tmp_path, '\n[[sources]]\nname = "forged"\nplatform = "csv"\nfiles = ["in/x.csv"]\n'
                               'options.platform_label = "mastodon"\n')
    make_project(tmp_path, '\n[[sources]]\nname = "ok"\nplatform = "csv"\nfiles = ["in/x.csv"]\n'
                           'options.platform_label = "oldforum"\n')


# ---- one account, however its host or handle is spelled ----------------------------------------------------
def test_idn_and_punycode_hosts_are_one_account(tmp_path: Path) -> None:
    config = make_project(tmp_path, '\n[[sources]]\nname = "m"\nplatform = "mastodon"\n'
                                    'instance = "https://social.example"\nfiles = ["in/m.jsonl"]\n')
    (tmp_path / "in" / "m.jsonl").write_bytes(jsonl(status(1, "hans@bücher.example"),
                                                    status(2, "hans@xn--bcher-kva.example"),
                                                    status(3, "hans@BÜCHER.example")))
    pipeline.collect(config)
    pipeline.normalise(config)
    assert normalised(config, "SELECT DISTINCT author_id FROM posts") == [("mastodon:hans@xn--bcher-kva.example",)]
    assert normalised(config, "SELECT count(*) FROM accounts") == [(1,)]


def test_look_alike_handles_are_one_account(tmp_path: Path) -> None:
    config = make_project(tmp_path, '\n[[sources]]\nname = "m"\nplatform = "mastodon"\n'
                                    'instance = "https://social.example"\nfiles = ["in/m.jsonl"]\n'
                                    '\n[[sources]]\nname = "t"\nplatform = "csv"\nfiles = ["in/t.csv"]\n')
    disguised = ["alice", "al\u200bice", "\uff41\uff4c\uff49\uff43\uff45", "\u202ealice", "alice\u2060"]
    (tmp_path / "in" / "m.jsonl").write_bytes(jsonl(*(status(i, a) for i, a in enumerate(disguised, 1))))
    (tmp_path / "in" / "t.csv").write_text(
        "post_id,author,created_at,text\n" + "".join(f"t{i},{a},2026-01-01T10:00:00Z,hi\n"
                                                     for i, a in enumerate(disguised, 1)), encoding="utf-8")
    pipeline.collect(config)
    pipeline.normalise(config)
    assert normalised(config, "SELECT platform, count(DISTINCT author_id), count(*) FROM posts GROUP BY 1 ORDER BY 1") \
        == [("csv", 1, 5), ("mastodon", 1, 5)]
    assert normalised(config, "SELECT DISTINCT author_id FROM posts ORDER BY 1") == [
        ("csv:alice",), ("mastodon:alice@social.example",)]


# ---- leap seconds and javascript: URLs -------------------------------------------------------------------------
def test_leap_second_timestamps_are_clamped_to_59_not_quarantined(tmp_path: Path) -> None:
    config = make_project(tmp_path, '\n[[sources]]\nname = "m"\nplatform = "mastodon"\n'
                                    'instance = "https://social.example"\nfiles = ["in/m.jsonl"]\n'
                                    '\n[[sources]]\nname = "t"\nplatform = "csv"\nfiles = ["in/t.csv"]\n')
    (tmp_path / "in" / "m.jsonl").write_bytes(jsonl(status(1, "alice", created_at="2016-12-31T23:59:60.000Z")))
    (tmp_path / "in" / "t.csv").write_text("post_id,author,created_at,text\nt1,bob,2016-12-31T23:59:60Z,hi\n",
                                           encoding="utf-8")
    rows = pipeline.collect(config)
    assert [r["records_quarantined"] for r in rows] == [0, 0]
    pipeline.normalise(config)
    got = normalised(config, "SELECT platform, strftime(created_at, '%Y-%m-%d %H:%M:%S') FROM posts ORDER BY 1")
    assert got == [("csv", "2016-12-31 23:59:59"), ("mastodon", "2016-12-31 23:59:59")]


def test_a_javascript_status_url_is_dropped_from_posts_url(tmp_path: Path) -> None:
    config = make_project(tmp_path, '\n[[sources]]\nname = "m"\nplatform = "mastodon"\n'
                                    'instance = "https://social.example"\nfiles = ["in/m.jsonl"]\n')
    (tmp_path / "in" / "m.jsonl").write_bytes(jsonl(
        status(1, "alice", url="javascript:alert(document.cookie)"),
        status(2, "alice", url="JaVaScRiPt:alert(1)", uri="data:text/html,<script>alert(1)</script>"),
        status(3, "alice")))
    pipeline.collect(config)
    pipeline.normalise(config)
    urls = dict(normalised(config, "SELECT post_id, url FROM posts"))
    assert len(urls) == 3
    assert sorted(u for u in urls.values() if u) == ["https://social.example/@alice/3"]
