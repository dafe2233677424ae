-- One row per member account listed in the configuration, with the person it belongs to
-- ('person:<name>' for a Person, else 'platform:handle'). Resolved like int_official_accounts.
-- grain: group_id, account_id
-- not_null: group_id, account_id, person_id
SELECT
    c.group_id,
    coalesce(h.account_id, c.platform || ':' || c.handle) AS account_id,
    min(c.person_id) AS person_id
FROM cfg_group_members AS c
LEFT JOIN int_account_handles AS h ON h.platform = c.platform AND h.handle = c.handle
GROUP BY ALL
