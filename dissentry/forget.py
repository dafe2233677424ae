"""`dissentry forget ACCOUNT`: erase an account from every layer of the warehouse.

1. Find, in the raw layer, every record whose mapped rows belong to the account: its profile and
   its posts, including copies of its posts embedded in other records (a boost or quote carries
   the whole post). The platform's own mapping decides, so this works for every connector: each
   raw row gets a unique `fetched_at`, the mapping runs, and the rows attributed to the account
   lead back to the raw rows that produced them. The account's identifiers are gathered from
   those records too: its handle and bare username, the platform's ids of it, its display names.
2. Count what will go, and write that to a pending journal (`state/erasures_pending/`), so a
   killed and rerun forget still records the whole erasure; then add the account to the erasure
   registers (dissentry/erasure.py), so from this moment every ingestion path keeps it out.
3. Rewrite the raw files without the account's records, and with its identifiers replaced by its
   erasure token in everyone else's (replies, mentions, text, ids), atomically. Quarantine rows
   that are the account's own (its handle or id first, however the platform spelled it) go; the
   rest are redacted. The frozen layer (raw retention), collection runs and cursors likewise.
4. Record the erasure in the `erasures` table: counts and the erasure token, never an
   identifier. Then rebuild the normalised layer and the marts; the DuckDB file is deleted and
   rebuilt, because a replaced table's old pages may survive inside it.

Other people's posts that mention or reply to the account stay: they are theirs. In them the
account is its erasure token, one per account, so a reply to it is still a reply to one node.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dissentry.config import Config, parse_account_ref
from dissentry.connectors.identity import canonical_handle
from dissentry.erasure import (
    Needle,
    Redactor,
    account_key,
    load_identities,
    needles_for,
    new_token,
    redact_table,
    save_identities,
)
from dissentry.normalise import MappingRun, new_connection
from dissentry.warehouse import schema
from dissentry.warehouse.lake import Lake
from dissentry.warehouse.lock import exclusive
from dissentry.warehouse.sql import literal_list, quote_literal


@dataclass
class _Found:
    """What the raw and frozen layers know of the account."""

    ids: set[str]
    located: dict[str, list[int]] = field(default_factory=dict)  # raw file -> row numbers of its records
    names: set[str] = field(default_factory=set)  # display names the mapping gives it
    payloads: list[str] = field(default_factory=list)  # its own raw records, to read identifiers from


def _rows_of_account(lake: Lake, platform: str, handle: str) -> _Found:
    """Account ids, raw rows, names and payloads of everything the mapping attributes to the account.

    The mapping runs as normalise runs it (normalise.MappingRun: lookups resolved over all raw, the
    rows mapped a piece of raw at a time), over every raw row rather than its versions, each with a
    unique fetched_at that leads back to its file and row; only the few columns read here are kept
    of what it maps, so no payload and no mapped text is held beyond one piece's."""
    found = _Found({f"{platform}:{handle}"} | _frozen_account_ids(lake, platform, handle))
    found.names |= _frozen_names(lake, platform, found.ids)
    files = lake.raw_files(platform)
    if not files:
        return found
    con = new_connection(lake=lake)
    try:
        run = MappingRun(con, platform)
        run.load_traced(files)
        run.resolve_lookups()
        traces: list[str] = []
        if "accounts" in run.mapping:
            # every account row, narrowed: the ids named by the handle are known only once every
            # piece is mapped, and an id's rows may spell another handle (a renamed account)
            run.map_into("forget_accounts", run.mapping["accounts"],
                         f"account_id, lower(handle) = {quote_literal(handle)} AS named, fetched_at, display_name "
                         "FROM {m} WHERE account_id IS NOT NULL", label="forget: mapping accounts")
            found.ids |= {r[0] for r in con.execute(
                "SELECT DISTINCT account_id FROM forget_accounts WHERE named").fetchall()}
        con.register("forget_ids", pa.table({"id": pa.array(sorted(found.ids), type=pa.string())}))
        if "accounts" in run.mapping:
            found.names |= {r[0] for r in con.execute(
                "SELECT DISTINCT display_name FROM forget_accounts WHERE account_id IN (SELECT id FROM forget_ids) "
                "AND display_name IS NOT NULL AND display_name <> ''").fetchall()}
            traces.append("SELECT fetched_at FROM forget_accounts WHERE account_id IN (SELECT id FROM forget_ids)")
        if run.posts_sql is not None:
            run.map_into("forget_posts", run.posts_sql,
                         "fetched_at FROM {m} WHERE author_id IN (SELECT id FROM forget_ids)",
                         label="forget: mapping posts")
            traces.append("SELECT fetched_at FROM forget_posts")
        if not traces:
            return found
        for filename, row in run.traced_rows(" UNION ALL ".join(traces)):
            found.located.setdefault(filename, []).append(row)
        for filename, rows in found.located.items():
            found.payloads += [r[0] for r in con.execute(
                f"SELECT payload FROM read_parquet({literal_list([filename])}, file_row_number = true, "
                "hive_partitioning = false) WHERE list_contains(?, file_row_number) AND payload IS NOT NULL "
                "AND payload <> '' ORDER BY file_row_number", [rows]).fetchall()]
        return found
    finally:
        con.close()


