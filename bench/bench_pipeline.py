"""Benchmark the pipeline on N synthetic Mastodon statuses: import, normalise, transform.

    .venv/bin/python bench/bench_pipeline.py --posts 1000000 [--incremental 0.01] [--work-dir DIR] [--keep] [--s3]

The input is written first (streaming, by `dissentry.sample` in Mastodon's API shape) and is not
timed as a pipeline stage. Each stage then runs in its own child process, so its peak resident
memory (the child's own VmHWM: its rusage's ru_maxrss would carry this process's high-water mark
across vfork and exec) belongs to that stage alone, and no stage inherits another's caches.
Figures are printed with rich and, with `--json FILE`, appended as one JSON line.

The same run also times "the limit" on the same files, each in its own child process too: DuckDB
`read_json_objects` -> Parquet in the raw layer's shape (for import) and DuckDB scanning and
rewriting the raw Parquet (for normalise). Ratios use CPU seconds (the child's user + system time
from its rusage), which a shared machine disturbs far less than wall time. With `--incremental F`,
F x N further statuses (the next ones of the same generated stream) are imported after the full
build, and normalise + transform run again. The output ends with these lines:

    import_vs_limit R        dissentry's import records per CPU second over the limit's
    normalise_vs_limit R     normalise CPU seconds over the limit's
    incremental_vs_full R    normalise + transform CPU after the new posts, over the full build's (n/a without it)
    peak_rss_mib STAGE M     per stage
    spill_mib M              the most DuckDB spill on disk at any moment (polled every 0.2 s)

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
LIMIT_STAGES = ("import_limit", "normalise_limit")
INCREMENTAL_STAGES = ("import_more", "normalise_more", "transform_more")
ALL_STAGES = STAGES + LIMIT_STAGES + INCREMENTAL_STAGES
MORE_NAME = "mastodon-more.jsonl"
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
    cpu_seconds: float = 0.0
    spill_mib: float = 0.0

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


def generate_input(work_dir: Path, posts: int, seed: int, more: int = 0) -> float:
    """Write exactly `posts` statuses (and `more` after them, into their own file); return the seconds."""
    from dissentry.sample import expected_posts, generate_sample

    total = posts + more
    scale = total / expected_posts(1.0, ("mastodon",)) * 1.15  # a little over, then cut at exactly N
    started = time.perf_counter()
    truth = generate_sample(work_dir / "input", seed=seed, scale=scale, platforms=("mastodon",),
                            max_mastodon_statuses=total)
    if truth.mastodon_statuses != total:
        raise SystemExit(f"generated {truth.mastodon_statuses} statuses, wanted {total}")
    if more:  # the stream's last `more` statuses are the new posts of the incremental run
        full = work_dir / "input" / INPUT_NAME
        head = work_dir / "input" / (INPUT_NAME + ".head")
        with open(full, "rb") as src, open(head, "wb") as first, open(work_dir / "input" / MORE_NAME, "wb") as rest:
            for i, line in enumerate(src):
                (first if i < posts else rest).write(line)
        os.replace(head, full)
    return time.perf_counter() - started


def _limit_import(work_dir: Path) -> dict[str, Any]:
    """The limit for import: DuckDB reads the JSONL and writes Parquet in the raw layer's shape."""
    import duckdb

    out = work_dir / "limit" / "raw.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    from dissentry.warehouse.sql import quote_literal

    source = quote_literal(work_dir / "input" / INPUT_NAME)
    target = quote_literal(out.as_posix())
    con = duckdb.connect()
    con.execute(f"""
        COPY (SELECT 'mastodon' AS platform, '{SOURCE_NAME}' AS source, 'status' AS record_type,
                     json ->> 'id' AS record_id, 'https://social.example' AS origin, json::VARCHAR AS payload,
                     '{INPUT_NAME}:' || row_number() OVER () AS locator, now() AS fetched_at, 'limit' AS run_id
              FROM read_json_objects({source}, format = 'newline_delimited'))
        TO {target} (FORMAT parquet, COMPRESSION zstd)""")
    rows = int(con.execute("SELECT count(*) FROM read_parquet(?)", [out.as_posix()]).fetchone()[0])
    con.close()
    return {"rows_in": rows, "rows_out": rows}


def _limit_normalise(work_dir: Path, lake: Any) -> dict[str, Any]:
    """The limit for normalise: DuckDB scans the raw Parquet and writes it again."""
    import duckdb

    out = work_dir / "limit" / "rewritten.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    from dissentry.warehouse.sql import literal_list, quote_literal

    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_parquet({literal_list(lake.raw_files())}, union_by_name = true)) "
                f"TO {quote_literal(out.as_posix())} (FORMAT parquet, COMPRESSION zstd)")
    rows = int(con.execute("SELECT count(*) FROM read_parquet(?)", [out.as_posix()]).fetchone()[0])
    con.close()
    return {"rows_in": rows, "rows_out": rows}


def _count(lake: Any, view: str) -> int:
    """Rows of one lake view (raw_records, posts, ...), read the way the pipeline reads them."""
    from dissentry.warehouse.catalog import connect, create_lake_views

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
    if stage in ("import", "import_more"):
        files = config.sources[0].files if stage == "import" else [str(work_dir / "input" / MORE_NAME)]
        run = pipeline.import_export(config, "mastodon", files, SOURCE_NAME)
        if run.get("status") not in (None, "ok"):
            raise SystemExit(f"import failed: {run}")
        rows_in = rows_out = int(run.get("records_seen") or 0)
    elif stage in ("normalise", "normalise_more"):
        # the first build is a full one; after the new posts, normalise does what it does by default
        counts = pipeline.normalise(config, full=True) if stage == "normalise" else pipeline.normalise(config)
        rows_out = int(counts.get("posts", 0))
        rows_in = _count(lake, "raw_records")
    elif stage == "import_limit":
        return _limit_import(work_dir)
    elif stage == "normalise_limit":
        return _limit_normalise(work_dir, lake)
    elif stage in ("transform", "transform_more"):
        tables = pipeline.transform(config)
        rows_out = sum(int(n) for n in tables.values())
        rows_in = _count(lake, "posts")
    else:
        raise SystemExit(f"unknown stage {stage!r}")
    return {"rows_in": rows_in, "rows_out": rows_out}


