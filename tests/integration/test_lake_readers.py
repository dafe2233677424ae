"""The lake as other tools read it, with their defaults: pandas and polars on the Parquet folders.

A normalised (and frozen) table is `<generation>/<table>/<platform>/data.parquet`: its files carry
the `platform` column, and the platform folder is a plain name, not a hive `platform=` partition,
so `pd.read_parquet(folder)` does not meet the column twice ("Field platform has incompatible
types: string vs dictionary", issue 11) and polars returns it once. What each reader gets is
checked against DuckDB's view of the same published generation, row for row.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pytest

from dissentry import pipeline
from dissentry.config import Config
from tests.support.sample_project import sample_project
from warehouse.lake import Lake

TABLES = ("posts", "accounts", "post_links", "post_mentions", "post_hashtags")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Config:
    config = sample_project(tmp_path_factory.mktemp("lake_readers"), seed=11, scale=0.1)
    assert pipeline.run(config).ok
    return config


def _generation_dir(config: Config) -> Path:
    lake = Lake(config.local_path)
    manifest = lake.normalised_manifest()
    assert manifest is not None
    return config.local_path / "normalised" / manifest["generation"]


def _duckdb_rows(config: Config, table: str) -> tuple[int, dict[str, int]]:
    con = duckdb.connect(str(config.local_path / "dissentry.duckdb"), read_only=True)
    try:
        total = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        by_platform = (dict(con.execute(f"SELECT platform, count(*) FROM {table} GROUP BY 1").fetchall())
                       if "platform" in columns else {})
    finally:
        con.close()
    return total, by_platform


def test_platform_folders_are_not_hive_partitions(project: Config) -> None:
    folders = sorted(p.name for p in (_generation_dir(project) / "posts").iterdir())
    assert folders == ["bluesky", "mastodon"]


@pytest.mark.parametrize("table", TABLES)
def test_pandas_reads_a_normalised_table_folder(project: Config, table: str) -> None:
    frame = pd.read_parquet(_generation_dir(project) / table)
    total, by_platform = _duckdb_rows(project, table)
    assert total > 0
    assert len(frame) == total
    if by_platform:
        assert list(frame.columns).count("platform") == 1
        assert frame["platform"].value_counts().to_dict() == by_platform
        assert frame["platform"].dtype == object or str(frame["platform"].dtype).startswith("str")


@pytest.mark.parametrize("table", TABLES)
def test_polars_reads_a_normalised_table_folder(project: Config, table: str) -> None:
    frame = pl.read_parquet(_generation_dir(project) / table)
    total, by_platform = _duckdb_rows(project, table)
    assert frame.height == total
    if by_platform:
        assert frame.columns.count("platform") == 1
        assert frame["platform"].dtype == pl.String
        assert dict(frame.group_by("platform").len().iter_rows()) == by_platform


def test_pandas_and_polars_read_the_marts(project: Config) -> None:
    mart = project.local_path / "marts" / "dissent_frequency.parquet"
    total, _ = _duckdb_rows(project, "dissent_frequency")
    assert len(pd.read_parquet(mart)) == total == pl.read_parquet(mart).height


def test_frozen_generations_use_the_same_plain_platform_folder(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    assert lake.frozen_path("posts", "mastodon", "g1") == f"{tmp_path}/frozen/g1/posts/mastodon/data.parquet"
    assert lake.normalised_path("posts", "my forum", "g1") == f"{tmp_path}/normalised/g1/posts/my%20forum/data.parquet"
