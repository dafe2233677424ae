"""An import's count of new records (`records_new`): exact in one pass or in many, and its memory
flat in the number of records (it held every key at once: 931 MiB at 10M records)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dissentry import ingest
from dissentry.warehouse.lake import Lake
from dissentry.warehouse.sql import quote_literal


def _write_raw(lake: Lake, run_id: str, rows: list[tuple[str, str | None, str]]) -> list[str]:
    """One raw batch of (record_type, record_id, payload) rows for run `run_id`."""
    path = lake.raw_batch_path("mastodon", "s", "2026-01-01", run_id, 0)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("CREATE TABLE t (record_type VARCHAR, record_id VARCHAR, payload VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    con.execute(f"COPY t TO {quote_literal(path)} (FORMAT parquet)")
    return [path]


@pytest.mark.parametrize("keys_per_pass", [1_000_000, 2], ids=["one pass", "a pass per 2 records"])
def test_the_count_of_new_records_is_exact_in_one_pass_or_many(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys_per_pass: int) -> None:
    monkeypatch.setattr(ingest, "KEYS_PER_PASS", keys_per_pass)
    lake = Lake(tmp_path / "wh")
    first = _write_raw(lake, "r1", [("status", "1", "a"), ("status", "2", "b"), ("status", "3", "c"),
                                    ("account", "1", "x")])
    # by hand: the first run holds 4 distinct records, all new
    assert ingest.count_new_records(lake, "mastodon", "r1", first) == 4
    second = _write_raw(lake, "r2", [
        ("status", "1", "a"),    # held, same payload: not new
        ("status", "2", "b2"),   # held, an edit: new
        ("status", "4", "d"),    # never held: new
        ("status", "4", "d"),    # the same record twice in the run: counted once
        ("status", "5", "e"),    # twice, two payloads: two new records
        ("status", "5", "e2"),
        ("account", "1", "x"),   # held: not new
        ("account", "3", "x"),   # same id as a status, another type: new
        ("status", None, "z"),   # no id: a record of its own, new
    ])
    assert ingest.count_new_records(lake, "mastodon", "r2", second) == 1 + 1 + 2 + 1 + 1


_CHILD = """
import sys
from pathlib import Path
from dissentry import ingest
from dissentry.testing.memory import peak_rss_mib
from dissentry.warehouse.lake import Lake
lake = Lake(Path(sys.argv[1]))
files = lake.raw_files("mastodon")
before = peak_rss_mib()
print("measured", ingest.count_new_records(lake, "mastodon", "r1", files), ingest.KEYS_PER_PASS, round(before),
      round(peak_rss_mib()))
"""


def test_counting_ten_million_new_records_stays_small(tmp_path: Path) -> None:
    """10M first-time records (the keys of a large import): the count runs in a child process whose
    own peak RSS (VmHWM) is read. Holding every key at once peaked at 931 MiB; in passes of 1M keys,
    285 MiB. ru_maxrss would not do: a child of a large pytest inherits its high-water mark (954 MiB
    in CI for a count that peaks at 285)."""
    lake = Lake(tmp_path / "wh")
    path = lake.raw_batch_path("mastodon", "s", "2026-01-01", "r1", 0)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("COPY (SELECT 'status' AS record_type, (10000000000 + i)::VARCHAR AS record_id, "
                f"'{{}}' AS payload FROM range(10000000) t(i)) TO {quote_literal(path)} (FORMAT parquet)")
    con.close()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path / "wh")], capture_output=True, text=True,
                          env=env, cwd=tmp_path, check=True)
    # DuckDB may draw its progress bar on stdout first
    count, keys_per_pass, before_mib, peak_mib = map(int, done.stdout.rsplit("measured", 1)[1].split())
    assert count == 10_000_000
    # what the count itself added to the process (its imports are the same either way)
    assert peak_mib - before_mib < 450, (f"RSS grew from {before_mib} to {peak_mib} MiB counting 10M keys "
                                         f"({keys_per_pass:,} keys per pass)")
