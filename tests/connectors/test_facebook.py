"""The Facebook connector: reading a "Download Your Information" export (zip, folder or one posts
file) and the mapping to the canonical schema through `dissentry.normalise.map_records`.

The fixtures (connectors/facebook/fixtures/) are written in the export's exact shape, mojibake
included: every non-ASCII character is its UTF-8 bytes escaped one by one, as Meta writes them.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dissentry import pipeline
from dissentry.config import Config, Source
from dissentry.connectors.base import ImportFormatError, Page, RawRecord, Reject
from dissentry.connectors.facebook.connector import (
    IMPORT_PAGE_SIZE,
    FacebookConnector,
    ImportOnlyError,
    repair,
    repair_text,
    slug,
)
from dissentry.normalise import map_records

FIXTURES = Path(__file__).resolve().parents[2] / "connectors" / "facebook" / "fixtures"
EXPORT_2024 = FIXTURES / "export_2024"
EXPORT_OLD = FIXTURES / "export_old"
SAMPLE_ZIP = FIXTURES / "contract" / "sample.zip"
POSTS_2024 = "your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_1.json"
PROFILE_2024 = "personal_information/profile_information/profile_information.json"

connector = FacebookConnector()


def read(path: Path, source: Source | None = None) -> tuple[list[RawRecord], list[Reject], list[Page]]:
    pages = list(connector.read_export(path, source))
    return [r for p in pages for r in p.records], [r for p in pages for r in p.rejects], pages


def source(**options: Any) -> Source:
    return Source(name="fb", platform="facebook", files=["x.zip"], options=options)


def post(ts: int, text: str | None = None, title: str = "", **extra: Any) -> dict[str, Any]:
    """A post in the export's shape; `text` is given as Python text and stored as the export's mojibake."""
    body: dict[str, Any] = {"timestamp": ts, "title": mojibake(title), **extra}
    body["data"] = [{"post": mojibake(text)}] if text is not None else [{"update_timestamp": ts}]
    return body


def mojibake(text: str) -> str:
    """What Meta writes for `text`: each UTF-8 byte as one code point."""
    return text.encode("utf-8").decode("latin-1")


def write_export(root: Path, posts: Any, owner: str | None = "Alice Example", posts_name: str = "posts/your_posts_1.json") -> Path:
    (root / posts_name).parent.mkdir(parents=True, exist_ok=True)
    (root / posts_name).write_text(json.dumps(posts), encoding="utf-8")
    if owner is not None:
        profile = root / "profile_information" / "profile_information.json"
        profile.parent.mkdir(parents=True, exist_ok=True)
        profile.write_text(json.dumps({"profile_v2": {"name": {"full_name": mojibake(owner)}}}), encoding="utf-8")
    return root


def posts_by_id(records: list[RawRecord]) -> dict[str, dict[str, Any]]:
    return {row["post_id"]: row for row in map_records("facebook", records)["posts"].to_pylist()}


# ---- strings -------------------------------------------------------------------------------------
def test_repair_text_undoes_the_exports_mojibake_and_leaves_good_text_alone() -> None:
    assert repair_text("Zo\u00c3\u00ab") == "Zoë"
    assert repair_text("\u00e2\u0080\u0094 \u00f0\u009f\u0087\u00ab\u00f0\u009f\u0087\u00b7") == "— 🇫🇷"
    assert repair_text("plain ascii") == "plain ascii"
    assert repair_text("café") == "café"  # already right: its Latin-1 bytes are not UTF-8
    assert repair_text("20 €") == "20 €"  # a character above U+00FF cannot be mojibake
    assert repair({"a": ["Zo\u00c3\u00ab", 3, None], "b": {"c": "\u00c3\u00a9"}}) == {"a": ["Zoë", 3, None], "b": {"c": "é"}}


def test_slug_makes_lower_case_handles_of_names() -> None:
    assert slug("Zoë Martin") == "zoë-martin"
    assert slug("  Jean-Luc O'Neil ") == "jean-luc-o-neil"
    assert slug("ALICE") == "alice"
    assert slug("Zoe\u0308 Martin") == "zoë-martin"  # decomposed ë composes first
    assert slug("!!!") == ""


# ---- reading the export --------------------------------------------------------------------------
def test_zip_as_downloaded_yields_one_record_per_post_with_the_owner_from_the_profile() -> None:
    records, rejects, _ = read(SAMPLE_ZIP)
    assert rejects == []
    assert [r.record_id for r in records] == [
        "zoë-martin:1700000000",
        "zoë-martin:1700000000:2",  # the second post in the same second
        "zoë-martin:1700100000",
        "zoë-martin:1700200000",
        "zoë-martin:1700300000",
        "zoë-martin:1700400000",
    ]
    assert {r.record_type for r in records} == {"post"}
    assert records[0].locator == f"{SAMPLE_ZIP}!{POSTS_2024}[0]"
    first = json.loads(records[0].payload)
    assert first["owner"] == {"name": "Zoë Martin", "slug": "zoë-martin"}
    assert first["post"]["data"][0]["post"].startswith("Le café du marché ferme — read")
    # comments.json sits in the export but holds no posts of the owner's: it is not read
    assert all("comments" not in r.locator for r in records)
    # nothing of the profile but the name enters the lake
    assert all("zoe.martin@example.org" not in r.payload and "1990" not in r.payload for r in records)


def test_unzipped_folder_and_one_posts_file_inside_it_read_the_same_posts_as_the_zip() -> None:
    from_zip, _, _ = read(SAMPLE_ZIP)
    from_folder, rejects, _ = read(EXPORT_2024)
    from_file, file_rejects, _ = read(EXPORT_2024 / POSTS_2024)
    assert rejects == file_rejects == []
    for records in (from_folder, from_file):
        assert [(r.record_id, r.payload) for r in records] == [(r.record_id, r.payload) for r in from_zip]
    assert from_file[3].locator == f"{EXPORT_2024 / POSTS_2024}[3]"


def test_the_contract_zips_hold_the_fixture_folder() -> None:
    with zipfile.ZipFile(SAMPLE_ZIP) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    files = {p.relative_to(EXPORT_2024).as_posix(): p.read_bytes() for p in EXPORT_2024.rglob("*") if p.is_file()}
    assert members == files


def test_other_files_of_an_unzipped_export_are_skipped_when_handed_over_one_by_one() -> None:
    # the pipeline expands a folder into its files; the profile and comments are no posts
    assert read(EXPORT_2024 / PROFILE_2024) == ([], [], [])
    assert read(EXPORT_2024 / "your_facebook_activity" / "comments_and_reactions" / "comments.json") == ([], [], [])


def test_old_layout_takes_the_owner_from_the_older_profile_shape() -> None:
    records, rejects, _ = read(EXPORT_OLD)
    assert rejects == []
    assert [r.record_id for r in records] == [
        "alice-example:1546300800", "alice-example:1546387200", "alice-example:1546473600"
    ]
    posts = posts_by_id(records)
    assert posts["facebook:alice-example:1546300800"]["text"] == "Happy new year! Na zdraví"
    shared = posts["facebook:alice-example:1546473600"]
    assert (shared["kind"], shared["text"], shared["repost_of_author_id"]) == ("post", "", None)


def test_a_lone_posts_file_needs_the_owner_from_the_options(tmp_path: Path) -> None:
    lone = tmp_path / "your_posts_1.json"
    lone.write_text(json.dumps([post(1700000000, "hello")]), encoding="utf-8")
    with pytest.raises(ImportFormatError) as info:
        read(lone)
    assert str(lone) in str(info.value) and "options.owner" in str(info.value)

    records, _, _ = read(lone, source(owner="Bea Quinn"))
    assert [r.record_id for r in records] == ["bea-quinn:1700000000"]
    # the option wins over the export's own profile, so a source can pin the handle groups use
    export = write_export(tmp_path / "export", [post(1700000000, "hi")], owner="Alice Example")
    records, _, _ = read(export, source(owner="alice.campaign"))
    assert [r.record_id for r in records] == ["alice-campaign:1700000000"]


@pytest.mark.parametrize("key", ["status_updates_v2", "status_updates"])
def test_wrapped_lists_of_posts_are_read(tmp_path: Path, key: str) -> None:
    export = write_export(tmp_path, {key: [post(1700000000, "one"), post(1700000001, "two")]})
    records, rejects, _ = read(export)
    assert rejects == [] and [r.record_id for r in records] == ["alice-example:1700000000", "alice-example:1700000001"]


def test_unknown_wrappers_and_other_platforms_files_are_refused_by_name(tmp_path: Path) -> None:
    export = write_export(tmp_path / "a", {"comments_v2": [post(1700000000, "x")]})
    with pytest.raises(ImportFormatError, match=r"your_posts_1\.json: .*'comments_v2'"):
        read(export)
    mastodon = FIXTURES / "contract" / "mastodon_statuses.json"
    with pytest.raises(ImportFormatError, match="Mastodon") as info:
        read(mastodon, source(owner="x"))
    assert str(mastodon) in str(info.value)
    text = tmp_path / "notes.json"
    text.write_text('"just a string"', encoding="utf-8")
    with pytest.raises(ImportFormatError, match=r"notes\.json: .*expected a JSON list"):
        read(text, source(owner="x"))


def test_html_exports_and_exports_without_posts_are_refused_with_the_reason(tmp_path: Path) -> None:
    html = tmp_path / "html"
    (html / "your_facebook_activity" / "posts").mkdir(parents=True)
    (html / "your_facebook_activity" / "posts" / "your_posts__check_ins__photos_and_videos_1.html").write_text("<html>")
    with pytest.raises(ImportFormatError, match="HTML format"):
        read(html)
    empty_zip = tmp_path / "part2.zip"
    with zipfile.ZipFile(empty_zip, "w") as archive:
        archive.writestr("your_facebook_activity/messages/inbox/x/message_1.json", "{}")
    with pytest.raises(ImportFormatError, match=r"part2\.zip: no Facebook posts files"):
        read(empty_zip)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ImportFormatError, match=r"broken\.zip"):
        read(broken)


def test_a_zip_without_the_profile_asks_for_the_owner(tmp_path: Path) -> None:
    part = tmp_path / "facebook-part1.zip"
    with zipfile.ZipFile(part, "w") as archive:
        archive.writestr(POSTS_2024, json.dumps([post(1700000000, "x")]))
    with pytest.raises(ImportFormatError, match=r"facebook-part1\.zip: cannot tell whose export .*split"):
        read(part)
    records, _, _ = read(part, source(owner="Zoë Martin"))
    assert [r.record_id for r in records] == ["zoë-martin:1700000000"]


def test_zip_members_with_unsafe_paths_are_rejected_and_never_read(tmp_path: Path) -> None:
    archive_path = tmp_path / "export.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr(PROFILE_2024, json.dumps({"profile_v2": {"name": {"full_name": "Alice Example"}}}))
        archive.writestr(POSTS_2024, json.dumps([post(1700000000, "good")]))
        archive.writestr("../posts/your_posts_1.json", json.dumps([post(1700000001, "evil")]))
        archive.writestr("/posts/your_posts_2.json", json.dumps([post(1700000002, "evil")]))
    records, rejects, _ = read(archive_path)
    assert [r.record_id for r in records] == ["alice-example:1700000000"]
    assert sorted(r.locator for r in rejects) == [f"{archive_path}!../posts/your_posts_1.json",
                                                  f"{archive_path}!/posts/your_posts_2.json"]


def test_bad_posts_are_quarantined_by_index_and_the_good_ones_land(tmp_path: Path) -> None:
    export = write_export(tmp_path, [
        post(1700000000, "good one"),
        "not an object",
        {"data": [{"post": "no timestamp"}], "title": ""},
        post(1700000000123, "milliseconds, not seconds"),
        {"timestamp": 1700000003, "data": {"post": "data is not a list"}},
        post(1700000004, "good two"),
    ])
    records, rejects, _ = read(export)
    assert [r.record_id for r in records] == ["alice-example:1700000000", "alice-example:1700000004"]
    where = export / "posts" / "your_posts_1.json"
    assert [(r.locator, r.reason) for r in rejects] == [
        (f"{where}[1]", "a post must be a JSON object, not a JSON str"),
        (f"{where}[2]", "the post has no integer timestamp"),
        (f"{where}[3]", "the post's timestamp 1700000000123 is not seconds since 1970"),
        (f"{where}[4]", "the post's 'data' is not a list"),
    ]
    assert "no timestamp" in rejects[1].content


def test_a_truncated_posts_file_keeps_the_posts_before_the_cut(tmp_path: Path) -> None:
    export = write_export(tmp_path, [post(1700000000, "one"), post(1700000001, "two")])
    target = export / "posts" / "your_posts_1.json"
    text = target.read_text(encoding="utf-8")
    target.write_text(text[: text.index("two") + 2], encoding="utf-8")
    records, rejects, _ = read(export)
    assert [r.record_id for r in records] == ["alice-example:1700000000"]
    assert [r.locator for r in rejects] == [f"{target}[1]"] and "truncated" in rejects[0].reason


def test_large_files_stream_in_pages_and_equal_timestamps_number_in_file_order(tmp_path: Path) -> None:
    n = IMPORT_PAGE_SIZE * 2 + 500
    big_text = "x" * (1 << 20) + " end"  # one post longer than the reader's 1 MiB window
    posts = [post(1600000000 + i // 3, big_text if i == 7 else f"post {i}") for i in range(n)]
    records, rejects, pages = read(write_export(tmp_path, posts))
    assert rejects == []
    assert [len(p.records) for p in pages] == [IMPORT_PAGE_SIZE, IMPORT_PAGE_SIZE, 500]
    assert [r.record_id for r in records[:4]] == [
        "alice-example:1600000000", "alice-example:1600000000:2", "alice-example:1600000000:3",
        "alice-example:1600000001",
    ]
    assert json.loads(records[7].payload)["post"]["data"][0]["post"] == big_text
    assert len({r.record_id for r in records}) == n


def test_split_posts_files_read_in_numeric_order(tmp_path: Path) -> None:
    export = write_export(tmp_path, [post(1700000000, "from file 2")], posts_name="posts/your_posts_2.json")
    write_export(export, [post(1700000000, "from file 10")], owner=None, posts_name="posts/your_posts_10.json")
    write_export(export, [post(1700000000, "from file 1")], owner=None, posts_name="posts/your_posts_1.json")
    records, _, _ = read(export)
    texts = [json.loads(r.payload)["post"]["data"][0]["post"] for r in records]
    assert texts == ["from file 1", "from file 2", "from file 10"]
    assert [r.record_id for r in records] == [
        "alice-example:1700000000", "alice-example:1700000000:2", "alice-example:1700000000:3"
    ]


def test_empty_and_unreadable_inputs_are_refused_by_name(tmp_path: Path) -> None:
    for name, content in (("empty.json", b""), ("empty.zip", b""), ("latin1.json", "[{\"title\": \"é\"}]".encode("latin-1"))):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ImportFormatError) as info:
            read(path, source(owner="x"))
        assert str(path) in str(info.value)
    with pytest.raises(ImportFormatError, match="no such file"):
        read(tmp_path / "missing.zip")


# ---- the mapping ---------------------------------------------------------------------------------
def test_mapping_turns_the_sample_export_into_canonical_posts() -> None:
    records, _, _ = read(SAMPLE_ZIP)
    tables = map_records("facebook", records)
    posts = {row["post_id"]: row for row in tables["posts"].to_pylist()}
    p = "facebook:zoë-martin:"
    assert set(posts) == {p + s for s in ("1700000000", "1700000000:2", "1700100000", "1700200000", "1700300000",
                                          "1700400000")}
    status = posts[p + "1700000000"]
    assert status["author_id"] == "facebook:zoë-martin"
    assert status["created_at"] == datetime.fromtimestamp(1700000000, UTC)
    assert status["text"] == ("Le café du marché ferme — read https://news.example.org/cafe-closes. "
                              "#Lyon #CommerceLocal")
    assert (status["kind"], status["link_title"], status["lang"], status["url"]) == ("post", None, None, None)

    link = posts[p + "1700100000"]  # "shared a link." with no words: the owner's own link post
    assert (link["kind"], link["text"], link["link_title"]) == ("post", "", "Our platform for 2024")

    repost = posts[p + "1700200000"]  # "shared Björn Stone's post." with no words
    assert (repost["kind"], repost["text"], repost["repost_of_author_id"], repost["repost_of_post_id"]) == (
        "repost", "", "facebook:björn-stone", None)
    quote = posts[p + "1700300000"]  # the same share with words of her own
    assert (quote["kind"], quote["quote_of_author_id"], quote["repost_of_author_id"], quote["link_title"]) == (
        "quote", "facebook:björn-stone", None, None)
    assert posts[p + "1700400000"]["text"] == "At the rally with friends"

    links = sorted((r["post_id"], r["url"]) for r in tables["post_links"].to_pylist())
    assert links == [
        (p + "1700000000", "https://news.example.org/cafe-closes"),  # the '.' after the URL is not in it
        (p + "1700100000", "https://party.example/en/news/platform-2024"),  # tracking parameter dropped
    ]  # the repost's and the quote's attachment is Björn's link, not theirs
    assert sorted(r["tag"] for r in tables["post_hashtags"].to_pylist()) == ["commercelocal", "lyon"]
    assert [(r["post_id"], r["account_id"], r["handle"]) for r in tables["post_mentions"].to_pylist()] == [
        (p + "1700400000", "facebook:carla-díaz", "carla-díaz")  # the person tagged in the photo
    ]
    accounts = {r["account_id"]: r for r in tables["accounts"].to_pylist()}
    assert {a: (r["handle"], r["display_name"]) for a, r in accounts.items()} == {
        "facebook:zoë-martin": ("zoë-martin", "Zoë Martin"),
        "facebook:björn-stone": ("björn-stone", "Björn Stone"),
    }


@pytest.mark.parametrize(
    ("title", "text", "kind", "other"),
    [
        ("Alice Example shared Ünal İz-Øre's video.", None, "repost", "Ünal İz-Øre"),
        ("Alice Example shared James' photo.", None, "repost", "James"),
        ("Alice Example shared The Players' Tribune's post.", None, "repost", "The Players' Tribune"),
        ("Alice Example shared Dr. Mary-Kate O’Brien's post.", "So true", "quote", "Dr. Mary-Kate O’Brien"),
        ("Alice Example shared Alice Example's post.", None, "post", None),  # her own post again
        ("Alice Example shared a post.", None, "post", None),
        ("Alice Example shared a memory.", "Ten years ago", "post", None),
        ("Alice Example wrote on Bob Stone's timeline.", "Happy birthday!", "post", None),
        ("Alice Example hat den Beitrag von Bob Stone geteilt.", None, "post", None),  # German titles are not parsed
    ],
)
def test_kind_follows_the_english_title(tmp_path: Path, title: str, text: str | None, kind: str,
                                        other: str | None) -> None:
    records, _, _ = read(write_export(tmp_path, [post(1700000000, text, title=title)]))
    (row,) = posts_by_id(records).values()
    expected_other = f"facebook:{slug(other)}" if other else None  # the connector's slug, computed in SQL
    assert row["kind"] == kind
    assert row["repost_of_author_id"] == (expected_other if kind == "repost" else None)
    assert row["quote_of_author_id"] == (expected_other if kind == "quote" else None)


def test_several_text_parts_and_typed_links_in_a_share(tmp_path: Path) -> None:
    share = post(1700000000, "Read this: https://a.example/x?fbclid=abc! and #Vote", title="Alice Example shared a link.")
    share["data"].append({"post": "second part"})
    share["attachments"] = [{"data": [{"external_context": {"url": "https://b.example/y", "name": "B"}},
                                      {"media": {"uri": "photos/1.jpg"}},
                                      {"external_context": {"url": "not a url"}}]}]
    (row,) = posts_by_id(read(write_export(tmp_path, [share]))[0]).values()
    assert row["text"] == "Read this: https://a.example/x?fbclid=abc! and #Vote\n\nsecond part"
    assert row["link_title"] == "B"
    tables = map_records("facebook", read(tmp_path)[0])
    assert sorted(r["url"] for r in tables["post_links"].to_pylist()) == ["https://a.example/x", "https://b.example/y"]
    assert [r["tag"] for r in tables["post_hashtags"].to_pylist()] == ["vote"]


def test_an_external_context_with_a_bare_facebook_url_is_a_link_with_its_title(tmp_path: Path) -> None:
    # real exports: a shared page or group comes as {"name": <its name>, "url": "facebook.com"}
    share = post(1700000000, None, title="Alice Example shared a link.")
    share["attachments"] = [{"data": [{"external_context": {"name": "Städtisches Forum", "url": "facebook.com"}}]}]
    group = post(1700000001, None, title="Alice Example shared a link.")
    group["attachments"] = [{"data": [{"external_context": {"url": "facebook.com/groups/123"}},
                                      {"external_context": {"name": "Nachbarn"}}]}]
    records = read(write_export(tmp_path, [share, group]))[0]
    posts = posts_by_id(records)
    assert posts["facebook:alice-example:1700000000"]["link_title"] == "Städtisches Forum"
    assert posts["facebook:alice-example:1700000001"]["link_title"] == "Nachbarn"  # the first context with a name
    links = sorted((r["post_id"], r["url"]) for r in map_records("facebook", records)["post_links"].to_pylist())
    assert links == [("facebook:alice-example:1700000000", "https://facebook.com"),
                     ("facebook:alice-example:1700000001", "https://facebook.com/groups/123")]


def test_a_member_named_as_in_the_profile_is_the_owner_the_posts_carry(tmp_path: Path) -> None:
    from dissentry.config import Group, parse_account_ref
    from dissentry.transforms.config_tables import config_rows

    records = read(write_export(tmp_path / "export", [post(1700000000, "Hei")], owner="Gustav Johansen"))[0]
    (row,) = posts_by_id(records).values()
    assert row["author_id"] == "facebook:gustav-johansen"
    # the name form (profile_information.json), the slug form and a username-like spelling are one account
    for ref in ("facebook:Gustav Johansen", "facebook:gustav-johansen", "facebook:@gustav.johansen"):
        assert parse_account_ref(ref) == ("facebook", "gustav-johansen"), ref
    config = Config(warehouse_dir=str(tmp_path / "wh"), config_path=tmp_path / "dissentry.toml",
                    groups=[Group(id="g", name="G", members=["facebook:Gustav Johansen"])])
    (member,) = config_rows(config)["cfg_group_members"]
    assert f"{member['platform']}:{member['handle']}" == row["author_id"]
    with pytest.raises(ValueError, match="facebook:Gustav Johansen"):
        parse_account_ref("facebook:!!!")


# ---- collection, options, pipeline ---------------------------------------------------------------
def test_collect_is_refused_with_the_import_command() -> None:
    pages: Iterator[Page] = connector.collect(source(owner="x"), None, None)  # type: ignore[arg-type]
    with pytest.raises(ImportOnlyError, match=r"dissentry import facebook"):
        next(pages)


def test_unknown_options_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"source 'fb' \(facebook\): options.ownr: .*known options: owner"):
        read(SAMPLE_ZIP, source(ownr="typo"))


def test_pipeline_imports_the_zip_and_a_collect_run_fails_with_the_reason(tmp_path: Path) -> None:
    config = Config(
        warehouse_dir=str(tmp_path / "wh"),
        sources=[Source(name="zoe", platform="facebook", files=[str(SAMPLE_ZIP)]),
                 Source(name="no-files", platform="facebook", options={"owner": "Zoë Martin"})],
        config_path=tmp_path / "dissentry.toml",
    )
    imported, refused = pipeline.collect(config)
    assert (imported["status"], imported["records_seen"], imported["records_quarantined"]) == ("ok", 6, 0)
    assert refused["status"] == "failed" and "dissentry import facebook" in refused["errors"]
    assert pipeline.normalise(config)["posts"] == 6


def test_pipeline_import_of_the_unzipped_folder_reads_only_the_posts_files(tmp_path: Path) -> None:
    config = Config(warehouse_dir=str(tmp_path / "wh"), config_path=tmp_path / "dissentry.toml")
    row = pipeline.import_export(config, "facebook", [EXPORT_2024])  # expanded by the pipeline into its files
    assert (row["status"], row["records_seen"], row["records_quarantined"], row["errors"]) == ("ok", 6, 0, "[]")


def test_a_zip_saved_beside_its_unzipped_copy_is_still_read(tmp_path: Path) -> None:
    shutil.copytree(EXPORT_2024, tmp_path / "downloads")
    shutil.copy(SAMPLE_ZIP, tmp_path / "downloads" / "facebook-zoe.zip")
    records, rejects, _ = read(tmp_path / "downloads" / "facebook-zoe.zip")
    assert rejects == [] and len(records) == 6
