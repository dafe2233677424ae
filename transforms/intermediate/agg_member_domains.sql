-- One row per (group, calendar period, link domain) in member posts: how many links go there.
-- The marts sum links per domain over periods for 'all' and compute the domain entropy and HHI of
-- either from these integer counts, in the same order, so 'all' is what one scan would give.
-- incremental: period
-- grain: group_id, period, domain
-- not_null: group_id, period, domain, links
-- check: links > 0
SELECT mp.group_id, mp.period, l.domain, count(*) AS links
FROM int_member_posts AS mp
JOIN stg_post_links AS l ON l.post_id = mp.post_id
GROUP BY mp.group_id, mp.period, l.domain
