"""Time `dissentry report --html` and `--format png` on a built warehouse.

    .venv/bin/python bench/report_timing.py --config dissentry.toml            # e.g. after `make run`
    .venv/bin/python bench/report_timing.py --bench-work-dir /tmp/bench1m      # bench_pipeline.py --keep

Prints, per step (read the warehouse, draw the figures, render the page; the PNG figures), the
wall seconds, the CPU seconds of this process (steadier than wall time on a shared machine) and
the page's size, plus the posts and network size the report covered and the peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", type=Path, help="a project's dissentry.toml")
    where.add_argument("--bench-work-dir", type=Path, help="the work directory bench_pipeline.py --keep left")
    args = parser.parse_args(argv)

    from dissentry.config import load_config
    from dissentry.report_html import build_report, read_warehouse, render_html, write_figures

    if args.config:
        config = load_config(args.config)
    else:
        from bench.bench_pipeline import bench_config

        config = bench_config(args.bench_work_dir.resolve())

    def timed(step: str, fn, *a, **k):  # type: ignore[no-untyped-def]
        wall, cpu = time.perf_counter(), time.process_time()
        value = fn(*a, **k)
        print(f"{step:<28} {time.perf_counter() - wall:8.2f} s wall {time.process_time() - cpu:8.2f} s CPU")
        return value

    total_wall, total_cpu = time.perf_counter(), time.process_time()
    data = timed("read (one read-only conn.)", read_warehouse, config)
    report = timed("draw (8 figures)", build_report, config, data)
    page = timed("render (inline SVG + HTML)", render_html, report)
    print(f"{'report --html, total':<28} {time.perf_counter() - total_wall:8.2f} s wall "
          f"{time.process_time() - total_cpu:8.2f} s CPU   page {len(page.encode()) / 1024:,.0f} KiB")
    with tempfile.TemporaryDirectory() as folder:
        timed("report --format png", write_figures, config, Path(folder), "png")
    posts = sum(r["posts"] for r in data.rates)
    nodes = int(data.network_nodes[0]["all_nodes"]) if data.network_nodes else 0
    print(f"member posts {posts:,}; posts per source-day rows {len(data.coverage):,}; network accounts {nodes:,} "
          f"(drawn {len(data.network_nodes):,}, ties drawn {len(data.network_edges):,}); "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
