"""The one HTTP client every API connector uses: httpx, with retries and rate limits of its own.

What it does for a connector:
- timeouts on connect and read; retries with exponential backoff and jitter on connection errors,
  timeouts, 5xx, truncated or invalid JSON bodies (at most `max_attempts` in a row);
- rate limits (connectors/rate_limit.py): reads the platform's headers through a small parser the
  connector supplies, corrects them for the server's clock (`Date`), sleeps *before* the budget is
  exhausted, learns when a window really ends when the reset header is wrong or missing, paces
  itself from the documented limit when there are no headers at all; a 429 while budget is known to
  be left is a short backoff, `Retry-After` is obeyed. Rate-limit retries are bounded by time
  (`max_wait_seconds` per request), not by a count;
- a request budget per client (every attempt counts, retries included) so a run never exceeds
  what the operator allowed;
- counts requests, 429s and every wait with its reason, for the `collection_runs` table;
- never logs or returns secrets: every message and URL that leaves the client has the values of
  its auth headers (and anything token-shaped) replaced by `***`; an error keeps the status, the
  reason phrase and a short, redacted excerpt of the body, never the body itself.

`sleep` and `clock` are injectable so tests can run a rate-limit wait without waiting.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

import httpx

from dissentry.connectors.rate_limit import Documented, RateLimit, RateLimiter

__all__ = ["BudgetExhausted", "Documented", "HttpClient", "HttpError", "RateLimit", "RateLimitParser",
           "no_rate_limit_headers", "parse_retry_after", "redact", "redact_url", "register_secret"]

log = logging.getLogger(__name__)

USER_AGENT = "dissentry/0.1 (research data collection; +https://github.com/dissentry/dissentry)"
_SECRET_PARAMS = ("token", "access_token", "key", "secret", "password", "auth", "signature", "sig", "jwt",
                  "session", "code")
ERROR_EXCERPT_CHARS = 160

RateLimitParser = Callable[[httpx.Headers, float], RateLimit]


def no_rate_limit_headers(headers: httpx.Headers, now: float) -> RateLimit:
    return RateLimit(None, None)


# ---- secrets: every value the process holds is scrubbed from whatever it writes or prints ----------
# Process-wide on purpose: connectors build record locators and messages with `redact_url` and
# `HttpError` outside any client, and a server may echo a token anywhere (a body, a Link, a redirect).
_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_MIN_SECRET_CHARS = 6  # shorter values would scrub ordinary words
_TOKEN_SHAPES = [
    # an auth scheme and its credentials
    re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=:-]{6,}"),
    # key=value / "key": "value" with a secret-like key
    re.compile(r"(?i)((?:access|refresh|id|api|auth|session|client)?[_-]?(?:token|secret|password|passwd|jwt|"
               r"apikey|api_key|signature|authorization)[\"']?\s*[:=]\s*[\"']?)([^\"'&\s,;}<>]{4,})"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*)?"),  # a JWT
    re.compile(r"\b[A-Za-z0-9_-]{40,}\b"),  # a long opaque credential-like run
]


def register_secret(value: str | None) -> None:
    """A value that must never appear in anything written or printed (tokens, passwords)."""
    if not value:
        return
    value = value.strip()
    candidates = {value}
    scheme, _, rest = value.partition(" ")
    if rest:  # "Bearer abc": the credentials alone too
        candidates.add(rest.strip())
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                decoded = ""
            candidates |= {decoded, decoded.partition(":")[2]}  # user:password, and the password
    with _SECRETS_LOCK:
        _SECRETS.update(c for c in candidates if len(c) >= _MIN_SECRET_CHARS)


def _scrub_known(text: str) -> str:
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)  # a longer secret may contain a shorter one
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            if form in text:
                text = text.replace(form, "***")
    return text


def redact(text: str) -> str:
    """`text` with every registered secret (also URL-encoded) and anything token-shaped replaced by ***."""
    if not text:
        return text
    text = _scrub_known(text)
    text = _TOKEN_SHAPES[0].sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    text = _TOKEN_SHAPES[1].sub(lambda m: f"{m.group(1)}***", text)
    text = _TOKEN_SHAPES[2].sub("***", text)
    return _TOKEN_SHAPES[3].sub("***", text)


def redact_url(url: str | httpx.URL) -> str:
    """The URL with the values of token-like query parameters, any user:password and every registered
    secret replaced by `***` (it is what connectors store as a record's locator)."""
    parts = urlsplit(str(url))
    query = [
        (k, "***" if any(s in k.lower() for s in _SECRET_PARAMS) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    return _scrub_known(urlunsplit(parts._replace(netloc=netloc, query=urlencode(query))))


def body_excerpt(response: httpx.Response, limit: int = ERROR_EXCERPT_CHARS) -> str:
    """A short, redacted, one-line excerpt of a response body, for an error message."""
    try:
        text = response.text
    except (httpx.ResponseNotRead, UnicodeDecodeError, LookupError):
        return ""
    text = " ".join(text.split())
    # redact the whole body first: a secret cut in half by the excerpt would no longer match
    text = redact(text[: limit * 8])
    return text[:limit] + ("..." if len(text) > limit else "")


class HttpError(RuntimeError):
    """A request that failed for good (after retries, or a 4xx that retrying cannot fix).

    Its message is redacted when it is made, so wherever it is printed, logged or stored
    (`collection_runs.errors`) it carries no secret."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(redact(message))
        self.status_code = status_code


class BudgetExhausted(HttpError):
    """The request budget for this client is spent; the run stops with what it has."""


class _Retryable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)


def header_number(value: str | None) -> float | None:
    """A rate-limit header's number ("598.0"), or None when it is absent or not a number."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


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
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


class HttpClient:
    def __init__(
        self,
        platform: str,
        *,
        headers: Mapping[str, str] | None = None,
        rate_limit_parser: RateLimitParser = no_rate_limit_headers,
        documented_limit: Documented | None = None,
        max_requests: int | None = None,
        max_attempts: int = 6,
        timeout: float = 30.0,
        min_remaining: float = 1,
        max_wait_seconds: float = 900.0,
        backoff_seconds: float = 0.5,
        backoff_max_seconds: float = 60.0,
        secrets: tuple[str, ...] = (),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.platform = platform
        for name, value in (headers or {}).items():
            if _is_secret_header(name):
                register_secret(value)
        for value in secrets:
            register_secret(value)
        self._client = httpx.Client(
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=True,
            transport=transport,
        )
        self._parse_rate_limit = rate_limit_parser
        self._max_requests = max_requests
        self._max_attempts = max_attempts
        self._max_wait = max_wait_seconds
        self._backoff = backoff_seconds
        self._backoff_max = backoff_max_seconds
        self._sleep = sleep
        self._clock = clock
        self.limiter = RateLimiter(min_remaining=min_remaining, documented=documented_limit,
                                   max_step=backoff_max_seconds)
        # figures for collection_runs
        self.requests = 0
        self.responses_429 = 0
        self.rate_limit_waits = 0  # waits for a rate limit (every reason but "error")
        self.rate_limit_wait_seconds = 0.0
        self.retries = 0
        self.waits: Counter[str] = Counter()  # reason -> waits
        self.wait_seconds: Counter[str] = Counter()  # reason -> seconds

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def set_header(self, name: str, value: str) -> None:
        """For tokens obtained during a run (e.g. a session); never logged."""
        if _is_secret_header(name):
            register_secret(value)
        self._client.headers[name] = value

    @property
    def clock_skew_seconds(self) -> float:
        """The server's clock minus ours, as the client corrects for it (0 when they agree)."""
        return self.limiter.skew.offset

    def wait_summary(self) -> dict[str, dict[str, float]]:
        """Every wait by reason: {"window": {"waits": 8, "seconds": 61.3}, ...}."""
        return {reason: {"waits": self.waits[reason], "seconds": round(self.wait_seconds[reason], 3)}
                for reason in sorted(self.waits)}

    # ---- waiting --------------------------------------------------------------------------------
    def _wait(self, seconds: float, reason: str, what: str, waited: float) -> float:
        """Sleep `seconds` for `reason`; refuse when the request's waits would pass max_wait_seconds."""
        if seconds <= 0:
            return 0.0
        if waited + seconds > self._max_wait:
            raise HttpError(
                f"{what}: rate limited; waiting {seconds:.0f}s more (after {waited:.0f}s) would pass "
                f"max_wait_seconds={self._max_wait:g} ({reason}); the next run resumes here", 429)
        self.waits[reason] += 1
        self.wait_seconds[reason] += seconds
        if reason != "error":
            self.rate_limit_waits += 1
            self.rate_limit_wait_seconds += seconds
        log.info("%s: waiting %.1fs (%s)", self.platform, seconds, reason)
        self._sleep(seconds)
        return seconds

    # ---- requests -------------------------------------------------------------------------------
    def get_json(self, url: str, params: Mapping[str, Any] | None = None) -> tuple[Any, httpx.Response]:
        return self.request_json("GET", url, params=params)

    def get_response(
        self, url: str, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """A GET whose body is not JSON (feeds, pages), with the same retries, waits and budget.

        Any status below 400 is returned as is (a 304 Not Modified included); the body is read whole.
        """
        _, response = self._request(_Call("GET", url, params, headers=headers, parse_json=False))
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
        for body in (json_body, form):
            if isinstance(body, Mapping):  # a login's password must never come back in a message
                for key, value in body.items():
                    if isinstance(value, str) and any(s in str(key).lower() for s in _SECRET_PARAMS):
                        register_secret(value)
        return self._request(_Call(method, url, params, json_body, form))

    def _request(self, call: _Call) -> tuple[Any, httpx.Response]:
        what = f"{call.method} {redact_url(call.url)}"
        waited = 0.0  # this request's waits, bounded by max_wait_seconds
        failures = 0  # errors in a row that are not rate limits, bounded by max_attempts
        while True:
            if self._max_requests is not None and self.requests >= self._max_requests:
                raise BudgetExhausted(f"{self.platform}: request budget of {self._max_requests} spent")
            seconds, reason = self.limiter.delay(self._clock())
            waited += self._wait(seconds, reason, what, waited)
            try:
                return self._attempt(call)
            except _RateLimited:
                continue  # the limiter knows why and how long; `waited` bounds it
            except _Retryable as exc:
                failures += 1
                if failures >= self._max_attempts:
                    raise HttpError(f"{what} failed after {self._max_attempts} attempts: {exc}") from None
                self.retries += 1
                pause = random.uniform(0, min(self._backoff_max, self._backoff * 2 ** failures))
                log.warning("%s: retrying in %.1fs after: %s", self.platform, pause, redact(str(exc)))
                waited += self._wait(pause, "error", what, waited)

    def _attempt(self, call: _Call) -> tuple[Any, httpx.Response]:
        self.requests += 1
        sent = self._clock()
        try:
            response = self._client.request(call.method, call.url, params=call.params, json=call.json_body,
                                            data=call.form, headers=call.headers)
            if not call.parse_json:
                response.read()
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from None
        received = self._clock()
        limiter = self.limiter
        limiter.skew.observe(response.headers.get("Date"), sent, received)
        server_now = limiter.server_now(received)
        limit = self._parse_rate_limit(response.headers, server_now)
        retry_after = parse_retry_after(response.headers.get("Retry-After"), server_now) \
            if response.status_code == 429 else None
        limiter.observe(sent, received, response.status_code, limit, retry_after)
        where = redact_url(response.request.url)
        if response.status_code == 429:
            self.responses_429 += 1
            log.warning("%s: 429 Too Many Requests from %s (%s)", self.platform, where,
                        "budget left" if limiter.budget_left() else "budget spent")
            raise _RateLimited()
        if response.status_code >= 500:
            raise _Retryable(f"{response.status_code} {response.reason_phrase} from {where}")
        if response.status_code >= 400:
            excerpt = body_excerpt(response)
            raise HttpError(
                f"{call.method} {where} answered {response.status_code} {response.reason_phrase}"
                + (f": {excerpt}" if excerpt else ""),
                response.status_code,
            )
        if not call.parse_json:
            return None, response
        try:
            return response.json(), response
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            # a body cut short by the server or the network: the next attempt usually gets it whole
            raise _Retryable(f"invalid or truncated JSON from {where}: {exc}") from None


@dataclass(frozen=True)
class _Call:
    """One logical request: what `_request` retries and each `_attempt` sends."""

    method: str
    url: str
    params: Mapping[str, Any] | None = None
    json_body: Any = None
    form: Mapping[str, str] | None = None
    headers: Mapping[str, str] | None = None
    parse_json: bool = True  # False: the body is read whole and returned as is (feeds, pages)


class _RateLimited(Exception):
    """A 429: the limiter has recorded it and says how long to wait."""


def _is_secret_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in ("authorization", "proxy-authorization", "cookie") or any(
        s in lowered for s in ("token", "secret", "api-key", "apikey", "password"))
