"""The peak resident memory of this process, as the kernel counts it for its own address space.

`getrusage(RUSAGE_SELF).ru_maxrss` is the wrong reading for a process started by a large one:
Linux carries the starter's high-water mark across vfork and exec (subprocess starts children
with vfork), so a child of a 900 MiB pytest reported 900 MiB whatever it did itself. VmHWM in
/proc/self/status belongs to the address space exec made, and writing "5" to /proc/self/clear_refs
resets it, so a measurement inside a long-lived process starts from what it holds now."""

from __future__ import annotations

from pathlib import Path

_STATUS = Path("/proc/self/status")


def _status_kib(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"{_STATUS} has no {field} line")


def peak_rss_mib() -> float:
    """The highest resident memory of this address space since exec or the last reset_peak_rss()."""
    return _status_kib("VmHWM") / 1024


def current_rss_mib() -> float:
    return _status_kib("VmRSS") / 1024


def reset_peak_rss() -> None:
    """Start the high-water mark again from the memory held now (Linux 4.0 and later)."""
    Path("/proc/self/clear_refs").write_text("5")
