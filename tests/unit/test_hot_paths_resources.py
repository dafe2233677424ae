"""Issue 12 §2-4: UDFs once per distinct value, one resources setting, build progress."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from dissentry import build_progress, pipeline, resources
from dissentry.config import ConfigError, load_config
from dissentry.normalise import _vectorised, new_connection
from tests.hostile.corpus import mastodon_status

CONFIG = """
warehouse_dir = "wh"

[[sources]]
name = "saved"
platform = "mastodon"
instance = "https://social.example"
files = ["in/*.jsonl"]
"""


def test_a_udf_runs_once_per_distinct_value_and_keeps_every_row() -> None:
    calls: list[str | None] = []

    def shout(value: str | None) -> str | None:
        calls.append(value)
        return "NULL!" if value is None else value.upper()

    apply = _vectorised(shout)
    out = apply(pa.array(["a", "b", "a", None, "a", "b", None], type=pa.string()))
    assert out.to_pylist() == ["A", "B", "A", "NULL!", "A", "B", "NULL!"]
    assert sorted(map(str, calls)) == ["None", "a", "b"]  # once each, not once per row
    # the next batch: short values already seen are remembered, a new one is computed once
    calls.clear()
    assert apply(pa.array(["b", "c", "c"], type=pa.string())).to_pylist() == ["B", "C", "C"]
    assert calls == ["c"]
    assert apply(pa.array([], type=pa.string())).to_pylist() == []


def test_a_udf_returning_null_for_null_leaves_nulls() -> None:
    apply = _vectorised(lambda v: None if v is None else v + "!")
    assert apply(pa.array([None, "x", None])).to_pylist() == [None, "x!", None]


def test_limits_default_from_the_machine_and_the_raw_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(resources.MEMORY_ENV, raising=False)
    limits = resources.resolve(None, raw_bytes=10)
    assert limits.memory_bytes == int(resources.physical_memory_bytes() * 0.2)
    assert limits.threads is None
    assert limits.spill_bytes == 2**30  # at least 1 GiB
    assert resources.resolve(None, raw_bytes=2 * 2**30).spill_bytes == 6 * 2**30  # 3x raw
    assert resources.resolve(None, raw_bytes=None).spill_bytes is None


def test_parse_size() -> None:
    assert resources.parse_size("4GB") == 4 * 10**9
    assert resources.parse_size("512MiB") == 512 * 2**20
    assert resources.parse_size("1.5 GiB") == 3 * 2**29
    with pytest.raises(ValueError):
        resources.parse_size("lots")


def _project(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "in").mkdir()
    (tmp_path / "dissentry.toml").write_text(CONFIG + extra, encoding="utf-8")
    lines = [json.dumps(mastodon_status(n, account="alice" if n % 2 else "bob")) for n in range(1, 7)]
    (tmp_path / "in" / "s.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def test_the_setting_reaches_every_build_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(resources.MEMORY_ENV, raising=False)
    project = _project(tmp_path, '\n[settings.resources]\nmemory_limit = "300MiB"\nthreads = 1\nmax_spill = "2GiB"\n')
    config = load_config(project / "dissentry.toml")
    lake = pipeline.lake_for(config)
    with resources.configured(config.settings.resources):
        con = new_connection(lake=lake)
    try:
        settings = dict(con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('memory_limit', 'threads', 'max_temp_directory_size', 'temp_directory')").fetchall())
    finally:
        con.close()
    assert settings["memory_limit"] == "300.0 MiB"
    assert settings["threads"] == "1"
    assert settings["max_temp_directory_size"] == "2.0 GiB"
    assert settings["temp_directory"] == lake.spill_dir.as_posix()


def test_a_size_that_is_no_size_is_a_config_error(tmp_path: Path) -> None:
    project = _project(tmp_path, '\n[settings.resources]\nmemory_limit = "plenty"\n')
    with pytest.raises(ConfigError, match="memory_limit"):
        load_config(project / "dissentry.toml")


def test_normalise_and_transform_report_their_steps(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "PROGRESS_LOG_SECONDS", 0.0)  # every step, not one line per 10 s
    config = load_config(_project(tmp_path) / "dissentry.toml")
    pipeline.import_export(config, "mastodon", [tmp_path / "in" / "s.jsonl"], "saved")
    with caplog.at_level(logging.INFO, logger="dissentry.progress"):
        counts = pipeline.normalise(config)
        tables = pipeline.transform(config)
    lines = [r.getMessage() for r in caplog.records if r.name == "dissentry.progress"]
    assert counts["posts"] == 6
    assert any(line.startswith("normalise: mastodon raw versions: 6 rows (") for line in lines), lines
    assert any(line.startswith("normalise: mastodon mapping posts: started (") for line in lines), lines
    assert any(line.startswith("normalise: mastodon posts written: 6 rows (") for line in lines), lines
    assert any(line.startswith("normalise: mastodon accounts written: 2 rows (") for line in lines), lines
    # one line per model the transform built, with its rows
    model_lines = [line for line in lines if line.startswith("transform: ")]
    assert len(model_lines) == len(tables)
    assert tables["stg_posts"] == 6
    assert any(line.startswith("transform: stg_posts: 6 rows (") for line in model_lines), model_lines


def test_steps_go_nowhere_without_a_listener() -> None:
    assert not build_progress.active()
    build_progress.report("normalise", "mastodon", "posts", 1)  # no error, no output
    seen: list[build_progress.Step] = []
    with build_progress.reporting(seen.append):
        build_progress.report("normalise", "mastodon", "posts written", 3)
    assert [(s.stage, s.platform, s.table, s.rows) for s in seen] == [("normalise", "mastodon", "posts written", 3)]
    assert seen[0].elapsed >= 0


def test_step_lines_are_periodic_not_one_per_step(caplog: pytest.LogCaptureFixture) -> None:
    """At most one INFO line per interval, except a step that itself took the interval; the rest at DEBUG."""
    emit = build_progress.log_lines(every_seconds=10.0)
    elapsed = [0.0, 1.0, 2.0, 9.9, 10.5, 11.0, 25.0, 26.0]  # 25.0: a step of 14 s
    with caplog.at_level(logging.DEBUG, logger="dissentry.progress"):
        for i, at in enumerate(elapsed):
            emit(build_progress.Step("normalise", "mastodon", f"t{i}", i, at))
    info = [r.getMessage().split(": ")[1].split()[-1] for r in caplog.records if r.levelno == logging.INFO]
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG]
    # t0 (first), t4 (10.5 s after t0's line), t6 (a slow step, and 14.5 s after t4)
    assert info == ["t0", "t4", "t6"]
    assert len(debug) == len(elapsed) - 3


def test_a_long_statement_gets_heartbeats_with_its_share_done() -> None:
    """Minutes inside one DuckDB statement are not silence: the running step is repeated, with how
    much of the watched connection's statement is done (issue 12 §4)."""
    con = duckdb.connect()
    con.execute("SET threads = 1")
    beats: list[build_progress.Step] = []
    shared = threading.Event()

    def listen(step: build_progress.Step) -> None:
        if step.running:
            beats.append(step)
            if step.statement_done is not None:
                shared.set()
                con.interrupt()  # seen what we came for: end the statement

    safety = threading.Timer(120.0, con.interrupt)  # a machine where no share ever comes fails below
    safety.start()
    try:
        with build_progress.reporting(listen, heartbeat_seconds=0.2), build_progress.watching(con):
            build_progress.report("normalise", "mastodon", "mapping posts")
            with pytest.raises(duckdb.InterruptException):
                con.execute("SELECT count(*) FROM range(10000000000000) WHERE hash(range) % 7 = 1").fetchall()
            build_progress.report("normalise", "mastodon", "posts written", 5)
    finally:
        safety.cancel()
    assert shared.is_set(), beats
    first = beats[0]
    assert (first.stage, first.platform, first.table, first.rows) == ("normalise", "mastodon", "mapping posts", None)
    assert all(0 <= b.statement_done <= 1 for b in beats if b.statement_done is not None)
    line = next(b for b in beats if b.statement_done is not None).line()
    assert line.startswith("normalise: mastodon mapping posts: still running, ") and "% of its statement (" in line


