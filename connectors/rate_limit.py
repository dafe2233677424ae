"""What the HTTP client knows about a platform's rate-limit window, and how long to wait before a request.

Built by hand rather than on a limiter library (pyrate-limiter, limits): those keep a bucket of
their own, but here the server's headers are the budget whenever it sends them. The bucket must be
set to the server's `Remaining`, learn when the server's window really ends from how the server
answers, measure the server's clock, and say *why* it waits (every wait is counted by reason in
`collection_runs`); only without any header does it pace itself from a local log of requests.

The model: the server counts requests in windows. A response says how many are left (`remaining`)
and, usually, when the window resets (`reset_at`, in the server's clock). Two things can be wrong:
- the clocks: the server's `Date` header measures the offset (an interval, since `Date` has 1 s
  resolution; intersected over responses);
- the reset header itself (stale, from another clock, missing). The true end of a window is
  modelled as `anchor + delta`, the anchor being the reported reset (or, without one, the moment
  the window was first seen), and `delta` is bounded from what the server does: a response inside a
  window proves it had not ended when the request was sent (`delta > sent - anchor`), the first
  response of the next window proves it had ended by then (`delta <= received - anchor`). A reset
  header is trusted (`delta <= 0`) until the server contradicts it.
When the budget is low the client waits until the window's latest possible end (plus a margin);
with no upper bound it probes: each probe twice as far past the last, so a reset in the past or
absent never becomes a fast retry loop. A spare request (`min_remaining`) finds out cheaply where
in a learned interval the end lies, with no 429 if it is early.
"""

from __future__ import annotations

import email.utils
from collections import deque
from dataclasses import dataclass
from datetime import UTC

MARGIN = 0.5  # after the window's end, before the first request of the next (resets have 1 s resolution)
MIN_STEP = 0.5  # the first probe after a window's earliest possible end; each further probe doubles it
PROBE_TOLERANCE = 0.5  # a learned window end known to within this needs no probe
NEW_WINDOW_SLACK = 1.5  # a reset that moved later by more than this (not jitter of a relative reset) is a new window
MAX_CREDIBLE_SKEW = 3600.0  # a Date further off than this is a cached or broken header, not a clock


@dataclass(frozen=True)
class RateLimit:
    """What the platform's headers say: requests left in this window and when it resets (epoch s,
    server clock); optionally the window's size in requests and its length in seconds."""

    remaining: float | None
    reset_at: float | None
    limit: float | None = None
    window: float | None = None


@dataclass(frozen=True)
class Documented:
    """The platform's documented limit: `limit` requests per `window` seconds."""

    limit: float
    window: float


class ClockSkew:
    """The server's clock minus ours, as the interval [lo, hi] that every `Date` seen allows."""

    def __init__(self) -> None:
        self.lo: float | None = None
        self.hi: float | None = None

    def observe(self, date_header: str | None, sent: float, received: float) -> None:
        server = parse_http_date(date_header)
        if server is None:
            return
        # Date is the server's time truncated to the second, stamped between our send and receive
        lo, hi = server - received, server + 1.0 - sent
        if min(abs(lo), abs(hi)) > MAX_CREDIBLE_SKEW:
            return
        if self.lo is None or self.hi is None or lo > self.hi or hi < self.lo:
            self.lo, self.hi = lo, hi  # the first Date, or a clock was stepped: start again
        else:
            self.lo, self.hi = max(self.lo, lo), min(self.hi, hi)

    @property
    def offset(self) -> float:
        """0 when the clocks agree within Date's resolution; else the lower bound, so that a wait for
        a reset in the server's clock ends late rather than early."""
        if self.lo is None or self.hi is None or self.lo <= 0.0 <= self.hi:
            return 0.0
        return self.lo


def parse_http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC with no claim about the zone
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


class Bounds:
    """lo < x <= hi, either side possibly unknown; the newer evidence wins when two conflict."""

    def __init__(self, lo: float | None = None, hi: float | None = None, *, trusted: bool = False) -> None:
        self.lo = lo
        self.hi = hi
        self.trusted = trusted  # hi is a prior (a header taken at its word), not something seen

    def above(self, x: float) -> None:
        if self.lo is None or x > self.lo:
            self.lo = x
            if self.hi is not None and self.lo >= self.hi:
                self.hi = None  # contradicted: find the end again
                self.trusted = False

    def at_most(self, x: float) -> None:
        if self.lo is not None and x <= self.lo:
            self.lo = None  # an older lower bound, from a window that ended later relative to its anchor
        if self.hi is None or x < self.hi:
            self.hi = x
            self.trusted = False


