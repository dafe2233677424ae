"""`dissentry forget ACCOUNT`: erase an account from every layer of the warehouse.

1. Find, in the raw layer, every record whose mapped rows belong to the account: its profile and
   its posts, including copies of its posts embedded in other records (a boost or quote carries
   the whole post). The platform's own mapping decides, so this works for every connector: each
   raw row gets a unique `fetched_at`, the mapping runs, and the rows attributed to the account
   lead back to the raw rows that produced them.
2. Rewrite the affected raw files without those rows (atomically); drop quarantine rows that name
   the account.
   Rows of the account kept in the frozen layer (raw retention) are removed too.
3. Add the account's key (sha256 of its canonical id) to the erasure register, so normalisation
   keeps it out even when a later collection fetches it again, and record the erasure — counts,
   never the erased data — in the `erasures` table.
4. Rebuild the normalised layer and the marts; the DuckDB file is deleted and rebuilt, because a
   replaced table's old pages may survive inside it.

Other people's posts that mention or reply to the account stay: they are theirs. Their text may
still name the account; pseudonymisation replaces @handles in text.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connectors.registry import get_connector
from dissentry.config import Config, parse_account_ref
from dissentry.normalise import new_connection, read_mapping
from warehouse import schema
from warehouse.lake import Lake
from warehouse.lock import exclusive


def account_key(account_id: str) -> str:
    return hashlib.sha256(account_id.encode()).hexdigest()


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _rows_of_account(lake: Lake, platform: str, handle: str) -> tuple[set[str], dict[str, list[int]]]:
    """(account ids, raw file -> row numbers) of everything the mapping attributes to the account."""
    ids: set[str] = {f"{platform}:{handle}"} | _frozen_account_ids(lake, platform, handle)
    files = lake.raw_files(platform)
    if not files:
        return ids, {}
    mapping = read_mapping(get_connector(platform).mapping_file)
    con = new_connection(lake=lake)
    try:
        # every raw row keeps its place (file, row) and gets a unique fetched_at to be traced by
        con.execute(
            f"""
            CREATE TEMP TABLE raw_rows AS
            SELECT *, TIMESTAMPTZ '2000-01-01 00:00:00+00'
                      + to_microseconds(row_number() OVER (ORDER BY filename, file_row_number)) AS trace
            FROM read_parquet({_sql_list(files)}, filename = true, file_row_number = true,
                              hive_partitioning = false, union_by_name = true)
            """
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE raw AS SELECT platform, source, record_type, record_id, origin, payload, "
            "locator, trace AS fetched_at, run_id FROM raw_rows"
        )
        traces: set[Any] = set()
        if "accounts" in mapping:
            con.execute(f"CREATE OR REPLACE TEMP TABLE mapped_accounts AS {mapping['accounts']}")
            ids |= {r[0] for r in con.execute(
                "SELECT DISTINCT account_id FROM mapped_accounts WHERE lower(handle) = ?", [handle]).fetchall()}
        id_list = sorted(ids)
        if "accounts" in mapping:
            traces |= {r[0] for r in con.execute(
                "SELECT fetched_at FROM mapped_accounts WHERE list_contains(?, account_id)", [id_list]).fetchall()}
        if "posts" in mapping:
            con.execute(f"CREATE OR REPLACE TEMP TABLE mapped_posts AS {mapping['posts']}")
            traces |= {r[0] for r in con.execute(
                "SELECT fetched_at FROM mapped_posts WHERE list_contains(?, author_id)", [id_list]).fetchall()}
        con.register("traces", pa.table({"trace": pa.array(sorted(traces), type=schema.TS)}))
        located: dict[str, list[int]] = {}
        for filename, row in con.execute(
            "SELECT filename, file_row_number FROM raw_rows JOIN traces USING (trace) ORDER BY 1, 2"
        ).fetchall():
            located.setdefault(filename, []).append(row)
        return ids, located
    finally:
        con.close()


def _frozen_account_ids(lake: Lake, platform: str, handle: str) -> set[str]:
    """Ids the frozen layer knows the handle by: after raw retention, the raw that named it is gone."""
    accounts = lake.frozen_path("accounts", platform)
    if not lake.exists(accounts):
        return set()
    con = new_connection(lake=lake)
    try:
        return {r[0] for r in con.execute(
            f"SELECT DISTINCT account_id FROM read_parquet({_sql_list([accounts])}, hive_partitioning = false) "
            "WHERE lower(handle) = ?", [handle]).fetchall()}
    finally:
        con.close()


def _drop_rows(lake: Lake, path: str, rows: list[int]) -> int:
    table = lake.read_table(path)
    keep = pc.invert(pc.is_in(pa.array(range(table.num_rows)), value_set=pa.array(rows, type=pa.int64())))
    remaining = table.filter(keep)
    if remaining.num_rows == 0:
        lake.delete(path)
    else:
        lake.write_parquet(remaining, path)
    return table.num_rows - remaining.num_rows


def _drop_quarantine_rows(lake: Lake, platform: str, needles: list[str]) -> int:
    removed = 0
    for path in lake.files("quarantine"):
        table = lake.read_table(path)
        content = pc.utf8_lower(pc.fill_null(table.column("content"), ""))
        hit = pc.equal(table.column("platform"), platform)
        named = None
        for needle in needles:
            match = pc.match_substring(content, needle.lower())
            named = match if named is None else pc.or_(named, match)
        if named is None:
            continue
        drop = pc.and_(hit, named)
        count = pc.sum(pc.cast(drop, pa.int64())).as_py() or 0
        if count:
            rows = [i for i, d in enumerate(drop.to_pylist()) if d]
            removed += _drop_rows(lake, path, rows)
    return removed


def _purge_frozen(lake: Lake, platform: str, keys: list[str]) -> int:
    """Remove the account's rows from the frozen layer (rows kept after their raw expired)."""
    posts = lake.frozen_path("posts", platform)
    con = new_connection(lake=lake)
    try:
        con.register("erased", pa.table({"key": pa.array(keys, type=pa.string())}))
        gone: set[str] = set()
        if lake.exists(posts):
            gone = {r[0] for r in con.execute(
                f"SELECT post_id FROM read_parquet({_sql_list([posts])}, hive_partitioning = false) "
                "WHERE coalesce(sha256(author_id), '') IN (SELECT key FROM erased)").fetchall()}
        con.register("gone", pa.table({"post_id": pa.array(sorted(gone), type=pa.string())}))
        removed = 0
        for table in schema.NORMALISED:
            path = lake.frozen_path(table, platform)
            if not lake.exists(path):
                continue
            if table == "accounts":
                where = "coalesce(sha256(account_id), '') IN (SELECT key FROM erased)"
            elif table == "org_articles":
                continue
            else:
                where = "post_id IN (SELECT post_id FROM gone)"
            before = lake.num_rows(path)
            rows = f"read_parquet({_sql_list([path])}, hive_partitioning = false)"
            kept = con.sql(f"SELECT * FROM {rows} WHERE NOT ({where})").to_arrow_table()
            if kept.num_rows != before:
                lake.write_parquet(kept, path)
                removed += before - kept.num_rows
        return removed
    finally:
        con.close()


