"""Telegram: chats and channels from Telegram Desktop's JSON export ("Machine-readable JSON").

Import only: Telegram has no public read API for channels that works without a user session, so
dissentry reads what a user exports (Settings -> Advanced -> Export Telegram data, or a chat's
menu -> Export chat history). Two layouts of `result.json` (tdesktop's
Telegram/SourceFiles/export/output/export_output_json.cpp writes both):
- one chat: `{"name", "type", "id", "messages": [...]}` (`name` is absent for Saved Messages);
- the whole account: `{"about", "personal_information", ..., "chats": {"about", "list": [chat, ...]},
  "left_chats": {"about", "list": [...]}, ...}`.
A chat's `name`, `type` and `id` are written before its `messages`.

The file can be gigabytes in one JSON object, so it is never loaded whole: `_Reader` walks the
object from a sliding buffer and decodes one message at a time. Each `type: "message"` becomes a
RawRecord `message` with id `<chat id>:<message id>` and payload `{"chat": {id, name, type},
"message": {...}}`; service and unsupported messages are skipped, not rejected. Contacts, sessions
and personal information are skipped without being stored.

Accepted paths: `result.json`, the export folder holding it (or a folder of such folders), or a zip
of the export. Files inside an export folder other than result.json (photos, stickers, ...) are
skipped quietly, so `dissentry import telegram ChatExport_2024-01-05/` works even though the
pipeline hands the connector every file of a folder.

Options (`[[sources]] options`): `chats` (names or ids to import; default all) and
`include_private_chats` (one-to-one, bot and Saved Messages chats; default: imported from a
single-chat export, which the user chose, skipped in a whole-account export, where they come along
incidentally and are not public communication).

Accounts: exports carry display names and from_ids (`user123`, `channel456`), never usernames, so
an account is best named in the config by its from_id (`telegram:channel456`), which is its
account id. `@name` mentions become `telegram:@name` with handle `name` (see mapping.sql).
"""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from dissentry.connectors.base import Batcher, Connector, ImportFormatError, Page, RawRecord, Reject, json_type_name
from dissentry.connectors.exports import TextWindow, zip_member_problem

if TYPE_CHECKING:
    from dissentry.connectors.base import Source

log = logging.getLogger(__name__)

ORIGIN = "https://t.me"  # Telegram ids are global: the same for every exporter
RESULT_NAME = "result.json"
PRIVATE_CHAT_TYPES = frozenset({"personal_chat", "bot_chat", "saved_messages", "replies"})
CHANNEL_TYPES = frozenset({"public_channel", "private_channel"})
SKIPPED_MESSAGE_TYPES = frozenset({"service", "unsupported"})
_TOP_KEYS = frozenset({
    "about", "personal_information", "profile_pictures", "stories", "contacts", "frequent_contacts",
    "sessions", "web_sessions", "other_data", "chats", "left_chats", "name", "type", "id", "messages",
})
_CHUNK = 1 << 20
_MAX_VALUE_CHARS = 64 << 20  # one message larger than this is quarantined, not buffered forever
_WS = " \t\r\n"
_STRUCTURAL = re.compile(r'[\[\]{}"]')
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# tdesktop writes control characters other than \n \r \t as `\xNN`, which is not JSON
_X_ESCAPE = re.compile(r'(?<!\\)((?:\\\\)*)\\x([0-9A-Fa-f]{2})')
_FROM_ID = re.compile(r"^(user|channel|chat)\d+$")
_decoder = json.JSONDecoder()


class TelegramOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chats: list[str | int] = []
    include_private_chats: bool | None = None


class _Broken(Exception):
    """The export's JSON structure is damaged here: stop, keeping what came before."""