_HANDLE_KEYS = ("acct", "handle", "screen_name", "username", "author")
_ID_KEYS = ("id", "id_str", "did", "user_id")
_NAME_KEYS = ("display_name", "displayName", "name", "author_name")


def _is_the_account(node: dict[str, Any], handle: str, bare: str, host: str) -> bool:
    """Whether a JSON object (an Account, an author, a row) is the account being erased."""
    for key in _HANDLE_KEYS:
        value = node.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        spelled = canonical_handle(value)
        if spelled == handle:
            return True
        if host and "@" not in spelled and spelled == bare:
            # a local `acct`: the account only if its profile is on the same host
            url = node.get("url")
            if not isinstance(url, str) or "://" not in url:
                return True
            return canonical_handle("x@" + (url.split("://", 1)[1].split("/", 1)[0])).endswith("@" + host)
    return False


def _identity_values(payloads: Iterable[str], handle: str) -> tuple[set[str], set[str]]:
    """(the platform's ids of the account, its display names) from its own records."""
    user, at, host = handle.rpartition("@")
    bare = user if at else handle
    ids: set[str] = set()
    names: set[str] = set()
    for payload in payloads:
        try:
            root = json.loads(payload)
        except (ValueError, RecursionError):
            continue
        stack = [root]
        while stack:  # iterative: a record nested a thousand levels deep is no recursion error
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(v for v in node if isinstance(v, dict | list))
                continue
            if not isinstance(node, dict):
                continue
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
            if not _is_the_account(node, handle, bare, host if at else ""):
                continue
            ids |= {str(node[k]) for k in _ID_KEYS if isinstance(node.get(k), str | int) and str(node[k]).strip()}
            names |= {node[k] for k in _NAME_KEYS if isinstance(node.get(k), str) and node[k].strip()}
    return ids, names


def _frozen_account_ids(lake: Lake, platform: str, handle: str) -> set[str]:
    """Ids the frozen layer knows the handle by: after raw retention, the raw that named it is gone."""
    accounts = lake.frozen_path("accounts", platform)
    if not lake.exists(accounts):
        return set()
    con = new_connection(lake=lake)
    try:
        return {r[0] for r in con.execute(
            f"SELECT DISTINCT account_id FROM read_parquet({literal_list([accounts])}, hive_partitioning = false) "
            "WHERE lower(handle) = ?", [handle]).fetchall()}
    finally:
        con.close()


def _frozen_names(lake: Lake, platform: str, ids: set[str]) -> set[str]:
    accounts = lake.frozen_path("accounts", platform)
    if not lake.exists(accounts) or not ids:
        return set()
    con = new_connection(lake=lake)
    try:
        return {r[0] for r in con.execute(
            f"SELECT DISTINCT display_name FROM read_parquet({literal_list([accounts])}, hive_partitioning = false) "
            "WHERE list_contains(?, account_id) AND display_name IS NOT NULL", [sorted(ids)]).fetchall()}
    finally:
        con.close()


def _quarantine_plan(lake: Lake, redactor: Redactor) -> dict[str, list[int]]:
    """quarantine file -> rows that are the account's own: its handle (as the platform wrote it:
    `acct` without the domain too) or its id is the first identity the quarantined input names."""
    plan: dict[str, list[int]] = {}
    for path in lake.files("quarantine"):
        contents = lake.read_table(path).column("content").to_pylist()
        rows = [i for i, c in enumerate(contents) if redactor.owns(c)]
        if rows:
            plan[path] = rows
    return plan


