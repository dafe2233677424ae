-- One row per (post, link, group) where the link is the group's own source: its registered domain
-- or host equals a configured domain, or the host is a subdomain of it; or the link is one of the
-- group's own articles from its feeds (stg_org_articles), whatever its domain (an organisation
-- may publish on a campaign site or a platform it does not list as its domain).
-- is_article says the link is one of the group's articles; article_title_key is that article's
-- title folded for comparison with post text (NULL otherwise).
-- incremental: post_id
-- grain: post_id, url, group_id
-- not_null: post_id, url, group_id, is_article
WITH matches AS (
    SELECT l.post_id, l.url, d.group_id, false AS is_article, NULL::VARCHAR AS article_title_key
    FROM stg_post_links AS l
    JOIN cfg_group_domains AS d
        ON l.domain = d.domain OR l.host = d.domain OR ends_with(l.host, '.' || d.domain)
    UNION ALL
    SELECT l.post_id, l.url, a.group_id, true AS is_article, a.title_key AS article_title_key
    FROM stg_post_links AS l
    JOIN stg_org_articles AS a ON a.url = l.url
)
SELECT post_id, url, group_id, bool_or(is_article) AS is_article, max(article_title_key) AS article_title_key
FROM matches
GROUP BY post_id, url, group_id
