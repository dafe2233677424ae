"""dissentry: measure dissent and echo chambers in online political communities."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Warehouse"]

if TYPE_CHECKING:
    from dissentry.api import Warehouse


def __getattr__(name: str) -> Any:
    # lazy: `import dissentry.config` (every command, every DAG parse) need not import DuckDB
    if name == "Warehouse":
        from dissentry.api import Warehouse

        return Warehouse
    raise AttributeError(f"module 'dissentry' has no attribute {name!r}")
