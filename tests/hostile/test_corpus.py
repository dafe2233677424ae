"""Every case of the hostile corpus, imported through the pipeline and through the CLI.

A clean import of a bad file: good records beside the fault land in raw, the fault is quarantined
with a one-line reason naming the file (and the record where there is one), the run ends with a
status instead of an exception, and nothing is written outside the warehouse.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dissentry import pipeline
from dissentry.cli import app
from dissentry.config import Config, load_config
from tests.hostile.corpus import CASES, Case

runner = CliRunner()


def make_project(root: Path) -> Config:
    (root / "in").mkdir()
    (root / "dissentry.toml").write_text('warehouse_dir = "wh"\n', encoding="utf-8")
    return load_config(root / "dissentry.toml")


def quarantine(root: Path) -> list[dict]:
    return [row for f in sorted((root / "wh" / "quarantine").rglob("*.parquet")) for row in pq.read_table(f).to_pylist()]


def files_outside(root: Path, allowed: set[Path]) -> list[Path]:
    """Files the import wrote anywhere but the warehouse (the inputs themselves excepted)."""
    return [p for p in root.rglob("*") if p.is_file() and p not in allowed and (root / "wh") not in p.parents]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_case_is_quarantined_by_name_and_the_good_records_land(tmp_path: Path, case: Case) -> None:
    config = make_project(tmp_path)
    path = case.build(tmp_path / "in")
    inputs = {p for p in tmp_path.rglob("*") if p.is_file()}

    row = pipeline.import_export(config, case.platform, [path])

    assert row["records_seen"] == case.landed
    assert row["status"] in ("partial", "failed")
    rows = quarantine(tmp_path)
    assert len(rows) == case.quarantined == row["records_quarantined"]
    for q in rows:
        assert re.fullmatch(re.escape(str(path)) + case.locator, q["locator"]), q["locator"]
        assert case.reason in q["reason"], q["reason"]
        assert "\n" not in q["reason"]
    errors = json.loads(row["errors"])
    if not case.bad_locator and case.landed == 0:
        # the file as a whole is refused: the run's error says which and why
        assert len(errors) == 1 and str(path) in errors[0] and case.reason in errors[0]
    assert files_outside(tmp_path, inputs) == []

    counts = pipeline.normalise(config)
    assert counts["posts"] == case.landed


def run_row(output: str, source: str) -> list[str]:
    """The cells of the runs table row of `source` in the CLI's output."""
    (line,) = [line for line in output.splitlines() if f" {source} " in line and "│" in line]
    return [cell.strip() for cell in line.strip("│ ").split("│")]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_cli_reports_each_case_without_a_traceback(tmp_path: Path, case: Case) -> None:
    make_project(tmp_path)
    path = case.build(tmp_path / "in")

    result = runner.invoke(app, ["--config", str(tmp_path / "dissentry.toml"), "import", case.platform, str(path)])

    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    # every case is partial (something was quarantined or refused), and a partial source exits 1
    # (issue 11: the exit code says whether everything asked for happened); no case is a usage error
    assert result.exit_code == 1, result.output
    _source, platform, mode, status, _pages, records, _new, quarantined, _waits = run_row(
        result.output, f"import-{case.platform}")
    assert (platform, mode, status) == (case.platform, "import", "partial")
    assert (int(records), int(quarantined)) == (case.landed, case.quarantined)
    if not case.bad_locator and case.landed == 0:
        # a refused file: one line names it and says why (nothing wrapped or split it)
        assert any(str(path) in line and case.reason in line for line in result.output.splitlines()), result.output
