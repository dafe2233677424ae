"""Normalisation: raw records -> the canonical tables, set-wise in DuckDB.

For each platform with raw data:
1. `raw` view: one row per distinct version of a record (platform, record_type, record_id, origin,
   payload); fetched_at/run_id/source are those of the version's *first* fetch, so importing the
   same file twice changes nothing downstream.
2. The connector's `mapping.sql` turns `raw` into wide post rows (with link, mention and hashtag
   lists) and account rows.
3. Dedup: one row per post_id (latest version wins) and per account_id (full profiles beat the
   partial author views embedded in posts, then the latest wins). URLs are normalised (lower-case
   host, no `www.`, no tracking parameters, no fragment) and reduced to their registered domain.
4. Each table is written to `normalised/<generation>/<table>/platform=P/data.parquet`; the
   generation is published whole, by one manifest write, when every platform's tables are written.

The whole platform is rebuilt each time: simple and always consistent with raw. (Incremental
normalisation over new raw partitions is the next step once lakes outgrow a laptop.)
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.base import RawRecord
from connectors.identity import canonical_handle, canonical_host
from connectors.registry import get_connector, platforms
from dissentry.privacy import Pseudonymiser, title_key
from warehouse import schema
from warehouse.catalog import connect
from warehouse.lake import Lake, new_run_id

TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|igsh|ref_src|ref_url|_hsenc|_hsmi|yclid|s_cid|"
    r"wt\.mc_id|cmpid|si|spm)$",
    re.IGNORECASE,
)
_BR = re.compile(r"(?i)<br\s*/?>")
_PARAGRAPH = re.compile(r"(?i)</p>\s*<p[^>]*>")


# ---- helpers registered as DuckDB functions -----------------------------------------------------
def html_to_text_one(html: str | None) -> str | None:
    """Mastodon HTML to plain text: entities decoded, <br> and paragraph breaks kept as newlines."""
    if html is None:
        return None
    if "<" not in html and "&" not in html:
        return html
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(_PARAGRAPH.sub("\n\n", _BR.sub("\n", html)))
    tree.strip_tags(["script", "style"])
    return (tree.text(separator="") or "").strip()


def normalise_url_one(url: str | None) -> str | None:
    """Canonical form of a link so the same article counts once, whatever the tracking tail."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().removeprefix("www.")
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    params = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode([(k, v) for k, v in params if not TRACKING_PARAMS.match(k)])
    path = parts.path if parts.path not in ("", "/") else ""
    return urlunsplit(("https" if scheme == "https" else "http", netloc, path, query, ""))


@cache
def _domain_extractor() -> Callable[[str], object]:
    import tldextract

    # the public-suffix snapshot bundled in the wheel: no download at run time
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def registered_domain_one(url: str | None) -> str | None:
    """`news.bbc.co.uk` -> `bbc.co.uk`; reserved TLDs (.example, .test) keep their last two labels."""
    if not url:
        return None
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    if not host:
        return None
    result = _domain_extractor()(host)
    if hasattr(result, "top_domain_under_public_suffix"):
        domain = result.top_domain_under_public_suffix
    else:  # tldextract < 5.3
        domain = result.registered_domain
    if domain:
        return domain
    if re.fullmatch(r"[\d.]+|[0-9a-f:]+", host):
        return host
    return ".".join(host.split(".")[-2:])


def _vectorised(fn: Callable[[str | None], str | None]) -> Callable[[pa.Array], pa.Array]:
    def apply(values: pa.Array) -> pa.Array:
        return pa.array([fn(v) for v in values.to_pylist()], type=pa.string())

    return apply


