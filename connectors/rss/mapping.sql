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
-- each payload parsed once: the values used below read by path (`v[i] ->> '$'` is what
-- `j -> 'entry' ->> 'link'` was)
WITH entries AS (
    SELECT
        r.source,
        r.fetched_at,
        json_extract(r.payload, [
            '$.group', '$.entry.link', '$.entry.id', '$.entry.title', '$.entry.published', '$.entry.updated',
            '$.feed_url'
        ]) AS v
    FROM raw AS r
    WHERE r.record_type = 'entry'
)
SELECT
    v[1] ->> '$' AS group_id,
    coalesce(
        v[2] ->> '$',
        CASE WHEN regexp_matches(v[3] ->> '$', '^(?i)https?://') THEN v[3] ->> '$' END
    ) AS url,
    v[4] ->> '$' AS title,
    -- TRY, inside the years 1-9999 (safe_timestamp): a CAST raises on a date it cannot read, and one
    -- such entry in raw (an older collector, a hand-made lake) would stop the whole normalise. An
    -- unreadable date is NULL and the article still lands, as the connector lands an undated entry
    coalesce(safe_timestamp(v[5] ->> '$'), safe_timestamp(v[6] ->> '$')) AS published_at,
    v[7] ->> '$' AS feed_url,
    source,
    fetched_at
FROM entries
