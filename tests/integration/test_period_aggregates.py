"""The marts' whole-range rows come from period aggregates (transforms/intermediate/agg_*.sql):
counts are summed over the calendar periods and distinct things (people, texts, neighbours, the
network's directed pairs) are counted over the periods' distinct keys. So a whole-range row must
not depend on how the range is cut into periods: the same data cut by year, month, week or day
gives the same 'all' rows, every column, floats to the bit. A figure merged the wrong way (people
summed over days rather than counted once, a text's people counted within a day only, an
entropy over per-day shares) would move with the cut.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from dissentry import pipeline
from dissentry.config import Config
from tests.support.sample_project import built_sample_project

WHOLE_RANGE_TABLES = ("dissent_frequency", "echo_chamber", "network_mixing", "int_dissent_correction")


def _with_period(config: Config, unit: str) -> Config:
    return config.model_copy(update={"settings": config.settings.model_copy(update={"period": unit})})


def _whole_range(config: Config) -> tuple[dict[str, list[tuple[Any, ...]]], int]:
    """Each table's 'all' rows (without period_start), and how many calendar periods the build has."""
    con = duckdb.connect(str(config.warehouse_path / "dissentry.duckdb"), read_only=True)
    try:
        out = {}
        for table in WHOLE_RANGE_TABLES:
            columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
            keep = ", ".join(f'"{c}"' for c in columns if c != "period_start")
            out[table] = con.execute(f"SELECT {keep} FROM {table} WHERE period = 'all' ORDER BY ALL").fetchall()
        periods = con.execute("SELECT count(*) FROM int_periods WHERE period <> 'all'").fetchone()
        assert periods is not None
        return out, int(periods[0])
    finally:
        con.close()


def test_whole_range_rows_are_the_same_however_the_range_is_cut_into_periods(tmp_path: Path) -> None:
    config = built_sample_project(tmp_path, seed=41, scale=0.03)
    by_unit = {}
    for unit in ("year", "month", "week", "day"):
        pipeline.transform(_with_period(config, unit))
        by_unit[unit] = _whole_range(config)
    periods = {unit: n for unit, (_, n) in by_unit.items()}
    assert periods["year"] < periods["month"] < periods["week"] < periods["day"], periods
    reference, _ = by_unit["year"]
    # the sample has members, references, links, texts and ties: the rows say something
    echo = {row[0]: row for row in reference["echo_chamber"]}
    assert len(echo) >= 2 and all(row[2] > 0 for row in echo.values()), echo  # members_active
    assert len(reference["network_mixing"]) == 5
    for unit, (rows, _) in by_unit.items():
        for table in WHOLE_RANGE_TABLES:
            assert rows[table] == reference[table], (unit, table)
