"""A full disk at each step: one line naming the folder and its free space, a non-zero exit, a
failed run row for an import, nothing published half-way, and nothing lost once space is freed.

The warehouse lives on a tmpfs of its own (mounting needs root; the test skips cleanly without
it). Before each step a filler file leaves too little room for what the step writes:
- import: a raw batch does not fit (the run row does);
- normalise, with DuckDB's memory limit at 8 MB: its spill folder (in the warehouse) fills, which
  DuckDB itself reports as "Out of Memory";
- transform: the new serving file does not fit.
After each, the filler goes, the step runs again, and at the end the normalised layer and the
marts equal those of the same project built on an ordinary disk.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from dissentry import pipeline
from dissentry.config import Config, load_config
from dissentry.warehouse.lake import Lake
from tests.reliability.test_publish import normalised_layer
from tests.support.mounts import tmpfs
from tests.support.sample_project import sample_project

REPO = Path(__file__).resolve().parents[2]
KiB, MiB = 1024, 1024 * 1024


@pytest.fixture()
def disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "disk", "64m") as mount:
        yield mount


def fill(disk: Path, leave: int) -> Path:
    """Grow the filler until only `leave` bytes are free on the disk."""
    filler = disk / "filler"
    size = (filler.stat().st_size if filler.exists() else 0) + shutil.disk_usage(disk).free - leave
    fd = os.open(filler, os.O_RDWR | os.O_CREAT)
    try:
        os.ftruncate(fd, 0)
        os.posix_fallocate(fd, 0, max(size, 0))
    finally:
        os.close(fd)
    return filler


def cli(config: Config, *args: str, memory: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **({"DISSENTRY_DUCKDB_MEMORY_LIMIT": memory} if memory else {})}
    return subprocess.run([sys.executable, "-m", "dissentry", "--config", str(config.config_path), *args],
                          capture_output=True, text=True, timeout=600, cwd=REPO, env=env)


def assert_one_line(result: subprocess.CompletedProcess[str], folder: Path) -> str:
    assert result.returncode != 0, result.stdout
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "Out of Memory" not in output, output[-3000:]
    lines = [line for line in output.splitlines() if "disk full:" in line]
    assert len(lines) >= 1, output[-3000:]
    line = lines[0]
    assert f"disk full: {folder}" in line and " free" in line, line
    return line


PROVENANCE = ("fetched_at", "run_id")  # when and in which run: differs between two warehouses


def comparable(layer: dict[str, list[str]]) -> dict[str, list[str]]:
    return {name: sorted(json.dumps({k: v for k, v in json.loads(r).items() if k not in PROVENANCE}, sort_keys=True)
                         for r in rows) for name, rows in layer.items()}


def marts(warehouse: Path) -> dict[str, list[str]]:
    return comparable({p.name: [json.dumps(r, sort_keys=True, default=str) for r in pq.read_table(p).to_pylist()]
                       for p in sorted((warehouse / "marts").glob("*.parquet"))})


def on(folder: Path, where: Path) -> Config:
    config = sample_project(folder, seed=5, scale=1.0)
    text = config.config_path.read_text(encoding="utf-8").replace('warehouse_dir = "data"', f'warehouse_dir = "{where}"', 1)
    config.config_path.write_text(text, encoding="utf-8")
    return load_config(config.config_path)


def test_a_full_disk_at_each_step_is_one_line_and_loses_nothing(disk: Path, tmp_path: Path) -> None:
    wh = disk / "wh"
    config = on(tmp_path / "project", wh)
    reference = on(tmp_path / "reference", tmp_path / "reference-wh")
    assert pipeline.run(reference).ok
    probes, lines = 0, []

    # import: the first raw batch does not fit; the run row does, and says failed
    filler = fill(disk, leave=48 * KiB)
    line = assert_one_line(cli(config, "collect"), wh)
    lines.append(line)
    probes += 1
    filler.unlink()
    rows = [r for f in Lake(wh).files("collection_runs") for r in Lake(wh).read_table(f).to_pylist()]
    assert len(rows) == 2 and all(r["status"] == "failed" for r in rows), rows
    assert any("disk full" in r["errors"] for r in rows) and line
    assert Lake(wh).raw_files() == []  # nothing half-written
    result = cli(config, "collect")
    assert result.returncode == 0, result.stderr

    # normalise: with 300 MB of memory it may spill, and the spill folder fills (DuckDB: "Out of
    # Memory: failed to offload"); where it does not spill, its output does not fit: the room left
    # is a quarter of what the same normalise wrote on an ordinary disk
    written = sum(p.stat().st_size for p in (reference.warehouse_path / "normalised").rglob("*.parquet"))
    filler = fill(disk, leave=max(16 * KiB, written // 4))
    line = assert_one_line(cli(config, "normalise", memory="300MB"), wh)
    lines.append(line)
    probes += 1
    assert Lake(wh).normalised_manifest() is None  # nothing published
    filler.unlink()
    result = cli(config, "normalise")
    assert result.returncode == 0, result.stderr
    assert comparable(normalised_layer(wh)) == comparable(normalised_layer(reference.warehouse_path))

    # transform: the new serving file does not fit; the old one serves on, whole
    assert cli(config, "transform").returncode == 0
    before = marts(wh)
    filler = fill(disk, leave=1 * MiB)
    lines.append(assert_one_line(cli(config, "transform"), wh))
    probes += 1
    assert not list(wh.glob("dissentry.duckdb.building-*")) and not list(wh.glob("marts/.*.tmp"))
    con = duckdb.connect(str(wh / "dissentry.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM dissent_frequency").fetchone()[0] > 0
    finally:
        con.close()
    assert marts(wh) == before
    filler.unlink()
    assert cli(config, "transform").returncode == 0
    assert marts(wh) == marts(reference.warehouse_path)
    print(f"\ndisk full: {probes} probes, each one line:", *lines, sep="\n  ")
