"""What normalise and transform are doing: platform, table, rows, elapsed.

The build code calls `report(...)` at each step (a platform's raw versions read, a mapping run, a
table written, a model built); whoever runs the build chooses where that goes with `reporting(cb)`.
Without a callback nothing happens, so library and test use stay silent. `log_lines()` is the
callback the pipeline uses: one line per step on the `dissentry.progress` logger, which the CLI
shows at INFO (a scheduler's log keeps them; on a TTY they show as they happen).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    stage: str  # "normalise" or "transform"
    platform: str | None
    table: str  # a table, a mapping step or a model
    rows: int | None  # None: the step is starting
    elapsed: float  # seconds since the stage started

    def line(self) -> str:
        where = f"{self.platform} " if self.platform else ""
        what = "started" if self.rows is None else f"{self.rows:,} rows"
        return f"{self.stage}: {where}{self.table}: {what} ({self.elapsed:,.1f} s)"


Callback = Callable[[Step], None]
_ACTIVE: ContextVar[tuple[Callback, float] | None] = ContextVar("dissentry_build_progress", default=None)


@contextlib.contextmanager
def reporting(callback: Callback | None) -> Iterator[None]:
    """Steps reported inside go to `callback` (elapsed counts from here)."""
    token = _ACTIVE.set((callback, time.monotonic()) if callback is not None else None)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def active() -> bool:
    """Whether anyone listens (so callers count rows only then)."""
    return _ACTIVE.get() is not None


def report(stage: str, platform: str | None, table: str, rows: int | None = None) -> None:
    active = _ACTIVE.get()
    if active is None:
        return
    callback, started = active
    callback(Step(stage, platform, table, rows, time.monotonic() - started))


def log_lines(logger: logging.Logger | None = None, *, every_seconds: float = 10.0) -> Callback:
    """A callback writing steps as INFO lines, at most one per `every_seconds` (a step that itself
    took that long always gets its line), so a two-second build says nothing and an hour-long one
    says where it is; every step goes out at DEBUG."""
    target = logger or logging.getLogger("dissentry.progress")
    last_logged = -every_seconds  # the first step after `every_seconds` of silence is logged
    last_step = 0.0

    def emit(step: Step) -> None:
        nonlocal last_logged, last_step
        slow_step = step.elapsed - last_step >= every_seconds
        last_step = step.elapsed
        if slow_step or step.elapsed - last_logged >= every_seconds:
            last_logged = step.elapsed
            target.info("%s", step.line())
        else:
            target.debug("%s", step.line())

    return emit