def _rewrite(lake: Lake, path: str, redactor: Redactor, drop: list[int] | None = None,
             columns: Iterable[str] | None = None) -> tuple[int, int]:
    """Drop rows of one lake file and redact the rest; (rows dropped, rows redacted)."""
    table = lake.read_table(path)
    dropped = 0
    if drop:
        keep = pc.invert(pc.is_in(pa.array(range(table.num_rows)), value_set=pa.array(drop, type=pa.int64())))
        remaining = table.filter(keep)
        dropped = table.num_rows - remaining.num_rows
        table = remaining
    table, redacted = redact_table(table, redactor, columns)
    if dropped or redacted:
        if table.num_rows == 0:
            lake.delete(path)
        else:
            lake.write_parquet(table, path)
    return dropped, redacted


def _redact_state(lake: Lake, redactor: Redactor) -> int:
    """Cursors name their targets (`account:<handle>`): redact them like any other text."""
    changed = 0
    for path in lake.files("state", "cursors", suffix=".json"):
        with lake.fs.open(path, "rb") as fh:
            text = fh.read().decode("utf-8")
        redacted = redactor.text(text)
        if redacted != text:
            lake.write_json(json.loads(redacted or "null"), path)
            changed += 1
    return changed


def _pending_path(lake: Lake, token: str) -> str:
    return lake.path("state", "erasures_pending", f"{token}.json")


def _pending_for(lake: Lake, keys: set[str]) -> dict[str, Any] | None:
    """The journal of an earlier, killed forget of this account, if there is one."""
    for path in lake.files("state", "erasures_pending", suffix=".json"):
        journal = lake.read_json(path)
        if isinstance(journal, dict) and keys & set(journal.get("keys", [])):
            return journal
    return None


def _configured_terms(config: Config) -> set[str]:
    """Names the configuration itself uses (groups, aliases, leaders): never erased from text,
    or an erased official account's display name would erase every reference to its group."""
    terms = {t for g in config.groups for t in (g.name, *g.aliases, *g.leaders)}
    return {t.strip().lower() for t in terms if t.strip()}


def _frozen_rows(lake: Lake, platform: str, keys: set[str]) -> int:
    """How many frozen rows `_purge_frozen` will remove (counted before anything is removed)."""
    posts = lake.frozen_path("posts", platform)
    con = new_connection(lake=lake)
    try:
        con.register("erased", pa.table({"key": pa.array(sorted(keys), type=pa.string())}))
        gone = "SELECT NULL AS post_id WHERE false"
        if lake.exists(posts):
            gone = (f"SELECT post_id FROM read_parquet({literal_list([posts])}, hive_partitioning = false) "
                    "WHERE coalesce(sha256(author_id), '') IN (SELECT key FROM erased)")
        total = 0
        for table in schema.NORMALISED:
            path = lake.frozen_path(table, platform)
            if not lake.exists(path) or table == "org_articles":
                continue
            where = ("coalesce(sha256(account_id), '') IN (SELECT key FROM erased)" if table == "accounts"
                     else f"post_id IN ({gone})")
            total += con.execute(f"SELECT count(*) FROM read_parquet({literal_list([path])}, "
                                 f"hive_partitioning = false) WHERE {where}").fetchone()[0]
        return total
    finally:
        con.close()


