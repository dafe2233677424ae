"""Streaming readers for saved JSON: shared by every import connector.

`iter_json_values(path)` yields each top-level JSON value of a file as it is read, never the
whole file at once:
- JSON Lines: one value per line (blank lines skipped);
- a JSON array: each element, decoded one at a time from a sliding buffer;
- a single JSON object (one API response page): that object.
Files ending in `.gz` are decompressed on the fly. A value that cannot be decoded becomes a
`Reject` naming the file and line (JSONL) or element index (array); decoding then goes on with the
next line, or stops at a truncated array's tail, so good records before the fault still land.

Hostile input is a Reject too, never an exception or unbounded memory: a line or element that is
not UTF-8 (only it is rejected), one nested deeper than Python's recursion limit, and one over
16 MiB (skipped a chunk at a time, never buffered whole). `zip_member_problem` is the shared check
readers of zips run before inflating a member (zip bombs).

On top of it, `read_json_records` and `read_json_items` turn a file's values into import pages (a
connector says what records a value holds), and `TextWindow` is the sliding buffer the readers
of other JSON layouts (Facebook's, Telegram's, a Twitter archive's) decode from.

A JSON line that is already in the raw layer's compact form (`RawRecord.from_json`'s
`json.dumps(..., ensure_ascii=False, separators=(",", ":"))`) is kept as it was read, so the
import does not decode and re-encode it with the slow stdlib codec: `iter_json_texts` yields that
text beside the value, and a reader passes it on as the payload (`read_json_records_with_text` as
the UTF-8 bytes read, which the lake writes as they are: `RawRecord.from_json` makes a `ReadRecord`
of them). See `_compact_line` for why the text is then exactly what `json.dumps` would have written.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO, TypeVar

import msgspec

from dissentry.connectors.base import Batcher, ImportFormatError, Page, RawRecord, Reject, json_excerpt

K = TypeVar("K")  # the kinds of item a platform's export holds (a string, or a connector's own type)

_CHUNK = 1 << 20
_MAX_VALUE_BYTES = 16 << 20  # one record larger than this is quarantined, never buffered whole
MAX_VALUE_BYTES = _MAX_VALUE_BYTES  # the same cap for CSV lines (connectors.tabular)
_decoder = json.JSONDecoder()
# bytes that are not UTF-8 survive decoding as lone surrogates, so one bad record can be rejected
# and the records around it still read
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_TOO_DEEP = "nested too deeply to decode (more levels of arrays/objects than Python's recursion limit)"

MAX_ZIP_MEMBER_BYTES = 1 << 30
"""A zip member inflating to more than this is not read (what a zip bomb would fill memory or disk with)."""
MAX_ZIP_RATIO = 100
"""JSON text deflates 5-20x; a member inflating over this many times its compressed size is a bomb."""
_RATIO_FLOOR = 16 << 20  # small members may compress as well as they like


def zip_member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member must not be inflated (zip bomb), or None. `zipfile` never inflates more than
    the size the member declares, so checking the declared size bounds what reading it can cost."""
    size = info.file_size
    if size > MAX_ZIP_MEMBER_BYTES:
        return f"inflates to {size:,} bytes, over the {MAX_ZIP_MEMBER_BYTES:,}-byte limit for one zip member: not read"
    if size > _RATIO_FLOOR and size > MAX_ZIP_RATIO * max(info.compress_size, 1):
        return (f"inflates {size // max(info.compress_size, 1):,} times its compressed size "
                f"({info.compress_size:,} -> {size:,} bytes), which looks like a zip bomb: not read")
    return None


