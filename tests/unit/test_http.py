"""The shared HTTP client, through a real loopback socket."""

from __future__ import annotations

import httpx
import pytest

from connectors.http import (
    BudgetExhausted,
    HttpClient,
    HttpError,
    RateLimit,
    parse_retry_after,
    redact_url,
)
from tests.support.fake_time import FakeTime
from tests.support.local_server import Reply, Request, serve


def scripted(replies: list[Reply]):
    queue = list(replies)

    def handle(request: Request) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handle


def epoch_parser(headers: httpx.Headers, now: float) -> RateLimit:
    remaining = headers.get("RateLimit-Remaining")
    reset = headers.get("RateLimit-Reset")
    return RateLimit(float(remaining) if remaining else None, float(reset) if reset else None)


def test_retries_5xx_reset_and_truncated_body_then_succeeds() -> None:
    t = FakeTime()
    replies = [
        Reply(503),
        Reply(reset=True),
        Reply(200, {"ok": True, "padding": "x" * 100}, truncate_to=10),
        Reply(200, {"ok": True}),
    ]
    with serve(scripted(replies)) as server, HttpClient("test", sleep=t.sleep, clock=t.clock) as http:
        data, _ = http.get_json(server.url + "/x")
    assert data == {"ok": True}
    assert len(server.requests) == 4
    assert http.requests == 4 and http.retries == 3
    assert len(t.sleeps) == 3


def test_429_with_retry_after_waits_that_long() -> None:
    t = FakeTime()
    replies = [Reply(429, {"error": "slow down"}, headers={"Retry-After": "7"}), Reply(200, [1])]
    with serve(scripted(replies)) as server, HttpClient("test", sleep=t.sleep, clock=t.clock) as http:
        data, _ = http.get_json(server.url + "/x")
    assert data == [1]
    assert t.sleeps == [7.0]
    assert http.rate_limit_waits == 1 and http.rate_limit_wait_seconds == 7.0


def test_429_without_retry_after_waits_until_reset_header() -> None:
    t = FakeTime()
    reset = str(int(t.now + 40))
    replies = [Reply(429, {}, headers={"RateLimit-Remaining": "0", "RateLimit-Reset": reset}), Reply(200, [])]
    with serve(scripted(replies)) as server, HttpClient(
        "test", sleep=t.sleep, clock=t.clock, rate_limit_parser=epoch_parser
    ) as http:
        http.get_json(server.url + "/x")
    assert t.sleeps == [pytest.approx(40.5)]


def test_sleeps_before_the_budget_runs_out() -> None:
    t = FakeTime()
    reset = str(int(t.now + 30))
    replies = [Reply(200, [1], headers={"RateLimit-Remaining": "1", "RateLimit-Reset": reset}), Reply(200, [2])]
    with serve(scripted(replies)) as server, HttpClient(
        "test", sleep=t.sleep, clock=t.clock, rate_limit_parser=epoch_parser
    ) as http:
        http.get_json(server.url + "/a")
        data, _ = http.get_json(server.url + "/b")
    assert data == [2]
    assert t.sleeps == [pytest.approx(30.5)]
    assert [r.path for r in server.requests] == ["/a", "/b"]


def test_4xx_is_not_retried_and_is_reported_without_secrets() -> None:
    t = FakeTime()
    with serve(scripted([Reply(404, {"error": "Record not found"})])) as server, HttpClient(
        "test", sleep=t.sleep, clock=t.clock, headers={"Authorization": "Bearer s3cret-token"}
    ) as http, pytest.raises(HttpError) as info:
        http.get_json(server.url + "/x", params={"access_token": "s3cret-token", "q": "a"})
    assert info.value.status_code == 404
    assert "s3cret" not in str(info.value)
    assert len(server.requests) == 1
    assert server.requests[0].headers["Authorization"] == "Bearer s3cret-token"


def test_request_budget_counts_retries() -> None:
    t = FakeTime()
    with serve(scripted([Reply(500)])) as server, HttpClient(
        "test", sleep=t.sleep, clock=t.clock, max_requests=3, max_attempts=10
    ) as http, pytest.raises(BudgetExhausted):
        http.get_json(server.url + "/x")
    assert len(server.requests) == 3


def test_gives_up_after_max_attempts() -> None:
    t = FakeTime()
    with serve(scripted([Reply(502)])) as server, HttpClient("test", sleep=t.sleep, clock=t.clock, max_attempts=3) as http:
        with pytest.raises(HttpError, match="failed after 3 attempts"):
            http.get_json(server.url + "/x")
    assert len(server.requests) == 3


def test_slow_response_times_out_and_is_retried() -> None:
    t = FakeTime()
    replies = [Reply(200, [1], delay=1.0), Reply(200, [2])]
    with serve(scripted(replies)) as server, HttpClient("test", sleep=t.sleep, clock=t.clock, timeout=0.2) as http:
        data, _ = http.get_json(server.url + "/x")
    assert data == [2]


def test_retry_after_forms_and_redaction() -> None:
    assert parse_retry_after("12", 0) == 12
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470) == 10
    assert parse_retry_after("soon", 0) is None
    assert redact_url("https://x.example/a?access_token=abc&q=1") == "https://x.example/a?access_token=%2A%2A%2A&q=1"


def test_get_response_returns_non_json_bodies_and_304_with_retries() -> None:
    t = FakeTime()
    feed = b"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title></channel></rss>"
    replies = [Reply(503), Reply(200, feed, headers={"Content-Type": "application/rss+xml", "ETag": '"v1"'}),
               Reply(304, b"")]
    with serve(scripted(replies)) as server, HttpClient("test", sleep=t.sleep, clock=t.clock) as http:
        first = http.get_response(server.url + "/feed.xml")
        second = http.get_response(server.url + "/feed.xml", headers={"If-None-Match": '"v1"'})
    assert first.status_code == 200 and first.content == feed and first.headers["ETag"] == '"v1"'
    assert second.status_code == 304
    assert server.requests[-1].headers["If-None-Match"] == '"v1"'
    assert http.requests == 3 and len(t.sleeps) == 1
