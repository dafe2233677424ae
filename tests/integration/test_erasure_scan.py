"""`dissentry forget` leaves no trace: a scan of every byte the warehouse holds, decoded.

The world is the synthetic sample plus a few records written here: a post of the erased account
with a phrase nobody else uses, a boost of it by someone else, another person's reply that names
it by handle, id and display name, and quarantined input of its own (one naming it by its bare
`acct`, one only by its id) beside another person's quarantined input that mentions it.

A byte scan of compressed files proves nothing (zstd Parquet and DuckDB's own compression hide a
string as well as deleting it would), so every file is scanned three ways: its bytes as stored,
and, for Parquet, every value of every column decoded; for the DuckDB file, every value of every
table and view read through DuckDB. The needles are checked to be found before `forget`.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dissentry import pipeline
from dissentry.cli import app
from dissentry.config import Config
from tests.support.sample_project import sample_project

FORGOTTEN = "mastodon:@ugozeller@social.example"
ACCOUNT_ID = "mastodon:ugozeller@social.example"
LOCAL_ID = "112277952921600025"
PHRASE = "the marmalade ledger of quillby"
NEEDLES = ("ugozeller@social.example", "ugozeller", LOCAL_ID, "ugo zeller", PHRASE)


def _account(local_id: str, username: str, name: str) -> dict:
    return {"id": local_id, "username": username, "acct": username, "display_name": name,
            "url": f"https://social.example/@{username}", "note": "", "followers_count": 3, "following_count": 4,
            "created_at": "2024-01-01T00:00:00.000Z"}


def _status(status_id: str, account: dict, html: str, **extra: object) -> dict:
    return {"id": status_id, "created_at": "2026-02-03T10:00:00.000Z", "in_reply_to_id": None,
            "in_reply_to_account_id": None, "spoiler_text": "", "visibility": "public", "language": "en",
            "uri": f"https://social.example/users/{account['username']}/statuses/{status_id}",
            "url": f"https://social.example/@{account['username']}/{status_id}", "content": html,
            "reblog": None, "account": account, "mentions": [], "tags": [], "quote": None, "card": None, **extra}


def plant(sample_file: Path) -> None:
    """Append the records this test needs to the sample's Mastodon export."""
    ugo = _account(LOCAL_ID, "ugozeller", "Ugo Zeller")
    rosa = _account("114389994700800056", "rosaortega", "Rosa Ortega")
    own = _status("119000000000000001", ugo, f"<p>Tonight I audit {PHRASE} again.</p>")
    mention = {"id": LOCAL_ID, "username": "ugozeller", "acct": "ugozeller", "url": "https://social.example/@ugozeller"}
    reply = _status(
        "119000000000000002", rosa,
        '<p><span class="h-card"><a href="https://social.example/@ugozeller" class="u-url mention">@<span>'
        'ugozeller</span></a></span> Ugo Zeller has a point, but no.</p>',
        in_reply_to_id="119000000000000001", in_reply_to_account_id=LOCAL_ID, mentions=[mention])
    boost = _status("119000000000000003", rosa, "", reblog=own)
    broken_own = {k: v for k, v in _status("119000000000000004", ugo, f"<p>{PHRASE} part two</p>").items()
                  if k != "created_at"}  # quarantined: no created_at; its acct is bare
    broken_by_id = {**broken_own, "id": "119000000000000005",
                    "account": {"id": LOCAL_ID, "display_name": "Ugo Zeller"}}  # quarantined: no acct at all
    broken_other = {k: v for k, v in _status("119000000000000006", rosa, "<p>@ugozeller Ugo Zeller, call me</p>",
                                             mentions=[mention]).items() if k != "created_at"}
    with sample_file.open("a", encoding="utf-8") as fh:
        for record in (own, reply, boost, broken_own, broken_by_id, broken_other):
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def decoded_parquet(path: Path) -> bytes:
    table = pq.read_table(path)
    return json.dumps(table.to_pylist(), default=str, ensure_ascii=False).encode()


