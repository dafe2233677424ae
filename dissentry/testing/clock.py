"""An injected clock and sleep for HttpClient: a wait is recorded and moves the clock, nothing is slept.

`HttpClient(clock=fake.clock, sleep=fake.sleep)` then runs a rate-limited collection in
milliseconds, and the test reads what the client waited from `fake.sleeps`."""

from __future__ import annotations

FAKE_EPOCH = 1_800_000_000.0  # the clock the contract fakes' rate-limit resets are written against


class FakeTime:
    def __init__(self, start: float = FAKE_EPOCH) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
