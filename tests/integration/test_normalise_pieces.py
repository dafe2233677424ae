"""A large build maps its posts a piece of raw at a time, and the pieces' rows are the whole's (issue 12 §3).

The Mastodon posts query holds every record's parsed STRUCT in the CTEs it reads twice, which at 1M
statuses spilled past the spill cap, so normalise runs it over `raw` in pieces of bounded payload
bytes (whole raw files when `raw` is a view over them; ranges of row ids when it is a table, which
it is when a record was fetched twice). Each posts row is a function of one record and the lookups
resolved over all raw, so the pieces must give exactly the rows of one pass, table by table: here
with replies and ShallowQuotes whose lookups live in other files (other pieces), boosts, quotes,
an edited status fetched again, and the increment state files.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dissentry import normalise, pipeline
from dissentry.config import Config
from dissentry.warehouse.lake import Lake
from dissentry.warehouse.sql import literal_list

INSTANCE = "https://social.example"
PEOPLE = {"1": "alice", "2": "bob", "4": "dave", "900": "carol"}


def _account(local_id: str) -> dict[str, Any]:
    acct = PEOPLE[local_id]
    return {"id": local_id, "username": acct, "acct": acct, "display_name": acct.title(),
            "note": f"<p>{acct} writes</p>", "url": f"{INSTANCE}/@{acct}", "followers_count": 10,
            "following_count": 5, "created_at": "2024-01-01T00:00:00.000Z"}


def _status(status_id: str, author: str, text: str, **extra: Any) -> dict[str, Any]:
    acct = PEOPLE[author]
    status = {"id": status_id, "created_at": f"2026-01-{int(status_id) % 27 + 1:02d}T10:00:00.000Z",
              "content": f'<p>{text} <a href="https://news.example/{status_id}">link</a></p>', "spoiler_text": "",
              "language": "en", "url": f"{INSTANCE}/@{acct}/{status_id}",
              "uri": f"{INSTANCE}/users/{acct}/statuses/{status_id}", "in_reply_to_id": None,
              "in_reply_to_account_id": None, "favourites_count": 1, "reblogs_count": 0, "replies_count": 0,
              "account": _account(author), "tags": [{"name": "Budget", "url": f"{INSTANCE}/tags/budget"}],
              "mentions": [{"id": "2", "acct": "bob", "url": f"{INSTANCE}/@bob"}], "card": None, "reblog": None}
    status.update(extra)
    return status


def _files() -> list[list[dict[str, Any]]]:
    """Five imports; what a post looks up (a reply's parent author, a ShallowQuote's author) is
    often in another file than the post."""
    return [
        [_status("1", "1", "hello"),
         {**_status("2", "1", "to carol"), "in_reply_to_id": "100", "in_reply_to_account_id": "900"},
         _status("3", "4", "shallow", quote={"state": "accepted", "quoted_status_id": "50"})],
        [_status("100", "900", "carol's post"), _status("5", "2", "", reblog=_status("1", "1", "hello")),
         _status("4", "1", "quote", quote={"state": "accepted", "quoted_status": _status("60", "2", "quoted")})],
        [_status("50", "2", "bob's post"),
         {**_status("7", "4", "to bob"), "in_reply_to_id": "50", "in_reply_to_account_id": "2"}],
        [_status(str(i), str(1 + i % 2), f"filler {i}") for i in range(200, 230)],
        [_status("1", "1", "hello (edited)"), _account("4")],  # a record fetched again, changed
    ]


def _config(project: Path) -> Config:
    return Config.model_validate({
        "warehouse_dir": str(project / "data"), "groups": [{"id": "g", "name": "G"}],
        "sources": [{"name": "saved", "platform": "mastodon", "instance": INSTANCE, "files": ["in/*.jsonl"]}],
    })


def _build(tmp_path: Path, name: str, records: list[list[dict[str, Any]]]) -> Config:
    project = tmp_path / name
    (project / "in").mkdir(parents=True)
    config = _config(project)
    for i, batch in enumerate(records):
        path = project / "in" / f"{i}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in batch), encoding="utf-8")
        pipeline.import_export(config, "mastodon", [path], "saved")
    return config


def _generation_files(lake: Lake) -> dict[str, str]:
    """Every Parquet file of the published generation (tables and increment state), by its path
    inside the generation."""
    manifest = lake.normalised_manifest()
    assert manifest is not None
    root = Path(lake.path("normalised", manifest["generation"]))
    return {p.relative_to(root).as_posix(): p.as_posix() for p in sorted(root.rglob("*.parquet"))}


def _pieces(lake: Lake) -> int:
    """How many pieces normalise maps this lake's posts in, with the same settings."""
    con = normalise.new_connection(lake=lake)
    try:
        files = lake.raw_files("mastodon")
        is_view = normalise._create_raw_versions(con, normalise._raw_files_sql(files))
        return len(normalise._raw_chunks(con, is_view, files))
    finally:
        con.close()


