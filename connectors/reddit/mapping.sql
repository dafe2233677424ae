-- reddit raw records -> the canonical posts and accounts (contract: docs/architecture.md).
--
-- A raw record is one Listing child's `data`: record_type 't3' (a submission) or 't1' (a comment),
-- record_id its fullname ('t3_abc'). reddit ids and usernames are global, so post_id is
-- 'reddit:' || fullname and author_id 'reddit:' || the author's one spelling (usernames are unique
-- and case-insensitive; `account_handle`: NFKC, no zero-width or bidi characters, lower case).
--
-- - A submission is a 'post' whose text is its title, then a blank line and its selftext when it has
--   one. A link post (not `is_self`) shares `url`: a link when it points off reddit (i.redd.it
--   images, v.redd.it videos and reddit galleries are not), with the title as link_title, so a link
--   posted under its headline alone reads as a bare share.
-- - A crosspost (`crosspost_parent`) is a 'repost' of the parent submission; reddit embeds the
--   parent in `crosspost_parent_list`, which becomes a post of its own. link_title is the parent's
--   title, so a crosspost that keeps the title adds nothing of its own.
-- - A comment is a 'reply' to its `parent_id` (a comment or the submission). The parent's author
--   comes from raw when the parent was collected; a top-level comment names its submission's author
--   in `link_author`.
-- - Authors reddit shows as '[deleted]' (account deleted, or the post deleted by its author) cannot
--   be attributed to anyone: such things yield no post (posts.author_id is never NULL) and no
--   account, and a reply to one gets a NULL reply_to_author_id. Bodies reddit replaced by
--   '[removed]' or '[deleted]' count as empty text.
-- - Links come from the anchors of `selftext_html` / `body_html` (reddit's own rendering of the
--   markdown), or, for saved data without them, from URLs in the text; mentions are `u/name` and
--   `/u/name` in the text. reddit has no hashtags and no language field.

