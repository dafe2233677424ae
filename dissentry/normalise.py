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
4. Each table is written to `normalised/<generation>/<table>/<platform>/data.parquet`; the
   generation is published whole, by one manifest write, when every platform's tables are written.

Incremental by default (`normalise_lake`): a platform with no new raw keeps its published files;
one whose mapping is per-record (`-- incremental: per-record`) and has only new raw files is
extended from them alone, superseded rows replaced. One whose mapping looks values up across
records (`-- incremental: lookups ...`, Mastodon) is extended too: the new lookups are merged with
the kept ones and the posts that read a changed key are mapped again from raw. Anything else
(retention, forget, an upgrade, a mapping with neither line, `--full`) rebuilds the platform. Tests
prove the two equal, table by table (tests/integration/test_incremental.py,
tests/integration/test_incremental_mastodon.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from detrack import DEFAULT_PATTERNS as DETRACK_PATTERNS
from detrack import PREFIXES as DETRACK_PREFIXES

from dissentry import build_progress, resources
from dissentry.connectors.base import RawRecord
from dissentry.connectors.identity import canonical_handle, canonical_host, clean_text
from dissentry.connectors.registry import get_connector, platforms
from dissentry.privacy import Pseudonymiser, title_key
from dissentry.warehouse import schema
from dissentry.warehouse.catalog import connect
from dissentry.warehouse.lake import Lake, new_run_id
from dissentry.warehouse.sql import literal_list, quote_identifier, quote_literal

TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|igsh|ref_src|ref_url|_hsenc|_hsmi|yclid|s_cid|"
    r"wt\.mc_id|wt_[a-z_]+|cmpid|si|spm)$",
    re.IGNORECASE,
)
# detrack's maintained list (345 names of 20+ trackers, 19 prefixes such as `mtm_`, `pk_`), except the
# generic names it also strips that name content on ordinary sites (`?pid=12`, `?next=`, `?ref=v2`,
# `?source=`, `?r=`): removing those would make two different pages one link
_NOT_TRACKING = frozenset({
    "_", "cache", "cb", "context", "email", "next", "nd", "nocache", "origin", "pid", "r", "rand", "random",
    "recipient", "ref", "sid", "social", "source", "timestamp", "ts", "_t",
})
_TRACKING_NAMES = frozenset(p.lower() for p in DETRACK_PATTERNS) - _NOT_TRACKING
_TRACKING_PREFIXES = tuple(p.lower() for p in DETRACK_PREFIXES)


def is_tracking_param(name: str) -> bool:
    """`utm_source`, `fbclid`, heise's `wt_mc`, Matomo's `mtm_campaign`, ...: a parameter that
    says who sent the reader, not which page they read."""
    lowered = name.lower()
    return (lowered in _TRACKING_NAMES or lowered.startswith(_TRACKING_PREFIXES)
            or TRACKING_PARAMS.match(name) is not None)


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


# Most Mastodon HTML is a few <p>, <br>, <a> and <span> tags around text with the five entities
# Mastodon escapes. For that shape (and only that), DuckDB SQL gives what selectolax gives, set-wise:
# no tag's attribute holds '<', '>' or '"', so `<[^>]*>` removes exactly the tags, and the parser
# keeps every other character, in document order. What the parser rewrites, or Python's strip()
# and `\s` treat otherwise than RE2 (CR, NUL and the other controls, the non-ASCII spaces, a BOM,
# non-characters), sends a value to selectolax instead, as does every other tag, entity or stray
# '<' or '&'. tests/unit/test_html_to_text_sql.py holds the two equal.
_HTML_TEXT_CHAR = (r"[^<&\x00-\x08\x0b-\x1f\x7f-\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
                   r"\x{205f}\x{3000}\x{fdd0}-\x{fdef}\x{feff}\x{fffe}\x{ffff}]")
_HTML_SIMPLE = (rf"(?:{_HTML_TEXT_CHAR}|<(?:p|a|span|br)(?:[\t\n\f ]+[a-z][a-z0-9-]*=\"[^\"<>]*\")*[\t\n\f ]*/?>"
                r"|</(?:p|a|span)>|&(?:amp|lt|gt|quot|#39);)*")
# the steps of html_to_text_one, in its order: <br>, then paragraph breaks, then the text, stripped
_HTML_TO_TEXT_MACRO = f"""
CREATE OR REPLACE MACRO html_to_text(h) AS CASE
    WHEN h IS NULL THEN NULL
    WHEN NOT contains(h, '<') AND NOT contains(h, '&') THEN h
    WHEN regexp_full_match(h, {quote_literal(_HTML_SIMPLE)}) THEN trim(
        replace(replace(replace(replace(replace(
            regexp_replace(regexp_replace(regexp_replace(
                h, {quote_literal(_BR.pattern)}, chr(10), 'g'),
                {quote_literal(_PARAGRAPH.pattern)}, chr(10) || chr(10), 'g'),
                '<[^>]*>', '', 'g'),
            '&lt;', '<'), '&gt;', '>'), '&quot;', '"'), '&#39;', ''''), '&amp;', '&'),
        ' ' || chr(9) || chr(10) || chr(12))
    ELSE html_to_text_lexbor(h)
END"""


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
    query = urlencode([(k, v) for k, v in params if not is_tracking_param(k)])
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
    return _registered_domain_of_host(host)


@lru_cache(maxsize=1 << 15)
def _registered_domain_of_host(host: str) -> str | None:
    # a few thousand hosts under tens of thousands of distinct URLs: the suffix lookup once per host
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


_MEMO_ENTRIES = 1 << 15
"""Distinct short values remembered across batches per function (cleared when full: bounded)."""
_MEMO_KEY_CHARS = 512
"""Longer values (a post's HTML, mostly unique) are not remembered: they would only cost memory."""


def _vectorised(fn: Callable[[str | None], str | None]) -> Callable[[pa.Array], pa.Array]:
    """`fn` over an Arrow batch, called once per distinct value rather than once per row.

    The batch is dictionary-encoded, `fn` maps the dictionary, and `take` spreads the results back
    over the rows; short values are also remembered across batches (links and domains repeat across
    the whole lake). `fn` is pure (registered with side_effects=False), so the result is the same."""
    memo: dict[str, str | None] = {}
    null_result: list[str | None] = []  # fn(None), computed once

    def one(value: str) -> str | None:
        if len(value) > _MEMO_KEY_CHARS:
            return fn(value)
        try:
            return memo[value]
        except KeyError:
            pass
        if len(memo) >= _MEMO_ENTRIES:
            memo.clear()
        result = memo[value] = fn(value)
        return result

    def apply(values: pa.Array) -> pa.Array:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if len(values) == 0:
            return pa.array([], type=pa.string())
        encoded = pc.dictionary_encode(values)  # nulls stay null indices
        mapped = pa.array([one(v) for v in encoded.dictionary.to_pylist()], type=pa.string())
        out = mapped.take(encoded.indices)
        if values.null_count:
            if not null_result:
                null_result.append(fn(None))
            if null_result[0] is not None:
                out = pc.fill_null(out, null_result[0])
        return out

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
        ("html_to_text_lexbor", html_to_text_one),
        ("normalise_url", normalise_url_one),
        ("registered_domain", registered_domain_one),
        ("canonical_host", lambda v: None if v is None else canonical_host(v)),
        # NFKC without invisible characters: a name or handle spelled with look-alikes is one spelling
        ("clean_text", lambda v: None if v is None else clean_text(v)),
    ):
        _register(con, name, fn)
    # html_to_text: SQL for the common shape, selectolax (html_to_text_lexbor) for the rest
    con.execute(_HTML_TO_TEXT_MACRO)
    # `acct`, or `acct@host` for a local one, in the one spelling of connectors/identity.py
    con.create_function(
        "account_handle", _account_handles, ["VARCHAR", "VARCHAR"], "VARCHAR", type="arrow",
        null_handling="special", side_effects=False,
    )


