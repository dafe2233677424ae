-- One row per (post, link, group) where the link points to one of the group's own domains:
-- the registered domain or the host equals a configured domain, or the host is a subdomain of it.
-- grain: post_id, url, group_id
-- not_null: post_id, url, group_id
SELECT DISTINCT l.post_id, l.url, d.group_id
FROM stg_post_links AS l
JOIN cfg_group_domains AS d
    ON l.domain = d.domain OR l.host = d.domain OR ends_with(l.host, '.' || d.domain)
