"""The connector contract: what every platform folder implements.

A connector knows one platform and nothing of DuckDB, Airflow or the lake. Given a source and a
cursor it yields `Page`s: raw records in the platform's own JSON shape, the records it had to
reject (for quarantine, with the reason), and the cursor to resume from once the page is durable.
Credentials are never read from the environment here: `collect` and `http_client_options` are
given `secrets`, a lookup by name (dissentry/secrets.py) that whoever runs the pipeline chose.
The pipeline (dissentry.pipeline) writes pages to the lake and commits cursors; the connector's
`mapping.sql` turns its raw records into the canonical schema during normalisation.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from dissentry.secrets import ENVIRONMENT, SecretLookup

if TYPE_CHECKING:
    from dissentry.connectors.http import HttpClient


class Source(Protocol):
    """A configured source as a connector reads it: dissentry.config.Source is one. The connectors sit
    below the configuration (which validates a source's options with its connector), so they name the
    fields they read instead of importing the config's model."""

    name: str
    platform: str
    instance: str | None
    accounts: list[str]
    hashtags: list[str]
    query: str | None
    options: dict[str, Any]
    token_env: str | None


IMPORT_PAGE_SIZE = 1000
"""Records and rejects per page read from a file: small enough to bound memory, large enough that
the lake does not fill with tiny files."""


@dataclass(frozen=True)
class RawRecord:
    record_type: str  # what the payload is in the platform's terms: status, account, feed_item, profile
    record_id: str  # the platform's id for it (dedup and erasure work on this)
    payload: str  # the platform's JSON, as text
    origin: str  # where the ids inside are valid: an instance URL, an AppView URL
    locator: str  # provenance: request URL without secrets, or file:line

    @staticmethod
    def from_json(record_type: str, record_id: str, obj: Any, origin: str, locator: str,
                  compact: str | bytes | None = None) -> RawRecord:
        """`compact`: the text `json.dumps` below would write, when the reader holds it already (a
        compact JSON line, connectors.exports.iter_json_texts): re-encoding was a sixth of an import's
        CPU. Given as its UTF-8 bytes, it is decoded only if `payload` is read (`ReadRecord`)."""
        if isinstance(compact, bytes):
            return ReadRecord(record_type, record_id, compact, origin, locator)
        payload = compact if compact is not None else json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        return RawRecord(record_type, record_id, payload, origin, locator)


class _DecodedOnRead:
    """`ReadRecord.payload`: its UTF-8 bytes decoded when first read, then kept (a non-data
    descriptor, so the instance's own `payload`, once there, is what is read)."""

    def __get__(self, record: ReadRecord | None, owner: type) -> Any:
        if record is None:
            return self
        text = record.utf8.decode("utf-8") if record.utf8 is not None else ""
        record.__dict__["payload"] = text
        return text


class ReadRecord(RawRecord):
    """A RawRecord whose payload came as the UTF-8 bytes of a compact JSON line (`utf8`), decoded
    only when `payload` is read. The import writes the bytes as they are (dissentry.ingest): decoding
    every line, which the lake then encoded back to UTF-8, was a tenth of an import's CPU. Equal to
    the RawRecord of the same fields; `dataclasses.replace` makes one of a str payload (utf8 None)."""

    payload = _DecodedOnRead()  # type: ignore[assignment]
    utf8: bytes | None

    def __init__(self, record_type: str, record_id: str, payload: str | bytes, origin: str, locator: str) -> None:
        fields = self.__dict__  # frozen: set once, here, as the dataclass's own __init__ would
        fields.update(record_type=record_type, record_id=record_id, origin=origin, locator=locator)
        if isinstance(payload, bytes):
            fields["utf8"] = payload
        else:
            fields.update(payload=payload, utf8=None)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RawRecord):
            return NotImplemented
        return (self.record_type, self.record_id, self.payload, self.origin, self.locator) == (
            other.record_type, other.record_id, other.payload, other.origin, other.locator)

    __hash__ = RawRecord.__hash__


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


class ImportOnlyError(ValueError):
    """An API collection was asked of a platform that can only be imported from files."""


class OptionsError(ValueError):
    """A source's `options` that its connector cannot use; the message names the source and the key."""