def _account_handle_one(acct: str | None, host: str | None) -> str | None:
    if acct is None or not acct.strip("@ \t"):
        return None
    handle = canonical_handle(acct)
    return handle if "@" in handle or not host else canonical_handle(f"{handle}@{host}")


_HANDLE_MEMO: dict[tuple[str | None, str | None], str | None] = {}


def _account_handles(accts: pa.Array, hosts: pa.Array) -> pa.Array:
    # a few thousand accounts appear in millions of rows: each (acct, host) is spelt once
    memo = _HANDLE_MEMO
    if len(memo) >= _MEMO_ENTRIES:
        memo.clear()
    out = []
    for pair in zip(accts.to_pylist(), hosts.to_pylist(), strict=True):
        try:
            out.append(memo[pair])
        except KeyError:
            out.append(memo.setdefault(pair, _account_handle_one(*pair)))
    return pa.array(out, type=pa.string())


MAPPED_TABLES = ("posts", "accounts", "org_articles")
"""What a mapping.sql may define (`-- name: <table>`); each is optional."""
LOOKUPS = "lookups"
"""A mapping's optional query of values looked up across records: (lookup, key, value, fetched_at)."""
_POSTS_OVER_LOOKUPS = "posts over lookups"
"""The posts query as written, reading the relation `lookups` (the engine's resolved table)."""
# latest fetch of each key wins; a tie goes to the greatest value, so a rebuild picks the same one.
# Each (key, value) is first reduced to its latest fetch: the same winner (the latest fetch of the
# winning value is the latest of all), and the window sorts a few rows per key, not every mention
_RESOLVED_LOOKUPS = ("SELECT lookup, key, value, fetched_at FROM ("
                     "SELECT lookup, key, value, max(fetched_at) AS fetched_at FROM ({rows}\n) "
                     "WHERE lookup IS NOT NULL AND key IS NOT NULL AND value IS NOT NULL GROUP BY lookup, key, value) "
                     "QUALIFY row_number() OVER (PARTITION BY lookup, key ORDER BY fetched_at DESC, value DESC) = 1")


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
    unknown = set(sql) - {*MAPPED_TABLES, LOOKUPS}
    if unknown or not set(sql) & set(MAPPED_TABLES):
        raise ValueError(
            f"{path}: a mapping holds named queries for {', '.join(MAPPED_TABLES)} (and {LOOKUPS}); "
            f"found {sorted(sql) or 'none'}"
        )
    if LOOKUPS in sql and "posts" in sql:
        # `posts` stays one query that binds on `raw` alone (forget and the ingest guard run it so);
        # normalise resolves the lookups once into a table and runs the query as written over it
        sql[_POSTS_OVER_LOOKUPS] = sql["posts"]
        sql["posts"] = (f"WITH lookups AS MATERIALIZED ({_RESOLVED_LOOKUPS.format(rows=sql[LOOKUPS])}) "
                        f"SELECT * FROM ({sql['posts']})")
    return sql


# ---- the set-wise steps --------------------------------------------------------------------------
_RAW_VERSIONS = """
CREATE OR REPLACE TEMP TABLE raw_versions AS
SELECT platform, source, record_type, record_id, origin, payload, locator, fetched_at, run_id
FROM ({raw_sql})
QUALIFY row_number() OVER (
    PARTITION BY platform, record_type, record_id, origin, payload
    ORDER BY fetched_at, run_id, locator
) = 1
"""
# (partitioning by the payload itself, not md5(payload): the same versions, without a second hash
# pass over every payload; about half the CPU of this step at 100k records)
_RAW_KEYS_UNIQUE = """
SELECT count(*) = 0 FROM (
    SELECT 1 FROM ({raw_sql}) GROUP BY platform, record_type, record_id, origin HAVING count(*) > 1
)
"""


