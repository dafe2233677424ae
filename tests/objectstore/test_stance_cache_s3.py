"""The stance judgements kept across builds on an S3 lake: written to the bucket, read back from it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dissentry import pipeline
from dissentry.config import load_config
from dissentry.sample import generate_sample
from dissentry.transforms.stance_cache import CACHE_PARTS
from tests.integration.test_stance_cache import LOGGER, _transform
from tests.objectstore.test_s3_lake import write_config
from tests.support.s3_server import Bucket


def test_a_second_build_on_s3_classifies_nothing(
    s3_bucket: Bucket, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    generate_sample(tmp_path / "data" / "sample", seed=6, scale=0.05)
    config = load_config(write_config(tmp_path, s3_bucket.url("lake"), extra='local_dir = "serving"\n'))
    assert pipeline.run(config).ok
    assert "lake/" + "/".join(CACHE_PARTS) in s3_bucket.object_keys("lake")
    classified, total = _transform(config, caplog)
    assert classified == 0 and total > 0
