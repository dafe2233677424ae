-- One row per (group, calendar period, member account, account it interacted with): the distinct
-- neighbours of each member account in the period (any interaction kind). A distinct-key table:
-- the neighbours for 'all' are the distinct pairs over every period.
-- incremental: period
-- grain: group_id, period, account_id, target_id
-- not_null: group_id, period, account_id, target_id
SELECT DISTINCT mp.group_id, mp.period, mp.author_id AS account_id, i.target_id
FROM int_member_posts AS mp
JOIN int_interactions AS i ON i.post_id = mp.post_id
