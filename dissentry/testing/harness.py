"""What the reliability tests and `bench/faults.py` share: collection until a run ends ok, the ids
the raw and normalised layers hold (read back with DuckDB from the Parquet files themselves), and
SIGKILLing `dissentry collect` while readers open every file it writes."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import duckdb
import pyarrow.parquet as pq

from dissentry import pipeline
from dissentry.config import Config, Source
from dissentry.testing.clock import FakeTime
from dissentry.testing.faults import (
    REDDIT_ENV,
    ROOT,
    Catalogue,
    FaultSchedule,
    FaultServer,
    config_toml,
    expected_ids,
    make_config,
    sources_for,
)
from dissentry.testing.server import RunningServer
from dissentry.warehouse.lake import Lake
from dissentry.warehouse.sql import literal_list, quote_literal

POST_RECORD_TYPES = ("status", "feed_item", "t1", "t3")
# while the collector is killed: one answer in ten is the previous page again (the run fails and is
# resumed), the rest are slow, so runs are long enough to be killed in the middle
CRASH_SCHEDULE_KINDS = ("slow",) * 9 + ("repeat_page",)


def collect_until_ok(config: Config, fake: FakeTime, *, max_runs: int, timeout: float = 0.2,
                     max_attempts: int = 4) -> list[list[dict[str, Any]]]:
    """Run `pipeline.collect` again and again, as a scheduler would, until every source ends ok."""
    overrides = {"sleep": fake.sleep, "clock": fake.clock, "timeout": timeout, "max_attempts": max_attempts}
    history: list[list[dict[str, Any]]] = []
    for _ in range(max_runs):
        rows = pipeline.collect(config, http_overrides=overrides)
        history.append(rows)
        if all(r["status"] == "ok" for r in rows):
            return history
    raise AssertionError(f"collection did not end ok within {max_runs} runs; last: "
                         f"{[(r['source'], r['status'], json.loads(r['errors'])) for r in history[-1]]}")


def collect_and_check(handler: FaultServer, running: RunningServer, cat: Catalogue, fake: FakeTime,
                      sources_kw: dict[str, list[str]], schedule: FaultSchedule, *, page_size: int,
                      max_runs: int) -> dict[str, Any]:
    """Collect the chosen feeds under `schedule` into a fresh warehouse until every run ends ok,
    normalise, and check both layers hold exactly the server's posts. Returns what happened."""
    handler.reset_counts()
    handler.page_size = page_size
    handler.schedule = schedule
    sources = sources_for(cat, running.url, **sources_kw)
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Path(tmp) / "wh"
        config = make_config(warehouse, sources)
        waits_before = len(fake.sleeps)
        history = collect_until_ok(config, fake, max_runs=max_runs)
        pipeline.normalise(config)
        records, posts = expected_ids(cat, sources)
        assert_exactly(warehouse, records, posts)
        # every request the clients made reached the server: the runs' own counts agree with it
        assert sum(r["requests"] for rows in history for r in rows) == sum(handler.requests.values())
    return {"runs": len(history), "faults": Counter(handler.faults), "requests": Counter(handler.requests),
            "over_limit": Counter(handler.over_limit), "recorded_waits": len(fake.sleeps) - waits_before,
            "recorded_wait_seconds": sum(fake.sleeps[waits_before:]), "posts": posts}


def raw_post_versions(warehouse: Path) -> list[tuple[str, str, int]]:
    """(platform, record id, number of distinct payloads) of every post-like raw record."""
    with duckdb.connect() as con:
        return con.execute(
            f"""SELECT platform, record_id, count(DISTINCT md5(payload))
                FROM read_parquet({quote_literal(f"{warehouse}/raw/**/*.parquet")}, hive_partitioning = false)
                WHERE record_type IN {POST_RECORD_TYPES} GROUP BY ALL"""
        ).fetchall()


def _posts_files(warehouse: Path) -> str:
    """The published generation's posts files, as a DuckDB list literal."""
    lake = Lake(warehouse)
    files = lake.normalised_files("posts", manifest=lake.normalised_manifest())
    return literal_list(files)


def normalised_post_ids(warehouse: Path) -> list[str]:
    with duckdb.connect() as con:
        return [r[0] for r in con.execute(
            f"SELECT post_id FROM read_parquet({_posts_files(warehouse)}, hive_partitioning = false)"
        ).fetchall()]


