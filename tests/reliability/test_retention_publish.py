"""Raw retention publishes all-or-nothing: SIGKILL at every boundary of `apply_retention`.

The warehouse starts with a published frozen layer (an earlier retention) and more expired raw
(state A). An uninterrupted retention freezes that raw into a new frozen generation and deletes it
(state B). For every boundary k (after each frozen table file, after the manifest, after each
deletion), a copy runs the retention in a subprocess that SIGKILLs itself at boundary k. After
each kill, what the next step reads (the published frozen tables, and the raw files not retired by
the published manifest) is wholly A or wholly B; a re-run of `normalise` (which finishes a
retention first) gives exactly the frozen and normalised layers of an uninterrupted run.

Before the frozen layer had a manifest, each frozen table was replaced in turn and the raw
deleted file by file: a kill between two tables left new `posts` beside old `post_links`, and a
kill between deletions left raw that the frozen rows already held (a later retention then froze a
post from its older version only).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from dissentry import pipeline
from dissentry.config import load_config
from dissentry.connectors.registry import platforms
from dissentry.retention import apply_retention
from dissentry.sample import STATUSES_FILE, generate_sample
from dissentry.warehouse import schema
from dissentry.warehouse.lake import Lake
from tests.reliability.test_publish import normalised_layer
from tests.support.sample_project import sample_project

REPO = Path(__file__).resolve().parents[2]
DAYS = 30

KILLER = textwrap.dedent("""
    import contextlib, os, signal, sys
    kill_at, root, days = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    from dissentry.retention import apply_retention
    from dissentry.warehouse.lake import Lake
    seen = 0

    def boundary(what):
        global seen
        seen += 1
        print(f"boundary {seen}: {what}", flush=True)
        if seen == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    real_staged, real_delete = Lake.staged, Lake.delete

    @contextlib.contextmanager
    def staged(self, final):
        with real_staged(self, final) as tmp:
            yield tmp
        boundary(f"after writing {final}")

    def delete(self, path):
        real_delete(self, path)
        boundary(f"after deleting {path}")

    Lake.staged, Lake.delete = staged, delete
    print(f"deleted {apply_retention(Lake(root), days)}", flush=True)
    print(f"done after {seen} boundaries", flush=True)
""")


def _rows(path: str) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in pq.read_table(path).to_pylist())


def visible(warehouse: Path) -> dict[str, Any]:
    """What the next step reads: every published frozen table, and the raw files it may read (all,
    less those the published retention retired: the next step deletes them before reading raw)."""
    lake = Lake(warehouse)
    frozen = {f"{table}/{p}": _rows(path) for p in platforms() for table in schema.NORMALISED
              if lake.exists(path := lake.frozen_path(table, p))}
    manifest = lake.frozen_manifest()
    retired = {lake.path(rel) for rel in (manifest or {}).get("retired_raw", [])}
    raw = sorted(lake.relative(f) for f in lake.raw_files() if f not in retired)
    return {"frozen": frozen, "raw": raw}


def _age(files: list[Path]) -> None:
    for f in files:
        aged = f.parent.parent / "2000-01-01" / f.name
        aged.parent.mkdir(parents=True, exist_ok=True)
        f.rename(aged)


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("retention-publish")
    project = base / "project"
    project.mkdir()
    config = sample_project(project, seed=11, scale=0.05, raw_retention_days=DAYS)
    root = config.warehouse_path
    pipeline.collect(config)
    _age(sorted((root / "raw").rglob("*.parquet")))
    pipeline.normalise(config)  # the first retention: every platform frozen, its raw gone
    assert (root / "frozen" / "_manifest.json").exists() and not list((root / "raw").rglob("*.parquet"))
    # newer raw: the same exports again (other versions of the same records) and more posts
    pipeline.collect(config)
    generate_sample(base / "more", seed=12, scale=0.05)
    assert pipeline.import_export(config, "mastodon", [base / "more" / STATUSES_FILE], "more")["status"] == "ok"
    # of which the Mastodon raw expires; the other platforms' stays
    _age(sorted((root / "raw" / "mastodon").rglob("*.parquet")))
    state_a = visible(root)
    reference = base / "reference"
    shutil.copytree(project, reference)
    ref_config = load_config(reference / "dissentry.toml")
    assert apply_retention(Lake(ref_config.warehouse_path), DAYS) > 0
    state_b = visible(ref_config.warehouse_path)
    assert state_b["frozen"] != state_a["frozen"] and state_b["raw"] != state_a["raw"] and state_b["raw"]
    pipeline.normalise(ref_config)
    return {"base": base, "project": project, "a": state_a, "b": state_b,
            "frozen_b": visible(ref_config.warehouse_path)["frozen"],
            "normalised_b": normalised_layer(ref_config.warehouse_path)}


def _kill_at(states: dict[str, Any], k: int) -> tuple[Path, subprocess.CompletedProcess[str]]:
    target = states["base"] / f"kill-{k}"
    shutil.copytree(states["project"], target)
    proc = subprocess.run([sys.executable, "-c", KILLER, str(k), str(target / "data"), str(DAYS)],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    return target, proc


@pytest.mark.slow
def test_retention_killed_at_every_boundary_publishes_all_or_nothing(states: dict[str, Any]) -> None:
    target, proc = _kill_at(states, 0)
    assert proc.returncode == 0, proc.stderr[-2000:]
    total = int(proc.stdout.rsplit("done after ", 1)[1].split()[0])
    lines = proc.stdout.splitlines()
    manifest_at = next(i for i, line in enumerate(lines, 1) if "frozen/_manifest.json" in line)
    assert visible(target / "data") == states["b"]
    assert total >= manifest_at + 3  # frozen tables, the manifest, then the deletions
    for k in range(1, total + 1):
        target, proc = _kill_at(states, k)
        assert proc.returncode == -9, (k, proc.stderr[-2000:])
        warehouse = target / "data"
        seen = visible(warehouse)
        assert seen == (states["b"] if k >= manifest_at else states["a"]), (k, proc.stdout)
        if k >= manifest_at:
            # with no retention configured any more, the next step still finishes this one
            apply_retention(Lake(warehouse), None)
            assert visible(warehouse) == states["b"], k
        config = load_config(target / "dissentry.toml")
        pipeline.normalise(config)
        assert visible(warehouse)["frozen"] == states["frozen_b"], k
        assert normalised_layer(warehouse) == states["normalised_b"], k
        # nothing the killed run left stays: only the published generation's files
        lake = Lake(warehouse)
        published = {lake.frozen_path(t, p) for p in platforms() for t in schema.NORMALISED}
        assert set(lake.files("frozen")) <= published, k
        assert not list((warehouse / "frozen").rglob(".*.tmp")), k
    print(f"\nretention: {total} kills (every boundary; the manifest is boundary {manifest_at}), each re-run "
          "and compared")
