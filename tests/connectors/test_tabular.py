"""The generic table importers (csv, jsonl): column mapping from the source's options, row checks
with file:line locators, timestamps, links/hashtags/mentions, and the shared mapping through
`dissentry.normalise.map_records`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from dissentry import pipeline
from dissentry.config import Config, Source
from dissentry.connectors.base import Connector, ImportFormatError, Page, RawRecord, Reject
from dissentry.connectors.tabular.connector import (
    IMPORT_PAGE_SIZE,
    CsvConnector,
    ImportOnlyError,
    JsonlConnector,
    TabularOptionsError,
    parse_timestamp,
)
from dissentry.normalise import map_records

FIXTURES = Path(__file__).resolve().parents[2] / "connectors" / "tabular" / "fixtures" / "contract"
COLUMNS = {"post_id": "id", "author": "user", "created_at": "time", "text": "body", "url": "link",
           "reply_to": "parent"}


def source(platform: str = "csv", **options: Any) -> Source:
    return Source(name="table", platform=platform, files=["x"], options=options)


def read(connector: Connector, path: Path, src: Source | None = None) -> tuple[list[RawRecord], list[Reject], list[Page]]:
    pages = list(connector.read_export(path, src))
    return [r for p in pages for r in p.records], [r for p in pages for r in p.rejects], pages


def payloads(records: list[RawRecord]) -> list[dict[str, Any]]:
    return [json.loads(r.payload) for r in records]


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",", bom: bool = False) -> Path:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_text(("\ufeff" if bom else "") + out.getvalue(), encoding="utf-8", newline="")
    return path


def posts_of(platform: str, records: list[RawRecord]) -> dict[str, dict[str, Any]]:
    return {r["post_id"]: r for r in map_records(platform, records)["posts"].to_pylist()}


# ---- CSV -----------------------------------------------------------------------------------------
def test_csv_with_a_column_mapping_a_label_semicolons_and_a_bom(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "forum.csv", [
        ["id", "user", "time", "body", "link", "parent", "extra"],
        ["17", "@Alice", "2024-03-01T10:00:00Z", "Our paper: https://party.example/p; see #Policy", "https://forum.example/17", "", "x"],
        ["18", "Bob", "2024-03-01 11:30:00+01:00", "@Alice no.\nSecond line", "", "17", "y"],
    ], delimiter=";", bom=True)
    records, rejects, _ = read(CsvConnector(), path, source(columns=COLUMNS, platform_label="oldforum"))
    assert rejects == []
    assert [(r.record_type, r.record_id, r.origin, r.locator) for r in records] == [
        ("post", "17", "oldforum", f"{path}:2"), ("post", "18", "oldforum", f"{path}:3")
    ]
    assert payloads(records) == [
        {"platform": "oldforum", "post_id": "17", "author": "alice", "created_at": "2024-03-01T10:00:00Z",
         "text": "Our paper: https://party.example/p; see #Policy", "url": "https://forum.example/17",
         "links": ["https://party.example/p"], "hashtags": ["policy"], "mentions": []},
        {"platform": "oldforum", "post_id": "18", "author": "bob", "created_at": "2024-03-01T10:30:00Z",
         "text": "@Alice no.\nSecond line", "reply_to": "17", "links": [], "hashtags": [], "mentions": ["alice"]},
    ]
    posts = posts_of("csv", records)
    reply = posts["oldforum:18"]
    assert (reply["platform"], reply["author_id"], reply["kind"], reply["reply_to_post_id"]) == (
        "oldforum", "oldforum:bob", "reply", "oldforum:17")
    assert posts["oldforum:17"]["created_at"] == datetime(2024, 3, 1, 10, tzinfo=UTC)


def test_a_file_without_a_mapped_column_is_refused_naming_file_and_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "posts.csv", [["id", "author", "time", "body"], ["1", "a", "2024-01-01", "x"]])
    with pytest.raises(ImportFormatError) as info:
        read(CsvConnector(), path, source(columns=COLUMNS))
    message = str(info.value)
    assert message.startswith(f"{path}: no column 'user' for author")
    assert "options.columns.author" in message
    # a canonical column left unmapped is looked for under its own name
    with pytest.raises(ImportFormatError, match=r"no column 'created_at' for created_at"):
        read(CsvConnector(), path, source(columns={"post_id": "id", "text": "body"}))
    # an optional column the options name must exist too: a typo is not silently ignored
    with pytest.raises(ImportFormatError, match=r"no column 'lnk' for url"):
        read(CsvConnector(), path, source(columns={"post_id": "id", "created_at": "time", "text": "body", "url": "lnk"}))


def test_bad_rows_are_quarantined_naming_the_line_and_the_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "posts.csv", [
        ["id", "user", "time", "body"],
        ["1", "alice", "2024-03-01T10:00:00Z", "a post\nover two lines"],   # lines 2-3
        ["", "bob", "2024-03-01T10:00:00Z", "no id"],                       # line 4
        ["3", "carol", "March 1st", "bad time"],                            # line 5
        ["4", "  ", "2024-03-01T10:00:00Z", "no author"],                   # line 6
        ["5", "dave"],                                                      # line 7: short row
        ["6", "erin", "1709290800", "epoch seconds"],                       # line 8
    ])
    columns = {"post_id": "id", "author": "user", "created_at": "time", "text": "body"}
    records, rejects, _ = read(CsvConnector(), path, source(columns=columns))
    assert [r.record_id for r in records] == ["1", "6"]
    assert [(r.locator, r.reason) for r in rejects] == [
        (f"{path}:4", "column 'id' (post_id) is empty"),
        (f"{path}:5", "column 'time' (created_at): cannot read 'March 1st' as a timestamp (ISO 8601 or epoch "
                      "seconds): Invalid isoformat string: 'March 1st'"),
        (f"{path}:6", "column 'user' (author) is empty"),
        (f"{path}:7", "column 'time' (created_at): cannot read None as a timestamp (ISO 8601 or epoch seconds): "
                      "None is not a timestamp"),
    ]
    assert rejects[1].content == "3,carol,March 1st,bad time"
    assert payloads(records)[1]["created_at"] == "2024-03-01T11:00:00Z"


def test_timestamp_format_option_and_the_default_readings() -> None:
    assert parse_timestamp("01/03/2024 10:05", "%d/%m/%Y %H:%M") == datetime(2024, 3, 1, 10, 5, tzinfo=UTC)
    assert parse_timestamp("2024-03-01T10:05:00-05:00", None) == datetime(2024, 3, 1, 15, 5, tzinfo=UTC)
    assert parse_timestamp("2024-03-01 10:05:00.250", None) == datetime(2024, 3, 1, 10, 5, 0, 250000, tzinfo=UTC)
    assert parse_timestamp("1709287500", None) == datetime(2024, 3, 1, 10, 5, tzinfo=UTC)
    assert parse_timestamp(1709287500.5, None) == datetime(2024, 3, 1, 10, 5, 0, 500000, tzinfo=UTC)
    assert parse_timestamp("1709287500000", None) == datetime(2024, 3, 1, 10, 5, tzinfo=UTC)  # milliseconds
    plus_two = timezone(timedelta(hours=2))
    assert parse_timestamp("2024-03-01 12:05 +0200", "%Y-%m-%d %H:%M %z") == datetime(2024, 3, 1, 12, 5, tzinfo=plus_two)
    for bad in ("", "yesterday", "nan", True, None):
        with pytest.raises(ValueError):
            parse_timestamp(bad, None)


def test_links_come_from_the_text_and_the_links_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [
        ["post_id", "author", "created_at", "text", "links"],
        ["1", "a", "2024-01-01T00:00:00Z",
         "See (https://a.example/x?q=1). Mail me: me@mail.example #One #one, not https://a.example/x?q=1 again, "
         "https://wiki.example/Foo_(bar).",
         "https://b.example/1, https://c.example/2 ftp://nope.example javascript:alert(1)"],
    ])
    (row,) = payloads(read(CsvConnector(), path)[0])
    assert row["links"] == ["https://a.example/x?q=1", "https://wiki.example/Foo_(bar)", "https://b.example/1",
                            "https://c.example/2"]
    assert row["hashtags"] == ["one"]
    assert row["mentions"] == []  # an e-mail address is not a mention


def test_kinds_and_the_repost_convention(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    rows = [
        {"id": "r", "who": "Ann", "at": "2024-01-01T00:00:00Z", "body": "RT @bob: https://x.example #tag",
         "rt": "b1", "rt_by": "@Bob", "likes": "3"},
        {"id": "q", "who": "ann", "at": "2024-01-01T00:01:00Z", "body": "Wrong!", "qt": "b1", "qt_by": "bob"},
        {"id": "p", "who": "ann", "at": "2024-01-01T00:02:00Z", "body": "Reply that quotes", "re": "b1", "qt": "b2"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    columns = {"post_id": "id", "author": "who", "created_at": "at", "text": "body", "repost_of": "rt",
               "repost_of_author": "rt_by", "quote_of": "qt", "quote_of_author": "qt_by", "reply_to": "re",
               "like_count": "likes"}
    records, rejects, _ = read(JsonlConnector(), path, source("jsonl", columns=columns))
    assert rejects == []
    tables = map_records("jsonl", records)
    posts = {r["post_id"]: r for r in tables["posts"].to_pylist()}
    repost = posts["jsonl:r"]
    assert (repost["kind"], repost["text"], repost["repost_of_post_id"], repost["repost_of_author_id"],
            repost["like_count"]) == ("repost", "", "jsonl:b1", "jsonl:bob", 3)
    quote = posts["jsonl:q"]
    assert (quote["kind"], quote["quote_of_post_id"], quote["quote_of_author_id"]) == ("quote", "jsonl:b1", "jsonl:bob")
    both = posts["jsonl:p"]
    assert (both["kind"], both["reply_to_post_id"], both["quote_of_post_id"]) == ("reply", "jsonl:b1", "jsonl:b2")
    # the repost's copied text gives it no links, tags or mentions of its own
    assert [r["post_id"] for r in tables["post_links"].to_pylist()] == []
    assert tables["post_hashtags"].num_rows == tables["post_mentions"].num_rows == 0
    assert [r["account_id"] for r in tables["accounts"].to_pylist()] == ["jsonl:ann"]


def test_large_csv_streams_in_pages(tmp_path: Path) -> None:
    n = IMPORT_PAGE_SIZE * 2 + 7
    rows = [["post_id", "author", "created_at", "text"]] + [[str(i), "a", str(1700000000 + i), f"p{i}"] for i in range(n)]
    records, _, pages = read(CsvConnector(), write_csv(tmp_path / "big.csv", rows))
    assert [len(p.records) for p in pages] == [IMPORT_PAGE_SIZE, IMPORT_PAGE_SIZE, 7]
    assert records[-1].locator.endswith(f"big.csv:{n + 1}")


def test_tab_and_pipe_delimiters_are_found_in_the_header(tmp_path: Path) -> None:
    for name, delimiter in (("t.tsv", "\t"), ("p.csv", "|")):
        path = write_csv(tmp_path / name, [["post_id", "author", "created_at", "text"],
                                           ["1", "a", "2024-01-01T00:00:00Z", "commas, inside; text"]], delimiter)
        (row,) = payloads(read(CsvConnector(), path)[0])
        assert row["text"] == "commas, inside; text"


def test_csv_empty_wrong_and_undecodable_files_are_refused_by_name(tmp_path: Path) -> None:
    reddit = FIXTURES / "reddit_comments.csv"
    with pytest.raises(ImportFormatError, match=r"no column 'post_id' for post_id \(columns found: 'id', 'permalink'"):
        read(CsvConnector(), reddit)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("post_id,author,created_at,text,café\n".encode("latin-1"))
    for path in (latin, tmp_path / "missing.csv"):
        with pytest.raises(ImportFormatError) as info:
            read(CsvConnector(), path)
        assert str(path) in str(info.value)


def test_csv_invalid_utf8_midway_keeps_the_rows_before(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    good = b"".join(b"%d,a,2024-01-01T00:00:00Z,ok\n" % i for i in range(1000))  # well past the first decoded chunk
    path.write_bytes(b"post_id,author,created_at,text\n" + good + b"1000,b,2024-01-01T00:00:00Z,caf\xe9\n")
    records, rejects, _ = read(CsvConnector(), path)
    # only the row holding the bad byte is lost; every row before it lands
    assert [r.record_id for r in records] == [str(i) for i in range(1000)]
    assert len(rejects) == 1 and rejects[0].locator == f"{path}:1002" and "UTF-8" in rejects[0].reason


# ---- JSON Lines ----------------------------------------------------------------------------------
def test_jsonl_nested_fields_numbers_and_arrays(tmp_path: Path) -> None:
    rows = [
        {"id": 101, "user": {"screen_name": "Carol", "name": "Carol C."}, "ts": 1709287500, "full_text": "Hi",
         "entities": {"urls": ["https://e.example/1"]}},
        {"id": 102.0, "user": {"screen_name": "carol", "name": "Carol Again"}, "ts": "2024-03-02T00:00:00Z",
         "full_text": None, "entities": {"urls": []}},
    ]
    path = tmp_path / "tweets.json"  # a JSON array is read as well
    path.write_text(json.dumps(rows), encoding="utf-8")
    columns = {"post_id": "id", "author": "user.screen_name", "author_name": "user.name", "created_at": "ts",
               "text": "full_text", "links": "entities.urls"}
    records, rejects, _ = read(JsonlConnector(), path, source("jsonl", columns=columns, platform_label="tw"))
    assert rejects == []
    assert [(r.record_id, r.locator) for r in records] == [("101", f"{path}[0]"), ("102", f"{path}[1]")]
    first, second = payloads(records)
    assert (first["author"], first["author_name"], first["created_at"], first["links"]) == (
        "carol", "Carol C.", "2024-03-01T10:05:00Z", ["https://e.example/1"])
    assert second["text"] == ""
    accounts = map_records("jsonl", records)["accounts"].to_pylist()
    assert [(a["account_id"], a["display_name"]) for a in accounts] == [("tw:carol", "Carol Again")]


def test_jsonl_bad_lines_are_quarantined_and_a_wrong_first_row_refuses_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join([
        json.dumps({"post_id": "1", "author": "a", "created_at": "2024-01-01T00:00:00Z", "text": "ok"}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"post_id": "3", "created_at": "2024-01-01T00:00:00Z", "text": "no author key"}),
        json.dumps({"post_id": "4", "author": "d", "created_at": "soon", "text": "bad time"}),
        '{"post_id": "5", "author": "e", "created_at": "2024-01-01T00:00:00Z", "text": "cut',
        json.dumps({"post_id": "6", "author": "f", "created_at": "2024-01-01T00:00:00Z", "text": "ok"}),
    ]), encoding="utf-8")
    records, rejects, _ = read(JsonlConnector(), path)
    assert [r.record_id for r in records] == ["1", "6"]
    assert [r.locator for r in rejects] == [f"{path}:{n}" for n in (2, 3, 4, 5)]
    assert rejects[0].reason == "a row must be a JSON object, not a JSON list"
    assert rejects[1].reason == "column 'author' (author) is empty"
    assert rejects[2].reason.startswith("column 'created_at' (created_at): cannot read 'soon'")
    assert rejects[3].reason.startswith("invalid JSON on line 5")

    mastodon = FIXTURES / "mastodon_statuses.json"
    with pytest.raises(ImportFormatError) as info:
        read(JsonlConnector(), mastodon)
    assert str(info.value).startswith(f"{mastodon}: no column 'post_id' for post_id")
    with pytest.raises(ImportFormatError, match=r"sample\.csv: not a JSON"):
        read(JsonlConnector(), FIXTURES / "sample.csv")


# ---- options, collection, pipeline ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"columns": {"body": "text"}}, r"options.columns: unknown canonical column\(s\) body \(known: post_id, "),
        ({"columns": {"text": " "}}, r"column\(s\) text map to an empty name"),
        ({"platform_label": "Old Forum"}, r"platform_label 'Old Forum' must be"),
        ({"delimiter": ";;"}, r"delimiter ';;' must be one character"),
        # one wording for every connector (issue 11): the unknown key, the closest known one
        ({"colums": {}}, r"options.colums: unknown option, did you mean 'columns'\?"),
    ],
)
def test_invalid_options_are_refused_with_the_key(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    with pytest.raises(TabularOptionsError, match=r"source 'table' \(csv\): .*" + message):
        read(CsvConnector(), FIXTURES / "sample.csv", source(**options))
    with pytest.raises(TabularOptionsError, match="CSV files only"):
        read(JsonlConnector(), FIXTURES / "sample.jsonl", source("jsonl", delimiter=";"))


@pytest.mark.parametrize("connector", [CsvConnector(), JsonlConnector()])
def test_collect_is_refused_with_the_import_command(connector: Connector) -> None:
    pages: Iterator[Page] = connector.collect(source(connector.platform, columns={}), None, None)  # type: ignore[arg-type]
    with pytest.raises(ImportOnlyError, match=rf"dissentry import {connector.platform} <file>"):
        next(pages)


def test_pipeline_import_with_the_sources_mapping_is_idempotent(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "forum.csv", [
        ["id", "user", "time", "body", "link", "parent"],
        ["1", "alice", "2024-03-01T10:00:00Z", "first https://party.example/a", "", ""],
        ["2", "bob", "2024-03-01T11:00:00Z", "reply", "", "1"],
    ])
    config = Config(
        warehouse_dir=str(tmp_path / "wh"),
        sources=[Source(name="forum", platform="csv", files=[str(path)],
                        options={"columns": COLUMNS, "platform_label": "oldforum"})],
        config_path=tmp_path / "dissentry.toml",
    )
    (first,) = pipeline.collect(config)
    assert (first["status"], first["records_new"]) == ("ok", 2)
    counts = pipeline.normalise(config)
    assert (counts["posts"], counts["post_links"], counts["accounts"]) == (2, 1, 2)
    (second,) = pipeline.collect(config)
    assert (second["status"], second["records_new"]) == ("ok", 0)
    assert pipeline.normalise(config) == counts


def test_a_zip_of_csv_files_imports_member_by_member_with_zip_locators(tmp_path: Path) -> None:
    import zipfile

    rows = "post_id,author,created_at,text\n1,a,2024-01-01T00:00:00Z,one\n2,b,not a date,two\n"
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("posts/part1.csv", rows)
        zf.writestr("posts/part2.csv", rows.replace("1,a", "3,c"))
        zf.writestr("../evil.csv", rows)
        zf.writestr("readme.md", "not data")
    records, rejects, _ = read(CsvConnector(), archive)
    assert sorted(r.record_id for r in records) == ["1", "3"]
    assert all(r.locator.startswith(f"{archive}!posts/part") for r in records)
    locators = sorted(r.locator for r in rejects)
    assert locators == [f"{archive}!../evil.csv", f"{archive}!posts/part1.csv:3", f"{archive}!posts/part2.csv:3"]
    assert not (tmp_path.parent / "evil.csv").exists()
