-- incremental: per-record
-- (every output row comes from one raw record, with no lookup across records: see dissentry/normalise.py)
-- Bluesky raw records -> canonical posts and accounts (contract: docs/architecture.md,
-- "Normalisation contract"). Reads only the view `raw`.
--
-- record_type 'feed_item': an app.bsky.feed.defs#feedViewPost (getAuthorFeed). A repost item
--   (reason $type app.bsky.feed.defs#reasonRepost) yields two posts: the repost itself (id
--   'bluesky:' || record_id, author reason.by, created at reason.indexedAt, text '') and the original.
-- record_type 'post': an app.bsky.feed.defs#postView (searchPosts).
-- record_type 'profile': an app.bsky.actor.defs#profileViewDetailed (getProfile).
--
-- Decisions:
-- * kind: 'reply' when the record replies (record.reply), else 'quote' when it embeds a post
--   (app.bsky.embed.record, or the record part of app.bsky.embed.recordWithMedia), else 'post'.
--   A reply that also quotes keeps its quote_of_* columns.
-- * created_at: the earlier of record.createdAt and indexedAt (the AppView's own sortAt), so a post
--   claiming a future date counts when it was seen, while a back-dated import keeps its date.
-- * links: link facets and the external embed only, never the text, which holds a shortened URL.
--   Without the quoted post's own bsky.app URL, and without a stray trailing quote mark.
-- * text: record.text with each link facet's display text (a shortened URL such as
--   'orga.example/pap...', no scheme) replaced by the facet's full URI: the plain-text rendering of
--   the rich text, as Mastodon's HTML-to-text gives the full URL. Transforms strip URLs before
--   matching names or comparing text with the link title; a shortened URL without a scheme would
--   survive that and read as naming the organisation. Falls back to record.text if the facets'
--   byte ranges overlap or do not fit the text.
-- * mention handles: the text slice at the facet's UTF-8 byte offsets, without '@', lower case.
-- * every handle is a host name in one spelling: NFKC, no zero-width or bidi characters, lower
--   case, IDNA-encoded (`canonical_host(account_handle(h, NULL))`, connectors/identity.py).
-- * hashtags: tag facets plus the record's extra `tags`, lower case.
-- * accounts: full profiles (detail 1) and the partial author views inside posts (detail 0): post
--   authors, reposters, reply parent/root authors and quoted authors, so interactions with accounts
--   never collected directly still resolve to a handle.