@dataclass
class _Chat:
    id: int | None = None
    name: str | None = None
    type: str | None = None

    def meta(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": self.type}


class _Reader(TextWindow):
    """A cursor over one JSON text, read in chunks: walks objects and arrays, decodes values."""

    def __init__(self, fh: IO[str]) -> None:
        super().__init__(fh, _CHUNK)
        self.line = 1  # line number at `line_pos`
        self.line_pos = 0

    # -- buffer ---------------------------------------------------------------------------------
    def fill(self) -> bool:
        self.where()  # count the newlines the window may be about to drop
        dropped = self.pos
        if not super().fill():
            return False
        self.line_pos -= dropped
        return True

    def where(self) -> int:
        """Line number of the current position."""
        self.line += self.buf.count("\n", self.line_pos, self.pos)
        self.line_pos = self.pos
        return self.line

    def ws(self) -> None:
        self.skip_chars(_WS)

    def peek(self) -> str:
        self.ws()
        return self.buf[self.pos] if self.pos < len(self.buf) else ""

    def take(self, expected: str) -> None:
        char = self.peek()
        if char != expected:
            found = repr(char) if char else "the end of the file"
            raise _Broken(f"expected {expected!r} at line {self.where()}, found {found}")
        self.pos += 1

    # -- values ---------------------------------------------------------------------------------
    def _extent(self) -> int | None:
        """End index of the object/array/string starting at `pos` (brackets and strings only)."""
        offset, depth = 0, 0
        while True:
            match = _STRUCTURAL.search(self.buf, self.pos + offset)
            if match is None:
                offset = len(self.buf) - self.pos
            elif match.group() == '"':
                string = _STRING.match(self.buf, match.start())
                if string is not None:
                    offset = string.end() - self.pos
                    if depth == 0:
                        return string.end()
                    continue
                offset = match.start() - self.pos  # the string goes on in the next chunk
            else:
                depth += 1 if match.group() in "[{" else -1
                offset = match.end() - self.pos
                if depth == 0:
                    return match.end()
                continue
            if offset > _MAX_VALUE_CHARS or not self.fill():
                return None

    def value(self) -> Any:
        """Decode the value at `pos`. A damaged one raises ValueError after moving past it."""
        self.ws()
        try:
            value, end = _decoder.raw_decode(self.buf, self.pos)
            if end < len(self.buf) or self.eof:  # a number cut by the chunk edge decodes short
                self.pos = end
                return value
        except json.JSONDecodeError:
            pass
        if self.peek() not in '[{"':
            return self._scalar()
        end = self._extent()
        if end is None:
            raise _Broken(f"the file ends inside the value that starts at line {self.where()}")
        text = self.buf[self.pos : end]
        self.pos = end
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            try:
                return json.loads(_X_ESCAPE.sub(r"\1\\u00\2", text))
            except json.JSONDecodeError:
                raise ValueError(f"invalid JSON: {exc.msg} (line {exc.lineno} of the value)") from None

    def _scalar(self) -> Any:
        while True:
            try:
                value, end = _decoder.raw_decode(self.buf, self.pos)
                if end < len(self.buf) or self.eof:
                    self.pos = end
                    return value
            except json.JSONDecodeError:
                pass
            if not self.fill():
                raise _Broken(f"invalid JSON value at line {self.where()}")

    def skip(self) -> None:
        self.ws()
        if self.peek() in "[{":
            end = self._extent()
            if end is None:
                raise _Broken(f"the file ends inside the value that starts at line {self.where()}")
            self.pos = end
        else:
            self._scalar()

    # -- containers ------------------------------------------------------------------------------
    def members(self) -> Iterator[str]:
        """Each key of the object at `pos`; the caller reads or skips its value before the next."""
        self.take("{")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            if self.peek() != '"':
                raise _Broken(f"expected a key at line {self.where()}")
            key = self._scalar()
            self.take(":")
            yield key
            char = self.peek()
            self.pos += 1
            if char == "}":
                return
            if char != ",":
                raise _Broken(f"expected ',' or '}}' at line {self.where()}")

    def items(self) -> Iterator[int]:
        """Index of each element of the array at `pos`; the caller reads or skips it."""
        self.take("[")
        if self.peek() == "]":
            self.pos += 1
            return
        index = 0
        while True:
            yield index
            index += 1
            char = self.peek()
            self.pos += 1
            if char == "]":
                return
            if char != ",":
                found = repr(char) if char else "the end of the file"
                raise _Broken(f"expected ',' or ']' at line {self.where()}, found {found}")


# ---- messages ----------------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# the seconds of 0001-01-01 and 9999-12-31 UTC: the years the lake's timestamps hold (the mapping's
# `safe_timestamp` range). Beyond them DuckDB's to_timestamp raises, which would stop the whole normalise
FIRST_SECOND = -62_135_596_800
END_SECOND = 253_402_214_400


def _date_problem(message: dict[str, Any]) -> str | None:
    unix = message.get("date_unixtime")
    if unix is not None:
        if isinstance(unix, str) and unix.isascii() and unix.isdigit():
            seconds = int(unix) if len(unix) <= 20 else END_SECOND  # int() refuses 4,300 digits and more
        elif _is_int(unix):
            seconds = unix
        else:
            return f"date_unixtime {str(unix)[:40]!r} is not a number of seconds"
        if not FIRST_SECOND <= seconds < END_SECOND:
            return f"date_unixtime {str(unix)[:40]!r} is out of range (not a second of the years 1 to 9999)"
        return None
    date = message.get("date")  # exports before date_unixtime existed
    if not isinstance(date, str):
        return "date is missing" if date is None else f"date is {json_type_name(date)}"
    return _local_date_problem(date)


# The `date` forms the mapping reads (DuckDB's TRY_CAST AS TIMESTAMP, then the years 1 to 9999)
# and Python reads alike. `fromisoformat` alone took more ('2024-01-01T10', '20240101T100000',
# '2024-W01-1', a decimal comma, a lower-case 't'): such a message passed the import, and then
# normalise, reading no date, made no post of it. Hours stop at 23 because DuckDB reads 24:00:00
# (as the next day) and Python does not; an offset is read by both and, as in the mapping, ignored.
_LOCAL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?"
                         r"(?:Z|[+-]\d{2}:\d{2})?)?", re.ASCII)
