-- One row per (post, interaction kind, target account): replies, reposts, quotes and mentions,
-- from the post's author to the account replied to, reposted, quoted or mentioned. An account
-- interacting with itself (a thread of self-replies) is no tie and is left out.
-- incremental: post_id
-- grain: post_id, kind, target_id
-- not_null: post_id, source_id, target_id, kind, period
-- accepted: kind reply repost quote mention
WITH edges AS (
    SELECT post_id, author_id AS source_id, reply_to_author_id AS target_id, 'reply' AS kind, period
    FROM stg_posts WHERE reply_to_author_id IS NOT NULL
    UNION ALL
    SELECT post_id, author_id, repost_of_author_id, 'repost', period
    FROM stg_posts WHERE repost_of_author_id IS NOT NULL
    UNION ALL
    SELECT post_id, author_id, quote_of_author_id, 'quote', period
    FROM stg_posts WHERE quote_of_author_id IS NOT NULL
    UNION ALL
    SELECT p.post_id, p.author_id, m.account_id, 'mention', p.period
    FROM stg_posts AS p JOIN stg_post_mentions AS m ON m.post_id = p.post_id
    WHERE m.account_id IS NOT NULL
)
SELECT DISTINCT post_id, source_id, target_id, kind, period
FROM edges
WHERE source_id <> target_id
