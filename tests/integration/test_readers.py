"""Readers never block the pipeline, and the pipeline never blocks readers.

A notebook-style reader (another process: `duckdb.connect("data/dissentry.duckdb", read_only=True)`,
as the README suggests, held open) stays connected across `transform` and `run`; both succeed, and
the reader keeps the snapshot it opened, marts and lake views alike. `dissentry sql` during a
transform answers from the old snapshot: no traceback, no "Could not set lock". A killed
transform's half-built file and the old file's WAL are dealt with by the next transform.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from dissentry import pipeline
from dissentry.config import Config
from dissentry.sample import STATUSES_FILE, generate_sample
from tests.support.sample_project import sample_project

REPO = Path(__file__).resolve().parents[2]
COUNTS = ("SELECT (SELECT count(*) FROM posts), (SELECT count(*) FROM org_references), "
          "(SELECT sum(org_reference_posts) FROM dissent_frequency WHERE period = 'all')")

NOTEBOOK = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    import duckdb
    db, ready, go, query = sys.argv[1:5]
    con = duckdb.connect(db, read_only=True)  # what the README suggests, held open like a notebook
    before = con.execute(query).fetchone()
    Path(ready).write_text("ready")
    while not Path(go).exists():
        time.sleep(0.05)
    after = con.execute(query).fetchone()
    print(json.dumps({"before": before, "after": after}), flush=True)
""")


def counts(db: Path) -> tuple[int, ...]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return tuple(con.execute(COUNTS).fetchone())
    finally:
        con.close()


def wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def cli(config: Config, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dissentry", "--config", str(config.config_path), *args],
                          capture_output=True, text=True, timeout=600, cwd=REPO)


@pytest.fixture()
def project(tmp_path: Path) -> Config:
    config = sample_project(tmp_path / "project", seed=5, scale=0.1)
    assert pipeline.run(config).ok
    return config


def more_posts(config: Config, folder: Path, seed: int) -> None:
    generate_sample(folder, seed=seed, scale=0.1)
    row = pipeline.import_export(config, "mastodon", [folder / STATUSES_FILE], f"more-{seed}")
    assert row["status"] == "ok" and row["records_new"] > 0


def test_a_notebook_reader_held_open_across_transform_and_run_blocks_nothing(project: Config, tmp_path: Path) -> None:
    db = project.warehouse_path / "dissentry.duckdb"
    old = counts(db)
    ready, go = tmp_path / "ready", tmp_path / "go"
    reader = subprocess.Popen([sys.executable, "-c", NOTEBOOK, str(db), str(ready), str(go), COUNTS],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(ready, reader)
        # transform rebuilds the same normalised generation into a new file
        assert pipeline.transform(project)["dissent_frequency"] > 0
        assert counts(db) == old
        # run normalises new posts (one new generation; the reader's stays on disk) and transforms
        more_posts(project, tmp_path / "more", seed=6)
        result = cli(project, "run", "--no-progress")
        assert result.returncode == 0, result.stderr
        assert "Could not set lock" not in result.stderr + result.stdout
        new = counts(db)
        assert new[0] > old[0] and new != old
        go.write_text("go")
        out, err = reader.communicate(timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    assert reader.returncode == 0, err
    seen = json.loads(out)
    # the reader kept the snapshot it opened: the marts and the lake views it was built on
    assert tuple(seen["before"]) == tuple(seen["after"]) == old
    assert not list(project.warehouse_path.glob("dissentry.duckdb.building-*"))


def test_dissentry_sql_during_a_transform_reads_the_old_snapshot(project: Config, tmp_path: Path) -> None:
    db = project.warehouse_path / "dissentry.duckdb"
    more_posts(project, tmp_path / "more", seed=6)
    pipeline.normalise(project)
    old = counts(db)
    transform = subprocess.Popen(
        [sys.executable, "-m", "dissentry", "--config", str(project.config_path), "transform"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    answers, during_build = [], 0
    try:
        # the build is stopped (SIGSTOP) while its new file exists, so the readers' queries land
        # during the build however fast it is, then it is let go; a query before and after too
        while transform.poll() is None and not list(project.warehouse_path.glob("dissentry.duckdb.building-*")):
            time.sleep(0.002)
        if transform.poll() is None:
            transform.send_signal(signal.SIGSTOP)
            try:
                for _ in range(2):
                    assert list(project.warehouse_path.glob("dissentry.duckdb.building-*"))
                    result = cli(project, "sql", "SELECT count(*) AS n FROM posts", "--format", "json")
                    assert result.returncode == 0, result.stderr
                    assert "Traceback" not in result.stderr and "lock" not in result.stderr
                    answers.append(json.loads(result.stdout)[0]["n"])
                    during_build += 1
                    assert answers[-1] == old[0]  # the published file, not the half-built one
            finally:
                transform.send_signal(signal.SIGCONT)
        while transform.poll() is None:
            result = cli(project, "sql", "SELECT count(*) AS n FROM posts", "--format", "json")
            assert result.returncode == 0, result.stderr
            assert "Traceback" not in result.stderr and "lock" not in result.stderr
            answers.append(json.loads(result.stdout)[0]["n"])
            assert answers[-1] in (old[0], counts(db)[0])
    finally:
        _, err = transform.communicate(timeout=600)
    assert transform.returncode == 0, err
    assert during_build >= 1, answers  # at least one query ran while the new file was being built
    assert old[0] in answers
    assert counts(db)[0] > old[0]


def test_a_killed_transforms_building_file_and_a_stale_wal_are_swept(project: Config) -> None:
    db = project.warehouse_path / "dissentry.duckdb"
    # a transform killed while building: its half-built file, WAL and spill folder stay behind
    stale = db.with_name(f"{db.name}.building-20260101T000000Z-deadbeef")
    stale.write_bytes(b"half a database")
    stale.with_name(stale.name + ".wal").write_bytes(b"its log")
    stale.with_name(stale.name + ".tmp").mkdir()
    # a writer (an older version, or duckdb by hand) killed inside the serving file leaves a WAL
    writer = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import os, signal, duckdb
        con = duckdb.connect({str(db)!r})
        con.execute("SET checkpoint_threshold = '1GB'")
        con.execute("CREATE TABLE stale_wal_marker AS SELECT 1 AS x")
        os.kill(os.getpid(), signal.SIGKILL)
    """)], capture_output=True, text=True, timeout=60)
    assert writer.returncode == -signal.SIGKILL
    wal = db.with_name(db.name + ".wal")
    assert wal.exists()
    pipeline.transform(project)
    leftovers = sorted(p.name for p in project.warehouse_path.iterdir() if p.name.startswith(db.name))
    assert leftovers == [db.name], leftovers
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    finally:
        con.close()
    assert "stale_wal_marker" not in names and "dissent_frequency" in names
    assert not os.path.exists(wal)
