-- One row per distinct (post, link). domain is the registered domain ('org-a.example'), falling
-- back to the URL's host; host is the URL's host without 'www.' ('news.org-a.example'), so a
-- configured subdomain can be matched too.
-- incremental: post_id
-- grain: post_id, url
-- not_null: post_id, url, domain
WITH hosts AS (
    SELECT
        post_id,
        url,
        nullif(lower(trim(domain)), '') AS domain,
        nullif(regexp_replace(
            lower(regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^/:?#]+)', 1)),
            '^www\.', ''), '') AS host
    FROM post_links
    WHERE post_id IS NOT NULL AND url IS NOT NULL
)
SELECT DISTINCT post_id, url, coalesce(domain, host, url) AS domain, host
FROM hosts
