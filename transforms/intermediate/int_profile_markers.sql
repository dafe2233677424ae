-- One row per (group, account, marker) where an account's display name or bio carries one of
-- the group's configured bio markers (whole word, case-insensitive; an emoji anywhere).
-- grain: group_id, account_id, marker
-- not_null: group_id, account_id, marker
SELECT DISTINCT t.group_id, a.account_id, t.term AS marker
FROM stg_accounts AS a
JOIN cfg_group_terms AS t
    ON t.kind = 'bio_marker' AND contains_term(a.profile_text, t.term)
