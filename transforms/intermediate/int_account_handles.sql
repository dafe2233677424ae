-- One row per (platform, handle, account id) seen in a profile or in a mention: how a
-- configured 'platform:handle' resolves to an account id. Mentions help where a profile was
-- never fetched (a Bluesky handle only resolves to its DID through data).
-- grain: platform, handle, account_id
-- not_null: platform, handle, account_id
SELECT DISTINCT platform, handle, account_id
FROM stg_accounts
WHERE handle IS NOT NULL AND handle <> ''
UNION
SELECT DISTINCT split_part(account_id, ':', 1) AS platform, handle, account_id
FROM stg_post_mentions
WHERE account_id IS NOT NULL AND handle IS NOT NULL AND handle <> ''
