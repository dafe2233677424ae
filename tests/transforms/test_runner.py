"""The model runner: discovery, dependency order, materialisation, data tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dissentry.config import Config
from dissentry.transforms.runner import (
    MART_NAMES,
    TRANSFORMS_DIR,
    DataTestError,
    ModelError,
    dependencies,
    discover_models,
    execution_order,
    mart_names,
    run_data_tests,
    run_models,
)
from dissentry.warehouse import catalog
from tests.transforms.builders import load_inputs


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
        "DEPENDS_ON = ('early',)\n\n"
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


# ---- explicit dependencies (issue 14 §3) ---------------------------------------------------------------
def test_a_column_alias_cte_or_comment_named_like_a_model_is_no_dependency(tmp_path: Path) -> None:
    write(tmp_path, "marts/posts.sql", "SELECT 1 AS n\n")
    # a column, a string, a comment, a derived table's alias and a CTE all say 'posts'; none reads the model
    write(tmp_path, "staging/counts.sql",
          "-- reads posts? no\nWITH posts AS (SELECT 2 AS n) SELECT n AS posts, 'posts' AS label FROM posts\n")
    write(tmp_path, "staging/aliased.sql", "SELECT posts.n FROM (SELECT 3 AS n) AS posts\n")
    write(tmp_path, "staging/reader.sql", "SELECT p.n FROM main.posts AS p JOIN (SELECT 1 AS n) USING (n)\n")
    models = discover_models(tmp_path)
    assert dependencies(models) == {"posts": set(), "counts": set(), "aliased": set(), "reader": {"posts"}}
    order = [m.name for m in execution_order(models)]
    assert order.index("posts") < order.index("reader") and order.index("counts") < order.index("posts")
    counts = run_models(catalog.connect(), Config(), models_dir=tmp_path)
    assert counts == {"aliased": 1, "counts": 1, "posts": 1, "reader": 1}


def test_a_python_model_declares_what_it_reads(tmp_path: Path) -> None:
    write(tmp_path, "marts/numbers.sql", "SELECT unnest(range(3)) AS n\n")
    write(tmp_path, "staging/total.py",
          "import pyarrow as pa\n\nDEPENDS_ON = ('numbers', 'cfg_groups')\n\n"
          "def build(con, config):\n    return con.sql('SELECT sum(n) AS total FROM numbers').to_arrow_reader()\n")
    models = discover_models(tmp_path)
    assert {m.name: m.reads for m in models}["total"] == {"numbers", "cfg_groups"}
    assert dependencies(models)["total"] == {"numbers"}  # a cfg_ table is an input, not a model
    con = catalog.connect()
    assert run_models(con, Config(), models_dir=tmp_path) == {"numbers": 3, "total": 1}
    assert con.execute("SELECT total FROM total").fetchall() == [(3,)]

    (tmp_path / "staging/total.py").write_text("def build(con, config):\n    return None\n", encoding="utf-8")
    with pytest.raises(ModelError, match=r"total\.py: a Python model must declare DEPENDS_ON"):
        discover_models(tmp_path)
    (tmp_path / "staging/total.py").write_text("DEPENDS_ON = ['num' + 'bers']\n", encoding="utf-8")
    with pytest.raises(ModelError, match="DEPENDS_ON must be a literal tuple"):
        discover_models(tmp_path)


@pytest.mark.parametrize("kind", ["sql", "python"])
def test_a_missing_input_stops_the_build_before_any_model_naming_the_model(tmp_path: Path, kind: str) -> None:
    write(tmp_path, "staging/fine.sql", "SELECT 1 AS x\n")
    if kind == "sql":
        write(tmp_path, "marts/needy.sql", "SELECT * FROM fine JOIN nowhere USING (x)\n")
    else:
        write(tmp_path, "marts/needy.py", "DEPENDS_ON = ('fine', 'nowhere')\n\ndef build(con, config):\n    raise AssertionError\n")
    con = catalog.connect()
    with pytest.raises(ModelError, match=r"model needy \(.*needy\.(sql|py)\) failed: it reads 'nowhere', which is "
                                         "neither a model nor a table or view in the database"):
        run_models(con, Config(), models_dir=tmp_path)
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'fine'").fetchall() == [(0,)]
    con.execute("CREATE TABLE nowhere AS SELECT 1 AS x")  # an input that exists (a lake view, say) is fine
    if kind == "sql":
        assert run_models(con, Config(), models_dir=tmp_path) == {"fine": 1, "needy": 1}


def test_a_sql_model_that_does_not_parse_is_named(tmp_path: Path) -> None:
    write(tmp_path, "marts/broken.sql", "SELECT FROM WHERE\n")
    with pytest.raises(ModelError, match=r"model broken \(.*broken\.sql\) failed: its SELECT does not parse"):
        discover_models(tmp_path)
    (tmp_path / "marts/broken.sql").write_text("SELECT 1; SELECT 2\n", encoding="utf-8")
    with pytest.raises(ModelError, match="a single SELECT, found 2 statements"):
        discover_models(tmp_path)


def test_every_project_model_reads_only_models_and_the_warehouse_inputs() -> None:
    """What the parser and DEPENDS_ON find in the project: models, the lake's views, the cfg_ tables."""
    from dissentry.transforms.config_tables import CFG_SCHEMAS
    from dissentry.warehouse.catalog import LAKE_VIEWS

    models = discover_models()
    names = {m.name for m in models}
    for model in models:
        assert model.reads <= names | set(LAKE_VIEWS) | set(CFG_SCHEMAS), model.name
    reads = {m.name: m.reads for m in models}
    assert reads["reference_stance"] == {"org_references", "stg_posts", "int_stance_labels", "cfg_group_terms"}
    assert reads["stg_posts"] == {"posts", "cfg_settings"}


