"""The X/Twitter connector (import only): the account archive as a folder, a zip or single files in
both namings, twarc2 JSONL pages, and the mapping to the canonical schema through
`dissentry.normalise.map_records`. Expected values are worked out by hand from the fixtures
(connectors/twitter/fixtures, in the shapes X's archive and twarc2 write).
"""

from __future__ import annotations

import json
import logging
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from dissentry import pipeline
from dissentry.config import Config, Source
from dissentry.connectors.base import ImportFormatError, Page, RawRecord, Reject
from dissentry.connectors.registry import get_connector
from dissentry.connectors.twitter.connector import IMPORT_PAGE_SIZE, TwitterConnector
from dissentry.normalise import map_records
from tests.support.layers import published_files

FIXTURES = Path(__file__).resolve().parents[2] / "connectors" / "twitter" / "fixtures"
ARCHIVE = FIXTURES / "archive"
ARCHIVE_OLD = FIXTURES / "archive_old"
TWARC = FIXTURES / "twarc2_search.jsonl"
CONNECTOR = TwitterConnector()


def read(path: Path, source: Source | None = None) -> tuple[list[RawRecord], list[Reject], list[Page]]:
    pages = list(CONNECTOR.read_export(path, source))
    return [r for p in pages for r in p.records], [r for p in pages for r in p.rejects], pages


def source(**options: Any) -> Source:
    return Source(name="tw", platform="twitter", files=["x"], options=options)


def mapped(records: list[RawRecord]) -> dict[str, dict[str, dict[str, Any]]]:
    """Normalised posts and accounts by id, plus links/mentions/hashtags grouped by post."""
    out = map_records("twitter", records)
    result: dict[str, dict[str, dict[str, Any]]] = {
        "posts": {row["post_id"]: row for row in out["posts"].to_pylist()},
        "accounts": {row["account_id"]: row for row in out["accounts"].to_pylist()},
    }
    for table, column in (("post_links", "url"), ("post_mentions", "account_id"), ("post_hashtags", "tag")):
        grouped: dict[str, Any] = {}
        for row in out[table].to_pylist():
            grouped.setdefault(row["post_id"], []).append(row[column])
        result[table] = grouped
    return result


