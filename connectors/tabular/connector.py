"""Generic tables of posts: CSV (`CsvConnector`) and JSON Lines (`JsonlConnector`). Import only.

For data sets that come as a table: a research archive, a scrape, another tool's export. The source
says which column holds what:

    [[sources]]
    name = "forum-dump"
    platform = "csv"
    files = ["data/forum.csv"]
    options.platform_label = "oldforum"             # namespace of ids; default "csv" / "jsonl"
    options.timestamp_format = "%d/%m/%Y %H:%M"     # optional strptime format; default ISO 8601 or epoch
    [sources.options.columns]                       # canonical column = column of the file
    post_id = "id"
    author = "user"
    created_at = "time"
    text = "body"
    url = "link"
    reply_to = "parent"

Canonical columns: post_id, author, created_at, text (required), and url, lang, author_name,
reply_to, reply_to_author, repost_of, repost_of_author, quote_of, quote_of_author, links (URLs
separated by spaces or commas), link_title, like_count, repost_count, reply_count. A canonical
column not in `columns` is read from a column of its own name when the file has one, so a file
whose header already uses these names needs no mapping. In JSON Lines a column may name a nested
field with dots (`user.screen_name`) when no key of that exact name exists.

Each row is mapped here, in Python, to one normalised record, `{"platform": label, "post_id",
"author", "created_at" (ISO 8601 UTC), "text", "links": [...], "hashtags": [...], "mentions": [...],
...}`, so mapping.sql only renames. Links are the URLs in the text plus the `links` column;
hashtags and @mentions come from the text. Timestamps without a zone are taken as UTC; a number is
epoch seconds (above 1e11, milliseconds). A row without an id or author, or with a timestamp that
does not parse, is quarantined naming the file, line and column; a file without a required column
is refused naming the column.

CSV is streamed with the csv module (UTF-8, a byte-order mark is dropped); the delimiter is the
one of `, ; tab |` found most often in the header line, unless options.delimiter says otherwise.
JSON Lines (and JSON arrays) are streamed by connectors.exports.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tempfile
import zipfile
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dissentry.connectors.base import IMPORT_PAGE_SIZE as IMPORT_PAGE_SIZE  # re-exported: callers import it from here
from dissentry.connectors.base import (
    Batcher,
    Connector,
    ImportFormatError,
    OptionsError,
    Page,
    RawRecord,
    Reject,
)
from dissentry.connectors.base import ImportOnlyError as ImportOnlyError  # re-exported, as above
from dissentry.connectors.exports import MAX_VALUE_BYTES, iter_json_values, zip_member_problem
from dissentry.connectors.identity import canonical_handle, leap_second_clamped
from dissentry.connectors.registry import CONNECTORS

if TYPE_CHECKING:
    from dissentry.connectors.base import Source

REQUIRED = ("post_id", "author", "created_at", "text")
OPTIONAL = (
    "url", "lang", "author_name", "reply_to", "reply_to_author", "repost_of", "repost_of_author",
    "quote_of", "quote_of_author", "links", "link_title", "like_count", "repost_count", "reply_count",
)
CANONICAL = REQUIRED + OPTIONAL
COUNTS = ("like_count", "repost_count", "reply_count")
DELIMITERS = (",", ";", "\t", "|")
_LABEL = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")
URL = re.compile(r"https?://[^\s<>\"'\]\[{}|\\^`]+", re.IGNORECASE)
_URL_TAIL = ".,;:!?)]}'\""
HASHTAG = re.compile(r"(?<![\w&#/])#(\w+)")
MENTION = re.compile(r"(?<![\w@/.])@(\w(?:[\w.-]*\w)?)")


TabularOptionsError = OptionsError
"""The name this module gave the options error before the connector contract v2."""


class TabularOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, str] = Field(default_factory=dict)  # canonical column -> the file's column
    platform_label: str | None = None  # namespace of post and account ids
    timestamp_format: str | None = None  # strptime format of created_at
    delimiter: str | None = None  # CSV only; else the header line decides

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, columns: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(columns) - set(CANONICAL))
        if unknown:
            raise ValueError(f"unknown canonical column(s) {', '.join(unknown)} (known: {', '.join(CANONICAL)})")
        empty = sorted(k for k, v in columns.items() if not v.strip())
        if empty:
            raise ValueError(f"column(s) {', '.join(empty)} map to an empty name")
        return columns

    @field_validator("platform_label")
    @classmethod
    def _label(cls, label: str | None) -> str | None:
        if label is not None and not _LABEL.match(label):
            raise ValueError(f"platform_label {label!r} must be 1-32 lower-case letters, digits, '_', '.' or '-'")
        return label

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, delimiter: str | None) -> str | None:
        if delimiter is not None and len(delimiter) != 1:
            raise ValueError(f"delimiter {delimiter!r} must be one character")
        return delimiter


class CsvOptions(TabularOptions):
    """`options` of a csv source."""

    @model_validator(mode="after")
    def _label_no_platform(self) -> CsvOptions:
        problem = label_problem(self.platform_label, "csv")
        if problem:
            raise ValueError(problem)
        return self


class JsonlOptions(TabularOptions):
    """`options` of a jsonl source: as csv's, but a JSON Lines file has no delimiter."""

    @field_validator("delimiter")
    @classmethod
    def _no_delimiter(cls, delimiter: str | None) -> str | None:
        if delimiter is not None:
            raise ValueError("delimiter is for CSV files only")
        return delimiter

    @model_validator(mode="after")
    def _label_no_platform(self) -> JsonlOptions:
        problem = label_problem(self.platform_label, "jsonl")
        if problem:
            raise ValueError(problem)
        return self