def _drop_temp(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop the temp view or table `name` of an earlier run on this connection, whichever it is."""
    for kind, catalog, column in (("VIEW", "duckdb_views()", "view_name"), ("TABLE", "duckdb_tables()", "table_name")):
        if con.execute(f"SELECT count(*) FROM {catalog} WHERE {column} = ? AND temporary", [name]).fetchone()[0]:
            con.execute(f"DROP {kind} {quote_identifier(name)}")


def _drop_raw(con: duckdb.DuckDBPyConnection) -> None:
    _drop_temp(con, "raw")
    _drop_temp(con, "raw_versions")


def _create_raw_versions(con: duckdb.DuckDBPyConnection, raw_sql: str) -> bool:
    """The temp view `raw` of the versions (see _RAW_VERSIONS) of the raw rows `raw_sql` selects;
    True when it is a view over `raw_sql` (no record fetched twice), False when it is one over the
    temp table `raw_versions`."""
    # no record fetched twice (a first import, a fresh increment): every row is its own version, and
    # the window that sorts every payload finds nothing to drop. Telling so reads four short columns.
    # A view then, not a table: each mapping query scans the (compressed) raw Parquet again rather
    # than the build holding every payload in memory, which at 1M statuses (2.1 GB of JSON) spilled
    # past the spill cap. With versions to drop, the window's table is kept.
    _drop_raw(con)
    if con.execute(_RAW_KEYS_UNIQUE.format(raw_sql=raw_sql)).fetchone()[0]:
        con.execute(f"CREATE TEMP VIEW raw AS SELECT {_RAW_COLUMNS} FROM ({raw_sql})")
        return True
    con.execute(_RAW_VERSIONS.format(raw_sql=raw_sql))
    con.execute(f"CREATE TEMP VIEW raw AS {_WHOLE_RAW_VERSIONS}")
    return False


_RAW_COLUMNS = "platform, source, record_type, record_id, origin, payload, locator, fetched_at, run_id"
_CHUNK_MEMORY_SHARE = 16
"""A piece of the posts mapping reads raw payloads of at most 1/16 of DuckDB's memory limit: the
Mastodon mapping holds about 4x its payload bytes at once (each record's parsed STRUCT in its
materialised CTE), so a piece peaks near a quarter of the limit, beside the mapped rows kept so far."""
_MIN_CHUNK_BYTES = 16 << 20
"""A tiny memory limit (the disk-full tests) still maps a few thousand records per statement."""


def _raw_reader(files: list[str], *, row_numbers: bool = False) -> str:
    """The raw files as one relation with each row's `filename` (and `file_row_number`)."""
    return (f"read_parquet({literal_list(files)}, hive_partitioning = false, union_by_name = true, filename = true"
            + (", file_row_number = true)" if row_numbers else ")"))


def _raw_chunks(con: duckdb.DuckDBPyConnection, raw_is_view: bool, raw_files: list[str] | None, *,
                columns: str = _RAW_COLUMNS, reader: str | None = None) -> list[str]:
    """SELECTs that split `raw` into pieces of bounded payload bytes, each a relation shaped as `raw`.

    Only for a mapping whose every posts row is a function of one record (and the resolved lookups):
    its rows over the pieces are its rows over the whole. The pieces are whole raw files when `raw`
    is a view over `raw_files` (read through the same view, so with the same column types; DuckDB
    reads only the files a `filename` filter names), and ranges of row ids when `raw` is a table.
    One piece, `raw` itself, when it is small or its files are unknown. `columns` and `reader` are
    those of the view `raw` when it is not the plain one (forget's traced rows)."""
    limit = con.execute("SELECT value FROM duckdb_settings() WHERE name = 'memory_limit'").fetchone()
    try:
        budget = max(_MIN_CHUNK_BYTES, resources.parse_size(str(limit[0])) // _CHUNK_MEMORY_SHARE)
    except (TypeError, ValueError):  # no limit DuckDB can spell as a size: one piece
        return [_WHOLE_RAW]
    if not raw_is_view:
        rows, size = con.execute(
            "SELECT count(*), coalesce(sum(strlen(payload)), 0) FROM temp.main.raw_versions").fetchone()
        if size <= budget:
            return [_WHOLE_RAW]
        step = max(1, rows * budget // size)  # rows per piece at the table's mean payload
        # the table was written by one CREATE ... AS: its row ids are 0 .. rows - 1
        return [f"{_WHOLE_RAW_VERSIONS} WHERE rowid >= {low} AND rowid < {low + step}"
                for low in range(0, rows, step)]
    if not raw_files:
        return [_WHOLE_RAW]
    reader = reader or _raw_reader(raw_files)
    # the names as the `filename` filter will see them, so every row is in exactly one piece; the
    # payload bytes from the files' footers (uncompressed), spread evenly over their rows
    counts = con.execute(f"SELECT filename, count(*) FROM {reader} GROUP BY filename ORDER BY filename").fetchall()
    payload = con.execute(f"SELECT coalesce(sum(total_uncompressed_size), 0) FROM parquet_metadata("
                          f"{literal_list(raw_files)}) WHERE path_in_schema = 'payload'").fetchone()[0]
    rows = sum(n for _, n in counts)
    groups: list[list[str]] = [[]]
    held = 0
    for name, n in counts:
        size = n * int(payload) // max(rows, 1)
        if groups[-1] and held + size > budget:
            groups.append([])
            held = 0
        groups[-1].append(name)
        held += size
    if len(groups) == 1:
        return [_WHOLE_RAW]
    return [f"SELECT {columns} FROM {reader} WHERE filename IN ({', '.join(quote_literal(n) for n in g)})"
            for g in groups]


_WHOLE_RAW = "SELECT * FROM temp.main.raw"
_WHOLE_RAW_VERSIONS = "SELECT * FROM temp.main.raw_versions"
_TRACE_BASE = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"
_TRACE_FILE_SHIFT = 1 << 32
"""A traced row's fetched_at: the base plus (file index * 2^32 + row in file) microseconds."""


class MappingRun:
    """One run of a platform's mapping over raw, in temp relations of `con`: the one way normalise,
    raw retention (freeze_raw) and forget map raw (issue 12: forget re-ran the mapping by hand,
    over every payload held in one table).

    `load` makes `raw` the versions of the raw rows (normalise, retention); `load_traced` makes it
    every raw row of the files, each with a unique `fetched_at` that says which file and row it is
    (forget). Either way `pieces` splits `raw` into pieces of bounded payload bytes when the
    mapping is per-record (see _raw_chunks), `resolve_lookups` resolves the lookups across records
    over the whole of `raw`, and `map_into` runs a query a piece at a time into a temp table."""

    def __init__(self, con: duckdb.DuckDBPyConnection, platform: str) -> None:
        self.con = con
        self.platform = platform
        path = get_connector(platform).mapping_file
        self.mapping = read_mapping(path)
        self.per_record = incremental_kind(path.read_text(encoding="utf-8")) is not None
        self.raw_is_view = False
        self.pieces = [_WHOLE_RAW]
        self.traced_files: list[str] = []  # a traced run's file index -> file name

    @property
    def posts_sql(self) -> str | None:
        """The posts query, reading the temp table `lookups` when the mapping has lookups."""
        return self.mapping.get(_POSTS_OVER_LOOKUPS, self.mapping.get("posts"))

    def load(self, raw: str | list[str]) -> None:
        """`raw` as the versions of the rows a SELECT gives, or of the raw files listed (which lets
        the posts be mapped a few files at a time)."""
        raw_files = raw if isinstance(raw, list) else None
        self.raw_is_view = _create_raw_versions(self.con, _raw_files_sql(raw) if raw_files is not None else str(raw))
        self.pieces = (_raw_chunks(self.con, self.raw_is_view, raw_files) if self.per_record else [_WHOLE_RAW])

    def load_traced(self, files: list[str]) -> None:
        """`raw` as every row of `files` (no version dropped: forget removes every copy), each with
        a unique fetched_at (`trace`): what a mapped row's fetched_at is says which raw row made it.
        A view: no payload is held, each piece reads its files again."""
        reader = _raw_reader(files, row_numbers=True)
        self.traced_files = [r[0] for r in self.con.execute(
            f"SELECT DISTINCT filename FROM {reader} ORDER BY filename").fetchall()]
        trace = (f"{_TRACE_BASE} + to_microseconds((list_position({literal_list(self.traced_files)}, filename) - 1) "
                 f"* {_TRACE_FILE_SHIFT} + file_row_number) AS fetched_at")
        columns = _RAW_COLUMNS.replace("fetched_at", trace)
        _drop_raw(self.con)
        self.con.execute(f"CREATE TEMP VIEW raw AS SELECT {columns} FROM {reader}")
        self.raw_is_view = True
        self.pieces = (_raw_chunks(self.con, True, files, columns=columns, reader=reader) if self.per_record
                       else [_WHOLE_RAW])

    def traced_rows(self, traces: str) -> list[tuple[str, int]]:
        """(file, row in file) of each trace the SELECT `traces` gives (one TIMESTAMPTZ column)."""
        rows = self.con.execute(
            f"SELECT DISTINCT (epoch_us(t) - epoch_us({_TRACE_BASE})) // {_TRACE_FILE_SHIFT}, "
            f"(epoch_us(t) - epoch_us({_TRACE_BASE})) % {_TRACE_FILE_SHIFT} FROM ({traces}) AS s(t) "
            "WHERE t IS NOT NULL ORDER BY 1, 2").fetchall()
        return [(self.traced_files[int(i)], int(n)) for i, n in rows]

    def resolve_lookups(self, scratch: Path | None = None) -> None:
        """The temp table `lookups`: latest fetch of each key, over the whole of `raw`. With
        `scratch`, the rows offered for each key are gathered a piece of raw at a time into Parquet
        there first: in one statement the query's CTEs held every record's parsed fields, which
        spilled 980 MiB with 480 MB of memory at 1M statuses."""
        if LOOKUPS in self.mapping:
            rows = self.mapping[LOOKUPS]
            if scratch is not None:
                offered = self.map_into("lookup_rows", rows, scratch=scratch)
                rows = f"SELECT * FROM read_parquet({literal_list(offered)})"
            self.con.execute("CREATE OR REPLACE TEMP TABLE lookups AS " + _RESOLVED_LOOKUPS.format(rows=rows))
            _step(self.con, self.platform, "lookups", "lookups")

    def map_into(self, table: str, query: str, select: str | None = None, label: str | None = None,
                 scratch: Path | None = None) -> list[str]:
        """The rows `query` maps from `raw`, a piece of raw at a time, as the temp relation `table`:
        all of them, or `SELECT <select>` where `{m}` in `select` stands for them (forget keeps a
        column of a few rows). For a per-record mapping the pieces' rows are the whole's.

        With `scratch`, each piece's rows go to a zstd Parquet file in that folder and `table` is a
        view over the files (returned): held as a temp table (text and lists, uncompressed), the
        candidate post rows were the likely holder of the spill that stopped normalise at 10M
        statuses; without, a temp table."""
        files: list[str] = []
        # each piece is the view `raw` while the query runs over it (no piece reads `raw` itself),
        # and the whole is again after: a CTE `raw` shadowing the view made the Mastodon lookups
        # 3x slower (2.7 s a piece against 0.9 s)
        whole = self.con.execute(
            "SELECT sql FROM duckdb_views() WHERE view_name = 'raw' AND temporary").fetchone()[0]
        try:
            for i, piece in enumerate(self.pieces):
                if i and label:  # a long mapping says how far it is
                    _step(self.con, self.platform, f"{label}, piece {i + 1} of {len(self.pieces)}", None)
                if len(self.pieces) > 1:
                    self.con.execute(f"CREATE OR REPLACE TEMP VIEW raw AS {piece}")
                rows = query
                # (a newline before each closing parenthesis: a mapping's query may end in a comment)
                if select is not None:
                    rows = "SELECT " + select.replace("{m}", f"({rows}\n) AS m")
                if scratch is not None:
                    files.append((scratch / f"{table}-{i:05d}.parquet").as_posix())
                    self.con.execute(
                        f"COPY ({rows}\n) TO {quote_literal(files[-1])} (FORMAT parquet, COMPRESSION zstd)")
                else:
                    self.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {rows}" if i == 0
                                     else f"INSERT INTO {table} {rows}")
        finally:
            if len(self.pieces) > 1:
                _drop_temp(self.con, "raw")
                self.con.execute(whole)
        if scratch is not None:
            _drop_temp(self.con, table)
            self.con.execute(f"CREATE TEMP VIEW {table} AS SELECT * FROM read_parquet({literal_list(files)})")
        return files


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
    cols = ", ".join(f"{rewrites[n]} AS {quote_identifier(n)}" if n in rewrites else quote_identifier(n)
                     for n in schema.NORMALISED[table].names)
    return f"SELECT {cols} FROM ({select})"


def _cast_select(table_schema: pa.Schema, relation: str) -> str:
    con = duckdb.connect()
    con.register("s", table_schema.empty_table())
    types = dict((row[0], row[1]) for row in con.execute("DESCRIBE s").fetchall())
    con.close()
    cols = ", ".join(f"CAST({quote_identifier(n)} AS {types[n]}) AS {quote_identifier(n)}" for n in table_schema.names)
    return f"SELECT {cols} FROM {relation}"


def _step(con: duckdb.DuckDBPyConnection, platform: str, step: str, temp_table: str | None) -> None:
    """Report a step starting (no table) or done (the rows of its temp table), if anyone listens."""
    if build_progress.active():
        rows = int(con.execute(f"SELECT count(*) FROM {temp_table}").fetchone()[0]) if temp_table else None
        build_progress.report("normalise", platform, step, rows)


def _place(alias: str = "") -> str:
    """A row's place among the files read_parquet reads: file index and row (2^40 rows a file at most)."""
    return f"{alias}file_index::BIGINT * 1099511627776 + {alias}file_row_number"


def _build_platform_tables(con: duckdb.DuckDBPyConnection, platform: str, raw_sql: str | list[str], *,
                           scratch: Path, lookups_ready: bool = False, keep_posts: str | None = None) -> dict[str, str]:
    """Create temp relations for one platform; return table name -> SELECT producing it.

    `raw_sql` selects the raw rows, or is the list of raw files to read (which lets a large build
    map its posts a few files at a time). A mapping with lookups reads the temp table `lookups`,
    resolved here from `raw` unless `lookups_ready` (an increment has merged it with the kept
    state). `keep_posts`, a predicate on the winning post rows, keeps only the posts an increment
    re-maps. The post rows are Parquet files in `scratch` (see `scratch_folder`), which the SELECTs
    read: what an earlier build left there goes first."""
    for name in ("posts_latest", "mapped_posts", "mapped_account_rows", "lookup_rows"):
        _drop_temp(con, name)
    for old in scratch.iterdir():
        old.unlink()
    run = MappingRun(con, platform)
    mapping = run.mapping
    _step(con, platform, "raw versions", None)
    run.load(raw_sql)
    _step(con, platform, "raw versions", "raw")
    if not lookups_ready:
        run.resolve_lookups(scratch)
    tables: dict[str, str] = {}
    if "accounts" in mapping:
        # only each account's best row is kept (every use of the table picks it, or only reads ids): a
        # status embeds its author, so the mapping gives one row per status (1.2M rows for 54 accounts
        # at 1M statuses). Those rows wait in Parquet (a piece of raw at a time), and the window picks
        # each account's best row by its place from the few columns it orders by: sorting the wide
        # rows (bios) of every copy spilled past the cap with 480 MB of memory at 1M statuses.
        copies = run.map_into("mapped_account_rows", f"SELECT * FROM ({mapping['accounts']}\n) "
                              "WHERE coalesce(sha256(account_id), '') NOT IN (SELECT key FROM erased_keys)",  # forget
                              scratch=scratch)
        rows = f"read_parquet({literal_list(copies)})"
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE mapped_accounts AS
            SELECT m.* FROM {rows} AS m SEMI JOIN (
                SELECT {_place()} AS place FROM {rows}
                QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY detail DESC, fetched_at DESC, handle) = 1
            ) AS w ON {_place("m.")} = w.place""")
        _step(con, platform, "mapping accounts", "mapped_accounts")
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
    _step(con, platform, "mapping posts", None)
    # A mapping whose posts rows each come from one record (and the resolved lookups) is run over
    # `raw` a piece at a time: the Mastodon query holds every record's parsed STRUCT in the CTEs it
    # reads twice (about 13 KiB a status), which at 1M statuses spilled past the spill cap.
    mapped = run.map_into("mapped_posts", str(run.posts_sql), label="mapping posts", scratch=scratch)
    _step(con, platform, "mapping posts", "mapped_posts")
    # a row with no post id is no post: nothing could join it, and `IN (... NULL)` would hide the
    # frozen and published rows it is compared with (NULL, never false). Nor is a row with no
    # readable date (raw an older import kept: the connectors quarantine such records now): every
    # canonical post has a created_at, which the transforms' periods need. Both are dropped here, not
    # in the mapping, because forget and the ingest guard find a person's raw rows through the
    # mapping's posts, and a record the mapping hid would keep their words in raw. The window picks the
    # winners' places (file, row) from the few columns it orders by; the wide rows (text, lists) are
    # read once, by place, rather than sorted along with them, and written to one more file
    candidates = f"read_parquet({literal_list(mapped)})"
    latest = (scratch / "posts_latest.parquet").as_posix()
    con.execute(
        f"""
        COPY (
            SELECT m.* FROM {candidates} AS m SEMI JOIN (
                SELECT {_place()} AS place FROM {candidates}
                WHERE post_id IS NOT NULL AND created_at IS NOT NULL
                  AND coalesce(sha256(author_id), '') NOT IN (SELECT key FROM erased_keys)
                QUALIFY row_number() OVER (
                    PARTITION BY post_id ORDER BY fetched_at DESC, version_rank_key DESC, run_id DESC
                ) = 1
            ) AS w ON {_place("m.")} = w.place
            WHERE ({keep_posts or 'true'})
        ) TO {quote_literal(latest)} (FORMAT parquet, COMPRESSION zstd)
        """
    )
    con.execute(f"CREATE TEMP VIEW posts_latest AS SELECT * FROM read_parquet({quote_literal(latest)})")
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


@contextlib.contextmanager
def scratch_folder(lake: Lake | None) -> Iterator[Path]:
    """A folder for one normalise's intermediate Parquet (a platform's lookup rows, account copies,
    candidate and winning posts), deleted after: in the lake's spill folder (local, counted with the spill), else in the
    system's temp folder. What a killed normalise left there (its process is gone) goes first."""
    parent = lake.spill_dir if lake is not None else None
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
        for old in parent.glob("mapped-*"):
            pid = old.name.split("-")[1]
            if pid.isdigit() and not _process_alive(int(pid)):
                shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.gettempdir() if parent is None else parent) / f"mapped-{os.getpid()}-{new_run_id()}"
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def new_connection(
    temp_dir: Path | None = None, pseudonymiser: Pseudonymiser | None = None, *, lake: Lake | None = None
) -> duckdb.DuckDBPyConnection:
    """A connection with the mapping helpers; with `lake`, it reads the lake and spills beside it."""
    con = connect(lake=lake)
    if temp_dir is None and lake is not None:
        temp_dir = lake.spill_dir
    # DuckDB spills to disk past its memory limit, so a lake larger than memory still normalises;
    # memory, threads and the spill cap come from `[settings.resources]` (dissentry/resources.py)
    resources.apply(con, spill_dir=temp_dir, lake=lake)
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
    # a temp table, not a registered Arrow table: registering one imports pandas (0.3 s a run)
    con.execute("CREATE OR REPLACE TEMP TABLE erased_keys AS SELECT unnest(?::VARCHAR[]) AS key", [keys])