class RateLimiter:
    """One client's view of one platform's budget. Times are the local clock's unless named server."""

    def __init__(self, *, min_remaining: float = 1, documented: Documented | None = None,
                 max_step: float = 60.0) -> None:
        self.min_remaining = min_remaining
        self.documented = documented
        self.max_step = max_step
        self.skew = ClockSkew()
        self.limit: float | None = None
        self.policy_window: float | None = None
        self.min_spacing: float | None = None  # the shortest gap seen between two windows' resets
        self.remaining: float | None = None
        self.reset_at: float | None = None  # local clock
        self.window_start: float | None = None  # when this window was first seen
        self.reset_delta = Bounds(hi=0.0, trusted=True)  # window end - reported reset
        self.start_delta = Bounds(lo=0.0)  # window end - window_start
        self.windows = 0
        self.probes = 0  # probes sent into this window after its earliest possible end
        self.spare_probed = False
        self.sends: deque[float] = deque(maxlen=100_000)  # request times, for pacing without headers
        self.hold_until = 0.0
        self.hold_reason = ""
        self.hold_only = False  # a Retry-After: the server said exactly when; no window wait on top
        self.consecutive_429 = 0

    # ---- what the server said -------------------------------------------------------------------
    def server_now(self, local: float) -> float:
        return local + self.skew.offset

    def observe(self, sent: float, received: float, status: int, limit: RateLimit,
                retry_after: float | None) -> None:
        """Learn from one response (`limit` parsed with the server-clock `now`, see `server_now`)."""
        self.sends.append(sent)
        self.hold_only = False
        if limit.limit is not None:
            self.limit = limit.limit
        if limit.window is not None:
            self.policy_window = limit.window
        has_headers = limit.remaining is not None or limit.reset_at is not None
        if has_headers:
            self._observe_window(sent, received, status, limit)
        elif status < 400 and self.remaining is not None:
            self.remaining = None  # an answer without headers after a wait: the window we knew is gone
        if status == 429:
            self.consecutive_429 += 1
            if retry_after is not None:
                self._hold(received + max(retry_after, MIN_STEP), "retry_after")
                self.hold_only = True
            elif self.budget_left():
                # the budget is known to be left: an overloaded server, not the limit. Back off a little
                self._hold(received + min(self.max_step, MIN_STEP * 2 ** (self.consecutive_429 - 1)), "transient_429")
            elif self.remaining is None:
                # nothing says when the limit lifts: back off, longer each time
                self._hold(received + min(self.max_step, 1.0 * 2 ** (self.consecutive_429 - 1)), "backoff_429")
            # else: the budget is spent; `delay` waits for the window's end as for a low budget
        elif status < 400:
            self.consecutive_429 = 0

    def _hold(self, until: float, reason: str) -> None:
        self.hold_until, self.hold_reason = until, reason

    def _observe_window(self, sent: float, received: float, status: int, limit: RateLimit) -> None:
        reset_local = limit.reset_at - self.skew.offset if limit.reset_at is not None else None
        # a new window: more requests left than before (a 429 too: an overloaded server's 429 may
        # be the first answer of the next window), or, for a success, a reset that moved on
        # (after answers without headers the window is lost: the next one with headers starts one afresh)
        lost = self.window_start is not None and self.remaining is None
        new = self.window_start is None or lost or (self.remaining is not None and (
            (limit.remaining is not None and limit.remaining > self.remaining)
            or (status != 429 and reset_local is not None and self.reset_at is not None
                and reset_local - self.reset_at > NEW_WINDOW_SLACK
                and (limit.remaining is None or limit.remaining >= self.remaining))))
        if new:
            if self.window_start is not None and not lost:  # the window before had ended by `received`
                self.start_delta.at_most(received - self.window_start)
                if self.reset_at is not None:
                    self.reset_delta.at_most(received - self.reset_at)
                    if reset_local is not None and reset_local - self.reset_at >= 1.0:
                        spacing = reset_local - self.reset_at
                        self.min_spacing = spacing if self.min_spacing is None else min(self.min_spacing, spacing)
            self.windows += 1
            self.window_start = received
            self.probes = 0
            self.spare_probed = False
        if reset_local is not None:  # the server's latest word, a 429's included
            self.reset_at = reset_local
        if limit.remaining is not None:
            self.remaining = limit.remaining
        elif status == 429:
            self.remaining = 0.0
        # the request was counted in this window, so the window had not ended when it was sent
        if self.reset_at is not None:
            self.reset_delta.above(sent - self.reset_at)
        if self.window_start is not None:
            self.start_delta.above(sent - self.window_start)

    def budget_left(self) -> bool:
        return self.remaining is not None and self.remaining > self.min_remaining

    # ---- what it means for the next request -------------------------------------------------------
    def window_hint(self) -> float | None:
        """The window's length: the server's policy, else the shortest gap between resets, else the
        documented window, if the server's limit is the documented one (or unknown)."""
        if self.policy_window:
            return self.policy_window
        if self.min_spacing:
            return self.min_spacing
        doc = self.documented
        if doc and (self.limit is None or self.limit == doc.limit):
            return doc.window
        return None

    def delay(self, now: float) -> tuple[float, str]:
        """Seconds to wait before the next request, and why ("" when none)."""
        if self.hold_only:
            return max(0.0, self.hold_until - now), self.hold_reason
        waits: list[tuple[float, str]] = [(self.hold_until - now, self.hold_reason)]
        if self.remaining is not None:
            if self.remaining <= self.min_remaining:
                target, reason = self._window_end(now)
                waits.append((target - now, reason))
        else:
            waits.append(self._pacing(now))
        seconds, reason = max(waits)
        return (seconds, reason) if seconds > 0 else (0.0, "")

    def _window_end(self, now: float) -> tuple[float, str]:
        """When to send into a spent window: its latest possible end, or a probe."""
        certain: list[tuple[float, bool]] = []  # (a time the window has surely ended by, learned from answers)
        earliest: list[float] = []
        hint = self.window_hint()
        if self.reset_at is not None:
            b = self.reset_delta
            if b.hi is not None:
                certain.append((self.reset_at + b.hi, not b.trusted))
            if b.lo is not None:
                earliest.append(self.reset_at + b.lo)
        if self.window_start is not None:
            b = self.start_delta
            if b.hi is not None and self.reset_at is None:  # no reset header: from when the window was first seen
                certain.append((self.window_start + b.hi, True))
            if b.lo is not None:
                earliest.append(self.window_start + b.lo)
            if hint is not None:
                # a window is no longer than its length: caps a reset header far in the future
                certain.append((self.window_start + hint, False))
        low = max(earliest) if earliest else now
        # an end the server has shown to be too early is no bound: every answer in this window moved
        # `low` to its sending time, so each attempt below is later than the last (no fast loop)
        certain = [c for c in certain if c[0] > low]
        if certain:
            end, learned = min(certain)
            if learned and end - low > PROBE_TOLERANCE and self.remaining is not None \
                    and self.remaining >= 1 and not self.spare_probed:
                self.spare_probed = True  # early, it is counted in the old window: no 429
                return (low + end) / 2, "window_probe"
            return end + MARGIN, "window"
        # nothing bounds the end: probe, each time twice as far past the earliest possible end (at
        # least MIN_STEP after the last request, whose answer moved `low` to its sending time)
        step = min(self.max_step, MIN_STEP * 2 ** self.probes)
        self.probes += 1
        return low + step, "probe"

    def _pacing(self, now: float) -> tuple[float, str]:
        """Without headers: at most `limit - min_remaining` requests in any `window` seconds."""
        window = self.window_hint()
        limit = self.limit or (self.documented.limit if self.documented else None)
        if not window or not limit:
            return 0.0, ""
        while self.sends and self.sends[0] <= now - window:
            self.sends.popleft()
        allowed = max(1, int(limit - self.min_remaining))
        if len(self.sends) < allowed:
            return 0.0, ""
        return self.sends[len(self.sends) - allowed] + window + MARGIN - now, "pacing"
