"""Two dissentry processes on one warehouse: writers take a lock and say so; nothing is corrupted."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dissentry import pipeline
from dissentry.cli import app
from dissentry.config import load_config
from dissentry.sample import generate_sample
from dissentry.warehouse.lake import Lake
from dissentry.warehouse.lock import WarehouseBusy, exclusive

REPO = Path(__file__).resolve().parents[2]


def hold_lock_in_another_process(root: Path, name: str) -> subprocess.Popen[str]:
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from dissentry.warehouse.lake import Lake
        from dissentry.warehouse.lock import exclusive
        with exclusive(Lake(Path({str(root)!r})), {name!r}, what="test holder"):
            print("held", flush=True)
            time.sleep(30)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    generate_sample(tmp_path / "data" / "sample", seed=5, scale=0.1)
    (tmp_path / "dissentry.toml").write_text((REPO / "dissentry.toml").read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path


def test_a_transform_while_another_process_builds_is_refused_clearly(project: Path) -> None:
    config = load_config(project / "dissentry.toml")
    pipeline.collect(config)
    pipeline.normalise(config)
    holder = hold_lock_in_another_process(config.warehouse_path, "build")
    try:
        with pytest.raises(WarehouseBusy, match=r"warehouse busy: .* locked for 'build' by pid \d+ \(test holder\)"):
            pipeline.transform(config)
        result = CliRunner().invoke(app, ["--config", str(project / "dissentry.toml"), "normalise"])
        assert result.exit_code == 3 and "warehouse busy" in result.output
    finally:
        holder.kill()
        holder.wait()
    # the kernel released the dead holder's lock: the build goes through and is complete
    tables = pipeline.transform(config)
    assert tables["dissent_frequency"] > 0


def test_collection_of_one_source_is_not_run_twice_at_once(project: Path) -> None:
    config = load_config(project / "dissentry.toml")
    source = config.sources[0]
    holder = hold_lock_in_another_process(config.warehouse_path, f"source-{source.platform}-{source.name}")
    try:
        with pytest.raises(WarehouseBusy):
            pipeline.collect(config, source.name)
        # another source is not blocked
        (row,) = pipeline.collect(config, config.sources[1].name)
        assert row["status"] == "ok"
    finally:
        holder.kill()
        holder.wait()


def test_an_import_in_another_process_while_transform_reads_leaves_consistent_tables(project: Path) -> None:
    config = load_config(project / "dissentry.toml")
    pipeline.run(config)
    importer = subprocess.Popen(
        [sys.executable, "-m", "dissentry", "--config", str(project / "dissentry.toml"), "collect"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        tables = pipeline.transform(config)  # reads normalised files while raw files are being written
    finally:
        _, err = importer.communicate(timeout=120)
    assert importer.returncode == 0, err
    assert tables["dissent_frequency"] > 0
    # no temporary or partial file is visible to readers
    leftovers = [p for p in config.warehouse_path.rglob("*.tmp") if p.is_file()]
    assert leftovers == []
    with exclusive(Lake(config.warehouse_path), "build", wait_seconds=5):
        time.sleep(0)  # free again once everyone is done