def test_heartbeat_after_a_finished_step_names_what_came_before_and_stops_with_the_build() -> None:
    beats: list[build_progress.Step] = []
    came = threading.Event()

    def listen(step: build_progress.Step) -> None:
        if step.running:
            beats.append(step)
            came.set()

    with build_progress.reporting(listen, heartbeat_seconds=0.05):
        build_progress.report("transform", None, "stg_posts", 10)
        assert came.wait(30)
    count = len(beats)
    assert beats[0].line().startswith("transform: after stg_posts: still running (") and beats[0].statement_done is None
    came.clear()
    assert not came.wait(0.3)  # the heartbeat thread ended with the build
    assert len(beats) == count
    # log_lines says every heartbeat at INFO (one comes only after a silence of its interval)
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(f"{record.levelname} {record.getMessage()}")  # type: ignore[method-assign]
    logger = logging.getLogger("test.heartbeat")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    emit = build_progress.log_lines(logger, every_seconds=10.0)
    emit(build_progress.Step("normalise", "mastodon", "a", 1, 0.0))
    emit(build_progress.Step("normalise", "mastodon", "b", 2, 1.0))
    emit(build_progress.Step("normalise", "mastodon", "b", None, 2.0, running=True))
    assert [r.split(": ")[0] for r in records] == ["INFO normalise", "DEBUG normalise", "INFO normalise"]
    assert records[2].endswith("b: still running (2.0 s)")
