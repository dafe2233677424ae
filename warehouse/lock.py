"""Advisory locks so two dissentry processes never write the same thing at once.

- `build`: normalise and transform rewrite the normalised layer and dissentry.duckdb; one at a
  time, and never while the other reads what it writes.
- `source-<platform>-<source>`: one collection or import per source at a time (its cursor).
- `ingest`: held *shared* by every collection and import, *exclusive* by `dissentry forget` while
  it registers and rewrites: an import running when forget starts would otherwise land the erased
  account's records after forget had listed the raw files (its guard was built before the register).
Collections of different sources run side by side: their raw files have unique names and appear
atomically. Readers need no lock: every file is replaced whole, by rename.

Locks are `flock`s on files under `<local_dir>/.locks/`; the kernel releases them when a process
dies, so a killed run never leaves a stale lock behind. They hold on one machine (and on a shared
POSIX file system). Workers of a cluster sharing a lake on object storage rely on the scheduler
instead: one-slot Airflow pools for the build and for each source (docs/airflow.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from dissentry.warehouse.lake import Lake, sanitise_partition_value


class WarehouseBusy(RuntimeError):
    """Another process holds the lock; the message says which and since when."""


@contextlib.contextmanager
def exclusive(lake: Lake, name: str, *, wait_seconds: float = 0.0, what: str = "") -> Iterator[None]:
    folder = lake.locks_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sanitise_partition_value(name)}.lock"
    with open(path, "a+", encoding="utf-8") as fh:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.seek(0)
                    holder = fh.read().strip() or "another process"
                    raise WarehouseBusy(
                        f"warehouse busy: {lake.root} is locked for {name!r} by {holder}; try again when it ends"
                    ) from None
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} ({what or name}) since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fh.flush()
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def shared(lake: Lake, name: str, *, what: str = "") -> Iterator[None]:
    """A lock many holders share, and none holds while `exclusive(lake, name)` is held."""
    folder = lake.locks_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sanitise_partition_value(name)}.lock"
    with open(path, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise WarehouseBusy(f"warehouse busy: {lake.root} is locked for {name!r} by {holder}, so {what or name} "
                                "cannot start; try again when it ends") from None
        try:
            yield  # shared holders write no holder line: the exclusive holder's line is the one shown
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
