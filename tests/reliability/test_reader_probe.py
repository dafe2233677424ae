"""The crash tests' Reader (dissentry.testing.harness) must tell a torn file from a whole one that
was replaced while it looked.

A run's collection_runs row is written twice under one name (running, then its end), each time
whole and renamed into place. CI once failed because the probe read with `pq.read_table(path)`,
which opens the path twice and so paired one version's footer with the next one's bytes. These
tests hold the probe to both halves: no finding for atomic replaces, a finding for a torn file."""
from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dissentry.testing.harness import Reader


def _write_whole(path: Path, width: int) -> None:
    table = pa.table({"text": ["x" * width] * 3, "n": [1, 2, 3]})
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def test_a_file_replaced_whole_many_times_is_no_finding(tmp_path: Path) -> None:
    target = tmp_path / "collection_runs" / "run.parquet"
    target.parent.mkdir()
    _write_whole(target, 10)
    reader = Reader(tmp_path)
    stop = threading.Event()

    def replace_again_and_again() -> None:
        i = 0
        while not stop.is_set():
            _write_whole(target, 10 + (i % 50) * 37)  # sizes differ, so a mixed footer cannot parse
            i += 1

    writer = threading.Thread(target=replace_again_and_again)
    writer.start()
    reader.start()
    try:
        for _ in range(400):  # the probe reads a path once: forget it so each poll reads it again
            reader.seen.discard(target)
            time.sleep(0.002)
    finally:
        stop.set()
        writer.join()
        reader.stop()
    assert reader.problems == []


def test_a_torn_file_is_a_finding(tmp_path: Path) -> None:
    whole = tmp_path / "whole.parquet"
    _write_whole(whole, 200)
    torn = tmp_path / "raw" / "torn.parquet"
    torn.parent.mkdir()
    torn.write_bytes(whole.read_bytes()[:-40])  # what a write that was not renamed into place leaves
    whole.unlink()
    reader = Reader(tmp_path)
    reader.start()
    deadline = time.monotonic() + 10
    while not reader.problems and time.monotonic() < deadline:
        time.sleep(0.01)
    reader.stop()
    assert len(reader.problems) == 1 and str(torn) in reader.problems[0]
