"""The reliability checks, published as `dissentry.testing.harness` (bench/faults.py uses them too);
re-exported here so the reliability tests import them as before."""

from dissentry.testing.harness import *  # noqa: F403
