"""warehouse.sql: a value or a name with quotes in it reaches DuckDB as itself, never as SQL."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from dissentry.warehouse.sql import literal_list, quote_identifier, quote_literal

AWKWARD = ["plain", "it's", "''", "a\"b", "'); DROP TABLE t; --", "ünïcödé", ""]


def test_a_literal_is_read_back_as_the_same_text() -> None:
    con = duckdb.connect()
    for value in AWKWARD:
        assert con.execute(f"SELECT {quote_literal(value)}").fetchone() == (value,)
    assert con.execute(f"SELECT {literal_list(AWKWARD)}").fetchone() == (AWKWARD,)


def test_an_identifier_names_the_column_it_was_given() -> None:
    con = duckdb.connect()
    for name in [n for n in AWKWARD if n]:
        con.execute(f"CREATE OR REPLACE VIEW {quote_identifier(name)} AS SELECT 1 AS {quote_identifier(name)}")
        cursor = con.execute(f"SELECT * FROM {quote_identifier(name)}")
        assert [d[0] for d in cursor.description] == [name]
        assert cursor.fetchall() == [(1,)]


def test_files_with_quotes_in_their_names_are_read(tmp_path: Path) -> None:
    files = [tmp_path / "it's.parquet", tmp_path / 'say "hi".parquet']
    for n, path in enumerate(files):
        pq.write_table(pa.table({"n": [n]}), path)
    con = duckdb.connect()
    rows = con.execute(f"SELECT n FROM read_parquet({literal_list(files)}) ORDER BY n").fetchall()
    assert rows == [(0,), (1,)]
    assert con.execute(f"SELECT n FROM read_parquet({quote_literal(files[0])})").fetchall() == [(0,)]
