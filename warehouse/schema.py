"""Arrow schemas of every table the lake stores. The one place a column is named and typed.

Layers:
- raw: what connectors yielded, untouched (the platform's JSON as text) plus provenance.
- quarantine: input that could not be used, with the reason and where it came from.
- collection_runs: one row per collection or import run (coverage as data).
- normalised: the canonical schema (ARCHITECTURE.md) shared by every platform.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

RAW = pa.schema(
    [
        ("platform", pa.string()),
        ("source", pa.string()),
        ("record_type", pa.string()),  # e.g. status, account, feed_item, profile
        ("record_id", pa.string()),  # the platform's id of the record, for dedup and erasure
        ("origin", pa.string()),  # where ids are valid: instance URL, AppView URL, export file
        ("payload", pa.string()),  # the platform's own JSON, byte for byte as parsed
        ("locator", pa.string()),  # request URL (without secrets) or file:line
        ("fetched_at", TS),
        ("run_id", pa.string()),
    ]
)

QUARANTINE = pa.schema(
    [
        ("platform", pa.string()),
        ("source", pa.string()),
        ("locator", pa.string()),  # file and line/index, or request URL
        ("reason", pa.string()),
        ("content", pa.string()),  # the offending input, truncated to QUARANTINE_CONTENT_LIMIT
        ("quarantined_at", TS),
        ("run_id", pa.string()),
    ]
)
QUARANTINE_CONTENT_LIMIT = 10_000

COLLECTION_RUNS = pa.schema(
    [
        ("run_id", pa.string()),
        ("source", pa.string()),
        ("platform", pa.string()),
        ("mode", pa.string()),  # collect | import
        ("started_at", TS),
        ("finished_at", TS),
        ("status", pa.string()),  # ok | partial | failed | interrupted (SIGTERM/SIGINT)
        ("pages", pa.int64()),
        ("records_seen", pa.int64()),
        ("records_new", pa.int64()),
        ("records_quarantined", pa.int64()),
        ("cursor_before", pa.string()),
        ("cursor_after", pa.string()),
        ("rate_limit_waits", pa.int64()),
        ("rate_limit_wait_seconds", pa.float64()),
        ("requests", pa.int64()),
        ("errors", pa.string()),  # JSON list of error messages
        ("cap_hit", pa.bool_()),  # stopped by max_pages or a platform limit, so coverage is partial
        # rate limits (connectors/http.py); null in rows written before these existed
        ("responses_429", pa.int64()),
        ("waits", pa.string()),  # JSON: reason -> {"waits": n, "seconds": s}, every wait of the run
        ("clock_skew_seconds", pa.float64()),  # the server's clock minus ours, as corrected for
    ]
)

ERASURES = pa.schema(
    [
        ("erased_at", TS),
        ("platform", pa.string()),
        # the erasure token that stands for the account in other people's posts: random, so the
        # audit names the erasure, never the account (older rows: sha256 of the account id)
        ("account_key", pa.string()),
        ("raw_records_removed", pa.int64()),
        ("raw_files_rewritten", pa.int64()),
        ("quarantine_rows_removed", pa.int64()),
        ("other_records_redacted", pa.int64()),  # other people's records in which the account became its token
    ]
)

# ---- people's labels (`dissentry labels sample | import`) ----------------------------------------

LABELS = pa.schema(
    [
        ("post_id", pa.string()),  # as in posts (a pseudonym when pseudonymisation is on)
        ("label", pa.string()),  # critical | supportive | neutral, lower case
        ("annotator", pa.string()),  # --annotator, the file's stem, or labelstudio:<email or id>
        ("labelled_at", TS),  # the label's own time (Label Studio updated_at), else the import's
        ("imported_at", TS),
        ("import_id", pa.string()),
        ("locator", pa.string()),  # file:line, or file[task] for a Label Studio export
    ]
)

LABEL_DRAWS = pa.schema(
    [
        ("draw_id", pa.string()),
        ("seed", pa.int64()),
        ("drawn_at", TS),
        ("group_id", pa.string()),
        ("scope", pa.string()),  # 'all' or the period label the draw was restricted to
        ("frame_size", pa.int64()),  # references of that group/scope not drawn before, at draw time
        ("sample_size", pa.int64()),  # drawn in this stratum
        ("post_id", pa.string()),
        ("position", pa.int64()),  # order of the draw within its stratum, from 0
    ]
)

LABEL_IMPORTS = pa.schema(
    [
        ("import_id", pa.string()),
        ("imported_at", TS),
        ("file", pa.string()),  # basename only: a local path says nothing the lake needs
        ("annotator", pa.string()),  # None for a Label Studio export, which names its own
        ("format", pa.string()),  # csv | labelstudio
        ("rows_read", pa.int64()),
        ("labels_landed", pa.int64()),
        ("rows_rejected", pa.int64()),
        ("rows_dropped_erased", pa.int64()),  # labels of erased accounts' posts: counted, never kept
    ]
)

# ---- canonical (normalised) layer ---------------------------------------------------------------

POSTS = pa.schema(
    [
        ("post_id", pa.string()),
        ("platform", pa.string()),
        ("author_id", pa.string()),
        ("created_at", TS),
        ("text", pa.string()),
        ("lang", pa.string()),
        ("url", pa.string()),
        ("kind", pa.string()),  # post | reply | repost | quote
        ("reply_to_post_id", pa.string()),
        ("reply_to_author_id", pa.string()),
        ("repost_of_post_id", pa.string()),
        ("repost_of_author_id", pa.string()),
        ("quote_of_post_id", pa.string()),
        ("quote_of_author_id", pa.string()),
        ("link_title", pa.string()),  # title of the link card, to tell a bare share from commentary
        ("like_count", pa.int64()),
        ("repost_count", pa.int64()),
        ("reply_count", pa.int64()),
        ("source", pa.string()),
        ("fetched_at", TS),
        ("run_id", pa.string()),
    ]
)

ACCOUNTS = pa.schema(
    [
        ("account_id", pa.string()),
        ("platform", pa.string()),
        ("handle", pa.string()),
        ("display_name", pa.string()),
        ("bio", pa.string()),
        ("followers", pa.int64()),
        ("following", pa.int64()),
        ("created_at", TS),
        ("fetched_at", TS),
    ]
)

POST_LINKS = pa.schema([("post_id", pa.string()), ("url", pa.string()), ("domain", pa.string())])
POST_MENTIONS = pa.schema([("post_id", pa.string()), ("account_id", pa.string()), ("handle", pa.string())])
POST_HASHTAGS = pa.schema([("post_id", pa.string()), ("tag", pa.string())])

ORG_ARTICLES = pa.schema(
    [
        ("group_id", pa.string()),  # the group whose own publication this is
        ("url", pa.string()),  # normalised like post_links.url, so the two join
        ("title", pa.string()),
        ("published_at", TS),
        ("feed_url", pa.string()),
        ("source", pa.string()),
        ("fetched_at", TS),
    ]
)

NORMALISED: dict[str, pa.Schema] = {
    "posts": POSTS,
    "accounts": ACCOUNTS,
    "post_links": POST_LINKS,
    "post_mentions": POST_MENTIONS,
    "post_hashtags": POST_HASHTAGS,
    "org_articles": ORG_ARTICLES,
}