class _GzipMembers(io.RawIOBase):
    """The decompressed bytes of a gzip file's members, one after another, as `gzip` reads them,
    except that bytes after the last whole member that do not begin another one (trailing garbage,
    zero padding a tool left) end the stream instead of failing it: the records before them stay."""

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._d = zlib.decompressobj(31)
        self._out = b""
        self._done = False
        self._members = 0
        self.trailing_bytes = 0
        # the stream ended inside a member: reported by the reader after the records before it,
        # never raised here, where io.BufferedReader would drop the bytes it had already read
        self.truncated = False

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        while not self._out and not self._done:
            if self._d.eof:
                self._members += 1
                rest = self._d.unused_data + self._fh.read(max(0, 2 - len(self._d.unused_data)))
                if not rest:
                    self._done = True
                    return
                if rest[:2] != b"\x1f\x8b":  # not another member: the end of the data
                    self.trailing_bytes = len(rest) + len(self._fh.read())
                    self._done = True
                    return
                self._d = zlib.decompressobj(31)
                data = rest
            else:
                data = self._d.unconsumed_tail or self._fh.read(_CHUNK)
                if not data:
                    self.truncated = True
                    self._done = True
                    return
            try:
                self._out = self._d.decompress(data, _CHUNK)
            except zlib.error as exc:
                if self._members:  # something after a whole member that only looked like one
                    self.trailing_bytes = len(data) + len(self._fh.read())
                    self._done = True
                    return
                raise gzip.BadGzipFile(f"not a valid gzip file: {exc}") from None

    def readinto(self, buffer: Any) -> int:
        self._fill()
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def close(self) -> None:
        self._fh.close()
        super().close()


def _open_binary(path: Path) -> BinaryIO:
    if path.suffix == ".gz":
        return io.BufferedReader(_GzipMembers(path), _CHUNK)  # type: ignore[return-value]
    # a chunk at a time, as for gzip: with the default 8 KiB buffer, reading lines of a few KiB
    # was a read call every few records
    return open(path, "rb", buffering=_CHUNK)


def _open_text(path: Path) -> io.TextIOBase:
    return io.TextIOWrapper(_open_binary(path), encoding="utf-8", errors="surrogateescape", newline="")


def _first_significant_char(path: Path) -> str:
    try:
        with _open_text(path) as fh:
            while chunk := fh.read(4096):
                stripped = chunk.lstrip("\ufeff \t\r\n")
                if stripped:
                    if _UNDECODABLE.match(stripped):
                        raise ImportFormatError(f"{path}: not UTF-8 text (it starts with a byte UTF-8 cannot hold)")
                    return stripped[0]
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ImportFormatError(f"{path}: cannot read: {exc}") from None
    return ""


def _read_line(fh: BinaryIO) -> tuple[bytes, int]:
    """The next line, or its first bytes and its full length when it is over the record limit."""
    line = fh.readline(_MAX_VALUE_BYTES + 1)
    if len(line) <= _MAX_VALUE_BYTES or line.endswith(b"\n"):
        return line, len(line)
    size = len(line)
    head = line[:2000]
    del line
    while rest := fh.readline(_CHUNK):  # skip the rest of the line a chunk at a time
        size += len(rest)
        if rest.endswith(b"\n"):
            break
    return head, size


def _looks_like_jsonl(path: Path) -> bool:
    """A first line that is a whole JSON object, or a whole array with more lines after it."""
    with _open_binary(path) as fh:
        first, size = _read_line(fh)
        if size > _MAX_VALUE_BYTES:  # an over-long first line: read line by line, so it alone is rejected
            return first.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")
        text = first.decode("utf-8", errors="surrogateescape").strip().lstrip("\ufeff")
        if not text:
            return False
        try:
            value, end = _decoder.raw_decode(text)
        except json.JSONDecodeError:
            return False
        except RecursionError:
            # too deep to decode: JSON Lines if more lines follow (the line reader rejects this one
            # alone), else one value the array or object reader rejects
            return _more_lines(fh)
        if end != len(text):
            return False
        if isinstance(value, dict):
            return True
        # one saved API page (an array) per line
        return isinstance(value, list) and _more_lines(fh)


def _more_lines(fh: BinaryIO) -> bool:
    """Whether a non-blank line follows (read a bounded line at a time)."""
    while True:
        line, size = _read_line(fh)
        if not line:
            return False
        if size > _MAX_VALUE_BYTES or line.strip():
            return True


def iter_json_values(path: Path) -> Iterator[tuple[str, Any | Reject]]:
    """Yield (locator, value) or (locator, Reject) for every top-level value in the file."""
    for locator, value, _ in iter_json_texts(path):
        yield locator, value


