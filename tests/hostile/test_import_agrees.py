"""What the import lets through, normalise can store and read.

A lone UTF-16 surrogate (`"\\ud800"` in a JSON string: half of a character pair) decodes in Python
but no UTF-8 text, so no Parquet string, can hold it. Before the fix it failed the whole import when
the batch was written, and the good records of the file with it. Now that record is quarantined,
naming its file and line, and the rest lands; a quarantine row that shows such text holds its escape.

Telegram's `date` (exports older than `date_unixtime`) was checked with Python's `fromisoformat`,
which reads forms DuckDB's TRY_CAST in the mapping does not ('2024-01-05T11', '20240105T110000',
'2024-W01-5'...): such a message passed the import and normalise then made no post of it, silently.
Now the import quarantines every `date` the mapping cannot read, and each message it lets through is
a post.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

from dissentry import pipeline
from dissentry.config import Config, load_config
from dissentry.connectors.base import RawRecord, ReadRecord
from dissentry.connectors.telegram.connector import _local_date_problem
from tests.hostile.corpus import TELEGRAM_CHANNEL_ID, mastodon_status, telegram_export, telegram_message
from tests.support.layers import published_files


def make_project(root: Path) -> Config:
    (root / "in").mkdir(exist_ok=True)
    (root / "dissentry.toml").write_text('warehouse_dir = "wh"\n', encoding="utf-8")
    return load_config(root / "dissentry.toml")


def rows(root: Path, layer: str) -> list[dict[str, Any]]:
    return [row for f in sorted((root / "wh" / layer).rglob("*.parquet")) for row in pq.read_table(f).to_pylist()]


def published(root: Path, table: str, column: str) -> list[Any]:
    return sorted(row[column] for f in published_files(root / "wh", table) for row in pq.read_table(f).to_pylist())


# ---- a lone surrogate ------------------------------------------------------------------------------------------
def test_a_lone_surrogate_is_quarantined_by_file_and_line_and_the_good_records_land(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    lines = [
        json.dumps(mastodon_status(1)),
        json.dumps(mastodon_status(2, "half \ud800 a pair")),  # json.dumps writes it as the escape \ud800
        json.dumps(mastodon_status(3, "a whole pair \U0001f600")),  # \ud83d\ude00: one character, kept
        '{"nothing": "of Mastodon \\udfff"}',  # a reject whose content holds one
        json.dumps(mastodon_status(5), ensure_ascii=False, separators=(",", ":")),  # the compact fast path
    ]
    assert "\\ud800" in lines[1]
    path = tmp_path / "in" / "m.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    row = pipeline.import_export(config, "mastodon", [path], "m")
    assert (row["status"], row["records_seen"], row["records_quarantined"]) == ("partial", 3, 2)
    bad = {r["locator"]: r for r in rows(tmp_path, "quarantine")}
    assert set(bad) == {f"{path}:2", f"{path}:4"}
    reason = bad[f"{path}:2"]["reason"]
    assert reason.startswith(f"{path}:2: the status holds a lone UTF-16 surrogate (\\ud800"), reason
    assert "not imported" in reason
    assert "half \\ud800 a pair" in bad[f"{path}:2"]["content"]  # shown as its escape
    assert "of Mastodon \\udfff" in bad[f"{path}:4"]["content"]
    assert "neither a Mastodon status nor an account" in bad[f"{path}:4"]["reason"]
    raw = {r["locator"]: json.loads(r["payload"]) for r in rows(tmp_path, "raw")}
    assert sorted(raw) == [f"{path}:1", f"{path}:3", f"{path}:5"]
    assert raw[f"{path}:3"]["content"] == "<p>a whole pair \U0001f600 3</p>"

    pipeline.normalise(config)
    assert len(published(tmp_path, "posts", "post_id")) == 3


def test_a_file_name_utf8_cannot_hold_and_a_surrogate_id_stop_no_good_record(tmp_path: Path) -> None:
    """A file name with a byte that is not UTF-8 (Python holds it as a lone surrogate) is in every
    record's locator, and an id with a lone surrogate is in the record's key: neither may fail the
    batch. The locator is kept as its escape; the record with the unstorable id is quarantined."""
    config = make_project(tmp_path)
    odd_id = mastodon_status(7)
    odd_id["id"] = "7\ud800"
    lines = [json.dumps(mastodon_status(1)), json.dumps(odd_id), json.dumps(mastodon_status(3))]
    folder = tmp_path / "in"
    path = Path(os.fsdecode(os.fsencode(folder) + b"/caf\xe9.jsonl"))  # Latin-1 bytes in the name
    assert not path.name.isascii()
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    row = pipeline.import_export(config, "mastodon", [path], "m")
    assert (row["records_seen"], row["records_quarantined"]) == (2, 1)
    shown = str(path).encode("utf-8", "backslashreplace").decode("utf-8")
    raw = sorted(r["locator"] for r in rows(tmp_path, "raw"))
    assert raw == [f"{shown}:1", f"{shown}:3"]
    (bad,) = rows(tmp_path, "quarantine")
    assert bad["locator"] == f"{shown}:2" and "lone UTF-16 surrogate" in bad["reason"]
    pipeline.normalise(config)
    assert len(published(tmp_path, "posts", "post_id")) == 2


def test_a_lone_surrogate_in_a_telegram_export_is_quarantined_and_the_chat_lands(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    path = tmp_path / "in" / "result.json"
    # an indented array (the stdlib's reader), the escape written as Telegram Desktop would
    export = telegram_export([telegram_message(1), telegram_message(2, "broken SURROGATE"), telegram_message(3)])
    path.write_bytes(export.replace(b"SURROGATE", b"\\udc00"))

    row = pipeline.import_export(config, "telegram", [path])
    assert (row["records_seen"], row["records_quarantined"]) == (2, 1)
    [bad] = rows(tmp_path, "quarantine")
    assert bad["locator"].startswith(f"{path}:") and "lone UTF-16 surrogate (\\udc00" in bad["reason"]
    assert bad["reason"].startswith(bad["locator"] + ": the message")
    pipeline.normalise(config)
    assert published(tmp_path, "posts", "post_id") == [f"telegram:{TELEGRAM_CHANNEL_ID}:1",
                                                       f"telegram:{TELEGRAM_CHANNEL_ID}:3"]


# ---- Telegram's `date`: the import and the mapping agree -----------------------------------------------------
READ_BY_BOTH = ["2024-01-05T11:00:00", "2024-01-05 11:00", "2024-01-05", "2024-01-05T11:00:00.25",
                "2024-01-05T11:00:00+02:00", "2024-01-05T11:00:00Z"]
# each of these `fromisoformat` reads; DuckDB's TRY_CAST does not, or the mapping's years 1-9999 exclude it
READ_BY_PYTHON_ONLY = ["2024-01-05T11", "20240105T110000", "2024-W01-5", "2024-01-05T11:00:00,5",
                       "2024-01-05t11:00:00", "9999-12-31T10:00:00"]


def test_a_telegram_date_the_mapping_cannot_read_is_quarantined_and_every_landed_message_is_a_post(
    tmp_path: Path,
) -> None:
    config = make_project(tmp_path)
    messages = []
    for n, date in enumerate(READ_BY_BOTH + READ_BY_PYTHON_ONLY, start=1):
        message = telegram_message(n)
        del message["date_unixtime"]  # an export older than date_unixtime: `date` is all there is
        message["date"] = date
        messages.append(message)
    path = tmp_path / "in" / "result.json"
    path.write_bytes(telegram_export(messages))

    row = pipeline.import_export(config, "telegram", [path])
    assert (row["records_seen"], row["records_quarantined"]) == (len(READ_BY_BOTH), len(READ_BY_PYTHON_ONLY))
    reasons = sorted(r["reason"] for r in rows(tmp_path, "quarantine"))
    assert all(any(repr(date) in reason for reason in reasons) for date in READ_BY_PYTHON_ONLY), reasons
    assert all(r.startswith("not a usable Telegram message: date ") for r in reasons), reasons

    pipeline.normalise(config)
    # every message the import let through is a post, with the date the export gave
    assert published(tmp_path, "posts", "post_id") == sorted(
        f"telegram:{TELEGRAM_CHANNEL_ID}:{n}" for n in range(1, len(READ_BY_BOTH) + 1))
    assert [str(d) for d in published(tmp_path, "posts", "created_at")] == [
        "2024-01-05 00:00:00+00:00", "2024-01-05 11:00:00+00:00", "2024-01-05 11:00:00+00:00",
        "2024-01-05 11:00:00+00:00", "2024-01-05 11:00:00+00:00", "2024-01-05 11:00:00.250000+00:00"]


def test_every_telegram_date_the_import_accepts_the_mapping_reads() -> None:
    """Over a grid of date, separator, time and offset spellings: what the import's check accepts,
    DuckDB's TRY_CAST reads inside the years the mapping keeps (the mapping's own expression)."""
    dates = ["2024-01-05", "0001-01-01", "0000-01-01", "9999-12-30", "9999-12-31", "2024-02-29", "2023-02-29",
             "2024-13-01", "2024-1-5", "20240105", "2024-W01-1", "10000-01-01"]
    times = ["", "11:00:00", "11:00", "11", "23:59:59", "24:00:00", "11:00:60", "11:60:00", "11:00:00.5",
             "11:00:00.123456", "11:00:00.1234567", "11:00:00,5", "110000"]
    offsets = ["", "Z", "+02:00", "-05:30", "+0200", "+02", "z", " UTC", "+99:99"]
    con = duckdb.connect()
    accepted = 0
    for date, sep, time, offset in itertools.product(dates, ["T", " ", "t"], times, offsets):
        for text in (date + (sep + time if time else "") + offset,):
            if _local_date_problem(text) is not None:
                continue
            accepted += 1
            read = con.execute("SELECT d >= TIMESTAMP '0001-01-01' AND d < TIMESTAMP '9999-12-31' "
                               "FROM (SELECT TRY_CAST(? AS TIMESTAMP) AS d)", [text]).fetchone()[0]
            assert read is True, text
    assert accepted > 100  # the grid does hold readable dates


# ---- a compact line's payload, kept as the bytes read ----------------------------------------------------------
def test_a_payload_kept_as_bytes_is_the_record_as_read_and_a_replaced_payload_is_what_lands() -> None:
    line = '{"id":"1","content":"caf\u00e9 \U0001f600"}'
    read = RawRecord.from_json("status", "1", None, "https://social.example", "f:1", line.encode("utf-8"))
    plain = RawRecord("status", "1", line, "https://social.example", "f:1")
    assert isinstance(read, ReadRecord) and read.utf8 == line.encode("utf-8")
    assert read == plain and plain == read and hash(read) == hash(plain) and read.payload == line
    # the erasure guard redacts with dataclasses.replace: the new payload must be what is written,
    # never the bytes read before it
    redacted = dataclasses.replace(read, payload='{"id":"1","content":"[redacted]"}')
    assert redacted.utf8 is None and redacted.payload == '{"id":"1","content":"[redacted]"}'
