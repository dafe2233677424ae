"""Normalise and transform publish all-or-nothing: SIGKILL at every table boundary.

A warehouse is built (state A), then more posts are imported, so a normalise or transform now
produces a different layer (state B). A boundary is a point between two table writes of the step:
after each normalised table file (every table of every platform) and after the manifest; after
each model of the transform, before each mart copy is staged, before and after the swap of
dissentry.duckdb, and after each mart copy is renamed into place. For EVERY boundary k:
- what readers see (the published normalised generation; dissentry.duckdb and marts/*.parquet) is
  wholly A or wholly B (byte for byte for the serving layer, which a transform never opens), but
  for the one documented window below;
- a re-run of the step gives exactly what an uninterrupted run gives, table by table;
- nothing the killed run left behind is visible, and the re-run sweeps it.

How every boundary is covered at the cost of one run. A SIGKILL discards only the process's own
memory: DuckDB's buffer pool, pyarrow's and Python's unflushed buffers, held flocks. Every
write() the process made is already in the kernel's page cache, so the files a killed process
leaves are the files on disk at the instant of the kill, whatever was or was not fsynced (fsync
guards against power loss, which is not tested here). So one subprocess per step runs the step
uninterrupted and, at each boundary k, copies the whole project to `snap-<k>` (shutil.copytree,
reading through the same page cache, keeping mtimes, which the temp-file sweep reads). While it
copies, nothing else writes: the copy runs on the thread that runs the step, between two of its
statements (DuckDB writes its file and WAL inside a statement, and no other thread writes the
project), so the copy is the exact state a SIGKILL at k leaves. What the copy does not carry,
the flock on .locks/build.lock, a kill releases too. Each snapshot is then checked and re-run in
this process like a killed copy: a boundary costs a copy and a re-run, not a subprocess too.

Real SIGKILLs stay, at the first, a middle and the last boundary (for transform: the last before
the swap, with every copy staged and the building file closed): each kills a fresh copy, is
checked and re-run the same way, and must leave the same files as the snapshot of its boundary
(names compared with their random ids masked). That ties the snapshots to real kills.

The subprocess patches the step's own functions to mark boundaries (the production code has no
test hook); everything it runs is the real pipeline. Re-runs are cheap for normalise (~0.5 s
CPU); a transform costs ~1 s CPU whatever the world's size (scale 0.01 costs what 0.05 does: the
cost is per model), so every transform snapshot is re-run too.

The one window that is not all-or-nothing is documented (docs/architecture.md): after the swap of
dissentry.duckdb the staged mart copies are renamed one by one, so a kill there leaves the file
new and the copies not yet renamed old. Those boundaries assert exactly that: the file is B,
every copy is whole and is B once renamed, A before; a re-run gives B.
"""

from __future__ import annotations

import hashlib
import json
import re
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
from dissentry.sample import FEEDS_FILE, STATUSES_FILE, generate_sample
from dissentry.transforms.runner import MART_NAMES, discover_models
from tests.support.layers import published_normalised
from tests.support.sample_project import sample_project

REPO = Path(__file__).resolve().parents[2]

KILLER = textwrap.dedent("""
    import contextlib, os, shutil, signal, sys
    from pathlib import Path
    step, kill_at, config_file, snapshots = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    from dissentry import pipeline
    from dissentry.config import load_config
    from dissentry.warehouse.lake import Lake
    project = Path(config_file).parent
    seen = 0

    def boundary(what):
        global seen
        seen += 1
        print(f"boundary {seen}: {what}".replace(f"{project}/", ""), flush=True)
        if snapshots:  # the files on disk now: what a SIGKILL here leaves (see the module docstring)
            shutil.copytree(project, Path(snapshots) / f"snap-{seen}", symlinks=True)
        if seen == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    real_staged = Lake.staged

    @contextlib.contextmanager
    def staged(self, final):
        if step == "transform":
            boundary(f"before staging {final}")  # between mart copies (staged, not yet visible)
        with real_staged(self, final) as tmp:
            yield tmp
        # normalise: each table file of the new generation, then the manifest; transform: each
        # mart copy renamed into place, after the swap
        boundary(f"after {'renaming' if step == 'transform' else 'writing'} {final}")

    Lake.staged = staged
    if step == "transform":
        import dissentry.transforms.runner as runner
        real_materialise, real_publish = runner._materialise, pipeline.publish_serving_file

        def materialise(con, model, config):
            rows = real_materialise(con, model, config)
            boundary(f"after model {model.name}")
            return rows

        def publish(building, final):
            boundary(f"before the swap of {final.name}")  # built, checkpointed, closed
            real_publish(building, final)
            boundary(f"after the swap of {final.name}")

        runner._materialise, pipeline.publish_serving_file = materialise, publish
    config = load_config(config_file)
    getattr(pipeline, step)(config)
    print(f"done after {seen} boundaries", flush=True)
""")
# the random parts of names: run and generation ids, temporary-file ids
# (and the process id in the name of normalise's scratch folder, `mapped-<pid>-<run id>`)
RANDOM_IDS = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}|[0-9a-f]{32}|(?<=mapped-)\d+")


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
    # both platforms change: normalise is incremental, and a platform with nothing new writes nothing
    row = pipeline.import_export(config, "bluesky", [base / "more" / FEEDS_FILE], "more-bluesky")
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