def _purge_frozen(lake: Lake, platform: str, keys: list[str]) -> int:
    """Remove the account's rows from the frozen layer (rows kept after their raw expired)."""
    posts = lake.frozen_path("posts", platform)
    con = new_connection(lake=lake)
    try:
        con.register("erased", pa.table({"key": pa.array(keys, type=pa.string())}))
        gone: set[str] = set()
        if lake.exists(posts):
            gone = {r[0] for r in con.execute(
                f"SELECT post_id FROM read_parquet({literal_list([posts])}, hive_partitioning = false) "
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
            rows = f"read_parquet({literal_list([path])}, hive_partitioning = false)"
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
    # the lock file says what holds it: "forget", never whom (it is no place for the handle)
    # `ingest` too: a collection or import running now built its guard before the account was
    # registered, and would land its records after the raw files below were rewritten
    with exclusive(lake, "build", what="forget"), exclusive(lake, "ingest", what="forget"):
        found = _rows_of_account(lake, platform, handle)
        ids, located = found.ids, found.located
        # first, while the normalised layer still holds the account's post ids: register them and
        # purge their people's labels and draws (dissentry/labels.py)
        from dissentry.labels import forget_labelled_posts

        forget_labelled_posts(lake, config, ids)
        own_keys = {account_key(i) for i in ids}
        identities = load_identities(lake)
        entry = next((a for a in identities if own_keys & set(a.get("keys", []))), None)
        pending = _pending_for(lake, own_keys)
        token = str((pending or entry or {}).get("token") or new_token())
        stamp = str((pending or {}).get("stamp") or f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}")
        platform_ids, names = _identity_values(found.payloads, handle)
        reserved = _configured_terms(config)
        names = {n for n in names | found.names if n.strip().lower() not in reserved}
        needles = needles_for(platform, token, ids=sorted(ids), handles=[handle], platform_ids=sorted(platform_ids),
                              names=sorted(names))
        if entry is not None:  # a second forget of the account: what the first one learnt still counts
            needles = list({(n.length, n.digest): n for n in
                            [*map(Needle.from_json, entry.get("needles", [])), *needles]}.values())
        redactor = Redactor(needles)

        # count first: a forget killed half-way and run again finds only what the first left
        quarantine_plan = _quarantine_plan(lake, redactor)
        counts = {"raw_records_removed": sum(len(r) for r in located.values()) + _frozen_rows(lake, platform, own_keys),
                  "raw_files_rewritten": len(located),
                  "quarantine_rows_removed": sum(len(r) for r in quarantine_plan.values())}
        earlier = (pending or {}).get("counts", {})
        counts = {k: max(v, int(earlier.get(k, 0))) for k, v in counts.items()}
        redacted = int(earlier.get("other_records_redacted", 0))
        journal = {"token": token, "stamp": stamp, "keys": sorted(own_keys), "counts": counts}
        lake.write_json({**journal, "counts": {**counts, "other_records_redacted": redacted}},
                        _pending_path(lake, token))

        # the registers next: from here on every ingestion path drops and redacts the account
        keys = sorted(set(lake.erased_account_keys()) | own_keys)
        lake.write_json(keys, lake.erased_register_path)
        identities = [a for a in identities if a is not entry]
        identities.append({"token": token, "platform": platform,
                           "keys": sorted(own_keys | set((entry or {}).get("keys", []))),
                           "needles": [n.to_json() for n in needles]})
        save_identities(lake, identities)

        # then the data: the account's records go, everyone else's name it by its token
        for path in lake.raw_files():
            _, changed = _rewrite(lake, path, redactor, located.get(path), ("payload", "locator", "record_id"))
            redacted += changed
            if changed:  # progress, so a rerun after a kill adds to it rather than forgets it
                lake.write_json({**journal, "counts": {**counts, "other_records_redacted": redacted}},
                                _pending_path(lake, token))
        for path in lake.files("quarantine"):
            redacted += _rewrite(lake, path, redactor, quarantine_plan.get(path),
                                 ("locator", "reason", "content"))[1]
        _purge_frozen(lake, platform, keys)
        for path in lake.files("frozen"):
            redacted += _rewrite(lake, path, redactor)[1]
        for path in lake.files("collection_runs"):
            _rewrite(lake, path, redactor)
        _redact_state(lake, redactor)

        audit = [{"erased_at": datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC),
                  "platform": platform, "account_key": token, **counts, "other_records_redacted": redacted}]
        # the audit's name comes from the journal: a rerun after a kill rewrites it, never adds one
        lake.write_parquet(pa.Table.from_pylist(audit, schema=schema.ERASURES), lake.erasure_path(stamp))
        lake.delete(_pending_path(lake, token))
        removed, quarantined = counts["raw_records_removed"], counts["quarantine_rows_removed"]
    # keep_previous=False: the previous generation's files still hold the account
    normalised = pipeline.normalise(config, keep_previous=False)
    for stale in (lake.duckdb_path, lake.duckdb_path.with_name(lake.duckdb_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    pipeline.transform(config)
    return {"platform": platform, "account_ids": len(ids), "raw_records_removed": removed,
            "raw_files_rewritten": len(located), "quarantine_rows_removed": quarantined,
            "other_records_redacted": redacted, "erasure_token": token, "posts_after": normalised["posts"]}