_LATEST_LOCAL = datetime(9999, 12, 31)  # the mapping reads a `date` before this only


def _local_date_problem(date: str) -> str | None:
    """Why the mapping could not read `date` as a post's time, or None."""
    try:
        if not _LOCAL_DATE.fullmatch(date):
            raise ValueError(date)
        parsed = datetime.fromisoformat(date).replace(tzinfo=None)
    except ValueError:
        return (f"date {date[:40]!r} is not a date and time of the form 2024-01-05T11:00:00 "
                "(YYYY-MM-DD, then optionally THH:MM[:SS[.ffffff]] and an offset)")
    if parsed >= _LATEST_LOCAL:
        return f"date {date[:40]!r} is out of range (not a time of the years 1 to 9999)"
    return None


def _text_problem(message: dict[str, Any]) -> str | None:
    text = message.get("text", "")
    if isinstance(text, list):
        for part in text:
            if not isinstance(part, str) and not (isinstance(part, dict) and isinstance(part.get("text"), str)):
                return "text holds a part that is neither a string nor an entity with text"
    elif not isinstance(text, str):
        return f"text is {json_type_name(text)}"
    entities = message.get("text_entities")
    if entities is not None:
        if not isinstance(entities, list):
            return f"text_entities is {json_type_name(entities)}, not an array"
        for entity in entities:
            if not (isinstance(entity, dict) and isinstance(entity.get("type"), str)
                    and isinstance(entity.get("text"), str)):
                return "text_entities holds an entry without a type and a text"
    return None


def message_problem(message: dict[str, Any], chat: _Chat) -> str | None:
    """Why a `type: message` entry cannot be used, or None."""
    if not _is_int(message.get("id")):
        return "id is missing or not a number"
    problem = _date_problem(message) or _text_problem(message)
    if problem:
        return problem
    from_id = message.get("from_id")
    if from_id is None:
        if chat.type not in CHANNEL_TYPES:  # channels post as themselves; old exports omit from_id
            return "from_id is missing: the author cannot be told"
    elif not (_is_int(from_id) or (isinstance(from_id, str) and _FROM_ID.match(from_id))):
        return f"from_id {str(from_id)[:40]!r} is neither userN, channelN, chatN nor a number"
    reply = message.get("reply_to_message_id")
    if reply is not None and not _is_int(reply):
        return "reply_to_message_id is not a number"
    return None


def _message_item(value: Any, chat: _Chat, locator: str) -> RawRecord | Reject | None:
    def reject(reason: str) -> Reject:
        return Reject(locator, reason, json.dumps(value, ensure_ascii=False)[:2000])

    if not isinstance(value, dict):
        return reject(f"a message is {json_type_name(value)}, not an object")
    kind = value.get("type")
    if kind in SKIPPED_MESSAGE_TYPES:
        return None
    if kind != "message":
        return reject(f"message type {str(kind)[:40]!r} is neither 'message' nor 'service'")
    problem = message_problem(value, chat)
    if problem:
        return reject(f"not a usable Telegram message: {problem}")
    payload = {"chat": chat.meta(), "message": value}
    return RawRecord.from_json("message", f"{chat.id}:{value['id']}", payload, ORIGIN, locator)


# ---- walking an export ---------------------------------------------------------------------------------


@dataclass
class _Walk:
    """One result.json being read: where it is, what to keep, what was skipped."""

    label: str  # the file, or zip!member, for locators and messages
    options: TelegramOptions
    full_export: bool = False
    chats_seen: int = 0
    chats_skipped: int = 0

    def wanted(self, chat: _Chat) -> bool:
        if self.options.chats:
            names = {str(c).strip().lower() for c in self.options.chats}
            if str(chat.id) not in names and (chat.name or "").strip().lower() not in names:
                return False
        private_ok = self.options.include_private_chats
        if private_ok is None:
            private_ok = not self.full_export
        return private_ok or chat.type not in PRIVATE_CHAT_TYPES