def _raw_files_sql(files: list[str]) -> str:
    return f"SELECT * FROM read_parquet({literal_list(files)}, hive_partitioning = false, union_by_name = true)"


# rows of the frozen layer (normalised rows kept after their raw files expired) give way to rows
# built from raw: the raw is newer. The SQL says which frozen rows a fresh build replaces.
# (NULL-safe: one NULL key among the fresh rows must not make `NOT (x IN ...)` NULL for every row)
_REPLACED_BY_FRESH = {
    "posts": "coalesce(post_id IN (SELECT post_id FROM posts_latest), false)",
    "post_links": "coalesce(post_id IN (SELECT post_id FROM posts_latest), false)",
    "post_mentions": "coalesce(post_id IN (SELECT post_id FROM posts_latest), false)",
    "post_hashtags": "coalesce(post_id IN (SELECT post_id FROM posts_latest), false)",
    "accounts": "coalesce(account_id IN (SELECT account_id FROM mapped_accounts WHERE account_id IS NOT NULL), false)",
    "org_articles": "coalesce((group_id, url) IN (SELECT (group_id, normalise_url(url)) FROM mapped_articles "
                    "WHERE group_id IS NOT NULL AND url IS NOT NULL), false)",
}


def _with_frozen(lake: Lake, table: str, fresh: str | None, frozen: str) -> str | None:
    """The fresh rows plus the frozen rows they do not replace (either may be missing)."""
    if not lake.exists(frozen):
        return fresh
    kept = f"SELECT * FROM read_parquet({quote_literal(frozen)}, hive_partitioning = false)"
    if fresh is None:
        return kept
    return f"SELECT * FROM ({fresh}) UNION ALL ({kept} WHERE NOT ({_REPLACED_BY_FRESH[table]}))"


