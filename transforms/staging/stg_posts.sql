-- One row per post (the latest fetch wins), with its calendar period and cleaned texts:
-- text_no_urls (URLs removed, whitespace folded) to tell a bare share from commentary, and
-- clean_text (URLs and @mentions removed too) for name matching, tokens and boilerplate, so a
-- handle like '@orga' or a URL like 'https://orga.example' never reads as naming 'OrgA'.
-- is_bare_share: the text adds nothing of the author's own: empty once URLs are removed, or just
-- the shared link's card title (case-insensitive, whitespace folded).
-- incremental: post_id
-- grain: post_id
-- not_null: post_id, author_id, created_at, kind, period, period_start, text, text_no_urls, clean_text
-- not_null: is_bare_share
-- accepted: kind post reply repost quote
SELECT
    p.post_id,
    p.platform,
    p.author_id,
    p.created_at,
    coalesce(p.text, '') AS text,
    p.kind,
    p.reply_to_post_id,
    p.reply_to_author_id,
    p.repost_of_post_id,
    p.repost_of_author_id,
    p.quote_of_post_id,
    p.quote_of_author_id,
    p.link_title,
    period_label(p.created_at, s.period_unit) AS period,
    period_start(p.created_at, s.period_unit) AS period_start,
    fold_ws(strip_urls(p.text)) AS text_no_urls,
    fold_ws(strip_mentions(strip_urls(p.text))) AS clean_text,
    fold_ws(strip_urls(p.text)) = ''
        OR coalesce(lower(fold_ws(strip_urls(p.text))) = lower(fold_ws(p.link_title)), false) AS is_bare_share
FROM posts AS p
CROSS JOIN cfg_settings AS s
QUALIFY row_number() OVER (PARTITION BY p.post_id ORDER BY p.fetched_at DESC NULLS LAST) = 1
