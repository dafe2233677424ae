"""The DuckDB side of the warehouse: connections and views over the lake.

The Parquet lake is the source of truth; `dissentry.duckdb` is a serving layer rebuilt from it.
DuckDB allows one read-write process per file, so only the transform step opens it for writing;
everything else reads the lake through an in-memory connection, or opens the file read-only.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from warehouse import schema
from warehouse.lake import Lake

LAKE_VIEWS: dict[str, tuple[str, str | None, pa.Schema]] = {
    # view name: (layer, table inside the layer, schema used when the layer has no file yet)
    "raw_records": ("raw", None, schema.RAW),
    "quarantine": ("quarantine", None, schema.QUARANTINE),
    "collection_runs": ("collection_runs", None, schema.COLLECTION_RUNS),
    "erasures": ("erasures", None, schema.ERASURES),
    **{name: ("normalised", name, table_schema) for name, table_schema in schema.NORMALISED.items()},
}


def connect(
    path: Path | str = ":memory:", *, read_only: bool = False, lake: Lake | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that never downloads anything and computes in UTC; with `lake`, one that
    can read the lake's files wherever they are (views in dissentry.duckdb name them)."""
    config = {"autoinstall_known_extensions": "false", "autoload_known_extensions": "true"}
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only, config=config)
    con.execute("SET TimeZone = 'UTC'")
    if lake is not None:
        lake.attach(con)
    return con


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def empty_relation_sql(table_schema: pa.Schema) -> str:
    """A typed, empty SELECT for a schema, so a view exists before its first file does."""
    con = duckdb.connect()
    try:
        con.register("empty_arrow", table_schema.empty_table())
        columns = con.execute("DESCRIBE empty_arrow").fetchall()
    finally:
        con.close()
    cols = ", ".join(f"CAST(NULL AS {ctype}) AS \"{name}\"" for name, ctype, *_ in columns)
    return f"SELECT {cols} WHERE false"


def lake_relation_sql(lake: Lake, name: str) -> str:
    """SQL that reads one lake table (or an empty typed relation when it has no file yet)."""
    layer, table, table_schema = LAKE_VIEWS[name]
    if not lake.has_files(layer, table):
        return empty_relation_sql(table_schema)
    glob = lake.glob(layer, table)
    # union_by_name: files written by older versions may lack newer columns
    return f"SELECT * FROM read_parquet({_sql_string(glob)}, hive_partitioning = false, union_by_name = true)"


def create_lake_views(con: duckdb.DuckDBPyConnection, lake: Lake, names: list[str] | None = None) -> None:
    """(Re)create views named after the lake's tables: posts, accounts, raw_records, ..."""
    lake.attach(con)
    for name in names or list(LAKE_VIEWS):
        con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {lake_relation_sql(lake, name)}')
