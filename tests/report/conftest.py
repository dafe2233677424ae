"""Warehouses built once per test session by the real pipeline (tests/report/worlds.py), and
their reports. Building them costs a few pipeline runs, so every report test shares them."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from dissentry.config import Config
from dissentry.pipeline import lake_for
from dissentry.report_html import write_html
from tests.report import worlds


@dataclass
class Built:
    config: Config
    html: Path
    db: Path  # the warehouse the report was made from


def _built(config: Config) -> Built:
    return Built(config, write_html(config)[0], lake_for(config).duckdb_path)


@pytest.fixture(scope="session")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Built, Built]:
    """The sample before labels (unvalidated) and after the make-run validation workflow (corrected)."""
    folder = tmp_path_factory.mktemp("labelled")
    config = worlds.sample_world(folder, scale=0.5)
    before, _ = write_html(config)
    unlabelled = before.with_name("unlabelled.html")
    shutil.move(before, unlabelled)
    # the unlabelled warehouse is kept too: the corrected one replaces dissentry.duckdb
    unlabelled_db = folder / "unlabelled.duckdb"
    shutil.copy(lake_for(config).duckdb_path, unlabelled_db)
    landed = worlds.label_world(config, per_group=60)
    assert landed >= 150
    return Built(config, unlabelled, unlabelled_db), _built(config)


@pytest.fixture(scope="session")
def one_group(tmp_path_factory: pytest.TempPathFactory) -> Built:
    folder = tmp_path_factory.mktemp("one_group")
    return _built(worlds.sample_world(folder, groups=["vanguard"]))


@pytest.fixture(scope="session")
def one_period(tmp_path_factory: pytest.TempPathFactory) -> Built:
    folder = tmp_path_factory.mktemp("one_period")
    return _built(worlds.sample_world(folder, period="year"))


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """One group, one period, no network, no labels, hostile text."""
    return _built(worlds.tiny_world(tmp_path_factory.mktemp("tiny")))


@pytest.fixture(scope="session")
def tiny_pseudonymised(tmp_path_factory: pytest.TempPathFactory) -> Built:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DISSENTRY_PSEUDONYM_KEY", "report-test-key-0123456789")
        return _built(worlds.tiny_world(tmp_path_factory.mktemp("tiny_pseudo"), pseudonymise=True))


def expected_marks(db: Path) -> dict[str, int]:
    """How many data marks each figure must draw, worked out from the marts (not from the figure code)."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        def one(sql: str) -> int:
            row = con.execute(sql).fetchone()
            return int(row[0] or 0) if row else 0

        periods = one("SELECT count(DISTINCT period) FROM dissent_frequency WHERE period <> 'all'")
        metrics = ["own_source_share", "official_repost_share", "uncritical_share_rate", "in_group_share", "ei_index",
                   "identity_marker_share", "jargon_per_1k_tokens", "boilerplate_share"]
        evaluated = one("SELECT count(*) FROM stance_evaluation WHERE is_configured AND scope = 'all'")
        return {
            "answer_rates": one("SELECT count(*) FROM dissent_frequency WHERE period = 'all' AND org_reference_posts > 0"),
            "timeline": 0 if periods < 2 else one(
                "SELECT count(*) FROM dissent_frequency WHERE period <> 'all' AND org_reference_posts > 0"),
            "echo_profile": one("SELECT " + " + ".join(f"count({m})" for m in metrics)
                                + " FROM echo_chamber WHERE period = 'all'"),
            "network_mixing": one("SELECT groups * groups FROM network_mixing WHERE period = 'all' AND "
                                  "interaction_kind = 'all' AND edges > 0"),
            "network_graph": min(300, one("SELECT nodes FROM network_mixing WHERE period = 'all' "
                                          "AND interaction_kind = 'all'")),
            "network_stats": one("SELECT count(modularity) + count(assortativity) FROM network_mixing "
                                 "WHERE period = 'all' AND edges > 0"),
            "coverage": one("SELECT count(DISTINCT source) FROM posts"),
            "classifier_confusion": 9 if evaluated else 0,
        }
    finally:
        con.close()
