"""Bounds on what DuckDB may use: memory, threads and spill disk (`[settings.resources]`).

Every connection normalise and transform open gets the same three settings:

- `memory_limit`: DuckDB's buffer limit. Default: 20% of the machine's physical memory, which leaves
  room for Python, the Arrow batches of the UDFs and the rest of the machine. DuckDB spills to disk
  past it rather than growing.
- `threads`: DuckDB's worker threads. Default: the machine's cores (DuckDB's own default).
- `max_spill`: DuckDB's `max_temp_directory_size`. Default: 3x the raw layer's size, at least 1 GiB,
  so a large build stops with "disk full" (dissentry/pipeline.py) before the disk does.

`DISSENTRY_DUCKDB_MEMORY_LIMIT`, when set, overrides `memory_limit` (an operator's one-off run, and
the disk-full tests, which need a tiny limit without writing a config).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    import duckdb

    from dissentry.warehouse.lake import Lake

MEMORY_ENV = "DISSENTRY_DUCKDB_MEMORY_LIMIT"
MEMORY_FRACTION = 0.2
"""Of physical memory, when `memory_limit` is not set."""
SPILL_PER_RAW_BYTE = 3
MIN_SPILL_BYTES = 1 << 30
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?I?B?)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'4GB', '512MiB', '2.5 GB', '1000000' -> bytes (ValueError otherwise)."""
    match = _SIZE.match(text)
    if not match or match.group(2).upper() not in _UNITS:
        raise ValueError(f"{text!r} is not a size such as '4GB' or '512MiB'")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def physical_memory_bytes() -> int:
    """The machine's physical memory (cgroup limits are DuckDB's to honour: it reads them too)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a small laptop
        return 8 * 2**30


class ResourceSettings(BaseModel):
    """`[settings.resources]`: what DuckDB may use in normalise and transform; unset: from the machine.
    It lives here, beside what it sets, so the configuration imports this module and not the reverse."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    memory_limit: str | None = None  # e.g. "4GB"; default 20% of physical memory
    threads: Annotated[int, Field(ge=1)] | None = None  # default: the machine's cores
    max_spill: str | None = None  # e.g. "20GB"; default 3x the raw layer's size, at least 1 GiB

    @field_validator("memory_limit", "max_spill")
    @classmethod
    def _a_size(cls, value: str | None) -> str | None:
        if value is not None:
            parse_size(value)
        return value


@dataclass(frozen=True)
class Limits:
    memory_bytes: int
    threads: int | None
    spill_bytes: int | None  # None: no cap (no lake, so nothing to size it from)


def resolve(settings: ResourceSettings | None, raw_bytes: int | None) -> Limits:
    """The limits a connection gets, from the setting, else from the machine and the lake."""
    memory = os.environ.get(MEMORY_ENV) or (settings.memory_limit if settings else None)
    memory_bytes = parse_size(memory) if memory else int(physical_memory_bytes() * MEMORY_FRACTION)
    threads = settings.threads if settings else None
    spill = settings.max_spill if settings else None
    if spill:
        spill_bytes: int | None = parse_size(spill)
    elif raw_bytes is not None:
        spill_bytes = max(MIN_SPILL_BYTES, SPILL_PER_RAW_BYTE * raw_bytes)
    else:
        spill_bytes = None
    return Limits(memory_bytes, threads, spill_bytes)


_ACTIVE: ContextVar[ResourceSettings | None] = ContextVar("dissentry_resources", default=None)


@contextlib.contextmanager
def configured(settings: ResourceSettings | None) -> Iterator[None]:
    """Connections opened inside get `settings` (pipeline.normalise/transform wrap their work)."""
    token = _ACTIVE.set(settings)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def raw_layer_bytes(lake: Lake) -> int:
    """Bytes of the raw layer's finished files (what a build reads; spill is sized from it)."""
    try:  # one listing, locally and in a bucket
        return int(lake.fs.du(lake.path("raw"), total=True))
    except (OSError, ValueError):  # no raw layer yet
        return 0


def apply(con: duckdb.DuckDBPyConnection, *, spill_dir: Path | None, lake: Lake | None = None) -> Limits:
    """Set the memory limit, threads, the spill folder (if given) and, with a lake, the spill cap."""
    limits = resolve(_ACTIVE.get(), raw_layer_bytes(lake) if lake is not None else None)
    con.execute(f"SET memory_limit = '{limits.memory_bytes}B'")
    if limits.threads is not None:
        con.execute(f"SET threads = {int(limits.threads)}")
    if spill_dir is not None:
        spill_dir.mkdir(parents=True, exist_ok=True)
        con.execute("SET temp_directory = ?", [spill_dir.as_posix()])
    if limits.spill_bytes is not None:
        con.execute(f"SET max_temp_directory_size = '{limits.spill_bytes}B'")
    return limits
