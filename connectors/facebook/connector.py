"""Facebook: the owner's posts from a "Download Your Information" export (JSON format). Import only.

Meta offers no API for reading a person's own timeline for research, so this connector reads the
export a person downloads from Settings > Your information > Download your information, in JSON
format. It accepts the zip as downloaded, the unzipped folder, or one posts file. Layouts seen:

- 2024: `your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_N.json`,
  owner in `personal_information/profile_information/profile_information.json`;
- 2023: `your_activity_across_facebook/posts/your_posts__check_ins__photos_and_videos_N.json`;
- before: `posts/your_posts_N.json` (or `your_posts.json`), owner in
  `profile_information/profile_information.json`.

A posts file is a JSON array of posts, `{"timestamp", "data": [{"post": text}, {"update_timestamp"}],
"attachments": [{"data": [{"external_context": {"url", "name"}}, {"media": {...}}]}], "tags",
"title": "Alice shared a link."}`, or the same array wrapped as `{"status_updates_v2": [...]}`
(or `status_updates`). Other wrappers are refused with their key named.

Meta writes every string as its UTF-8 bytes escaped one by one (`"Zo\\u00c3\\u00ab"` for "Zoë");
each string is repaired with `s.encode("latin-1").decode("utf-8")` and left as it is when that
fails (a string already right, or with characters above U+00FF).

Posts carry no ids, so a post is `facebook:<owner-slug>:<timestamp>`; the n-th post (n >= 2) of a
read with the same timestamp gets `:<n>`. The owner's name comes from `options.owner` when set (so
a source can pin the handle its groups refer to), else from the export's profile_information.json;
without either the import is refused. Only the owner's name is kept from the profile: the file
holds e-mail addresses, phone numbers and birthdays, which never enter the lake.

Raw record: `record_type "post"`, payload `{"owner": {"name", "slug"}, "post": <the repaired post>}`;
mapping.sql derives text, links, kind and the shared person from it.
"""

from __future__ import annotations

import io
import json
import logging
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

from pydantic import BaseModel, ConfigDict

from dissentry.connectors.base import IMPORT_PAGE_SIZE as IMPORT_PAGE_SIZE  # re-exported: callers import it from here
from dissentry.connectors.base import Batcher, Connector, ImportFormatError, Page, RawRecord, Reject
from dissentry.connectors.base import ImportOnlyError as ImportOnlyError  # re-exported, as above
from dissentry.connectors.exports import TextWindow, zip_member_problem
from dissentry.connectors.identity import clean_text

if TYPE_CHECKING:
    from dissentry.connectors.base import Source

log = logging.getLogger(__name__)

PLATFORM = "facebook"
_MAX_POST_CHARS = 16 << 20  # one post larger than this is quarantined rather than buffered forever
WRAPPER_KEYS = ("status_updates_v2", "status_updates")
POSTS_FILE = re.compile(r"(?:^|/)posts/your_posts(?:__check_ins__photos_and_videos)?(?:_\d+)?\.json$")
POSTS_HTML = re.compile(r"(?:^|/)posts/your_posts(?:__check_ins__photos_and_videos)?(?:_\d+)?\.html?$")
PROFILE_FILES = (
    "personal_information/profile_information/profile_information.json",
    "profile_information/profile_information.json",
)
EXPORT_MARKERS = (*PROFILE_FILES, "your_facebook_activity", "your_activity_across_facebook")
_POST_KEYS = frozenset({"data", "attachments", "title", "tags"})
_decoder = json.JSONDecoder()

Json = dict[str, Any]


class FacebookOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    owner: str | None = None  # the export owner's name or handle, when profile_information.json is absent