def normalised_posts(warehouse: Path) -> list[tuple[Any, ...]]:
    """Every normalised post, all columns but when and in which run it was fetched, in post_id order."""
    with duckdb.connect() as con:
        return con.execute(
            f"""SELECT * EXCLUDE (fetched_at, run_id)
                FROM read_parquet({_posts_files(warehouse)}, hive_partitioning = false)
                ORDER BY post_id"""
        ).fetchall()


def assert_exactly(warehouse: Path, expected_records: set[tuple[str, str]], expected_posts: set[str]) -> None:
    """The raw and normalised layers hold exactly the server's posts: none lost, none duplicated."""
    versions = raw_post_versions(warehouse)
    changed = [(p, r, n) for p, r, n in versions if n != 1]
    assert not changed, f"records stored with more than one content: {changed[:5]}"
    raw = {(p, r) for p, r, _ in versions}
    assert raw == expected_records, (f"raw lost {sorted(expected_records - raw)[:5]} ({len(expected_records - raw)}), "
                                     f"has unknown {sorted(raw - expected_records)[:5]}")
    posts = normalised_post_ids(warehouse)
    duplicates = [p for p, n in Counter(posts).items() if n > 1]
    assert not duplicates, f"normalised posts duplicated: {duplicates[:5]}"
    assert set(posts) == expected_posts, (f"normalised lost {sorted(expected_posts - set(posts))[:5]} "
                                          f"({len(expected_posts - set(posts))}), has unknown "
                                          f"{sorted(set(posts) - expected_posts)[:5]}")


# ---- crashes -------------------------------------------------------------------------------------
def read_one_version(path: Path) -> None:
    """Read a Parquet file whole through one descriptor; raises on a torn file.

    A run's collection_runs row is replaced in place (running, then its end), and
    `pq.read_table(path)` opens a path twice (footer, then pages), so it can pair the old file's
    footer with the new file's bytes: a reader's race, not a torn file. Through one descriptor it
    reads exactly one whole version. (DuckDB's read_parquet opens once and never trips.)"""
    with open(path, "rb") as fh:
        pq.read_table(fh)


def check_readable(warehouse: Path) -> dict[str, int]:
    """What a reader sees right now: every `*.parquet` must open whole and every cursor must parse;
    a temporary file must never carry a name a reader's glob (`*.parquet`) would pick up."""
    parquet = sorted(warehouse.rglob("*.parquet"))
    for path in parquet:
        assert not path.name.startswith(".") and ".tmp" not in path.name, f"a temporary file is visible: {path}"
        read_one_version(path)  # raises on a half-written file
    for path in warehouse.glob("state/cursors/**/*.json"):
        json.loads(path.read_text(encoding="utf-8"))
    temporaries = list(warehouse.rglob("*.tmp"))
    assert all(p.name.startswith(".") for p in temporaries), temporaries
    return {"parquet": len(parquet), "temporaries": len(temporaries)}


