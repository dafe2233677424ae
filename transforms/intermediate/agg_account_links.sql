-- One row per (group, calendar period, account) for every account (member or not) with links in
-- the period: its links and how many of them are this group's own sources (int_own_links). An
-- account's leaning towards the group is own_links / links; for 'all' both are summed over periods.
-- incremental: period
-- grain: group_id, period, account_id
-- not_null: group_id, period, account_id, links, own_links
-- check: own_links <= links AND links > 0
SELECT
    g.group_id,
    p.period,
    p.author_id AS account_id,
    count(*) AS links,
    count(o.url) AS own_links
FROM stg_posts AS p
JOIN stg_post_links AS l ON l.post_id = p.post_id
CROSS JOIN cfg_groups AS g
LEFT JOIN int_own_links AS o ON o.post_id = l.post_id AND o.url = l.url AND o.group_id = g.group_id
GROUP BY g.group_id, p.period, p.author_id
