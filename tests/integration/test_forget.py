"""`dissentry forget`: an account's posts and profile leave every layer and do not come back."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
from typer.testing import CliRunner

from dissentry import pipeline
from dissentry.cli import app
from dissentry.config import load_config
from dissentry.sample import generate_sample
from tests.support.sample_project import sample_project

REPO = Path(__file__).resolve().parents[2]
FORGOTTEN = "mastodon:@ugozeller@social.example"
ACCOUNT_ID = "mastodon:ugozeller@social.example"


def authored_raw_statuses(root: Path, acct: str) -> int:
    """Raw Mastodon statuses whose author (or whose boosted/quoted status's author) is `acct`."""
    count = 0
    for f in (root / "raw").rglob("*.parquet"):
        for payload in pq.read_table(f, columns=["payload"]).column("payload").to_pylist():
            status = json.loads(payload)
            embedded = [status, status.get("reblog") or {}, ((status.get("quote") or {}).get("quoted_status") or {})]
            count += any((s.get("account") or {}).get("acct") == acct for s in embedded)
            count += status.get("acct") == acct  # an account record
    return count


def query(root: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(root / "dissentry.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_forget_erases_the_account_everywhere_and_keeps_it_out(tmp_path: Path) -> None:
    generate_sample(tmp_path / "data" / "sample", seed=4, scale=0.3)
    (tmp_path / "dissentry.toml").write_text((REPO / "dissentry.toml").read_text(encoding="utf-8"), encoding="utf-8")
    config = load_config(tmp_path / "dissentry.toml")
    pipeline.run(config)
    root = config.warehouse_path
    before_posts = query(root, "SELECT count(*) FROM posts")[0][0]
    own_posts = query(root, f"SELECT count(*) FROM posts WHERE author_id = '{ACCOUNT_ID}'")[0][0]
    assert own_posts > 0 and authored_raw_statuses(root, "ugozeller") > 0
    assert query(root, f"SELECT count(*) FROM group_members WHERE account_id = '{ACCOUNT_ID}'")[0][0] == 1

    result = CliRunner().invoke(app, ["--config", str(tmp_path / "dissentry.toml"), "forget", FORGOTTEN, "--yes"])
    assert result.exit_code == 0, result.output

    assert authored_raw_statuses(root, "ugozeller") == 0
    for table in ("posts", "org_references"):
        assert query(root, f"SELECT count(*) FROM {table} WHERE author_id = '{ACCOUNT_ID}'")[0][0] == 0, table
    # the configuration is the user's own statement: forget says so rather than edit it
    assert "still lists" in result.output and FORGOTTEN in result.output
    assert query(root, f"SELECT count(*) FROM accounts WHERE account_id = '{ACCOUNT_ID}'")[0][0] == 0
    # other people's posts are theirs: only the account's own posts (and copies of them) went
    after_posts = query(root, "SELECT count(*) FROM posts")[0][0]
    assert before_posts - after_posts >= own_posts
    assert after_posts > 0.9 * before_posts
    # the erasure is recorded, without the erased data
    (audit,) = query(root, "SELECT platform, account_key, raw_records_removed FROM erasures")
    assert audit[0] == "mastodon" and audit[2] > 0 and "ugozeller" not in audit[1]
    for f in root.joinpath("marts").rglob("*.parquet"):
        assert b"ugozeller@social.example" not in f.read_bytes()

    # a later import of the same export does not bring the account back
    pipeline.run(config)
    assert query(root, f"SELECT count(*) FROM posts WHERE author_id = '{ACCOUNT_ID}'")[0][0] == 0


def test_forget_reaches_an_account_known_only_from_frozen_rows(tmp_path: Path) -> None:
    """Raw retention has deleted every raw file that named the account: its rows live on in the
    frozen layer only, and forget must still find and remove them (found on the S3 lake first)."""
    config = sample_project(tmp_path, seed=4, scale=0.2, raw_retention_days=30)
    pipeline.collect(config)
    root = config.warehouse_path
    for f in sorted((root / "raw" / "mastodon").rglob("*.parquet")):
        aged = f.parent.parent / "2000-01-01" / f.name
        aged.parent.mkdir(parents=True, exist_ok=True)
        f.rename(aged)
    pipeline.run(config)  # the import lands the files again, content-deduplicated; retention freezes the old
    for f in sorted((root / "raw" / "mastodon").rglob("*.parquet")):
        f.unlink()  # now only the frozen layer knows the account
    pipeline.normalise(config)
    pipeline.transform(config)
    assert query(root, f"SELECT count(*) FROM posts WHERE author_id = '{ACCOUNT_ID}'")[0][0] > 0

    result = CliRunner().invoke(app, ["--config", str(tmp_path / "dissentry.toml"), "forget", FORGOTTEN, "--yes"])
    assert result.exit_code == 0, result.output
    assert query(root, f"SELECT count(*) FROM posts WHERE author_id = '{ACCOUNT_ID}'")[0][0] == 0
    assert query(root, f"SELECT count(*) FROM accounts WHERE account_id = '{ACCOUNT_ID}'")[0][0] == 0
    assert query(root, "SELECT count(*) FROM posts")[0][0] > 0
