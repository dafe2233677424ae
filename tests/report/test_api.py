"""`from dissentry import Warehouse`: read-only snapshots for notebooks, and the example notebook run."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest

from dissentry import Warehouse, pipeline
from tests.report.conftest import Built

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "docs" / "notebook.ipynb"


def _direct(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_sql_returns_a_relation_with_pandas_polars_and_arrow(tiny: Built) -> None:
    wh = Warehouse(tiny.config.config_path)
    query = "SELECT group_id, period, org_reference_posts, critical_posts FROM dissent_frequency ORDER BY period"
    expected = _direct(tiny.db, query)
    relation = wh.sql(query)
    assert isinstance(relation, duckdb.DuckDBPyRelation)
    assert relation.fetchall() == expected
    frame = relation.df()
    assert [tuple(r) for r in frame.itertuples(index=False)] == expected
    polars_frame = relation.pl()
    assert polars_frame.rows() == expected
    assert relation.to_arrow_table().num_rows == len(expected)
    # parameters are bound, never spliced into the text
    assert wh.sql("SELECT count(*) FROM dissent_frequency WHERE group_id = ?", ["solo"]).fetchall()[0][0] == len(expected)
    # a relation can be queried further without the warehouse file
    assert relation.filter("period = 'all'").aggregate("sum(org_reference_posts)").fetchall() == [(6,)]


def test_table_by_name_and_refuses_what_is_not_a_table(tiny: Built) -> None:
    wh = Warehouse(tiny.config.config_path)
    assert "dissent_frequency" in wh.tables() and "posts" in wh.tables()
    assert wh.table("echo_chamber").df().shape[0] == _direct(tiny.db, "SELECT count(*) FROM echo_chamber")[0][0]
    with pytest.raises(KeyError, match="no table 'nope'"):
        wh.table("nope")
    with pytest.raises(ValueError, match="not a table name"):
        wh.table("posts; DROP TABLE posts")
    with pytest.raises(duckdb.Error):  # read-only: a write is refused by DuckDB itself
        wh.sql("CREATE TABLE scratch AS SELECT 1")


def test_a_warehouse_open_in_a_notebook_never_blocks_the_pipeline(tiny: Built, tmp_path: Path) -> None:
    wh = Warehouse(tiny.config.config_path)
    held = wh.table("dissent_frequency")  # a result kept, as a notebook keeps it
    before = held.fetchall()
    results: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def keep_reading() -> None:
        try:
            while not done.is_set():
                results.append(wh.sql("SELECT count(*) FROM dissent_frequency").fetchall()[0][0])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    reader = threading.Thread(target=keep_reading)
    reader.start()
    try:
        tables = pipeline.transform(tiny.config)  # builds and swaps in a new dissentry.duckdb
        tables_again = pipeline.transform(tiny.config)
    finally:
        done.set()
        reader.join()
    assert errors == []
    assert tables["dissent_frequency"] == tables_again["dissent_frequency"] == len(before)
    assert results and set(results) == {len(before)}
    assert held.fetchall() == before  # the snapshot a notebook holds stays what it was


def test_the_example_notebook_runs(tiny: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("DISSENTRY_CONFIG", str(tiny.config.config_path))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # the venv's own python: jupyter_client runs a kernelspec's "python" as sys.executable
    client = NotebookClient(notebook, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "dissent_frequency" in text and "solo" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the chart was drawn
