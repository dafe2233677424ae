"""The lake as other tools read it, with their defaults: pandas and polars on the Parquet folders.

Every layer folder (raw, quarantine, collection_runs, labels, label_draws, label_imports,
erasures) reads the same way: raw and quarantine are `<layer>/<platform>/<source>/<YYYY-MM-DD>/`,
plain folders, and a lake written before in hive folders (`platform=P/source=S/date=D/`) still
normalises to the same tables.

A normalised (and frozen) table is `<generation>/<table>/<platform>/data.parquet`: its files carry
the `platform` column, and the platform folder is a plain name, not a hive `platform=` partition,
so `pd.read_parquet(folder)` does not meet the column twice ("Field platform has incompatible
types: string vs dictionary", issue 11) and polars returns it once. What each reader gets is
checked against DuckDB's view of the same published generation, row for row.
"""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from dissentry import pipeline
from dissentry.cli import app
from dissentry.config import Config, load_config
from dissentry.health import raw_not_normalised
from dissentry.retention import expired_raw_files
from dissentry.warehouse.lake import Lake, batch_day
from tests.support.sample_project import built_sample_project, sample_project

TABLES = ("posts", "accounts", "post_links", "post_mentions", "post_hashtags")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return built_sample_project(tmp_path_factory.mktemp("lake_readers"), seed=11, scale=0.1)


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


# ---- every other layer a user may open: raw, quarantine, runs, labels, draws, imports, erasures ------
FORGOTTEN = "mastodon:@ugozeller@social.example"
FLAT_LAYERS = ("collection_runs", "labels", "label_draws", "label_imports", "erasures")


