"""Benchmark the pipeline on N synthetic Mastodon statuses: import, normalise, transform.

    .venv/bin/python bench/bench_pipeline.py --posts 1000000 [--work-dir bench/out/work] [--keep] [--s3]

The input is written first (streaming, by `dissentry.sample` in Mastodon's API shape) and is not
timed as a pipeline stage. Each stage then runs in its own child process, so its peak resident
memory (from `os.wait4`, the child's own rusage) belongs to that stage alone, and no stage inherits
another's caches. Figures are printed with rich and, with `--json FILE`, appended as one JSON line.

With `--s3` the lake is in a bucket of moto's S3 server, started on loopback for the run (the
object-storage path a cluster uses: every read and write goes through fsspec and HTTP).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
STAGES = ("import", "normalise", "transform")
SOURCE_NAME = "bench-mastodon"
INPUT_NAME = "mastodon.jsonl"
LAKE_URL_ENV = "DISSENTRY_BENCH_LAKE"  # set by --s3 for the stage processes


@dataclass
class StageResult:
    stage: str
    rows_in: int
    rows_out: int
    seconds: float
    peak_rss_mib: float

    @property
    def rows_per_second(self) -> float:
        return self.rows_in / self.seconds if self.seconds > 0 else 0.0


def bench_config(work_dir: Path) -> Any:
    """The demo configuration's groups, with the warehouse and the one source inside `work_dir`."""
    from dissentry.config import Config

    data = tomllib.loads((REPO / "dissentry.toml").read_text(encoding="utf-8"))
    data["warehouse_dir"] = os.environ.get(LAKE_URL_ENV) or str(work_dir / "warehouse")
    data["local_dir"] = str(work_dir / "serving")
    data["sources"] = [{
        "name": SOURCE_NAME,
        "platform": "mastodon",
        "instance": "https://social.example",
        "files": [str(work_dir / "input" / INPUT_NAME)],
    }]
    return Config.model_validate({**data, "config_path": (work_dir / "dissentry.toml").resolve()})


def generate_input(work_dir: Path, posts: int, seed: int) -> float:
    """Write exactly `posts` statuses; return the seconds it took."""
    from dissentry.sample import expected_posts, generate_sample

    scale = posts / expected_posts(1.0, ("mastodon",)) * 1.15  # a little over, then cut at exactly N
    started = time.perf_counter()
    truth = generate_sample(work_dir / "input", seed=seed, scale=scale, platforms=("mastodon",),
                            max_mastodon_statuses=posts)
    if truth.mastodon_statuses != posts:
        raise SystemExit(f"generated {truth.mastodon_statuses} statuses, wanted {posts}")
    return time.perf_counter() - started


def _count(lake: Any, view: str) -> int:
    """Rows of one lake view (raw_records, posts, ...), read the way the pipeline reads them."""
    from warehouse.catalog import connect, create_lake_views

    con = connect()
    try:
        create_lake_views(con, lake, [view])
        return int(con.execute(f'SELECT count(*) FROM "{view}"').fetchone()[0])
    finally:
        con.close()


def run_stage(stage: str, work_dir: Path) -> dict[str, Any]:
    """One stage, in this process. Returns row counts (the parent times it and reads its rusage)."""
    from dissentry import pipeline

    config = bench_config(work_dir)
    lake = pipeline.lake_for(config)
    if stage == "import":
        run = pipeline.import_export(config, "mastodon", config.sources[0].files, SOURCE_NAME)
        if run.get("status") not in (None, "ok"):
            raise SystemExit(f"import failed: {run}")
        rows_in = rows_out = int(run.get("records_seen") or 0)
    elif stage == "normalise":
        counts = pipeline.normalise(config)
        rows_out = int(counts.get("posts", 0))
        rows_in = _count(lake, "raw_records")
    elif stage == "transform":
        tables = pipeline.transform(config)
        rows_out = sum(int(n) for n in tables.values())
        rows_in = _count(lake, "posts")
    else:
        raise SystemExit(f"unknown stage {stage!r}")
    return {"rows_in": rows_in, "rows_out": rows_out}


def measure(stage: str, work_dir: Path) -> StageResult:
    """Run a stage in a child process; its peak RSS comes from that child's own rusage."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--stage", stage, "--work-dir", str(work_dir)],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"stage {stage} failed with exit code {child.returncode}")
    counts = json.loads(output.strip().splitlines()[-1])
    # ru_maxrss is in KiB on Linux
    return StageResult(stage, counts["rows_in"], counts["rows_out"], seconds, usage.ru_maxrss / 1024)


def report(
    posts: int, generate_seconds: float, input_bytes: int, results: list[StageResult], lake_url: str | None
) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"dissentry pipeline, {posts:,} Mastodon statuses ({input_bytes / 2**20:,.0f} MiB JSONL)")
    table.add_column("stage")
    table.add_column("rows in", justify="right")
    table.add_column("rows out", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("rows/s", justify="right")
    table.add_column("peak RSS MiB", justify="right")
    for r in results:
        table.add_row(r.stage, f"{r.rows_in:,}", f"{r.rows_out:,}", f"{r.seconds:,.1f}", f"{r.rows_per_second:,.0f}",
                      f"{r.peak_rss_mib:,.0f}")
    console = Console()
    console.print(table)
    console.print(f"input generation (not a pipeline stage): {generate_seconds:,.1f} s")
    console.print(f"lake: {lake_url or 'local disk'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000, help="statuses to generate (default 1,000,000)")
    parser.add_argument("--work-dir", type=Path, default=REPO / "bench" / "out" / "work")  # git-ignored
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the work directory afterwards")
    parser.add_argument("--json", type=Path, help="append the figures to this file as one JSON line")
    parser.add_argument("--s3", action="store_true", help="put the lake in a local moto S3 server")
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)  # internal: run one stage
    args = parser.parse_args(argv)
    work_dir = args.work_dir.resolve()

    if args.stage:
        print(json.dumps(run_stage(args.stage, work_dir)))
        return

    if work_dir.exists():
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True)
    with contextlib.ExitStack() as stack:
        if args.s3:
            stack.enter_context(_s3_lake())
        _bench(args, work_dir)


@contextlib.contextmanager
def _s3_lake() -> Iterator[None]:
    """moto's S3 server on loopback, its bucket, and the environment the stage processes inherit."""
    sys.path.insert(0, str(REPO))
    from tests.support.s3_server import moto_server, new_bucket, s3_environment

    with moto_server() as endpoint:
        os.environ.update(s3_environment(endpoint))
        os.environ[LAKE_URL_ENV] = new_bucket(endpoint).url("lake")
        yield


def _bench(args: argparse.Namespace, work_dir: Path) -> None:
    try:
        generate_seconds = generate_input(work_dir, args.posts, args.seed)
        input_bytes = (work_dir / "input" / INPUT_NAME).stat().st_size
        results: list[StageResult] = []
        failed = None
        for stage in STAGES:
            try:
                results.append(measure(stage, work_dir))
            except SystemExit as exc:  # show the stages that did run, then fail
                failed = exc
                break
        report(args.posts, generate_seconds, input_bytes, results, os.environ.get(LAKE_URL_ENV))
        if failed is not None:
            raise failed
        if args.json:
            with open(args.json, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({
                    "posts": args.posts, "lake": "s3 (moto)" if args.s3 else "local",
                    "input_mib": round(input_bytes / 2**20, 1),
                    "generate_seconds": round(generate_seconds, 1), "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "stages": [{**asdict(r), "rows_per_second": round(r.rows_per_second)} for r in results],
                }) + "\n")
    finally:
        if not args.keep:
            shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