-- name: posts
WITH records AS (
    SELECT record_type, record_id, source, fetched_at, run_id, md5(payload) AS version_rank_key,
           CAST(payload AS JSON) AS j
    FROM raw
    WHERE record_type IN ('feed_item', 'post')
),
views AS (
    SELECT CASE WHEN record_type = 'feed_item' THEN j -> '$.post' ELSE j END AS p,
           source, fetched_at, run_id, version_rank_key
    FROM records
),
fields AS (
    SELECT
        p ->> '$.uri' AS uri,
        p ->> '$.author.did' AS did,
        p ->> '$.record.text' AS text,
        p ->> '$.record.langs[0]' AS lang,
        least(safe_timestamp(p ->> '$.record.createdAt'),
              safe_timestamp(p ->> '$.indexedAt')) AS created_at,
        p ->> '$.record.reply.parent.uri' AS parent_uri,
        coalesce(
            CASE p ->> '$.record.embed."$type"'
                WHEN 'app.bsky.embed.record' THEN p ->> '$.record.embed.record.uri'
                WHEN 'app.bsky.embed.recordWithMedia' THEN p ->> '$.record.embed.record.record.uri'
            END,
            CASE p ->> '$.embed."$type"'
                WHEN 'app.bsky.embed.record#view' THEN p ->> '$.embed.record.uri'
                WHEN 'app.bsky.embed.recordWithMedia#view' THEN p ->> '$.embed.record.record.uri'
            END
        ) AS embedded_uri,
        coalesce(p ->> '$.embed.external.uri', p ->> '$.embed.media.external.uri',
                 p ->> '$.record.embed.external.uri', p ->> '$.record.embed.media.external.uri') AS external_uri,
        coalesce(p ->> '$.embed.external.title', p ->> '$.embed.media.external.title',
                 p ->> '$.record.embed.external.title', p ->> '$.record.embed.media.external.title') AS external_title,
        TRY_CAST(p ->> '$.likeCount' AS BIGINT) AS like_count,
        TRY_CAST(p ->> '$.repostCount' AS BIGINT) AS repost_count,
        TRY_CAST(p ->> '$.replyCount' AS BIGINT) AS reply_count,
        -- one row per facet feature, with the facet's byte range
        flatten([
            [{'type': x ->> '$."$type"', 'feature': x,
              'byte_start': TRY_CAST(f ->> '$.index.byteStart' AS BIGINT),
              'byte_end': TRY_CAST(f ->> '$.index.byteEnd' AS BIGINT)}
             FOR x IN json_extract(f, '$.features[*]')]
            FOR f IN json_extract(p, '$.record.facets[*]')
        ]) AS features,
        [t FOR t IN json_extract_string(p, '$.record.tags[*]')] AS record_tags,
        source, fetched_at, run_id, version_rank_key
    FROM views
    WHERE p ->> '$.uri' IS NOT NULL AND p ->> '$.author.did' IS NOT NULL
),
spans AS (
    SELECT *,
           CASE WHEN regexp_matches(embedded_uri, '^at://[^/]+/app\.bsky\.feed\.post/') THEN embedded_uri END
               AS quoted_uri,
           list_sort([{'s': x.byte_start, 'e': x.byte_end, 'uri': x.feature ->> '$.uri'}
                      FOR x IN features IF x.type = 'app.bsky.richtext.facet#link']) AS link_spans
    FROM fields
),
quotes AS (
    -- each link facet's shortened display text replaced by its full URI, when the spans are sane
    SELECT * REPLACE (
        coalesce(CASE
            WHEN len(link_spans) = 0 THEN text
            WHEN list_bool_and(list_transform(link_spans, lambda sp, i:
                    sp.s >= CASE WHEN i = 1 THEN 0 ELSE link_spans[i - 1].e END
                    AND sp.e > sp.s AND sp.e <= strlen(text) AND sp.uri IS NOT NULL))
            THEN try(
                array_to_string(list_transform(link_spans, lambda sp, i:
                    decode(encode(text)[CASE WHEN i = 1 THEN 0 ELSE link_spans[i - 1].e END + 1 : sp.s]) || sp.uri), '')
                || decode(encode(text)[link_spans[-1].e + 1 :]))
        END, text) AS text
    ),
    text AS record_text
    FROM spans
),
originals AS (
    SELECT
        'bluesky:' || uri AS post_id,
        'bluesky' AS platform,
        'bluesky:' || did AS author_id,
        created_at,
        coalesce(text, '') AS text,
        lang,
        'https://bsky.app/profile/' || did || '/post/' || regexp_extract(uri, '/([^/]+)$', 1) AS url,
        CASE WHEN parent_uri IS NOT NULL THEN 'reply' WHEN quoted_uri IS NOT NULL THEN 'quote' ELSE 'post' END
            AS kind,
        'bluesky:' || parent_uri AS reply_to_post_id,
        'bluesky:' || nullif(regexp_extract(parent_uri, '^at://([^/]+)/', 1), '') AS reply_to_author_id,
        CAST(NULL AS VARCHAR) AS repost_of_post_id,
        CAST(NULL AS VARCHAR) AS repost_of_author_id,
        'bluesky:' || quoted_uri AS quote_of_post_id,
        'bluesky:' || nullif(regexp_extract(quoted_uri, '^at://([^/]+)/', 1), '') AS quote_of_author_id,
        external_title AS link_title,
        like_count, repost_count, reply_count,
        source, fetched_at, run_id, version_rank_key,
        -- a facet URI ending in a quote mark (the autolinker took the closing quote of
        -- 'https://...') is the same link as without it; the quoted post's own bsky.app URL, which
        -- clients add as a link facet, is the quote, not an external link (as on Mastodon)
        list_distinct(list_filter(list_concat(
            [rtrim(x.feature ->> '$.uri', '''"’”‘“') FOR x IN features IF x.type = 'app.bsky.richtext.facet#link'],
            [external_uri]
        ), lambda u: quoted_uri IS NULL OR NOT regexp_matches(u,
            '^https?://(?:www\.)?bsky\.app/profile/[^/?#]+/post/'
            || regexp_extract(quoted_uri, '/([^/]+)$', 1) || '(?:[/?#]|$)'))) AS links,
        [{'account_id': 'bluesky:' || (x.feature ->> '$.did'),
          'handle': canonical_host(account_handle(try(decode(encode(record_text)[x.byte_start + 1 : x.byte_end])), NULL))}
         FOR x IN features IF x.type = 'app.bsky.richtext.facet#mention'] AS mentions,
        list_distinct(list_concat(
            [lower(ltrim(x.feature ->> '$.tag', '#')) FOR x IN features IF x.type = 'app.bsky.richtext.facet#tag'],
            [lower(ltrim(t, '#')) FOR t IN record_tags]
        )) AS hashtags
    FROM quotes
),
reposts AS (
    SELECT
        'bluesky:' || record_id AS post_id,
        'bluesky' AS platform,
        'bluesky:' || (j ->> '$.reason.by.did') AS author_id,
        safe_timestamp(j ->> '$.reason.indexedAt') AS created_at,
        '' AS text,
        CAST(NULL AS VARCHAR) AS lang,
        CAST(NULL AS VARCHAR) AS url,  -- a repost has no page of its own on bsky.app
        'repost' AS kind,
        CAST(NULL AS VARCHAR) AS reply_to_post_id,
        CAST(NULL AS VARCHAR) AS reply_to_author_id,
        'bluesky:' || (j ->> '$.post.uri') AS repost_of_post_id,
        'bluesky:' || (j ->> '$.post.author.did') AS repost_of_author_id,
        CAST(NULL AS VARCHAR) AS quote_of_post_id,
        CAST(NULL AS VARCHAR) AS quote_of_author_id,
        CAST(NULL AS VARCHAR) AS link_title,
        CAST(NULL AS BIGINT) AS like_count,
        CAST(NULL AS BIGINT) AS repost_count,
        CAST(NULL AS BIGINT) AS reply_count,
        source, fetched_at, run_id, version_rank_key,
        CAST([] AS VARCHAR[]) AS links,
        CAST([] AS STRUCT(account_id VARCHAR, handle VARCHAR)[]) AS mentions,
        CAST([] AS VARCHAR[]) AS hashtags
    FROM records
    WHERE record_type = 'feed_item'
      AND j ->> '$.reason."$type"' = 'app.bsky.feed.defs#reasonRepost'
      AND j ->> '$.reason.by.did' IS NOT NULL
      AND j ->> '$.post.uri' IS NOT NULL
)
SELECT * FROM originals
UNION ALL BY NAME
SELECT * FROM reposts

-- name: accounts
WITH records AS (
    SELECT record_type, fetched_at, CAST(payload AS JSON) AS j
    FROM raw
    WHERE record_type IN ('profile', 'feed_item', 'post')
),
profiles AS (
    SELECT
        'bluesky:' || (j ->> '$.did') AS account_id,
        'bluesky' AS platform,
        canonical_host(account_handle(j ->> '$.handle', NULL)) AS handle,
        j ->> '$.displayName' AS display_name,
        j ->> '$.description' AS bio,
        TRY_CAST(j ->> '$.followersCount' AS BIGINT) AS followers,
        TRY_CAST(j ->> '$.followsCount' AS BIGINT) AS following,
        safe_timestamp(j ->> '$.createdAt') AS created_at,
        fetched_at,
        1 AS detail
    FROM records
    WHERE record_type = 'profile' AND j ->> '$.did' IS NOT NULL
),
posts AS (
    SELECT CASE WHEN record_type = 'feed_item' THEN j -> '$.post' ELSE j END AS p, j, record_type, fetched_at
    FROM records
    WHERE record_type IN ('feed_item', 'post')
),
embedded AS (
    SELECT p -> '$.author' AS a, fetched_at FROM posts
    UNION ALL
    SELECT j -> '$.reason.by', fetched_at FROM posts
    WHERE record_type = 'feed_item' AND j ->> '$.reason."$type"' = 'app.bsky.feed.defs#reasonRepost'
    UNION ALL
    SELECT j -> '$.reply.parent.author', fetched_at FROM posts WHERE record_type = 'feed_item'
    UNION ALL
    SELECT j -> '$.reply.root.author', fetched_at FROM posts WHERE record_type = 'feed_item'
    UNION ALL
    SELECT CASE p ->> '$.embed."$type"'
               WHEN 'app.bsky.embed.record#view' THEN p -> '$.embed.record.author'
               WHEN 'app.bsky.embed.recordWithMedia#view' THEN p -> '$.embed.record.record.author'
           END, fetched_at
    FROM posts
)
SELECT * FROM profiles
UNION ALL
SELECT
    'bluesky:' || (a ->> '$.did') AS account_id,
    'bluesky' AS platform,
    canonical_host(account_handle(a ->> '$.handle', NULL)) AS handle,
    a ->> '$.displayName' AS display_name,
    CAST(NULL AS VARCHAR) AS bio,
    CAST(NULL AS BIGINT) AS followers,
    CAST(NULL AS BIGINT) AS following,
    safe_timestamp(a ->> '$.createdAt') AS created_at,
    fetched_at,
    0 AS detail
FROM embedded
WHERE a ->> '$.did' IS NOT NULL AND a ->> '$.handle' IS NOT NULL
