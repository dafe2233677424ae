"""The model runner: discovery, dependency order, materialisation, data tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from dissentry.config import Config
from tests.transforms.builders import load_inputs
from transforms.runner import (
    MART_NAMES,
    DataTestError,
    ModelError,
    discover_models,
    execution_order,
    run_data_tests,
    run_models,
)
from warehouse import catalog


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def models(tmp_path: Path) -> Path:
    # Layers say nothing about order: 'early' (staging) reads 'base_numbers' (a mart).
    write(tmp_path, "marts/base_numbers.sql", "-- grain: n\n-- not_null: n\nSELECT unnest(range(1, 6)) AS n\n")
    write(tmp_path, "staging/early.sql", "-- range: n 1 5\nSELECT n FROM base_numbers WHERE n <= 3\n")
    # mentions 'early' only in a comment and 'base' only inside a longer name: no dependencies
    write(tmp_path, "intermediate/base.sql", "-- built before early? irrelevant\nSELECT 1 AS base_numbers_x\n")
    write(
        tmp_path,
        "marts/doubled.py",
        "# rows_match: early\n"
        "import pyarrow as pa\n\n"
        "def build(con, config):\n"
        "    values = [r[0] * 2 for r in con.execute('SELECT n FROM early ORDER BY n').fetchall()]\n"
        "    return pa.table({'n2': values})\n",
    )
    return tmp_path


def test_dependency_order(models: Path) -> None:
    order = [m.name for m in execution_order(discover_models(models))]
    assert order.index("base_numbers") < order.index("early") < order.index("doubled")
    assert sorted(order) == ["base", "base_numbers", "doubled", "early"]


def test_run_models_materialises_and_reports_progress(models: Path) -> None:
    con = catalog.connect()
    seen: list[tuple[str, int]] = []
    counts = run_models(con, Config(), on_model=lambda name, n: seen.append((name, n)), models_dir=models)
    assert counts == {"base": 1, "base_numbers": 5, "early": 3, "doubled": 3}
    assert [name for name, _ in seen] == list(counts)
    assert con.execute("SELECT list(n2 ORDER BY n2) FROM doubled").fetchall()[0][0] == [2, 4, 6]
    assert run_data_tests(con, models_dir=models) == []


def test_failing_data_tests_are_reported(tmp_path: Path) -> None:
    write(
        tmp_path,
        "marts/bad.sql",
        "-- grain: k\n-- not_null: v\n-- range: v 0 1\n-- accepted: kind post reply\n"
        "-- check: v <= 1\n-- rows_match: good\n"
        "SELECT * FROM (VALUES (1, 0.5, 'post'), (1, 2.0, 'boost'), (2, NULL, 'reply')) t(k, v, kind)\n",
    )
    write(tmp_path, "marts/good.sql", "-- grain: k\nSELECT 1 AS k\n")
    con = catalog.connect()
    with pytest.raises(DataTestError) as info:
        run_models(con, Config(), models_dir=tmp_path)
    failures = info.value.failures
    assert failures == [
        "bad: grain (k) failed: 1 duplicate keys",
        "bad: not_null v failed: 1 rows",
        "bad: range v in [0.0, 1.0] failed: 1 rows",
        "bad: accepted kind in {post, reply} failed: 1 rows",
        "bad: check v <= 1 failed: 1 rows",
        "bad: rows_match good failed: 2 rows differ",
    ]
    assert "6 data test(s) failed" in str(info.value)
    # check=False builds everything and leaves the verdict to run_data_tests
    counts = run_models(con, Config(), models_dir=tmp_path, check=False)
    assert counts == {"bad": 3, "good": 1}
    assert run_data_tests(con, models_dir=tmp_path) == failures


def test_a_missing_table_fails_its_tests(models: Path) -> None:
    failures = run_data_tests(catalog.connect(), models_dir=models)
    assert "base_numbers: table does not exist (has the model run?)" in failures


def test_cycles_and_bad_models_are_clear_errors(tmp_path: Path) -> None:
    write(tmp_path, "marts/a.sql", "SELECT * FROM b\n")
    write(tmp_path, "marts/b.sql", "SELECT * FROM a\n")
    with pytest.raises(ModelError, match="cycle"):
        run_models(catalog.connect(), Config(), models_dir=tmp_path)
    (tmp_path / "marts/b.sql").write_text("SELECT nope FROM nowhere\n")
    (tmp_path / "marts/a.sql").write_text("SELECT 1 AS x\n")
    with pytest.raises(ModelError, match=r"model b \(.*b\.sql\) failed"):
        run_models(catalog.connect(), Config(), models_dir=tmp_path)
    (tmp_path / "marts/b.sql").write_text("-- range: x low 1\nSELECT 1 AS x\n")
    with pytest.raises(ModelError, match="bad data test declaration"):
        discover_models(tmp_path)


def test_the_project_models_run_on_empty_inputs() -> None:
    """No posts at all: every model builds, every data test passes, every mart exists."""
    con = catalog.connect()
    load_inputs(con)
    cfg = Config.model_validate({"groups": [{"id": "g", "name": "G", "members": ["mastodon:a@s.example"]}]})
    counts = run_models(con, cfg)
    assert set(MART_NAMES) <= set(counts)
    assert counts["dissent_frequency"] == 1  # group g, period 'all', zeros
    assert counts["network_mixing"] == 5  # period 'all' x five interaction kinds
    names = [m.name for m in execution_order(discover_models())]
    assert names.index("org_references") < names.index("reference_stance") < names.index("dissent_frequency")
