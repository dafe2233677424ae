"""The local S3 server (moto) for the object-storage tests, published as `dissentry.testing.s3` (so
bench/bench_pipeline.py --s3 needs nothing from tests/); re-exported here so the tests import it as before."""

from dissentry.testing.s3 import *  # noqa: F403