def _register(con: duckdb.DuckDBPyConnection, name: str, fn: Callable[[str | None], str | None]) -> None:
    # "special": the function sees NULLs and may return NULL (a link that is no http URL, say)
    con.create_function(
        name, _vectorised(fn), ["VARCHAR"], "VARCHAR", type="arrow", null_handling="special", side_effects=False
    )


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """The helpers a mapping.sql may call: html_to_text, normalise_url, registered_domain, safe_timestamp."""
    # a timestamp Python and Arrow can hold (years 1-9999), else NULL: never a BC date from '0000-...';
    # a leap second (23:59:60, which DuckDB cannot hold) is clamped to :59 rather than lost
    con.execute(
        "CREATE OR REPLACE MACRO leap_clamped(v) AS "
        "regexp_replace(CAST(v AS VARCHAR), '([T ][0-9]{2}:[0-9]{2}):60([^0-9]|$)', '\\1:59\\2')"
    )
    con.execute(
        "CREATE OR REPLACE MACRO safe_timestamp(v) AS "
        "CASE WHEN TRY_CAST(leap_clamped(v) AS TIMESTAMPTZ) >= TIMESTAMPTZ '0001-01-01 00:00:00+00' "
        "AND TRY_CAST(leap_clamped(v) AS TIMESTAMPTZ) < TIMESTAMPTZ '9999-12-31 00:00:00+00' "
        "THEN TRY_CAST(leap_clamped(v) AS TIMESTAMPTZ) END"
    )
    for name, fn in (
        ("html_to_text", html_to_text_one),
        ("normalise_url", normalise_url_one),
        ("registered_domain", registered_domain_one),
        ("canonical_host", lambda v: None if v is None else canonical_host(v)),
    ):
        _register(con, name, fn)
    # `acct`, or `acct@host` for a local one, in the one spelling of connectors/identity.py
    con.create_function(
        "account_handle", _account_handles, ["VARCHAR", "VARCHAR"], "VARCHAR", type="arrow",
        null_handling="special", side_effects=False,
    )


def _account_handles(accts: pa.Array, hosts: pa.Array) -> pa.Array:
    out = []
    for acct, host in zip(accts.to_pylist(), hosts.to_pylist(), strict=True):
        if acct is None or not acct.strip("@ \t"):
            out.append(None)
            continue
        handle = canonical_handle(acct)
        out.append(handle if "@" in handle or not host else canonical_handle(f"{handle}@{host}"))
    return pa.array(out, type=pa.string())


MAPPED_TABLES = ("posts", "accounts", "org_articles")
"""What a mapping.sql may define (`-- name: <table>`); each is optional."""


# ---- mapping files -------------------------------------------------------------------------------
def read_mapping(path: Path) -> dict[str, str]:
    """Split a mapping file into its named queries (`-- name: posts`, `-- name: accounts`)."""
    queries: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*--\s*name:\s*(\w+)\s*$", line)
        if match:
            current = queries.setdefault(match.group(1), [])
        elif current is not None:
            current.append(line)
    sql = {name: "\n".join(lines).strip().rstrip(";") for name, lines in queries.items()}
    unknown = set(sql) - set(MAPPED_TABLES)
    if unknown or not sql:
        raise ValueError(
            f"{path}: a mapping holds named queries for {', '.join(MAPPED_TABLES)}; found {sorted(sql) or 'none'}"
        )
    return sql


# ---- the set-wise steps --------------------------------------------------------------------------
_RAW_VERSIONS = """
CREATE OR REPLACE TEMP TABLE raw AS
SELECT platform, source, record_type, record_id, origin, payload, locator, fetched_at, run_id
FROM ({raw_sql})
QUALIFY row_number() OVER (
    PARTITION BY platform, record_type, record_id, origin, md5(payload)
    ORDER BY fetched_at, run_id, locator
) = 1
"""

# what pseudonymisation rewrites (dissentry/privacy.py): ids keep joining, names and URLs go
_PSEUDONYMISED: dict[str, dict[str, str]] = {
    "posts": {
        **{c: f"pseudonym_id({c})" for c in (
            "post_id", "author_id", "reply_to_post_id", "reply_to_author_id", "repost_of_post_id",
            "repost_of_author_id", "quote_of_post_id", "quote_of_author_id")},
        "url": "NULL",
        "text": "pseudonym_text(text)",
        # a card titled with an account's display name (a profile card) names the person
        "link_title": "CASE WHEN pseudonym_title_key(link_title) IN (SELECT name FROM pseudonym_names) "
                      "THEN pseudonym_title(link_title) ELSE pseudonym_text(link_title) END",
    },
    "accounts": {"account_id": "pseudonym_id(account_id)", "handle": "pseudonym_handle(handle)",
                 "display_name": "pseudonym_markers(display_name)", "bio": "pseudonym_markers(bio)"},
    "post_links": {"post_id": "pseudonym_id(post_id)", "url": "pseudonym_url(url)"},  # profile links
    "post_hashtags": {"post_id": "pseudonym_id(post_id)"},
    "post_mentions": {"post_id": "pseudonym_id(post_id)", "account_id": "pseudonym_id(account_id)",
                      "handle": "pseudonym_handle(handle)"},
}


