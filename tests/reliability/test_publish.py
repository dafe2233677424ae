"""Normalise and transform publish all-or-nothing: SIGKILL at table boundaries.

A warehouse is built (state A), then more posts are imported, so a normalise or transform now
produces a different layer (state B). For boundaries k of the step (after each normalised
table file is written, after each model is built and each mart copy staged), a copy of the
warehouse runs the step in a subprocess that SIGKILLs itself at boundary k. After each kill:
- what readers see (the published normalised generation; dissentry.duckdb and marts/*.parquet)
  is wholly A or wholly B, never a mix;
- a re-run of the step gives exactly what an uninterrupted run gives, table by table;
- nothing the killed run left behind is visible, and the re-run sweeps it.

The subprocess patches the step's own functions to count boundaries (the production code has no
test hook); everything it runs is the real pipeline. Transform has no boundary between the swap of
dissentry.duckdb and the renames of the mart copies staged before it: that instant is the one
window in which a kill leaves the file new and some copies old (docs/architecture.md).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from dissentry import pipeline
from dissentry.config import Config, load_config
from dissentry.sample import STATUSES_FILE, generate_sample
from tests.support.layers import published_normalised
from tests.support.sample_project import sample_project

REPO = Path(__file__).resolve().parents[2]

KILLER = textwrap.dedent("""
    import contextlib, os, signal, sys
    step, kill_at, config_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    from dissentry import pipeline
    from dissentry.config import load_config
    from warehouse.lake import Lake
    seen = 0

    def boundary(what):
        global seen
        seen += 1
        print(f"boundary {seen}: {what}", flush=True)
        if seen == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    real_staged = Lake.staged

    @contextlib.contextmanager
    def staged(self, final):
        if step == "transform":
            boundary(f"before writing {final}")  # between mart copies (staged, not yet visible)
        with real_staged(self, final) as tmp:
            yield tmp
        if step == "normalise":
            boundary(f"after {final}")  # each table file of the new generation, then the manifest

    Lake.staged = staged
    if step == "transform":
        import transforms.runner as runner
        real_materialise = runner._materialise

        def materialise(con, model, config):
            rows = real_materialise(con, model, config)
            boundary(f"after model {model.name}")
            return rows

        runner._materialise = materialise
    config = load_config(config_file)
    getattr(pipeline, step)(config)
    print(f"done after {seen} boundaries", flush=True)
""")


def _rows(table: Any) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in table.to_pylist())


def normalised_layer(warehouse: Path) -> dict[str, list[str]]:
    """What a reader sees: every published normalised table, all platforms, as sorted rows."""
    out: dict[str, list[str]] = {}
    for name, path in published_normalised(warehouse).items():
        out.setdefault(name.split("/")[0], []).extend(_rows(pq.read_table(path)))
    return {k: sorted(v) for k, v in sorted(out.items())}


def serving_layer(warehouse: Path) -> dict[str, list[str]]:
    """Every table of dissentry.duckdb and every mart copy, as sorted rows."""
    out: dict[str, list[str]] = {}
    con = duckdb.connect(str(warehouse / "dissentry.duckdb"), read_only=True)
    try:
        names = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY table_name").fetchall()]
        for name in names:
            out[f"db:{name}"] = _rows(con.sql(f'SELECT * FROM "{name}"').to_arrow_table())
    finally:
        con.close()
    for path in sorted((warehouse / "marts").glob("*.parquet")):
        out[f"marts/{path.name}"] = _rows(pq.read_table(path))
    return out


def visible_files(warehouse: Path) -> set[str]:
    """Files a reader globbing the folders by their documented names could pick up."""
    return {p.relative_to(warehouse).as_posix() for p in warehouse.rglob("*")
            if p.is_file() and not p.name.startswith(".") and ".building-" not in p.name}


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A project at state A (built), with more posts imported so the next step builds state B."""
    base = tmp_path_factory.mktemp("publish")
    project = base / "project"
    project.mkdir()
    config = sample_project(project, seed=5, scale=0.05)
    assert pipeline.run(config).ok
    normalised_a, serving_a = normalised_layer(config.warehouse_path), serving_layer(config.warehouse_path)
    generate_sample(base / "more", seed=6, scale=0.05)
    row = pipeline.import_export(config, "mastodon", [base / "more" / STATUSES_FILE], "more-mastodon")
    assert row["status"] == "ok" and row["records_new"] > 0
    # the reference: an uninterrupted normalise, then transform, of a copy
    reference = base / "reference"
    shutil.copytree(project, reference)
    ref_config = load_config(reference / "dissentry.toml")
    pipeline.normalise(ref_config)
    normalised_b = normalised_layer(ref_config.warehouse_path)
    assert normalised_b != normalised_a
    # the transform's starting point: B's normalised layer under A's serving file
    transform_base = base / "transform-base"
    shutil.copytree(reference, transform_base)
    pipeline.transform(ref_config)
    serving_b = serving_layer(ref_config.warehouse_path)
    assert serving_b != serving_a
    return {"base": base, "project": project, "transform_base": transform_base,
            "normalised": (normalised_a, normalised_b), "serving": (serving_a, serving_b)}


