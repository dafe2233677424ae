"""Hostile inputs that need more than a file and a count: bounded memory, zip bombs, text that
looks like markup, names that look like paths or SQL, impossible timestamps, conflicting versions."""

from __future__ import annotations

import json
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dissentry import pipeline
from dissentry.cli import app
from dissentry.config import Config, load_config
from dissentry.connectors.exports import MAX_ZIP_MEMBER_BYTES
from dissentry.testing.memory import current_rss_mib, peak_rss_mib, reset_peak_rss
from tests.hostile.corpus import (
    FACEBOOK_POSTS,
    FACEBOOK_PROFILE,
    MB,
    bluesky_item,
    facebook_post,
    jsonl,
    mastodon_status,
    table_row,
    telegram_export,
    telegram_message,
    write_long_line,
    write_zip,
    write_zip_bomb,
)
from tests.support.layers import published_files

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parents[2] / "connectors"


def make_project(root: Path, extra: str = "") -> Config:
    (root / "in").mkdir(exist_ok=True)
    (root / "dissentry.toml").write_text('warehouse_dir = "wh"\n' + extra, encoding="utf-8")
    return load_config(root / "dissentry.toml")


def quarantine(root: Path) -> list[dict]:
    return [row for f in sorted((root / "wh" / "quarantine").rglob("*.parquet")) for row in pq.read_table(f).to_pylist()]


def table(root: Path, name: str) -> list[dict]:
    return [row for f in published_files(root / "wh", name) for row in pq.read_table(f).to_pylist()]


def raw_rows(root: Path) -> list[dict]:
    return [row for f in sorted((root / "wh" / "raw").rglob("*.parquet")) for row in pq.read_table(f).to_pylist()]


def outside_warehouse(root: Path) -> list[Path]:
    """Files under the project that are neither inputs, nor the config, nor in the warehouse."""
    assert any((root / "wh").rglob("*.parquet"))
    return [p for p in root.rglob("*") if p.is_file() and p.name != "dissentry.toml"
            and (root / "in") not in p.parents and (root / "wh") not in p.parents]


