"""The shared HTTP client, through a real loopback socket."""

from __future__ import annotations

import httpx
import pytest

from dissentry.connectors.http import (
    BudgetExhausted,
    Documented,
    HttpClient,
    HttpError,
    RateLimit,
    parse_retry_after,
    redact,
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


# ---- rate limits: wrong clocks, wrong or missing headers (issue 15) ---------------------------------
def http_date(epoch: float) -> str:
    import email.utils

    return email.utils.formatdate(epoch, usegmt=True)


def test_skew_from_the_date_header_corrects_the_reset() -> None:
    """The server's clock is 60 s ahead: its Date and its reset both say so. The wait is for the
    reset in *its* clock: 30 s from now plus the 0.5 s margin, not 90 s."""
    t = FakeTime()
    server_now = t.now + 60
    headers = {"Date": http_date(server_now), "RateLimit-Remaining": "1", "RateLimit-Reset": str(int(server_now + 30))}
    replies = [Reply(200, [1], headers=headers), Reply(200, [2])]
    with serve(scripted(replies)) as server, HttpClient(
        "test", sleep=t.sleep, clock=t.clock, rate_limit_parser=epoch_parser
    ) as http:
        http.get_json(server.url + "/a")
        http.get_json(server.url + "/b")
    assert http.clock_skew_seconds == pytest.approx(60, abs=1)
    assert t.sleeps == [pytest.approx(30.5, abs=1)]


def test_a_reset_in_the_past_never_becomes_a_fast_retry_loop() -> None:
    """Every answer: no budget left, a reset 30 s ago. The client probes, each probe twice as far
    from the last (0.5, 1, 2, ... s), never sooner than 0.5 s, until the server lets it through."""
    t = FakeTime()

    def handle(request: Request) -> Reply:
        headers = {"RateLimit-Remaining": "0", "RateLimit-Reset": str(int(t.now - 30))}
        if t.now - FAKE_START >= 20:  # the real window ends 20 s in
            return Reply(200, [1], headers={"RateLimit-Remaining": "29", "RateLimit-Reset": str(int(t.now - 20))})
        return Reply(429, {"error": "Too many requests"}, headers=headers)

    with serve(handle) as server, HttpClient("test", sleep=t.sleep, clock=t.clock, rate_limit_parser=epoch_parser) as http:
        data, _ = http.get_json(server.url + "/x")
    assert data == [1]
    assert t.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]  # by hand: 0.5 * 2**k until past 20 s (31.5 s)
    assert len(server.requests) == 7
    assert http.waits["probe"] == 6 and http.responses_429 == 6


FAKE_START = FakeTime().now


def test_a_429_while_budget_is_left_is_a_short_backoff() -> None:
    t = FakeTime()
    reset = str(int(t.now + 250))
    replies = [Reply(429, {}, headers={"RateLimit-Remaining": "200", "RateLimit-Reset": reset}),
               Reply(429, {}, headers={"RateLimit-Remaining": "200", "RateLimit-Reset": reset}),
               Reply(200, [1], headers={"RateLimit-Remaining": "199", "RateLimit-Reset": reset})]
    with serve(scripted(replies)) as server, HttpClient(
        "test", sleep=t.sleep, clock=t.clock, rate_limit_parser=epoch_parser
    ) as http:
        http.get_json(server.url + "/x")
    assert t.sleeps == [0.5, 1.0]  # not 250 s: the budget is known to be left
    assert http.wait_summary() == {"transient_429": {"waits": 2, "seconds": 1.5}}


def test_rate_limit_retries_are_bounded_by_time_not_by_a_count() -> None:
    """429s with Retry-After: 100 forever. max_attempts=3 does not stop them; max_wait_seconds does:
    9 waits of 100 s make 900 s, a 10th would pass it, so the 10th answer ends the request."""
    t = FakeTime()
    with serve(scripted([Reply(429, {}, headers={"Retry-After": "100"})])) as server, HttpClient(
        "test", sleep=t.sleep, clock=t.clock, max_attempts=3, max_wait_seconds=900
    ) as http, pytest.raises(HttpError, match="max_wait_seconds=900") as info:
        http.get_json(server.url + "/x")
    assert info.value.status_code == 429
    assert t.sleeps == [100.0] * 9 and len(server.requests) == 10


def test_many_429s_then_success_within_the_time_bound() -> None:
    t = FakeTime()
    replies = [Reply(429, {}, headers={"Retry-After": "1"})] * 8 + [Reply(200, [1])]
    with serve(scripted(replies)) as server, HttpClient("test", sleep=t.sleep, clock=t.clock, max_attempts=3) as http:
        data, _ = http.get_json(server.url + "/x")
    assert data == [1] and len(server.requests) == 9
    assert http.waits["retry_after"] == 8 and http.rate_limit_waits == 8


