-- One row per (group, member account): who belongs to which group, as which person, and why.
-- person_id: the configured Person ('person:<name>') or 'platform:handle' for a listed account;
-- an inferred account is its own person (person_id = account_id). Member figures in the other
-- marts count distinct person_id, so a Person with accounts on two platforms counts once.
-- evidence: the strongest reason (listed > bio_marker > amplifies_official); evidence_all keeps
-- every reason, so analyses can restrict to listed members (is_listed). bio_markers_found is
-- filled whether or not bio inference is on; official_reposts counts reposts of the group's
-- official accounts over the whole range. Official accounts are never members.
-- grain: group_id, account_id
-- not_null: group_id, account_id, person_id, platform, evidence, evidence_all, is_listed, official_reposts
-- accepted: evidence listed bio_marker amplifies_official
-- check: official_reposts >= 0
WITH evidence AS (
    SELECT
        group_id,
        account_id,
        min(person_id) FILTER (WHERE evidence = 'listed') AS listed_person_id,
        list(evidence ORDER BY CASE evidence WHEN 'listed' THEN 1 WHEN 'bio_marker' THEN 2 ELSE 3 END)
            AS evidence_all,
        bool_or(evidence = 'listed') AS is_listed
    FROM int_memberships
    GROUP BY group_id, account_id
),
markers AS (
    SELECT group_id, account_id, list(marker ORDER BY marker) AS bio_markers_found
    FROM int_profile_markers
    GROUP BY group_id, account_id
),
amplification AS (
    SELECT o.group_id, p.author_id AS account_id, count(*) AS official_reposts
    FROM stg_posts AS p
    JOIN int_official_accounts AS o ON p.kind = 'repost' AND p.repost_of_author_id = o.account_id
    GROUP BY o.group_id, p.author_id
)
SELECT
    e.group_id,
    e.account_id,
    coalesce(e.listed_person_id, e.account_id) AS person_id,
    coalesce(a.platform, split_part(e.account_id, ':', 1)) AS platform,
    a.handle,
    e.evidence_all[1] AS evidence,
    e.evidence_all,
    e.is_listed,
    k.bio_markers_found,
    coalesce(r.official_reposts, 0) AS official_reposts
FROM evidence AS e
LEFT JOIN stg_accounts AS a ON a.account_id = e.account_id
LEFT JOIN markers AS k ON k.group_id = e.group_id AND k.account_id = e.account_id
LEFT JOIN amplification AS r ON r.group_id = e.group_id AND r.account_id = e.account_id