# ---- strings -------------------------------------------------------------------------------------
def repair_text(value: str) -> str:
    """Undo the export's mojibake (UTF-8 bytes written as one \\u00XX escape each), when it is that."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def repair(value: Any) -> Any:
    """`repair_text` over every string of a decoded JSON value (keys are ASCII and stay)."""
    if isinstance(value, str):
        return repair_text(value)
    if isinstance(value, list):
        return [repair(v) for v in value]
    if isinstance(value, dict):
        return {k: repair(v) for k, v in value.items()}
    return value


def slug(name: str) -> str:
    """A name as a handle: lower case, runs of anything but letters and digits become one '-'.

    mapping.sql computes the same for the people whose posts the owner shared
    (`trim(regexp_replace(lower(clean_text(x)), '[^\\pL\\pN]+', '-', 'g'), '-')`), so combining
    marks left after NFKC are dropped here as DuckDB's lower() drops them. `clean_text` (NFKC, no
    zero-width or bidi characters) makes a look-alike spelling of a name the same handle.
    """
    out: list[str] = []
    gap = False
    for ch in clean_text(name).lower():
        category = unicodedata.category(ch)
        if category[0] in "LN":
            if gap and out:
                out.append("-")
            out.append(ch)
            gap = False
        elif category[0] != "M":
            gap = True
    return "".join(out)


# ---- the owner -----------------------------------------------------------------------------------
def profile_name(profile: Any) -> str | None:
    """The full name in a profile_information.json (`profile_v2.name.full_name`, or the older
    `profile.name.full_name` / `profile.name`)."""
    if not isinstance(profile, dict):
        return None
    body = profile.get("profile_v2", profile.get("profile"))
    if not isinstance(body, dict):
        return None
    name = body.get("name")
    if isinstance(name, dict):
        name = name.get("full_name")
    return repair_text(name).strip() if isinstance(name, str) and name.strip() else None


class Owner:
    def __init__(self, name: str, where: str) -> None:
        self.name = name
        self.slug = slug(name)
        if not self.slug:
            raise ImportFormatError(f"{where}: the owner's name {name!r} has no letters or digits to make a handle of")

    def as_json(self) -> Json:
        return {"name": self.name, "slug": self.slug}


def _owner(options: FacebookOptions, found: str | None, where: Path, hint: str) -> Owner:
    name = (options.owner or "").strip() or found
    if not name:
        raise ImportFormatError(
            f"{where}: cannot tell whose export this is: {hint}; import the whole export (zip or folder), "
            "or set options.owner = \"<name>\" on the source"
        )
    return Owner(name, str(where))


def _read_profile_file(path: Path) -> str | None:
    try:
        with path.open(encoding="utf-8") as fh:
            return profile_name(json.load(fh))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("%s: unreadable profile information: %s", path, exc)
        return None


def export_root(path: Path) -> Path | None:
    """The folder of an unzipped export that holds this file, if any."""
    for parent in list(path.parents)[:5]:
        if any((parent / marker).exists() for marker in EXPORT_MARKERS):
            return parent
    return None


# ---- streaming a posts file ----------------------------------------------------------------------
def _problem(post: Any) -> str | None:
    """Why a decoded element is not a usable post, or None."""
    if not isinstance(post, dict):
        return f"a post must be a JSON object, not a JSON {type(post).__name__}"
    ts = post.get("timestamp")
    if ts is None:
        return "the post has no integer timestamp"
    if isinstance(ts, bool) or not isinstance(ts, int):
        return f"the post's timestamp {json.dumps(ts, ensure_ascii=False)[:40]} is not an integer"
    if not 0 < ts < 32_503_680_000:  # before year 3000: a seconds value, not milliseconds
        return f"the post's timestamp {ts} is not seconds since 1970"
    for key in ("data", "attachments", "tags"):
        if key in post and not isinstance(post[key], list):
            return f"the post's {key!r} is not a list"
    return None


def _looks_like_post(value: Any) -> bool:
    return isinstance(value, dict) and "id" not in value and ("timestamp" in value or bool(_POST_KEYS & value.keys()))


def _not_posts_message(where: str, value: Any) -> str:
    if isinstance(value, dict) and "content" in value and "account" in value:
        return f"{where}: not a Facebook posts file: it holds Mastodon statuses (import it as mastodon)"
    if isinstance(value, dict) and ("post" in value or "uri" in value) and ("feed" in value or "record" in value):
        return f"{where}: not a Facebook posts file: it holds Bluesky posts (import it as bluesky)"
    if isinstance(value, dict):
        keys = ", ".join(sorted(value)[:8])
        return f"{where}: not a Facebook posts file: its first element is not a post (keys: {keys})"
    return f"{where}: not a Facebook posts file: its first element is a JSON {type(value).__name__}, not a post"


_WRAPPER_OPEN = re.compile(r'\{\s*"((?:[^"\\]|\\.)*)"\s*:\s*')


def iter_posts(fh: TextIO, where: str) -> Iterator[tuple[int, Any | Reject]]:
    """(index, element or Reject) for each element of a posts file's array, decoded one at a time.

    The array is the file's top level or the value of its one documented wrapper key. An element
    that is not valid JSON ends the read with a Reject (no safe place to resume in an array); the
    elements before it stand.
    """
    buf = TextWindow(fh)
    first = buf.skip_chars("\ufeff \t\r\n")
    if first == "":
        raise ImportFormatError(f"{where}: the file is empty")
    if first == "{":
        buf.ensure(4096)
        match = _WRAPPER_OPEN.match(buf.buf, buf.pos)
        key = match.group(1) if match else None
        if key not in WRAPPER_KEYS:
            shown = f"key {key!r}" if key is not None else "an object"
            raise ImportFormatError(
                f"{where}: not a Facebook posts file: it starts with {shown}, not a list of posts "
                f"(known wrappers: {', '.join(WRAPPER_KEYS)})"
            )
        assert match is not None
        buf.pos = match.end()
        first = buf.skip_chars(" \t\r\n")
    if first != "[":
        raise ImportFormatError(f"{where}: not a Facebook posts file: expected a JSON list of posts, found {first!r}")
    buf.pos += 1
    index = 0
    while True:
        nxt = buf.skip_chars(" \t\r\n,")
        if nxt == "":
            yield index, Reject(f"{where}[{index}]", "file is truncated: the list of posts is not closed with ']'")
            return
        if nxt == "]":
            return
        while True:
            try:
                value, end = _decoder.raw_decode(buf.buf, buf.pos)
                break
            except json.JSONDecodeError as exc:
                if len(buf.buf) - buf.pos > _MAX_POST_CHARS or not buf.fill():
                    reason = f"file is truncated inside post {index}" if buf.eof else f"invalid JSON: {exc.msg}"
                    yield index, Reject(f"{where}[{index}]", reason, buf.buf[buf.pos : buf.pos + 2000])
                    return
        yield index, value
        buf.pos = end
        index += 1


# ---- reading an export ---------------------------------------------------------------------------
class _Reader:
    """Turns posts into pages: ids for equal timestamps, rejects, the first-element format check."""

    def __init__(self, owner: Owner) -> None:
        self.owner = owner
        self.seen: dict[int, int] = {}
        self.batch = Batcher()

    @property
    def page(self) -> Page:
        return self.batch.page

    def add_file(self, fh: TextIO, where: str) -> Iterator[Page]:
        try:
            for index, value in iter_posts(fh, where):
                self._add(index, value, where)
                yield from self.batch.full()
        except UnicodeDecodeError as exc:
            self.page.rejects.append(Reject(where, f"not UTF-8 text: {exc.reason}"))

    def _add(self, index: int, value: Any, where: str) -> None:
        locator = f"{where}[{index}]"
        if isinstance(value, Reject):
            self.page.rejects.append(value)
            return
        if index == 0 and not _looks_like_post(value):
            raise ImportFormatError(_not_posts_message(where, value))
        problem = _problem(value)
        if problem:
            self.page.rejects.append(Reject(locator, problem, json.dumps(value, ensure_ascii=False)[:2000]))
            return
        ts = value["timestamp"]
        n = self.seen[ts] = self.seen.get(ts, 0) + 1
        record_id = f"{self.owner.slug}:{ts}" + (f":{n}" if n > 1 else "")
        payload = {"owner": self.owner.as_json(), "post": repair(value)}
        self.page.records.append(
            RawRecord.from_json("post", record_id, payload, f"facebook-export:{self.owner.slug}", locator)
        )

    def finish(self) -> Iterator[Page]:
        yield from self.batch.rest()


def _unsafe(name: str) -> bool:
    pure = PurePosixPath(name.replace("\\", "/"))
    return pure.is_absolute() or ".." in pure.parts or bool(re.match(r"^[A-Za-z]:", name))


def _natural(name: str) -> list[str | int]:
    """your_posts_2.json before your_posts_10.json, so equal timestamps number the same each time."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _html_hint(names: list[str]) -> str:
    if any(POSTS_HTML.search(n) for n in names):
        return " (this export is in HTML format: request a new one with Format: JSON)"
    return ""


