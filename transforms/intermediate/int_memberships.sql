-- One row per (group, account, evidence): each reason an account counts as a group member.
-- listed: in the configuration. bio_marker: display name or bio carries a group marker (when
-- settings.membership.infer_from_bio). amplifies_official: reposted the group's official
-- accounts at least amplification_min_reposts times over the whole range (when
-- infer_from_amplification). Official accounts of any group are never members. An inferred
-- account is its own person (person_id = account_id).
-- grain: group_id, account_id, evidence
-- not_null: group_id, account_id, person_id, evidence
-- accepted: evidence listed bio_marker amplifies_official
WITH settings AS (
    SELECT * FROM cfg_settings LIMIT 1
),
listed AS (
    SELECT group_id, account_id, person_id, 'listed' AS evidence,
           NULL::VARCHAR[] AS markers, NULL::BIGINT AS official_reposts
    FROM int_listed_members
),
bio AS (
    SELECT group_id, account_id, account_id AS person_id, 'bio_marker' AS evidence,
           list(marker ORDER BY marker) AS markers, NULL::BIGINT AS official_reposts
    FROM int_profile_markers
    WHERE (SELECT infer_from_bio FROM settings)
    GROUP BY group_id, account_id
),
amplification AS (
    SELECT o.group_id, p.author_id AS account_id, p.author_id AS person_id,
           'amplifies_official' AS evidence, NULL::VARCHAR[] AS markers, count(*) AS official_reposts
    FROM stg_posts AS p
    JOIN int_official_accounts AS o ON p.kind = 'repost' AND p.repost_of_author_id = o.account_id
    WHERE (SELECT infer_from_amplification FROM settings)
    GROUP BY o.group_id, p.author_id
    HAVING count(*) >= (SELECT amplification_min_reposts FROM settings)
)
SELECT *
FROM (
    SELECT * FROM listed
    UNION ALL SELECT * FROM bio
    UNION ALL SELECT * FROM amplification
) AS m
WHERE m.account_id NOT IN (SELECT account_id FROM int_official_accounts)
