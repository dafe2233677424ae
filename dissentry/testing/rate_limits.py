"""A loopback platform that enforces a real rate limit and tells the truth about it, or does not.

It serves the fault server's catalogue (Mastodon, Bluesky and reddit shapes) and counts requests in
fixed windows of `window_requests` per `window_seconds`, aligned to the clock as Mastodon's
rack-attack aligns them (or starting at the first request after the last window, with
`aligned=False`). A request over the limit is answered 429 with a JSON body and no Retry-After, as
Mastodon does. Each platform gets its own header family:
- Mastodon `X-RateLimit-Limit/-Remaining/-Reset` (ISO 8601),
- Bluesky `RateLimit-Limit/-Remaining/-Reset` (epoch seconds) and `RateLimit-Policy: L;w=W`,
- reddit `x-ratelimit-remaining/-used/-reset` (seconds until the reset).
The variants are what goes wrong in practice:
- `correct`: honest headers and `Date`;
- `reset_past_30`: the reset header 30 s earlier than the real reset (its clock is behind; the
  `Date` header, from a proxy, is right);
- `reset_missing`: no reset header (a proxy strips it);
- `storm`: every third request answered 429 while `Remaining` is still high (an overloaded
  instance; the rate limiter never counted those);
- `date_ahead_60` / `date_behind_60`: the server's clock 60 s ahead or behind: its `Date` and its
  reset are both in that clock.
The server shares the client's clock (real or injected), so windows are real time either way.
"""

from __future__ import annotations

import email.utils
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dissentry.testing.faults import Catalogue, FaultServer, _platform_of
from dissentry.testing.server import Reply, Request

VARIANTS = ("correct", "reset_past_30", "reset_missing", "storm", "date_ahead_60", "date_behind_60")
HONEST_LIMIT = ("correct", "reset_past_30", "reset_missing", "date_ahead_60", "date_behind_60")


@dataclass
class _Window:
    index: int
    start: float
    used: int = 0


