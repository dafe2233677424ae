-- One row per (member post, group): the posts of each group's member accounts, with the author's
-- person, the post's calendar period and what the marts count of it, so the period aggregates
-- (agg_*) sum columns instead of re-reading texts and links. Per post and group:
-- * links: its rows in stg_post_links; own_links: those that are the group's own (int_own_links).
-- * reposts_official: a repost of one of the group's official accounts; own_share: that, or a post
--   with an own link; uncritical_share: an own share adding no commentary (a pure repost, a bare
--   share, or text that equals the title of one of the group's own articles it links to).
-- * in_group_ties, out_group_ties: the distinct accounts it interacts with, inside the group (a
--   member or official account of it) or not.
-- * tokens: words of clean_text; jargon_occurrences: the group's jargon terms found among them.
-- * text_key: md5 of the lower-cased clean_text of a non-repost with text (NULL otherwise), the
--   key boilerplate compares: 128 bits, so two different texts sharing one is not a practical case.
-- incremental: post_id
-- grain: post_id, group_id
-- not_null: post_id, group_id, person_id, author_id, period, kind, links, own_links, is_repost
-- not_null: reposts_official, own_share, uncritical_share, in_group_ties, out_group_ties, tokens
-- not_null: jargon_occurrences
-- check: own_links <= links AND uncritical_share <= own_share AND reposts_official <= is_repost
WITH member_posts AS (
    SELECT m.group_id, m.person_id, p.*
    FROM stg_posts AS p
    JOIN group_members AS m ON m.account_id = p.author_id
),
links AS (
    SELECT
        mp.post_id,
        mp.group_id,
        count(*) AS links,
        count(o.url) AS own_links,
        coalesce(bool_or(o.is_article AND o.article_title_key = lower(mp.text_no_urls)), false) AS copies_article
    FROM member_posts AS mp
    JOIN stg_post_links AS l ON l.post_id = mp.post_id
    LEFT JOIN int_own_links AS o ON o.post_id = l.post_id AND o.url = l.url AND o.group_id = mp.group_id
    GROUP BY mp.post_id, mp.group_id
),
ties AS (
    SELECT
        t.post_id,
        t.group_id,
        count(*) FILTER (WHERE ag.account_id IS NOT NULL) AS in_group_ties,
        count(*) FILTER (WHERE ag.account_id IS NULL) AS out_group_ties
    FROM (
        -- a post counts once per target account whatever the kinds joining them
        SELECT DISTINCT mp.group_id, i.post_id, i.target_id
        FROM member_posts AS mp
        JOIN int_interactions AS i ON i.post_id = mp.post_id
    ) AS t
    LEFT JOIN int_account_groups AS ag ON ag.account_id = t.target_id AND ag.group_id = t.group_id
    GROUP BY t.post_id, t.group_id
),
post_tokens AS (
    SELECT post_id, group_id, word_tokens(clean_text) AS tokens
    FROM member_posts
),
jargon_terms AS (
    SELECT DISTINCT group_id, word_tokens(term) AS term_tokens
    FROM cfg_group_terms
    WHERE kind = 'jargon' AND len(word_tokens(term)) > 0
),
jargon AS (
    SELECT
        t.post_id,
        t.group_id,
        sum(count_occurrences(token_key(t.tokens), token_key(j.term_tokens)))::BIGINT AS jargon_occurrences
    FROM post_tokens AS t
    JOIN jargon_terms AS j ON j.group_id = t.group_id AND list_contains(t.tokens, j.term_tokens[1])
    GROUP BY t.post_id, t.group_id
),
flags AS (
    SELECT
        mp.post_id,
        mp.group_id,
        mp.person_id,
        mp.author_id,
        mp.period,
        mp.kind,
        coalesce(l.links, 0) AS links,
        coalesce(l.own_links, 0) AS own_links,
        mp.kind = 'repost' AS is_repost,
        mp.kind = 'repost' AND o.account_id IS NOT NULL AS reposts_official,
        coalesce(l.own_links, 0) > 0 AS has_own_link,
        mp.kind = 'repost' OR mp.is_bare_share OR coalesce(l.copies_article, false) AS no_commentary,
        len(t.tokens)::BIGINT AS tokens,
        coalesce(j.jargon_occurrences, 0) AS jargon_occurrences,
        coalesce(ti.in_group_ties, 0) AS in_group_ties,
        coalesce(ti.out_group_ties, 0) AS out_group_ties,
        CASE WHEN mp.kind <> 'repost' AND mp.clean_text <> '' THEN md5_number(lower(mp.clean_text)) END AS text_key
    FROM member_posts AS mp
    JOIN post_tokens AS t ON t.post_id = mp.post_id AND t.group_id = mp.group_id
    LEFT JOIN int_official_accounts AS o ON o.group_id = mp.group_id AND o.account_id = mp.repost_of_author_id
    LEFT JOIN links AS l ON l.post_id = mp.post_id AND l.group_id = mp.group_id
    LEFT JOIN ties AS ti ON ti.post_id = mp.post_id AND ti.group_id = mp.group_id
    LEFT JOIN jargon AS j ON j.post_id = mp.post_id AND j.group_id = mp.group_id
)
SELECT
    post_id, group_id, person_id, author_id, period, kind, links, own_links, is_repost, reposts_official,
    reposts_official OR has_own_link AS own_share,
    (reposts_official OR has_own_link) AND no_commentary AS uncritical_share,
    in_group_ties, out_group_ties, tokens, jargon_occurrences, text_key
FROM flags
