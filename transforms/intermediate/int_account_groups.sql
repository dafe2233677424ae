-- One row per (account, group) the account is known to belong to: as an official account
-- (evidence_rank 0) or as a member (1 listed, 2 bio marker, 3 amplification: its strongest
-- evidence). Used to tell in-group from out-group interactions.
-- grain: account_id, group_id
-- not_null: account_id, group_id, is_official, evidence_rank
-- range: evidence_rank 0 3
SELECT account_id, group_id, bool_or(is_official) AS is_official, min(evidence_rank) AS evidence_rank
FROM (
    SELECT account_id, group_id, true AS is_official, 0 AS evidence_rank
    FROM int_official_accounts
    UNION ALL
    SELECT account_id, group_id, false AS is_official,
           CASE evidence WHEN 'listed' THEN 1 WHEN 'bio_marker' THEN 2 ELSE 3 END AS evidence_rank
    FROM int_memberships
) AS a
GROUP BY account_id, group_id
