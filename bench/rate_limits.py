"""Rate limits when the platform's headers or clock are wrong: one `collect` run per variant.

A local fake platform (`dissentry.testing.rate_limits`) allows 30 requests per 10 s in
windows aligned to the clock, answers 429 with a JSON body and no Retry-After as Mastodon does, and
serves 5 Mastodon accounts of 2,000 statuses (the issue's setup). Variants: correct headers, the
reset 30 s in the past, the reset missing, a 429 storm (every third request, while Remaining is
still high), and a Date (with the reset) 60 s ahead or behind. For each, one collection in real
time prints: status, requests, 429s, wall seconds, windows used, efficiency (successful requests
per window over the allowed budget), posts landed / distinct, and the client's waits by reason.

    .venv/bin/python bench/rate_limits.py                      # Mastodon, every variant, ~8 minutes
    .venv/bin/python bench/rate_limits.py --platform bluesky --variants correct,storm
    .venv/bin/python bench/rate_limits.py --fake-clock         # the same on an injected clock, seconds
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dissentry import pipeline  # noqa: E402
from dissentry.testing import FakeTime  # noqa: E402
from dissentry.testing.faults import (  # noqa: E402
    REDDIT_ENV,
    build_catalogue,
    make_config,
    serve_faults,
    sources_for,
)
from dissentry.testing.rate_limits import (  # noqa: E402
    PAGE_SIZE,
    SIZES,
    VARIANTS,
    RateLimitServer,
    minimal_requests,
    posts_in,
)

POST_TYPES = ("status", "feed_item", "t1", "t3")


def landed(warehouse: Path) -> tuple[int, int]:
    """(post records in raw, distinct post ids among them)."""
    with duckdb.connect() as con:
        row = con.execute(
            f"""SELECT count(*), count(DISTINCT record_id)
                FROM read_parquet(?, hive_partitioning = false)
                WHERE record_type IN {POST_TYPES}""", [f"{warehouse}/raw/**/*.parquet"]
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def run_variant(platform: str, variant: str, *, fake_clock: bool, window_requests: int,
                window_seconds: float) -> dict[str, Any]:
    sizes = SIZES[platform]
    cat = build_catalogue(**sizes)
    fake = FakeTime(time.time()) if fake_clock else None
    clock = fake.clock if fake else time.time
    handler = RateLimitServer(cat, page_size=PAGE_SIZE[platform], clock=clock, variant=variant,
                              window_requests=window_requests, window_seconds=window_seconds)
    overrides = {"sleep": fake.sleep, "clock": fake.clock} if fake else {}
    with serve_faults(handler) as running, tempfile.TemporaryDirectory() as tmp:
        warehouse = Path(tmp) / "wh"
        config = make_config(warehouse, sources_for(cat, running.url))
        started, started_clock = time.perf_counter(), clock()
        [row] = pipeline.collect(config, http_overrides=overrides)
        wall = time.perf_counter() - started
        simulated = clock() - started_clock
        posts, distinct = landed(warehouse)
    server = handler.figures(platform)
    return {
        "platform": platform, "variant": variant, "status": row["status"], "requests": server["requests"],
        "minimal_requests": minimal_requests(platform, sizes), "429s": server["429s"],
        "share_429": server["429s"] / server["requests"] if server["requests"] else 0.0,
        "wall_seconds": round(simulated if fake else wall, 1), "clock": "injected" if fake else "real",
        "windows": server["windows"], "max_per_window": server["max_per_window"],
        "efficiency": round(server["efficiency"], 3), "posts_expected": posts_in(sizes),
        "posts_landed": posts, "posts_distinct": distinct, "waits": json.loads(row["waits"]),
        "clock_skew_seconds": row["clock_skew_seconds"], "errors": json.loads(row["errors"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", choices=sorted(SIZES), default="mastodon")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--window-requests", type=int, default=30)
    parser.add_argument("--window-seconds", type=float, default=10.0)
    parser.add_argument("--fake-clock", action="store_true", help="an injected clock: waits are not slept")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    os.environ.update(REDDIT_ENV)
    logging.basicConfig(level=logging.ERROR)
    results = []
    print(f"{args.platform}: {posts_in(SIZES[args.platform]):,} posts, {args.window_requests} requests per "
          f"{args.window_seconds:g} s window, minimal {minimal_requests(args.platform):,} requests "
          f"({'injected' if args.fake_clock else 'real'} clock)")
    header = (f"{'variant':<15} {'status':<8} {'requests':>8} {'429s':>5} {'429 %':>6} {'wall s':>7} {'windows':>7} "
              f"{'max/win':>7} {'effic.':>6} {'landed/distinct':>16}  waits by reason")
    print(header)
    for variant in args.variants.split(","):
        r = run_variant(args.platform, variant, fake_clock=args.fake_clock,
                        window_requests=args.window_requests, window_seconds=args.window_seconds)
        results.append(r)
        waits = ", ".join(f"{k} {v['waits']}x/{v['seconds']:.1f}s" for k, v in r["waits"].items())
        print(f"{variant:<15} {r['status']:<8} {r['requests']:>8} {r['429s']:>5} {100 * r['share_429']:>5.1f}% "
              f"{r['wall_seconds']:>7.1f} {r['windows']:>7} {r['max_per_window']:>7} {r['efficiency']:>6.3f} "
              f"{r['posts_landed']:>7,}/{r['posts_distinct']:<8,}  {waits}", flush=True)
        if r["errors"]:
            print(f"  errors: {r['errors']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
