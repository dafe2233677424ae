-- One row per account (the latest snapshot wins); handle lower case without '@'.
-- profile_text is display name and bio together: identity markers (a flag emoji, the
-- organisation's name) sit in either.
-- grain: account_id
-- not_null: account_id, platform, profile_text
SELECT
    account_id,
    platform,
    lower(ltrim(handle, '@')) AS handle,
    display_name,
    bio,
    coalesce(display_name, '') || chr(10) || coalesce(bio, '') AS profile_text
FROM accounts
QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY fetched_at DESC NULLS LAST) = 1