def label_problem(label: str | None, platform: str) -> str | None:
    """Why `label` cannot namespace this table's ids: it names a platform dissentry reads itself,
    whose post ids (`mastodon:...`) the table's rows would collide with and pass for."""
    if label is None or label == platform or label not in CONNECTORS:
        return None
    return (f"platform_label {label!r} is the name of a platform dissentry reads itself: the table's posts "
            f"would pass for {label} posts and their ids collide with them; choose another label, "
            f"such as {label + '-archive'!r}")


# ---- values --------------------------------------------------------------------------------------
class BadValue(ValueError):
    """One cell that cannot be used; the message names the column."""


def parse_timestamp(value: Any, fmt: str | None) -> datetime:
    """ISO 8601, epoch seconds (milliseconds above 1e11), or `fmt`; a time without a zone is UTC."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not a timestamp")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        if not text:
            raise ValueError("empty")
        text = leap_second_clamped(text)  # 23:59:60 is kept, as 23:59:59
        if fmt:
            parsed = datetime.strptime(text, fmt)
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
        try:
            number = float(text)
        except ValueError:
            parsed = datetime.fromisoformat(text)
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    if number != number or abs(number) > 1e15:  # NaN, or beyond any plausible milliseconds
        raise ValueError(f"{value!r} is out of range")
    if abs(number) > 1e11:
        number /= 1000
    return datetime.fromtimestamp(number, UTC)


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds" if moment.microsecond else "seconds").replace(
        "+00:00", "Z"
    )


def cell_text(value: Any) -> str | None:
    """A cell as text; None for an empty cell or JSON null. Whole floats lose their '.0' (ids)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    text = str(value).strip()
    return text or None


def _trim_url(url: str) -> str:
    """Drop the punctuation a sentence puts after a URL; a ')' closing a '(' in the URL stays."""
    while url and url[-1] in _URL_TAIL:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def urls_in(text: str) -> list[str]:
    return [_trim_url(u) for u in URL.findall(text)]


def split_links(value: Any) -> list[str]:
    if isinstance(value, list):
        items = [cell_text(v) or "" for v in value]
    else:
        items = re.split(r"[\s,]+", cell_text(value) or "")
    return [u for u in (i.strip() for i in items) if re.match(r"^https?://", u, re.IGNORECASE)]


def handle(value: str) -> str:
    """One spelling per account: NFKC, no zero-width or bidi characters, lower case, IDNA host."""
    return canonical_handle(value)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