# ---- one 100 MB line: rejected with bounded memory ------------------------------------------------------------
def import_measured(config: Config, platform: str, path: Path, source: str | None = None) -> tuple[dict, int, int]:
    """The run row, the peak of Python allocations during the import, and the growth of peak RSS.

    The same import runs once first into a throwaway project, so the modules it imports lazily and
    its caches are not counted as its allocations (run alone, the first import traced 60 MB of
    them). The high-water mark is reset then: by this point of a suite pytest's own peak is often
    far above what one import needs, and growth of ru_maxrss past it would read 0 whatever happened."""
    with tempfile.TemporaryDirectory() as warm:
        (Path(warm) / "dissentry.toml").write_text('warehouse_dir = "wh"\n', encoding="utf-8")
        pipeline.import_export(load_config(Path(warm) / "dissentry.toml"), platform, [path], source)
    rss_before = current_rss_mib() * 2**20
    reset_peak_rss()
    tracemalloc.start()
    try:
        row = pipeline.import_export(config, platform, [path], source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth = peak_rss_mib() * 2**20 - rss_before
    return row, peak, rss_growth


@pytest.mark.parametrize("platform", ["mastodon", "jsonl"])
def test_a_100_mb_line_is_rejected_with_memory_far_below_its_size(tmp_path: Path, platform: str) -> None:
    config = make_project(tmp_path)
    good = [mastodon_status(1), mastodon_status(2)] if platform == "mastodon" else [table_row(1), table_row(2)]
    path = write_long_line(tmp_path / "in" / "huge.jsonl", 100 * MB, before=jsonl(good[0]), after=jsonl(good[1]))
    assert path.stat().st_size > 100 * MB

    row, peak, rss_growth = import_measured(config, platform, path)

    assert (row["records_seen"], row["records_quarantined"]) == (2, 1)
    (q,) = quarantine(tmp_path)
    assert q["locator"] == f"{path}:2"
    assert f"line 2 is {100 * MB:,} bytes, over the" in q["reason"]
    assert len(q["content"]) <= 2000  # only the head of the line is kept, not the line
    assert peak < 40 * MB, peak
    assert rss_growth < 200 * MB, rss_growth


def test_a_100_mb_array_element_stops_the_array_with_memory_far_below_its_size(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    path = tmp_path / "in" / "huge.json"
    first = json.dumps(bluesky_item(1)).encode()
    # an array of one good feed item, then an element that is one 100 MB string
    write_long_line(path, 100 * MB, before=b"[" + first + b",\n")
    with path.open("ab") as fh:
        fh.write(b"]")

    row, peak, rss_growth = import_measured(config, "bluesky", path)

    assert (row["records_seen"], row["records_quarantined"]) == (1, 1)
    (q,) = quarantine(tmp_path)
    assert q["locator"] == f"{path}[1]" and "element 1 is over the" in q["reason"]
    assert peak < 80 * MB, peak
    assert rss_growth < 200 * MB, rss_growth


# ---- zip bombs and zip paths ---------------------------------------------------------------------------------
BOMB = MAX_ZIP_MEMBER_BYTES + 64 * MB  # over a gigabyte inflated, about 5 MB on disk


def test_a_telegram_zip_bomb_is_refused_before_anything_is_inflated(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    path = write_zip_bomb(tmp_path / "in" / "export.zip", "ChatExport/result.json", BOMB,
                          prefix=telegram_export([telegram_message(1)])[:-3])
    assert path.stat().st_size < 20 * MB

    row, peak, _ = import_measured(config, "telegram", path)

    assert row["records_seen"] == 0
    (error,) = json.loads(row["errors"])
    assert error.startswith(f"{path}!ChatExport/result.json: inflates to {BOMB:,} bytes, over the")
    assert peak < 20 * MB


def test_a_facebook_zip_bomb_member_is_quarantined_and_the_other_posts_land(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    path = tmp_path / "in" / "facebook.zip"
    good = json.dumps([facebook_post(1_700_000_000 + i, f"post {i}") for i in range(3)]).encode()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("personal_information/profile_information/profile_information.json", FACEBOOK_PROFILE)
        archive.writestr(FACEBOOK_POSTS.format(n=1), good)
        with archive.open(FACEBOOK_POSTS.format(n=2), "w", force_zip64=True) as fh:
            filler = b" " * MB
            for _ in range(BOMB // MB):
                fh.write(filler)

    row, peak, _ = import_measured(config, "facebook", path)

    assert (row["records_seen"], row["records_quarantined"]) == (3, 1)
    (q,) = quarantine(tmp_path)
    assert q["locator"] == f"{path}!{FACEBOOK_POSTS.format(n=2)}"
    assert "over the" in q["reason"] and "limit for one zip member" in q["reason"]
    assert peak < 20 * MB


def test_a_twitter_zip_bomb_part_is_quarantined_and_the_archive_lands(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    data = FIXTURES / "twitter" / "fixtures" / "archive" / "data"
    path = write_zip_bomb(tmp_path / "in" / "twitter.zip", "data/tweets-part1.js", BOMB)
    with zipfile.ZipFile(path, "a") as archive:
        for name in ("account.js", "tweets.js"):
            archive.write(data / name, f"data/{name}")
    tweets_js = (data / "tweets.js").read_text(encoding="utf-8")
    n_tweets = len(json.loads(tweets_js[tweets_js.index("=") + 1:]))

    row = pipeline.import_export(config, "twitter", [path])

    assert (row["records_seen"], row["records_quarantined"]) == (n_tweets + 1, 1)  # the tweets and the account
    (q,) = quarantine(tmp_path)
    assert q["locator"] == f"{path}!data/tweets-part1.js" and "over the" in q["reason"]


def test_a_zip_bomb_by_ratio_alone_is_refused(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    # 200 MB of spaces: under the size limit, but inflating hundreds of times its compressed size
    path = write_zip_bomb(tmp_path / "in" / "export.zip", "ChatExport/result.json", 200 * MB)

    row = pipeline.import_export(config, "telegram", [path])

    (error,) = json.loads(row["errors"])
    assert str(path) in error and "looks like a zip bomb" in error
    assert row["records_seen"] == 0


def test_zip_members_with_parent_paths_write_nothing_outside(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    good = json.dumps([facebook_post(1_700_000_000, "kept")]).encode()
    members = {"personal_information/profile_information/profile_information.json": FACEBOOK_PROFILE.encode(),
               FACEBOOK_POSTS.format(n=1): good, f"../../{FACEBOOK_POSTS.format(n=2)}": good,
               f"/tmp/{FACEBOOK_POSTS.format(n=3)}": good}
    path = write_zip(tmp_path / "in" / "slip.zip", members)
    before = {p for p in tmp_path.parent.rglob("*")}

    row = pipeline.import_export(config, "facebook", [path])

    assert (row["records_seen"], row["records_quarantined"]) == (1, 2)
    assert sorted(q["locator"] for q in quarantine(tmp_path)) == sorted(
        [f"{path}!../../{FACEBOOK_POSTS.format(n=2)}", f"{path}!/tmp/{FACEBOOK_POSTS.format(n=3)}"])
    new = {p for p in tmp_path.parent.rglob("*")} - before
    assert new and all(tmp_path / "wh" in p.parents or p == tmp_path / "wh" for p in new)


# ---- markup in post text ---------------------------------------------------------------------------------------
SCRIPT = "<script>alert(1)</script>"
RICH = "[bold]not bold[/bold] [red]x"


def build_warehouse(config: Config, root: Path) -> None:
    pipeline.normalise(config)
    pipeline.transform(config)


def test_html_and_rich_markup_in_post_text_are_stored_and_printed_as_text(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    masto = tmp_path / "in" / "m.jsonl"
    masto.write_bytes(jsonl(mastodon_status(1, content=f"<p>a {SCRIPT}<b>b</b> &lt;i&gt; {RICH}</p>"
                                                       "<img src=x onerror=alert(1)>")))
    rows = tmp_path / "in" / "t.jsonl"
    rows.write_bytes(jsonl({**table_row(1), "text": f"{SCRIPT} <b>b</b> {RICH}"}))
    bsky = tmp_path / "in" / "b.jsonl"
    item = bluesky_item(1)
    item["post"]["record"]["text"] = f"{SCRIPT} {RICH}"
    bsky.write_bytes(jsonl(item))
    for platform, path in (("mastodon", masto), ("jsonl", rows), ("bluesky", bsky)):
        assert pipeline.import_export(config, platform, [path])["status"] == "ok"
    build_warehouse(config, tmp_path)

    texts = {r["platform"]: r["text"] for r in table(tmp_path, "posts")}
    # Mastodon's HTML becomes text: the script's body is dropped, entities decoded, nothing run
    assert texts["mastodon"] == f"a b <i> {RICH}"
    # the other platforms' text is plain text already: kept verbatim
    assert texts["jsonl"] == f"{SCRIPT} <b>b</b> {RICH}"
    assert texts["bluesky"] == f"{SCRIPT} {RICH}"


@pytest.mark.parametrize("text", [RICH, "[/bold] closes nothing"])
def test_markup_in_post_text_prints_literally_in_the_sql_table(tmp_path: Path, text: str) -> None:
    config = make_project(tmp_path)
    rows = tmp_path / "in" / "t.jsonl"
    rows.write_bytes(jsonl({**table_row(1), "text": text}))
    pipeline.import_export(config, "jsonl", [rows])
    build_warehouse(config, tmp_path)

    result = runner.invoke(app, ["--config", str(tmp_path / "dissentry.toml"), "sql",
                                 "SELECT text FROM posts"])
    assert result.exit_code == 0, result.output
    assert text in result.output


# ---- names that look like paths or SQL -------------------------------------------------------------------------
EVIL_NAMES = ["../../etc", "x'; DROP TABLE posts; --", "..", "a/../../b", 'q"uote\\back']


def test_source_names_and_handles_that_look_like_paths_or_sql_stay_data(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    for n, name in enumerate(EVIL_NAMES):
        path = tmp_path / "in" / f"{n}.jsonl"
        path.write_bytes(jsonl(mastodon_status(n, account=name), {**mastodon_status(100 + n), "id": name}))
        row = pipeline.import_export(config, "mastodon", [path], name)
        assert row["source"] == name and row["records_seen"] == 2
        rows = tmp_path / "in" / f"{n}-rows.jsonl"
        rows.write_bytes(jsonl({**table_row(n), "post_id": name, "author": name}))
        assert pipeline.import_export(config, "jsonl", [rows], name)["records_seen"] == 1
    build_warehouse(config, tmp_path)

    assert outside_warehouse(tmp_path) == []
    assert not (tmp_path.parent / "etc").exists() and not (tmp_path / "b").exists()
    con = duckdb.connect(str(tmp_path / "wh" / "dissentry.duckdb"), read_only=True)
    try:
        sources = {r[0] for r in con.execute("SELECT DISTINCT source FROM posts").fetchall()}
        handles = {r[0] for r in con.execute("SELECT handle FROM accounts WHERE platform = 'mastodon'").fetchall()}
        jsonl_ids = {r[0] for r in con.execute("SELECT post_id FROM posts WHERE platform = 'jsonl'").fetchall()}
        runs = con.execute("SELECT count(*) FROM collection_runs").fetchone()[0]
    finally:
        con.close()
    assert sources == set(EVIL_NAMES)
    assert {name.lower() for name in EVIL_NAMES} <= {h.split("@")[0].lower() for h in handles}
    assert jsonl_ids == {f"jsonl:{name}" for name in EVIL_NAMES}
    assert runs == 2 * len(EVIL_NAMES)


@pytest.mark.parametrize("name", ["../../etc", "x'; DROP TABLE posts; --"])
def test_the_cli_takes_a_hostile_source_name_as_a_name(tmp_path: Path, name: str) -> None:
    make_project(tmp_path)
    path = tmp_path / "in" / "m.jsonl"
    path.write_bytes(jsonl(mastodon_status(1)))

    result = runner.invoke(app, ["--config", str(tmp_path / "dissentry.toml"), "import", "mastodon", str(path),
                                 "--source", name])

    assert result.exit_code == 0, result.output
    assert name in result.output
    assert outside_warehouse(tmp_path) == []


# ---- timestamps out of range -----------------------------------------------------------------------------------
BAD_DATES = ["0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z", "not a date"]


def test_impossible_mastodon_and_table_dates_are_quarantined_with_the_value(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    masto = tmp_path / "in" / "m.jsonl"
    masto.write_bytes(jsonl(mastodon_status(100), *[mastodon_status(i, created_at=d) for i, d in enumerate(BAD_DATES)]))
    # epochs: before year 1 and beyond any millisecond reading; -1 is a real second of 1969
    epochs: list[object] = [-62_135_596_800 - 86_400, 1e20, -1]
    rows = tmp_path / "in" / "t.jsonl"
    rows.write_bytes(jsonl(table_row(100), *[table_row(i, created_at=d) for i, d in enumerate(BAD_DATES + epochs)]))

    assert pipeline.import_export(config, "mastodon", [masto])["records_seen"] == 1
    assert pipeline.import_export(config, "jsonl", [rows])["records_seen"] == 2
    reasons = {q["locator"].rsplit("/", 1)[1]: q["reason"] for q in quarantine(tmp_path)}
    for line, value in enumerate(BAD_DATES, start=2):
        assert f"created_at {value!r} is not an ISO 8601 date" in reasons[f"m.jsonl:{line}"]
        assert f"cannot read {value!r} as a timestamp" in reasons[f"t.jsonl:{line}"]
    assert "cannot read -62135683200 as a timestamp" in reasons["t.jsonl:6"]
    assert "1e+20 is out of range" in reasons["t.jsonl:7"]
    assert len(reasons) == 2 * len(BAD_DATES) + 2

    pipeline.normalise(config)
    dates = sorted(str(r["created_at"]) for r in table(tmp_path, "posts"))
    assert dates == ["1969-12-31 23:59:59+00:00", "2026-01-02 12:00:00+00:00", "2026-02-02 10:00:00+00:00"]



@pytest.mark.parametrize("created_at", [
    "not a date", "10000-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z",
])
def test_an_impossible_bluesky_created_at_falls_back_to_indexed_at(tmp_path: Path, created_at: str) -> None:
    config = make_project(tmp_path)
    path = tmp_path / "in" / "b.jsonl"
    path.write_bytes(jsonl(bluesky_item(1, created_at=created_at)))

    assert pipeline.import_export(config, "bluesky", [path])["records_seen"] == 1
    pipeline.normalise(config)

    (posts,) = published_files(tmp_path / "wh", "posts")
    # read as text: a BC date would not even convert to a Python datetime
    con = duckdb.connect()
    try:
        created = con.execute(f"SELECT created_at::VARCHAR FROM read_parquet('{posts}')").fetchall()
    finally:
        con.close()
    assert created == [("2025-03-10 09:00:01+00",)]  # the item's indexedAt


# ---- one id, two contents --------------------------------------------------------------------------------------
@pytest.mark.parametrize("platform", ["mastodon", "jsonl"])
def test_the_later_version_of_a_record_wins_and_raw_keeps_both(tmp_path: Path, platform: str) -> None:
    config = make_project(tmp_path)
    make = mastodon_status if platform == "mastodon" else table_row
    for version in ("first", "second"):
        path = tmp_path / "in" / f"{version}.jsonl"
        path.write_bytes(jsonl(make(1, f"{version} version")))
        assert pipeline.import_export(config, platform, [path])["records_new"] == 1

    pipeline.normalise(config)

    (post,) = table(tmp_path, "posts")
    assert post["text"] == "second version 1"
    kept = sorted(json.loads(r["payload"]).get("content") or json.loads(r["payload"])["text"]
                  for r in raw_rows(tmp_path))
    expected = ["<p>first version 1</p>", "<p>second version 1</p>"] if platform == "mastodon" else [
        "first version 1", "second version 1"]
    assert kept == expected


def test_the_cli_takes_a_source_name_with_markup_as_a_name(tmp_path: Path) -> None:
    make_project(tmp_path)
    path = tmp_path / "in" / "m.jsonl"
    path.write_bytes(jsonl(mastodon_status(1)))

    result = runner.invoke(app, ["--config", str(tmp_path / "dissentry.toml"), "import", "mastodon", str(path),
                                 "--source", "[/bold]x"])

    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0 and "[/bold]x" in result.output


@pytest.mark.parametrize("order", [
    ("newer", "older"),
    ("older", "newer"),
])
def test_within_one_file_the_later_line_wins(tmp_path: Path, order: tuple[str, str]) -> None:
    config = make_project(tmp_path)
    path = tmp_path / "in" / "dup.jsonl"
    # whichever order the two rows come in, the later line is the newer version
    path.write_bytes(jsonl(*[table_row(1, text) for text in order]))
    pipeline.import_export(config, "jsonl", [path])

    pipeline.normalise(config)

    (post,) = table(tmp_path, "posts")
    assert post["text"] == f"{order[1]} 1"
    assert len(raw_rows(tmp_path)) == 2


# ---- NUL characters inside valid JSON strings ------------------------------------------------------------------
def test_an_escaped_nul_in_text_is_kept_as_text_and_does_not_break_the_warehouse(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    for platform, record in (("mastodon", mastodon_status(1, "a\x00b")), ("jsonl", table_row(1, "a\x00b")),
                             ("bluesky", bluesky_item(1, "a\x00b"))):
        path = tmp_path / "in" / f"{platform}.jsonl"
        path.write_bytes(jsonl(record))  # json.dumps writes the NUL as \\u0000
        assert pipeline.import_export(config, platform, [path])["status"] == "ok"

    build_warehouse(config, tmp_path)

    texts = {r["platform"]: r["text"] for r in table(tmp_path, "posts")}
    # the HTML parser drops the control character; plain text keeps it
    assert texts == {"mastodon": "ab 1", "jsonl": "a\x00b 1", "bluesky": "a\x00b 1"}


# ---- an RSS zip bomb -------------------------------------------------------------------------------------------
RSS_CONFIG = """
[[groups]]
id = "org_a"
name = "Org A"

[[sources]]
name = "feeds"
platform = "rss"
files = ["in/feeds.zip"]
options = {group = "org_a"}
"""


def test_an_rss_zip_bomb_member_is_quarantined_and_the_other_feed_lands(tmp_path: Path) -> None:
    config = make_project(tmp_path, RSS_CONFIG)
    feed = ("<?xml version='1.0'?><rss version='2.0'><channel><title>A</title><link>https://org-a.example/</link>"
            "<item><title>One</title><link>https://org-a.example/1</link><guid>1</guid></item></channel></rss>")
    path = write_zip_bomb(tmp_path / "in" / "feeds.zip", "bomb.xml", BOMB, prefix=b"<?xml version='1.0'?><rss>")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("good.xml", feed)

    row, peak, _ = import_measured(config, "rss", path, "feeds")

    assert row["records_seen"] == 1
    (q,) = quarantine(tmp_path)
    assert q["locator"] == f"{path}!bomb.xml" and "too large" in q["reason"]
    assert peak < 20 * MB


# ---- a warehouse folder whose name is not SQL-safe -----------------------------------------------------------
def test_a_warehouse_folder_with_a_quote_in_its_name_works_end_to_end(tmp_path: Path) -> None:
    """Lake paths reach DuckDB as SQL strings (read_parquet, COPY, temp_directory): a quote in a
    folder name must stay a character of the name, not end the string."""
    from tests.support.sample_project import sample_project

    config = sample_project(tmp_path, seed=2, scale=0.05)
    text = (tmp_path / "dissentry.toml").read_text(encoding="utf-8")
    (tmp_path / "dissentry.toml").write_text(
        text.replace('warehouse_dir = "data"', 'warehouse_dir = "it\'s data; DROP"', 1), encoding="utf-8")
    result = runner.invoke(app, ["--config", str(tmp_path / "dissentry.toml"), "run", "--no-progress"])
    assert result.exit_code == 0, result.output
    warehouse = tmp_path / "it's data; DROP"
    assert config.warehouse_path != warehouse and (warehouse / "dissentry.duckdb").is_file()
    assert any((warehouse / "marts").glob("*.parquet")) and any((warehouse / "normalised").rglob("*.parquet"))
    posts = runner.invoke(app, ["--config", str(tmp_path / "dissentry.toml"), "sql", "--format", "json",
                                "SELECT count(*) AS n FROM posts"])
    assert posts.exit_code == 0 and json.loads(posts.output)[0]["n"] > 0
