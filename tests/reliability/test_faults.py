"""Nothing is lost or duplicated when the APIs misbehave.

A loopback server knows 10,080 posts across Mastodon, Bluesky and reddit feeds and answers each
request with a fault drawn from a seeded schedule (429s with and without Retry-After, 5xx, resets,
timeouts, truncated and non-JSON bodies, a page served twice, slow answers). Collection is re-run,
as a scheduler would, until every source ends ok; then the raw layer must hold exactly the server's
record ids (each with one content) and the normalised layer exactly its post ids, once each.
Waits go through an injected clock: they are recorded, never slept.

The counts of schedules run and faults injected are printed at the end of the module (`pytest -s`)
and written to `<pytest basetemp>/reliability-faults.json`.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dissentry import pipeline
from tests.reliability.fault_server import (
    FAULT_KINDS,
    Catalogue,
    FaultSchedule,
    FaultServer,
    build_catalogue,
    expected_ids,
    make_config,
    serve_faults,
    sources_for,
)
from tests.reliability.harness import FakeTime, assert_exactly, collect_and_check, collect_until_ok, fault_environment
from tests.support.local_server import RunningServer

# 12 Mastodon and 12 Bluesky accounts of 280 posts, 6 reddit users (140 submissions, 140 comments)
# and 6 subreddits of 280: 10,080 posts, every listing under reddit's 1,000-item cap
CATALOGUE_SIZES: dict[str, Any] = {
    "mastodon": [280] * 12, "bluesky": [280] * 12, "reddit_users": [(140, 140)] * 6, "reddit_subs": [280] * 6,
}
SUMMARY: dict[str, Any] = {
    "schedules": 0, "runs": 0, "faults": Counter(), "requests": Counter(), "over_limit_429s": Counter(),
    "recorded_waits": 0, "recorded_wait_seconds": 0.0, "posts_collected": set(),
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    cat = build_catalogue(**CATALOGUE_SIZES)
    assert len(cat) == 10_080
    return cat


@pytest.fixture(scope="module")
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture(scope="module")
def server(catalogue: Catalogue, fake_time: FakeTime) -> Iterator[tuple[FaultServer, RunningServer]]:
    handler = FaultServer(catalogue, page_size=40, clock=fake_time.clock, window_requests=60)
    with serve_faults(handler) as running:
        yield handler, running


@pytest.fixture(scope="module", autouse=True)
def summary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    figures = {**SUMMARY, "faults": dict(SUMMARY["faults"]), "requests": dict(SUMMARY["requests"]),
               "over_limit_429s": dict(SUMMARY["over_limit_429s"]),
               "faults_total": sum(SUMMARY["faults"].values()), "posts_collected": len(SUMMARY["posts_collected"])}
    path = tmp_path_factory.getbasetemp() / "reliability-faults.json"
    path.write_text(json.dumps(figures, indent=2, sort_keys=True), encoding="utf-8")
    print(f"\nfault injection: {json.dumps(figures, sort_keys=True)}\n(written to {path})")


@pytest.fixture(scope="module", autouse=True)
def reddit_credentials() -> Iterator[None]:
    with fault_environment():
        yield


def _collect_and_check(server: tuple[FaultServer, RunningServer], cat: Catalogue, fake: FakeTime,
                       sources_kw: dict[str, list[str]], schedule: FaultSchedule, page_size: int,
                       max_runs: int) -> None:
    figures = collect_and_check(*server, cat, fake, sources_kw, schedule, page_size=page_size, max_runs=max_runs)
    SUMMARY["schedules"] += 1
    for key in ("runs", "recorded_waits", "recorded_wait_seconds"):
        SUMMARY[key] += figures[key]
    SUMMARY["faults"].update(figures["faults"])
    SUMMARY["requests"].update(figures["requests"])
    SUMMARY["over_limit_429s"].update(figures["over_limit"])
    SUMMARY["posts_collected"] |= figures["posts"]


@st.composite
def feed_choices(draw: st.DrawFn) -> dict[str, list[str]]:
    """One or two feeds of the catalogue (normalising each platform costs a few tenths of a second,
    and 100 examples must stay quick); the full catalogue is collected by the test below."""
    picks = draw(st.lists(st.sampled_from(("mastodon", "bluesky", "reddit_users", "reddit_subs")),
                          min_size=1, max_size=2, unique=True))
    names = {"mastodon": f"m{draw(st.integers(0, 11))}", "bluesky": f"b{draw(st.integers(0, 11))}.bsky.example",
             "reddit_users": f"user_{draw(st.integers(0, 5)):03d}", "reddit_subs": f"sub{draw(st.integers(0, 5)):03d}"}
    return {kind: ([names[kind]] if kind in picks else []) for kind in names}


schedules = st.builds(
    FaultSchedule,
    seed=st.integers(0, 2**32 - 1),
    rate=st.floats(0.05, 0.3),
    kinds=st.lists(st.sampled_from(FAULT_KINDS), min_size=1, unique=True).map(tuple),
    max_timeouts=st.just(1),  # each timeout costs the client's real 0.2 s
)


@settings(max_examples=100, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(feeds=feed_choices(), schedule=schedules, page_size=st.integers(10, 40))
def test_nothing_lost_or_duplicated_under_random_faults(
    server: tuple[FaultServer, RunningServer], catalogue: Catalogue, fake_time: FakeTime,
    feeds: dict[str, list[str]], schedule: FaultSchedule, page_size: int,
) -> None:
    _collect_and_check(server, catalogue, fake_time, feeds, schedule, page_size, max_runs=80)


def test_all_10080_posts_arrive_exactly_once_through_every_kind_of_fault(
    server: tuple[FaultServer, RunningServer], catalogue: Catalogue, fake_time: FakeTime,
) -> None:
    schedule = FaultSchedule(seed=20261124, rate=0.2, max_timeouts=4)
    _collect_and_check(server, catalogue, fake_time, {}, schedule, page_size=40, max_runs=80)
    handler = server[0]
    # the schedule really did inject every kind of fault, and the clients really waited on 429s
    assert set(handler.faults) == set(FAULT_KINDS)
    assert fake_time.sleeps


def test_a_repeated_page_fails_the_run_instead_of_ending_the_walk(
    server: tuple[FaultServer, RunningServer], catalogue: Catalogue, fake_time: FakeTime,
) -> None:
    """The bug this suite found: each connector read a page served twice as the end of the feed,
    ended the run `ok` and moved its cursor past every older post, which were then never collected."""
    handler, running = server
    handler.reset_counts()
    handler.page_size = 10
    handler.schedule = FaultSchedule(seed=7, rate=1.0, kinds=("repeat_page",))
    sources = sources_for(catalogue, running.url, mastodon=["m1"], bluesky=["b1.bsky.example"],
                          reddit_users=[], reddit_subs=["sub001"])
    with tempfile.TemporaryDirectory() as tmp:
        config = make_config(Path(tmp) / "wh", sources)
        rows = pipeline.collect(config, http_overrides={"sleep": fake_time.sleep, "clock": fake_time.clock})
        assert [r["status"] for r in rows] == ["failed"] * 3
        assert all("served before" in json.loads(r["errors"])[0] for r in rows)
        # the first page of each feed was kept (the account/profile, and 10 posts), and its cursor
        assert [r["records_seen"] for r in rows] == [11, 11, 10]
        handler.schedule = FaultSchedule()
        collect_until_ok(config, fake_time, max_runs=2)
        pipeline.normalise(config)
        assert_exactly(Path(tmp) / "wh", *expected_ids(catalogue, sources))
