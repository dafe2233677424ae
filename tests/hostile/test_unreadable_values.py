"""One bad value never stops a platform's whole normalise.

Each fault is tried twice. Through the real import: the record is quarantined with a reason that
names the field and the value, and the good records of the same file land. Written straight to the
raw layer, as an older version (or a hand-made lake) left it: normalise completes, the good records
are all there, and the record whose date cannot be read is no post (every canonical post has a
created_at; the transforms' periods need one). Before the fix each of these stopped the platform's
normalise with a DuckDB error: an epoch out of to_timestamp's range, a CAST of a date that is none,
a tweet id or a Bluesky record key spliced into a regular expression ("unexpected )"); or stopped a
file's import (a Bluesky date whose offset leaves year 1, an RSS date in year 0).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dissentry import pipeline
from dissentry.config import Config, load_config
from dissentry.connectors.base import RawRecord
from dissentry.warehouse import schema
from dissentry.warehouse.lake import Lake, new_run_id
from tests.hostile.corpus import (
    TELEGRAM_CHANNEL_ID,
    bluesky_item,
    facebook_post,
    jsonl,
    telegram_export,
    telegram_message,
)
from tests.support.layers import published_files
from tests.support.project import config_toml, group, source


def make_project(root: Path, *blocks: str) -> Config:
    (root / "in").mkdir(exist_ok=True)
    (root / "dissentry.toml").write_text(config_toml(*blocks), encoding="utf-8")
    return load_config(root / "dissentry.toml")


def quarantined(root: Path) -> dict[str, str]:
    """Reason of each quarantined record, by its locator without the folder."""
    return {row["locator"].rsplit("/", 1)[-1]: row["reason"]
            for f in sorted((root / "wh" / "quarantine").rglob("*.parquet")) for row in pq.read_table(f).to_pylist()}


def published(root: Path, table: str, column: str) -> list[Any]:
    return sorted(row[column] for f in published_files(root / "wh", table) for row in pq.read_table(f).to_pylist())


def write_raw(config: Config, platform: str, records: list[RawRecord], source_name: str = "old") -> None:
    """Raw as an older version wrote it: the lake's own file layout, nothing checked on the way."""
    lake = Lake(config.warehouse_path)
    run_id = new_run_id()
    now = datetime.now(UTC)
    rows = [{"platform": platform, "source": source_name, "record_type": r.record_type, "record_id": r.record_id,
             "origin": r.origin, "payload": r.payload, "locator": r.locator, "fetched_at": now, "run_id": run_id}
            for r in records]
    lake.write_parquet(pa.Table.from_pylist(rows, schema=schema.RAW),
                       lake.raw_batch_path(platform, source_name, f"{now:%Y-%m-%d}", run_id, 0))


