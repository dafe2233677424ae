"""Pools and assets: the slots tasks share, and the asset events a collection DAG emits."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dissentry.config import Config

DUCKDB_POOL = "dissentry_duckdb"
"""One slot: only one task at a time opens dissentry.duckdb read-write."""
DEFAULT_PLATFORM_SLOTS = 4
"""Concurrent collection tasks per platform unless the operator sets the pool otherwise."""

MARTS_ASSET_URI = "dissentry://warehouse/marts"


def pool_name(platform: str) -> str:
    return f"dissentry_{platform}"


def pools(config: Config, slots: int = DEFAULT_PLATFORM_SLOTS) -> dict[str, int]:
    """Every pool the DAGs of this config use, with a default size."""
    wanted = {pool_name(p): slots for p in sorted({s.platform for s in config.sources})}
    return {**wanted, DUCKDB_POOL: 1}


def pool_commands(config: Config) -> list[str]:
    return [f"airflow pools set {name} {slots} 'dissentry'" for name, slots in pools(config).items()]


def raw_asset_uri(platform: str) -> str:
    return f"dissentry://raw/{platform}"


def platforms_of(config: Config) -> list[str]:
    return sorted({s.platform for s in config.sources})


def by_platform(summaries: Mapping[str, Any], platform_of: Mapping[str, str]) -> dict[str, list[Any]]:
    """Task id -> summaries, merged into platform -> summaries (a platform may have several tasks)."""
    merged: dict[str, list[Any]] = {}
    for task_id, runs in summaries.items():
        merged.setdefault(platform_of.get(task_id, task_id), []).extend(list(runs))
    return merged


def raw_events(
    summaries: Mapping[str, list[Mapping[str, Any]]], interval: tuple[datetime | None, datetime | None]
) -> dict[str, dict[str, Any]]:
    """The raw asset event of each platform whose collections of one DAG run succeeded at least
    once: summed counts and the run ids (small, for XCom and the event's extra), never records."""
    events: dict[str, dict[str, Any]] = {}
    for platform, runs in sorted(summaries.items()):
        runs = [r for r in runs if isinstance(r, Mapping)]  # a failed source left no summary
        if not runs:
            continue
        events[platform] = {
            "platform": platform,
            "sources": sorted(r["source"] for r in runs),
            "run_ids": sorted(r["run_id"] for r in runs),
            **{key: sum(int(r.get(key) or 0) for r in runs)
               for key in ("records_seen", "records_new", "records_quarantined", "requests")},
            "data_interval_start": interval[0].isoformat() if interval[0] else None,
            "data_interval_end": interval[1].isoformat() if interval[1] else None,
        }
    return events
