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
-- Each payload is parsed once: one json_extract reads every value used below, by path, into the
-- list `v` (the view's own paths, under '$.post' for a feed item), and each value is read from its
-- own small JSON text (`v[i] ->> '$'` is what `payload ->> path` was, for every value: a string's
-- text, a number spelt as `->>` spells it, any other value's JSON). A STRUCT from json_transform
-- would spell a number differently (1e16 as '1e+16', not '10000000000000000.0').
WITH records AS (
    SELECT record_type, record_id, source, fetched_at, run_id, md5(payload) AS version_rank_key,
           CASE WHEN record_type = 'feed_item' THEN json_extract(payload, [
               '$.post.uri', '$.post.author.did', '$.post.record.text', '$.post.record.langs[0]',      -- 1-4
               '$.post.record.createdAt', '$.post.indexedAt', '$.post.record.reply.parent.uri',        -- 5-7
               '$.post.record.embed."$type"', '$.post.record.embed.record.uri',                        -- 8-9
               '$.post.record.embed.record.record.uri', '$.post.embed."$type"',                        -- 10-11
               '$.post.embed.record.uri', '$.post.embed.record.record.uri',                            -- 12-13
               '$.post.embed.external.uri', '$.post.embed.media.external.uri',                         -- 14-15
               '$.post.record.embed.external.uri', '$.post.record.embed.media.external.uri',           -- 16-17
               '$.post.embed.external.title', '$.post.embed.media.external.title',                     -- 18-19
               '$.post.record.embed.external.title', '$.post.record.embed.media.external.title',       -- 20-21
               '$.post.likeCount', '$.post.repostCount', '$.post.replyCount',                          -- 22-24
               '$.post.record.facets', '$.post.record.tags',                                           -- 25-26
               '$.reason."$type"', '$.reason.by.did', '$.reason.indexedAt'                             -- 27-29
           ]) ELSE json_extract(payload, [
               '$.uri', '$.author.did', '$.record.text', '$.record.langs[0]',
               '$.record.createdAt', '$.indexedAt', '$.record.reply.parent.uri',
               '$.record.embed."$type"', '$.record.embed.record.uri',
               '$.record.embed.record.record.uri', '$.embed."$type"',
               '$.embed.record.uri', '$.embed.record.record.uri',
               '$.embed.external.uri', '$.embed.media.external.uri',
               '$.record.embed.external.uri', '$.record.embed.media.external.uri',
               '$.embed.external.title', '$.embed.media.external.title',
               '$.record.embed.external.title', '$.record.embed.media.external.title',
               '$.likeCount', '$.repostCount', '$.replyCount',
               '$.record.facets', '$.record.tags'
           ]) END AS v
    FROM raw
    WHERE record_type IN ('feed_item', 'post')
),
fields AS (
    SELECT
        v[1] ->> '$' AS uri,
        v[2] ->> '$' AS did,
        v[3] ->> '$' AS text,
        v[4] ->> '$' AS lang,
        least(safe_timestamp(v[5] ->> '$'),
              safe_timestamp(v[6] ->> '$')) AS created_at,
        v[7] ->> '$' AS parent_uri,
        coalesce(
            CASE v[8] ->> '$'
                WHEN 'app.bsky.embed.record' THEN v[9] ->> '$'
                WHEN 'app.bsky.embed.recordWithMedia' THEN v[10] ->> '$'
            END,
            CASE v[11] ->> '$'
                WHEN 'app.bsky.embed.record#view' THEN v[12] ->> '$'
                WHEN 'app.bsky.embed.recordWithMedia#view' THEN v[13] ->> '$'
            END
        ) AS embedded_uri,
        coalesce(v[14] ->> '$', v[15] ->> '$', v[16] ->> '$', v[17] ->> '$') AS external_uri,
        coalesce(v[18] ->> '$', v[19] ->> '$', v[20] ->> '$', v[21] ->> '$') AS external_title,
        TRY_CAST(v[22] ->> '$' AS BIGINT) AS like_count,
        TRY_CAST(v[23] ->> '$' AS BIGINT) AS repost_count,
        TRY_CAST(v[24] ->> '$' AS BIGINT) AS reply_count,
        -- one row per facet feature, with the facet's byte range ('$[*]' of a missing value is NULL,
        -- where '$.record.facets[*]' of the view was [])
        flatten([
            [{'type': x ->> '$."$type"', 'feature': x,
              'byte_start': TRY_CAST(f ->> '$.index.byteStart' AS BIGINT),
              'byte_end': TRY_CAST(f ->> '$.index.byteEnd' AS BIGINT)}
             FOR x IN json_extract(f, '$.features[*]')]
            FOR f IN coalesce(json_extract(v[25], '$[*]'), [])
        ]) AS features,
        [t FOR t IN coalesce(json_extract_string(v[26], '$[*]'), [])] AS record_tags,
        source, fetched_at, run_id, version_rank_key
    FROM records
    WHERE v[1] ->> '$' IS NOT NULL AND v[2] ->> '$' IS NOT NULL
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
        -- clients add as a link facet, is the quote, not an external link (as on Mastodon). The record
        -- key is compared as text, never spliced into the pattern: a key holding '(' in raw (an
        -- older import) made an invalid pattern, and that one record stopped the whole normalise
        list_distinct(list_filter(list_concat(
            [rtrim(x.feature ->> '$.uri', '''"’”‘“') FOR x IN features IF x.type = 'app.bsky.richtext.facet#link'],
            [external_uri]
        ), lambda u: quoted_uri IS NULL OR NOT (
            regexp_matches(u, '^https?://(?:www\.)?bsky\.app/profile/[^/?#]+/post/')
            AND regexp_extract(u, '^https?://(?:www\.)?bsky\.app/profile/[^/?#]+/post/([^/?#]*)', 1)
                = regexp_extract(quoted_uri, '/([^/]+)$', 1)))) AS links,
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
        'bluesky:' || (v[28] ->> '$') AS author_id,
        safe_timestamp(v[29] ->> '$') AS created_at,
        '' AS text,
        CAST(NULL AS VARCHAR) AS lang,
        CAST(NULL AS VARCHAR) AS url,  -- a repost has no page of its own on bsky.app
        'repost' AS kind,
        CAST(NULL AS VARCHAR) AS reply_to_post_id,
        CAST(NULL AS VARCHAR) AS reply_to_author_id,
        'bluesky:' || (v[1] ->> '$') AS repost_of_post_id,
        'bluesky:' || (v[2] ->> '$') AS repost_of_author_id,
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
      AND v[27] ->> '$' = 'app.bsky.feed.defs#reasonRepost'
      AND v[28] ->> '$' IS NOT NULL
      AND v[1] ->> '$' IS NOT NULL
)
SELECT * FROM originals
UNION ALL BY NAME
SELECT * FROM reposts

-- name: accounts
-- Parsed once, as in `posts`: a profile's fields, or each embedded author's did, handle,
-- displayName and createdAt (the post's author, the reposter, the reply parent's and root's
-- authors, the quoted author of either embed shape) read by path into `v`.
WITH records AS (
    SELECT record_type, fetched_at,
           CASE record_type
               WHEN 'profile' THEN json_extract(payload, [
                   '$.did', '$.handle', '$.displayName', '$.description', '$.followersCount',
                   '$.followsCount', '$.createdAt'
               ])
               -- 1 the embed's $type; 2-5, 6-9, 10-13: the author, the quoted author of either embed
               -- shape; a feed item's only: 14 the reason's $type, 15-18, 19-22, 23-26: the reposter,
               -- the reply parent's and root's authors
               WHEN 'feed_item' THEN json_extract(payload, [
                   '$.post.embed."$type"',
                   '$.post.author.did', '$.post.author.handle', '$.post.author.displayName', '$.post.author.createdAt',
                   '$.post.embed.record.author.did', '$.post.embed.record.author.handle',
                   '$.post.embed.record.author.displayName', '$.post.embed.record.author.createdAt',
                   '$.post.embed.record.record.author.did', '$.post.embed.record.record.author.handle',
                   '$.post.embed.record.record.author.displayName', '$.post.embed.record.record.author.createdAt',
                   '$.reason."$type"',
                   '$.reason.by.did', '$.reason.by.handle', '$.reason.by.displayName', '$.reason.by.createdAt',
                   '$.reply.parent.author.did', '$.reply.parent.author.handle',
                   '$.reply.parent.author.displayName', '$.reply.parent.author.createdAt',
                   '$.reply.root.author.did', '$.reply.root.author.handle',
                   '$.reply.root.author.displayName', '$.reply.root.author.createdAt'
               ])
               ELSE json_extract(payload, [
                   '$.embed."$type"',
                   '$.author.did', '$.author.handle', '$.author.displayName', '$.author.createdAt',
                   '$.embed.record.author.did', '$.embed.record.author.handle',
                   '$.embed.record.author.displayName', '$.embed.record.author.createdAt',
                   '$.embed.record.record.author.did', '$.embed.record.record.author.handle',
                   '$.embed.record.record.author.displayName', '$.embed.record.record.author.createdAt'
               ])
           END AS v
    FROM raw
    WHERE record_type IN ('profile', 'feed_item', 'post')
),
profiles AS (
    SELECT
        'bluesky:' || (v[1] ->> '$') AS account_id,
        'bluesky' AS platform,
        canonical_host(account_handle(v[2] ->> '$', NULL)) AS handle,
        v[3] ->> '$' AS display_name,
        v[4] ->> '$' AS bio,
        TRY_CAST(v[5] ->> '$' AS BIGINT) AS followers,
        TRY_CAST(v[6] ->> '$' AS BIGINT) AS following,
        safe_timestamp(v[7] ->> '$') AS created_at,
        fetched_at,
        1 AS detail
    FROM records
    WHERE record_type = 'profile' AND v[1] ->> '$' IS NOT NULL
),
posts AS (
    SELECT v, record_type, fetched_at FROM records WHERE record_type IN ('feed_item', 'post')
),
-- each embedded author: k, where its four values start in v
embedded AS (
    SELECT v, 2 AS k, fetched_at FROM posts
    UNION ALL
    SELECT v, 15, fetched_at FROM posts
    WHERE record_type = 'feed_item' AND v[14] ->> '$' = 'app.bsky.feed.defs#reasonRepost'
    UNION ALL
    SELECT v, 19, fetched_at FROM posts WHERE record_type = 'feed_item'
    UNION ALL
    SELECT v, 23, fetched_at FROM posts WHERE record_type = 'feed_item'
    UNION ALL
    SELECT v, CASE v[1] ->> '$'
               WHEN 'app.bsky.embed.record#view' THEN 6
               WHEN 'app.bsky.embed.recordWithMedia#view' THEN 10
           END, fetched_at
    FROM posts
),
authors AS (
    SELECT v[k] ->> '$' AS did, v[k + 1] ->> '$' AS handle, v[k + 2] ->> '$' AS display_name,
           v[k + 3] ->> '$' AS created_at, fetched_at
    FROM embedded
)
SELECT * FROM profiles
UNION ALL
SELECT
    'bluesky:' || did AS account_id,
    'bluesky' AS platform,
    canonical_host(account_handle(handle, NULL)) AS handle,
    display_name,
    CAST(NULL AS VARCHAR) AS bio,
    CAST(NULL AS BIGINT) AS followers,
    CAST(NULL AS BIGINT) AS following,
    safe_timestamp(created_at) AS created_at,
    fetched_at,
    0 AS detail
FROM authors
WHERE did IS NOT NULL AND handle IS NOT NULL
