"""A generated corpus of hostile and broken export files, written into a test's tmp_path.

Each `Case` writes good records around one fault into a folder and says what a clean import of it
gives: how many records land, how many are quarantined, and words the quarantine reason (or the
run's error) must hold. Nothing large is committed: the 100 MB line and the zip bomb are streamed
to disk when a test asks for them.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MB = 1 << 20


# ---- records in each platform's shape --------------------------------------------------------------------
def mastodon_status(n: int, text: str = "hello", *, created_at: str | None = None, account: str = "alice",
                    content: str | None = None) -> dict[str, Any]:
    """A Mastodon Status with the fields the mapping reads."""
    return {
        "id": str(110_000_000_000_000_000 + n),
        "created_at": created_at or f"2026-02-0{1 + n % 9}T10:00:00.000Z",
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": f"https://social.example/users/{account}/statuses/{n}",
        "url": f"https://social.example/@{account}/{n}",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": n,
        "edited_at": None,
        "content": content if content is not None else f"<p>{text} {n}</p>",
        "reblog": None,
        "account": {"id": "1", "username": account, "acct": account, "display_name": account.title(),
                    "note": "", "url": f"https://social.example/@{account}",
                    "created_at": "2024-01-01T00:00:00.000Z", "followers_count": 1, "following_count": 2,
                    "statuses_count": 3},
        "media_attachments": [], "mentions": [], "tags": [], "emojis": [], "card": None, "poll": None,
    }


def bluesky_item(n: int, text: str = "hello", *, created_at: str | None = None,
                 handle: str = "alice.bsky.social") -> dict[str, Any]:
    """A FeedViewPost (getAuthorFeed element) with the fields the mapping reads."""
    did = "did:plc:aliceaaaaaaaaaaaaaaaaaaa"
    when = created_at or f"2025-03-1{n % 10}T09:00:00.000Z"
    return {"post": {
        "uri": f"at://{did}/app.bsky.feed.post/3lkpost{n:05d}",
        "cid": f"bafy{n:05d}",
        "author": {"did": did, "handle": handle, "displayName": "Alice"},
        "record": {"$type": "app.bsky.feed.post", "text": f"{text} {n}", "createdAt": when, "langs": ["en"]},
        "replyCount": 0, "repostCount": 0, "likeCount": n, "quoteCount": 0,
        "indexedAt": when if created_at is None else "2025-03-10T09:00:01.000Z",
    }}


def table_row(n: int, text: str = "hello", *, created_at: Any = None, author: str = "alice") -> dict[str, Any]:
    """A row of the generic jsonl/csv table (canonical column names)."""
    return {"post_id": f"p{n}", "author": author, "created_at": created_at or f"2026-01-0{1 + n % 9}T12:00:00Z",
            "text": f"{text} {n}"}


TELEGRAM_CHANNEL_ID = 1500000001


def telegram_message(n: int, text: str = "hello") -> dict[str, Any]:
    return {"id": n, "type": "message", "date": "2024-01-05T11:00:00", "date_unixtime": str(1704448800 + n),
            "from": "Org A News", "from_id": f"channel{TELEGRAM_CHANNEL_ID}", "text": f"{text} {n}",
            "text_entities": [{"type": "plain", "text": f"{text} {n}"}]}


def telegram_export(messages: list[Any]) -> bytes:
    """Telegram Desktop's result.json of one public channel."""
    chat = {"name": "Org A News", "type": "public_channel", "id": TELEGRAM_CHANNEL_ID, "messages": messages}
    return json.dumps(chat, ensure_ascii=False, indent=1).encode("utf-8")


def facebook_post(ts: int, text: str) -> dict[str, Any]:
    # Meta writes each UTF-8 byte as one code point; ASCII text is the same either way
    return {"timestamp": ts, "title": "", "data": [{"post": text}]}


FACEBOOK_PROFILE = json.dumps({"profile_v2": {"name": {"full_name": "Alice Example"}}})
FACEBOOK_POSTS = "your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_{n}.json"


# ---- writers -------------------------------------------------------------------------------------------------
def jsonl(*values: Any) -> bytes:
    return b"".join(json.dumps(v, ensure_ascii=False).encode("utf-8") + b"\n" for v in values)


def deep_json(depth: int) -> str:
    """`depth` nested arrays: valid JSON that Python's recursive decoder cannot read."""
    return "[" * depth + "]" * depth


