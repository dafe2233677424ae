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
-- Each payload is parsed once: one json_extract reads the values used below, by path, into `v`
-- (`v[i] ->> '$'` is what `j ->> 'post_id'` was, a number spelt alike), and the lists go to the
-- same from_json as before.
WITH rows AS (
    SELECT r.source, r.fetched_at, r.run_id, r.payload, json_extract(r.payload, [
        '$.platform', '$.repost_of', '$.reply_to', '$.quote_of', '$.post_id', '$.author',
        '$.created_at', '$.text', '$.lang', '$.url', '$.reply_to_author', '$.repost_of_author',
        '$.quote_of_author', '$.link_title', '$.like_count', '$.repost_count', '$.reply_count',
        '$.links', '$.mentions', '$.hashtags'
    ]) AS v
    FROM raw AS r
    WHERE r.record_type = 'post'
),
fields AS (
    SELECT
        *,
        v[1] ->> '$' AS label,
        nullif(v[2] ->> '$', '') IS NOT NULL AS is_repost,
        nullif(v[3] ->> '$', '') IS NOT NULL AS is_reply,
        nullif(v[4] ->> '$', '') IS NOT NULL AS is_quote,
        -- TRY, inside the years 1-9999 (safe_timestamp): a CAST raises on a value it cannot read, and
        -- one such row in raw (an older import, a hand-made lake) would stop the whole normalise
        safe_timestamp(v[7] ->> '$') AS created_at
    FROM rows
)
SELECT
    label || ':' || (v[5] ->> '$') AS post_id,
    label AS platform,
    label || ':' || (v[6] ->> '$') AS author_id,
    created_at,
    CASE WHEN is_repost THEN '' ELSE coalesce(v[8] ->> '$', '') END AS text,
    v[9] ->> '$' AS lang,
    v[10] ->> '$' AS url,
    CASE WHEN is_repost THEN 'repost' WHEN is_reply THEN 'reply' WHEN is_quote THEN 'quote' ELSE 'post' END AS kind,
    CASE WHEN is_reply THEN label || ':' || (v[3] ->> '$') END AS reply_to_post_id,
    CASE WHEN v[11] ->> '$' IS NOT NULL THEN label || ':' || (v[11] ->> '$') END
        AS reply_to_author_id,
    CASE WHEN is_repost THEN label || ':' || (v[2] ->> '$') END AS repost_of_post_id,
    CASE WHEN v[12] ->> '$' IS NOT NULL THEN label || ':' || (v[12] ->> '$') END
        AS repost_of_author_id,
    CASE WHEN is_quote THEN label || ':' || (v[4] ->> '$') END AS quote_of_post_id,
    CASE WHEN v[13] ->> '$' IS NOT NULL THEN label || ':' || (v[13] ->> '$') END
        AS quote_of_author_id,
    CASE WHEN NOT is_repost THEN v[14] ->> '$' END AS link_title,
    TRY_CAST(v[15] ->> '$' AS BIGINT) AS like_count,
    TRY_CAST(v[16] ->> '$' AS BIGINT) AS repost_count,
    TRY_CAST(v[17] ->> '$' AS BIGINT) AS reply_count,
    source, fetched_at, run_id,
    md5(payload) AS version_rank_key,
    CASE WHEN is_repost THEN CAST([] AS VARCHAR[])
        ELSE coalesce(from_json(v[18], '["VARCHAR"]'), []) END AS links,
    CASE WHEN is_repost THEN CAST([] AS STRUCT(account_id VARCHAR, handle VARCHAR)[])
        ELSE list_transform(
            coalesce(from_json(v[19], '["VARCHAR"]'), []),
            lambda m: {'account_id': label || ':' || m, 'handle': m}
        ) END AS mentions,
    CASE WHEN is_repost THEN CAST([] AS VARCHAR[])
        ELSE coalesce(from_json(v[20], '["VARCHAR"]'), []) END AS hashtags
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
        v[1] ->> '$' AS label,
        v[2] ->> '$' AS author,
        v[3] ->> '$' AS author_name,
        safe_timestamp(v[4] ->> '$') AS created_at  -- as in `posts`: never raises
    FROM (   -- each payload parsed once, as in `posts`
        SELECT fetched_at, json_extract(payload, ['$.platform', '$.author', '$.author_name', '$.created_at']) AS v
        FROM raw
        WHERE record_type = 'post'
    )
)
GROUP BY label, author;