def _pseudonymised_select(table: str, select: str) -> str:
    rewrites = _PSEUDONYMISED.get(table)
    if not rewrites:
        return select
    cols = ", ".join(f'{rewrites[n]} AS "{n}"' if n in rewrites else f'"{n}"' for n in schema.NORMALISED[table].names)
    return f"SELECT {cols} FROM ({select})"


def _cast_select(table_schema: pa.Schema, relation: str) -> str:
    con = duckdb.connect()
    con.register("s", table_schema.empty_table())
    types = dict((row[0], row[1]) for row in con.execute("DESCRIBE s").fetchall())
    con.close()
    cols = ", ".join(f'CAST("{n}" AS {types[n]}) AS "{n}"' for n in table_schema.names)
    return f"SELECT {cols} FROM {relation}"


def _build_platform_tables(con: duckdb.DuckDBPyConnection, platform: str, raw_sql: str) -> dict[str, str]:
    """Create temp tables for one platform; return table name -> SELECT producing it."""
    mapping = read_mapping(get_connector(platform).mapping_file)
    con.execute(_RAW_VERSIONS.format(raw_sql=raw_sql))
    tables: dict[str, str] = {}
    if "accounts" in mapping:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE mapped_accounts AS SELECT * FROM ({mapping['accounts']}) "
            "WHERE coalesce(sha256(account_id), '') NOT IN (SELECT key FROM erased_keys)"  # `dissentry forget`
        )
        tables["accounts"] = _cast_select(
            schema.ACCOUNTS,
            """(SELECT * FROM mapped_accounts QUALIFY row_number() OVER (
                   PARTITION BY account_id ORDER BY detail DESC, fetched_at DESC, handle) = 1)""",
        ) + " ORDER BY account_id"
    if "org_articles" in mapping:
        con.execute(f"CREATE OR REPLACE TEMP TABLE mapped_articles AS {mapping['org_articles']}")
        tables["org_articles"] = _cast_select(
            schema.ORG_ARTICLES,
            """(SELECT * FROM (SELECT * REPLACE (normalise_url(url) AS url) FROM mapped_articles)
                WHERE url IS NOT NULL
                QUALIFY row_number() OVER (PARTITION BY group_id, url ORDER BY fetched_at DESC, title) = 1)""",
        ) + " ORDER BY group_id, url"
    if "posts" not in mapping:
        return tables
    con.execute(f"CREATE OR REPLACE TEMP TABLE mapped_posts AS {mapping['posts']}")
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE posts_latest AS
        SELECT * FROM mapped_posts
        WHERE coalesce(sha256(author_id), '') NOT IN (SELECT key FROM erased_keys)
        QUALIFY row_number() OVER (
            PARTITION BY post_id ORDER BY fetched_at DESC, version_rank_key DESC, run_id DESC
        ) = 1
        """
    )
    return tables | {
        # a post's URL is a web address or nothing: a `javascript:` or `data:` "URL" never reaches a report
        "posts": _cast_select(schema.POSTS, "(SELECT * REPLACE (CASE WHEN regexp_matches(trim(url), "
                              "'^https?://[^/?#\\s]+', 'i') THEN url END AS url) FROM posts_latest)")
                 + " ORDER BY post_id",
        "post_links": """
            SELECT DISTINCT post_id, url, registered_domain(url) AS domain
            FROM (SELECT post_id, normalise_url(unnest(links)) AS url FROM posts_latest)
            WHERE url IS NOT NULL ORDER BY post_id, url""",
        "post_mentions": """
            SELECT DISTINCT post_id, m.account_id AS account_id, m.handle AS handle
            FROM (SELECT post_id, unnest(mentions) AS m FROM posts_latest)
            WHERE m.account_id IS NOT NULL ORDER BY post_id, account_id""",
        "post_hashtags": """
            SELECT DISTINCT post_id, lower(tag) AS tag
            FROM (SELECT post_id, unnest(hashtags) AS tag FROM posts_latest)
            WHERE tag IS NOT NULL AND tag <> '' ORDER BY post_id, tag""",
    }


MEMORY_LIMIT = os.environ.get("DISSENTRY_DUCKDB_MEMORY_LIMIT", "2GB")
"""DuckDB spills to disk past this, so normalising a lake larger than memory still works."""


def new_connection(
    temp_dir: Path | None = None, pseudonymiser: Pseudonymiser | None = None, *, lake: Lake | None = None
) -> duckdb.DuckDBPyConnection:
    """A connection with the mapping helpers; with `lake`, it reads the lake and spills beside it."""
    con = connect(lake=lake)
    if temp_dir is None and lake is not None:
        temp_dir = lake.spill_dir
    if temp_dir is not None:
        temp_dir.mkdir(parents=True, exist_ok=True)
        con.execute("SET temp_directory = ?", [temp_dir.as_posix()])
        con.execute("SET memory_limit = ?", [MEMORY_LIMIT])
    con.execute("SET preserve_insertion_order = false")
    register_functions(con)
    use_erased_keys(con, [])
    if pseudonymiser is not None:
        for name, fn in (
            ("pseudonym_id", pseudonymiser.account_id),
            ("pseudonym_handle", pseudonymiser.handle),
            ("pseudonym_text", pseudonymiser.text),
            ("pseudonym_markers", pseudonymiser.markers_only),
            ("pseudonym_url", pseudonymiser.url),
            ("pseudonym_title", pseudonymiser.title_digest),
            ("pseudonym_title_key", title_key),
        ):
            _register(con, name, fn)
        con.execute("CREATE OR REPLACE TEMP TABLE pseudonym_names (name VARCHAR)")
    return con


def use_erased_keys(con: duckdb.DuckDBPyConnection, keys: list[str]) -> None:
    """Accounts erased by `dissentry forget` (sha256 of their ids) stay out, even if re-collected."""
    con.register("erased_keys", pa.table({"key": pa.array(keys, type=pa.string())}))


def _raw_files_sql(files: list[str]) -> str:
    listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    return f"SELECT * FROM read_parquet([{listed}], hive_partitioning = false, union_by_name = true)"


# rows of the frozen layer (normalised rows kept after their raw files expired) give way to rows
# built from raw: the raw is newer. The SQL says which frozen rows a fresh build replaces.
_REPLACED_BY_FRESH = {
    "posts": "post_id IN (SELECT post_id FROM posts_latest)",
    "post_links": "post_id IN (SELECT post_id FROM posts_latest)",
    "post_mentions": "post_id IN (SELECT post_id FROM posts_latest)",
    "post_hashtags": "post_id IN (SELECT post_id FROM posts_latest)",
    "accounts": "account_id IN (SELECT account_id FROM mapped_accounts)",
    "org_articles": "(group_id, url) IN (SELECT (group_id, normalise_url(url)) FROM mapped_articles)",
}


def _with_frozen(lake: Lake, table: str, fresh: str | None, frozen: str) -> str | None:
    """The fresh rows plus the frozen rows they do not replace (either may be missing)."""
    if not lake.exists(frozen):
        return fresh
    quoted = frozen.replace("'", "''")
    kept = f"SELECT * FROM read_parquet('{quoted}', hive_partitioning = false)"
    if fresh is None:
        return kept
    return f"SELECT * FROM ({fresh}) UNION ALL ({kept} WHERE NOT ({_REPLACED_BY_FRESH[table]}))"


def freeze_raw(lake: Lake, platform: str, files: list[str]) -> dict[str, int]:
    """Map `files` and keep their canonical rows in the frozen layer, so the files can be deleted
    (raw retention) while their normalised rows stay. Called under the build lock."""
    counts: dict[str, int] = {}
    con = new_connection(lake=lake)
    use_erased_keys(con, lake.erased_account_keys())
    try:
        selects = _build_platform_tables(con, platform, _raw_files_sql(files))
        for table in schema.NORMALISED:
            frozen = lake.frozen_path(table, platform)
            select = _with_frozen(lake, table, selects.get(table), frozen)
            if select is None:
                continue
            counts[table] = _copy_to_lake(con, lake, select, frozen)
    finally:
        con.close()
    return counts


def _copy_to_lake(con: duckdb.DuckDBPyConnection, lake: Lake, select: str, final: str) -> int:
    """Write a query's rows to one lake file, whole or not at all; return the row count."""
    with lake.staged(final) as tmp:
        target = tmp.as_posix().replace("'", "''")
        con.execute(f"COPY ({select}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
        return pq.ParquetFile(tmp).metadata.num_rows


def normalise_lake(
    lake: Lake,
    platform_names: Iterable[str] | None = None,
    *,
    pseudonymiser: Pseudonymiser | None = None,
    keep_previous: bool = True,
) -> dict[str, int]:
    """Rebuild the normalised layer from raw (and frozen rows of expired raw); rows per table.

    Every table of every platform goes into a new generation folder; the generation is published
    whole at the end by one manifest write (`Lake.publish_normalised`), so a normalise killed at
    any point leaves the previous generation visible. `keep_previous=False` deletes the previous
    generation's files once the new one is published (forget: nothing erased may survive)."""
    counts = {name: 0 for name in schema.NORMALISED}
    generation = new_run_id()
    previous = lake.normalised_manifest()
    entries: dict[str, Any] = {}
    con = new_connection(pseudonymiser=pseudonymiser, lake=lake)
    use_erased_keys(con, lake.erased_account_keys())
    try:
        for platform in platform_names or platforms():
            files = lake.raw_files(platform)
            fresh = _build_platform_tables(con, platform, _raw_files_sql(files)) if files else {}
            frozen = {table: lake.frozen_path(table, platform) for table in schema.NORMALISED}
            selects = {
                table: select
                for table in schema.NORMALISED
                if (select := _with_frozen(lake, table, fresh.get(table), frozen[table]))
            }
            if pseudonymiser is not None:
                # this platform's display names, which a link card's title must not spell
                names = f"SELECT DISTINCT pseudonym_title_key(display_name) FROM ({selects['accounts']})" \
                    if "accounts" in selects else "SELECT NULL WHERE false"
                con.execute(f"CREATE OR REPLACE TEMP TABLE pseudonym_names AS SELECT * FROM ({names}) AS t(name) "
                            "WHERE name IS NOT NULL")
                selects = {t: _pseudonymised_select(t, s) for t, s in selects.items()}
            tables: dict[str, Any] = {}
            for table in schema.NORMALISED:
                if table not in selects:
                    continue
                final = lake.normalised_path(table, platform, generation)
                rows = _copy_to_lake(con, lake, selects[table], final)
                counts[table] += rows
                tables[table] = {"files": [lake.relative(final)], "rows": rows}
            if tables:
                # what the generation covers: an incremental normalise starts from this
                entries[platform] = {
                    "tables": tables,
                    "raw_files": [lake.relative(f) for f in files],
                    "frozen_files": sorted(lake.relative(f) for f in frozen.values() if lake.exists(f)),
                }
    finally:
        con.close()
    pseudonymised = pseudonymiser is not None
    if platform_names is not None and previous is not None:  # platforms not rebuilt keep their tables
        entries = {**{p: e for p, e in previous["platforms"].items() if p not in set(platform_names)}, **entries}
    manifest = {
        "format": 1,
        "generation": generation,
        "published_at": datetime.now(UTC).isoformat(),
        "pseudonymised": pseudonymised,
        "platforms": dict(sorted(entries.items())),
    }
    # files written without pseudonymisation must not linger beside pseudonymised ones (or back)
    same_privacy = previous is None or previous.get("pseudonymised", False) == pseudonymised
    lake.publish_normalised(manifest, keep_previous=keep_previous and same_privacy)
    return counts


def map_records(platform: str, records: Iterable[RawRecord], source: str = "test") -> dict[str, pa.Table]:
    """Normalise raw records in memory (for connector tests and notebooks): table name -> Arrow table."""
    from datetime import UTC, datetime

    rows = [
        {
            "platform": platform,
            "source": source,
            "record_type": r.record_type,
            "record_id": r.record_id,
            "origin": r.origin,
            "payload": r.payload,
            "locator": r.locator,
            "fetched_at": datetime(2026, 1, 1, tzinfo=UTC),
            "run_id": "test-run",
        }
        for r in records
    ]
    con = new_connection()
    try:
        con.register("raw_input", pa.Table.from_pylist(rows, schema=schema.RAW))
        selects = _build_platform_tables(con, platform, "SELECT * FROM raw_input")
        out: dict[str, pa.Table] = {t: s.empty_table() for t, s in schema.NORMALISED.items()}
        for table, select in selects.items():
            result = con.sql(select).to_arrow_table()
            target = schema.NORMALISED[table]
            out[table] = result.cast(target) if result.num_rows else target.empty_table()
        return out
    finally:
        con.close()


__all__ = ["html_to_text_one", "map_records", "normalise_lake", "normalise_url_one", "registered_domain_one"]