def iter_json_texts(path: Path) -> Iterator[tuple[str, Any | Reject, str | None]]:
    """As `iter_json_values`, with a third item: the value's text as read, when it is exactly
    `json.dumps(value, ensure_ascii=False, separators=(",", ":"))` (a compact JSON line), else None."""
    return _iter_json_texts(path, as_bytes=False)  # type: ignore[return-value]


def _iter_json_texts(path: Path, as_bytes: bool) -> Iterator[tuple[str, Any | Reject, str | bytes | None]]:
    path = Path(path)
    if not path.is_file():
        raise ImportFormatError(f"{path}: no such file")
    first = _first_significant_char(path)
    if first == "":
        raise ImportFormatError(f"{path}: the file is empty")
    if first not in "[{":
        raise ImportFormatError(f"{path}: not a JSON or JSON Lines file (starts with {first!r})")
    try:
        jsonl = _looks_like_jsonl(path)
    except (OSError, EOFError) as exc:
        raise ImportFormatError(f"{path}: cannot read: {exc}") from None
    if jsonl:
        yield from _iter_jsonl(path, as_bytes)
    elif first == "{":
        for locator, value in _iter_single_object(path):
            yield locator, value, None
    else:
        for locator, value in _iter_array(path):
            yield locator, value, None


class TextWindow:
    """A sliding window over a text stream, read a chunk at a time, for decoding JSON value by value.

    `buf[pos:]` is what is not consumed yet; `fill` drops what is and appends the next chunk, so
    memory holds about one chunk and one value, never the whole file.
    """

    def __init__(self, fh: IO[str], chunk: int | None = None) -> None:
        self.fh = fh
        self.chunk = chunk or _CHUNK
        self.buf = ""
        self.pos = 0
        self.eof = False

    def fill(self) -> bool:
        """Read the next chunk; False (and `eof` set) at the end of the stream."""
        if self.eof:
            return False
        chunk = self.fh.read(self.chunk)
        if not chunk:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return True

    def skip_chars(self, chars: str) -> str:
        """Move past any of `chars`; return the next character, or '' at the end of the stream."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in chars:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""

    def ensure(self, n: int) -> None:
        """Read on until `n` characters are not consumed yet, or the stream ends."""
        while len(self.buf) - self.pos < n and self.fill():
            pass


def read_json_records(path: Path, records_in: Callable[[str, Any], Iterable[RawRecord | Reject]]) -> Iterator[Page]:
    """Import pages of the records `records_in(locator, value)` makes of each top-level JSON value
    of a saved export, read as `iter_json_values` streams them (a value it cannot decode is a
    Reject already)."""
    return read_json_records_with_text(path, lambda locator, value, _text: records_in(locator, value))


def read_json_records_with_text(
    path: Path, records_in: Callable[[str, Any, bytes | None], Iterable[RawRecord | Reject]]
) -> Iterator[Page]:
    """As `read_json_records`, with `records_in(locator, value, text)` also given the value's compact
    JSON text, as the UTF-8 bytes read, when the reader holds it (`iter_json_texts`): a payload that
    needs no `json.dumps` (`RawRecord.from_json(..., compact=text)`) and no decoding either."""
    batch = Batcher()
    page = batch.page
    size = batch.size
    # the page is filled here rather than through Batcher.add/full: this loop runs once per record
    # of an export of millions, and two calls and a generator a record were measurable
    for locator, value, text in _iter_json_texts(path, as_bytes=True):
        if isinstance(value, Reject):
            page.rejects.append(value)
        else:
            for item in records_in(locator, value, text):
                (page.rejects if isinstance(item, Reject) else page.records).append(item)
                if len(page.records) + len(page.rejects) >= size:
                    yield page
                    batch.page = page = Page()
        if len(page.records) + len(page.rejects) >= size:
            yield page
            batch.page = page = Page()
    yield from batch.rest()


def read_json_items(
    path: Path,
    flatten: Callable[[str, Any], Iterable[tuple[str, Any, K | None]]],
    to_record: Callable[[K, Any, str], RawRecord | Reject],
    not_ours: Callable[[Path, Any], str],
    unknown: str,
) -> Iterator[Page]:
    """Import pages of a saved export whose JSON values hold items of the platform's kinds.

    `flatten(locator, value)` yields `(locator, item, kind)` for every item inside one top-level
    value, kind None for an item of no kind the platform has, and `to_record(kind, item, locator)`
    makes the raw record. An item of no kind before any of the platform's means the file is
    another platform's (ImportFormatError with `not_ours(path, item)`); after one, it is a Reject
    with the reason `unknown` and the import goes on.
    """
    seen_ours = False

    def records_in(locator: str, value: Any) -> Iterator[RawRecord | Reject]:
        nonlocal seen_ours
        for item_locator, item, kind in flatten(locator, value):
            if kind is None:
                if not seen_ours:
                    raise ImportFormatError(not_ours(path, item))
                yield Reject(item_locator, unknown, json_excerpt(item))
            else:
                seen_ours = True
                yield to_record(kind, item, item_locator)

    yield from read_json_records(path, records_in)


def _shown(raw: bytes) -> str:
    return raw[:2000].decode("utf-8", errors="backslashreplace")


def _decode_line(raw: bytes, line_no: int, locator: str) -> Any | Reject:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Reject(locator, f"line {line_no} is not UTF-8 text ({exc.reason} at byte {exc.start} of the line)",
                      _shown(raw))
    text = text.strip().lstrip("\ufeff")
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        return Reject(locator, f"invalid JSON on line {line_no}: {exc.msg} at column {exc.colno}", text[:2000])
    except RecursionError:
        return Reject(locator, f"line {line_no} is {_TOO_DEEP}", text[:2000])


def _exact_float(token: str) -> float:
    """A float literal, refused (so the line goes the stdlib's way) unless `json.dumps` writes it back
    as the same text: msgspec writes exponents differently (1e16, not 1e+16)."""
    value = float(token)  # what json.loads makes of it
    if repr(value) != token:
        raise ValueError(token)
    return value


_fast_decode = msgspec.json.Decoder(float_hook=_exact_float).decode
_fast_encode = msgspec.json.Encoder().encode


def _compact_line(raw: bytes) -> tuple[Any, str] | None:
    """(value, text) of a JSON Lines object already in compact form, or None: the line then goes
    the stdlib's way (`_decode_line`), which decides, and words, everything else.

    The text is `json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))` whenever
    msgspec reads the line and writes it back byte for byte: msgspec's compact output differs from
    the stdlib's only in how floats are written (strings are escaped alike, tested for every code
    point in tests/unit/test_exports_compact.py; integers are exact at any size), and a float whose
    text `repr` would not give back is refused while decoding. Whitespace, other escapes (\\u00e9,
    \\/), `-0`, a repeated key, NaN: each makes the written-back bytes differ, so the line is left to
    the stdlib. The value is the same as json.loads's: the same strings, ints, and `float(token)`.
    """
    compact = _compact_bytes(raw)
    return None if compact is None else (compact[0], compact[1].decode("utf-8"))


def _compact_bytes(raw: bytes) -> tuple[Any, bytes] | None:
    """As `_compact_line`, with the text as the UTF-8 bytes it was read as (valid UTF-8: msgspec
    decoded them). An import keeps them so: decoding every line to a str, which the lake then
    encoded back to UTF-8 for Parquet, was a tenth of an import's CPU."""
    body = raw[:-1] if raw.endswith(b"\n") else raw
    if body.endswith(b"\r"):
        body = body[:-1]
    if not (body.startswith(b"{") and body.endswith(b"}")):
        return None
    try:
        value = _fast_decode(body)
        if _fast_encode(value) != body:
            return None
    except (msgspec.MsgspecError, ValueError, RecursionError, UnicodeError, MemoryError):
        return None
    return value, body