def write_long_line(path: Path, size: int, before: bytes = b"", after: bytes = b"") -> Path:
    """`before`, then one JSON line of `size` bytes (a status whose content is one huge string), then
    `after`: streamed a megabyte at a time, never held in memory."""
    head = b'{"id": "1", "created_at": "2026-01-01T00:00:00Z", "content": "'
    tail = b'"}\n'
    with path.open("wb") as fh:
        fh.write(before)
        fh.write(head)
        left = size - len(head) - len(tail)
        chunk = b"x" * MB
        while left > 0:
            fh.write(chunk[: min(MB, left)])
            left -= MB
        fh.write(tail)
        fh.write(after)
    return path


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def write_zip_bomb(path: Path, member: str, size: int, prefix: bytes = b"") -> Path:
    """A zip whose one member inflates to `size` bytes of `prefix` + spaces: a few MB on disk."""
    filler = b" " * MB
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive, \
            archive.open(member, "w", force_zip64=True) as fh:
        fh.write(prefix)
        left = size - len(prefix)
        while left > 0:
            fh.write(filler[: min(MB, left)])
            left -= MB
    return path


# ---- the cases ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One hostile input: `build(folder)` writes it and returns the path to import."""

    id: str
    platform: str
    build: Callable[[Path], Path]
    landed: int  # good records that must reach raw
    quarantined: int  # rows the quarantine must hold
    reason: str  # words every quarantine reason (or, with no quarantine, the run's error) holds
    locator: str = ""  # a regex the quarantine locator must match after the file's path ("" = the path itself)
    bad_locator: bool = True  # whether the locator names a record (line/index) as well as the file


def _write(name: str, data: bytes | str) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        return path

    return build


def _cut(data: bytes, marker: bytes, extra: int) -> bytes:
    return data[: data.rindex(marker) + extra]


_ST = [mastodon_status(i) for i in range(1, 5)]
_BS = [bluesky_item(i) for i in range(1, 5)]
_ROWS = [table_row(i) for i in range(1, 5)]
_LATIN1 = json.dumps(mastodon_status(9, "café"), ensure_ascii=False).encode("latin-1") + b"\n"
_LATIN1_ROW = json.dumps(table_row(9, "café"), ensure_ascii=False).encode("latin-1") + b"\n"


def _telegram_zip_with(messages: list[Any], *, extra: dict[str, bytes] | None = None) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        return write_zip(folder / "export.zip",
                         {"ChatExport/result.json": telegram_export(messages), **(extra or {})})

    return build