@pytest.fixture(scope="module")
def full_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake with a file in every layer: a run, a label draw, an import with one rejected row
    (quarantine/labels), and an erasure (erasures/)."""
    folder = tmp_path_factory.mktemp("lake_layers")
    config = sample_project(folder, seed=4, scale=0.2)
    assert pipeline.run(config).ok
    toml = str(folder / "dissentry.toml")
    runner = CliRunner()
    drawn = runner.invoke(app, ["--config", toml, "labels", "sample", "--per-group", "3", "--seed", "5",
                                "--out", str(folder / "coder.csv")])
    assert drawn.exit_code == 0, drawn.output
    with open(folder / "coder.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for i, row in enumerate(rows):
        row["label"] = "not-a-label" if i == 0 else "critical"
    with open(folder / "coder.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    imported = runner.invoke(app, ["--config", toml, "labels", "import", str(folder / "coder.csv")])
    assert imported.exit_code in (0, 1), imported.output
    forgot = runner.invoke(app, ["--config", toml, "forget", FORGOTTEN, "--yes"])
    assert forgot.exit_code == 0, forgot.output
    return config.warehouse_path


def _duckdb_layer(root: Path, layer: str) -> tuple[int, dict[str, int]]:
    """What DuckDB reads of a layer's files, as dissentry's readers do (no hive partitioning)."""
    lake = Lake(root)
    con = duckdb.connect()
    try:
        source = f"read_parquet('{lake.glob(layer)}', hive_partitioning = false, union_by_name = true)"
        total = con.execute(f"SELECT count(*) FROM {source}").fetchone()[0]
        columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
        by_platform = (dict(con.execute(f"SELECT platform, count(*) FROM {source} GROUP BY 1").fetchall())
                       if "platform" in columns else {})
    finally:
        con.close()
    return total, by_platform


def test_no_layer_folder_is_a_hive_partition(full_lake: Path) -> None:
    """Every folder of every Parquet layer is a plain name (the cursors' JSON keep theirs)."""
    hive = sorted(str(p.relative_to(full_lake)) for p in full_lake.rglob("*=*")
                  if p.relative_to(full_lake).parts[:2] != ("state", "cursors"))
    assert hive == []
    day = next((full_lake / "raw").rglob("*.parquet")).parent.name
    assert len(day) == 10 and day[4] == day[7] == "-"  # raw/<platform>/<source>/<YYYY-MM-DD>/


@pytest.mark.parametrize("layer", ("raw", "quarantine", *FLAT_LAYERS))
def test_pandas_reads_every_layer_folder(full_lake: Path, layer: str) -> None:
    total, by_platform = _duckdb_layer(full_lake, layer)
    assert total > 0
    frame = pd.read_parquet(full_lake / layer)
    assert len(frame) == total
    if by_platform:
        assert list(frame.columns).count("platform") == 1
        assert frame["platform"].value_counts().to_dict() == by_platform
    if layer == "quarantine":
        assert "labels" in by_platform  # the rejected label row


@pytest.mark.parametrize("layer", ("raw", "quarantine", *FLAT_LAYERS))
def test_polars_reads_every_layer_folder(full_lake: Path, layer: str) -> None:
    total, by_platform = _duckdb_layer(full_lake, layer)
    for frame in (pl.read_parquet(full_lake / layer), pl.scan_parquet(f"{full_lake / layer}/**/*.parquet").collect()):
        assert frame.height == total
        if by_platform:
            assert frame.columns.count("platform") == 1
            assert frame["platform"].dtype == pl.String
            assert dict(frame.group_by("platform").len().iter_rows()) == by_platform


def test_raw_and_quarantine_match_the_catalog_views(full_lake: Path) -> None:
    con = duckdb.connect(str(full_lake / "dissentry.duckdb"), read_only=True)
    try:
        views = {v: con.execute(f"SELECT count(*) FROM {v}").fetchone()[0] for v in ("raw_records", "quarantine")}
    finally:
        con.close()
    assert views["raw_records"] == len(pd.read_parquet(full_lake / "raw"))
    assert views["quarantine"] == pl.read_parquet(full_lake / "quarantine").height


# ---- a lake written before: raw and quarantine in hive folders (platform=P/source=S/date=D) ---------
def _to_hive_layout(root: Path, platform: str) -> int:
    """Move one platform's raw and quarantine files to the old paths, as an older version wrote them."""
    moved = 0
    for layer in ("raw", "quarantine"):
        for f in sorted((root / layer / platform).rglob("*.parquet")):
            source, day = f.parent.parent.name, f.parent.name
            old = root / layer / f"platform={platform}" / f"source={source}" / f"date={day}" / f.name
            old.parent.mkdir(parents=True, exist_ok=True)
            f.rename(old)
            moved += 1
        shutil.rmtree(root / layer / platform, ignore_errors=True)
    return moved


def _tables(root: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(root / "dissentry.duckdb"), read_only=True)
    try:
        return {t: con.execute(f"SELECT * EXCLUDE (run_id) FROM {t} ORDER BY ALL").fetchall()
                if "run_id" in [r[0] for r in con.execute(f"DESCRIBE {t}").fetchall()]
                else con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in (*TABLES, "raw_records", "quarantine", "dissent_frequency")}
    finally:
        con.close()


def test_a_lake_in_the_old_hive_layout_still_normalises_to_the_same_tables(tmp_path: Path) -> None:
    new = sample_project(tmp_path / "new", seed=11, scale=0.1)
    assert pipeline.run(new).ok
    # the same lake as an older version left it: mastodon's raw and quarantine in hive folders,
    # never normalised in this layout; then today's collection adds bluesky's in plain folders
    shutil.copytree(tmp_path / "new", tmp_path / "old", ignore=shutil.ignore_patterns(".locks"))
    old = load_config(tmp_path / "old" / "dissentry.toml")
    root = old.warehouse_path
    for name in ("normalised", "frozen", "marts", "dissentry.duckdb"):
        path = root / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    assert _to_hive_layout(root, "mastodon") > 0
    lake = Lake(root)
    assert lake.raw_files("mastodon") and all("/platform=mastodon/source=" in f for f in lake.raw_files("mastodon"))
    assert lake.raw_files("bluesky") and all("/raw/bluesky/" in f for f in lake.raw_files("bluesky"))
    pipeline.normalise(old)
    pipeline.transform(old)
    assert _tables(root) == _tables(new.warehouse_path)
    # health counts nothing pending, and retention reads the old day folders
    assert raw_not_normalised(lake) == (0, 0)
    assert expired_raw_files(lake, "mastodon", 1, today=date(2100, 1, 1)) == lake.raw_files("mastodon")


def test_partition_files_list_both_layouts(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    table = pa.table({"platform": ["mastodon"], "source": ["a b"]})
    new = lake.write_parquet(table, lake.raw_batch_path("mastodon", "a b", "2026-11-02", "r2", 0))
    old = f"{tmp_path}/raw/platform=mastodon/source=a%20b/date=2026-11-01/r1-00000.parquet"
    lake.write_parquet(table, old)
    other = lake.write_parquet(table, lake.raw_batch_path("mastodon", "c", "2026-11-02", "r2", 0))
    assert new == f"{tmp_path}/raw/mastodon/a%20b/2026-11-02/r2-00000.parquet"
    assert lake.raw_files("mastodon") == sorted([new, old, other])
    assert lake.partition_files("raw", "mastodon", "a b") == sorted([new, old])
    assert [batch_day(f) for f in (new, old)] == ["2026-11-02", "2026-11-01"]
    assert lake.raw_files("bluesky") == []