def decoded_duckdb(path: Path, scratch: Path) -> bytes:
    """Every value of every table and view, read through DuckDB from a copy (never the live file)."""
    scratch.mkdir(parents=True, exist_ok=True)
    copy = scratch / path.name
    shutil.copy(path, copy)
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        shutil.copy(wal, copy.with_name(copy.name + ".wal"))
    con = duckdb.connect(str(copy), read_only=True)
    try:
        con.execute("SET file_search_path = ?", [str(path.parent)])
        chunks = []
        for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            try:
                rows = con.execute(f'SELECT * FROM "{name}"').fetchall()
            except duckdb.Error:  # a view over a lake folder that has no file now
                continue
            chunks.append(json.dumps(rows, default=str, ensure_ascii=False))
        return "\n".join(chunks).encode()
    finally:
        con.close()


def scan(root: Path, scratch: Path, needles: tuple[str, ...] = NEEDLES) -> tuple[dict[str, list[str]], int]:
    """needle -> files (and how) it was found in; total bytes scanned (stored + decoded)."""
    hits: dict[str, list[str]] = {n: [] for n in needles}
    scanned = 0
    inputs = root / "sample"  # the export files the user holds (the demo keeps them under data/)
    for path in sorted(p for p in root.rglob("*") if p.is_file() and inputs not in p.parents):
        views = [("bytes", path.read_bytes())]
        if path.suffix == ".parquet":
            views.append(("decoded", decoded_parquet(path)))
        elif path.suffix == ".duckdb":
            views.append(("decoded", decoded_duckdb(path, scratch)))
        for how, data in views:
            scanned += len(data)
            low = data.lower()
            for needle in needles:
                if needle.encode() in low:
                    hits[needle].append(f"{path.relative_to(root)} ({how})")
    return hits, scanned


def project(tmp_path: Path) -> Config:
    config = sample_project(tmp_path, seed=4, scale=0.3)
    plant(tmp_path / "data" / "sample" / "mastodon.jsonl")
    return config