def _iter_jsonl(path: Path, as_bytes: bool = False) -> Iterator[tuple[str, Any | Reject, str | bytes | None]]:
    """Each line's (locator, value or Reject, compact text or None); the text as bytes with `as_bytes`."""
    with _open_binary(path) as fh:
        line_no = 0
        while True:
            try:
                raw, size = _read_line(fh)
            except (EOFError, OSError) as exc:  # a gzip stream cut short
                yield f"{path}:{line_no + 1}", Reject(f"{path}:{line_no + 1}", f"file is truncated: {exc}"), None
                return
            if not raw:
                if getattr(getattr(fh, "raw", None), "truncated", False):
                    yield f"{path}:{line_no + 1}", Reject(f"{path}:{line_no + 1}", "file is truncated: the gzip "
                                                          "stream ends before its end-of-stream marker"), None
                return
            line_no += 1
            locator = f"{path}:{line_no}"
            if size > _MAX_VALUE_BYTES:
                yield locator, Reject(locator, f"line {line_no} is {size:,} bytes, over the {_MAX_VALUE_BYTES:,}-byte "
                                               "limit for one record: not read", _shown(raw)), None
                continue
            compact = _compact_bytes(raw)
            if compact is not None:
                yield locator, compact[0], compact[1] if as_bytes else compact[1].decode("utf-8")
                continue
            value = _decode_line(raw, line_no, locator)
            if value is not None:
                yield locator, value, None