class Reader(threading.Thread):
    """A reader polling the warehouse while a collector runs: it opens every new `*.parquet` as
    soon as it appears (the moment a half-written file would show) and keeps what went wrong."""

    def __init__(self, warehouse: Path) -> None:
        super().__init__(daemon=True)
        self.warehouse = warehouse
        self.seen: set[Path] = set()
        self.problems: list[str] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            for path in self.warehouse.rglob("*.parquet") if self.warehouse.exists() else []:
                if path in self.seen:
                    continue
                self.seen.add(path)
                if path.name.startswith(".") or ".tmp" in path.name:
                    self.problems.append(f"temporary file visible: {path}")
                try:
                    read_one_version(path)
                except FileNotFoundError:
                    self.seen.discard(path)  # gone between the listing and the open (a swept or replaced name)
                except Exception as exc:  # anything a reader would trip on is the finding
                    self.problems.append(f"{path}: {exc}")
            self._stop_event.wait(0.01)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def run_cli_collect(config_file: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dissentry", "--config", str(config_file), "collect"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def kill_and_resume(config_file: Path, warehouse: Path, handler: FaultServer, *, kills: int, seed: int,
                    delay: tuple[float, float], max_resumes: int = 20) -> dict[str, Any]:
    """SIGKILL `dissentry collect` at seeded random moments `kills` times, checking what readers see
    after each kill; then run it to the end. Returns figures about what happened."""
    rng = random.Random(seed)
    env = {**os.environ, **REDDIT_ENV, "PYTHONPATH": str(ROOT)}
    figures: dict[str, Any] = {"kills": 0, "runs": 0, "finished_before_kill": 0, "kills_after_new_files": 0,
                               "max_temporaries": 0, "files_read_while_written": 0,
                               "kills_while_requesting": 0}
    while figures["kills"] < kills:
        assert figures["runs"] < 3 * kills, "runs keep ending before the kill: lengthen the collection"
        before = len(list(warehouse.rglob("*.parquet"))) if warehouse.exists() else 0
        requests_before = sum(handler.requests.values())
        reader = Reader(warehouse)
        reader.seen = set(warehouse.rglob("*.parquet")) if warehouse.exists() else set()
        reader.start()
        proc = run_cli_collect(config_file, env)
        figures["runs"] += 1
        killed = False
        # the random moment counts from the run's first request, not from the process's start: an
        # interpreter that takes longer than the delay to import (a loaded machine) would otherwise
        # be killed before it ever talks to the server, and the kill would prove nothing
        deadline = time.monotonic() + 60
        while sum(handler.requests.values()) == requests_before and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.005)
        try:
            proc.wait(timeout=rng.uniform(*delay))
            figures["finished_before_kill"] += 1
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            figures["kills"] += 1
            figures["kills_while_requesting"] += sum(handler.requests.values()) > requests_before
            killed = True
        finally:
            reader.stop()
        assert not reader.problems, reader.problems
        figures["files_read_while_written"] += len(reader.seen) - before
        if warehouse.exists():
            seen = check_readable(warehouse)
            figures["max_temporaries"] = max(figures["max_temporaries"], seen["temporaries"])
            figures["kills_after_new_files"] += killed and seen["parquet"] > before
    for _ in range(max_resumes):
        proc = run_cli_collect(config_file, env)
        figures["runs"] += 1
        if proc.wait(timeout=120) == 0:
            check_readable(warehouse)
            figures["leftover_temporaries"] = len(list(warehouse.rglob("*.tmp")))
            return figures
    raise AssertionError(f"collection did not finish within {max_resumes} runs after the kills")


@contextmanager
def fault_environment(quiet: tuple[str, ...] = ("dissentry.connectors.http",)) -> Iterator[None]:
    """For the block: the reddit credentials the fault server accepts in os.environ (an in-process
    collection reads them there), and the `quiet` loggers off (every retry logs a warning; thousands
    of them only slow a run down); then both as they were."""
    loggers = [logging.getLogger(name) for name in quiet]
    disabled = [logger.disabled for logger in loggers]
    with patch.dict(os.environ, REDDIT_ENV):
        for logger in loggers:
            logger.disabled = True
        try:
            yield
        finally:
            for logger, was in zip(loggers, disabled, strict=True):
                logger.disabled = was


@dataclass
class CrashRun:
    """What `crash_and_reference` leaves behind: two normalised warehouses to compare, and figures."""

    figures: dict[str, Any]  # kill_and_resume's
    sources: list[Source]
    crashed: Path
    reference: Path
    reference_rows: list[dict[str, Any]]  # the run rows of the uninterrupted collection


def crash_and_reference(handler: FaultServer, running: RunningServer, cat: Catalogue, folder: Path, *, kills: int,
                        seed: int, schedule_seed: int, delay: tuple[float, float],
                        max_resumes: int = 20) -> CrashRun:
    """Collect every feed of `cat` (one source per account) with `dissentry collect` in a subprocess,
    SIGKILLed `kills` times (`kill_and_resume`) while the server is slow and repeats pages, into
    `folder/crashed`; then once more, in this process and uninterrupted, from a well-behaved server
    into `folder/reference`; and normalise both. The caller checks that they hold the same posts."""
    sources = sources_for(cat, running.url, per_account=True)
    crashed, reference = folder / "crashed", folder / "reference"
    config_file = folder / "dissentry.toml"
    config_file.write_text(config_toml(crashed, sources), encoding="utf-8")
    handler.schedule = FaultSchedule(seed=schedule_seed, rate=1.0, kinds=CRASH_SCHEDULE_KINDS, slow_delay=0.03)
    figures = kill_and_resume(config_file, crashed, handler, kills=kills, seed=seed, delay=delay,
                              max_resumes=max_resumes)
    handler.schedule = FaultSchedule()  # the reference run sees a well-behaved server
    with patch.dict(os.environ, REDDIT_ENV):
        rows = pipeline.collect(make_config(reference, sources))
    pipeline.normalise(make_config(crashed, sources))
    pipeline.normalise(make_config(reference, sources))
    return CrashRun(figures=figures, sources=sources, crashed=crashed, reference=reference, reference_rows=rows)