def forget_account(config: Config, ref: str) -> dict[str, Any]:
    """Erase one account (`platform:handle`) from raw, quarantine, normalised and marts."""
    from dissentry import pipeline

    platform, handle = parse_account_ref(ref)
    lake = pipeline.lake_for(config)
    with exclusive(lake, "build", what=f"forget {platform}:{handle}"):
        ids, located = _rows_of_account(lake, platform, handle)
        removed = sum(_drop_rows(lake, f, rows) for f, rows in located.items())
        quarantined = _drop_quarantine_rows(lake, platform, [handle, *ids])
        keys = sorted(set(lake.erased_account_keys()) | {account_key(i) for i in ids})
        lake.write_json(keys, lake.erased_register_path)
        removed += _purge_frozen(lake, platform, keys)
        stamp = datetime.now(UTC)
        audit = [{"erased_at": stamp, "platform": platform, "account_key": account_key(i),
                  "raw_records_removed": removed, "raw_files_rewritten": len(located),
                  "quarantine_rows_removed": quarantined} for i in sorted(ids)]
        lake.write_parquet(pa.Table.from_pylist(audit, schema=schema.ERASURES),
                           lake.erasure_path(f"{stamp:%Y%m%dT%H%M%S%fZ}"))
    counts = pipeline.normalise(config)
    for stale in (lake.duckdb_path, lake.duckdb_path.with_name(lake.duckdb_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    pipeline.transform(config)
    return {"platform": platform, "account_ids": len(ids), "raw_records_removed": removed,
            "raw_files_rewritten": len(located), "quarantine_rows_removed": quarantined,
            "posts_after": counts["posts"]}