class NoOptions(BaseModel):
    """The options of a connector that takes none: any key given is a mistake."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_SECRET_KEY = re.compile(r"secret|password|token|credential|api_?key", re.IGNORECASE)


def options_problem(model: type[BaseModel], options: Mapping[str, Any]) -> str | None:
    """Why `options` do not fit `model`, as one line naming each key, or None when they do.

    An unknown key gets the closest known one ("did you mean"), because a typo is by far the
    likeliest cause, and the line ends with every known option so the fix is on screen.
    """
    try:
        model.model_validate(dict(options))
    except ValidationError as exc:
        known = list(model.model_fields)  # as declared: the main options first
        problems: list[str] = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            where = f"options.{key}" if key else "options"
            if err["type"] == "extra_forbidden" and _SECRET_KEY.search(key):
                # never nudge a secret towards a near-miss key: it belongs in the environment
                problems.append(f"{where}: credentials do not belong in the config file; name the environment "
                                "variable that holds them (token_env) instead")
            elif err["type"] == "extra_forbidden":
                close = difflib.get_close_matches(str(err["loc"][0]), known, n=1, cutoff=0.6)
                hint = f", did you mean {close[0]!r}?" if close else ""
                problems.append(f"{where}: unknown option{hint}")
            elif err["type"] == "missing":
                problems.append(f"{where}: required")
            else:
                problems.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
        return "; ".join(problems) + f" (known options: {', '.join(known) or 'none'})"
    return None


def reject(locator: str, reason: str, content: Any = "") -> Reject:
    """A record that cannot be used, with the reason; non-text content is kept as compact JSON."""
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return Reject(locator, reason, text)


class Batcher:
    """Gathers records and rejects into import pages of at most `size` items.

    Readers `add` what they read and `yield from batcher.full()` where a page may be complete,
    then `yield from batcher.rest()` at the end, so no reader counts page sizes itself.
    """

    def __init__(self, size: int = IMPORT_PAGE_SIZE) -> None:
        self.size = size
        self.page = Page()

    def add(self, item: RawRecord | Reject) -> None:
        (self.page.rejects if isinstance(item, Reject) else self.page.records).append(item)

    def __len__(self) -> int:
        return len(self.page.records) + len(self.page.rejects)

    def full(self) -> Iterator[Page]:
        """The current page, when it holds `size` items (then a fresh one starts)."""
        if len(self) >= self.size:
            page, self.page = self.page, Page()
            yield page

    def rest(self) -> Iterator[Page]:
        """The last, partly filled page, if anything is left in it."""
        if len(self):
            page, self.page = self.page, Page()
            yield page


def paged(items: Iterable[RawRecord | Reject], size: int = IMPORT_PAGE_SIZE) -> Iterator[Page]:
    """Import pages of `size` items from a stream of records and rejects."""
    batcher = Batcher(size)
    for item in items:
        batcher.add(item)
        yield from batcher.full()
    yield from batcher.rest()


class Connector(ABC):
    """One platform. Subclasses live in `connectors/<platform>/` and are listed in the registry."""

    platform: ClassVar[str]
    mapping_file: ClassVar[Path]  # SQL mapping raw records -> canonical posts and accounts
    reads_folders: ClassVar[bool] = False  # True: an export folder is handed over whole, not file by file
    Options: ClassVar[type[BaseModel]] = NoOptions  # the source's `options`, validated when the config loads
    can_collect: ClassVar[bool] = True  # False: import-only; `collect` refuses with ImportOnlyError
    import_only_reason: ClassVar[str] = "it has no API dissentry collects from"  # said by ImportOnlyError

    def options(self, source: Source | None) -> Any:
        """The source's `options` as this connector's `Options` (defaults without a source).

        Typed `Any` so each connector reads its own model's fields; the model is `self.Options`.
        """
        if source is None:
            return self.Options()
        problem = options_problem(self.Options, source.options)
        if problem:
            raise OptionsError(f"source {source.name!r} ({self.platform}): {problem}")
        return self.Options.model_validate(source.options)

    def import_only_error(self) -> ImportOnlyError:
        """The one wording of "this platform cannot be collected", with the command that works."""
        return ImportOnlyError(
            f"{self.platform} is import-only in dissentry ({self.import_only_reason}): give the source "
            f"`files = [...]` instead of accounts, hashtags or query, or run `dissentry import {self.platform} <file>`"
        )

    def collect(self, source: Source, cursor: dict[str, Any] | None, http: HttpClient,
                secrets: SecretLookup = ENVIRONMENT) -> Iterator[Page]:
        """Fetch from the platform's API, newest data first or oldest first as the API pages.

        `secrets(name)` gives a credential by the name of its environment variable ("" if unset).

        Collecting connectors override this; the default is the import-only refusal, raised when
        the pages are first asked for, so the error surfaces inside the run like any other.
        """
        raise self.import_only_error()
        yield Page()  # pragma: no cover - makes this a generator

    @abstractmethod
    def read_export(self, path: Path, source: Source | None) -> Iterator[Page]:
        """Read one saved file (JSON array, JSON object pages, or JSONL; optionally gzipped).

        Must stream: never hold a whole export in memory. A record that cannot be used becomes a
        `Reject` naming the file and line/index; the other records still land. A file that is not
        this platform's export at all raises ImportFormatError with a message naming the file.
        Pages are cut with `Batcher` or `paged` (IMPORT_PAGE_SIZE items each).
        """

    def http_client_options(self, source: Source, secrets: SecretLookup = ENVIRONMENT) -> dict[str, Any]:
        """Keyword arguments for `HttpClient` (rate-limit header parser, auth headers from `secrets`).

        Retries, waits and the request budget come from `[settings.collection]`, not from here.
        """
        return {}


def json_type_name(value: Any) -> str:
    """What JSON value `value` is, for a reject reason: 'an object', 'an array', 'a string', ..."""
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def json_excerpt(value: Any) -> str:
    """A value as compact JSON, cut to 10,000 characters: what a Reject keeps of a record."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))[:10_000]
