"""The injected clock, published as `dissentry.testing.FakeTime` (dissentry/testing/clock.py); re-exported here."""

from dissentry.testing.clock import FAKE_EPOCH, FakeTime

__all__ = ["FAKE_EPOCH", "FakeTime"]