def _iter_single_object(path: Path) -> Iterator[tuple[str, Any | Reject]]:
    locator = f"{path}:1"
    try:
        with _open_binary(path) as fh:
            raw = fh.read(_MAX_VALUE_BYTES + 1)
    except (EOFError, OSError) as exc:
        yield locator, Reject(locator, f"cannot read: {exc}")
        return
    if len(raw) > _MAX_VALUE_BYTES:
        yield locator, Reject(locator, f"one JSON object of over {_MAX_VALUE_BYTES:,} bytes, the limit for one "
                                       "record: not read", _shown(raw))
        return
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield locator, Reject(locator, f"not UTF-8 text ({exc.reason} at byte {exc.start})", _shown(raw))
        return
    try:
        yield locator, json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        yield locator, Reject(locator, f"invalid or truncated JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                              text[:2000])
    except RecursionError:
        yield locator, Reject(locator, f"the JSON object is {_TOO_DEEP}", text[:2000])


def _iter_array(path: Path) -> Iterator[tuple[str, Any | Reject]]:
    """Decode a top-level array element by element from a sliding buffer."""
    with _open_text(path) as fh:
        window = TextWindow(fh)
        index = 0
        try:
            window.fill()
            if window.skip_chars("\ufeff \t\r\n") == "[":
                window.pos += 1
            while True:
                nxt = window.skip_chars(" \t\r\n,")
                if nxt == "":
                    locator = f"{path}[{index}]"
                    yield locator, Reject(locator, "file is truncated: the JSON array is not closed with ']'")
                    return
                if nxt == "]":
                    return
                locator = f"{path}[{index}]"
                while True:
                    buf, pos = window.buf, window.pos
                    try:
                        value, end = _decoder.raw_decode(buf, pos)
                        break
                    except RecursionError:
                        # where the element ends is unknown, so nothing after it can be read
                        yield locator, Reject(locator, f"element {index} is {_TOO_DEEP}; the rest of the "
                                                       "array was not read", buf[pos : pos + 2000])
                        return
                    except json.JSONDecodeError as exc:
                        if len(buf) - pos > _MAX_VALUE_BYTES:
                            reason = (f"element {index} is over the {_MAX_VALUE_BYTES:,}-byte limit for one "
                                      "record; the rest of the array was not read")
                        elif not window.fill():
                            reason = f"file is truncated inside element {index} ({exc.msg})"
                        else:
                            continue
                        yield locator, Reject(locator, reason, window.buf[window.pos : window.pos + 2000])
                        return
                if _UNDECODABLE.search(buf, pos, end):
                    yield locator, Reject(locator, f"element {index} is not UTF-8 text",
                                          buf[pos : min(end, pos + 2000)].encode("utf-8", "surrogateescape")
                                          .decode("utf-8", "backslashreplace"))
                else:
                    yield locator, value
                index += 1
                window.pos = end
        except UnicodeDecodeError as exc:
            locator = f"{path}[{index}]"
            yield locator, Reject(locator, f"not UTF-8 text: {exc.reason}")
        except (EOFError, OSError) as exc:
            locator = f"{path}[{index}]"
            yield locator, Reject(locator, f"file is truncated: {exc}")