def _walk_chat(
    reader: _Reader, walk: _Walk, chat: _Chat, keys: Iterator[str] | None = None
) -> Iterator[RawRecord | Reject]:
    """The members of one chat object (`keys` when the caller already started reading it)."""
    for key in keys if keys is not None else reader.members():
        if key == "messages":
            walk.chats_seen += 1
            if not _is_int(chat.id):
                line = reader.where()
                reader.skip()
                yield Reject(f"{walk.label}:{line}", f"chat {chat.name!r} has no numeric id before its messages: "
                             "its messages were not imported")
            elif not walk.wanted(chat):
                walk.chats_skipped += 1
                reader.skip()
            else:
                yield from _walk_messages(reader, walk, chat)
        elif key in ("id", "name", "type"):
            try:
                value = reader.value()
            except ValueError:  # damaged: the chat's messages are then rejected for want of an id
                value = None
            setattr(chat, key, value if isinstance(value, int | str) and not isinstance(value, bool) else None)
        else:
            reader.skip()


def _walk_messages(reader: _Reader, walk: _Walk, chat: _Chat) -> Iterator[RawRecord | Reject]:
    for _index in reader.items():
        reader.ws()  # the locator names the line where the message starts
        locator = f"{walk.label}:{reader.where()}"
        try:
            value = reader.value()
        except ValueError as exc:
            yield Reject(locator, f"not a usable Telegram message: {exc}")
            continue
        item = _message_item(value, chat, locator)
        if item is not None:
            yield item


def _walk_chat_list(reader: _Reader, walk: _Walk) -> Iterator[RawRecord | Reject]:
    """`"chats": {"about": ..., "list": [chat, ...]}` of a whole-account export."""
    for key in reader.members():
        if key == "list":
            for _index in reader.items():
                yield from _walk_chat(reader, walk, _Chat())
        else:
            reader.skip()


def _walk_export(reader: _Reader, walk: _Walk, path_text: str) -> Iterator[RawRecord | Reject]:
    first = reader.peek()
    if first != "{":
        what = "empty" if first == "" else f"not one JSON object (it starts with {first!r})"
        raise ImportFormatError(f"{path_text}: the file is {what}; Telegram Desktop's result.json is one object")
    keys = reader.members()
    first_key = next(keys, None)
    if first_key not in _TOP_KEYS:
        raise ImportFormatError(
            f"{path_text}: not a Telegram Desktop JSON export (its first key is {first_key!r}, not "
            "'about' or a chat's 'name', 'type' or 'id')"
        )
    walk.full_export = first_key == "about"
    chat = _Chat()

    def all_keys() -> Iterator[str]:
        assert first_key is not None
        yield first_key
        yield from keys

    found = False
    for key in all_keys():
        if key in ("chats", "left_chats"):
            walk.full_export = True
            found = True
            yield from _walk_chat_list(reader, walk)
        elif key in ("id", "name", "type", "messages"):
            found = found or key == "messages"
            yield from _walk_chat(reader, walk, chat, iter([key]))
        else:
            reader.skip()
    if not found:
        raise ImportFormatError(f"{path_text}: a JSON object without 'messages' or 'chats': not a Telegram export")
    if reader.peek() != "":
        yield Reject(f"{walk.label}:{reader.where()}", "unexpected data after the export's closing '}' (ignored)")


# ---- files, folders and zips -----------------------------------------------------------------------------


def _open_text(raw: IO[bytes]) -> io.TextIOWrapper:
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")


def _export_parts(path: Path) -> list[tuple[str, Callable[[], AbstractContextManager[IO[bytes]]]]]:
    """(label, opener) of each result.json the path holds."""
    if path.is_dir():
        found = [path / RESULT_NAME] if (path / RESULT_NAME).is_file() else sorted(path.glob(f"*/{RESULT_NAME}"))
        if not found:
            raise ImportFormatError(
                f"{path}: no {RESULT_NAME} in this folder. Telegram Desktop writes it when you export in "
                "'Machine-readable JSON' format (an HTML export has messages.html instead)"
            )
        return [(str(f), partial(open, f, "rb")) for f in found]
    if not path.is_file():
        raise ImportFormatError(f"{path}: no such file")
    if zipfile.is_zipfile(path):
        return _zip_parts(path)
    if path.suffix.lower() in (".html", ".htm"):
        raise ImportFormatError(
            f"{path}: an HTML export; dissentry reads Telegram Desktop's 'Machine-readable JSON' export (result.json)"
        )
    return [(str(path), partial(open, path, "rb"))]


