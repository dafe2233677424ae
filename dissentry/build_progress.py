"""What normalise and transform are doing: platform, table, rows, elapsed.

The build code calls `report(...)` at each step (a platform's raw versions read, a mapping run, a
table written, a model built); whoever runs the build chooses where that goes with `reporting(cb)`.
Without a callback nothing happens, so library and test use stay silent. `log_lines()` is the
callback the pipeline uses: one line per step on the `dissentry.progress` logger, which the CLI
shows at INFO (a scheduler's log keeps them; on a TTY they show as they happen).

One DuckDB statement can run for minutes on a large lake (a platform's mapping, say), and no step
is reported meanwhile. With `heartbeat_seconds`, `reporting` says so: after that long without a
step, the callback gets the running step again (`running=True`), with the share of the statement
done when the build registered its connection with `watching(con)` (DuckDB's `query_progress`,
which may be read from another thread while the statement runs).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Step:
    stage: str  # "normalise" or "transform"
    platform: str | None
    table: str  # a table, a mapping step or a model
    rows: int | None  # None: the step is starting
    elapsed: float  # seconds since the stage started
    running: bool = False  # a heartbeat: the step is still going (no step reported for a while)
    statement_done: float | None = None  # with `running`: the share of its DuckDB statement done, 0..1

    def line(self) -> str:
        where = f"{self.platform} " if self.platform else ""
        if self.running:
            share = "" if self.statement_done is None else f", {self.statement_done:.0%} of its statement"
            what = f"still running{share}"
        else:
            what = "started" if self.rows is None else f"{self.rows:,} rows"
        return f"{self.stage}: {where}{self.table}: {what} ({self.elapsed:,.1f} s)"


Callback = Callable[[Step], None]


class _Reporter:
    """Where steps go, and the heartbeat that repeats the last one while nothing new is reported."""

    def __init__(self, callback: Callback, heartbeat_seconds: float | None) -> None:
        self.callback = callback
        self.started = time.monotonic()
        # no heartbeat at all for 0 (a caller that wants every step, and nothing between them)
        self.heartbeat_seconds = heartbeat_seconds if heartbeat_seconds and heartbeat_seconds > 0 else None
        self.last: Step | None = None
        self.last_at = self.started
        self.connection: Any = None  # a DuckDB connection whose running statement's share is read
        self.lock = threading.Lock()  # the callback is called by the build's thread or the heartbeat's
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def report(self, step: Step) -> None:
        with self.lock:
            self.last, self.last_at = step, time.monotonic()
            self.callback(step)

    def beat(self) -> None:
        assert self.heartbeat_seconds is not None
        while not self.stop.wait(self.heartbeat_seconds / 4):
            with self.lock:
                now = time.monotonic()
                if self.last is None or now - self.last_at < self.heartbeat_seconds:
                    continue
                self.last_at = now
                # after a finished step, what runs is the next one, which has not said its name
                table = self.last.table if self.last.rows is None else f"after {self.last.table}"
                beat = replace(self.last, table=table, rows=None, elapsed=now - self.started, running=True,
                               statement_done=_statement_done(self.connection))
                self.callback(beat)

    def __enter__(self) -> _Reporter:
        if self.heartbeat_seconds is not None:
            self.thread = threading.Thread(target=self.beat, name="dissentry-build-heartbeat", daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()


def _statement_done(connection: Any) -> float | None:
    if connection is None:
        return None
    try:
        share = float(connection.query_progress())  # -1: no statement, or DuckDB cannot tell
    except Exception:  # a closed connection, or one between statements: no share to tell
        return None
    return share / 100 if 0 <= share <= 100 else None


_ACTIVE: ContextVar[_Reporter | None] = ContextVar("dissentry_build_progress", default=None)


@contextlib.contextmanager
def reporting(callback: Callback | None, *, heartbeat_seconds: float | None = None) -> Iterator[None]:
    """Steps reported inside go to `callback` (elapsed counts from here); with `heartbeat_seconds`,
    the running step is repeated (`running=True`) whenever that long passes without a new one."""
    if callback is None:
        token = _ACTIVE.set(None)
        try:
            yield
        finally:
            _ACTIVE.reset(token)
        return
    with _Reporter(callback, heartbeat_seconds) as reporter:
        token = _ACTIVE.set(reporter)
        try:
            yield
        finally:
            _ACTIVE.reset(token)


@contextlib.contextmanager
def watching(connection: Any) -> Iterator[None]:
    """While inside, heartbeats tell how much of `connection`'s running statement is done."""
    reporter = _ACTIVE.get()
    if reporter is None:
        yield
        return
    if reporter.heartbeat_seconds is not None:
        # DuckDB tracks a statement's progress only with its progress bar on; it must not print
        connection.execute("SET enable_progress_bar = true; SET enable_progress_bar_print = false")
    previous, reporter.connection = reporter.connection, connection
    try:
        yield
    finally:
        reporter.connection = previous


def active() -> bool:
    """Whether anyone listens (so callers count rows only then)."""
    return _ACTIVE.get() is not None


def report(stage: str, platform: str | None, table: str, rows: int | None = None) -> None:
    reporter = _ACTIVE.get()
    if reporter is None:
        return
    reporter.report(Step(stage, platform, table, rows, time.monotonic() - reporter.started))


def log_lines(logger: logging.Logger | None = None, *, every_seconds: float = 10.0) -> Callback:
    """A callback writing steps as INFO lines, at most one per `every_seconds` (a step that itself
    took that long always gets its line), so a two-second build says nothing and an hour-long one
    says where it is; every step goes out at DEBUG."""
    target = logger or logging.getLogger("dissentry.progress")
    last_logged = -every_seconds  # the first step after `every_seconds` of silence is logged
    last_step = 0.0

    def emit(step: Step) -> None:
        nonlocal last_logged, last_step
        if step.running:  # a heartbeat comes only after `every_seconds` or more of silence: always said
            last_logged = step.elapsed
            target.info("%s", step.line())
            return
        slow_step = step.elapsed - last_step >= every_seconds
        last_step = step.elapsed
        if slow_step or step.elapsed - last_logged >= every_seconds:
            last_logged = step.elapsed
            target.info("%s", step.line())
        else:
            target.debug("%s", step.line())

    return emit
