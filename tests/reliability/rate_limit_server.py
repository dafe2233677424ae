"""The rate-limited fake platform, published as `dissentry.testing.rate_limits`; re-exported here."""

from dissentry.testing.rate_limits import *  # noqa: F403
