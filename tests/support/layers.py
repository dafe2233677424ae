"""Reading the published normalised generation from tests, by the names the layout once had.

`normalise` writes `normalised/<generation>/<table>/platform=P/data.parquet` and publishes the
generation in `normalised/_manifest.json`; the previous generation stays on disk for readers of
an older snapshot. Tests that compare layers want only what is published, keyed stably across
runs: `<table>/platform=P/data.parquet`.
"""

from __future__ import annotations

from pathlib import Path

from dissentry.warehouse import schema
from dissentry.warehouse.lake import Lake


def published_normalised(warehouse: Path, table: str | None = None) -> dict[str, Path]:
    """Published file of every (table, platform), keyed `<table>/platform=P/data.parquet`."""
    lake = Lake(warehouse)
    manifest = lake.normalised_manifest()
    out: dict[str, Path] = {}
    for name in [table] if table else list(schema.NORMALISED):
        for f in lake.normalised_files(name, manifest=manifest):
            parts = Path(f).relative_to(Path(warehouse) / "normalised").parts
            out["/".join(parts[1:] if manifest is not None else parts)] = Path(f)
    return dict(sorted(out.items()))


def published_files(warehouse: Path, table: str) -> list[Path]:
    return list(published_normalised(warehouse, table).values())