def freeze_raw(lake: Lake, platform: str, files: list[str], generation: str) -> dict[str, int]:
    """Map `files` and write their canonical rows, with the published frozen rows they do not
    replace, into the frozen `generation` (which dissentry/retention.py publishes whole), so the
    files can be deleted (raw retention) while their normalised rows stay. Under the build lock."""
    counts: dict[str, int] = {}
    con = new_connection(lake=lake)
    use_erased_keys(con, lake.erased_account_keys())
    try:
        with scratch_folder(lake) as scratch:
            selects = _build_platform_tables(con, platform, list(files), scratch=scratch)
            for table in schema.NORMALISED:
                select = _with_frozen(lake, table, selects.get(table), lake.frozen_path(table, platform))
                if select is None:
                    continue
                counts[table] = _copy_to_lake(con, lake, select, lake.frozen_path(table, platform, generation))
    finally:
        con.close()
    return counts


def _copy_to_lake(con: duckdb.DuckDBPyConnection, lake: Lake, select: str, final: str) -> int:
    """Write a query's rows to one lake file, whole or not at all; return the row count."""
    with lake.staged(final) as tmp:
        con.execute(f"COPY ({select}) TO {quote_literal(tmp.as_posix())} (FORMAT parquet, COMPRESSION zstd)")
        rows = pq.ParquetFile(tmp).metadata.num_rows
    if build_progress.active():  # the path says which table of which platform (…/<table>/[platform=]P/…)
        found = re.search(r"([^/]+)/(?:platform=)?([^/=]+)/[^/]*$", final)
        table, platform = found.groups() if found else (lake.relative(final), None)
        build_progress.report("normalise", platform, f"{table} written", rows)
    return rows


PART_ROWS = 65_536
"""Rows per file of a normalised table (one row group each). Rows are written in key order, and
Mastodon and Bluesky ids grow with time, so the posts an increment replaces (a reblog's original,
an edit: mostly recent) sit in the last few files: an increment rewrites those and links the rest."""


def _copy_parts(con: duckdb.DuckDBPyConnection, lake: Lake, select: str, final: str) -> list[tuple[str, int]]:
    """Write a query's rows, in its order, as files of PART_ROWS rows: `final` when they fit in
    one, else `<stem>-0000.parquet`, `<stem>-0001.parquet`, ... beside it. (path, rows) of each.

    The files go into a generation folder no reader follows until its manifest is published, and
    each lands whole (`Lake.staged`), so a kill leaves nothing a reader could trust half-written."""
    stem = final.removesuffix(".parquet")
    local = lake.local_dir / ".staging" if lake.remote else Path(final).parent
    local.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".copy-", suffix=".tmp", dir=local))
    try:
        con.execute(f"COPY ({select}) TO {quote_literal(folder.as_posix())} (FORMAT parquet, COMPRESSION zstd, "
                    f"ROW_GROUP_SIZE {PART_ROWS}, ROW_GROUPS_PER_FILE 1, FILENAME_PATTERN 'part-{{i}}')")
        written = sorted(folder.glob("part-*.parquet"), key=lambda f: int(f.stem.split("-")[1]))
        if not written:  # no row: one empty file still says the table has none
            return [(final, _copy_to_lake(con, lake, f"SELECT * FROM ({select}) LIMIT 0", final))]
        out = []
        for i, path in enumerate(written):
            target = final if len(written) == 1 else f"{stem}-{i:04d}.parquet"
            rows = pq.ParquetFile(path).metadata.num_rows
            with lake.staged(target) as tmp:
                shutil.move(path, tmp)
            out.append((target, rows))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if build_progress.active():
        found = re.search(r"([^/]+)/(?:platform=)?([^/=]+)/[^/]*$", final)
        table, platform = found.groups() if found else (lake.relative(final), None)
        build_progress.report("normalise", platform, f"{table} written", sum(rows for _, rows in out))
    return out


# ---- incremental normalisation ------------------------------------------------------------------
# A mapping says how its rows may be built record by record with one header line:
# `-- incremental: per-record`: every output row is a function of one raw record (no lookup across
#   records, no GROUP BY);
# `-- incremental: lookups NAME ...`: so is every row, except for values its `lookups` query
#   gathers across records (Mastodon: a reply's parent author, a ShallowQuote's author). The
#   resolved lookups (latest fetch of each key) and which post read which key (`reads`) are kept
#   as state; an increment merges the new raw's lookups into them and maps again, from raw, only
#   the posts that read a key whose value changed, beside the new raw's posts.
# A mapping with neither rebuilds the platform when it has new raw.
_INCREMENTAL = re.compile(r"^\s*--\s*incremental:\s*(per-record|lookups(?:\s+\w+)+)\s*$", re.MULTILINE)
# what the rows of a platform are a function of, besides its raw and frozen files: a change to any
# of these (an upgrade) rebuilds the platform, so an increment never mixes two versions' rows
_CODE_FILES = (Path(__file__), Path(schema.__file__), Path(canonical_handle.__code__.co_filename))
_ORDER = {"posts": "post_id", "accounts": "account_id", "post_links": "post_id, url",
          "post_mentions": "post_id, account_id", "post_hashtags": "post_id, tag", "org_articles": "group_id, url"}
_POST_TABLES = ("posts", "post_links", "post_mentions", "post_hashtags")
# the one account row per id among the mapped rows (as _build_platform_tables picks it), kept
# with `detail` as the increment's state: a full profile fetched long ago still beats a new embed
_BEST_ACCOUNTS = ("SELECT * FROM ({rows}) QUALIFY row_number() OVER ("
                  "PARTITION BY account_id ORDER BY detail DESC, fetched_at DESC, handle) = 1")
_NO_VERSIONS = ("SELECT NULL::VARCHAR AS record_type, NULL::VARCHAR AS record_id, NULL::VARCHAR AS origin, "
                "NULL::VARCHAR AS version WHERE false")
_NO_LOOKUPS = ("SELECT NULL::VARCHAR AS lookup, NULL::VARCHAR AS key, NULL::VARCHAR AS value, "
               "NULL::TIMESTAMPTZ AS fetched_at WHERE false")
