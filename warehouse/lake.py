"""The Parquet lake: paths, atomic writes, cursor state. Nothing else builds a path into the lake.

Layout under the warehouse directory:

    raw/platform=P/source=S/date=YYYY-MM-DD/<run_id>-<n>.parquet     append-only, one file per batch
    quarantine/platform=P/source=S/date=YYYY-MM-DD/<run_id>-<n>.parquet
    collection_runs/<run_id>.parquet                                  one row per run
    normalised/<table>/platform=P/data.parquet                        rebuilt by `normalise`
    marts/<table>.parquet                                             copies of the marts
    state/cursors/platform=P/source=S.json                            resume points
    dissentry.duckdb                                                  serving layer, rebuildable

Every file appears whole or not at all: it is written beside its final name and renamed into place
(rename is atomic on POSIX file systems), so a killed process never leaves a half file visible.
Partition values come from user data (source names), so they are percent-encoded and can never
escape the lake (`../../etc` becomes `..%2F..%2Fetc`, and a name of only dots is encoded too).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq

from warehouse import schema

DUCKDB_FILE = "dissentry.duckdb"


def sanitise_partition_value(value: str) -> str:
    """Make a user-supplied name safe as one path component (reversible with urllib's unquote)."""
    if not value:
        raise ValueError("a partition value may not be empty")
    encoded = quote(value, safe="-_.@+")
    if set(encoded) <= {"."}:  # ".", "..": never a directory reference
        encoded = encoded.replace(".", "%2E")
    return encoded


def new_run_id(now: datetime | None = None) -> str:
    """Sortable by time, unique across processes: 20261124T120000Z-3f9a1c2b."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system allows opening a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside `final`; on success fsync and rename it into place.

    The temporary name starts with a dot and ends in `.tmp`, so lake globs (`*.parquet`) never
    see it. On failure the temporary file is removed and `final` is untouched.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        _fsync_dir(final.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_parquet_atomic(table: pa.Table, final: Path) -> Path:
    with atomic_path(final) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return final


def write_json_atomic(data: Any, final: Path) -> Path:
    with atomic_path(final) as tmp:
        tmp.write_text(json.dumps(data, sort_keys=True, ensure_ascii=False), encoding="utf-8")
    return final


@dataclass(frozen=True)
class Lake:
    root: Path

    # ---- paths ----------------------------------------------------------------------------------
    def _partitioned(self, layer: str, platform: str, source: str, day: str) -> Path:
        return (
            self.root
            / layer
            / f"platform={sanitise_partition_value(platform)}"
            / f"source={sanitise_partition_value(source)}"
            / f"date={day}"
        )

    def raw_batch_path(self, platform: str, source: str, day: str, run_id: str, n: int) -> Path:
        return self._partitioned("raw", platform, source, day) / f"{run_id}-{n:05d}.parquet"

    def quarantine_batch_path(self, platform: str, source: str, day: str, run_id: str, n: int) -> Path:
        return self._partitioned("quarantine", platform, source, day) / f"{run_id}-{n:05d}.parquet"

    def collection_run_path(self, run_id: str) -> Path:
        return self.root / "collection_runs" / f"{run_id}.parquet"

    def normalised_path(self, table: str, platform: str) -> Path:
        return self.root / "normalised" / table / f"platform={sanitise_partition_value(platform)}" / "data.parquet"

    def frozen_path(self, table: str, platform: str) -> Path:
        """Normalised rows kept after their raw files expired (raw retention)."""
        return self.root / "frozen" / table / f"platform={sanitise_partition_value(platform)}" / "data.parquet"

    def mart_path(self, table: str) -> Path:
        return self.root / "marts" / f"{table}.parquet"

    def erasure_path(self, stamp: str) -> Path:
        return self.root / "erasures" / f"{stamp}.parquet"

    @property
    def erased_register_path(self) -> Path:
        """sha256 of every erased account id: normalisation keeps them out of later collections."""
        return self.root / "state" / "erased_accounts.json"

    def erased_account_keys(self) -> list[str]:
        path = self.erased_register_path
        return sorted(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else []

    def cursor_path(self, platform: str, source: str) -> Path:
        return (
            self.root
            / "state"
            / "cursors"
            / f"platform={sanitise_partition_value(platform)}"
            / f"source={sanitise_partition_value(source)}.json"
        )

    @property
    def duckdb_path(self) -> Path:
        return self.root / DUCKDB_FILE

    # ---- globs for readers (DuckDB read_parquet) ------------------------------------------------
    def glob(self, layer: str, table: str | None = None) -> str:
        """A glob over every file of a layer (raw, quarantine, collection_runs, normalised/<table>)."""
        if layer == "normalised":
            assert table is not None
            return str(self.root / "normalised" / table / "*" / "*.parquet")
        if layer == "collection_runs":
            return str(self.root / "collection_runs" / "*.parquet")
        return str(self.root / layer / "**" / "*.parquet")

    def has_files(self, layer: str, table: str | None = None) -> bool:
        base = self.root / layer / table if table else self.root / layer
        return base.is_dir() and any(base.rglob("*.parquet"))

    def raw_files(self, platform: str | None = None) -> list[Path]:
        base = self.root / "raw"
        if platform:
            base = base / f"platform={sanitise_partition_value(platform)}"
        return sorted(base.rglob("*.parquet")) if base.is_dir() else []

    def sweep_stale_temp_files(self, older_than_seconds: float = 3600.0) -> int:
        """Remove temporary files a killed writer left behind (readers never saw them)."""
        import time

        cutoff = time.time() - older_than_seconds
        removed = 0
        for layer in ("raw", "quarantine", "collection_runs", "normalised", "marts", "state"):
            base = self.root / layer
            if not base.is_dir():
                continue
            for path in base.rglob(".*.tmp"):
                with contextlib.suppress(FileNotFoundError):
                    if path.is_file() and path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
        return removed

    # ---- cursor state ---------------------------------------------------------------------------
    def load_cursor(self, platform: str, source: str) -> dict[str, Any] | None:
        path = self.cursor_path(platform, source)
        if not path.is_file():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def save_cursor(self, platform: str, source: str, cursor: dict[str, Any] | None) -> None:
        """Only call after the data the cursor covers is durable in the lake."""
        if cursor is not None:
            write_json_atomic(cursor, self.cursor_path(platform, source))


class BatchWriter:
    """Buffers rows of one schema and writes them as numbered, atomic Parquet files.

    Used for raw and quarantine batches of one run: memory stays bounded by `batch_rows`
    whatever the size of the export or collection.
    """

    def __init__(self, path_for_batch: Any, table_schema: pa.Schema, batch_rows: int = 20_000) -> None:
        self._path_for_batch = path_for_batch
        self._schema = table_schema
        self._batch_rows = batch_rows
        self._columns: dict[str, list[Any]] = {name: [] for name in table_schema.names}
        self._buffered = 0
        self.files: list[Path] = []
        self.rows_written = 0

    def append(self, row: dict[str, Any]) -> None:
        for name, column in self._columns.items():
            column.append(row.get(name))
        self._buffered += 1

    @property
    def buffered(self) -> int:
        return self._buffered

    def full(self) -> bool:
        return self._buffered >= self._batch_rows

    def flush(self) -> Path | None:
        """Write what is buffered; return the file, or None when nothing was buffered."""
        if not self._buffered:
            return None
        table = pa.table(self._columns, schema=self._schema)
        path = write_parquet_atomic(table, self._path_for_batch(len(self.files)))
        self.files.append(path)
        self.rows_written += self._buffered
        self._columns = {name: [] for name in self._schema.names}
        self._buffered = 0
        return path


def raw_writer(lake: Lake, platform: str, source: str, day: str, run_id: str, batch_rows: int = 20_000) -> BatchWriter:
    return BatchWriter(
        lambda n: lake.raw_batch_path(platform, source, day, run_id, n), schema.RAW, batch_rows=batch_rows
    )


def quarantine_writer(lake: Lake, platform: str, source: str, day: str, run_id: str) -> BatchWriter:
    return BatchWriter(
        lambda n: lake.quarantine_batch_path(platform, source, day, run_id, n), schema.QUARANTINE, batch_rows=5_000
    )


def write_collection_run(lake: Lake, row: dict[str, Any]) -> Path:
    table = pa.Table.from_pylist([row], schema=schema.COLLECTION_RUNS)
    return write_parquet_atomic(table, lake.collection_run_path(row["run_id"]))
