"""Rate limits when the platform's clock or headers are wrong (issue 15), on loopback.

Each platform's header family (Mastodon `X-RateLimit-*` with an ISO reset, Bluesky `RateLimit-*`
with an epoch reset, reddit `x-ratelimit-*` with seconds until the reset) is served honestly, with
the reset 30 s in the past, with no reset, in a 429 storm, and from a clock 60 s ahead or behind
(tests/reliability/rate_limit_server.py). Every variant must finish in one `collect` run with every
post landed once; the request count the server saw is checked against the fewest a collection can
take, worked out from the paging rules. The client and the server share an injected clock: waits
are recorded and move the clock, nothing waits in real time, and nothing asserts on wall time.
`python bench/rate_limits.py` runs the same variants in real time and prints the table.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from dissentry import pipeline
from tests.reliability.fault_server import (
    ROOT,
    FaultSchedule,
    FaultServer,
    build_catalogue,
    config_toml,
    expected_ids,
    make_config,
    serve_faults,
    sources_for,
)
from tests.reliability.harness import assert_exactly, fault_environment
from tests.reliability.rate_limit_server import HONEST_LIMIT, PAGE_SIZE, VARIANTS, RateLimitServer, minimal_requests
from tests.support.fake_time import FakeTime

# Mastodon at the scale (5 accounts x 2,000 statuses, 30 requests per 10 s); Bluesky and
# reddit smaller, with a smaller window so that they too span several windows
SIZES: dict[str, dict[str, Any]] = {
    "mastodon": {"mastodon": [2000] * 5, "bluesky": [], "reddit_users": [], "reddit_subs": []},
    "bluesky": {"mastodon": [], "bluesky": [1500] * 3, "reddit_users": [], "reddit_subs": []},
    # listings under reddit's 1,000-item cap, so that a complete collection is `ok`, not `partial`
    "reddit": {"mastodon": [], "bluesky": [], "reddit_users": [(500, 500)], "reddit_subs": [900] * 6},
}
WINDOW = {"mastodon": 30, "bluesky": 10, "reddit": 8}
START = 1_800_000_003.0  # three seconds into a window: the first window is short, as it usually is


@pytest.fixture(scope="module", autouse=True)
def quiet() -> Iterator[None]:
    with fault_environment():
        yield


def collect_once(platform: str, variant: str, *, aligned: bool = True,
                 sizes: dict[str, Any] | None = None) -> dict[str, Any]:
    sizes = sizes or SIZES[platform]
    cat = build_catalogue(**sizes)
    fake = FakeTime(START)
    handler = RateLimitServer(cat, page_size=PAGE_SIZE[platform], clock=fake.clock, variant=variant,
                              window_requests=WINDOW[platform], aligned=aligned)
    with serve_faults(handler) as running, tempfile.TemporaryDirectory() as tmp:
        sources = sources_for(cat, running.url)
        config = make_config(Path(tmp) / "wh", sources)
        rows = pipeline.collect(config, http_overrides={"sleep": fake.sleep, "clock": fake.clock})
        assert [r["status"] for r in rows] == ["ok"], [json.loads(r["errors"]) for r in rows]
        pipeline.normalise(config)
        assert_exactly(Path(tmp) / "wh", *expected_ids(cat, sources))  # every post landed, once
    return {"row": rows[0], "server": handler.figures(platform), "fake": fake,
            "minimal": minimal_requests(platform, sizes)}


def test_minimal_request_counts_by_hand() -> None:
    # Mastodon: per account 1 lookup + 2000/40 = 50 pages + 1 empty page below the last full one
    assert minimal_requests("mastodon", SIZES["mastodon"]) == 5 * (1 + 50 + 1) == 260
    # Bluesky: per account 1 profile + 1500/100 = 15 pages
    assert minimal_requests("bluesky", SIZES["bluesky"]) == 3 * 16 == 48
    # reddit: 1 token + 5 + 5 pages for the user's two listings + 6 x 9 for the subreddits
    assert minimal_requests("reddit", SIZES["reddit"]) == 65


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("platform", ["mastodon", "bluesky", "reddit"])
def test_every_variant_finishes_in_one_run(platform: str, variant: str) -> None:
    got = collect_once(platform, variant)
    row, server, fake, minimal = got["row"], got["server"], got["fake"], got["minimal"]
    limit = WINDOW[platform]
    # the server answered every request the client counted, and exactly the minimal number of them
    # successfully: nothing fetched twice
    assert row["requests"] == server["requests"]
    assert server["successes"] == minimal
    assert row["responses_429"] == server["429s"]
    assert server["max_per_window"] <= limit
    # every wait is in the run's row, with its reason, and the injected clock saw exactly those
    waits = json.loads(row["waits"])
    assert sum(w["waits"] for w in waits.values()) == len(fake.sleeps)
    assert sum(w["seconds"] for w in waits.values()) == pytest.approx(sum(fake.sleeps), abs=0.01)
    assert row["rate_limit_waits"] == sum(w["waits"] for r, w in waits.items() if r != "error")
    if variant in ("correct", "date_ahead_60", "date_behind_60"):
        # honest or skew-corrected headers: the optimum, no 429 at all, one spare per window
        assert server["requests"] == minimal and server["429s"] == 0
        assert server["max_per_window"] == limit - 1
        assert row["clock_skew_seconds"] == {"correct": 0.0, "date_ahead_60": pytest.approx(60, abs=1),
                                             "date_behind_60": pytest.approx(-60, abs=1)}[variant]
    if variant in HONEST_LIMIT:
        # a limit the server keeps: 429s only while the client learns the real end of a window
        assert server["429s"] <= 0.1 * server["requests"]
        assert server["storm_429s"] == 0
    else:  # the storm: each of its 429s is a short backoff, never a wait for the window
        assert server["over_limit_429s"] == 0
        assert waits["transient_429"]["waits"] == server["storm_429s"]
        assert waits["transient_429"]["seconds"] <= 1.0 * waits["transient_429"]["waits"]
    if platform == "mastodon" and variant in HONEST_LIMIT:
        # the figures: 260 requests in the minimal 9 windows (ceil(260 / 29)), so the
        # efficiency is 260 / (9 * 30) = 0.963
        assert server["windows"] == 9
        assert server["efficiency"] == pytest.approx(260 / 270)
    if platform == "mastodon" and variant == "correct":
        assert set(waits) == {"window"} and waits["window"]["waits"] == 8
        t = START
        for seconds in fake.sleeps:
            t += seconds
            assert t % 10 == pytest.approx(0.5)  # every wait ends 0.5 s after a reset of the 10 s windows


@pytest.mark.parametrize("variant", VARIANTS)
def test_windows_that_start_at_the_first_request(variant: str) -> None:
    """Windows that open with the first request after the last one closed (not aligned to the
    clock): the same guarantees."""
    sizes = {"mastodon": [800] * 3, "bluesky": [], "reddit_users": [], "reddit_subs": []}
    got = collect_once("mastodon", variant, aligned=False, sizes=sizes)
    server = got["server"]
    assert server["successes"] == got["minimal"] == 3 * (1 + 20 + 1)
    assert server["requests"] == got["row"]["requests"]
    if variant in HONEST_LIMIT:
        assert server["429s"] <= 0.1 * server["requests"]
        assert server["windows"] == 3  # ceil(66 / 29)


# ---- a run ended by a signal writes its row --------------------------------------------------------
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_writes_the_run_row_as_interrupted(tmp_path: Path, signum: int) -> None:
    cat = build_catalogue(mastodon=[4000], bluesky=[], reddit_users=[], reddit_subs=[])
    handler = FaultServer(cat, page_size=10, window_requests=1_000_000)
    handler.schedule = FaultSchedule(seed=3, rate=1.0, kinds=("slow",), slow_delay=0.02)
    warehouse = tmp_path / "wh"
    with serve_faults(handler) as running:
        sources = sources_for(cat, running.url)
        config = tmp_path / "dissentry.toml"
        config.write_text(config_toml(warehouse, sources), encoding="utf-8")
        proc = subprocess.Popen([sys.executable, "-m", "dissentry", "--config", str(config), "collect"],
                                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # wait (by the server's count, not a timer) until the collection is well under way
        deadline = time.monotonic() + 60
        while sum(handler.requests.values()) < 40 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the collection ended before the signal"
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0
    [row] = [pq.read_table(p).to_pylist()[0] for p in warehouse.glob("collection_runs/*.parquet")]
    name = signal.Signals(signum).name
    assert row["status"] == "interrupted", row
    assert any(name in e for e in json.loads(row["errors"]))
    assert row["requests"] >= 40 and row["pages"] >= 1
    assert row["records_seen"] >= 1 and row["cursor_after"] is not None  # what landed is kept with its cursor
    assert b"Traceback" not in stderr