def _kill_at(source: Path, target: Path, step: str, k: int) -> tuple[Config, subprocess.CompletedProcess[str]]:
    shutil.copytree(source, target)
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, step, str(k), str(target / "dissentry.toml")],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )
    return load_config(target / "dissentry.toml"), proc


def _boundaries(states: dict[str, Any], source: str, step: str) -> list[int]:
    """The boundaries to kill at: the first, the last and three spread between them. An
    uninterrupted run in the same subprocess counts them; every boundary is the same kind of
    point (after a table file, after a model), so a spread of them tests each kind without paying
    for a kill and a re-run at all of them (a transform costs ~15 s on a loaded machine)."""
    _, proc = _kill_at(states[source], states["base"] / f"{step}-count", step, 0)
    assert proc.returncode == 0, proc.stderr[-2000:]
    total = int(proc.stdout.rsplit("done after ", 1)[1].split()[0])
    return sorted({1, max(1, total // 4), max(1, total // 2), max(1, 3 * total // 4), total})


@pytest.mark.slow
def test_normalise_killed_at_table_boundaries_publishes_all_or_nothing(states: dict[str, Any]) -> None:
    old, new = states["normalised"]
    boundaries = _boundaries(states, "project", "normalise")
    for k in boundaries:
        config, proc = _kill_at(states["project"], states["base"] / f"normalise-{k}", "normalise", k)
        assert proc.returncode == -9, proc.stderr[-2000:]
        warehouse = config.warehouse_path
        seen = normalised_layer(warehouse)
        # the manifest is the last file written: every kill before it shows A, the kill after it B
        published = "normalised/_manifest.json" in proc.stdout
        assert seen == (new if published else old), (k, proc.stdout)
        assert published == (k == boundaries[-1]), k
        files_before = visible_files(warehouse)
        pipeline.normalise(config)
        assert normalised_layer(warehouse) == new, k
        # the killed run's unpublished folder is gone: only the published and the previous generation stay
        generations = {p.name for p in (warehouse / "normalised").iterdir() if p.is_dir()}
        manifest = json.loads((warehouse / "normalised" / "_manifest.json").read_text())
        assert generations == {manifest["generation"], manifest["previous"]}, (k, generations)
        assert files_before  # (the copy held a warehouse at all)
    print(f"\nnormalise: {len(boundaries)} kills at boundaries {boundaries}, each re-run and compared")
    assert boundaries[-1] >= 8  # two platforms' five tables, and the manifest


@pytest.mark.slow
def test_transform_killed_at_table_boundaries_publishes_all_or_nothing(states: dict[str, Any]) -> None:
    """Killed at the first, the last and boundaries between; re-run and compared at the first and
    the last (every mart copy staged): what a kill leaves (a building file, staged mart copies) is
    the same kind at every model boundary."""
    old, new = states["serving"]
    boundaries = _boundaries(states, "transform_base", "transform")
    for k in boundaries:
        config, proc = _kill_at(states["transform_base"], states["base"] / f"transform-{k}", "transform", k)
        assert proc.returncode == -9, proc.stderr[-2000:]
        warehouse = config.warehouse_path
        assert serving_layer(warehouse) == old, k  # every boundary is before the swap
        assert list(warehouse.glob("dissentry.duckdb.building-*")), k  # what the kill left behind
        if k in (boundaries[0], boundaries[-1]):
            _rerun_transform(config, new, k)
    print(f"\ntransform: {len(boundaries)} kills at boundaries {boundaries}, 2 re-runs compared")
    assert boundaries[-1] >= 10


def _rerun_transform(config: Config, new: dict[str, list[str]], k: int) -> None:
    warehouse = config.warehouse_path
    pipeline.transform(config)
    assert serving_layer(warehouse) == new, k
    assert not list(warehouse.glob("dissentry.duckdb.building-*")), k  # swept
    assert not list(warehouse.glob("marts/.*.tmp")), k