def _run_step(source: Path, target: Path, step: str, kill_at: int, snapshots: Path | None = None
              ) -> tuple[Config, subprocess.CompletedProcess[str]]:
    """Run `step` on a copy of `source` in a subprocess: SIGKILLed at boundary `kill_at` (0:
    never), copying the project to `snapshots/snap-<k>` at every boundary k if asked."""
    shutil.copytree(source, target)
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, step, str(kill_at), str(target / "dissentry.toml"), str(snapshots or "")],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )
    return load_config(target / "dissentry.toml"), proc


def _boundary_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [RANDOM_IDS.sub("<id>", line) for line in proc.stdout.splitlines() if line.startswith("boundary ")]


def shape(project: Path) -> list[str]:
    """Every file and folder under a project, random ids masked: what a kill left, by name."""
    return sorted(RANDOM_IDS.sub("<id>", p.relative_to(project).as_posix()) + ("/" if p.is_dir() else "")
                  for p in project.rglob("*"))


def _every_boundary(states: dict[str, Any], source: str, step: str) -> tuple[Config, list[str], list[tuple[int, Path]]]:
    """The step run once, uninterrupted, snapshotting every boundary; then real SIGKILLs at the
    first, the middle and the last boundary (`last`: a transform's last before the swap).

    Returns the uninterrupted run's config, its boundary lines and every (k, project) to check:
    the snapshot of each boundary, then the real kills."""
    snapshots = states["base"] / f"{step}-snapshots"
    config, proc = _run_step(states[source], snapshots / "run", step, 0, snapshots)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = _boundary_lines(proc)
    total = len(lines)
    assert f"done after {total} boundaries" in proc.stdout
    cases = [(k, snapshots / f"snap-{k}") for k in range(1, total + 1)]
    last = next((k for k, line in enumerate(lines, 1) if "before the swap" in line), total)
    for k in sorted({1, last // 2, last}):
        target = states["base"] / f"{step}-kill-{k}"
        _, killed = _run_step(states[source], target, step, k)
        assert killed.returncode == -9, (k, killed.stderr[-2000:])
        assert _boundary_lines(killed) == lines[:k], k  # the same boundaries, in the same order
        # the real kill leaves the files the snapshot holds: the snapshot is what a kill leaves
        assert shape(target) == shape(snapshots / f"snap-{k}"), k
        cases.append((k, target))
    return config, lines, cases


@pytest.mark.slow
def test_normalise_killed_at_every_table_boundary_publishes_all_or_nothing(states: dict[str, Any]) -> None:
    old, new = states["normalised"]
    run, lines, cases = _every_boundary(states, "project", "normalise")
    run_project = run.warehouse_path.parent
    assert normalised_layer(run.warehouse_path) == new  # the uninterrupted run in the subprocess is B
    # a boundary after every table file the new generation publishes (both platforms changed, so
    # every file), then after the manifest, last
    published = json.loads((run.warehouse_path / "normalised" / "_manifest.json").read_text())
    files = [RANDOM_IDS.sub("<id>", rel) for entry in published["platforms"].values()
             for table in entry["tables"].values() for rel in table["files"]]
    assert len(files) >= 10 and all(published["generation"] in rel for entry in published["platforms"].values()
                                    for table in entry["tables"].values() for rel in table["files"])
    assert all(any(line.endswith(f"/{rel}") for line in lines) for rel in files), (files, lines)
    manifest_at = next(k for k, line in enumerate(lines, 1) if "normalised/_manifest.json" in line)
    assert manifest_at == len(lines), lines  # the manifest is the last file written
    for k, project in cases:
        config = load_config(project / "dissentry.toml")
        warehouse = config.warehouse_path
        # every kill before the manifest shows A, the kill after it B
        assert normalised_layer(warehouse) == (new if k >= manifest_at else old), (k, lines[k - 1])
        generations = {p.name for p in (warehouse / "normalised").iterdir() if p.is_dir()}
        assert len(generations) == 2, (k, generations)  # A's and the one being written (or just published)
        pipeline.normalise(config)
        assert normalised_layer(warehouse) == new, k
        # the killed run's unpublished folder is gone: only the published and the previous generation stay
        generations = {p.name for p in (warehouse / "normalised").iterdir() if p.is_dir()}
        manifest = json.loads((warehouse / "normalised" / "_manifest.json").read_text())
        assert generations == {manifest["generation"], manifest["previous"]}, (k, generations)
        assert not list((warehouse / "normalised").rglob(".*.tmp")), k
        if k < manifest_at:  # and, file by file (ids masked), what the uninterrupted run left
            assert shape(project) == shape(run_project), k
        shutil.rmtree(project)  # checked: ~10 MB each, and pytest keeps its last three runs
    kills = len(cases) - len(lines)
    print(f"\nnormalise: all {len(lines)} boundaries snapshotted, {kills} real SIGKILLs; {len(cases)} re-runs "
          "compared")
    assert len(lines) >= 11  # two platforms' five tables, and the manifest


def serving_digests(warehouse: Path) -> dict[str, str]:
    """sha256 of dissentry.duckdb (and its WAL, if any) and of every mart copy."""
    paths = [warehouse / "dissentry.duckdb", warehouse / "dissentry.duckdb.wal",
             *sorted((warehouse / "marts").glob("*.parquet"))]
    return {p.relative_to(warehouse).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in paths if p.exists()}


@pytest.mark.slow
def test_transform_killed_at_every_table_boundary_publishes_all_or_nothing(states: dict[str, Any]) -> None:
    old, new = states["serving"]
    run, lines, cases = _every_boundary(states, "transform_base", "transform")
    run_project = run.warehouse_path.parent
    assert serving_layer(run.warehouse_path) == new  # the uninterrupted run in the subprocess is B
    # the kills hit the default build, which brings A's copy up to date (the full one is a fresh file)
    assert json.loads((run.warehouse_path / "state" / "transform.json").read_text())["mode"] == "incremental"
    modes: list[str] = []
    # a boundary after every model, before every copy is staged, at the swap, after every rename
    models = {m.name for m in discover_models()}
    assert {line.split("after model ", 1)[1] for line in lines if "after model " in line} == models
    for mart in MART_NAMES:
        assert sum(f"marts/{mart}.parquet" in line for line in lines) == 2, mart  # staged, renamed
    swap_at = next(k for k, line in enumerate(lines, 1) if "after the swap" in line)
    renamed_at = {f"marts/{mart}.parquet": next(k for k, line in enumerate(lines, 1)
                                               if "after renaming" in line and f"marts/{mart}.parquet" in line)
                  for mart in MART_NAMES}
    assert min(renamed_at.values()) > swap_at and max(renamed_at.values()) == len(lines), lines
    assert serving_layer(states["transform_base"] / "data") == old  # the bytes below are A's
    before, after = serving_digests(states["transform_base"] / "data"), serving_digests(run.warehouse_path)
    assert before.keys() == after.keys() and before["dissentry.duckdb"] != after["dissentry.duckdb"]
    for k, project in cases:
        config = load_config(project / "dissentry.toml")
        warehouse = config.warehouse_path
        seen = serving_digests(warehouse)
        building = list(warehouse.glob("dissentry.duckdb.building-*"))
        if k < swap_at:
            assert seen == before, (k, lines[k - 1])  # wholly A: the serving file and copies untouched
            assert building, k  # what the kill left behind
        else:  # the documented window: the file is B, each copy whole, B once renamed
            assert seen == {f: (before[f] if renamed_at.get(f, 0) > k else after[f]) for f in before}, k
            assert not building, k
        pipeline.transform(config)
        modes.append(json.loads((warehouse / "state" / "transform.json").read_text())["mode"])
        assert serving_layer(warehouse) == new, k
        assert not list(warehouse.glob("dissentry.duckdb.building-*")), k  # swept
        assert not list(warehouse.glob("marts/.*.tmp")), k
        assert shape(project) == shape(run_project), k  # file by file (ids masked), as uninterrupted
        shutil.rmtree(project)  # checked: ~16 MB each, and pytest keeps its last three runs
    kills = len(cases) - len(lines)
    print(f"\ntransform: all {len(lines)} boundaries snapshotted ({swap_at - 1} before the swap), {kills} real "
          f"SIGKILLs; {len(cases)} re-runs compared ({modes.count('incremental')} incremental)")
    # a kill before the swap leaves A published and named by the state: the re-run is incremental too
    assert modes.count("incremental") >= swap_at - 1, modes
    assert len(lines) >= 10