# ---- Telegram: date_unixtime beyond to_timestamp's range ------------------------------------------------------
def test_a_telegram_date_unixtime_out_of_range_is_quarantined_and_the_chat_lands(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    far, huge = telegram_message(2), telegram_message(3)
    far["date_unixtime"] = "9999999999999"  # year 318,857: digits, so it passed; to_timestamp raised
    huge["date_unixtime"] = "9" * 30
    path = tmp_path / "in" / "result.json"
    path.write_bytes(telegram_export([telegram_message(1), far, huge, telegram_message(4)]))

    row = pipeline.import_export(config, "telegram", [path])
    assert (row["records_seen"], row["records_quarantined"]) == (2, 2)
    reasons = quarantined(tmp_path).values()
    assert sorted(reasons) == [f"not a usable Telegram message: date_unixtime {value!r} is out of range "
                               "(not a second of the years 1 to 9999)" for value in sorted(["9999999999999", "9" * 30])]
    pipeline.normalise(config)
    assert published(tmp_path, "posts", "post_id") == [f"telegram:{TELEGRAM_CHANNEL_ID}:1",
                                                       f"telegram:{TELEGRAM_CHANNEL_ID}:4"]


def test_telegram_raw_with_an_out_of_range_date_unixtime_normalises(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    chat = {"id": TELEGRAM_CHANNEL_ID, "name": "Org A News", "type": "public_channel"}
    messages = [telegram_message(n) for n in (1, 2, 3)]
    messages[1]["date_unixtime"] = "9999999999999"  # `date` is readable: the message keeps that date
    messages[2]["date_unixtime"] = "-99999999999"
    messages[2]["date"] = "not a date"  # nothing readable: no post
    write_raw(config, "telegram", [
        RawRecord.from_json("message", f"{TELEGRAM_CHANNEL_ID}:{m['id']}", {"chat": chat, "message": m},
                            "https://t.me", "old") for m in messages])

    pipeline.normalise(config)
    assert published(tmp_path, "posts", "post_id") == [f"telegram:{TELEGRAM_CHANNEL_ID}:1",
                                                       f"telegram:{TELEGRAM_CHANNEL_ID}:2"]
    assert [str(d) for d in published(tmp_path, "posts", "created_at")] == [
        "2024-01-05 10:00:01+00:00", "2024-01-05 11:00:00+00:00"]


# ---- Facebook: a timestamp CAST could not read -----------------------------------------------------------------
def test_a_facebook_timestamp_that_is_no_integer_is_quarantined_naming_the_value(tmp_path: Path) -> None:
    config = make_project(tmp_path, source("fb", "facebook", files=["in/*.json"], options={"owner": "Alice Example"}))
    posts = tmp_path / "in" / "your_posts_1.json"
    bad = facebook_post(1, "bad")
    bad["timestamp"] = "1704448800x"
    posts.write_text(json.dumps([facebook_post(1704448800, "good"), bad, facebook_post(1704448900, "also good")]),
                     encoding="utf-8")

    row = pipeline.import_export(config, "facebook", [posts], "fb")
    assert (row["records_seen"], row["records_quarantined"]) == (2, 1)
    assert quarantined(tmp_path) == {"your_posts_1.json[1]": "the post's timestamp \"1704448800x\" is not an integer"}
    pipeline.normalise(config)
    assert published(tmp_path, "posts", "text") == ["also good", "good"]


def test_facebook_raw_with_unreadable_timestamps_normalises(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    owner = {"name": "Alice Example", "slug": "alice-example"}
    stamps: list[Any] = [1704448800, 99_999_999_999_999, "abc", None, 1704448900]
    write_raw(config, "facebook", [
        RawRecord.from_json("post", f"alice-example:{n}", {"owner": owner, "post": facebook_post(ts, f"post {n}")},
                            "facebook-export:alice-example", "old")
        for n, ts in enumerate(stamps)])

    pipeline.normalise(config)
    assert published(tmp_path, "posts", "text") == ["post 0", "post 4"]
    assert published(tmp_path, "accounts", "account_id") == ["facebook:alice-example"]


# ---- tables and RSS: a date CAST could not read ----------------------------------------------------------------
def test_table_raw_with_unreadable_created_at_normalises(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    dates = ["2026-01-01T12:00:00Z", "not a date", "0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z"]
    write_raw(config, "jsonl", [
        RawRecord.from_json("post", f"p{n}", {"platform": "jsonl", "post_id": f"p{n}", "author": "alice",
                                              "created_at": d, "text": f"row {n}"}, "table", "old")
        for n, d in enumerate(dates)])

    pipeline.normalise(config)
    assert published(tmp_path, "posts", "post_id") == ["jsonl:p0"]
    assert published(tmp_path, "accounts", "account_id") == ["jsonl:alice"]


def test_rss_raw_with_unreadable_dates_normalises_and_the_articles_land_undated(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    dates = [("2026-01-01T12:00:00Z", None), ("not a date", "2026-01-02T12:00:00Z"), ("0000-01-01T00:00:00Z", "x")]
    feed = "https://org-a.example/feed.xml"
    write_raw(config, "rss", [
        RawRecord.from_json("entry", f"https://org-a.example/{n}", {"group": "org_a", "feed_url": feed, "entry": {
            "id": None, "link": f"https://org-a.example/{n}", "title": f"article {n}", "published": published_at,
            "updated": updated, "summary": None}}, feed, "old")
        for n, (published_at, updated) in enumerate(dates)])

    pipeline.normalise(config)
    articles = {r["title"]: r["published_at"] for f in published_files(tmp_path / "wh", "org_articles")
                for r in pq.read_table(f).to_pylist()}
    # an undated article still lands, as the connector lands an entry whose date it cannot read
    assert {title: str(when) for title, when in articles.items()} == {
        "article 0": "2026-01-01 12:00:00+00:00", "article 1": "2026-01-02 12:00:00+00:00", "article 2": "None"}


def test_an_rss_entry_dated_year_0_lands_undated_and_the_feed_lands(tmp_path: Path) -> None:
    config = make_project(tmp_path, group("org_a", "Org A"),
                          source("feed", "rss", files=["in/*.xml"], options={"group": "org_a"}))
    dates = ["Mon, 01 Jan 2024 00:00:00 GMT", "0000-01-01T00:00:00Z", "1 Jan 0001 00:00 +0100"]
    items = "".join(f"<item><title>article {n}</title><link>https://org-a.example/{n}</link><pubDate>{d}</pubDate></item>"
                    for n, d in enumerate(dates))
    (tmp_path / "in" / "feed.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Org A</title>{items}</channel></rss>',
        encoding="utf-8")

    row = pipeline.import_export(config, "rss", [tmp_path / "in" / "feed.xml"], "feed")
    assert (row["records_seen"], row["records_quarantined"], json.loads(row["errors"])) == (3, 0, [])
    pipeline.normalise(config)
    articles = {r["title"]: r["published_at"] for f in published_files(tmp_path / "wh", "org_articles")
                for r in pq.read_table(f).to_pylist()}
    assert {title: str(when) for title, when in articles.items()} == {
        "article 0": "2024-01-01 00:00:00+00:00", "article 1": "None", "article 2": "None"}


# ---- Twitter: a referenced tweet id spliced into a regular expression ------------------------------------------
def _tweet(n: int, **fields: Any) -> dict[str, Any]:
    tweet_id = str(1790000000000000000 + n)
    return {"id": tweet_id, "text": f"tweet {n} https://t.co/x{n}", "author_id": "3000003",
            "created_at": "2024-05-14T09:00:00.000Z", "edit_history_tweet_ids": [tweet_id],
            "entities": {"urls": [{"url": f"https://t.co/x{n}", "expanded_url": f"https://twitter.com/a/status/1{n}"}]},
            **fields}


def test_a_tweet_id_that_is_no_number_is_quarantined_and_the_page_lands(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    # the quoted tweet in `includes` quotes "1)": the connector checked only the page's own tweets
    included = _tweet(50, referenced_tweets=[{"type": "quoted", "id": "1)"}])
    page = {"data": [_tweet(1), _tweet(2, referenced_tweets=[{"type": "quoted", "id": included["id"]}])],
            "includes": {"users": [{"id": "3000003", "username": "dave", "name": "Dave"}], "tweets": [included]}}
    # a flattened record carries its quoted tweet whole, and that one quotes "(9"
    flattened = _tweet(3, referenced_tweets=[{**_tweet(51, referenced_tweets=[{"type": "quoted", "id": "(9"}]),
                                              "type": "quoted"}])
    path = tmp_path / "in" / "tweets.jsonl"
    path.write_bytes(jsonl(page, flattened, _tweet(4, referenced_tweets=[{"type": "quoted", "id": "1)"}])))

    row = pipeline.import_export(config, "twitter", [path])
    assert (row["records_seen"], row["records_quarantined"]) == (2, 3)
    assert quarantined(tmp_path) == {
        "tweets.jsonl:1.includes.tweets[0]":
            'twitter included tweet rejected: referenced_tweets[0].id "1)" is not a numeric tweet id',
        "tweets.jsonl:2":
            'twitter tweet rejected: referenced_tweets[0].referenced_tweets[0].id "(9" is not a numeric tweet id',
        "tweets.jsonl:3": 'twitter tweet rejected: referenced_tweets[0].id "1)" is not a numeric tweet id',
    }
    pipeline.normalise(config)
    assert published(tmp_path, "posts", "post_id") == ["twitter:1790000000000000001", "twitter:1790000000000000002"]


def test_twitter_raw_with_a_quoted_id_that_is_no_number_normalises(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    bad = _tweet(2, referenced_tweets=[{"type": "quoted", "id": "1)"}])
    # quotes a tweet included whole, dated year 0: that one is no post (it would be a BC date)
    undated = _tweet(3, referenced_tweets=[{**_tweet(5), "type": "quoted", "created_at": "0000-01-01T00:00:00Z"}])
    write_raw(config, "twitter", [RawRecord.from_json("tweet", t["id"], t, "https://x.com", "old")
                                  for t in (_tweet(1), bad, undated)])

    pipeline.normalise(config)
    quotes = {r["post_id"]: r["quote_of_post_id"] for f in published_files(tmp_path / "wh", "posts")
              for r in pq.read_table(f).to_pylist()}
    assert quotes == {"twitter:1790000000000000001": None, "twitter:1790000000000000002": "twitter:1)",
                      "twitter:1790000000000000003": "twitter:1790000000000000005"}


# ---- Bluesky: a record key spliced into a regular expression; a date whose offset leaves year 1 -----------------
def _post_id(n: int) -> str:
    return f"bluesky:{bluesky_item(n)['post']['uri']}"


def _quoting(n: int, quoted_uri: str) -> dict[str, Any]:
    item = bluesky_item(n)
    item["post"]["embed"] = {"$type": "app.bsky.embed.record#view", "record": {"uri": quoted_uri}}
    item["post"]["record"]["facets"] = [{"index": {"byteStart": 0, "byteEnd": 5}, "features": [
        {"$type": "app.bsky.richtext.facet#link", "uri": "https://bsky.app/profile/bob.example/post/3lkquoted"}]}]
    return item


def test_a_bluesky_quote_of_no_record_key_and_a_date_out_of_range_are_quarantined(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    out_of_range = bluesky_item(3)
    out_of_range["post"]["indexedAt"] = "0001-01-01T00:00:00+01:00"  # 31 December of year 0 in UTC
    path = tmp_path / "in" / "feed.jsonl"
    path.write_bytes(jsonl(bluesky_item(1), _quoting(2, "at://did:plc:bob/app.bsky.feed.post/3lk(quoted"),
                           out_of_range, _quoting(4, "at://did:plc:bob/app.bsky.feed.post/3lkquoted")))

    row = pipeline.import_export(config, "bluesky", [path])
    assert (row["records_seen"], row["records_quarantined"]) == (2, 2)
    assert quarantined(tmp_path) == {
        "feed.jsonl:2": "bluesky feed_item rejected: embed.record.uri "
                        "'at://did:plc:bob/app.bsky.feed.post/3lk(quoted' does not end in a record key",
        "feed.jsonl:3": "bluesky feed_item rejected: the post's indexedAt \"0001-01-01T00:00:00+01:00\" "
                        "is not a valid date and time",
    }
    pipeline.normalise(config)
    assert published(tmp_path, "posts", "post_id") == [_post_id(1), _post_id(4)]
    assert published(tmp_path, "post_links", "url") == []  # the quoted post's own link is the quote


def test_bluesky_raw_with_a_quote_of_no_record_key_normalises(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    items = [bluesky_item(1), _quoting(2, "at://did:plc:bob/app.bsky.feed.post/3lk(quoted"),
             _quoting(3, "at://did:plc:bob/app.bsky.feed.post/3lkquoted")]
    write_raw(config, "bluesky", [RawRecord.from_json("feed_item", i["post"]["uri"], i, "https://public.api.bsky.app",
                                                      "old") for i in items])

    pipeline.normalise(config)
    assert published(tmp_path, "posts", "post_id") == [_post_id(1), _post_id(2), _post_id(3)]
    # post 2 quotes another key than its link names: the link stays an external one; post 3's is the quote
    assert published(tmp_path, "post_links", "post_id") == [_post_id(2)]



# ---- Mastodon and Reddit: a date that reads but is no time dissentry can store ---------------------------------
def _reddit_thing(id36: str, created: Any) -> dict[str, Any]:
    fixture = Path(__file__).resolve().parents[2] / "connectors" / "reddit" / "fixtures" / "user_submitted.json"
    child = json.loads(fixture.read_text(encoding="utf-8"))["data"]["children"][-1]
    child["data"].update({"id": id36, "name": f"t3_{id36}", "created_utc": created, "created": created})
    return child


def test_a_mastodon_created_at_before_the_year_1_in_utc_is_quarantined(tmp_path: Path) -> None:
    from tests.hostile.corpus import mastodon_status

    config = make_project(tmp_path)
    # it reads as an ISO date, but it is 23:00 on 31 December of the year 0 in UTC: the post landed with
    # no created_at, which the transforms' not_null test then refused for the whole build
    early = mastodon_status(2, created_at="0001-01-01T00:00:00+01:00")
    late = mastodon_status(3, created_at="9999-12-31T23:00:00Z")
    path = tmp_path / "in" / "statuses.jsonl"
    path.write_bytes(jsonl(mastodon_status(1), early, late, mastodon_status(4)))

    row = pipeline.import_export(config, "mastodon", [path])
    assert (row["records_seen"], row["records_quarantined"]) == (2, 2)
    reasons = sorted(quarantined(tmp_path).values())
    assert len(reasons) == 2 and all("out of the range a post's date may take" in r for r in reasons), reasons
    assert any("'0001-01-01T00:00:00+01:00'" in r for r in reasons) and any("'9999-12-31T23:00:00Z'" in r for r in reasons)
    pipeline.normalise(config)
    assert len(published(tmp_path, "posts", "post_id")) == 2


def test_a_reddit_created_utc_out_of_range_is_quarantined_naming_the_value(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    path = tmp_path / "in" / "things.jsonl"
    path.write_bytes(jsonl(_reddit_thing("1aa01", 1741608000.0), _reddit_thing("1aa02", 1e20),
                           _reddit_thing("1aa03", "nan"), _reddit_thing("1aa04", 1741608100.0)))

    row = pipeline.import_export(config, "reddit", [path])
    assert (row["records_seen"], row["records_quarantined"]) == (2, 2)
    reasons = sorted(quarantined(tmp_path).values())
    assert any("created_utc '1e+20' is out of range" in r for r in reasons), reasons
    assert any("created_utc 'nan' is out of range" in r for r in reasons), reasons
    pipeline.normalise(config)
    assert published(tmp_path, "posts", "post_id") == ["reddit:t3_1aa01", "reddit:t3_1aa04"]


def test_forget_erases_a_persons_raw_record_whose_date_cannot_be_read(tmp_path: Path) -> None:
    # normalise drops a post with no readable date; its raw record is still the person's, and forget
    # (which finds their raw rows through the mapping) erases it with the rest
    from dissentry.forget import forget_account

    config = make_project(tmp_path)
    write_raw(config, "jsonl", [
        RawRecord.from_json("post", f"p{n}", {"platform": "jsonl", "post_id": f"p{n}", "author": author,
                                              "created_at": d, "text": text}, "table", "old")
        for n, (author, d, text) in enumerate([("alice", "2026-01-01T12:00:00Z", "alice dated"),
                                               ("alice", "not a date", "alice undated words"),
                                               ("bob", "2026-01-02T12:00:00Z", "bob dated")])])
    pipeline.normalise(config)
    forget_account(config, "jsonl:alice")

    raw = [row for f in sorted((tmp_path / "wh" / "raw").rglob("*.parquet")) for row in pq.read_table(f).to_pylist()]
    assert raw and not [row for row in raw if "alice" in row["payload"]], raw
    assert [json.loads(row["payload"])["text"] for row in raw] == ["bob dated"]
