"""Incremental Mastodon normalise equals a full rebuild, table by table (issue 12 §1).

Mastodon's mapping looks values up across records (`-- incremental: lookups ...`): a reply's parent
author comes from whichever record names the parent's local account id, a ShallowQuote's author
from the quoted status, wherever it is. So an increment is only right when it merges the new raw's
lookups with the kept ones and maps again every post that read a changed key. One project goes
through imports where that information arrives late, a rename, edited statuses, the same file
again, a raw file with no usable instance (a NULL post id), `forget`, and raw retention; after each
step a copy normalised with `--full` must hold exactly the same rows (EXCEPT ALL both ways).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from dissentry import pipeline
from dissentry.config import Config
from dissentry.connectors.base import RawRecord
from dissentry.forget import forget_account
from dissentry.normalise import map_records
from dissentry.retention import apply_retention
from dissentry.warehouse import schema
from dissentry.warehouse.lake import Lake, new_run_id
from dissentry.warehouse.sql import literal_list

INSTANCE = "https://social.example"
PEOPLE = {"1": "alice", "2": "bob", "4": "dave", "5": "erin", "6": "frank", "900": "carol"}


def _account(local_id: str, acct: str | None = None, name: str | None = None) -> dict[str, Any]:
    acct = acct or PEOPLE[local_id]
    return {"id": local_id, "username": acct, "acct": acct, "display_name": name or acct.title(),
            "note": f"<p>{acct} writes</p>", "url": f"{INSTANCE}/@{acct}", "followers_count": 10,
            "following_count": 5, "created_at": "2024-01-01T00:00:00.000Z"}


def _status(status_id: str, author: str, text: str, **extra: Any) -> dict[str, Any]:
    acct = PEOPLE[author]
    status = {"id": status_id, "created_at": f"2026-01-{int(status_id) % 27 + 1:02d}T10:00:00.000Z",
              "content": f"<p>{text} https://news.example/{status_id}</p>", "spoiler_text": "", "language": "en",
              "url": f"{INSTANCE}/@{acct}/{status_id}", "uri": f"{INSTANCE}/users/{acct}/statuses/{status_id}",
              "in_reply_to_id": None, "in_reply_to_account_id": None, "favourites_count": 1, "reblogs_count": 0,
              "replies_count": 0, "account": _account(author), "mentions": [], "tags": [{"name": "Budget",
              "url": f"{INSTANCE}/tags/budget"}], "card": None, "reblog": None}
    status.update(extra)
    return status


def _reply(status_id: str, author: str, text: str, parent: str, parent_author: str) -> dict[str, Any]:
    return _status(status_id, author, text, in_reply_to_id=parent, in_reply_to_account_id=parent_author)


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _config(warehouse: Path) -> Config:
    return Config.model_validate({
        "warehouse_dir": str(warehouse), "groups": [{"id": "g", "name": "G"}],
        "sources": [{"name": "saved", "platform": "mastodon", "instance": INSTANCE, "files": ["in/*.jsonl"]}],
    })


def _select(lake: Lake, table: str) -> str:
    files = lake.normalised_files(table, manifest=lake.normalised_manifest())
    if not files:
        names = ", ".join(f"NULL AS {n}" for n in schema.NORMALISED[table].names)
        return f"SELECT {names} WHERE false"
    return f"SELECT * FROM read_parquet({literal_list(files)}, hive_partitioning = false)"


def _differences(ours: Lake, full: Lake) -> dict[str, tuple[int, int, int]]:
    """table -> (rows, rows only in ours, rows only in full), for each table that differs."""
    con = duckdb.connect()
    out = {}
    for table in schema.NORMALISED:
        a, b = _select(ours, table), _select(full, table)
        only_ours = con.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchone()[0]
        only_full = con.execute(f"SELECT count(*) FROM ({b} EXCEPT ALL {a})").fetchone()[0]
        if only_ours or only_full:
            out[table] = (con.execute(f"SELECT count(*) FROM ({a})").fetchone()[0], only_ours, only_full)
    con.close()
    return out


def _post(lake: Lake, status_id: str) -> dict[str, Any]:
    con = duckdb.connect()
    cursor = con.execute(f"SELECT * FROM ({_select(lake, 'posts')}) WHERE post_id = ?",
                         [f"mastodon:social.example:{status_id}"])
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    con.close()
    assert len(rows) == 1, status_id
    return rows[0]


def _built(lake: Lake) -> str:
    manifest = lake.normalised_manifest()
    assert manifest is not None
    return manifest["platforms"]["mastodon"]["state"]["built"]


def _write_unplaceable_raw(lake: Lake) -> None:
    """A raw file as an older collector wrote it, with no origin: its host, hence its post id, is
    NULL. Such a row must neither become a post nor hide the rows it is compared with."""
    record = RawRecord.from_json("status", "777", _status("777", "1", "no instance"), None, "old")  # type: ignore[arg-type]
    row = {"platform": "mastodon", "source": "saved", "record_type": record.record_type,
           "record_id": record.record_id, "origin": record.origin, "payload": record.payload,
           "locator": record.locator, "fetched_at": datetime.now(UTC), "run_id": new_run_id()}
    day = f"{datetime.now(UTC):%Y-%m-%d}"
    lake.write_parquet(pa.Table.from_pylist([row], schema=schema.RAW),
                       lake.raw_batch_path("mastodon", "saved", day, row["run_id"], 0))


def test_incremental_mastodon_equals_full_through_late_lookups_renames_forget_and_retention(
        tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "in").mkdir(parents=True)
    config = _config(project / "data")
    lake = Lake(config.warehouse_path)
    steps: list[str] = []

    def load(name: str, records: list[dict[str, Any]]) -> None:
        pipeline.import_export(config, "mastodon", [_write(project / "in" / f"{name}.jsonl", records)], "saved")

    def check(step: str, built: str) -> None:
        pipeline.normalise(config)
        assert _built(lake) == built, step
        reference = tmp_path / "reference"
        shutil.rmtree(reference, ignore_errors=True)
        shutil.copytree(config.warehouse_path, reference)
        full = Lake(_config(reference).warehouse_path)
        pipeline.normalise(_config(reference), full=True)
        assert _built(full) == "full"
        assert _differences(lake, full) == {}, step
        steps.append(step)

    # 1. a reply whose parent (and its author, local id 900) is not known yet; a ShallowQuote of a
    # status not known yet; a quote with its quoted status embedded; a boost; a status with no
    # `reblog` key at all (some exports leave it out)
    no_reblog_key = _status("6", "5", "no reblog key")
    del no_reblog_key["reblog"]
    load("a", [
        _status("1", "1", "hello"),
        _reply("2", "1", "answering carol", parent="100", parent_author="900"),
        _status("3", "4", "shallow quote", quote={"state": "accepted", "quoted_status_id": "50"}),
        _status("4", "1", "full quote", quote={"state": "accepted", "quoted_status": _status("60", "2", "quoted")}),
        _status("5", "2", "", reblog=_status("1", "1", "hello")),
        no_reblog_key,
    ])
    pipeline.normalise(config)
    assert _post(lake, "2")["reply_to_author_id"] is None
    assert _post(lake, "3")["quote_of_author_id"] is None
    assert _post(lake, "6")["kind"] == "post"

    # 2. the parent and the quoted status arrive: the earlier posts that read them are mapped again
    load("b", [_status("100", "900", "carol's post"), _status("50", "6", "frank's post"),
               _reply("7", "1", "answering bob", parent="60", parent_author="2")])
    check("late lookups", "increment")
    assert _post(lake, "2")["reply_to_author_id"] == "mastodon:carol@social.example"
    assert _post(lake, "3")["quote_of_author_id"] == "mastodon:frank@social.example"
    assert _post(lake, "7")["reply_to_author_id"] == "mastodon:bob@social.example"

    # 3. an account renamed (a later fetch of local id 900): the later fetch wins, in the lookup too
    load("c", [_account("900", "carol_new", "Carol (new)")])
    check("rename", "increment")
    assert _post(lake, "2")["reply_to_author_id"] == "mastodon:carol_new@social.example"

    # 4. edited statuses re-imported (same ids), then the same file again (nothing new)
    edited = [_status("1", "1", "hello (edited)"), _status("4", "1", "full quote (edited)",
              quote={"state": "accepted", "quoted_status": _status("60", "2", "quoted (edited)")}),
              _reply("2", "1", "answering carol (edited)", parent="100", parent_author="900")]
    load("d", edited)
    check("edited", "increment")
    assert "edited" in _post(lake, "1")["text"] and "edited" in _post(lake, "60")["text"]
    load("e", edited)
    check("same again", "increment")

    # 5. a raw row with no usable instance, beside a new reply to the renamed account
    _write_unplaceable_raw(lake)
    load("f", [_reply("8", "2", "to carol again", parent="100", parent_author="900")])
    check("null post id", "increment")
    assert _post(lake, "8")["reply_to_author_id"] == "mastodon:carol_new@social.example"
    assert _post(lake, "1")  # the published rows are still there

    # 6. forget (a full rebuild), then an increment after it: a reply to the forgotten account
    forget_account(config, "mastodon:@dave@social.example")
    check("forget", "full")
    load("g", [_reply("9", "6", "to dave", parent="3", parent_author="4"), _account("2", "bob", "Bob (renamed)")])
    check("after forget", "increment")

    # 7. raw retention: every file expires (a rebuild over the frozen rows), then new raw over them
    assert apply_retention(lake, days=5, today=(datetime.now(UTC) + timedelta(days=10)).date()) > 0
    assert lake.raw_files() == []
    check("retention", "full")
    load("h", [_account("900", "carol_newest"), _reply("10", "5", "to carol", parent="100", parent_author="900"),
               _status("11", "6", "quote of 10", quote={"state": "accepted", "quoted_status_id": "10"})])
    check("after retention", "increment")
    assert _post(lake, "10")["reply_to_author_id"] == "mastodon:carol_newest@social.example"
    assert _post(lake, "11")["quote_of_author_id"] == "mastodon:erin@social.example"
    assert len(steps) == 9


def _manifest_state(lake: Lake) -> dict[str, Any]:
    manifest = lake.normalised_manifest()
    assert manifest is not None
    return manifest["platforms"]["mastodon"]["state"]


def test_increment_keeps_lookup_state_and_maps_again_only_what_read_a_changed_key(tmp_path: Path) -> None:
    """The state is in the manifest's generation; an increment rewrites only the posts it must."""
    project = tmp_path / "project"
    (project / "in").mkdir(parents=True)
    config = _config(project / "data")
    lake = Lake(config.warehouse_path)
    many = [_status(str(n), "1", f"post {n}") for n in range(200, 260)]
    pipeline.import_export(config, "mastodon", [_write(project / "in" / "a.jsonl", [
        *many, _reply("2", "1", "to carol", parent="100", parent_author="900")])], "saved")
    pipeline.normalise(config)
    files = _manifest_state(lake)["files"]
    assert {"versions", "accounts", "lookups", "reads"} <= set(files)
    pipeline.import_export(config, "mastodon", [_write(project / "in" / "b.jsonl", [
        _account("900")])], "saved")
    pipeline.normalise(config)
    state = _manifest_state(lake)
    assert state["built"] == "increment"
    changed = pq.read_table(lake.path(state["files"]["changed_posts"])).column("post_id").to_pylist()
    assert changed == ["mastodon:social.example:2"]  # the one reply, not the 60 others
    # an increment appends a part to the kept lookups: the state is every part's rows
    parts = state["files"]["lookups"]
    assert isinstance(parts, list) and len(parts) == 2
    lookups = [r for rel in parts for r in pq.read_table(lake.path(rel)).to_pylist()]
    assert {"lookup": "account_map", "key": "social.example/900", "value": "carol"} in [
        {k: r[k] for k in ("lookup", "key", "value")} for r in lookups]
    # every lookup the state holds is one the mapping's header declares
    header = (Path(__file__).resolve().parents[2] / "connectors" / "mastodon" / "mapping.sql").read_text().splitlines()[0]
    assert header.split(":", 1)[1].split() == ["lookups", "account_map", "status_authors"]
    assert {r["lookup"] for r in lookups} == {"account_map", "status_authors"}


def test_a_status_without_a_reblog_key_is_still_a_post() -> None:
    status = _status("1", "1", "hello")
    del status["reblog"]  # not `"reblog": null`: the key is not there at all
    posts = map_records("mastodon", [RawRecord.from_json("status", "1", status, INSTANCE, "x")])["posts"]
    assert posts.column("post_id").to_pylist() == ["mastodon:social.example:1"]
