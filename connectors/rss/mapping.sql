-- incremental: per-record
-- (every output row comes from one raw record, with no lookup across records: see dissentry/normalise.py)
-- RSS/Atom entry records -> org_articles: one row per article an organisation published
-- (contract: docs/architecture.md; columns: warehouse.schema.ORG_ARTICLES).
--
-- The article's URL is the entry's link, or its id when that is an http(s) URL (an RSS guid with
-- isPermaLink, an Atom id that is the article's address). Normalisation then normalises `url` as
-- it does post links (lower-case host, no 'www.', no tracking parameters, no fragment) and keeps
-- one row per (group_id, url), the latest fetch first, so articles join post_links.url.
-- published_at is the entry's publication date, else its last update.

-- name: org_articles
WITH entries AS (
    SELECT
        r.source,
        r.fetched_at,
        r.payload::JSON AS j
    FROM raw AS r
    WHERE r.record_type = 'entry'
)
SELECT
    j ->> 'group' AS group_id,
    coalesce(
        j -> 'entry' ->> 'link',
        CASE WHEN regexp_matches(j -> 'entry' ->> 'id', '^(?i)https?://') THEN j -> 'entry' ->> 'id' END
    ) AS url,
    j -> 'entry' ->> 'title' AS title,
    coalesce(j -> 'entry' ->> 'published', j -> 'entry' ->> 'updated')::TIMESTAMPTZ AS published_at,
    j ->> 'feed_url' AS feed_url,
    source,
    fetched_at
FROM entries
