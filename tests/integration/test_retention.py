"""Raw retention: old raw payloads go, the normalised rows and marts built from them stay."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from dissentry import pipeline
from dissentry.config import load_config
from dissentry.forget import forget_account
from dissentry.retention import apply_retention
from dissentry.sample import generate_sample
from dissentry.warehouse.lake import Lake
from tests.support.layers import published_normalised
from tests.support.sample_project import sample_project

REPO = Path(__file__).resolve().parents[2]


def snapshot(root: Path, layer: str, ignore: tuple[str, ...] = ()) -> dict[str, list[str]]:
    out = {}
    files = published_normalised(root) if layer == "normalised" else {
        str(f.relative_to(root / layer)): f for f in sorted((root / layer).rglob("*.parquet"))}
    for name, f in files.items():
        rows = [{k: v for k, v in r.items() if k not in ignore} for r in pq.read_table(f).to_pylist()]
        out[name] = sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)
    return out


def test_expired_raw_is_deleted_and_its_normalised_rows_and_marts_stay(tmp_path: Path) -> None:
    generate_sample(tmp_path / "data" / "sample", seed=8, scale=0.2)
    text = (REPO / "dissentry.toml").read_text(encoding="utf-8")
    (tmp_path / "dissentry.toml").write_text(text, encoding="utf-8")
    config = load_config(tmp_path / "dissentry.toml")
    pipeline.run(config)
    root = config.warehouse_path
    normalised, marts = snapshot(root, "normalised"), snapshot(root, "marts")
    assert sum(len(v) for k, v in normalised.items() if k.startswith("posts/")) > 500

    # ten days on, with a five-day retention, every raw file has expired
    later = (datetime.now(UTC) + timedelta(days=10)).date()
    lake = Lake(root)
    deleted = apply_retention(lake, days=5, today=later)
    assert deleted > 0 and lake.raw_files() == []
    pipeline.normalise(config)
    pipeline.transform(config)
    assert snapshot(root, "normalised") == normalised
    assert snapshot(root, "marts") == marts

    # the same export imported again: fresh raw and frozen rows merge without duplicates; the
    # re-import is a new fetch, so only when each row was fetched changes
    pipeline.run(config)
    provenance = ("fetched_at", "run_id")
    assert snapshot(root, "normalised", provenance) == {
        name: sorted(json.dumps({k: v for k, v in json.loads(r).items() if k not in provenance}, sort_keys=True)
                     for r in rows)
        for name, rows in normalised.items()
    }

    # and an erased account leaves the frozen layer too
    forget_account(config, "mastodon:@ugozeller@social.example")
    for f in (root / "frozen").rglob("*.parquet"):
        assert b"ugozeller@social.example" not in f.read_bytes(), f


def test_retention_is_applied_by_normalise_when_configured(tmp_path: Path) -> None:
    config = sample_project(tmp_path, seed=9, scale=0.1, raw_retention_days=30)
    pipeline.collect(config)
    lake = Lake(config.warehouse_path)
    # age one raw file past the retention window
    old = Path(lake.raw_files()[0])
    aged = old.parent.parent / "2000-01-01" / old.name
    aged.parent.mkdir(parents=True)
    old.rename(aged)
    counts = pipeline.normalise(config)
    assert not aged.exists() and lake.raw_files()  # the aged file went, the fresh ones stayed
    assert counts["posts"] > 0 and any((config.warehouse_path / "frozen").rglob("*.parquet"))
