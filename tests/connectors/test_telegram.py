"""The Telegram connector: Telegram Desktop JSON exports (one chat, whole account, pre-2021) read as
files, folders and zips, streamed message by message, and mapped to the canonical schema through
`dissentry.normalise.map_records`.

Expected values are worked out by hand from the fixtures (connectors/telegram/fixtures/README.md):
epoch seconds are converted with Python's datetime, lines are found by searching the file's text.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dissentry import pipeline
from dissentry.config import Config, Source
from dissentry.connectors.base import ImportFormatError, ImportOnlyError, Page, RawRecord, Reject
from dissentry.connectors.registry import get_connector
from dissentry.connectors.telegram import connector as telegram
from dissentry.connectors.telegram.connector import TelegramConnector
from dissentry.normalise import map_records

FIXTURES = Path(__file__).resolve().parents[2] / "connectors" / "telegram" / "fixtures"
SINGLE = FIXTURES / "single_chat" / "result.json"
FULL = FIXTURES / "full_export" / "result.json"
OLD = FIXTURES / "old_format" / "result.json"
NEWS = "1500000001"
GROUP = "1600000002"


def read(path: Path, source: Source | None = None) -> tuple[list[RawRecord], list[Reject], list[Page]]:
    pages = list(TelegramConnector().read_export(path, source))
    return [r for p in pages for r in p.records], [r for p in pages for r in p.rejects], pages


def records(path: Path, source: Source | None = None) -> list[RawRecord]:
    got, rejects, _ = read(path, source)
    assert rejects == []
    return got


def mapped(recs: list[RawRecord]) -> dict[str, list[dict[str, Any]]]:
    return {name: table.to_pylist() for name, table in map_records("telegram", recs).items()}


def posts_by_id(recs: list[RawRecord]) -> dict[str, dict[str, Any]]:
    return {p["post_id"]: p for p in mapped(recs)["posts"]}


def utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def line_of_message(path: Path, message_id: int, occurrence: int = 0) -> int:
    """1-based line of the '{' opening the message whose `"id": N,` line is the occurrence-th one."""
    lines = path.read_text(encoding="utf-8").splitlines()
    hits = [i for i, line in enumerate(lines) if line.strip() == f'"id": {message_id},']
    return hits[occurrence]  # the '{' is the line before: index i is line i + 1, minus one


def source(**options: Any) -> Source:
    return Source(name="tg", platform="telegram", files=["x"], options=options)


def write_export(path: Path, chat: dict[str, Any]) -> Path:
    path.write_text(json.dumps(chat, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def message(n: int, **extra: Any) -> dict[str, Any]:
    return {"id": n, "type": "message", "date": "2024-01-05T11:00:00", "date_unixtime": str(1704448800 + n),
            "from": "Org A News", "from_id": f"channel{NEWS}", "text": f"post {n}",
            "text_entities": [{"type": "plain", "text": f"post {n}"}], **extra}


def channel(messages: list[Any]) -> dict[str, Any]:
    return {"name": "Org A News", "type": "public_channel", "id": int(NEWS), "messages": messages}


# ---- the connector ----------------------------------------------------------------------------------


def test_registered_and_import_only() -> None:
    connector = get_connector("telegram")
    assert isinstance(connector, TelegramConnector)
    # the one import-only error of every such platform (issue 11)
    with pytest.raises(ImportOnlyError, match=r"telegram is import-only.*dissentry import telegram <file>"):
        list(connector.collect(source(), None, None))  # type: ignore[arg-type]


def test_single_chat_export_yields_one_record_per_message_and_skips_service_messages() -> None:
    got = records(SINGLE)
    assert [r.record_id for r in got] == [f"{NEWS}:{n}" for n in (2, 3, 4, 5, 6)]
    first = got[0]
    assert first.record_type == "message" and first.origin == "https://t.me"
    payload = json.loads(first.payload)
    assert payload["chat"] == {"id": 1500000001, "name": "Org A News", "type": "public_channel"}
    original = json.loads(SINGLE.read_text(encoding="utf-8"))["messages"][1]
    assert payload["message"] == original  # the platform's own JSON, untouched
    assert first.locator == f"{SINGLE}:{line_of_message(SINGLE, 2)}"


def test_single_chat_mapping() -> None:
    out = mapped(records(SINGLE))
    posts = {p["post_id"]: p for p in out["posts"]}
    assert sorted(posts) == [f"telegram:{NEWS}:{n}" for n in (2, 3, 4, 5, 6)]
    paper = posts[f"telegram:{NEWS}:2"]
    assert paper["author_id"] == "telegram:channel1500000001"
    # date_unixtime, not `date` (the exporter's local time, an hour ahead in the fixture)
    assert paper["created_at"] == utc(1704448800) == datetime(2024, 1, 5, 10, 0, tzinfo=UTC)
    assert paper["text"] == "Read our new paper: https://orga.example/paper?utm_source=tg #Climate"
    assert paper["kind"] == "post" and paper["url"] == "https://t.me/c/1500000001/2"
    assert paper["like_count"] is None
    assert posts[f"telegram:{NEWS}:3"]["text"] == "Interview with @JaneLeader here"

    forward = posts[f"telegram:{NEWS}:4"]
    assert forward["kind"] == "repost" and forward["text"] == "Worth reading."
    assert forward["repost_of_post_id"] is None and forward["repost_of_author_id"] is None  # "Other Channel": unknown
    own_forward = posts[f"telegram:{NEWS}:6"]
    assert own_forward["kind"] == "repost" and own_forward["repost_of_author_id"] == "telegram:channel1500000001"
    assert own_forward["text"] == "Reminder: vote on Sunday"

    reply = posts[f"telegram:{NEWS}:5"]
    assert reply["kind"] == "reply"
    assert reply["reply_to_post_id"] == f"telegram:{NEWS}:2"
    assert reply["reply_to_author_id"] == "telegram:channel1500000001"
    assert reply["text"] == "Join us: https://orga.example/join"  # the scheme-less link gets one
    assert reply["like_count"] == 7  # reactions 5 + 2

    assert sorted((r["post_id"], r["url"], r["domain"]) for r in out["post_links"]) == [
        (f"telegram:{NEWS}:2", "https://orga.example/paper", "orga.example"),  # tracking parameter dropped
        (f"telegram:{NEWS}:3", "https://news.example/interview", "news.example"),  # text_link href
        (f"telegram:{NEWS}:5", "https://orga.example/join", "orga.example"),
    ]
    assert out["post_mentions"] == [
        {"post_id": f"telegram:{NEWS}:3", "account_id": "telegram:@janeleader", "handle": "janeleader"}
    ]
    assert out["post_hashtags"] == [{"post_id": f"telegram:{NEWS}:2", "tag": "climate"}]
    (account,) = out["accounts"]
    assert (account["account_id"], account["handle"], account["display_name"]) == (
        "telegram:channel1500000001", "org a news", "Org A News")


def test_full_account_export_reads_chats_and_left_chats_and_skips_private_chats() -> None:
    got = records(FULL)
    assert [r.record_id for r in got] == [f"{GROUP}:{n}" for n in (10, 11, 12, 13, 14)] + [f"{NEWS}:2", f"{NEWS}:3"]
    everything = " ".join(r.payload for r in got)
    assert "+00 000" not in everything and "sam_research" not in everything  # contacts, personal info: not stored
    assert json.loads(got[-1].payload)["chat"]["type"] == "public_channel"  # from left_chats

    with_private = records(FULL, source(include_private_chats=True))
    assert [r.record_id for r in with_private][5] == "1001:50"


def test_full_account_export_mapping() -> None:
    out = mapped(records(FULL))
    posts = {p["post_id"]: p for p in out["posts"]}
    hello = posts[f"telegram:{GROUP}:10"]
    assert hello["author_id"] == "telegram:user1001" and hello["text"] == "Hello @bob_writes #OrgA"
    assert hello["created_at"] == utc(1704448800 + 200)
    reply = posts[f"telegram:{GROUP}:11"]
    assert (reply["kind"], reply["reply_to_post_id"], reply["reply_to_author_id"]) == (
        "reply", f"telegram:{GROUP}:10", "telegram:user1001")
    # forwarded from "Org A News": the one account with that name (the channel in left_chats)
    forward = posts[f"telegram:{GROUP}:12"]
    assert (forward["kind"], forward["repost_of_author_id"]) == ("repost", "telegram:channel1500000001")
    orphan = posts[f"telegram:{GROUP}:13"]  # replies to message 3 of the group, not in the export
    assert (orphan["reply_to_post_id"], orphan["reply_to_author_id"]) == (f"telegram:{GROUP}:3", None)
    assert posts[f"telegram:{GROUP}:14"]["author_id"] == "telegram:channel1600000002"  # the group posting as itself

    mentions = sorted((m["post_id"], m["account_id"], m["handle"]) for m in out["post_mentions"])
    assert mentions == [
        (f"telegram:{NEWS}:3", "telegram:@janeleader", "janeleader"),
        (f"telegram:{GROUP}:10", "telegram:@bob_writes", "bob_writes"),
        (f"telegram:{GROUP}:11", "telegram:user1001", "alice"),  # mention_name carries the user id
    ]
    accounts = {a["account_id"]: a["handle"] for a in out["accounts"]}
    assert accounts == {
        "telegram:channel1500000001": "org a news", "telegram:channel1600000002": "org a members",
        "telegram:user1001": "alice example", "telegram:user1002": "bob writer", "telegram:user1003": "carol",
    }


def test_the_same_channel_from_two_exports_is_one_post() -> None:
    both = records(SINGLE) + records(FULL)
    assert len(posts_by_id(both)) == len({r.record_id for r in both}) == 10


def test_old_export_without_unixtime_or_entities() -> None:
    got = records(OLD)
    assert [r.record_id for r in got] == ["1100000003:2", "1100000003:3", "1100000004:7", "1100000004:8"]
    out = mapped(got)
    posts = {p["post_id"]: p for p in out["posts"]}
    statement = posts["telegram:1100000003:2"]
    assert statement["author_id"] == "telegram:channel1100000003"  # a channel post without from_id
    assert statement["created_at"] == datetime(2019, 3, 1, 10, 0, tzinfo=UTC)  # `date` read as UTC
    assert statement["text"] == "Our statement: https://old-org.example/statement #Vote"
    forward = posts["telegram:1100000003:3"]
    assert (forward["kind"], forward["repost_of_author_id"]) == ("repost", "telegram:user1004")  # Dana
    reply = posts["telegram:1100000004:8"]
    assert (reply["author_id"], reply["reply_to_author_id"]) == ("telegram:user1005", "telegram:user1004")
    assert out["post_links"] == [{"post_id": "telegram:1100000003:2", "url": "https://old-org.example/statement",
                                  "domain": "old-org.example"}]
    assert out["post_hashtags"] == [{"post_id": "telegram:1100000003:2", "tag": "vote"}]
    assert out["post_mentions"] == [{"post_id": "telegram:1100000004:7", "account_id": "telegram:@old_org",
                                     "handle": "old_org"}]


# ---- files, folders, zips ----------------------------------------------------------------------------


def export_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "ChatExport_2024-01-05"
    (folder / "photos").mkdir(parents=True)
    shutil.copy(SINGLE, folder / "result.json")
    (folder / "photos" / "photo_1@05-01-2024_11-00-00.jpg").write_bytes(b"\xff\xd8\xff\xe0 not json")
    return folder


def test_folder_zip_and_file_give_the_same_records(tmp_path: Path) -> None:
    folder = export_folder(tmp_path)
    expected = [(r.record_id, r.payload) for r in records(SINGLE)]
    assert [(r.record_id, r.payload) for r in records(folder)] == expected
    assert [(r.record_id, r.payload) for r in records(tmp_path)] == expected  # a folder of export folders
    assert records(folder / "photos" / "photo_1@05-01-2024_11-00-00.jpg") == []  # media of an export: skipped

    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(folder / "result.json", "ChatExport_2024-01-05/result.json")
        zf.write(folder / "photos" / "photo_1@05-01-2024_11-00-00.jpg", "ChatExport_2024-01-05/photos/p.jpg")
    from_zip = records(archive)
    assert [(r.record_id, r.payload) for r in from_zip] == expected
    assert from_zip[0].locator == f"{archive}!ChatExport_2024-01-05/result.json:{line_of_message(SINGLE, 2)}"


def test_unsafe_or_empty_zips_and_folders_are_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../result.json", SINGLE.read_text(encoding="utf-8"))
    nothing = tmp_path / "nothing.zip"
    with zipfile.ZipFile(nothing, "w") as zf:
        zf.writestr("ChatExport/messages.html", "<html></html>")
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    html = tmp_path / "messages.html"
    html.write_text("<html></html>", encoding="utf-8")
    for path, words in ((evil, "unsafe path"), (nothing, "no result.json"), (empty_dir, "no result.json"),
                        (html, "HTML export")):
        with pytest.raises(ImportFormatError, match=words) as info:
            read(path)
        assert str(path) in str(info.value)


def test_pipeline_imports_an_export_folder_without_errors(tmp_path: Path) -> None:
    folder = export_folder(tmp_path)
    config = Config(warehouse_dir=str(tmp_path / "wh"), sources=[], config_path=tmp_path / "dissentry.toml")
    row = pipeline.import_export(config, "telegram", [folder])
    assert row["status"] == "ok", row["errors"]
    assert (row["records_new"], row["records_quarantined"]) == (5, 0)


# ---- streaming and damaged input ---------------------------------------------------------------------


@pytest.mark.parametrize("path", [SINGLE, FULL, OLD], ids=["single", "full", "old"])
def test_tiny_chunks_give_the_same_records(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = [(r.record_id, r.payload, r.locator) for r in records(path)]
    monkeypatch.setattr(telegram, "_CHUNK", 7)  # every value and string spans chunk edges
    assert [(r.record_id, r.payload, r.locator) for r in records(path)] == expected


def test_damaged_messages_are_rejected_and_the_rest_land(tmp_path: Path) -> None:
    good = [message(n) for n in (1, 3, 5, 7, 9)]
    bad = [
        {"id": 2, "type": "message", "date_unixtime": "1704448802", "from": "Bob", "text": "no author"},  # in a group
        message(4, text=42),
        message(6, type="poll_vote"),
        {"id": 8, "type": "service", "action": "pin_message"},  # skipped, not rejected
    ]
    chat = {"name": "Org A Members", "type": "private_supergroup", "id": int(GROUP),
            "messages": [good[0], bad[0], good[1], bad[1], good[2], bad[2], good[3], bad[3], good[4]]}
    text = json.dumps(chat, indent=1)
    # a syntax error inside message 10, and a vertical tab written as tdesktop writes it (\x0B, not JSON)
    text = text.replace('"post 9"', '"post\\x0B9"', 1).replace(']\n}', ',\n  {"id": 10, "type": "message", "date_unixtime": 1x}\n ]\n}')
    path = tmp_path / "result.json"
    path.write_text(text, encoding="utf-8")
    got, rejects, _ = read(path)
    assert [r.record_id for r in got] == [f"{GROUP}:{n}" for n in (1, 3, 5, 7, 9)]
    assert json.loads(got[-1].payload)["message"]["text"] == "post\x0b9"
    reasons = [r.reason for r in rejects]
    assert len(reasons) == 4, reasons
    assert "from_id is missing" in reasons[0]
    assert "text is a number" in reasons[1]
    assert "'poll_vote'" in reasons[2]
    assert "invalid JSON" in reasons[3]
    assert all(r.locator.startswith(f"{path}:") for r in rejects)
    assert rejects[0].locator == f"{path}:{line_of_message(path, 2)}"


def test_truncated_export_keeps_what_came_before(tmp_path: Path) -> None:
    text = json.dumps(channel([message(n) for n in range(1, 6)]), indent=1)
    path = tmp_path / "result.json"
    path.write_text(text[: text.index('"id": 5')], encoding="utf-8")
    got, rejects, _ = read(path)
    assert [r.record_id for r in got] == [f"{NEWS}:{n}" for n in range(1, 5)]
    (reject,) = rejects
    assert "cut short" in reject.reason and reject.locator.startswith(f"{path}:")


def test_pages_hold_about_a_thousand_records(tmp_path: Path) -> None:
    path = write_export(tmp_path / "result.json", channel([message(n) for n in range(1, 2501)]))
    _, _, pages = read(path)
    assert [len(p.records) for p in pages] == [1000, 1000, 500]


def test_other_files_are_refused_by_name(tmp_path: Path) -> None:
    array = tmp_path / "statuses.json"
    array.write_text('[{"id": "1", "content": "<p>hi</p>"}]', encoding="utf-8")
    mastodon = tmp_path / "status.jsonl"
    mastodon.write_text('{"id": "1", "created_at": "2024-01-05T10:00:00Z", "content": "hi"}\n{"id": "2"}\n',
                        encoding="utf-8")
    empty = tmp_path / "result.json"
    empty.write_text("", encoding="utf-8")
    feed = FIXTURES / "contract" / "bluesky_feed.json"
    for path, words in ((array, "not one JSON object"), (mastodon, "without 'messages' or 'chats'"),
                        (empty, "empty"), (feed, "first key is 'feed'")):
        with pytest.raises(ImportFormatError, match=words) as info:
            read(path)
        assert str(path) in str(info.value)


# ---- options ------------------------------------------------------------------------------------------


def test_chats_option_selects_by_name_or_id() -> None:
    by_name = records(FULL, source(chats=["org a news"]))
    assert [r.record_id for r in by_name] == [f"{NEWS}:2", f"{NEWS}:3"]
    by_id = records(FULL, source(chats=[int(GROUP)], include_private_chats=False))
    assert {r.record_id.split(":")[0] for r in by_id} == {GROUP}


def test_unknown_option_is_a_clear_error() -> None:
    # one wording for every connector (issue 11)
    with pytest.raises(ValueError, match=r"source 'tg' \(telegram\): options\.chat_types: unknown option"):
        list(TelegramConnector().read_export(SINGLE, source(chat_types=["public_channel"])))