def zip_folder(folder: Path, target: Path, prefix: str = "", extra: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                zf.write(f, prefix + f.relative_to(folder).as_posix())
        for name, text in (extra or {}).items():
            zf.writestr(name, text)
    return target


def ytd(name: str, elements: list[Any]) -> str:
    return f"window.YTD.{name}.part0 = " + json.dumps(elements, indent=2)


def archive_element(n: int) -> dict[str, Any]:
    """A tweets.js element in the fixture's shape, with its own id."""
    text = (ARCHIVE / "data" / "tweets.js").read_text(encoding="utf-8")
    element = json.loads(text[text.index("[") :])[0]
    element["tweet"]["id_str"] = element["tweet"]["id"] = str(1_200_000_000_000_000_000 + n)
    return element


# ---- the connector's contract --------------------------------------------------------------------
def test_registry_gives_the_connector_and_collect_is_refused() -> None:
    connector = get_connector("twitter")
    assert isinstance(connector, TwitterConnector)
    api_source = Source(name="tw-api", platform="twitter", accounts=["orga"])
    with pytest.raises(ValueError, match="twitter is import-only in dissentry"):
        next(iter(connector.collect(api_source, None, None)))  # type: ignore[arg-type]


# ---- the archive ---------------------------------------------------------------------------------
def test_archive_folder_reads_every_tweets_part_and_the_public_account_fields() -> None:
    records, rejects, _ = read(ARCHIVE)
    assert rejects == []
    tweets = [r for r in records if r.record_type == "archive_tweet"]
    assert [r.record_id for r in tweets] == [
        "1050118621198921728", "1050300000000000002", "1050400000000000003", "1050500000000000004",
        "1050600000000000006",  # tweets-part1.js, read after tweets.js
    ]
    assert tweets[0].locator == f"{ARCHIVE / 'data' / 'tweets.js'}[0]"
    assert tweets[4].locator == f"{ARCHIVE / 'data' / 'tweets-part1.js'}[0]"
    owner = {"username": "alice_example", "accountId": "1000001", "createdAt": "2011-03-01T12:34:56.789Z",
             "accountDisplayName": "Alice Example"}
    assert json.loads(tweets[0].payload)["account"] == owner
    [account] = [r for r in records if r.record_type == "account"]
    assert (account.record_id, json.loads(account.payload)) == ("1000001", owner)
    # the owner's e-mail address never reaches the lake; like.js is not read
    assert not any("alice@mail.example" in r.payload or "a liked tweet" in r.payload for r in records)


def test_archive_zip_gives_the_same_records_as_the_folder(tmp_path: Path) -> None:
    folder_records, _, _ = read(ARCHIVE)
    archive = zip_folder(ARCHIVE, tmp_path / "twitter-2024-05-15-abc.zip",
                         extra={"Your archive.html": "<html></html>", "data/tweets_media/x.jpg": "\xff"})
    records, rejects, _ = read(archive)
    assert rejects == []
    assert [(r.record_type, r.record_id, r.payload) for r in records] == [
        (r.record_type, r.record_id, r.payload) for r in folder_records
    ]
    assert records[1].locator == f"{archive}!data/tweets.js[0]"


def test_zip_with_a_top_folder_and_an_unsafe_member(tmp_path: Path) -> None:
    archive = zip_folder(ARCHIVE_OLD, tmp_path / "archive.zip", prefix="twitter-archive/",
                         extra={"../evil/data/tweets.js": ytd("tweets", [archive_element(1)])})
    records, rejects, _ = read(archive)
    assert sorted(r.record_id for r in records if r.record_type == "archive_tweet") == [
        "1100000000000000001", "1100000000000000002"
    ]
    assert [(r.locator, r.reason) for r in rejects] == [
        (f"{archive}!../evil/data/tweets.js", "zip member with an absolute path or '..': not read")
    ]


def test_old_archive_naming_tweet_js() -> None:
    records, rejects, _ = read(ARCHIVE_OLD)
    assert rejects == []
    assert [(r.record_type, r.record_id) for r in records] == [
        ("account", "1000002"), ("archive_tweet", "1100000000000000001"), ("archive_tweet", "1100000000000000002")
    ]


def test_single_tweets_file_takes_its_owner_from_account_js_beside_it() -> None:
    records, rejects, _ = read(ARCHIVE_OLD / "data" / "tweet.js")
    assert rejects == [] and [r.record_type for r in records] == ["archive_tweet", "archive_tweet"]
    assert json.loads(records[0].payload)["account"]["accountId"] == "1000002"
    account_records, _, _ = read(ARCHIVE_OLD / "data" / "account.js")
    assert [(r.record_type, r.record_id) for r in account_records] == [("account", "1000002")]


def test_lone_tweets_file_needs_account_js_or_options(tmp_path: Path) -> None:
    lone = tmp_path / "tweets.js"
    shutil.copy(ARCHIVE_OLD / "data" / "tweet.js", lone)
    with pytest.raises(ImportFormatError, match=rf"^{lone}: .*options\.username"):
        read(lone)
    by_id = mapped(read(lone, source(username="@Dana_Example", account_id="1000002"))[0])
    assert {p["author_id"] for p in by_id["posts"].values()} == {"twitter:1000002"}
    # without the numeric id the handle stands in, as configuration's 'twitter:<handle>' does
    by_handle = mapped(read(lone, source(username="Dana_Example"))[0])
    assert {p["author_id"] for p in by_handle["posts"].values()} == {"twitter:dana_example"}
    assert by_handle["accounts"]["twitter:dana_example"]["handle"] == "dana_example"


def test_invalid_options_are_a_clear_error() -> None:
    # one wording for every connector (issue 11): the source, the key, the known options
    with pytest.raises(ValueError, match=r"\(twitter\): options\.account_id: .*known options: username, account_id"):
        read(ARCHIVE, source(account_id="not-a-number"))
    with pytest.raises(ValueError, match=r"\(twitter\): options\.handle: unknown option"):
        read(ARCHIVE, source(handle="x"))


def test_other_archive_files_are_left_alone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert read(ARCHIVE / "data" / "like.js") == ([], [], [])
    lone = tmp_path / "like.js"
    shutil.copy(ARCHIVE / "data" / "like.js", lone)
    with caplog.at_level(logging.WARNING):
        assert read(lone) == ([], [], [])
    assert "a Twitter archive file of 'like', not tweets" in caplog.text


def test_pipeline_imports_an_unzipped_archive_folder_file_by_file(tmp_path: Path) -> None:
    """The pipeline hands a folder's files over one by one: media and the HTML viewer are skipped,
    each tweets part finds account.js beside it, and account.js gives the owner's account."""
    folder = tmp_path / "twitter-2024-05-15"
    shutil.copytree(ARCHIVE, folder)
    (folder / "data" / "tweets_media").mkdir()
    (folder / "data" / "tweets_media" / "1050600000000000006-MeDiA.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    (folder / "Your archive.html").write_text("<!DOCTYPE html><html></html>", encoding="utf-8")
    config = Config(warehouse_dir=str(tmp_path / "wh"), sources=[], config_path=tmp_path / "dissentry.toml")
    row = pipeline.import_export(config, "twitter", [folder])
    assert (row["status"], row["records_new"], row["records_quarantined"]) == ("ok", 6, 0)
    pipeline.normalise(config)
    (posts_file,) = published_files(config.warehouse_path, "posts")
    posts = pq.read_table(posts_file)
    assert sorted(posts.column("author_id").to_pylist()) == ["twitter:1000001"] * 5


def test_bad_archive_elements_are_rejected_and_good_ones_land(tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    shutil.copytree(ARCHIVE_OLD, folder)
    bad_date, no_id = archive_element(2), archive_element(3)
    bad_date["tweet"]["created_at"] = "2019-03-04 18:00"
    del no_id["tweet"]["id_str"]
    elements = [archive_element(1), bad_date, no_id, "not an object", archive_element(4)]
    tweets = folder / "data" / "tweet.js"
    tweets.write_text(ytd("tweet", elements), encoding="utf-8")
    records, rejects, _ = read(folder)
    assert [r.record_id for r in records if r.record_type == "archive_tweet"] == [
        "1200000000000000001", "1200000000000000004"
    ]
    assert [(r.locator, r.reason) for r in rejects] == [
        (f"{tweets}[1]", "twitter archive tweet rejected: tweet.created_at '2019-03-04 18:00' is not a date like "
                         "'Wed Oct 10 20:19:24 +0000 2018'"),
        (f"{tweets}[2]", "twitter archive tweet rejected: tweet.id_str is missing or not numeric"),
        (f"{tweets}[3]", "twitter archive tweet rejected: the element has no tweet object"),
    ]


def test_truncated_tweets_js_keeps_what_came_before(tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    shutil.copytree(ARCHIVE_OLD, folder)
    tweets = folder / "data" / "tweet.js"
    text = ytd("tweet", [archive_element(1), archive_element(2)])
    tweets.write_text(text[: len(text) - 40], encoding="utf-8")
    records, rejects, _ = read(folder)
    assert [r.record_id for r in records if r.record_type == "archive_tweet"] == ["1200000000000000001"]
    assert [(r.locator, r.reason) for r in rejects] == [(f"{tweets}[1]", "file is truncated inside element 1")]


def test_import_pages_hold_about_a_thousand_records(tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    shutil.copytree(ARCHIVE_OLD, folder)
    (folder / "data" / "tweet.js").write_text(ytd("tweet", [archive_element(n) for n in range(2500)]),
                                              encoding="utf-8")
    _, _, pages = read(folder)
    sizes = [len(p.records) + len(p.rejects) for p in pages]
    assert sum(sizes) == 2501 and max(sizes) == IMPORT_PAGE_SIZE  # 2500 tweets and the account


def test_archive_mapping() -> None:
    m = mapped(read(ARCHIVE)[0])
    posts = m["posts"]
    assert len(posts) == 5
    post = posts["twitter:1050118621198921728"]
    assert (post["author_id"], post["kind"], post["lang"]) == ("twitter:1000001", "post", "en")
    assert post["created_at"] == datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC)
    assert post["text"] == ("Rents & wages: @OrgA gets it wrong again https://news.example/housing?utm_source=twitter "
                            "#Housing")
    assert (post["like_count"], post["repost_count"], post["reply_count"]) == (12, 3, None)
    assert post["url"] == "https://x.com/alice_example/status/1050118621198921728"
    assert m["post_links"]["twitter:1050118621198921728"] == ["https://news.example/housing"]
    assert m["post_mentions"]["twitter:1050118621198921728"] == ["twitter:900001"]
    assert m["post_hashtags"]["twitter:1050118621198921728"] == ["housing"]

    reply = posts["twitter:1050300000000000002"]
    assert (reply["kind"], reply["reply_to_post_id"], reply["reply_to_author_id"]) == (
        "reply", "twitter:1050100000000000001", "twitter:2000002")

    retweet = posts["twitter:1050400000000000003"]
    assert (retweet["kind"], retweet["text"], retweet["repost_of_author_id"], retweet["repost_of_post_id"]) == (
        "repost", "", "twitter:900001", None)
    assert (retweet["like_count"], retweet["lang"]) == (None, None)
    assert "twitter:1050400000000000003" not in m["post_links"]  # a pure repost carries no links of its own

    quote = posts["twitter:1050500000000000004"]
    assert (quote["kind"], quote["text"], quote["quote_of_post_id"], quote["quote_of_author_id"]) == (
        "quote", "This is exactly right", "twitter:1050000000000000005", "twitter:carol_example")
    assert quote["created_at"] == datetime(2018, 10, 13, 8, 0, tzinfo=UTC)  # "+0200"
    assert "twitter:1050500000000000004" not in m["post_links"]

    photo = posts["twitter:1050600000000000006"]
    assert (photo["text"], photo["lang"]) == ("#Housing", None)  # media link dropped; 'qht' is no language
    assert "twitter:1050600000000000006" not in m["post_links"]

    assert m["accounts"]["twitter:1000001"] == m["accounts"]["twitter:1000001"] | {
        "handle": "alice_example", "display_name": "Alice Example",
        "created_at": datetime(2011, 3, 1, 12, 34, 56, 789000, tzinfo=UTC)}
    assert (m["accounts"]["twitter:900001"]["handle"], m["accounts"]["twitter:900001"]["display_name"]) == (
        "orga", "Org A")


def test_old_archive_retweet_author_comes_from_its_mention() -> None:
    posts = mapped(read(ARCHIVE_OLD)[0])["posts"]
    assert posts["twitter:1100000000000000002"]["repost_of_author_id"] == "twitter:2000002"
    assert posts["twitter:1100000000000000001"]["text"] == (
        "Canvassing for @OrgA this weekend, join us https://orga.example/events")


# ---- twarc2 --------------------------------------------------------------------------------------
def test_twarc_pages_become_flattened_tweet_records() -> None:
    records, rejects, _ = read(TWARC)
    assert rejects == []
    assert [(r.record_type, r.record_id, r.locator) for r in records] == [
        ("tweet", "1790000000000000001", f"{TWARC}:1.data[0]"),
        ("tweet", "1790000000000000002", f"{TWARC}:1.data[1]"),
        ("tweet", "1790000000000000003", f"{TWARC}:1.data[2]"),
        ("tweet", "1790000000000000004", f"{TWARC}:2.data[0]"),
        ("tweet", "1790000000000000005", f"{TWARC}:2.data[1]"),
    ]
    retweet = json.loads(records[1].payload)
    assert retweet["author"]["username"] == "erin_example"
    [original] = retweet["referenced_tweets"]
    assert (original["type"], original["id"], original["author"]["username"]) == (
        "retweeted", "1790000000000000000", "OrgA")
    assert original["text"].startswith("Our new housing plan")
    assert retweet["entities"]["mentions"][0]["description"] == "The official account of Org A."
    assert retweet["__twarc"]["retrieved_at"] == "2024-05-15T12:00:00+00:00"
    reply = json.loads(records[3].payload)
    assert reply["in_reply_to_user"]["username"] == "dave_example"


def test_twarc_flatten_output_reads_to_the_same_records(tmp_path: Path) -> None:
    records, _, _ = read(TWARC)
    flat = tmp_path / "flat.jsonl"
    flat.write_text("".join(r.payload + "\n" for r in records), encoding="utf-8")
    again, rejects, _ = read(flat)
    assert rejects == []
    assert [(r.record_id, r.payload) for r in again] == [(r.record_id, r.payload) for r in records]


def test_twarc_mapping() -> None:
    m = mapped(read(TWARC)[0])
    posts = m["posts"]
    assert sorted(posts) == [f"twitter:179000000000000000{n}" for n in range(6)]

    post = posts["twitter:1790000000000000001"]
    assert (post["author_id"], post["kind"], post["created_at"]) == (
        "twitter:3000003", "post", datetime(2024, 5, 14, 9, 0, tzinfo=UTC))
    # t.co becomes the unwound URL; &amp; is decoded
    assert post["text"] == "Rents keep rising & @OrgA says nothing https://news.example/rents?utm_medium=social #Housing"
    assert (post["link_title"], post["like_count"], post["repost_count"], post["reply_count"]) == (
        "Rents hit a new record", 9, 2, 1)
    assert m["post_links"]["twitter:1790000000000000001"] == ["https://news.example/rents"]
    assert m["post_mentions"]["twitter:1790000000000000001"] == ["twitter:900001"]
    assert m["post_hashtags"]["twitter:1790000000000000001"] == ["housing"]

    retweet = posts["twitter:1790000000000000002"]
    assert (retweet["kind"], retweet["text"], retweet["repost_of_post_id"], retweet["repost_of_author_id"]) == (
        "repost", "", "twitter:1790000000000000000", "twitter:900001")
    assert (retweet["like_count"], retweet["repost_count"]) == (None, None)  # a retweet's metrics are the original's
    assert "twitter:1790000000000000002" not in m["post_links"]

    original = posts["twitter:1790000000000000000"]  # included once, referenced twice
    assert (original["author_id"], original["kind"], original["text"], original["link_title"]) == (
        "twitter:900001", "post", "Our new housing plan is out https://orga.example/plan #Housing",
        "The Org A housing plan")
    assert m["post_links"]["twitter:1790000000000000000"] == ["https://orga.example/plan"]

    quote = posts["twitter:1790000000000000003"]
    assert (quote["kind"], quote["text"], quote["quote_of_post_id"], quote["quote_of_author_id"]) == (
        "quote", "Not convinced: where is the money?", "twitter:1790000000000000000", "twitter:900001")
    assert "twitter:1790000000000000003" not in m["post_links"]

    reply = posts["twitter:1790000000000000004"]
    assert (reply["kind"], reply["text"], reply["reply_to_post_id"], reply["reply_to_author_id"]) == (
        "reply", "@dave_example <3 agreed", "twitter:1790000000000000001", "twitter:3000003")

    photo = posts["twitter:1790000000000000005"]
    assert photo["text"] == "Rally photos" and "twitter:1790000000000000005" not in m["post_links"]

    orga = m["accounts"]["twitter:900001"]
    assert (orga["handle"], orga["display_name"], orga["bio"], orga["followers"], orga["following"]) == (
        "orga", "Org A", "The official account of Org A.", 52000, 310)
    assert orga["created_at"] == datetime(2010, 5, 1, 10, 0, tzinfo=UTC)
    assert sorted(m["accounts"]) == ["twitter:3000003", "twitter:3000004", "twitter:900001"]


def test_long_tweet_uses_the_note_tweet_text(tmp_path: Path) -> None:
    page = json.loads(TWARC.read_text(encoding="utf-8").splitlines()[1])
    long_text = "A long thread opener " * 20 + "https://t.co/LoNg000001"
    page["data"] = [page["data"][1] | {
        "id": "1790000000000000009",
        "note_tweet": {"text": long_text, "entities": {"urls": [{
            "start": len(long_text) - 23, "end": len(long_text), "url": "https://t.co/LoNg000001",
            "expanded_url": "https://news.example/long", "display_url": "news.example/long"}]}},
    }]
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps(page) + "\n", encoding="utf-8")
    m = mapped(read(path)[0])
    assert m["posts"]["twitter:1790000000000000009"]["text"] == long_text.replace(
        "https://t.co/LoNg000001", "https://news.example/long")
    assert m["post_links"]["twitter:1790000000000000009"] == ["https://news.example/long"]


def test_quoted_author_known_only_by_handle_resolves_through_other_data(tmp_path: Path) -> None:
    archive_records, _, _ = read(ARCHIVE)
    carol = {"id": "1050000000000000005", "text": "A tweet by carol", "author_id": "5000005",
             "created_at": "2018-10-09T10:00:00.000Z", "edit_history_tweet_ids": ["1050000000000000005"]}
    page = {"data": [carol], "includes": {"users": [{"id": "5000005", "username": "Carol_Example", "name": "Carol"}]}}
    path = tmp_path / "carol.jsonl"
    path.write_text(json.dumps(page) + "\n", encoding="utf-8")
    posts = mapped(archive_records + read(path)[0])["posts"]
    assert posts["twitter:1050500000000000004"]["quote_of_author_id"] == "twitter:5000005"


def test_archive_and_twarc_name_the_same_account_alike() -> None:
    m = mapped(read(ARCHIVE)[0] + read(TWARC)[0])
    archive_mention = m["post_mentions"]["twitter:1050118621198921728"]
    assert archive_mention == ["twitter:900001"] and m["posts"]["twitter:1790000000000000000"]["author_id"] == (
        "twitter:900001")
    assert m["accounts"]["twitter:900001"]["followers"] == 52000  # the full v2 profile beats the mention


def test_malformed_twarc_lines_and_tweets_are_rejected(tmp_path: Path) -> None:
    lines = TWARC.read_text(encoding="utf-8").splitlines()
    page = json.loads(lines[1])
    del page["data"][0]["created_at"]
    empty = {"meta": {"result_count": 0}, "__twarc": {"url": "https://api.twitter.com/2/tweets/search/recent"}}
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([lines[0], lines[1][:200], json.dumps(page), json.dumps(empty)]) + "\n",
                    encoding="utf-8")
    records, rejects, _ = read(path)
    assert [r.record_id for r in records] == [
        "1790000000000000001", "1790000000000000002", "1790000000000000003", "1790000000000000005"
    ]
    assert [r.locator for r in rejects] == [f"{path}:2", f"{path}:3.data[0]"]
    assert rejects[0].reason.startswith("invalid JSON on line 2")
    assert rejects[1].reason == ("twitter tweet rejected: created_at is missing or not an ISO 8601 date "
                                 "(tweet.fields must include created_at)")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"id": "1", "content": "<p>hi</p>", "account": {"acct": "a"}}]', "looks like a Mastodon status"),
        ('{"feed": [{"post": {"uri": "at://did:plc:x/app.bsky.feed.post/1"}}]}', "looks like Bluesky data"),
        ('{"hello": "world"}', "neither a twarc2 page nor an API v2 tweet"),
        ("name,text\nalice,hi\n", "not a JSON or JSON Lines file"),
    ],
)
def test_wrong_platform_file_raises(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "other.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ImportFormatError, match=rf"^{path}: .*{message}"):
        read(path)


def test_zip_without_an_archive_raises(tmp_path: Path) -> None:
    path = tmp_path / "stuff.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("search.jsonl", TWARC.read_text(encoding="utf-8"))
    with pytest.raises(ImportFormatError, match=rf"^{path}: not a Twitter archive.*unzip it"):
        read(path)


def test_contract_kit_counts() -> None:
    kit = FIXTURES / "contract"
    assert len(mapped(read(kit / "sample.jsonl")[0])["posts"]) == 6
    records, rejects, _ = read(kit / "bad.jsonl")
    assert len(rejects) == 1 and len(mapped(records)["posts"]) == 6
