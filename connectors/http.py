"""The one HTTP client every API connector uses: httpx + tenacity.

What it does for a connector:
- timeouts on connect and read; retries with exponential backoff and jitter on connection errors,
  timeouts, 5xx, truncated or invalid JSON bodies;
- 429: waits for `Retry-After` (seconds or an HTTP date) when sent, else until the platform's
  rate-limit reset (Mastodon sends no Retry-After), else backs off;
- reads the platform's rate-limit headers through a small parser the connector supplies and
  sleeps *before* the budget is exhausted rather than after a 429;
- a request budget per client (every attempt counts, retries included) so a run never exceeds
  what the operator allowed;
- counts requests, waits and seconds waited, for the `collection_runs` table;
- never logs or returns secrets: URLs are logged without query values named like tokens, and
  auth headers are only ever set on the httpx client.

`sleep` and `clock` are injectable so tests can run a rate-limit wait without waiting.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

log = logging.getLogger(__name__)

USER_AGENT = "dissentry/0.1 (research data collection; +https://github.com/dissentry/dissentry)"
_SECRET_PARAMS = ("token", "access_token", "key", "secret", "password", "auth", "signature", "sig")


@dataclass(frozen=True)
class RateLimit:
    """What the platform's headers say: requests left in this window and when it resets (epoch s)."""

    remaining: float | None
    reset_at: float | None


RateLimitParser = Callable[[httpx.Headers, float], RateLimit]


def no_rate_limit_headers(headers: httpx.Headers, now: float) -> RateLimit:
    return RateLimit(None, None)


class HttpError(RuntimeError):
    """A request that failed for good (after retries, or a 4xx that retrying cannot fix)."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class BudgetExhausted(HttpError):
    """The request budget for this client is spent; the run stops with what it has."""


class _Retryable(Exception):
    def __init__(self, message: str, wait_seconds: float | None = None) -> None:
        super().__init__(message)
        self.wait_seconds = wait_seconds


def redact_url(url: str | httpx.URL) -> str:
    """The URL with the values of token-like query parameters replaced by `***`."""
    parts = urlsplit(str(url))
    query = [
        (k, "***" if any(s in k.lower() for s in _SECRET_PARAMS) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


class HttpClient:
    def __init__(
        self,
        platform: str,
        *,
        headers: Mapping[str, str] | None = None,
        rate_limit_parser: RateLimitParser = no_rate_limit_headers,
        max_requests: int | None = None,
        max_attempts: int = 6,
        timeout: float = 30.0,
        min_remaining: float = 1,
        max_wait_seconds: float = 900.0,
        backoff_max_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.platform = platform
        self._client = httpx.Client(
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=True,
            transport=transport,
        )
        self._parse_rate_limit = rate_limit_parser
        self._max_requests = max_requests
        self._max_attempts = max_attempts
        self._min_remaining = min_remaining
        self._max_wait = max_wait_seconds
        self._backoff_max = backoff_max_seconds
        self._sleep = sleep
        self._clock = clock
        self._limit = RateLimit(None, None)
        # figures for collection_runs
        self.requests = 0
        self.rate_limit_waits = 0
        self.rate_limit_wait_seconds = 0.0
        self.retries = 0

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def set_header(self, name: str, value: str) -> None:
        """For tokens obtained during a run (e.g. a session); never logged."""
        self._client.headers[name] = value

    # ---- waiting --------------------------------------------------------------------------------
    def _wait(self, seconds: float, why: str) -> None:
        seconds = min(max(seconds, 0.0), self._max_wait)
        if seconds <= 0:
            return
        self.rate_limit_waits += 1
        self.rate_limit_wait_seconds += seconds
        log.info("%s: waiting %.1fs (%s)", self.platform, seconds, why)
        self._sleep(seconds)

    def _wait_if_budget_low(self) -> None:
        limit = self._limit
        if limit.remaining is None or limit.reset_at is None or limit.remaining > self._min_remaining:
            return
        self._wait(limit.reset_at - self._clock() + 0.5, f"rate limit: {limit.remaining:g} requests left")
        self._limit = RateLimit(None, None)  # the window has reset

    def _backoff(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.wait_seconds is not None:
            return min(exc.wait_seconds, self._max_wait)
        return wait_random_exponential(multiplier=0.5, max=self._backoff_max)(state)

    def _before_sleep(self, state: RetryCallState) -> None:
        self.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        seconds = state.upcoming_sleep
        if isinstance(exc, _Retryable) and exc.wait_seconds is not None:
            self.rate_limit_waits += 1
            self.rate_limit_wait_seconds += seconds
        log.warning("%s: retrying in %.1fs after: %s", self.platform, seconds, exc)

    # ---- requests -------------------------------------------------------------------------------
    def get_json(self, url: str, params: Mapping[str, Any] | None = None) -> tuple[Any, httpx.Response]:
        return self.request_json("GET", url, params=params)

    def get_response(
        self, url: str, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """A GET whose body is not JSON (feeds, pages), with the same retries, waits and budget.

        Any status below 400 is returned as is (a 304 Not Modified included); the body is read whole.
        """
        retrying = self._retrying()
        try:
            _, response = retrying(self._attempt, "GET", url, params, None, None, headers, False)
        except _Retryable as exc:
            raise HttpError(f"GET {redact_url(url)} failed after {self._max_attempts} attempts: {exc}") from None
        return response

    def request_json(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
    ) -> tuple[Any, httpx.Response]:
        """One logical request with retries. Returns (parsed JSON, the final response)."""
        retrying = self._retrying()
        try:
            return retrying(self._attempt, method, url, params, json_body, form, None, True)
        except _Retryable as exc:
            raise HttpError(f"{method} {redact_url(url)} failed after {self._max_attempts} attempts: {exc}") from None

    def _retrying(self) -> Retrying:
        return Retrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._backoff,
            retry=retry_if_exception_type(_Retryable),
            sleep=self._sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )

    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        form: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        parse_json: bool,
    ) -> tuple[Any, httpx.Response]:
        if self._max_requests is not None and self.requests >= self._max_requests:
            raise BudgetExhausted(f"{self.platform}: request budget of {self._max_requests} spent")
        self._wait_if_budget_low()
        self.requests += 1
        try:
            response = self._client.request(method, url, params=params, json=json_body, data=form, headers=headers)
            if not parse_json:
                response.read()
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from None
        now = self._clock()
        limit = self._parse_rate_limit(response.headers, now)
        if limit.remaining is not None or limit.reset_at is not None:
            self._limit = limit
        where = redact_url(response.request.url)
        if response.status_code == 429:
            wait = parse_retry_after(response.headers.get("Retry-After"), now)
            if wait is None and limit.reset_at is not None:
                wait = max(0.0, limit.reset_at - now) + 0.5
            raise _Retryable(f"429 Too Many Requests from {where}", wait_seconds=wait)
        if response.status_code >= 500:
            raise _Retryable(f"{response.status_code} from {where}")
        if response.status_code >= 400:
            raise HttpError(
                f"{method} {where} answered {response.status_code}: {response.text[:200]}", response.status_code
            )
        if not parse_json:
            return None, response
        try:
            return response.json(), response
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            # a body cut short by the server or the network: the next attempt usually gets it whole
            raise _Retryable(f"invalid or truncated JSON from {where}: {exc}") from None
