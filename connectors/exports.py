"""Streaming readers for saved JSON: shared by every import connector.

`iter_json_values(path)` yields each top-level JSON value of a file as it is read, never the
whole file at once:
- JSON Lines: one value per line (blank lines skipped);
- a JSON array: each element, decoded one at a time from a sliding buffer;
- a single JSON object (one API response page): that object.
Files ending in `.gz` are decompressed on the fly. A value that cannot be decoded becomes a
`Reject` naming the file and line (JSONL) or element index (array); decoding then goes on with the
next line, or stops at a truncated array's tail, so good records before the fault still land.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.base import ImportFormatError, Reject

_CHUNK = 1 << 20
_MAX_VALUE_BYTES = 64 << 20  # one record larger than this is quarantined, not buffered forever
_decoder = json.JSONDecoder()


def _open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="")


def _first_significant_char(path: Path) -> str:
    try:
        with _open_text(path) as fh:
            while chunk := fh.read(4096):
                stripped = chunk.lstrip("\ufeff \t\r\n")
                if stripped:
                    return stripped[0]
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ImportFormatError(f"{path}: cannot read: {exc}") from None
    return ""


def _looks_like_jsonl(path: Path) -> bool:
    """A first line that is a whole JSON object, or a whole array with more lines after it."""
    with _open_text(path) as fh:
        first = fh.readline().strip()
        if not first:
            return False
        try:
            value, end = _decoder.raw_decode(first)
        except json.JSONDecodeError:
            return False
        if end != len(first):
            return False
        if isinstance(value, dict):
            return True
        # one saved API page (an array) per line
        return isinstance(value, list) and any(line.strip() for line in iter(fh.readline, ""))


def iter_json_values(path: Path) -> Iterator[tuple[str, Any | Reject]]:
    """Yield (locator, value) or (locator, Reject) for every top-level value in the file."""
    path = Path(path)
    if not path.is_file():
        raise ImportFormatError(f"{path}: no such file")
    first = _first_significant_char(path)
    if first == "":
        raise ImportFormatError(f"{path}: the file is empty")
    if first not in "[{":
        raise ImportFormatError(f"{path}: not a JSON or JSON Lines file (starts with {first!r})")
    if _looks_like_jsonl(path):
        yield from _iter_jsonl(path)
    elif first == "{":
        yield from _iter_single_object(path)
    else:
        yield from _iter_array(path)


def _iter_jsonl(path: Path) -> Iterator[tuple[str, Any | Reject]]:
    with _open_text(path) as fh:
        line_no = 0
        while True:
            try:
                line = fh.readline()
            except UnicodeDecodeError as exc:
                yield f"{path}:{line_no + 1}", Reject(f"{path}:{line_no + 1}", f"not UTF-8 text: {exc.reason}")
                return
            except (EOFError, OSError) as exc:  # a gzip stream cut short
                yield f"{path}:{line_no + 1}", Reject(f"{path}:{line_no + 1}", f"file is truncated: {exc}")
                return
            if not line:
                return
            line_no += 1
            text = line.strip()
            if not text:
                continue
            locator = f"{path}:{line_no}"
            try:
                yield locator, json.loads(text)
            except json.JSONDecodeError as exc:
                yield locator, Reject(locator, f"invalid JSON on line {line_no}: {exc.msg} at column {exc.colno}",
                                      text)


def _iter_single_object(path: Path) -> Iterator[tuple[str, Any | Reject]]:
    locator = f"{path}:1"
    try:
        with _open_text(path) as fh:
            text = fh.read()
        yield locator, json.loads(text)
    except json.JSONDecodeError as exc:
        yield locator, Reject(locator, f"invalid or truncated JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                              text[:2000])
    except (UnicodeDecodeError, EOFError, OSError) as exc:
        yield locator, Reject(locator, f"cannot read: {exc}")


def _iter_array(path: Path) -> Iterator[tuple[str, Any | Reject]]:
    """Decode a top-level array element by element from a sliding buffer."""
    with _open_text(path) as fh:
        buf = ""
        eof = False
        index = 0
        pos = 0
        started = False

        def fill() -> bool:
            nonlocal buf, pos, eof
            if eof:
                return False
            chunk = fh.read(_CHUNK)
            if not chunk:
                eof = True
                return False
            buf = buf[pos:] + chunk
            pos = 0
            return True

        def skip(chars: str) -> None:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in chars:
                    pos += 1
                if pos < len(buf) or not fill():
                    return

        try:
            fill()
            skip("\ufeff \t\r\n")
            if not started and buf[pos : pos + 1] == "[":
                pos += 1
                started = True
            while True:
                skip(" \t\r\n,")
                if pos >= len(buf):
                    locator = f"{path}[{index}]"
                    yield locator, Reject(locator, "file is truncated: the JSON array is not closed with ']'")
                    return
                if buf[pos] == "]":
                    return
                while True:
                    try:
                        value, end = _decoder.raw_decode(buf, pos)
                        break
                    except json.JSONDecodeError as exc:
                        if len(buf) - pos > _MAX_VALUE_BYTES or not fill():
                            locator = f"{path}[{index}]"
                            reason = (
                                f"file is truncated inside element {index}"
                                if eof
                                else f"invalid JSON in element {index}: {exc.msg}"
                            )
                            yield locator, Reject(locator, reason, buf[pos : pos + 2000])
                            return
                yield f"{path}[{index}]", value
                index += 1
                pos = end
        except UnicodeDecodeError as exc:
            locator = f"{path}[{index}]"
            yield locator, Reject(locator, f"not UTF-8 text: {exc.reason}")
        except (EOFError, OSError) as exc:
            locator = f"{path}[{index}]"
            yield locator, Reject(locator, f"file is truncated: {exc}")
