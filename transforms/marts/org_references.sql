-- One row per (member post, group) where a member's post references its own organisation:
-- its added text names an alias (the group's name counts as one) or a leader, whole word and
-- case-insensitive (matched on clean_text: URLs and @handles removed, so sharing a link to the
-- organisation's own domain or tagging a handle is not naming it; nor is a bare share whose only
-- text is the shared link's title: those are not the member's words); or it mentions, replies to,
-- or quotes one of the group's official accounts. Pure reposts never reference: the member added
-- nothing (reposting the organisation is amplification, measured in echo_chamber).
-- reference_kind is the first of reference_kinds in the order alias, leader, mention, reply,
-- quote; matched_terms are the names found, official_accounts the official accounts engaged.
-- incremental: post_id
-- grain: post_id, group_id
-- not_null: post_id, group_id, author_id, person_id, created_at, period, reference_kind, reference_kinds
-- accepted: reference_kind alias leader mention reply quote
WITH member_posts AS (
    SELECT p.*, m.group_id, m.person_id
    FROM stg_posts AS p
    JOIN group_members AS m ON m.account_id = p.author_id
    WHERE p.kind <> 'repost'
),
named AS (
    SELECT mp.post_id, mp.group_id, t.kind AS why, t.term AS detail
    FROM member_posts AS mp
    JOIN cfg_group_terms AS t
        ON t.group_id = mp.group_id
        AND t.kind IN ('alias', 'leader')
        AND NOT mp.is_bare_share
        AND contains_term(mp.clean_text, t.term)
),
mentioned AS (
    SELECT mp.post_id, mp.group_id, 'mention' AS why, o.account_id AS detail
    FROM member_posts AS mp
    JOIN stg_post_mentions AS pm ON pm.post_id = mp.post_id
    JOIN int_official_accounts AS o
        ON o.group_id = mp.group_id
        AND (o.account_id = pm.account_id OR (o.platform = mp.platform AND o.handle = pm.handle))
),
replied AS (
    SELECT mp.post_id, mp.group_id, 'reply' AS why, o.account_id AS detail
    FROM member_posts AS mp
    JOIN int_official_accounts AS o ON o.group_id = mp.group_id AND o.account_id = mp.reply_to_author_id
),
quoted AS (
    SELECT mp.post_id, mp.group_id, 'quote' AS why, o.account_id AS detail
    FROM member_posts AS mp
    JOIN int_official_accounts AS o ON o.group_id = mp.group_id AND o.account_id = mp.quote_of_author_id
),
reasons AS (
    SELECT DISTINCT post_id, group_id, why, detail,
           CASE why WHEN 'alias' THEN 1 WHEN 'leader' THEN 2 WHEN 'mention' THEN 3 WHEN 'reply' THEN 4 ELSE 5 END
               AS why_rank
    FROM (
        SELECT * FROM named
        UNION ALL SELECT * FROM mentioned
        UNION ALL SELECT * FROM replied
        UNION ALL SELECT * FROM quoted
    ) AS r
),
per_post AS (
    SELECT
        post_id,
        group_id,
        list_transform(list(DISTINCT why_rank ORDER BY why_rank),
                       lambda k: ['alias', 'leader', 'mention', 'reply', 'quote'][k]) AS reference_kinds,
        list(DISTINCT detail ORDER BY detail) FILTER (WHERE why IN ('alias', 'leader')) AS matched_terms,
        list(DISTINCT detail ORDER BY detail) FILTER (WHERE why IN ('mention', 'reply', 'quote'))
            AS official_accounts
    FROM reasons
    GROUP BY post_id, group_id
)
SELECT
    mp.post_id,
    mp.group_id,
    mp.author_id,
    mp.person_id,
    mp.platform,
    mp.created_at,
    mp.period,
    mp.kind AS post_kind,
    r.reference_kinds[1] AS reference_kind,
    r.reference_kinds,
    coalesce(r.matched_terms, []) AS matched_terms,
    coalesce(r.official_accounts, []) AS official_accounts
FROM per_post AS r
JOIN member_posts AS mp ON mp.post_id = r.post_id AND mp.group_id = r.group_id