# one row per mapped post row (every candidate version, not only the winner: a re-map must see
# them all) and lookup key it read; lookup and key are NULL for a row that read none, so the row
# still says which raw record (record_id, origin) the post can come from
_READS = """
SELECT DISTINCT post_id, raw_record_id AS record_id, raw_origin AS origin, r.lookup AS lookup, r.key AS key
FROM (SELECT post_id, raw_record_id, raw_origin,
             unnest(CASE WHEN len(lookup_reads) = 0 THEN [NULL] ELSE lookup_reads END) AS r
      FROM mapped_posts WHERE post_id IS NOT NULL AND {where})
"""
_NO_READS = ("SELECT NULL::VARCHAR AS post_id, NULL::VARCHAR AS record_id, NULL::VARCHAR AS origin, "
             "NULL::VARCHAR AS lookup, NULL::VARCHAR AS key WHERE false")


def incremental_kind(mapping_text: str) -> str | None:
    """"per-record", "lookups" or None (rebuild on new raw), as the mapping's header line says."""
    found = _INCREMENTAL.search(mapping_text)
    return None if found is None else found.group(1).split()[0]


def _state_file(lake: Lake, rel: str | list[str]) -> str:
    """A state's rows: one file (a full build's), or the parts increments appended to it."""
    return f"read_parquet({literal_list(lake.path(r) for r in _parts(rel))}, hive_partitioning = false)"


