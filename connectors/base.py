"""The connector contract: what every platform folder implements.

A connector knows one platform and nothing of DuckDB, Airflow or the lake. Given a source and a
cursor it yields `Page`s: raw records in the platform's own JSON shape, the records it had to
reject (for quarantine, with the reason), and the cursor to resume from once the page is durable.
The pipeline (dissentry.pipeline) writes pages to the lake and commits cursors; the connector's
`mapping.sql` turns its raw records into the canonical schema during normalisation.
"""

from __future__ import annotations

import copy
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from connectors.http import HttpClient
    from dissentry.config import Source


@dataclass(frozen=True)
class RawRecord:
    record_type: str  # what the payload is in the platform's terms: status, account, feed_item, profile
    record_id: str  # the platform's id for it (dedup and erasure work on this)
    payload: str  # the platform's JSON, as text
    origin: str  # where the ids inside are valid: an instance URL, an AppView URL
    locator: str  # provenance: request URL without secrets, or file:line

    @staticmethod
    def from_json(record_type: str, record_id: str, obj: Any, origin: str, locator: str) -> RawRecord:
        return RawRecord(record_type, record_id, json.dumps(obj, ensure_ascii=False, separators=(",", ":")),
                         origin, locator)


@dataclass(frozen=True)
class Reject:
    """Input that could not be used. It is quarantined; it never stops the good records."""

    locator: str  # file and line/index, or request URL
    reason: str  # one line a person can act on
    content: str = ""  # the offending input (the lake truncates it)


@dataclass
class Page:
    records: list[RawRecord] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    cursor: dict[str, Any] | None = None  # resume point once this page (and all before it) is durable
    cap_hit: bool = False  # the platform stopped us short (a paging limit): coverage is partial


class TargetCursor:
    """A collection cursor of several targets (accounts, feeds, searches), each resumable on its own:
    `{"targets": {key: {"newest": <committed mark>, "pending": {...} | None}}}`. JSON-serialisable."""

    def __init__(self, cursor: dict[str, Any] | None) -> None:
        targets = (cursor or {}).get("targets")
        self.targets: dict[str, dict[str, Any]] = copy.deepcopy(targets) if isinstance(targets, dict) else {}

    def get(self, key: str) -> dict[str, Any]:
        state = self.targets.get(key)
        return state if isinstance(state, dict) else {"newest": None}

    def set(self, key: str, state: dict[str, Any]) -> None:
        self.targets[key] = state

    def snapshot(self) -> dict[str, Any]:
        return {"targets": copy.deepcopy(self.targets)}


class ImportFormatError(ValueError):
    """A file that is not an export this connector can read (wrong platform, not JSON, ...)."""


class Connector(ABC):
    """One platform. Subclasses live in `connectors/<platform>/` and are listed in the registry."""

    platform: ClassVar[str]
    mapping_file: ClassVar[Path]  # SQL mapping raw records -> canonical posts and accounts
    reads_folders: ClassVar[bool] = False  # True: an export folder is handed over whole, not file by file

    @abstractmethod
    def collect(self, source: Source, cursor: dict[str, Any] | None, http: HttpClient) -> Iterator[Page]:
        """Fetch from the platform's API, newest data first or oldest first as the API pages."""

    @abstractmethod
    def read_export(self, path: Path, source: Source | None) -> Iterator[Page]:
        """Read one saved file (JSON array, JSON object pages, or JSONL; optionally gzipped).

        Must stream: never hold a whole export in memory. A record that cannot be used becomes a
        `Reject` naming the file and line/index; the other records still land. A file that is not
        this platform's export at all raises ImportFormatError with a message naming the file.
        """

    def http_client_options(self, source: Source) -> dict[str, Any]:
        """Keyword arguments for `HttpClient` (rate-limit header parser, auth headers, budget)."""
        return {}