-- name: posts
WITH
things AS (
    SELECT r.record_type AS kind, r.record_id AS fullname, r.source, r.fetched_at, r.run_id, r.payload,
           -- parsed once: a STRUCT of every field read below, each as `->>` reads it (a string's
           -- text, any other value's JSON)
           json_transform(r.payload, '{
                "author": "VARCHAR", "title": "VARCHAR", "selftext": "VARCHAR", "body": "VARCHAR",
                "selftext_html": "VARCHAR", "body_html": "VARCHAR", "is_self": "VARCHAR",
                "crosspost_parent": "VARCHAR", "url": "VARCHAR", "created_utc": "VARCHAR",
                "permalink": "VARCHAR", "parent_id": "VARCHAR", "link_id": "VARCHAR",
                "link_author": "VARCHAR", "score": "VARCHAR", "num_crossposts": "VARCHAR",
                "num_comments": "VARCHAR",
                "crosspost_parent_list": [{
                    "name": "VARCHAR", "author": "VARCHAR", "title": "VARCHAR", "selftext": "VARCHAR",
                    "body": "VARCHAR", "selftext_html": "VARCHAR", "body_html": "VARCHAR",
                    "is_self": "VARCHAR", "crosspost_parent": "VARCHAR", "url": "VARCHAR",
                    "created_utc": "VARCHAR", "permalink": "VARCHAR", "parent_id": "VARCHAR",
                    "link_id": "VARCHAR", "link_author": "VARCHAR", "score": "VARCHAR",
                    "num_crossposts": "VARCHAR", "num_comments": "VARCHAR",
                    "crosspost_parent_list": [{"name": "VARCHAR", "title": "VARCHAR", "author": "VARCHAR"}]
                }]
           }') AS d
    FROM raw AS r
    WHERE r.record_type IN ('t1', 't3')
),
crosspost_parents AS (
    -- (a first element that is no object has no name: the name test alone keeps objects only)
    SELECT 't3' AS kind, d.crosspost_parent_list[1].name AS fullname, source, fetched_at, run_id, payload,
           d.crosspost_parent_list[1] AS d
    FROM things
    WHERE kind = 't3'
      AND regexp_matches(coalesce(d.crosspost_parent_list[1].name, ''), '^t3_[0-9a-z]+$')
),
authored AS (
    SELECT *, account_handle(d.author, NULL) AS author  -- one spelling: no look-alikes
    FROM (SELECT * FROM things UNION ALL SELECT * FROM crosspost_parents)
    WHERE coalesce(d.author, '') NOT IN ('', '[deleted]')
),
author_of AS (
    SELECT fullname, arg_max(lower(author), fetched_at) AS author FROM authored GROUP BY fullname
),
fields AS (
    SELECT
        a.*,
        coalesce(a.d.title, '') AS title,
        CASE WHEN coalesce(a.d.selftext, '') IN ('[removed]', '[deleted]') THEN ''
             ELSE coalesce(a.d.selftext, '') END AS selftext,
        CASE WHEN coalesce(a.d.body, '') IN ('[removed]', '[deleted]') THEN ''
             ELSE coalesce(a.d.body, '') END AS body,
        coalesce(a.d.selftext_html, a.d.body_html, '') AS html,
        coalesce(TRY_CAST(a.d.is_self AS BOOLEAN), false) AS is_self,
        CASE WHEN a.kind = 't3' AND regexp_matches(coalesce(a.d.crosspost_parent, ''), '^t3_[0-9a-z]+$')
             THEN a.d.crosspost_parent END AS crosspost_of,
        -- a link that leaves reddit: http(s) and not a reddit, redd.it or reddit media host
        regexp_matches(coalesce(a.d.url, ''), '^https?://')
            AND NOT regexp_matches(lower(regexp_extract(a.d.url, '^https?://([^/:?#]+)', 1)),
                                   '(^|\.)(reddit\.com|redd\.it|redditmedia\.com|redditstatic\.com)$')
            AS url_is_external
    FROM authored AS a
),
texts AS (
    SELECT
        *,
        CASE
            WHEN kind = 't1' THEN body
            WHEN selftext <> '' THEN title || chr(10) || chr(10) || selftext
            ELSE title
        END AS text
    FROM fields
),
linked AS (
    SELECT
        *,
        CASE
            WHEN regexp_matches(html, '<a\s')
                THEN list_transform(
                    regexp_extract_all(html, '<a\s[^>]*?href\s*=\s*"([^"]*)"', 1),
                    lambda h: replace(replace(replace(replace(replace(
                        h, '&lt;', '<'), '&gt;', '>'), '&quot;', '"'), '&#39;', ''''), '&amp;', '&'))
            ELSE list_transform(regexp_extract_all(text, 'https?://[^\s<>()\[\]"]+', 0),
                                lambda u: rtrim(u, '.,;:!?'''))
        END
        || CASE WHEN kind = 't3' AND crosspost_of IS NULL AND NOT is_self THEN [d.url] ELSE [] END
            AS candidate_links
    FROM texts
)
SELECT
    'reddit:' || l.fullname AS post_id,
    'reddit' AS platform,
    'reddit:' || lower(l.author) AS author_id,
    -- seconds to_timestamp can turn into a date (0001-01-01 to 9999-12-30 UTC), else no date: a NaN
    -- or 1e20 in raw an older import kept must not fail the platform's whole normalise
    to_timestamp(CASE WHEN TRY_CAST(l.d.created_utc AS DOUBLE) >= -62135596800
                       AND TRY_CAST(l.d.created_utc AS DOUBLE) < 253402214400
                      THEN TRY_CAST(l.d.created_utc AS DOUBLE) END) AS created_at,
    l.text,
    CAST(NULL AS VARCHAR) AS lang,
    CASE
        WHEN starts_with(l.d.permalink, '/') THEN 'https://www.reddit.com' || (l.d.permalink)
        WHEN regexp_matches(coalesce(l.d.permalink, ''), '^https?://') THEN l.d.permalink
    END AS url,
    CASE WHEN l.kind = 't1' THEN 'reply' WHEN l.crosspost_of IS NOT NULL THEN 'repost' ELSE 'post' END AS kind,
    CASE WHEN l.kind = 't1' THEN 'reddit:' || (l.d.parent_id) END AS reply_to_post_id,
    CASE WHEN l.kind = 't1' THEN 'reddit:' || coalesce(
        parent.author,
        CASE WHEN l.d.parent_id = l.d.link_id
                  AND coalesce(l.d.link_author, '') NOT IN ('', '[deleted]')
             THEN account_handle(l.d.link_author, NULL) END
    ) END AS reply_to_author_id,
    CASE WHEN l.crosspost_of IS NOT NULL THEN 'reddit:' || l.crosspost_of END AS repost_of_post_id,
    CASE WHEN l.crosspost_of IS NOT NULL THEN 'reddit:' || parent.author END AS repost_of_author_id,
    CAST(NULL AS VARCHAR) AS quote_of_post_id,
    CAST(NULL AS VARCHAR) AS quote_of_author_id,
    CASE
        WHEN l.crosspost_of IS NOT NULL THEN l.d.crosspost_parent_list[1].title
        WHEN l.kind = 't3' AND NOT l.is_self AND l.url_is_external THEN l.title
    END AS link_title,
    TRY_CAST(l.d.score AS BIGINT) AS like_count,
    CASE WHEN l.kind = 't3' THEN TRY_CAST(l.d.num_crossposts AS BIGINT) END AS repost_count,
    CASE WHEN l.kind = 't3' THEN TRY_CAST(l.d.num_comments AS BIGINT) END AS reply_count,
    l.source, l.fetched_at, l.run_id,
    md5(l.payload) AS version_rank_key,
    list_distinct(list_filter(
        l.candidate_links,
        lambda u: regexp_matches(coalesce(u, ''), '^https?://')
            AND NOT regexp_matches(lower(regexp_extract(u, '^https?://([^/:?#]+)', 1)),
                                   '(^|\.)(reddit\.com|redd\.it|redditmedia\.com|redditstatic\.com)$')
    )) AS links,
    list_distinct(list_transform(
        regexp_extract_all(l.text, '(?:^|[^A-Za-z0-9_/])/?u/([A-Za-z0-9_-]{3,20})', 1),
        lambda m: {'account_id': 'reddit:' || lower(m), 'handle': lower(m)}
    )) AS mentions,
    CAST([] AS VARCHAR[]) AS hashtags
FROM linked AS l
LEFT JOIN author_of AS parent
    ON parent.fullname = CASE WHEN l.kind = 't1' THEN l.d.parent_id ELSE l.crosspost_of END;

-- name: accounts
-- Listings show only an author's name: every account is a partial view (detail 0).
WITH
things AS (
    SELECT r.fetched_at,
           json_transform(r.payload, '{"author": "VARCHAR", "crosspost_parent_list": [{"author": "VARCHAR"}]}') AS d
    FROM raw AS r WHERE r.record_type IN ('t1', 't3')
),
authors AS (
    SELECT fetched_at, d.author AS author FROM things
    UNION ALL
    SELECT fetched_at, d.crosspost_parent_list[1].author FROM things
)
SELECT DISTINCT
    'reddit:' || account_handle(author, NULL) AS account_id,
    'reddit' AS platform,
    account_handle(author, NULL) AS handle,
    CAST(NULL AS VARCHAR) AS display_name,
    CAST(NULL AS VARCHAR) AS bio,
    CAST(NULL AS BIGINT) AS followers,
    CAST(NULL AS BIGINT) AS following,
    CAST(NULL AS TIMESTAMPTZ) AS created_at,
    fetched_at,
    0 AS detail
FROM authors
WHERE coalesce(author, '') NOT IN ('', '[deleted]');