def query(root: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(root / "dissentry.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def forget(tmp_path: Path) -> str:
    result = CliRunner().invoke(app, ["--config", str(tmp_path / "dissentry.toml"), "forget", FORGOTTEN, "--yes"])
    assert result.exit_code == 0, result.output
    return result.output


def test_no_byte_of_the_erased_account_survives_anywhere(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = project(tmp_path)
    pipeline.run(config)
    root = config.warehouse_path
    before, _ = scan(root, tmp_path / "scratch")
    assert all(before[n] for n in NEEDLES), {n: len(v) for n, v in before.items()}
    replies = query(root, "SELECT count(*) FROM posts WHERE reply_to_author_id = ? AND author_id <> ?",
                    [ACCOUNT_ID, ACCOUNT_ID])[0][0]
    mentions = query(root, "SELECT count(*) FROM post_mentions WHERE account_id = ?", [ACCOUNT_ID])[0][0]
    assert replies >= 2 and mentions >= 2
    configured = query(root, "SELECT count(*) FROM cfg_group_members")[0][0]
    assert query(root, "SELECT count(*) FROM group_members WHERE account_id = ?", [ACCOUNT_ID])[0][0] == 1

    forget(tmp_path)
    after, scanned = scan(root, tmp_path / "scratch")
    assert after == {n: [] for n in NEEDLES}, after
    assert scanned > 5_000_000
    print(f"\nerasure scan: {scanned:,} bytes scanned (stored and decoded), {len(NEEDLES)} needles, 0 hits")

    # other people's replies and mentions stay, pointing at one erasure token: the network keeps its shape
    (token,) = query(root, "SELECT account_key FROM erasures")[0]
    assert token.startswith("erased-")
    erased_id = f"mastodon:{token}@social.example"
    assert query(root, "SELECT count(*) FROM posts WHERE reply_to_author_id = ?", [erased_id])[0][0] == replies
    assert query(root, "SELECT count(*) FROM post_mentions WHERE account_id = ?", [erased_id])[0][0] == mentions
    # the configured member (still in the config: the user's own text) builds no row, in cfg_ or marts
    assert query(root, "SELECT count(*) FROM cfg_group_members")[0][0] == configured - 1
    assert query(root, "SELECT count(*) FROM group_members WHERE account_id LIKE '%erased-%'")[0][0] == 0

    # a re-import of the same files, the next day's run: still nothing, in any layer; and a word
    # about the configuration that still lists the account, at every transform until it is removed
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        pipeline.run(config)
    assert any(FORGOTTEN in r.getMessage() and "erased" in r.getMessage() for r in caplog.records)
    again, _ = scan(root, tmp_path / "scratch")
    assert again == {n: [] for n in NEEDLES}, again
    assert query(root, "SELECT count(*) FROM posts WHERE reply_to_author_id = ?", [erased_id])[0][0] == replies


def test_forget_removes_the_quarantined_records_however_the_handle_was_written(tmp_path: Path) -> None:
    config = project(tmp_path)
    pipeline.run(config)
    root = config.warehouse_path
    rows = [r for f in (root / "quarantine").rglob("*.parquet") for r in pq.read_table(f).to_pylist()]
    own = [r for r in rows if PHRASE in (r["content"] or "")]
    assert len(own) == 2  # one with `"acct":"ugozeller"` (no domain), one with only the account's id

    output = forget(tmp_path)
    assert "2 quarantine rows" in output
    left = [r for f in (root / "quarantine").rglob("*.parquet") for r in pq.read_table(f).to_pylist()]
    assert len(left) == len(rows) - 2
    # the other person's quarantined input stays, with the account replaced by its token
    (other,) = [r for r in left if "call me" in (r["content"] or "")]
    assert "ugozeller" not in other["content"].lower() and "erased-" in other["content"]


def test_a_reimport_after_forget_lands_nothing_of_the_account_and_counts_it(tmp_path: Path) -> None:
    config = project(tmp_path)
    pipeline.run(config)
    forget(tmp_path)
    root = config.warehouse_path
    raw_before = sorted(p.name for p in (root / "raw").rglob("*.parquet"))
    (row,) = [r for r in pipeline.collect(config) if r["platform"] == "mastodon"]
    new_files = [p for p in (root / "raw").rglob("*.parquet") if p.name not in raw_before]
    assert new_files  # the import landed the other people's records ...
    for f in new_files:  # ... and none of the account's, nor its identifiers in anyone else's
        for payload in pq.read_table(f, columns=["payload"]).column("payload").to_pylist():
            assert "ugozeller" not in payload.lower() and LOCAL_ID not in payload
    quarantined = [p for p in (root / "quarantine").rglob("*.parquet") if row["run_id"] in p.name]
    assert all("ugozeller" not in json.dumps(pq.read_table(f).to_pylist(), default=str).lower() for f in quarantined)
    notes = [e for e in json.loads(row["errors"]) if e.startswith("erased accounts")]
    assert len(notes) == 1 and "ugozeller" not in notes[0]
    dropped = int(notes[0].split(": ", 1)[1].split(" records")[0])
    assert dropped == own_records(tmp_path / "data" / "sample" / "mastodon.jsonl")


def own_records(export: Path) -> int:
    """Usable statuses of the export that are the account's, or embed one of its (a boost, a quote)."""
    count = 0
    for line in export.read_text(encoding="utf-8").splitlines():
        status = json.loads(line)
        if "created_at" not in status:
            continue  # quarantined, not a record
        embedded = [status, status.get("reblog") or {}, (status.get("quote") or {}).get("quoted_status") or {}]
        count += any((s.get("account") or {}).get("acct") == "ugozeller" for s in embedded)
    return count