def _zip_parts(path: Path) -> list[tuple[str, Callable[[], AbstractContextManager[IO[bytes]]]]]:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = {info.filename: info for info in zf.infolist() if not info.is_dir()}
            names = list(infos)
    except zipfile.BadZipFile as exc:
        raise ImportFormatError(f"{path}: not a readable zip file: {exc}") from None
    unsafe = [n for n in names if n.startswith(("/", "\\")) or ".." in PurePosixPath(n.replace("\\", "/")).parts
              or re.match(r"^[A-Za-z]:", n)]
    if unsafe:
        raise ImportFormatError(f"{path}: the zip holds a member with an unsafe path ({unsafe[0]!r}); not imported")
    results = sorted(n for n in names if PurePosixPath(n).name == RESULT_NAME)
    for member in results:
        problem = zip_member_problem(infos[member])
        if problem:
            raise ImportFormatError(f"{path}!{member}: {problem}")
    if not results:
        raise ImportFormatError(
            f"{path}: no {RESULT_NAME} in this zip; dissentry reads Telegram Desktop's 'Machine-readable JSON' export"
        )

    return [(f"{path}!{member}", partial(_open_member, path, member)) for member in results]


@contextmanager
def _open_member(path: Path, member: str) -> Iterator[IO[bytes]]:
    """A zip member, streamed: never extracted to disk."""
    with zipfile.ZipFile(path) as zf, zf.open(member) as fh:
        yield fh


def _looks_like_result_json(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(256).decode("utf-8", errors="ignore")
    except OSError:
        return False
    return re.match(r'^\ufeff?\s*\{\s*"(about|name|type|id)"', head) is not None


def _inside_an_export(path: Path) -> bool:
    """A media file of an export folder: its Telegram result.json sits at most three folders up."""
    if path.name == RESULT_NAME or path.suffix.lower() in (".json", ".jsonl", ".ndjson", ".gz", ".zip"):
        return False
    return any(
        (parent / RESULT_NAME).is_file() and _looks_like_result_json(parent / RESULT_NAME)
        for parent in list(path.parents)[:4]
    )


class TelegramConnector(Connector):
    platform: ClassVar[str] = "telegram"
    mapping_file: ClassVar[Path] = Path(__file__).with_name("mapping.sql")
    reads_folders: ClassVar[bool] = True
    Options: ClassVar[type[BaseModel]] = TelegramOptions
    can_collect: ClassVar[bool] = False
    import_only_reason: ClassVar[str] = "export chats from Telegram Desktop as JSON"

    def read_export(self, path: Path, source: Source | None) -> Iterator[Page]:
        path = Path(path)
        options: TelegramOptions = self.options(source)
        if path.is_file() and _inside_an_export(path):
            log.debug("telegram: %s is a media file of an export, skipped", path)
            return
        for label, opener in _export_parts(path):
            yield from self._read_one(label, opener, options)

    def _read_one(self, label: str, opener: Callable[[], AbstractContextManager[IO[bytes]]],
                  options: TelegramOptions) -> Iterator[Page]:
        walk = _Walk(label, options)
        batch = Batcher()
        try:
            with opener() as raw, _open_text(raw) as fh:
                reader = _Reader(fh)
                try:
                    for item in _walk_export(reader, walk, label):
                        batch.add(item)
                        yield from batch.full()
                except _Broken as exc:
                    if not walk.chats_seen and not batch.page.records:
                        raise ImportFormatError(f"{label}: not a readable JSON export: {exc}") from None
                    where = f"{label}:{reader.where()}"
                    batch.page.rejects.append(Reject(where, f"the export is cut short or damaged: {exc}"))
        except UnicodeDecodeError as exc:
            if not walk.chats_seen and not batch.page.records:
                raise ImportFormatError(f"{label}: not UTF-8 text ({exc.reason})") from None
            batch.page.rejects.append(Reject(label, f"not UTF-8 text further on ({exc.reason}): the rest was not read"))
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            if not walk.chats_seen and not batch.page.records:
                raise ImportFormatError(f"{label}: cannot read: {exc}") from None
            batch.page.rejects.append(Reject(label, f"cannot read the rest of the file: {exc}"))
        if walk.chats_skipped:
            log.warning(
                "telegram: %s: skipped %d of %d chats (private one-to-one chats of a whole-account export are skipped "
                "unless options.include_private_chats = true; options.chats selects chats)",
                label, walk.chats_skipped, walk.chats_seen,
            )
        yield from batch.rest()