def _parts(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


# An increment writes only what is new: a table's new rows (and the rest of any part that held a
# replaced row) as one more part, and the parts it keeps are linked into the new generation
# unchanged; append-only state (versions, reads, lookups) gets one more part the same way. After
# this many parts a table or state is written whole again, so a reader opens a few files, and the
# rewrite's cost, spread over the increments it follows, stays a small share of each.
MAX_PARTS = 8


def _platform_state(lake: Lake, platform: str, erased: list[str]) -> dict[str, Any]:
    """What a published platform entry must match for its rows to be reused or extended."""
    code = hashlib.sha256()
    for path in (get_connector(platform).mapping_file, *_CODE_FILES):
        code.update(Path(path).read_bytes())
    frozen: dict[str, str] = {}
    for table in schema.NORMALISED:
        path = lake.frozen_path(table, platform)
        if lake.exists(path):  # forget rewrites a frozen file in place: its size or time changes
            info = lake.fs.info(path)
            frozen[lake.relative(path)] = f"{info.get('size')}:{info.get('mtime') or info.get('LastModified') or ''}"
    return {"code": code.hexdigest(), "erased": hashlib.sha256("\n".join(erased).encode()).hexdigest(),
            "frozen": frozen}


def _plan(previous: dict[str, Any] | None, raw: list[str], state: dict[str, Any]) -> tuple[str, list[str]]:
    """("keep" | "increment" | "full", the new raw files) for one platform."""
    known = (previous or {}).get("state", {})
    if previous is None or any(known.get(k) != state[k] for k in ("code", "erased", "frozen")):
        return "full", []
    covered = set(previous["raw_files"])
    if not covered <= set(raw):  # a covered file went (retention, a rewrite): rebuild
        return "full", []
    new = [f for f in raw if f not in covered]
    if not new:
        return "keep", []
    return ("increment" if "max_fetched_us" in known else "full"), new


def _write_increment_state(con: duckdb.DuckDBPyConnection, lake: Lake, platform: str, generation: str,
                           selects: dict[str, str | None], max_us: int) -> dict[str, Any]:
    """Write the increment state files of a platform just mapped (name -> SELECT; None: no file).

    They go into the generation's folder and are named by its manifest, so they are committed by
    the same write that publishes the tables they describe, never before those are durable."""
    files: dict[str, str | list[str]] = {}
    for name, select in selects.items():
        if select is not None:
            final = lake.normalised_state_path(platform, generation, name)
            _copy_to_lake(con, lake, select, final)
            files[name] = lake.relative(final)
    return {"max_fetched_us": max_us, "files": files}


def _append_state(con: duckdb.DuckDBPyConnection, lake: Lake, platform: str, generation: str, name: str,
                  kept: str | list[str], new_rows: str, whole: str) -> list[str] | str:
    """One append-only state of an increment: the kept parts linked into the new generation and
    `new_rows` as one more part (none when it has no row); past MAX_PARTS, `whole` as one file."""
    parts = _parts(kept)
    if len(parts) + 1 > MAX_PARTS:
        final = lake.normalised_state_path(platform, generation, name)
        _copy_to_lake(con, lake, whole, final)
        return lake.relative(final)
    out = [_link_part(lake, rel, lake.normalised_state_path(platform, generation, _part_name(rel)))
           for rel in parts]
    con.execute(f"CREATE OR REPLACE TEMP TABLE state_part AS {new_rows}")
    if con.execute("SELECT count(*) FROM state_part").fetchone()[0]:
        final = lake.normalised_state_path(platform, generation, f"{name}-{generation}")
        _copy_to_lake(con, lake, "SELECT * FROM state_part", final)
        out.append(lake.relative(final))
    con.execute("DROP TABLE state_part")
    return out


def _part_name(rel: str) -> str:
    return rel.rsplit("/", 1)[-1].removesuffix(".parquet")


def _link_part(lake: Lake, rel: str, final: str) -> str:
    """A kept part under its own name in the new generation (no byte written again)."""
    lake.link(lake.path(rel), final)
    return lake.relative(final)


def _full_state(con: duckdb.DuckDBPyConnection, lake: Lake, platform: str, generation: str,
                fresh: dict[str, str], lookups: bool) -> dict[str, Any]:
    """The increment state of a platform built in full (temp tables `raw`, `mapped_*`, `lookups`)."""
    selects: dict[str, str | None] = {}
    if not fresh:  # no raw at all (every file expired): the frozen rows alone, and no version known
        selects["versions"] = _NO_VERSIONS
        if lookups:
            selects |= {"lookups": _NO_LOOKUPS, "reads": _NO_READS}
        return _write_increment_state(con, lake, platform, generation, selects, 0)
    max_us = con.execute("SELECT epoch_us(max(fetched_at)) FROM raw").fetchone()[0]
    selects["versions"] = "SELECT DISTINCT record_type, record_id, origin, md5(payload) AS version FROM raw"
    if "accounts" in fresh:
        selects["accounts"] = _BEST_ACCOUNTS.format(rows="SELECT * FROM mapped_accounts")
    if lookups:
        selects["lookups"] = "SELECT * FROM lookups"
        selects["reads"] = _READS.format(where="true") if "posts" in fresh else _NO_READS
    return _write_increment_state(con, lake, platform, generation, selects, max_us or 0)


def _increment(
    con: duckdb.DuckDBPyConnection, lake: Lake, platform: str, previous: dict[str, Any], new: list[str],
    generation: str, scratch: Path,
) -> dict[str, Any] | None:
    """Extend a platform's published tables with the raw files `new`; None when it cannot be done
    exactly (a new file fetched no later than the covered ones, or no lookup state kept), and the
    platform is rebuilt.

    Latest fetch wins, and every new row is fetched later than every covered one, so a post, link,
    mention, hashtag or article key the new raw maps to is replaced whole by its new rows; an
    account row by the best of its kept state row and its new rows. A new raw row that repeats a
    version already covered changes nothing (a version counts from its first fetch), so it goes
    before mapping. Each changed table is rewritten whole into the new generation: readers see one
    file per table, and the increment costs a scan of the tables, not a mapping of all raw.

    With lookups across records, the new raw's lookups are merged with the kept ones (latest fetch
    wins, as over all raw at once); a post that read a key whose value changed is mapped again from
    every raw record it can come from (`reads`), so it is what a full build would make of it; every
    other post row stays as published."""
    state = previous["state"]
    mapping = read_mapping(get_connector(platform).mapping_file)
    lookups = LOOKUPS in mapping
    if lookups and not {"lookups", "reads"} <= set(state["files"]):
        return None
    new_sql = _raw_files_sql([lake.path(f) for f in new])
    low, high = con.execute(f"SELECT epoch_us(min(fetched_at)), epoch_us(max(fetched_at)) FROM ({new_sql})").fetchone()
    cutoff = int(state["max_fetched_us"])
    if low is None or low <= cutoff:
        return None
    versions = _state_file(lake, state["files"]["versions"])
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE new_raw AS
        SELECT n.* FROM ({new_sql}) AS n ANTI JOIN {versions} AS v
        ON n.record_type IS NOT DISTINCT FROM v.record_type AND n.record_id IS NOT DISTINCT FROM v.record_id
           AND n.origin IS NOT DISTINCT FROM v.origin AND md5(n.payload) IS NOT DISTINCT FROM v.version""")
    new_versions = "SELECT DISTINCT record_type, record_id, origin, md5(payload) AS version FROM new_raw"
    raw_sql, keep_posts = "SELECT * FROM new_raw", None
    if lookups:
        reads = _state_file(lake, state["files"]["reads"])
        kept_parts = _parts(state["files"]["lookups"])
        first = _state_file(lake, kept_parts[0])  # resolved: one row per key (a full build, or folded)
        later = f"SELECT * FROM {_state_file(lake, kept_parts[1:])}" if kept_parts[1:] else _NO_LOOKUPS
        _create_raw_versions(con, raw_sql)  # the new versions' lookups only
        con.execute(f"CREATE OR REPLACE TEMP TABLE new_lookups AS {mapping[LOOKUPS]}")
        # Resolving every kept row again (a GROUP BY and a window over a row per status) was a fifth
        # of an increment. A key no later part and no new row holds keeps its row of the first part;
        # only the others are resolved, over all their rows: the same table as resolving all raw.
        con.execute(f"CREATE OR REPLACE TEMP TABLE later_lookups AS {later}")
        con.execute("""
            CREATE OR REPLACE TEMP TABLE touched_keys AS SELECT DISTINCT lookup, key FROM (
                SELECT lookup, key FROM later_lookups
                UNION ALL SELECT lookup, key FROM new_lookups
                WHERE lookup IS NOT NULL AND key IS NOT NULL AND value IS NOT NULL)""")
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE kept_touched AS
            SELECT f.* FROM {first} AS f SEMI JOIN touched_keys AS t ON f.lookup = t.lookup AND f.key = t.key
            UNION ALL BY NAME SELECT * FROM later_lookups""")
        touched = _RESOLVED_LOOKUPS.format(
            rows="SELECT * FROM kept_touched UNION ALL BY NAME SELECT * FROM new_lookups")
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE lookups AS
            SELECT f.lookup, f.key, f.value, f.fetched_at FROM {first} AS f
            ANTI JOIN touched_keys AS t ON f.lookup = t.lookup AND f.key = t.key
            UNION ALL ({touched})""")
        # every new row is fetched later than every kept one, so the keys the new raw holds are the
        # resolved rows that differ from the kept ones: the state's next part
        con.execute("""
            CREATE OR REPLACE TEMP TABLE lookups_part AS
            SELECT * FROM lookups AS l SEMI JOIN new_lookups AS n
            ON l.lookup = n.lookup AND l.key = n.key AND n.value IS NOT NULL""")
        kept_of_part = _RESOLVED_LOOKUPS.format(rows="SELECT * FROM kept_touched AS k SEMI JOIN lookups_part AS p "
                                                     "ON k.lookup = p.lookup AND k.key = p.key")
        # a key is changed when its value is new or other than the kept one (a later fetch of the
        # same value changes no post); every post that read it, hit or miss, is mapped again
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE redo_posts AS
            SELECT DISTINCT r.post_id FROM {reads} AS r SEMI JOIN (
                SELECT l.lookup, l.key FROM lookups_part AS l ANTI JOIN ({kept_of_part}) AS k
                ON l.lookup = k.lookup AND l.key = k.key AND l.value = k.value
            ) AS c ON r.lookup = c.lookup AND r.key = c.key""")
        _step(con, platform, "posts to map again", "redo_posts")
        if con.execute("SELECT count(*) FROM redo_posts").fetchone()[0]:
            con.execute(f"CREATE OR REPLACE TEMP TABLE redo_records AS SELECT DISTINCT record_id, origin "
                        f"FROM {reads} SEMI JOIN redo_posts USING (post_id)")
            covered = _raw_files_sql([lake.path(f) for f in previous["raw_files"]])
            raw_sql += (f" UNION ALL BY NAME SELECT o.* FROM ({covered}) AS o SEMI JOIN redo_records AS d "
                        "ON o.record_id IS NOT DISTINCT FROM d.record_id AND o.origin IS NOT DISTINCT FROM d.origin")
        # the posts written: those the new raw maps to (their rows win, being fetched later) and
        # those mapped again; a re-read record's other posts may lack a candidate, so they stay
        keep_posts = f"epoch_us(fetched_at) > {cutoff} OR post_id IN (SELECT post_id FROM redo_posts)"
    fresh = _build_platform_tables(con, platform, raw_sql, scratch=scratch, lookups_ready=lookups,
                                   keep_posts=keep_posts)
    tables = dict(previous["tables"])

    def write(table: str, select: str) -> None:
        final = lake.normalised_path(table, platform, generation)
        rows = _copy_to_lake(con, lake, f"SELECT * FROM ({select}) ORDER BY {_ORDER[table]}", final)
        tables[table] = {"files": [lake.relative(final)], "rows": rows}

    def extend(table: str, fresh_rows: str) -> None:
        """The fresh rows, and the published rows they do not replace: the parts holding no
        replaced row are linked as they are; the rest of the others joins the fresh rows in one new
        part (or, past MAX_PARTS, the table is written whole)."""
        files, replaced = tables.get(table, {}).get("files", []), _REPLACED_BY_FRESH[table]
        per_file: dict[str, tuple[int, int]] = {}
        if files:  # the replaced rows' columns only: a key scan, not a read of the table
            listed = literal_list(lake.path(f) for f in files)
            per_file = {name: (total, hit) for name, total, hit in con.execute(
                f"SELECT filename, count(*), count(*) FILTER (WHERE {replaced}) FROM read_parquet({listed}, "
                "filename = true, hive_partitioning = false) GROUP BY filename").fetchall()}
        # a file is rewritten when it holds a replaced row, or is small: the new rows fill it up,
        # so increments do not leave a trail of small files
        keep = [f for f in files if (counted := per_file.get(lake.path(f), (0, 0)))[1] == 0
                and counted[0] >= PART_ROWS // 2]
        if len({_part_name(f) for f in keep}) < len(keep):  # names from another layout: write it whole
            keep = []
        rest = [f for f in files if f not in keep]
        select = fresh_rows if not rest else (
            f"SELECT * FROM ({fresh_rows}) UNION ALL (SELECT * FROM read_parquet("
            f"{literal_list(lake.path(f) for f in rest)}, hive_partitioning = false) WHERE NOT ({replaced}))")
        kept = [_link_part(lake, f, lake.normalised_path(table, platform, generation, _part_name(f))) for f in keep]
        final = lake.normalised_path(table, platform, generation, f"part-{generation}" if keep else "data")
        written = _copy_parts(con, lake, f"SELECT * FROM ({select}) ORDER BY {_ORDER[table]}", final)
        tables[table] = {"files": [*kept, *(lake.relative(f) for f, _ in written)],
                         "rows": sum(rows for _, rows in written) + sum(per_file[lake.path(f)][0] for f in keep)}

    accounts_state = None
    if "accounts" in fresh and con.execute("SELECT count(*) FROM mapped_accounts").fetchone()[0]:
        rows = "SELECT * FROM mapped_accounts"
        if "accounts" in state["files"]:
            rows = f"SELECT * FROM {_state_file(lake, state['files']['accounts'])} UNION ALL BY NAME {rows}"
        con.execute("CREATE OR REPLACE TEMP TABLE accounts_state AS " + _BEST_ACCOUNTS.format(rows=rows))
        accounts_state = "SELECT * FROM accounts_state"
        select = _cast_select(schema.ACCOUNTS, "accounts_state")
        frozen = lake.frozen_path("accounts", platform)
        if lake.exists(frozen):  # frozen rows give way to every account mapped from raw, as in a full build
            select += (f" UNION ALL (SELECT * FROM read_parquet({quote_literal(frozen)}, hive_partitioning = false) "
                       "WHERE NOT coalesce(account_id IN (SELECT account_id FROM accounts_state "
                       "WHERE account_id IS NOT NULL), false))")
        write("accounts", select)
    for table, present, changed in (
        *((t, "posts" in fresh, "posts_latest") for t in _POST_TABLES),
        ("org_articles", "org_articles" in fresh, "mapped_articles"),
    ):
        if not present or not con.execute(f"SELECT count(*) FROM {changed}").fetchone()[0]:
            continue  # nothing new for this table: its published file stays
        extend(table, fresh[table])
    selects: dict[str, str | None] = {}
    if accounts_state is None and "accounts" in state["files"]:
        accounts_state = f"SELECT * FROM {_state_file(lake, state['files']['accounts'])}"
    selects["accounts"] = accounts_state
    appended = {"versions": _append_state(con, lake, platform, generation, "versions", state["files"]["versions"],
                                          new_versions, f"SELECT * FROM {versions} UNION ALL {new_versions}")}
    if lookups:
        new_reads = _READS.format(where=f"epoch_us(fetched_at) > {cutoff}") if "posts" in fresh else _NO_READS
        con.execute(f"CREATE OR REPLACE TEMP TABLE new_reads AS {new_reads}")
        appended["lookups"] = _append_state(con, lake, platform, generation, "lookups", state["files"]["lookups"],
                                            "SELECT * FROM lookups_part", "SELECT * FROM lookups")
        # a post mapped again reads what it read before, mostly: only the pairs not yet kept
        appended["reads"] = _append_state(
            con, lake, platform, generation, "reads", state["files"]["reads"],
            f"SELECT * FROM new_reads EXCEPT SELECT * FROM {reads} SEMI JOIN new_reads USING (post_id)",
            f"SELECT * FROM {reads} UNION SELECT * FROM new_reads")
    # what this increment rewrote, for a transform that recomputes only what changed
    selects["changed_posts"] = ("SELECT DISTINCT post_id FROM posts_latest" if "posts" in fresh
                                else "SELECT NULL::VARCHAR AS post_id WHERE false")
    selects["changed_accounts"] = ("SELECT DISTINCT account_id FROM mapped_accounts" if "accounts" in fresh
                                   else "SELECT NULL::VARCHAR AS account_id WHERE false")
    increment = _write_increment_state(con, lake, platform, generation, selects, max(high, cutoff))
    increment["files"] |= appended
    return {"tables": tables, "increment": increment}


def normalise_lake(
    lake: Lake,
    platform_names: Iterable[str] | None = None,
    *,
    pseudonymiser: Pseudonymiser | None = None,
    keep_previous: bool = True,
    full: bool = False,
) -> dict[str, int]:
    """Bring the normalised layer up to date with raw (and frozen rows of expired raw); rows per table.

    Incremental by default. Each platform's published entry records the raw files it covers and
    what its rows are a function of (code, erased accounts, frozen files). A platform with nothing
    new keeps its files; one with only new raw files is extended (`_increment`, for per-record
    mappings); any other change (retention, forget, an upgrade) rebuilds the platform. `full`
    rebuilds every platform, as do pseudonymisation (a link title's pseudonym depends on every
    account's name) and `keep_previous=False` (forget, which rewrites raw in place).

    Every file goes into a new generation folder; the generation is published whole at the end by
    one manifest write (`Lake.publish_normalised`), and the increment state is in that manifest,
    so a normalise killed at any point leaves the previous generation, and its state, visible.
    `keep_previous=False` deletes the previous generation's files once the new one is published
    (forget: nothing erased may survive)."""
    counts = {name: 0 for name in schema.NORMALISED}
    generation = new_run_id()
    previous = lake.normalised_manifest()
    pseudonymised = pseudonymiser is not None
    # files written without pseudonymisation must not linger beside pseudonymised ones (or back)
    same_privacy = previous is None or previous.get("pseudonymised", False) == pseudonymised
    reuse = previous is not None and not full and keep_previous and same_privacy and not pseudonymised
    erased = lake.erased_account_keys()
    entries: dict[str, Any] = {}
    con = new_connection(pseudonymiser=pseudonymiser, lake=lake)
    use_erased_keys(con, erased)
    watched = build_progress.watching(con)  # a heartbeat says how much of a long statement is done
    watched.__enter__()
    scratch_context = scratch_folder(lake)
    scratch = scratch_context.__enter__()
    try:
        for platform in platform_names or platforms():
            files = lake.raw_files(platform)
            raw = [lake.relative(f) for f in files]
            state = _platform_state(lake, platform, erased)
            before = previous["platforms"].get(platform) if reuse and previous is not None else None
            plan, new = _plan(before, raw, state)
            if plan == "keep" and before is not None:
                entries[platform] = before
                for table, entry in before["tables"].items():
                    counts[table] += entry["rows"]
                continue
            if plan == "increment" and before is not None:
                extended = _increment(con, lake, platform, before, new, generation, scratch)
                if extended is not None:
                    entries[platform] = {**before, "raw_files": raw,
                                         "state": {**state, "built": "increment", **extended["increment"]},
                                         "tables": extended["tables"]}
                    for table, entry in extended["tables"].items():
                        counts[table] += entry["rows"]
                    continue
            fresh = _build_platform_tables(con, platform, files, scratch=scratch) if files else {}
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
                written = _copy_parts(con, lake, selects[table], lake.normalised_path(table, platform, generation))
                rows = sum(n for _, n in written)
                counts[table] += rows
                tables[table] = {"files": [lake.relative(f) for f, _ in written], "rows": rows}
            if tables:
                # what the generation covers, and what its rows are a function of: the next
                # normalise keeps or extends this entry when they still hold
                state = {**state, "built": "full"}
                kind = incremental_kind(get_connector(platform).mapping_file.read_text(encoding="utf-8"))
                if not pseudonymised and kind is not None:
                    state |= _full_state(con, lake, platform, generation, fresh, kind == "lookups")
                entries[platform] = {
                    "tables": tables,
                    "raw_files": raw,
                    "frozen_files": sorted(lake.relative(f) for f in frozen.values() if lake.exists(f)),
                    "state": state,
                }
    finally:
        watched.__exit__(None, None, None)
        con.close()
        scratch_context.__exit__(None, None, None)
    if platform_names is not None and previous is not None:  # platforms not rebuilt keep their tables
        entries = {**{p: e for p, e in previous["platforms"].items() if p not in set(platform_names)}, **entries}
    if reuse and previous is not None and entries == previous["platforms"]:
        return counts  # nothing new anywhere: the published generation already is this one
    manifest = {
        "format": 1,
        "generation": generation,
        "published_at": datetime.now(UTC).isoformat(),
        "pseudonymised": pseudonymised,
        "platforms": dict(sorted(entries.items())),
    }
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
        with scratch_folder(None) as scratch:
            con.register("raw_input", pa.Table.from_pylist(rows, schema=schema.RAW))
            selects = _build_platform_tables(con, platform, "SELECT * FROM raw_input", scratch=scratch)
            out: dict[str, pa.Table] = {t: s.empty_table() for t, s in schema.NORMALISED.items()}
            for table, select in selects.items():
                result = con.sql(select).to_arrow_table()
                target = schema.NORMALISED[table]
                out[table] = result.cast(target) if result.num_rows else target.empty_table()
            return out
    finally:
        con.close()


__all__ = ["html_to_text_one", "map_records", "normalise_lake", "normalise_url_one", "registered_domain_one"]
