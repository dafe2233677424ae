-- One row per distinct (post, mentioned account); handle lower case without '@'.
-- incremental: post_id
-- not_null: post_id
SELECT DISTINCT
    post_id,
    account_id,
    lower(ltrim(handle, '@')) AS handle
FROM post_mentions
WHERE post_id IS NOT NULL AND (account_id IS NOT NULL OR handle IS NOT NULL)
