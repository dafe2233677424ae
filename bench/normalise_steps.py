"""Where a full normalise spends its time and its spill, step by step, on a kept bench warehouse.

    .venv/bin/python bench/bench_pipeline.py --posts 1000000 --work-dir /tmp/bench/w1m --keep
    [DISSENTRY_DUCKDB_MEMORY_LIMIT=480MB] .venv/bin/python bench/normalise_steps.py --work-dir /tmp/bench/w1m

The build's own progress steps (`dissentry.build_progress`) mark the boundaries; a thread polls the
spill folder (`<local_dir>/.spill`, DuckDB's spill and normalise's scratch Parquet) every 0.2 s.
Each line is a step as reported, the wall seconds since the start, and the most spill on disk
since the step before, of which the scratch files. A small memory limit shows at 1M what the
default limit meets at 10M (the limit is 20% of physical memory by default).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def spill_bytes(folder: Path) -> tuple[int, int]:
    """(all bytes, bytes of normalise's scratch folders) under `folder` right now."""
    total = scratch = 0
    for where, _, names in os.walk(folder):
        for name in names:
            try:
                size = os.stat(os.path.join(where, name)).st_size
            except OSError:  # deleted while walking
                continue
            total += size
            scratch += size if "mapped-" in where else 0
    return total, scratch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work-dir", type=Path, required=True, help="a bench_pipeline.py --keep work dir")
    args = parser.parse_args()

    import bench_pipeline

    from dissentry import build_progress, pipeline
    from dissentry.normalise import normalise_lake
    from dissentry.testing.memory import peak_rss_mib

    config = bench_pipeline.bench_config(args.work_dir.resolve())
    lake = pipeline.lake_for(config)
    peak = [0, 0]
    lock = threading.Lock()

    def poll() -> None:
        while True:
            now = spill_bytes(lake.spill_dir)
            with lock:
                if now[0] > peak[0]:
                    peak[:] = now
            time.sleep(0.2)

    def step(s: build_progress.Step) -> None:
        if s.running or "piece" in s.table:
            return
        with lock:
            seen, peak[:] = tuple(peak), [0, 0]
        rows = "started" if s.rows is None else f"{s.rows:,} rows"
        print(f"{s.elapsed:7.1f} s  {s.platform or '':9} {s.table:28} {rows:>14}   "
              f"spill since the step before {seen[0] / 2**20:6.0f} MiB (scratch {seen[1] / 2**20:.0f})", flush=True)

    threading.Thread(target=poll, daemon=True).start()
    with build_progress.reporting(step):
        counts = normalise_lake(lake, ["mastodon"], full=True)
    print(f"rows {counts}; peak RSS {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
