"""Collection under faults and crashes, heavier than the test suite: figures, and a check that
nothing was lost or duplicated.

    .venv/bin/python bench/faults.py [--schedules 300] [--kills 100] [--seed 1] [--json FILE]

1. Fault schedules: `--schedules` seeded random schedules (fault rate 5-40 %, a random set of fault
   kinds, random page size) over random feeds of a 10,080-post Mastodon/Bluesky/reddit server, then
   one collection of all 10,080 posts under every fault kind. Each collection is re-run until every
   source ends ok, normalised, and checked: the raw and normalised layers must hold exactly the
   server's posts. Waits go through a fake clock (recorded, not slept).
2. Crashes: `dissentry collect` in a subprocess, SIGKILLed `--kills` times at seeded random moments
   (every Parquet file must open after each kill), then run to the end; its normalised posts must
   equal an uninterrupted run's.
Prints the figures with rich; `--json FILE` appends them as one JSON line. Exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from dissentry.testing.faults import (  # noqa: E402
    FAULT_KINDS,
    FaultSchedule,
    FaultServer,
    build_catalogue,
    expected_ids,
    serve_faults,
)
from dissentry.testing.harness import (  # noqa: E402
    FakeTime,
    assert_exactly,
    collect_and_check,
    crash_and_reference,
    fault_environment,
    normalised_posts,
)

console = Console()
SIZES: dict[str, Any] = {"mastodon": [280] * 12, "bluesky": [280] * 12, "reddit_users": [(140, 140)] * 6,
                         "reddit_subs": [280] * 6}


def random_feeds(rng: random.Random) -> dict[str, list[str]]:
    kinds = rng.sample(["mastodon", "bluesky", "reddit_users", "reddit_subs"], rng.randint(1, 4))
    names = {"mastodon": f"m{rng.randrange(12)}", "bluesky": f"b{rng.randrange(12)}.bsky.example",
             "reddit_users": f"user_{rng.randrange(6):03d}", "reddit_subs": f"sub{rng.randrange(6):03d}"}
    return {k: ([names[k]] if k in kinds else []) for k in names}


def random_schedule(rng: random.Random) -> FaultSchedule:
    kinds = tuple(rng.sample(FAULT_KINDS, rng.randint(1, len(FAULT_KINDS))))
    return FaultSchedule(seed=rng.getrandbits(32), rate=rng.uniform(0.05, 0.4), kinds=kinds, max_timeouts=2)


def fault_schedules(n: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    cat = build_catalogue(**SIZES)
    fake = FakeTime()
    handler = FaultServer(cat, page_size=40, clock=fake.clock, window_requests=60)
    totals: dict[str, Any] = {"schedules": 0, "runs": 0, "faults": Counter(), "requests": Counter(),
                              "recorded_waits": 0, "recorded_wait_seconds": 0.0, "posts": set()}
    started = time.perf_counter()
    with serve_faults(handler) as running:
        plans = [(random_feeds(rng), random_schedule(rng), rng.randint(5, 40)) for _ in range(n)]
        plans.append(({}, FaultSchedule(seed=seed, rate=0.25, max_timeouts=6), 40))  # everything, every fault
        for feeds, schedule, page_size in plans:
            figures = collect_and_check(handler, running, cat, fake, feeds, schedule, page_size=page_size,
                                        max_runs=200)
            totals["schedules"] += 1
            for key in ("runs", "recorded_waits", "recorded_wait_seconds"):
                totals[key] += figures[key]
            totals["faults"].update(figures["faults"])
            totals["requests"].update(figures["requests"])
            totals["posts"] |= figures["posts"]
    return {"schedules": totals["schedules"], "collection_runs": totals["runs"], "posts_known": len(cat),
            "posts_collected_and_checked": len(totals["posts"]), "faults": dict(sorted(totals["faults"].items())),
            "faults_total": sum(totals["faults"].values()), "requests": dict(sorted(totals["requests"].items())),
            "recorded_waits": totals["recorded_waits"],
            "recorded_wait_seconds": round(totals["recorded_wait_seconds"], 1),
            "wall_seconds": round(time.perf_counter() - started, 1)}


def crashes(kills: int, seed: int) -> dict[str, Any]:
    cat = build_catalogue(mastodon=[600] * 3, bluesky=[600] * 3, reddit_users=[(300, 300)] * 2, reddit_subs=[600] * 2)
    handler = FaultServer(cat, page_size=10, window_requests=1_000_000)
    started = time.perf_counter()
    with serve_faults(handler) as running, tempfile.TemporaryDirectory() as tmp:
        run = crash_and_reference(handler, running, cat, Path(tmp), kills=kills, seed=seed, schedule_seed=seed,
                                  delay=(0.6, 2.5), max_resumes=50)
        figures, sources = run.figures, run.sources
        assert all(r["status"] == "ok" for r in run.reference_rows), run.reference_rows
        same = normalised_posts(run.crashed) == normalised_posts(run.reference)
        assert same, "the crashed-and-resumed warehouse differs from the uninterrupted one"
        assert_exactly(run.crashed, *expected_ids(cat, sources))
    return {**figures, "posts_known": len(cat), "sources": len(sources), "equal_to_uninterrupted_run": same,
            "wall_seconds": round(time.perf_counter() - started, 1)}


def show(title: str, figures: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False)
    for key, value in figures.items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    console.print(table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=300)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="append the figures to this file as one JSON line")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"seed": args.seed}
    # the credentials the fake reddit accepts, and no log of thousands of retries and failed runs
    with fault_environment(("dissentry.connectors.http", "dissentry.pipeline")):
        try:
            if args.schedules:
                result["faults"] = fault_schedules(args.schedules, args.seed)
                show("fault schedules: nothing lost, nothing duplicated", result["faults"])
            if args.kills:
                result["crashes"] = crashes(args.kills, args.seed)
                show("SIGKILL and resume", result["crashes"])
        except AssertionError as exc:
            console.print(f"[red]check failed:[/red] {exc}")
            sys.exit(1)
        finally:
            if args.json:
                with args.json.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(result, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
