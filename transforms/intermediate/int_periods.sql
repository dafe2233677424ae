-- One row per period label in the data, plus 'all' (the whole range; period_start NULL).
-- Marts use it as their spine: a group without posts in a period still gets a row of zeros.
-- grain: period
-- not_null: period
SELECT DISTINCT period, period_start FROM stg_posts
UNION ALL
SELECT 'all' AS period, NULL::DATE AS period_start