def _no_posts(where: Path, names: list[str]) -> ImportFormatError:
    return ImportFormatError(
        f"{where}: no Facebook posts files found (expected your_facebook_activity/posts/"
        f"your_posts__check_ins__photos_and_videos_N.json or posts/your_posts_N.json){_html_hint(names)}"
    )


def _read_zip(path: Path, options: FacebookOptions) -> Iterator[Page]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFormatError(f"{path}: not a readable zip file: {exc}") from None
    with archive:
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
        unsafe = [n for n in names if _unsafe(n)]
        names = [n for n in names if not _unsafe(n)]
        posts = sorted((n for n in names if POSTS_FILE.search(n)), key=_natural)
        if not posts:
            raise _no_posts(path, names)
        found = None
        for member in PROFILE_FILES:
            for name in names:
                if name == member or name.endswith("/" + member):
                    problem = zip_member_problem(archive.getinfo(name))
                    if problem:  # the owner's name is optional: say why and go on without it
                        log.warning("%s!%s: %s", path, name, problem)
                        break
                    try:
                        found = profile_name(json.loads(archive.read(name).decode("utf-8")))
                    except (ValueError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
                        log.warning("%s!%s: unreadable profile information: %s", path, name, exc)
                    break
            if found:
                break
        owner = _owner(options, found, path, "the zip holds no profile_information.json (is it one part of a split "
                                              "export?)")
        reader = _Reader(owner)
        for name in unsafe:
            reader.page.rejects.append(Reject(f"{path}!{name}", "zip member with an absolute or '..' path: skipped"))
        for name in posts:
            problem = zip_member_problem(archive.getinfo(name))
            if problem:
                reader.page.rejects.append(Reject(f"{path}!{name}", problem))
                continue
            try:
                with archive.open(name) as raw:
                    yield from reader.add_file(io.TextIOWrapper(raw, encoding="utf-8"), f"{path}!{name}")
            except (zipfile.BadZipFile, EOFError, OSError) as exc:  # a damaged member: the next may be fine
                reader.page.rejects.append(Reject(f"{path}!{name}", f"cannot read the zip member: {exc}"))
        yield from reader.finish()


def _read_folder(root: Path, options: FacebookOptions) -> Iterator[Page]:
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    posts = sorted((n for n in names if POSTS_FILE.search(n)), key=_natural)
    if not posts:
        raise _no_posts(root, names)
    found = next((n for f in PROFILE_FILES if (root / f).is_file() and (n := _read_profile_file(root / f))), None)
    reader = _Reader(_owner(options, found, root, "the folder holds no profile_information.json"))
    for name in posts:
        with (root / name).open(encoding="utf-8", newline="") as fh:
            yield from reader.add_file(fh, str(root / name))
    yield from reader.finish()


def _read_file(path: Path, options: FacebookOptions, root: Path | None) -> Iterator[Page]:
    found = None
    if root is not None:
        found = next((n for f in PROFILE_FILES if (root / f).is_file() and (n := _read_profile_file(root / f))), None)
    owner = _owner(options, found, path, "no profile_information.json beside this file")
    reader = _Reader(owner)
    with path.open(encoding="utf-8", newline="") as fh:
        yield from reader.add_file(fh, str(path))
    yield from reader.finish()


def _first_element_check(path: Path) -> None:
    """Refuse a file that is not a posts file before asking who the owner is (clearer message)."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            for _index, value in iter_posts(fh, str(path)):
                if not isinstance(value, Reject) and not _looks_like_post(value):
                    raise ImportFormatError(_not_posts_message(str(path), value))
                return
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{path}: not UTF-8 text ({exc.reason})") from None


class FacebookConnector(Connector):
    platform: ClassVar[str] = PLATFORM
    mapping_file: ClassVar[Path] = Path(__file__).with_name("mapping.sql")
    reads_folders: ClassVar[bool] = True
    Options: ClassVar[type[BaseModel]] = FacebookOptions
    can_collect: ClassVar[bool] = False
    import_only_reason: ClassVar[str] = "Meta offers no API for this; download your information as JSON"

    def read_export(self, path: Path, source: Source | None) -> Iterator[Page]:
        path = Path(path)
        options: FacebookOptions = self.options(source)
        if path.is_dir():
            yield from _read_folder(path, options)
            return
        if not path.is_file():
            raise ImportFormatError(f"{path}: no such file or folder")
        if zipfile.is_zipfile(path):
            yield from _read_zip(path, options)
            return
        root = export_root(path)
        if root is not None and not POSTS_FILE.search(path.as_posix()):
            # one file of an unzipped export handed over alone (the pipeline expands folders into
            # files): only the posts files hold posts, the rest of the export is not ours to read
            log.debug("%s: part of a Facebook export, not a posts file: skipped", path)
            return
        if path.stat().st_size == 0:
            raise ImportFormatError(f"{path}: the file is empty")
        if path.suffix.lower() == ".zip":
            raise ImportFormatError(f"{path}: not a readable zip file")
        _first_element_check(path)
        yield from _read_file(path, options, root)
