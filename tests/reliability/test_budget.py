"""The request budget (`HttpClient(max_requests=N)`) holds whatever the server does: every attempt,
retries included, counts, and the server never sees more than N requests from one client."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dissentry import pipeline
from dissentry.connectors.http import BudgetExhausted, HttpClient, HttpError
from tests.reliability.fault_server import (
    FAULT_KINDS,
    Catalogue,
    FaultSchedule,
    FaultServer,
    build_catalogue,
    make_config,
    serve_faults,
    sources_for,
)
from tests.reliability.harness import FakeTime, fault_environment
from tests.support.local_server import RunningServer

# a feed of each platform big enough that no budget drawn below can finish it
FEEDS = {"mastodon": {"mastodon": ["m0"], "bluesky": [], "reddit_users": [], "reddit_subs": []},
         "bluesky": {"mastodon": [], "bluesky": ["b0.bsky.example"], "reddit_users": [], "reddit_subs": []},
         "reddit": {"mastodon": [], "bluesky": [], "reddit_users": [], "reddit_subs": ["sub000"]}}
WITHOUT_TIMEOUTS = tuple(k for k in FAULT_KINDS if k != "timeout")  # timeouts only cost wall time here


@pytest.fixture(scope="module")
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture(scope="module")
def server(fake_time: FakeTime) -> Iterator[tuple[FaultServer, RunningServer, Catalogue]]:
    cat = build_catalogue(mastodon=[400], bluesky=[400], reddit_users=[], reddit_subs=[400])
    handler = FaultServer(cat, page_size=5, clock=fake_time.clock, window_requests=25)
    with serve_faults(handler) as running, fault_environment():
        yield handler, running, cat


def test_retries_spend_the_budget_and_the_server_sees_exactly_n(
    server: tuple[FaultServer, RunningServer, Catalogue], fake_time: FakeTime,
) -> None:
    """Every answer a 503: with 6 attempts per request and a budget of 10, the first request fails
    after 6 attempts, the second is stopped by the budget after 4 more; the server saw 10."""
    handler, running, _ = server
    handler.reset_counts()
    handler.schedule = FaultSchedule(seed=1, rate=1.0, kinds=("503",))
    with HttpClient("mastodon", max_requests=10, max_attempts=6, sleep=fake_time.sleep, clock=fake_time.clock,
                    timeout=0.2) as http:
        with pytest.raises(HttpError) as first:
            http.get_json(f"{running.url}/api/v1/accounts/lookup", {"acct": "m0"})
        assert not isinstance(first.value, BudgetExhausted)
        with pytest.raises(BudgetExhausted):
            http.get_json(f"{running.url}/api/v1/accounts/lookup", {"acct": "m0"})
        with pytest.raises(BudgetExhausted):  # and nothing more goes out once it is spent
            http.get_json(f"{running.url}/api/v1/accounts/lookup", {"acct": "m0"})
        assert http.requests == 10
    assert handler.requests["mastodon"] == 10


@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(platform=st.sampled_from(sorted(FEEDS)), budget=st.integers(1, 40),
       seed=st.integers(0, 2**32 - 1), rate=st.floats(0.0, 0.6))
def test_collection_never_sends_more_than_the_budget(
    server: tuple[FaultServer, RunningServer, Catalogue], fake_time: FakeTime,
    platform: str, budget: int, seed: int, rate: float,
) -> None:
    handler, running, cat = server
    handler.reset_counts()
    handler.schedule = FaultSchedule(seed=seed, rate=rate, kinds=WITHOUT_TIMEOUTS)
    sources = sources_for(cat, running.url, **FEEDS[platform])
    overrides = {"max_requests": budget, "sleep": fake_time.sleep, "clock": fake_time.clock, "timeout": 0.2,
                 "max_attempts": 4}
    with tempfile.TemporaryDirectory() as tmp:
        [row] = pipeline.collect(make_config(Path(tmp) / "wh", sources), http_overrides=overrides)
    assert handler.requests[platform] <= budget
    assert row["requests"] == handler.requests[platform]
    # 400 posts in pages of 5 need over 80 requests: every budget here runs out, and the run says so
    assert row["status"] == "failed"
    if "request budget" in row["errors"]:
        assert handler.requests[platform] == budget
    else:  # stopped earlier by a fault that outlasted the retries, or a page served twice
        assert "failed after 4 attempts" in row["errors"] or "served before" in row["errors"]
