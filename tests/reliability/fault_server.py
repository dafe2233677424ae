"""The fault-injecting fake platform, published as `dissentry.testing.faults` (so bench/faults.py
needs nothing from tests/); re-exported here so the reliability tests import it as before."""

from dissentry.testing.faults import *  # noqa: F403
from dissentry.testing.faults import _platform_of  # noqa: F401
