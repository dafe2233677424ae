-- One row per (group, calendar period, normalised text, member person): who posted which text
-- (non-reposts with text, by int_member_posts.text_key) and how often. Boilerplate is a text
-- posted by two different people of the group in the same bucket; for 'all' the marts count the
-- distinct people of a text over every period of this table.
-- incremental: period
-- grain: group_id, period, text_key, person_id
-- not_null: group_id, period, text_key, person_id, posts
-- check: posts > 0
SELECT group_id, period, text_key, person_id, count(*) AS posts
FROM int_member_posts
WHERE text_key IS NOT NULL
GROUP BY group_id, period, text_key, person_id
