-- Generic tables (csv, jsonl) -> the canonical posts and accounts (contract: docs/architecture.md).
--
-- The connector has already applied the source's column mapping: each raw record is one row as
-- `{"platform": label, "post_id", "author" (lower case, no '@'), "created_at" (ISO 8601 UTC), "text",
-- "links": [...], "hashtags": [...], "mentions": [...]}` plus whichever of url, lang, author_name,
-- link_title, reply_to, reply_to_author, repost_of, repost_of_author, quote_of, quote_of_author,
-- like_count, repost_count, reply_count the table has. Ids are namespaced with the label:
-- '<label>:<post_id>', '<label>:<author>'.
--
-- kind: 'repost' when repost_of is set, else 'reply' when reply_to is set, else 'quote' when
-- quote_of is set, else 'post' (a reply that quotes is a 'reply' with its quote columns filled).
-- A repost's own text is '' and it carries no links, hashtags or mentions, as on every platform:
-- whatever text a table gives a repost (an "RT @x: ..." copy) is the original author's.

-- name: posts
WITH rows AS (
    SELECT r.source, r.fetched_at, r.run_id, r.payload, r.payload::JSON AS j
    FROM raw AS r
    WHERE r.record_type = 'post'
),
fields AS (
    SELECT
        *,
        j ->> 'platform' AS label,
        nullif(j ->> 'repost_of', '') IS NOT NULL AS is_repost,
        nullif(j ->> 'reply_to', '') IS NOT NULL AS is_reply,
        nullif(j ->> 'quote_of', '') IS NOT NULL AS is_quote
    FROM rows
)
SELECT
    label || ':' || (j ->> 'post_id') AS post_id,
    label AS platform,
    label || ':' || (j ->> 'author') AS author_id,
    CAST(j ->> 'created_at' AS TIMESTAMPTZ) AS created_at,
    CASE WHEN is_repost THEN '' ELSE coalesce(j ->> 'text', '') END AS text,
    j ->> 'lang' AS lang,
    j ->> 'url' AS url,
    CASE WHEN is_repost THEN 'repost' WHEN is_reply THEN 'reply' WHEN is_quote THEN 'quote' ELSE 'post' END AS kind,
    CASE WHEN is_reply THEN label || ':' || (j ->> 'reply_to') END AS reply_to_post_id,
    CASE WHEN j ->> 'reply_to_author' IS NOT NULL THEN label || ':' || (j ->> 'reply_to_author') END
        AS reply_to_author_id,
    CASE WHEN is_repost THEN label || ':' || (j ->> 'repost_of') END AS repost_of_post_id,
    CASE WHEN j ->> 'repost_of_author' IS NOT NULL THEN label || ':' || (j ->> 'repost_of_author') END
        AS repost_of_author_id,
    CASE WHEN is_quote THEN label || ':' || (j ->> 'quote_of') END AS quote_of_post_id,
    CASE WHEN j ->> 'quote_of_author' IS NOT NULL THEN label || ':' || (j ->> 'quote_of_author') END
        AS quote_of_author_id,
    CASE WHEN NOT is_repost THEN j ->> 'link_title' END AS link_title,
    TRY_CAST(j ->> 'like_count' AS BIGINT) AS like_count,
    TRY_CAST(j ->> 'repost_count' AS BIGINT) AS repost_count,
    TRY_CAST(j ->> 'reply_count' AS BIGINT) AS reply_count,
    source, fetched_at, run_id,
    md5(payload) AS version_rank_key,
    CASE WHEN is_repost THEN CAST([] AS VARCHAR[])
        ELSE coalesce(from_json(j -> 'links', '["VARCHAR"]'), []) END AS links,
    CASE WHEN is_repost THEN CAST([] AS STRUCT(account_id VARCHAR, handle VARCHAR)[])
        ELSE list_transform(
            coalesce(from_json(j -> 'mentions', '["VARCHAR"]'), []),
            lambda m: {'account_id': label || ':' || m, 'handle': m}
        ) END AS mentions,
    CASE WHEN is_repost THEN CAST([] AS VARCHAR[])
        ELSE coalesce(from_json(j -> 'hashtags', '["VARCHAR"]'), []) END AS hashtags
FROM fields;

-- name: accounts
-- Authors as the table shows them: a handle and, when mapped, the display name on their latest post
-- (detail 0: a table holds no profile).
SELECT
    label || ':' || author AS account_id,
    label AS platform,
    author AS handle,
    arg_max(author_name, created_at) FILTER (WHERE author_name IS NOT NULL) AS display_name,
    CAST(NULL AS VARCHAR) AS bio,
    CAST(NULL AS BIGINT) AS followers,
    CAST(NULL AS BIGINT) AS following,
    CAST(NULL AS TIMESTAMPTZ) AS created_at,
    max(fetched_at) AS fetched_at,
    0 AS detail
FROM (
    SELECT
        fetched_at,
        payload::JSON ->> 'platform' AS label,
        payload::JSON ->> 'author' AS author,
        payload::JSON ->> 'author_name' AS author_name,
        CAST(payload::JSON ->> 'created_at' AS TIMESTAMPTZ) AS created_at
    FROM raw
    WHERE record_type = 'post'
)
GROUP BY label, author;