class RateLimitServer(FaultServer):
    def __init__(self, cat: Catalogue, *, page_size: int, clock: Callable[[], float], variant: str,
                 window_requests: int = 30, window_seconds: float = 10.0, aligned: bool = True) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
        super().__init__(cat, page_size=page_size, clock=clock, window_requests=window_requests,
                         window_seconds=window_seconds)
        self.variant = variant
        self.aligned = aligned
        self.skew = {"date_ahead_60": 60.0, "date_behind_60": -60.0}.get(variant, 0.0)
        self.answered: Counter[str] = Counter()  # 2xx answers, by platform
        self.storm_429s: Counter[str] = Counter()
        self.successes_per_window: dict[str, Counter[int]] = {}
        self.windows_touched: dict[str, set[int]] = {}
        self._rl_windows: dict[str, _Window] = {}
        self._storm_count: Counter[str] = Counter()

    def __call__(self, request: Request) -> Reply:
        platform = _platform_of(request.path)
        with self._lock:
            now = self.clock()
            self.requests[platform] += 1
            window = self._window(platform, now)
            self.windows_touched.setdefault(platform, set()).add(window.index)
            storm = False
            if self.variant == "storm":
                self._storm_count[platform] += 1
                storm = self._storm_count[platform] % 3 == 0
            if not storm:
                window.used += 1
            over = window.used > self.window_requests
            remaining = max(0, self.window_requests - window.used)
            headers = self._headers(platform, remaining, window.start + self.window_seconds, now)
            if storm:
                self.storm_429s[platform] += 1
                return Reply(429, {"error": "Too many requests"}, headers=headers)
            if over:
                self.over_limit[platform] += 1
                return Reply(429, {"error": "Too many requests"}, headers=headers)
        reply = self._answer(request, platform, repeat=False)
        reply.headers = {**headers, **reply.headers}
        if reply.status < 400:
            with self._lock:
                self.answered[platform] += 1
                self.successes_per_window.setdefault(platform, Counter())[window.index] += 1
        return reply

    def _window(self, platform: str, now: float) -> _Window:
        current = self._rl_windows.get(platform)
        if self.aligned:
            index = math.floor(now / self.window_seconds)
            if current is None or current.index != index:
                current = self._rl_windows[platform] = _Window(index, index * self.window_seconds)
        elif current is None or now >= current.start + self.window_seconds:
            current = self._rl_windows[platform] = _Window((current.index + 1) if current else 0, now)
        return current

    def _headers(self, platform: str, remaining: int, reset_at: float, now: float) -> dict[str, str]:
        server_now = now + self.skew
        reported = reset_at + self.skew - (30.0 if self.variant == "reset_past_30" else 0.0)
        limit = self.window_requests
        headers = {"Date": email.utils.formatdate(server_now, usegmt=True)}
        if platform == "mastodon":
            headers |= {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
                        "X-RateLimit-Reset": _iso(reported)}
            reset_name = "X-RateLimit-Reset"
        elif platform == "bluesky":
            headers |= {"RateLimit-Limit": str(limit), "RateLimit-Remaining": str(remaining),
                        "RateLimit-Reset": str(math.ceil(reported)),
                        "RateLimit-Policy": f"{limit};w={self.window_seconds:g}"}
            reset_name = "RateLimit-Reset"
        else:
            headers |= {"x-ratelimit-remaining": f"{remaining:.1f}", "x-ratelimit-used": str(limit - remaining),
                        "x-ratelimit-reset": str(math.ceil(reported - server_now))}
            reset_name = "x-ratelimit-reset"
        if self.variant == "reset_missing":
            del headers[reset_name]
        return headers

    def figures(self, platform: str) -> dict[str, Any]:
        """What the server saw: requests, 429s, successes, and how full its windows were."""
        with self._lock:
            per_window = self.successes_per_window.get(platform, Counter())
            touched = self.windows_touched.get(platform, set())
            successes = self.answered[platform]
            return {
                "requests": self.requests[platform],
                "429s": self.over_limit[platform] + self.storm_429s[platform],
                "over_limit_429s": self.over_limit[platform],
                "storm_429s": self.storm_429s[platform],
                "successes": successes,
                "windows": len(touched),
                "max_per_window": max(per_window.values(), default=0),
                # successful requests per window over the allowed budget
                "efficiency": successes / (len(touched) * self.window_requests) if touched else 0.0,
            }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---- one collection against one variant -------------------------------------------------------------
SIZES: dict[str, dict[str, Any]] = {
    # the benchmark: 5 Mastodon accounts of 2,000 statuses
    "mastodon": {"mastodon": [2000] * 5, "bluesky": [], "reddit_users": [], "reddit_subs": []},
    "bluesky": {"mastodon": [], "bluesky": [1500] * 3, "reddit_users": [], "reddit_subs": []},
    "reddit": {"mastodon": [], "bluesky": [], "reddit_users": [(500, 500)], "reddit_subs": [900, 900]},
}
PAGE_SIZE = {"mastodon": 40, "bluesky": 100, "reddit": 100}  # each connector's documented page maximum


def minimal_requests(platform: str, sizes: dict[str, Any] | None = None) -> int:
    """The fewest requests a complete collection takes, by the platforms' paging rules (worked out
    from the sizes, not measured):
    - Mastodon: a lookup, then ceil(n/40) pages; a last page that is full and has no Link makes the
      connector ask once more below it (an empty answer ends the walk);
    - Bluesky: a profile, then ceil(n/100) pages (the last one has no cursor);
    - reddit: one token request, then ceil(n/100) pages per listing (the last one's `after` is null)."""
    sizes = sizes or SIZES[platform]
    if platform == "mastodon":
        return sum(1 + math.ceil(n / 40) + (n % 40 == 0) for n in sizes["mastodon"])
    if platform == "bluesky":
        return sum(1 + max(1, math.ceil(n / 100)) for n in sizes["bluesky"])
    listings = [n for pair in sizes["reddit_users"] for n in pair] + list(sizes["reddit_subs"])
    return 1 + sum(max(1, math.ceil(n / 100)) for n in listings)


def posts_in(sizes: dict[str, Any]) -> int:
    return sum(sizes["mastodon"]) + sum(sizes["bluesky"]) + sum(a + b for a, b in sizes["reddit_users"]) \
        + sum(sizes["reddit_subs"])