def _facebook_zip_with(posts_files: dict[str, bytes]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        members = {"personal_information/profile_information/profile_information.json": FACEBOOK_PROFILE.encode()}
        return write_zip(folder / "facebook.zip", members | posts_files)

    return build


_FB_GOOD = json.dumps([facebook_post(1_700_000_000 + i, f"post {i}") for i in range(3)]).encode()

CASES: list[Case] = [
    # truncated JSON
    Case("mastodon-truncated-jsonl", "mastodon", _write("t.jsonl", _cut(jsonl(*_ST), b'{"id"', 30)),
         3, 1, "invalid JSON on line 4", ":4"),
    Case("mastodon-truncated-array", "mastodon", _write("t.json", _cut(json.dumps(_ST).encode(), b'{"id"', 30)),
         3, 1, "truncated", r"\[3\]"),
    Case("bluesky-truncated-array", "bluesky", _write("t.json", _cut(json.dumps(_BS).encode(), b'{"post"', 30)),
         3, 1, "truncated", r"\[3\]"),
    Case("jsonl-truncated", "jsonl", _write("t.jsonl", _cut(jsonl(*_ROWS), b'{"post_id"', 12)),
         3, 1, "invalid JSON on line 4", ":4"),
    Case("telegram-truncated-zip-member", "telegram",
         lambda f: write_zip(f / "export.zip", {"ChatExport/result.json": _cut(
             telegram_export([telegram_message(i) for i in range(1, 5)]), b'"id": 4', 5)}),
         3, 1, "cut short", r"!ChatExport/result\.json:\d+"),
    # invalid UTF-8 and mixed encodings
    Case("mastodon-latin1-line", "mastodon", _write("mixed.jsonl", jsonl(*_ST[:2]) + _LATIN1 + jsonl(*_ST[2:])),
         4, 1, "line 3 is not UTF-8", ":3"),
    Case("mastodon-latin1-array-element", "mastodon",
         _write("mixed.json", b"[" + b",".join([json.dumps(_ST[0]).encode(), _LATIN1.strip(),
                                               json.dumps(_ST[1]).encode()]) + b"]"),
         2, 1, "element 1 is not UTF-8", r"\[1\]"),
    Case("bluesky-invalid-utf8-line", "bluesky",
         _write("bad.jsonl", jsonl(_BS[0]) + b'{"post": "\xff\xfe\xfd"}\n' + jsonl(_BS[1])),
         2, 1, "line 2 is not UTF-8", ":2"),
    Case("jsonl-latin1-line", "jsonl", _write("mixed.jsonl", jsonl(*_ROWS[:2]) + _LATIN1_ROW + jsonl(*_ROWS[2:])),
         4, 1, "line 3 is not UTF-8", ":3"),
    Case("csv-latin1-row", "csv",
         _write("mixed.csv", b"post_id,author,created_at,text\np1,alice,2026-01-01T00:00:00Z,one\n"
                + "p2,alice,2026-01-01T00:00:00Z,café\n".encode("latin-1")
                + b"p3,alice,2026-01-01T00:00:00Z,three\n"),
         2, 1, "not UTF-8", ":3"),
    # NUL bytes
    Case("mastodon-nul-bytes-line", "mastodon",
         _write("nul.jsonl", jsonl(_ST[0]) + b'{"id": "2\x00", "content": "\x00"}\n' + jsonl(_ST[1])),
         2, 1, "invalid JSON on line 2", ":2"),
    Case("jsonl-nul-bytes-line", "jsonl", _write("nul.jsonl", jsonl(_ROWS[0]) + b"\x00\x00\x00\n" + jsonl(_ROWS[1])),
         2, 1, "invalid JSON on line 2", ":2"),
    # deep nesting
    Case("mastodon-deep-jsonl-line", "mastodon",
         _write("deep.jsonl", jsonl(_ST[0]) + ('{"a": ' + deep_json(10_000) + "}\n").encode() + jsonl(_ST[1])),
         2, 1, "nested too deeply", ":2"),
    Case("bluesky-deep-array-element", "bluesky",
         _write("deep.json", "[" + json.dumps(_BS[0]) + ", " + deep_json(10_000) + "]"),
         1, 1, "nested too deeply", r"\[1\]"),
    Case("jsonl-deep-single-object", "jsonl", _write("deep.json", '{"a":\n' + deep_json(10_000) + "\n}"),
         0, 1, "nested too deeply", ":1"),
    # empty files and the wrong platform's export
    Case("mastodon-empty-file", "mastodon", _write("empty.jsonl", b""), 0, 1, "the file is empty", "", False),
    Case("bluesky-whitespace-only", "bluesky", _write("blank.json", b"\n \n\t\n"), 0, 1, "the file is empty", "",
         False),
    Case("csv-empty-file", "csv", _write("empty.csv", b""), 0, 1, "the file is empty", "", False),
    Case("telegram-empty-zip", "telegram", lambda f: write_zip(f / "empty.zip", {}), 0, 1, "no result.json", "",
         False),
    Case("mastodon-given-bluesky", "mastodon", _write("bsky.jsonl", jsonl(*_BS)), 0, 1, "Bluesky", "", False),
    Case("bluesky-given-mastodon", "bluesky", _write("masto.json", json.dumps(_ST)), 0, 1, "Mastodon", "", False),
    Case("jsonl-given-telegram", "jsonl", _write("result.json", telegram_export([telegram_message(1)])),
         0, 1, "no column 'post_id'", "", False),
    Case("telegram-given-mastodon", "telegram", _write("masto.json", json.dumps(_ST)), 0, 1,
         "Telegram Desktop's result.json is one object", "", False),
    Case("facebook-given-mastodon", "facebook", _facebook_zip_with({FACEBOOK_POSTS.format(n=1): json.dumps(_ST)
                                                                    .encode()}),
         0, 1, "not a Facebook posts file", "", False),
    Case("mastodon-binary-file", "mastodon", _write("photo.json", b"\x89PNG\r\n\x1a\n" + bytes(range(256))),
         0, 1, "starts with", "", False),
    # unsafe zips
    Case("telegram-zip-slip", "telegram",
         _telegram_zip_with([telegram_message(1)], extra={"../../evil.txt": b"owned"}),
         0, 1, "unsafe path", "", False),
    Case("facebook-zip-slip", "facebook",
         _facebook_zip_with({FACEBOOK_POSTS.format(n=1): _FB_GOOD, "../../evil.json": _FB_GOOD}),
         3, 1, "'..' path", r"!\.\./\.\./evil\.json", False),
]
