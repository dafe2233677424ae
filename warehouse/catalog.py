"""The DuckDB side of the warehouse: connections and views over the lake.

The Parquet lake is the source of truth; `dissentry.duckdb` is a serving layer rebuilt from it.
DuckDB allows one read-write process per file, and a read-only reader holds a shared lock that
stops any writer. So the transform never opens the serving file: it builds a new one beside it
(`dissentry.duckdb.building-<id>`) and renames it into place whole (`publish_serving_file`);
readers (`dissentry sql`, a notebook's `duckdb.connect(..., read_only=True)`) keep the snapshot
they opened and never block the build, nor the build them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from dissentry.warehouse import schema
from dissentry.warehouse.lake import Lake, _fsync_dir, new_run_id
from dissentry.warehouse.sql import literal_list, quote_identifier, quote_literal

LAKE_VIEWS: dict[str, tuple[str, str | None, pa.Schema]] = {
    # view name: (layer, table inside the layer, schema used when the layer has no file yet)
    "raw_records": ("raw", None, schema.RAW),
    "quarantine": ("quarantine", None, schema.QUARANTINE),
    "collection_runs": ("collection_runs", None, schema.COLLECTION_RUNS),
    "erasures": ("erasures", None, schema.ERASURES),
    "labels": ("labels", None, schema.LABELS),
    "label_draws": ("label_draws", None, schema.LABEL_DRAWS),
    "label_imports": ("label_imports", None, schema.LABEL_IMPORTS),
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


def lock_down(con: duckdb.DuckDBPyConnection, folders: list[str]) -> None:
    """Make `con` a sandbox, enforced by DuckDB itself: files only under `folders` (read and
    write: callers refuse statements that write), no extension installed or loaded, and no
    setting changeable afterwards, so no SET can undo any of it."""
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET allowed_directories = ?", [[f.rstrip("/") + "/" for f in folders]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


# ---- the serving file: built beside the old one, swapped in whole ------------------------------------
def wal_path(db: Path) -> Path:
    return db.with_name(db.name + ".wal")


def building_path(final: Path) -> Path:
    """Where a transform builds the next serving file: beside `final`, on the same file system."""
    return final.with_name(f"{final.name}.building-{new_run_id()}")


def sweep_building_files(final: Path) -> int:
    """Delete what killed transforms left (`<final>.building-*`, their WAL and spill folders).

    Called under the build lock, so no transform on this machine is still writing one; no reader
    ever opened one."""
    removed = 0
    for path in final.parent.glob(f"{final.name}.building-*"):
        with contextlib.suppress(FileNotFoundError):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed += 1
    return removed


def publish_serving_file(building: Path, final: Path) -> None:
    """Swap a built, checkpointed and closed DuckDB file in for `final`, atomically (rename).

    A reader that has `final` open keeps reading the old file (its inode lives while it is open);
    the next reader opens the new one. Neither ever waits for the other."""
    if wal_path(building).exists():  # a closed connection has checkpointed: this is a bug, not a state
        raise RuntimeError(f"{building} still has a write-ahead log: not published")
    with open(building, "rb+") as fh:
        os.fsync(fh.fileno())
    # the old file's WAL (left by a writer killed inside it) must never be replayed onto the new file
    with contextlib.suppress(FileNotFoundError):
        wal_path(final).unlink()
    os.replace(building, final)
    _fsync_dir(final.parent)


def has_relation(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """True when `con` has a table or view called `name` in its current schema."""
    rows = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = current_schema()",
        [name],
    ).fetchall()
    return bool(rows[0][0])


_DUCKDB_TYPES: dict[pa.DataType, str] = {
    pa.string(): "VARCHAR", pa.large_string(): "VARCHAR", pa.int64(): "BIGINT", pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE", pa.bool_(): "BOOLEAN", pa.date32(): "DATE",
    pa.timestamp("us", tz="UTC"): "TIMESTAMP WITH TIME ZONE", pa.timestamp("us"): "TIMESTAMP",
}


@functools.lru_cache(maxsize=64)
def _duckdb_columns(table_schema: pa.Schema) -> tuple[tuple[str, str], ...]:
    """(name, DuckDB type) of each field: the lake's plain types by table, anything else as DuckDB
    itself maps it (a connection costs ~30 ms, so once per schema, not once per missing view)."""
    if all(f.type in _DUCKDB_TYPES for f in table_schema):
        return tuple((f.name, _DUCKDB_TYPES[f.type]) for f in table_schema)
    con = duckdb.connect()
    try:
        con.register("empty_arrow", table_schema.empty_table())
        return tuple((name, ctype) for name, ctype, *_ in con.execute("DESCRIBE empty_arrow").fetchall())
    finally:
        con.close()


def empty_relation_sql(table_schema: pa.Schema) -> str:
    """A typed, empty SELECT for a schema, so a view exists before its first file does."""
    cols = ", ".join(f"CAST(NULL AS {ctype}) AS {quote_identifier(name)}"
                     for name, ctype in _duckdb_columns(table_schema))
    return f"SELECT {cols} WHERE false"


def lake_relation_sql(lake: Lake, name: str, manifest: dict[str, Any] | None = None) -> str:
    """SQL that reads one lake table (or an empty typed relation when it has no file yet).

    A normalised table reads the files of the published generation (`manifest`, else the lake's
    current one), never a glob: a normalise in progress, or killed, writes files no reader sees."""
    layer, table, table_schema = LAKE_VIEWS[name]
    if layer == "normalised":
        assert table is not None
        files = lake.normalised_files(table, manifest=manifest)
        if not files:
            return empty_relation_sql(table_schema)
        return f"SELECT * FROM read_parquet({literal_list(files)}, hive_partitioning = false, union_by_name = true)"
    if not lake.has_files(layer, table):
        return empty_relation_sql(table_schema)
    glob = lake.glob(layer, table)
    # union_by_name: files written by older versions may lack newer columns
    return f"SELECT * FROM read_parquet({quote_literal(glob)}, hive_partitioning = false, union_by_name = true)"


def create_lake_views(con: duckdb.DuckDBPyConnection, lake: Lake, names: list[str] | None = None,
                      manifest: dict[str, Any] | None = None) -> None:
    """(Re)create views named after the lake's tables: posts, accounts, raw_records, ...

    `manifest`: the normalised generation to read (the published one when not given)."""
    lake.attach(con)
    if manifest is None:
        manifest = lake.normalised_manifest()  # read once: every normalised view from one generation
    for name in names or list(LAKE_VIEWS):
        con.execute(f"CREATE OR REPLACE VIEW {quote_identifier(name)} AS {lake_relation_sql(lake, name, manifest)}")