def spill_bytes(work_dir: Path) -> int:
    """Bytes DuckDB has spilled right now: the lake's `.spill` folder and a building file's `.tmp`."""
    total = 0
    for folder, _, names in os.walk(work_dir):
        if ".spill" in Path(folder).parts or any(part.endswith(".tmp") for part in Path(folder).parts):
            for name in names:
                with contextlib.suppress(OSError):
                    total += (Path(folder) / name).stat().st_size
    return total


def measure(stage: str, work_dir: Path) -> StageResult:
    """Run a stage in a child process; its peak RSS and CPU come from that child's own rusage."""
    import threading

    peak_spill = [0]
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.2):
            peak_spill[0] = max(peak_spill[0], spill_bytes(work_dir))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--stage", stage, "--work-dir", str(work_dir)],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    done.set()
    poller.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"stage {stage} failed with exit code {child.returncode}")
    counts = json.loads(output.strip().splitlines()[-1])
    return StageResult(stage, counts["rows_in"], counts["rows_out"], seconds, counts["peak_rss_mib"],
                       cpu_seconds=usage.ru_utime + usage.ru_stime, spill_mib=peak_spill[0] / 2**20)


def ratio_lines(results: list[StageResult]) -> list[str]:
    """The closing lines, exactly as issue 12 names them."""
    by = {r.stage: r for r in results}

    def rate(r: StageResult) -> float:
        return r.rows_in / r.cpu_seconds if r.cpu_seconds > 0 else 0.0

    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    imp, imp_limit = by.get("import"), by.get("import_limit")
    norm, norm_limit = by.get("normalise"), by.get("normalise_limit")
    lines = [
        f"import_vs_limit {fmt(rate(imp) / rate(imp_limit) if imp and imp_limit and rate(imp_limit) else None)}",
        f"normalise_vs_limit {fmt(norm.cpu_seconds / norm_limit.cpu_seconds if norm and norm_limit else None)}",
    ]
    full = [by[s].cpu_seconds for s in ("normalise", "transform") if s in by]
    more = [by[s].cpu_seconds for s in ("normalise_more", "transform_more") if s in by]
    lines.append(f"incremental_vs_full {fmt(sum(more) / sum(full) if len(more) == 2 and len(full) == 2 else None)}")
    lines += [f"peak_rss_mib {r.stage} {r.peak_rss_mib:.0f}" for r in results]
    lines.append(f"spill_mib {max((r.spill_mib for r in results), default=0.0):.0f}")
    return lines


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
    table.add_column("CPU s", justify="right")
    table.add_column("rows/s", justify="right")
    table.add_column("peak RSS MiB", justify="right")
    for r in results:
        table.add_row(r.stage, f"{r.rows_in:,}", f"{r.rows_out:,}", f"{r.seconds:,.1f}", f"{r.cpu_seconds:,.1f}",
                      f"{r.rows_per_second:,.0f}", f"{r.peak_rss_mib:,.0f}")
    console = Console()
    console.print(table)
    console.print(f"input generation (not a pipeline stage): {generate_seconds:,.1f} s")
    console.print(f"lake: {lake_url or 'local disk'}; load average at the end: {os.getloadavg()[0]:.1f}")
    for line in ratio_lines(results):  # plain print: exact lines a script can grep
        print(line)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000, help="statuses to generate (default 1,000,000)")
    parser.add_argument("--work-dir", type=Path, default=REPO / "bench" / "out" / "work")  # git-ignored
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the work directory afterwards")
    parser.add_argument("--json", type=Path, help="append the figures to this file as one JSON line")
    parser.add_argument("--s3", action="store_true", help="put the lake in a local moto S3 server")
    parser.add_argument("--incremental", type=float, default=0.0,
                        help="then import this fraction of N new statuses and normalise + transform again")
    parser.add_argument("--stage", choices=ALL_STAGES, help=argparse.SUPPRESS)  # internal: run one stage
    args = parser.parse_args(argv)
    work_dir = args.work_dir.resolve()

    if args.stage:
        from dissentry.testing.memory import peak_rss_mib

        print(json.dumps({**run_stage(args.stage, work_dir), "peak_rss_mib": peak_rss_mib()}))
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
    from dissentry.testing.s3 import moto_server, new_bucket, s3_environment

    with moto_server() as endpoint:
        os.environ.update(s3_environment(endpoint))
        os.environ[LAKE_URL_ENV] = new_bucket(endpoint).url("lake")
        yield


def _bench(args: argparse.Namespace, work_dir: Path) -> None:
    try:
        more = round(args.posts * args.incremental)
        generate_seconds = generate_input(work_dir, args.posts, args.seed, more)
        input_bytes = (work_dir / "input" / INPUT_NAME).stat().st_size
        results: list[StageResult] = []
        failed = None
        # the limits read the same files: the input, and the raw layer dissentry's import wrote
        for stage in (*STAGES, *LIMIT_STAGES, *(INCREMENTAL_STAGES if more else ())):
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
