"""The stance classifier's judgements kept across builds (transforms/stance_cache.py, issue 12 §1).

One project goes through imports, edited posts, `forget`, a change of the classifier's settings
and a change of a group's names, with a transform after each. After every step a copy of the
warehouse without the judgements file is transformed from cold, and every mart must hold exactly
the same rows (EXCEPT ALL, both ways). The model's own count of what it classified must be what
was new: the references whose (group, text) no earlier build judged, nothing after a build with
nothing new, everything after the classifier's settings change, and the one group whose names
changed.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from dissentry import pipeline
from dissentry.config import Config, load_config
from dissentry.forget import forget_account
from dissentry.sample import FEEDS_FILE, STATUSES_FILE, generate_sample
from dissentry.transforms.runner import mart_names
from dissentry.transforms.stance_cache import CACHE_PARTS
from tests.integration.test_incremental import _edit_mastodon, _edited
from tests.support.sample_project import sample_project

LOGGER = "dissentry.transforms.reference_stance"
_CLASSIFIED = re.compile(r"reference_stance: classified (\d+) of (\d+) references")


def _cache_file(config: Config) -> Path:
    return config.warehouse_path.joinpath(*CACHE_PARTS)


def _transform(config: Config, caplog: pytest.LogCaptureFixture) -> tuple[int, int]:
    """Transform; return (classified, references) as the model logged them."""
    caplog.clear()
    pipeline.transform(config)
    found = [_CLASSIFIED.search(r.getMessage()) for r in caplog.records if r.name == LOGGER]
    counts = [(int(m.group(1)), int(m.group(2))) for m in found if m]
    assert len(counts) == 1, [r.getMessage() for r in caplog.records]
    return counts[0]


def _references(config: Config) -> set[tuple[str, str, str]]:
    """(post_id, group_id, text) of every reference in the serving file."""
    con = duckdb.connect(str(config.local_path / "dissentry.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT r.post_id, r.group_id, coalesce(p.text, '') FROM org_references r "
                           "JOIN stg_posts p USING (post_id)").fetchall()
    finally:
        con.close()
    return {(a, b, c) for a, b, c in rows}


def _assert_equals_cold(config: Config, project: Path, scratch: Path, step: str) -> None:
    """A copy of the warehouse without the judgements file, transformed: the same marts, row for row."""
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(project, scratch)
    cold = load_config(scratch / "dissentry.toml")
    _cache_file(cold).unlink()
    pipeline.transform(cold)
    assert _cache_file(cold).exists()
    con = duckdb.connect()
    try:
        for mart in mart_names():
            ours, theirs = (str(c.warehouse_path / "marts" / f"{mart}.parquet") for c in (config, cold))
            for a, b in ((ours, theirs), (theirs, ours)):
                extra = con.execute(f"SELECT count(*) FROM (SELECT * FROM read_parquet('{a}') EXCEPT ALL "
                                    f"SELECT * FROM read_parquet('{b}'))").fetchall()[0][0]
                assert extra == 0, (step, mart, a)
            assert pq.read_metadata(ours).num_rows == pq.read_metadata(theirs).num_rows, (step, mart)
    finally:
        con.close()


def _new_keys(before: set[tuple[str, str, str]], after: set[tuple[str, str, str]]) -> int:
    """References of `after` whose group and text no reference of `before` had."""
    judged = {(group, text) for _, group, text in before}
    return sum((group, text) not in judged for _, group, text in after)


def test_a_warm_build_classifies_only_what_is_new_and_equals_a_cold_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    project = tmp_path / "project"
    project.mkdir()
    config = sample_project(project, seed=31, scale=0.05)
    assert pipeline.run(config).ok
    scratch = tmp_path / "cold"
    assert _cache_file(config).exists()
    # the file holds keys and labels, never a word of a post
    texts = {text for _, _, text in _references(config) if text}
    assert texts and not texts & {str(v) for row in pq.read_table(_cache_file(config)).to_pylist()
                                  for v in row.values()}
    _assert_equals_cold(config, project, scratch, "first build")

    # nothing new: nothing classified
    classified, total = _transform(config, caplog)
    assert classified == 0 and total == len(_references(config)) > 0

    # more posts, and edited ones (same ids, new text): only those are classified
    before = _references(config)
    more = tmp_path / "more"
    generate_sample(more, seed=32, scale=0.02)
    pipeline.import_export(config, "mastodon", [more / STATUSES_FILE], "more-mastodon")
    pipeline.import_export(config, "bluesky", [more / FEEDS_FILE], "more-bluesky")
    sample = project / "data" / "sample"
    pipeline.import_export(config, "mastodon", [_edited(sample / STATUSES_FILE, tmp_path / "m.jsonl",
                                                        _edit_mastodon)], "sample-mastodon")
    pipeline.normalise(config)
    classified, total = _transform(config, caplog)
    after = _references(config)
    assert total == len(after)
    assert 0 < classified == _new_keys(before, after) < total
    _assert_equals_cold(config, project, scratch, "more and edited posts")

    # forget: the judgements kept afterwards are those of the references that remain, and no more
    forget_account(config, "mastodon:@ugozeller@social.example")
    con = duckdb.connect()
    try:
        kept = {k for (k,) in con.execute(f"SELECT DISTINCT text_key FROM read_parquet('{_cache_file(config)}')")
                .fetchall()}
        current = {k for (k,) in con.execute("SELECT DISTINCT sha256(t) FROM (SELECT unnest(?) AS t)",
                                             [[text for _, _, text in _references(config)]]).fetchall()}
    finally:
        con.close()
    assert kept == current
    _assert_equals_cold(config, project, scratch, "forget")

    # the classifier's settings change: every judgement is stale
    toml = project / "dissentry.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        "[[groups]]", "[settings.stance]\nnegative_threshold = -0.3\n\n[[groups]]", 1), encoding="utf-8")
    config = load_config(toml)
    classified, total = _transform(config, caplog)
    assert classified == total > 0
    _assert_equals_cold(config, project, scratch, "classifier settings")

    # one group's names change: its references (with the names they are read for) are new, no other
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        'aliases = ["Centre Party"]', 'aliases = ["Centre Party", "Centre"]', 1), encoding="utf-8")
    config = load_config(toml)
    classified, total = _transform(config, caplog)
    centre = sum(group == "centre_party" for _, group, _ in _references(config))
    assert 0 < classified == centre < total
    _assert_equals_cold(config, project, scratch, "group terms")