def test_without_headers_the_client_paces_itself_by_the_documented_limit() -> None:
    """Documented: 5 per 60 s; one kept spare, so 4 requests, then a wait until the first leaves
    the 60 s window (+0.5 s)."""
    t = FakeTime()
    with serve(scripted([Reply(200, [1])])) as server, HttpClient(
        "test", sleep=t.sleep, clock=t.clock, documented_limit=Documented(5, 60.0)
    ) as http:
        for _ in range(6):
            http.get_json(server.url + "/x")
    assert t.sleeps == [60.5]
    assert http.waits == {"pacing": 1}


def test_a_missing_reset_is_learned_from_when_the_window_reopens() -> None:
    """Remaining but no reset, 10 requests per aligned 10 s window. After the first window (probes),
    the client knows when windows end and later windows cost no 429."""
    t = FakeTime(1_800_000_003.0)
    used: dict[int, int] = {}
    answered: dict[int, int] = {}

    def handle(request: Request) -> Reply:
        window = int(t.now // 10)
        used[window] = used.get(window, 0) + 1
        remaining = max(0, 10 - used[window])
        if used[window] > 10:
            return Reply(429, {}, headers={"RateLimit-Remaining": "0"})
        answered[window] = answered.get(window, 0) + 1
        return Reply(200, [1], headers={"RateLimit-Remaining": str(remaining)})

    with serve(handle) as server, HttpClient("test", sleep=t.sleep, clock=t.clock, rate_limit_parser=epoch_parser) as http:
        for _ in range(90):
            http.get_json(server.url + "/x")
    too_many = len(server.requests) - 90
    assert too_many <= 6  # learning the first windows
    assert len(answered) <= 11  # ceil(90 / 9) = 10 windows, one more at most
    late = sorted(used)[3:]  # once learned: no 429 in a window
    assert all(used[w] <= 10 for w in late), used


# ---- secrets never leave the client (issue 10, item 1) -----------------------------------------------
def test_4xx_and_5xx_errors_carry_no_secret_but_keep_status_and_a_redacted_excerpt() -> None:
    t = FakeTime()
    token = "s3cret-Tok-4f1e9a"
    body = {"error": f"invalid token {token}", "access_token": token, "echo": f"Authorization: Bearer {token}"}
    with serve(scripted([Reply(403, body)])) as server, HttpClient(
        "test", sleep=t.sleep, clock=t.clock, headers={"Authorization": f"Bearer {token}"}
    ) as http, pytest.raises(HttpError) as info:
        http.get_json(server.url + "/x", params={"cursor": token})
    message = str(info.value)
    assert token not in message
    assert "answered 403 Forbidden" in message and "invalid token ***" in message
    assert info.value.status_code == 403
    with serve(scripted([Reply(500, f"boom {token}")])) as server, HttpClient(
        "test", sleep=t.sleep, clock=t.clock, headers={"Authorization": f"Bearer {token}"}, max_attempts=2
    ) as http, pytest.raises(HttpError) as info:
        http.get_json(server.url + f"/x/{token}")
    assert token not in str(info.value) and "500 Internal Server Error" in str(info.value)


def test_token_shapes_are_redacted_even_when_not_registered() -> None:
    text = ('{"access_token":"abcd1234efgh","refresh_token": "zzzz9999"} Authorization: Bearer eyJhbGciOi.'
            'eyJzdWIiOiIx.sig token=qwerty123 ExpiredToken')
    out = redact(text)
    for secret in ("abcd1234efgh", "zzzz9999", "eyJhbGciOi", "qwerty123"):
        assert secret not in out
    assert "ExpiredToken" in out  # Bluesky's error name survives: the connector re-logs on it


def test_redirect_and_link_urls_are_redacted_by_value() -> None:
    t = FakeTime()
    token = "Zq-redirect-77aa41"

    def handle(request: Request) -> Reply:
        if request.path == "/start":
            return Reply(302, b"", headers={"Location": f"/landed?echo={token}&page=2"})
        return Reply(200, [1], headers={"Link": f'<{request.path}?next={token}>; rel="next"'})

    with serve(handle) as server, HttpClient(
        "test", sleep=t.sleep, clock=t.clock, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        _, response = http.get_json(server.url + "/start")
    assert token in str(response.request.url)  # the server really put it there
    assert token not in redact_url(response.request.url)
    assert redact_url(response.links["next"]["url"]) == "/landed?next=***"
