"""Raw retention: raw payloads older than `settings.raw_retention_days` are deleted, while the
normalised rows built from them stay (in the frozen layer, which normalisation reads beneath the
rows it builds from newer raw). Runs under the build lock, at the start of `normalise`.

A retention publishes all-or-nothing, as normalise does. Every frozen table of every platform it
touches is written into a new generation folder (`frozen/<generation>/...`); then one write of
`frozen/_manifest.json` publishes them together *and* retires the expired raw files it froze
(`retired_raw`). Only then are the retired files deleted. A retention killed before the manifest
leaves the old frozen layer and all raw, as they were (the unpublished folder is swept); killed
after it, the next normalise (or retention) first finishes the deletion, before anything reads
raw, so no step ever sees the retired files beside the frozen rows made of them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from dissentry.connectors.registry import platforms
from dissentry.normalise import freeze_raw
from dissentry.warehouse import schema
from dissentry.warehouse.lake import Lake, batch_day, new_run_id


def expired_raw_files(lake: Lake, platform: str, days: int, today: date | None = None) -> list[str]:
    """Raw files in day folders older than `days` days (the fetch date decides; either layout)."""
    cutoff = (today or datetime.now(UTC).date()) - timedelta(days=days)
    out = []
    for path in lake.raw_files(platform):
        day = batch_day(path)
        if day and date.fromisoformat(day) < cutoff:
            out.append(path)
    return out


def _legacy_entries(lake: Lake) -> dict[str, Any]:
    """Frozen files of a lake frozen before generations existed: they stay published as they are."""
    entries: dict[str, Any] = {}
    for platform in platforms():
        tables = {table: {"file": lake.relative(path), "rows": lake.num_rows(path)}
                  for table in schema.NORMALISED if lake.exists(path := lake.frozen_path(table, platform))}
        if tables:
            entries[platform] = {"tables": tables}
    return entries


def finish_retention(lake: Lake) -> int:
    """Complete the published retention: delete the raw files it retired that are still there
    (its process was killed after publishing) and every frozen file it does not name (older
    generations, unpublished folders of killed runs). Return the raw files deleted."""
    manifest = lake.frozen_manifest()
    if manifest is None:
        return 0
    deleted = 0
    for rel in manifest.get("retired_raw", []):
        path = lake.path(rel)
        if lake.exists(path):
            lake.delete(path)
            deleted += 1
    keep = {entry["file"] for p in manifest["platforms"].values() for entry in p["tables"].values()}
    for path in lake.files("frozen"):
        if lake.relative(path) not in keep:
            lake.delete(path)
    return deleted


def apply_retention(lake: Lake, days: int | None, today: date | None = None) -> int:
    """Freeze the canonical rows of expired raw files, publish them whole, then delete the files;
    return the files deleted. `days=None` (no retention configured) only finishes a killed one."""
    finish_retention(lake)  # before anything reads raw: a published retention's files are gone
    if not days:
        return 0
    expired = {p: files for p in platforms() if (files := expired_raw_files(lake, p, days, today))}
    if not expired:
        return 0
    previous = lake.frozen_manifest()
    entries = dict(previous["platforms"]) if previous is not None else _legacy_entries(lake)
    generation = new_run_id()
    for platform, files in expired.items():
        counts = freeze_raw(lake, platform, files, generation)
        entries[platform] = {"tables": {
            table: {"file": lake.relative(lake.frozen_path(table, platform, generation)), "rows": rows}
            for table, rows in counts.items()}}
    manifest = {
        "format": 1,
        "generation": generation,
        "published_at": datetime.now(UTC).isoformat(),
        "platforms": dict(sorted(entries.items())),
        "retired_raw": sorted(lake.relative(f) for files in expired.values() for f in files),
    }
    lake.write_json(manifest, lake.frozen_manifest_path)  # the one atomic step
    return finish_retention(lake)
