"""The warehouse from Python, for notebooks: `from dissentry import Warehouse`.

    wh = Warehouse("dissentry.toml")
    wh.sql("SELECT * FROM dissent_frequency WHERE period = 'all'").df()   # pandas
    wh.table("echo_chamber").pl()                                        # polars
    wh.tables()                                                          # what there is

Each call opens dissentry.duckdb read-only, runs the query, keeps the result (as Arrow) and closes
the file again, so a notebook left open never holds the warehouse: the pipeline publishes a new
file by rename whenever it likes, and the next call reads that one. The result comes back as a
DuckDB relation on a private in-memory database, so it can be queried further
(`.filter(...)`, `.aggregate(...)`, `.order(...)`) and turned into pandas (`.df()`, needs pandas),
polars (`.pl()`, needs polars), Arrow (`.arrow()`) or rows (`.fetchall()`). A result is a
snapshot: it never changes under you; run the call again for newer data.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb

from dissentry.config import Config, load_config
from dissentry.warehouse.sql import quote_identifier

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Warehouse:
    """A read-only view of one project's warehouse (the one its configuration names)."""

    def __init__(self, config: str | Path | Config = "dissentry.toml") -> None:
        self.config = config if isinstance(config, Config) else load_config(config)
        self._results = duckdb.connect(":memory:")  # holds the snapshots the calls return

    def __repr__(self) -> str:
        return f"Warehouse({str(self.config.config_path or self.config.warehouse_location)!r})"

    @property
    def path(self) -> Path:
        """The DuckDB file the calls read."""
        from dissentry.pipeline import lake_for

        return lake_for(self.config).duckdb_path

    def _read(self, query: str, params: list[Any] | dict[str, Any] | None) -> Any:
        from dissentry.pipeline import lake_for
        from dissentry.warehouse.catalog import connect

        lake = lake_for(self.config)
        db = lake.duckdb_path
        if not db.exists():
            raise FileNotFoundError(f"{db} does not exist yet: run `dissentry run` (or `dissentry transform`) first")
        con = connect(db, read_only=True, lake=lake)
        try:
            relation = con.sql(query, params=params)
            if relation is None:  # a statement, not a query: nothing to return (and read-only anyway)
                raise ValueError("not a query that returns rows (the warehouse is read-only here)")
            return relation.to_arrow_table()  # the rows, kept: the file is closed next
        finally:
            con.close()

    def sql(self, query: str, params: list[Any] | dict[str, Any] | None = None) -> duckdb.DuckDBPyRelation:
        """Run a read-only query on the warehouse; the result as a DuckDB relation (.df(), .pl())."""
        return self._results.from_arrow(self._read(query, params))

    def table(self, name: str) -> duckdb.DuckDBPyRelation:
        """A whole table or mart by name: `wh.table("dissent_frequency")`."""
        if not _IDENT.match(name):
            raise ValueError(f"not a table name: {name!r}")
        known = self.tables()
        if name not in known:
            raise KeyError(f"no table {name!r} in the warehouse; there are: {', '.join(known)}")
        return self.sql(f"SELECT * FROM {quote_identifier(name)}")

    def tables(self) -> list[str]:
        """Every table and view: marts, canonical tables, intermediate models, lake views."""
        rows = self._read("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                          "ORDER BY table_name", None)
        return [str(v) for v in rows.column(0).to_pylist()]

    def close(self) -> None:
        self._results.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