# ---- rows -> records -----------------------------------------------------------------------------
class Mapper:
    """Maps one row (dict of the file's columns) to the normalised record, or raises BadValue."""

    def __init__(self, options: TabularOptions, label: str) -> None:
        self.options = options
        self.label = label

    def source_column(self, canonical: str) -> str:
        return self.options.columns.get(canonical, canonical)

    def csv_columns(self, header: set[str]) -> dict[str, str]:
        """canonical -> header column for every column to read. A required column, or one the
        options map, that the header lacks raises KeyError(canonical)."""
        out: dict[str, str] = {}
        for canonical in CANONICAL:
            column = self.source_column(canonical)
            if column in header:
                out[canonical] = column
            elif canonical in REQUIRED or canonical in self.options.columns:
                raise KeyError(canonical)
        return out

    def jsonl_columns(self, first: dict[str, Any]) -> dict[str, str]:
        """canonical -> key (or dotted path) for every column. JSON rows leave out empty fields, so
        only the required columns must be in the first row; KeyError(canonical) when one is not."""
        for canonical in REQUIRED:
            if not has_field(first, self.source_column(canonical)):
                raise KeyError(canonical)
        return {canonical: self.source_column(canonical) for canonical in CANONICAL}

    def record(self, row: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
        def get(canonical: str) -> Any:
            column = columns.get(canonical)
            return None if column is None else lookup(row, column)

        post_id = cell_text(get("post_id"))
        if post_id is None:
            raise BadValue(f"column {columns['post_id']!r} (post_id) is empty")
        author = cell_text(get("author"))
        if author is None or not handle(author):
            raise BadValue(f"column {columns['author']!r} (author) is empty")
        raw_time = get("created_at")
        try:
            created = parse_timestamp(raw_time, self.options.timestamp_format)
        except (ValueError, OverflowError, OSError) as exc:
            fmt = self.options.timestamp_format or "ISO 8601 or epoch seconds"
            raise BadValue(
                f"column {columns['created_at']!r} (created_at): cannot read {raw_time!r} as a timestamp ({fmt}): {exc}"
            ) from None
        text = cell_text(get("text")) or ""
        out: dict[str, Any] = {
            "platform": self.label,
            "post_id": post_id,
            "author": handle(author),
            "created_at": iso_utc(created),
            "text": text,
        }
        for canonical in ("url", "lang", "author_name", "link_title", "reply_to", "repost_of", "quote_of"):
            value = cell_text(get(canonical))
            if value is not None:
                out[canonical] = value
        for canonical in ("reply_to_author", "repost_of_author", "quote_of_author"):
            value = cell_text(get(canonical))
            if value is not None and handle(value):
                out[canonical] = handle(value)
        for canonical in COUNTS:
            value = cell_text(get(canonical))
            if value is not None:
                try:
                    out[canonical] = int(float(value))
                except (ValueError, OverflowError):
                    raise BadValue(f"column {columns[canonical]!r} ({canonical}): {value!r} is not a number") from None
        out["links"] = _unique(urls_in(text) + split_links(get("links")))
        without_urls = URL.sub(" ", text)
        out["hashtags"] = _unique([t.lower() for t in HASHTAG.findall(without_urls)])
        out["mentions"] = _unique([handle(m) for m in MENTION.findall(without_urls)])
        return out


_ABSENT = object()


def _field(row: dict[str, Any], column: str) -> Any:
    if column in row:
        return row[column]
    node: Any = row
    for part in column.split("."):
        if not isinstance(node, dict) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def lookup(row: dict[str, Any], column: str) -> Any:
    """`row[column]`, or a nested field `a.b.c` when no key is literally `column`; None if absent."""
    value = _field(row, column)
    return None if value is _ABSENT else value


def has_field(row: dict[str, Any], column: str) -> bool:
    return _field(row, column) is not _ABSENT


def _missing(path: Path, canonical: str, column: str, found: list[str]) -> ImportFormatError:
    shown = ", ".join(repr(c) for c in found[:12]) + (", ..." if len(found) > 12 else "")
    return ImportFormatError(
        f"{path}: no column {column!r} for {canonical} (columns found: {shown or 'none'}); "
        f"map it with options.columns.{canonical} = \"<column>\""
    )


def _to_record(mapper: Mapper, row: dict[str, Any], columns: dict[str, str], locator: str,
               content: str) -> RawRecord | Reject:
    try:
        record = mapper.record(row, columns)
    except BadValue as exc:
        return Reject(locator, str(exc), content)
    return RawRecord.from_json("post", record["post_id"], record, mapper.label, locator)


# ---- CSV -----------------------------------------------------------------------------------------
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def _delimiter(header_line: str, configured: str | None) -> str:
    if configured:
        return configured
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties keep the order: ',' first
    return best if counts[best] else ","


def read_csv(path: Path, options: TabularOptions, label: str) -> Iterator[Page]:
    if not path.is_file():
        raise ImportFormatError(f"{path}: no such file")
    mapper = Mapper(options, label)
    try:
        # bytes that are not UTF-8 become lone surrogates, so only the rows holding them are rejected
        fh = open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")  # noqa: SIM115 - closed in finally
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read: {exc}") from None
    try:
        try:
            header_line = fh.readline()
        except UnicodeDecodeError as exc:
            raise ImportFormatError(f"{path}: not UTF-8 text ({exc.reason})") from None
        if not header_line.strip():
            raise ImportFormatError(f"{path}: the file is empty (a CSV file needs a header line)")
        if _UNDECODABLE.search(header_line):
            raise ImportFormatError(f"{path}: not UTF-8 text (the header line holds bytes UTF-8 cannot)")
        delimiter = _delimiter(header_line, options.delimiter)
        header = [h.strip() for h in next(csv.reader(io.StringIO(header_line), delimiter=delimiter), [])]
        try:
            columns = mapper.csv_columns(set(header))
        except KeyError as exc:
            canonical = exc.args[0]
            raise _missing(path, canonical, mapper.source_column(canonical), header) from None
        yield from _csv_rows(path, fh, header, columns, mapper, delimiter)
    finally:
        fh.close()


def _csv_rows(path: Path, fh: io.TextIOBase, header: list[str], columns: dict[str, str], mapper: Mapper,
              delimiter: str) -> Iterator[Page]:
    pages = Batcher()
    lines = _LineCounter(fh)
    reader = csv.reader(lines, delimiter=delimiter)
    while True:
        start = lines.count + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            lines.oversized = None  # the row is rejected either way
            pages.add(Reject(f"{path}:{start}", f"unreadable CSV row: {exc}"))
            yield from pages.full()
            continue
        except UnicodeDecodeError as exc:
            pages.add(Reject(f"{path}:{start}", f"not UTF-8 text from here on: {exc.reason}"))
            break
        if lines.oversized is not None:
            line_no, size = lines.oversized
            lines.oversized = None
            pages.add(Reject(f"{path}:{start}", f"line {line_no} is {size:,} characters, over the "
                                    f"{MAX_VALUE_BYTES:,}-character limit for one record: the row was not read"))
            yield from pages.full()
            continue
        if not any(c.strip() for c in cells):
            continue
        if any(_UNDECODABLE.search(c) for c in cells):
            shown = delimiter.join(cells)[:2000].encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            pages.add(Reject(f"{path}:{start}", f"the row on line {start} is not UTF-8 text", shown))
            yield from pages.full()
            continue
        row = dict(zip(header, cells, strict=False))
        content = delimiter.join(cells)[:2000]
        pages.add(_to_record(mapper, row, columns, f"{path}:{start}", content))
        yield from pages.full()
    yield from pages.rest()


class _LineCounter:
    """Iterates a file's lines for csv.reader while counting them, so a row's first line is known.

    A line longer than the record cap is never read whole (a 1 GiB field would be, and then held
    again by csv): it is skipped a chunk at a time and stands in the row as an empty line, and
    `oversized` says which line it was and how long, so that row is quarantined."""

    def __init__(self, fh: io.TextIOBase) -> None:
        self.fh = fh
        self.count = 1  # the header line was read already
        self.oversized: tuple[int, int] | None = None  # (line number, characters)

    def __iter__(self) -> _LineCounter:
        return self

    def __next__(self) -> str:
        # a megabyte at a time: an over-long line is dropped as soon as it passes the cap
        parts: list[str] = []
        size = 0
        while piece := self.fh.readline(1 << 20):
            size += len(piece)
            if size <= MAX_VALUE_BYTES:
                parts.append(piece)
            elif parts:
                parts = []
            if piece.endswith("\n"):
                break
        if not size:
            raise StopIteration
        self.count += 1
        if size > MAX_VALUE_BYTES:
            self.oversized = (self.count, size)
            return "\n"
        return parts[0] if len(parts) == 1 else "".join(parts)


# ---- JSON Lines ----------------------------------------------------------------------------------
def read_jsonl(path: Path, options: TabularOptions, label: str) -> Iterator[Page]:
    mapper = Mapper(options, label)
    pages = Batcher()
    columns: dict[str, str] | None = None
    for locator, value in iter_json_values(path):
        if isinstance(value, Reject):
            item: RawRecord | Reject = value
        elif not isinstance(value, dict):
            item = Reject(locator, f"a row must be a JSON object, not a JSON {type(value).__name__}",
                          json.dumps(value, ensure_ascii=False)[:2000])
        else:
            if columns is None:
                # the first row stands for the file: a required column it lacks is a wrong mapping
                # or a wrong file, not one bad row
                try:
                    columns = mapper.jsonl_columns(value)
                except KeyError as exc:
                    canonical = exc.args[0]
                    raise _missing(path, canonical, mapper.source_column(canonical), sorted(value)) from None
            item = _to_record(mapper, value, columns, locator, json.dumps(value, ensure_ascii=False)[:2000])
        pages.add(item)
        yield from pages.full()
    yield from pages.rest()


# ---- connectors ----------------------------------------------------------------------------------
def _in_zip_too(path: Path, suffixes: tuple[str, ...], read: Any) -> Iterator[Page]:
    """`read(path)` for a plain file; for a zip, `read` on each member with one of `suffixes`.

    A member is copied, bounded by the zip-bomb check, to a private temporary file (the readers
    stream from files); locators then name `file.zip!member`, never the temporary path.
    """
    if not zipfile.is_zipfile(path):
        yield from read(path)
        return
    with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory(prefix="dissentry-") as tmp:
        members = [m for m in archive.infolist() if not m.is_dir() and m.filename.lower().endswith(suffixes)]
        if not members:
            raise ImportFormatError(f"{path}: a zip with no {' or '.join(suffixes)} file in it")
        for n, info in enumerate(members):
            label = f"{path}!{info.filename}"
            problem = zip_member_problem(info)
            if problem or info.filename.startswith("/") or ".." in Path(info.filename).parts:
                yield Page(rejects=[Reject(label, problem or "unsafe path in the zip: not read")])
                continue
            member = Path(tmp) / f"{n}{Path(info.filename).suffix}"
            with archive.open(info) as src, open(member, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            for page in read(member):
                yield Page(
                    records=[replace(r, locator=r.locator.replace(str(member), label)) for r in page.records],
                    rejects=[replace(r, locator=r.locator.replace(str(member), label)) for r in page.rejects],
                    cursor=page.cursor,
                )
            member.unlink()


class _TabularConnector(Connector):
    """A table of posts, one row each: the formats below share the mapping and the reading of a zip."""

    mapping_file: ClassVar[Path] = Path(__file__).with_name("mapping.sql")
    can_collect: ClassVar[bool] = False
    import_only_reason: ClassVar[str] = "a table of posts has no API"
    suffixes: ClassVar[tuple[str, ...]]  # the members of a zip that are read

    def read_export(self, path: Path, source: Source | None) -> Iterator[Page]:
        options: TabularOptions = self.options(source)
        label = options.platform_label or self.platform
        yield from _in_zip_too(Path(path), self.suffixes, lambda p: self.read_file(p, options, label))

    @abstractmethod
    def read_file(self, path: Path, options: TabularOptions, label: str) -> Iterator[Page]:
        """The pages of one plain file of this format (a zip's member too, copied out first)."""


class CsvConnector(_TabularConnector):
    platform: ClassVar[str] = "csv"
    Options: ClassVar[type[BaseModel]] = CsvOptions
    suffixes: ClassVar[tuple[str, ...]] = (".csv", ".tsv", ".txt")

    def read_file(self, path: Path, options: TabularOptions, label: str) -> Iterator[Page]:
        return read_csv(path, options, label)


class JsonlConnector(_TabularConnector):
    platform: ClassVar[str] = "jsonl"
    Options: ClassVar[type[BaseModel]] = JsonlOptions
    suffixes: ClassVar[tuple[str, ...]] = (".jsonl", ".json", ".ndjson", ".gz")

    def read_file(self, path: Path, options: TabularOptions, label: str) -> Iterator[Page]:
        return read_jsonl(path, options, label)
