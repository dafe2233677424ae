-- One row per (group, calendar period, member person) who posted in the period, with their posts.
-- Distinct people are not additive over periods, so the marts count members_active (and who of them
-- carries an identity marker) for 'all' as the distinct person_id over every period of this table.
-- incremental: period
-- grain: group_id, period, person_id
-- not_null: group_id, period, person_id, posts
-- check: posts > 0
SELECT group_id, period, person_id, count(*) AS posts
FROM int_member_posts
GROUP BY group_id, period, person_id
