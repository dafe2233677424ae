-- incremental: per-record
-- (every output row comes from one raw record, with no lookup across records: see dissentry/normalise.py)
-- Facebook export posts -> the canonical posts and accounts (contract: docs/architecture.md).
--
-- A raw record is `{"owner": {"name", "slug"}, "post": <one post of the export>}` (see connector.py).
-- post_id 'facebook:' || record_id (= owner slug ':' timestamp [':' n]); author 'facebook:' || owner slug.
-- text: the post's own words, the `data[].post` strings; links: `attachments[].data[].external_context.url`
-- plus URLs typed in the text; link_title: the first external_context `name`.
--
-- Kind. The export says what a post is only in its English `title`:
-- * "<owner> shared <Name>'s post." (or video, photo, reel, link, ...) shares another person's post:
--   with no words of the owner's own it is a 'repost', with words a 'quote'; the other person is
--   'facebook:' || slug(Name) (the same slug the connector gives owners). The export names no id for
--   the shared post, so repost_of_post_id / quote_of_post_id stay NULL. Like a Mastodon boost, a pure
--   repost carries no links of its own (the attachment is the shared post's); a quote keeps only
--   URLs typed in its own text.
-- * everything else is a 'post': "shared a link." (the link is the owner's own share), "shared a
--   post." (no one else named), "shared a memory.", "wrote on <Name>'s timeline.", and any title
--   in another language, since the export's titles follow the account's language.
-- People tagged (`tags[].name`) are the post's mentions, with the same slug handles.
-- Exports hold no post URLs, languages or counts: those columns are NULL.

-- name: posts
WITH
-- Each payload is parsed once: one json_extract reads the values used below, by path, into `v`
-- (`v[i] ->> '$'` is what `payload::JSON -> 'owner' ->> 'slug'` was, a number spelt alike), and the
-- lists go to the same from_json as before.
records AS (
    SELECT
        r.record_id, r.source, r.fetched_at, r.run_id, r.payload, v,
        v[1] ->> '$' AS owner_slug,
        v[2] ->> '$' AS owner_name
    FROM raw AS r, (SELECT json_extract(r.payload, [
        '$.owner.slug', '$.owner.name', '$.post.data', '$.post.attachments', '$.post.title', '$.post.timestamp',
        '$.post.tags'
    ]) AS v)
    WHERE r.record_type = 'post'
),
parts AS (
    SELECT
        *,
        coalesce(array_to_string(list_filter(
            list_transform(from_json(v[3], '[{"post": "VARCHAR"}]'), lambda d: d.post),
            lambda t: t IS NOT NULL AND t <> ''
        ), chr(10) || chr(10)), '') AS own_text,
        -- the shared things: {url (NULL when it is none), name}. Some exports write a url without
        -- its scheme (a bare 'facebook.com' for a page or group share); it is the same link over https.
        flatten(coalesce(list_transform(
            from_json(v[4], '[{"data": [{"external_context": {"url": "VARCHAR", "name": "VARCHAR"}}]}]'),
            lambda a: list_filter(
                list_transform(
                    list_filter(list_transform(coalesce(a.data, []), lambda d: d.external_context),
                                lambda e: e IS NOT NULL),
                    lambda e: {
                        'url': CASE
                            WHEN regexp_matches(trim(coalesce(e.url, '')), '^https?://') THEN trim(e.url)
                            WHEN regexp_matches(trim(coalesce(e.url, '')),
                                                '^(?:[\pL\pN-]+\.)+\pL[\pL\pN-]*(?:[/?#][^\s]*)?$')
                                THEN 'https://' || trim(e.url)
                        END,
                        'name': nullif(trim(e.name), '')
                    }
                ),
                lambda e: e.url IS NOT NULL OR e.name IS NOT NULL
            )
        ), [])) AS contexts,
        nullif(trim(regexp_extract(
            coalesce(v[5] ->> '$', ''),
            ' shared (.+)[''’]s? (?:post|video|photo|photos|reel|live video|link|album|note|event|story|status)\.?$', 1
        )), '') AS shared_name,
        -- seconds since 1970, read only inside the years 1-9999 (safe_timestamp's range): CAST and
        -- to_timestamp raise on a value they cannot hold, and one such post in raw (written before the
        -- connector checked the range) would stop the whole normalise. NULL drops the post (below)
        to_timestamp(CASE WHEN TRY_CAST(v[6] ->> '$' AS BIGINT) >= -62135596800
                           AND TRY_CAST(v[6] ->> '$' AS BIGINT) < 253402214400
                          THEN TRY_CAST(v[6] ->> '$' AS BIGINT) END) AS created_at
    FROM records
),
shaped AS (
    SELECT
        *,
        CASE WHEN shared_name IS NOT NULL AND shared_name <> owner_name
            THEN trim(regexp_replace(lower(clean_text(shared_name)), '[^\pL\pN]+', '-', 'g'), '-') END
            AS shared_slug,
        list_transform(
            regexp_extract_all(own_text, 'https?://[^\s<>"]+'),
            lambda u: rtrim(u, '.,;:!?)]}''')
        ) AS text_links
    FROM parts
)
SELECT
    'facebook:' || record_id AS post_id,
    'facebook' AS platform,
    'facebook:' || owner_slug AS author_id,
    created_at,
    own_text AS text,
    CAST(NULL AS VARCHAR) AS lang,
    CAST(NULL AS VARCHAR) AS url,
    CASE
        WHEN nullif(shared_slug, '') IS NULL THEN 'post'
        WHEN own_text = '' THEN 'repost'
        ELSE 'quote'
    END AS kind,
    CAST(NULL AS VARCHAR) AS reply_to_post_id,
    CAST(NULL AS VARCHAR) AS reply_to_author_id,
    CAST(NULL AS VARCHAR) AS repost_of_post_id,
    CASE WHEN nullif(shared_slug, '') IS NOT NULL AND own_text = '' THEN 'facebook:' || shared_slug END
        AS repost_of_author_id,
    CAST(NULL AS VARCHAR) AS quote_of_post_id,
    CASE WHEN nullif(shared_slug, '') IS NOT NULL AND own_text <> '' THEN 'facebook:' || shared_slug END
        AS quote_of_author_id,
    CASE WHEN nullif(shared_slug, '') IS NULL THEN list_filter(contexts, lambda e: e.name IS NOT NULL)[1].name END
        AS link_title,
    CAST(NULL AS BIGINT) AS like_count,
    CAST(NULL AS BIGINT) AS repost_count,
    CAST(NULL AS BIGINT) AS reply_count,
    source, fetched_at, run_id,
    md5(payload) AS version_rank_key,
    list_distinct(
        CASE WHEN nullif(shared_slug, '') IS NULL
            THEN list_filter(list_transform(contexts, lambda e: e.url), lambda u: u IS NOT NULL) ELSE [] END
        || text_links
    ) AS links,
    list_distinct(list_transform(
        list_filter(
            coalesce(from_json(v[7], '[{"name": "VARCHAR"}]'), []),
            lambda t: trim(regexp_replace(lower(clean_text(coalesce(t.name, ''))), '[^\pL\pN]+', '-', 'g'), '-') <> ''
        ),
        lambda t: {
            'account_id': 'facebook:' || trim(regexp_replace(lower(clean_text(t.name)), '[^\pL\pN]+', '-', 'g'), '-'),
            'handle': trim(regexp_replace(lower(clean_text(t.name)), '[^\pL\pN]+', '-', 'g'), '-')
        }
    )) AS mentions,
    list_distinct(list_transform(
        regexp_extract_all(regexp_replace(own_text, 'https?://[^\s<>"]+', ' ', 'g'), '(?:^|[^\pL\pN_&])#([\pL\pN_]+)', 1),
        lambda t: lower(t)
    )) AS hashtags
FROM shaped;

-- name: accounts
-- The owner (detail 1: the export is theirs) and, as partial views (detail 0), the people whose
-- posts they shared, known only by name.
WITH
records AS (   -- parsed once, as in `posts`
    SELECT r.fetched_at, json_extract(r.payload, ['$.owner.slug', '$.owner.name', '$.post.title']) AS v
    FROM raw AS r WHERE r.record_type = 'post'
),
owners AS (
    SELECT v[1] ->> '$' AS handle, v[2] ->> '$' AS display_name, fetched_at, 1 AS detail
    FROM records
),
shared AS (
    SELECT
        nullif(trim(regexp_extract(
            coalesce(v[3] ->> '$', ''),
            ' shared (.+)[''’]s? (?:post|video|photo|photos|reel|live video|link|album|note|event|story|status)\.?$', 1
        )), '') AS display_name,
        v[2] ->> '$' AS owner_name,
        fetched_at
    FROM records
),
people AS (
    SELECT handle, display_name, fetched_at, detail FROM owners
    UNION ALL
    SELECT
        trim(regexp_replace(lower(clean_text(display_name)), '[^\pL\pN]+', '-', 'g'), '-'),
        display_name, fetched_at, 0
    FROM shared
    WHERE display_name IS NOT NULL AND display_name <> owner_name
)
SELECT DISTINCT
    'facebook:' || handle AS account_id,
    'facebook' AS platform,
    handle,
    display_name,
    CAST(NULL AS VARCHAR) AS bio,
    CAST(NULL AS BIGINT) AS followers,
    CAST(NULL AS BIGINT) AS following,
    CAST(NULL AS TIMESTAMPTZ) AS created_at,
    fetched_at,
    detail
FROM people
WHERE coalesce(handle, '') <> '';
