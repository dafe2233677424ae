-- One row per official account of a group, resolved to an account id. A handle seen nowhere
-- in the data falls back to 'platform:handle', which is the id itself for Mastodon
-- ('mastodon:orga@social.example') and for a Bluesky DID given in the config.
-- grain: group_id, account_id
-- not_null: group_id, account_id, platform, handle
SELECT DISTINCT
    c.group_id,
    coalesce(h.account_id, c.platform || ':' || c.handle) AS account_id,
    c.platform,
    c.handle
FROM cfg_group_accounts AS c
LEFT JOIN int_account_handles AS h ON h.platform = c.platform AND h.handle = c.handle
