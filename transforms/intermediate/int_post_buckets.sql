-- One row per (post, period bucket): every post under its calendar period and under 'all', so
-- every mart computes per-period and whole-range figures with one GROUP BY.
-- grain: post_id, period
-- not_null: post_id, period
SELECT post_id, period FROM stg_posts
UNION ALL
SELECT post_id, 'all' AS period FROM stg_posts
