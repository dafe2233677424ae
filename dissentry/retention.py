"""Raw retention: raw payloads older than `settings.raw_retention_days` are deleted, while the
normalised rows built from them stay (in the frozen layer, which normalisation reads beneath the
rows it builds from newer raw). Runs under the build lock, at the start of `normalise`."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from connectors.registry import platforms
from dissentry.normalise import freeze_raw
from warehouse.lake import Lake

_DAY = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


def expired_raw_files(lake: Lake, platform: str, days: int, today: date | None = None) -> list[str]:
    """Raw files in date partitions older than `days` days (the fetch date decides)."""
    cutoff = (today or datetime.now(UTC).date()) - timedelta(days=days)
    out = []
    for path in lake.raw_files(platform):
        match = _DAY.match(path.rsplit("/", 2)[-2])
        if match and date.fromisoformat(match.group(1)) < cutoff:
            out.append(path)
    return out


def apply_retention(lake: Lake, days: int, today: date | None = None) -> int:
    """Freeze the canonical rows of expired raw files, then delete the files; return files deleted."""
    deleted = 0
    for platform in platforms():
        files = expired_raw_files(lake, platform, days, today)
        if not files:
            continue
        freeze_raw(lake, platform, files)  # durable before anything is deleted
        for path in files:
            lake.delete(path)
            deleted += 1
    return deleted
