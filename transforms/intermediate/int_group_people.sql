-- One row per (group, period bucket, active member person): each person once per calendar period
-- (agg_member_activity) and once for 'all' over every period, since a person active in two periods
-- is one member of the whole range. posts: their member posts in the bucket. Both marts count
-- members_active from it. Rebuilt whole each run: people x periods, a small table.
-- grain: group_id, period, person_id
-- not_null: group_id, period, person_id, posts
SELECT group_id, period, person_id, posts FROM agg_member_activity
UNION ALL
SELECT group_id, 'all' AS period, person_id, sum(posts)::BIGINT AS posts
FROM agg_member_activity
GROUP BY group_id, person_id