@pytest.mark.parametrize("fetched_twice", [False, True], ids=["raw view, pieces of files", "raw table, row ids"])
def test_posts_mapped_in_pieces_equal_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               fetched_twice: bool) -> None:
    records = _files() if fetched_twice else _files()[:-1]
    one = _build(tmp_path, "one", records)
    shutil.copytree(tmp_path / "one", tmp_path / "pieces")
    config = _config(tmp_path / "pieces")
    pipeline.normalise(one, full=True)
    assert _pieces(Lake(one.warehouse_path)) == 1  # the default: these few records are one piece

    # a piece holds at most one byte of payload: one raw file (view) or one row (table) each
    monkeypatch.setattr(normalise, "_MIN_CHUNK_BYTES", 1)
    monkeypatch.setattr(normalise, "_CHUNK_MEMORY_SHARE", 1 << 40)
    lake = Lake(config.warehouse_path)
    assert _pieces(lake) == (sum(map(len, records)) if fetched_twice else len(records))
    pipeline.normalise(config, full=True)

    ours, reference = _generation_files(lake), _generation_files(Lake(one.warehouse_path))
    assert sorted(ours) == sorted(reference)
    assert {"posts/mastodon/data.parquet", "_state/mastodon/reads.parquet"} <= set(ours)
    con = duckdb.connect()
    for name in ours:
        a, b = (f"SELECT * FROM read_parquet({literal_list([f])})" for f in (ours[name], reference[name]))
        assert con.execute(f"DESCRIBE {a}").fetchall() == con.execute(f"DESCRIBE {b}").fetchall(), name
        assert con.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchone() == (0,), name
        assert con.execute(f"SELECT count(*) FROM ({b} EXCEPT ALL {a})").fetchone() == (0,), name
    posts = con.execute(f"SELECT post_id, reply_to_author_id, quote_of_author_id, text FROM read_parquet("
                        f"{literal_list([ours['posts/mastodon/data.parquet']])}) ORDER BY post_id").fetchall()
    by_id = {row[0].rsplit(":", 1)[1]: row for row in posts}
    # the lookups came from other pieces
    assert by_id["2"][1] == "mastodon:carol@social.example"
    assert by_id["3"][2] == "mastodon:bob@social.example"
    assert by_id["7"][1] == "mastodon:bob@social.example"
    assert by_id["1"][3].startswith("hello (edited)" if fetched_twice else "hello")
    con.close()


def test_the_post_rows_wait_in_parquet_in_the_spill_folder_and_nothing_stays(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rows each record offers (lookups, account copies, candidate posts) and the winning posts
    are zstd Parquet files in a scratch folder of the lake's spill folder (as temp tables they
    spilled past the cap at 10M statuses): a piece's file each, and one of the winners, which the
    published tables are read from. The folder goes when the
    normalise ends, and so does one a killed normalise left (its process is gone); another live
    process's stays."""
    config = _build(tmp_path, "p", _files())
    lake = Lake(config.warehouse_path)
    dead = lake.spill_dir / "mapped-2147483646-left"  # no process has that id (above Linux's pid_max)
    dead.mkdir(parents=True)
    (dead / "mapped_posts-00000.parquet").write_bytes(b"left by a kill")
    live = lake.spill_dir / f"mapped-{os.getppid()}-busy"
    live.mkdir()
    monkeypatch.setattr(normalise, "_MIN_CHUNK_BYTES", 1)
    monkeypatch.setattr(normalise, "_CHUNK_MEMORY_SHARE", 1 << 40)
    pieces = _pieces(lake)  # a record each: one was fetched twice, so raw is a table
    assert pieces == sum(map(len, _files()))

    seen: dict[str, Any] = {}
    build = normalise._build_platform_tables

    def watching(con: duckdb.DuckDBPyConnection, platform: str, raw: Any, **kw: Any) -> dict[str, str]:
        selects = build(con, platform, raw, **kw)
        if platform == "mastodon":
            seen["files"] = sorted(p.name for p in kw["scratch"].iterdir())
            seen["folder"] = kw["scratch"]
            seen["kinds"] = dict(con.execute(
                "SELECT view_name, 'view' FROM duckdb_views() WHERE temporary AND view_name IN "
                "('mapped_posts', 'posts_latest')").fetchall())
            seen["winners"] = con.execute("SELECT count(*) FROM posts_latest").fetchone()[0]
        return selects

    monkeypatch.setattr(normalise, "_build_platform_tables", watching)
    pipeline.normalise(config, full=True)

    assert seen["folder"].parent == lake.spill_dir and seen["folder"].name.startswith(f"mapped-{os.getpid()}-")
    assert seen["files"] == sorted([f"{name}-{i:05d}.parquet" for name in ("lookup_rows", "mapped_account_rows",
                                                                           "mapped_posts") for i in range(pieces)]
                                   + ["posts_latest.parquet"])
    assert seen["kinds"] == {"mapped_posts": "view", "posts_latest": "view"}
    con = duckdb.connect()
    posts = _generation_files(lake)["posts/mastodon/data.parquet"]
    published = con.execute(f"SELECT count(*) FROM read_parquet({literal_list([posts])})").fetchone()[0]
    con.close()
    assert seen["winners"] == published > 30
    assert not seen["folder"].exists() and not dead.exists() and live.exists()
