from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dissentry.warehouse import schema
from dissentry.warehouse.lake import Lake, atomic_path, raw_writer, sanitise_partition_value, write_parquet_atomic


@pytest.mark.parametrize("name", ["../../etc", "..", ".", "a/b", "x'; DROP TABLE posts; --", "a\\b", "名前"])
def test_partition_values_never_escape_the_lake(tmp_path: Path, name: str) -> None:
    lake = Lake(tmp_path / "lake")
    path = Path(lake.raw_batch_path("mastodon", name, "2026-01-01", "run", 0)).resolve()
    assert path.is_relative_to((tmp_path / "lake" / "raw").resolve())
    encoded = sanitise_partition_value(name)
    assert "/" not in encoded and encoded not in (".", "..")


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    final = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError), atomic_path(final) as tmp:
        tmp.write_bytes(b"half a file")
        raise RuntimeError("killed")
    assert not final.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    final = tmp_path / "t.parquet"
    write_parquet_atomic(pa.table({"a": [1, 2]}), final)
    write_parquet_atomic(pa.table({"a": [3]}), final)
    assert pq.read_table(final).column("a").to_pylist() == [3]
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_batch_writer_bounds_memory_and_numbers_files(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    writer = raw_writer(lake, "mastodon", "src", "2026-01-02", "r1", batch_rows=2)
    for i in range(5):
        writer.append({"platform": "mastodon", "source": "src", "record_id": str(i), "payload": "{}"})
        if writer.full():
            writer.flush()
    writer.flush()
    assert [Path(f).name for f in writer.files] == ["r1-00000.parquet", "r1-00001.parquet", "r1-00002.parquet"]
    assert writer.rows_written == 5
    table = pq.read_table(writer.files[0])
    assert table.schema.equals(schema.RAW)


def test_cursor_round_trip_and_temp_files_are_hidden(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    assert lake.load_cursor("bluesky", "s") is None
    lake.save_cursor("bluesky", "s", {"newest": "2026-01-01T00:00:00Z", "n": 1})
    assert lake.load_cursor("bluesky", "s") == {"newest": "2026-01-01T00:00:00Z", "n": 1}
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    assert os.listdir(Path(lake.cursor_path("bluesky", "s")).parent) == ["source=s.json"]


def test_stale_temp_files_of_killed_writers_are_swept(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    folder = Path(lake.raw_batch_path("mastodon", "s", "2026-01-01", "r", 0)).parent
    folder.mkdir(parents=True)
    stale = folder / ".r-00000.parquet.abc.tmp"
    fresh = folder / ".r-00001.parquet.def.tmp"
    kept = folder / "r-00002.parquet"
    for f in (stale, fresh, kept):
        f.write_bytes(b"x")
    old = 1_000_000_000
    os.utime(stale, (old, old))
    assert lake.sweep_stale_temp_files(older_than_seconds=3600) == 1
    assert not stale.exists() and fresh.exists() and kept.exists()  # a write in progress is left alone