# ---- the marts are the marts/ folder ---------------------------------------------------------------------
def test_the_marts_are_the_files_of_the_marts_folder(tmp_path: Path) -> None:
    assert set(MART_NAMES) == {p.stem for p in (TRANSFORMS_DIR / "marts").glob("*.*")
                               if p.suffix in (".sql", ".py") and not p.name.startswith("_")}
    assert {"group_members", "reference_stance", "network_mixing"} <= set(MART_NAMES)
    write(tmp_path, "marts/new_mart.sql", "SELECT 1 AS x\n")
    write(tmp_path, "marts/_helper.py", "")
    write(tmp_path, "intermediate/not_a_mart.sql", "SELECT 1 AS x\n")
    assert mart_names(tmp_path) == ("new_mart",)


# ---- Python models stream ---------------------------------------------------------------------------------
STREAMING_MODEL = """
import pyarrow as pa

DEPENDS_ON = ()
SCHEMA = pa.schema([("i", pa.int64())])
BATCHES, ROWS = 20, 100_000
held = []  # pyarrow's allocated bytes each time a batch is handed over


def _batches():
    for b in range(BATCHES):
        held.append(pa.total_allocated_bytes())
        if b == FAIL_AT:
            raise ValueError(f"batch {b} refused")
        yield pa.record_batch([pa.array(range(b * ROWS, (b + 1) * ROWS), pa.int64())], schema=SCHEMA)


def build(con, config):
    return pa.RecordBatchReader.from_batches(SCHEMA, _batches())
"""


def test_a_python_model_is_streamed_into_duckdb_never_collected(tmp_path: Path) -> None:
    write(tmp_path, "marts/streamed.py", STREAMING_MODEL.replace("FAIL_AT", "-1"))
    con = catalog.connect()
    assert run_models(con, Config(), models_dir=tmp_path) == {"streamed": 2_000_000}
    assert con.execute("SELECT sum(i) FROM streamed").fetchall() == [(sum(range(2_000_000)),)]
    held = sys.modules["transforms_model_streamed"].held
    batch = 100_000 * 8
    # collected whole, the 20th batch would be made with 19 still held (15 MB); streamed, a few at most
    assert len(held) == 20 and max(held) - held[0] < 6 * batch, [h // batch for h in held]


def test_a_streaming_model_that_fails_mid_way_says_why(tmp_path: Path) -> None:
    write(tmp_path, "marts/streamed.py", STREAMING_MODEL.replace("FAIL_AT", "3"))
    with pytest.raises(ModelError, match=r"^model streamed: batch 3 refused$"):
        run_models(catalog.connect(), Config(), models_dir=tmp_path)


def test_a_python_model_reads_through_its_own_connection_while_duckdb_writes(tmp_path: Path) -> None:
    """The reader a model returns is pulled by the CREATE TABLE that consumes it: the model's
    queries run on a cursor, with the build connection's time zone."""
    write(tmp_path, "staging/zone.sql", "SELECT TIMESTAMPTZ '2026-01-01 23:30:00+00' AS ts\n")
    write(tmp_path, "marts/days.py",
          "DEPENDS_ON = ('zone',)\n\ndef build(con, config):\n"
          "    return con.sql(\"SELECT strftime(ts, '%Y-%m-%d %H') AS day FROM zone\").to_arrow_reader(1)\n")
    con = catalog.connect()
    con.execute("SET TimeZone = 'Asia/Tokyo'")
    run_models(con, Config(), models_dir=tmp_path)
    assert con.execute("SELECT day FROM days").fetchall() == [("2026-01-02 08",)]
