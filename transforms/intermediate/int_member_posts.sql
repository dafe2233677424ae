-- One row per (member post, group, period bucket): the posts of each group's member accounts,
-- with the author's person, under the post's calendar period and under 'all'.
-- grain: post_id, group_id, period
-- not_null: post_id, group_id, person_id, period
SELECT m.group_id, m.person_id, b.period, p.* EXCLUDE (period)
FROM stg_posts AS p
JOIN group_members AS m ON m.account_id = p.author_id
JOIN int_post_buckets AS b ON b.post_id = p.post_id
