-- One row per (group, period): how closed the group's members' communication is (METRICS.md).
-- Every proportion has its numerator, denominator and Wilson 95% bounds (_lo, _hi); a ratio with
-- a zero denominator is NULL. Decisions where METRICS.md leaves room:
-- * links: rows of post_links in member posts; a pure repost carries no links of its own.
--   own_links: links whose registered domain or host is a configured domain (or a subdomain), or
--   that are one of the group's own articles (org_articles, from the group's RSS/Atom feeds) even
--   when the article's domain is not a configured one.
-- * own_shares: member posts that repost an official account or link to an own source (as above);
--   uncritical_shares: those adding no commentary: a pure repost, or text with URLs removed that
--   is empty or equals the link card title, or equals the title of one of the group's own articles
--   the post links to (both comparisons case-insensitive, whitespace folded). The article rule
--   matters where a platform gives no link card (a copied headline is not commentary).
-- * domain_entropy_norm = H / log2(domains), NULL with fewer than two domains (evenness of one
--   category is undefined); domain_hhi is 1 then.
-- * ties: a post counts once per (post, target account) whatever the kinds joining them (a reply
--   that also @mentions its target is one tie). In-group: the target is a member or official
--   account of this group. Self-interactions are not ties.
-- * identity_marker_members: active members (people) with a configured bio marker in the display
--   name or bio of any of their accounts; denominator members_active. With bio inference on,
--   bio-inferred members carry a marker by construction; restrict to listed members in
--   group_members for a test of the claim.
-- * tokens: words ([letters digits _]+, lower case) of member post texts with URLs and @handles
--   removed; jargon term occurrences are whole-token-sequence matches (multi-word terms allowed;
--   every configured term counted on its own).
-- * boilerplate: among member posts with non-empty normalised text (reposts excluded), those whose
--   normalised text equals a post by a different member person of the group in the same period.
-- * leaning_neighbour_corr: over member accounts (the interaction graph is between accounts)
--   with links in the period: x = share of the account's links to this group's domains, y = mean of
--   the same share over the distinct accounts it interacted with that have links in the period.
--   NULL unless both x and y vary; leaning_accounts is the number of (x, y) pairs.
-- grain: group_id, period
-- not_null: group_id, period, members_active, posts, link_posts, links, own_links, reposts
-- not_null: official_reposts, own_shares, uncritical_shares, domains, in_group_ties, out_group_ties
-- not_null: identity_marker_members, tokens, jargon_occurrences, text_posts, boilerplate_posts
-- not_null: leaning_accounts
-- range: own_source_share 0 1; official_repost_share 0 1; uncritical_share_rate 0 1; in_group_share 0 1
-- range: identity_marker_share 0 1; boilerplate_share 0 1; domain_entropy_norm 0 1; domain_hhi 0 1
-- range: domain_entropy_bits 0 inf; ei_index -1 1; leaning_neighbour_corr -1 1; jargon_per_1k_tokens 0 inf
-- range: own_source_share_lo 0 1; own_source_share_hi 0 1; in_group_share_lo 0 1; in_group_share_hi 0 1
-- check: own_links <= links AND link_posts <= posts AND official_reposts <= reposts
-- check: uncritical_shares <= own_shares AND boilerplate_posts <= text_posts
-- check: identity_marker_members <= members_active
-- check: (links = 0) = (own_source_share IS NULL)
WITH spine AS (
    SELECT g.group_id, p.period, p.period_start
    FROM cfg_groups AS g CROSS JOIN int_periods AS p
),
activity AS (
    SELECT group_id, period, count(DISTINCT person_id) AS members_active, count(DISTINCT post_id) AS posts
    FROM int_member_posts
    GROUP BY group_id, period
),
member_links AS (
    SELECT mp.group_id, mp.period, mp.post_id, l.url, l.domain, o.url IS NOT NULL AS is_own
    FROM int_member_posts AS mp
    JOIN stg_post_links AS l ON l.post_id = mp.post_id
    LEFT JOIN int_own_links AS o ON o.post_id = l.post_id AND o.url = l.url AND o.group_id = mp.group_id
),
link_stats AS (
    SELECT
        group_id,
        period,
        count(DISTINCT post_id) AS link_posts,
        count(*) AS links,
        count(*) FILTER (WHERE is_own) AS own_links,
        count(DISTINCT domain) AS domains
    FROM member_links
    GROUP BY group_id, period
),
domain_counts AS (
    SELECT group_id, period, domain, count(*) AS n, sum(count(*)) OVER (PARTITION BY group_id, period) AS total
    FROM member_links
    GROUP BY group_id, period, domain
),
domain_stats AS (
    -- Floating-point sums run in a fixed order (ORDER BY) so a rebuild gives the same bits, and
    -- '0.0 - sum' rather than '-sum' so a single domain gives 0.0, not -0.0. HHI is exact: integers.
    SELECT
        group_id,
        period,
        0.0 - sum(p_log2_p(n / total) ORDER BY domain) AS entropy_bits,
        sum(n * n)::DOUBLE / (max(total) * max(total)) AS hhi
    FROM domain_counts
    GROUP BY group_id, period
),
post_flags AS (
    SELECT
        mp.group_id,
        mp.period,
        mp.post_id,
        mp.kind = 'repost' AS is_repost,
        mp.kind = 'repost' AND o.account_id IS NOT NULL AS reposts_official,
        EXISTS (SELECT 1 FROM int_own_links AS ol WHERE ol.post_id = mp.post_id AND ol.group_id = mp.group_id)
            AS has_own_link,
        mp.kind = 'repost' OR mp.is_bare_share OR EXISTS (
            SELECT 1 FROM int_own_links AS oa
            WHERE oa.post_id = mp.post_id AND oa.group_id = mp.group_id AND oa.is_article
              AND oa.article_title_key = lower(mp.text_no_urls)
        ) AS no_commentary
    FROM int_member_posts AS mp
    LEFT JOIN int_official_accounts AS o ON o.group_id = mp.group_id AND o.account_id = mp.repost_of_author_id
),
share_stats AS (
    SELECT
        group_id,
        period,
        count(*) FILTER (WHERE is_repost) AS reposts,
        count(*) FILTER (WHERE reposts_official) AS official_reposts,
        count(*) FILTER (WHERE reposts_official OR has_own_link) AS own_shares,
        count(*) FILTER (WHERE (reposts_official OR has_own_link) AND no_commentary) AS uncritical_shares
    FROM post_flags
    GROUP BY group_id, period
),
ties AS (
    SELECT DISTINCT mp.group_id, mp.period, i.post_id, i.target_id
    FROM int_member_posts AS mp
    JOIN int_interactions AS i ON i.post_id = mp.post_id
),
tie_stats AS (
    SELECT
        t.group_id,
        t.period,
        count(*) FILTER (WHERE ag.account_id IS NOT NULL) AS in_group_ties,
        count(*) FILTER (WHERE ag.account_id IS NULL) AS out_group_ties
    FROM ties AS t
    LEFT JOIN int_account_groups AS ag ON ag.account_id = t.target_id AND ag.group_id = t.group_id
    GROUP BY t.group_id, t.period
),
marked_people AS (
    SELECT DISTINCT m.group_id, m.person_id
    FROM group_members AS m
    JOIN int_profile_markers AS k ON k.group_id = m.group_id AND k.account_id = m.account_id
),
identity_stats AS (
    SELECT mp.group_id, mp.period, count(DISTINCT mp.person_id) AS identity_marker_members
    FROM int_member_posts AS mp
    JOIN marked_people AS k ON k.group_id = mp.group_id AND k.person_id = mp.person_id
    GROUP BY mp.group_id, mp.period
),
post_tokens AS (
    SELECT group_id, period, post_id, word_tokens(clean_text) AS tokens
    FROM int_member_posts
),
token_stats AS (
    SELECT group_id, period, sum(len(tokens))::BIGINT AS tokens
    FROM post_tokens
    GROUP BY group_id, period
),
jargon_terms AS (
    SELECT DISTINCT group_id, word_tokens(term) AS term_tokens
    FROM cfg_group_terms
    WHERE kind = 'jargon' AND len(word_tokens(term)) > 0
),
jargon_stats AS (
    SELECT
        t.group_id,
        t.period,
        sum(count_occurrences(token_key(t.tokens), token_key(j.term_tokens)))::BIGINT AS jargon_occurrences
    FROM post_tokens AS t
    JOIN jargon_terms AS j ON j.group_id = t.group_id AND list_contains(t.tokens, j.term_tokens[1])
    GROUP BY t.group_id, t.period
),
normalised AS (
    SELECT group_id, period, post_id, person_id, lower(clean_text) AS norm_text
    FROM int_member_posts
    WHERE kind <> 'repost' AND clean_text <> ''
),
text_people AS (
    SELECT group_id, period, norm_text, count(DISTINCT person_id) AS people
    FROM normalised
    GROUP BY group_id, period, norm_text
),
boilerplate_stats AS (
    SELECT
        n.group_id,
        n.period,
        count(*) AS text_posts,
        count(*) FILTER (WHERE tp.people >= 2) AS boilerplate_posts
    FROM normalised AS n
    JOIN text_people AS tp ON tp.group_id = n.group_id AND tp.period = n.period AND tp.norm_text = n.norm_text
    GROUP BY n.group_id, n.period
),
account_leaning AS (
    SELECT
        g.group_id,
        b.period,
        p.author_id AS account_id,
        count(o.url)::DOUBLE / count(*) AS leaning
    FROM stg_posts AS p
    JOIN stg_post_links AS l ON l.post_id = p.post_id
    JOIN int_post_buckets AS b ON b.post_id = p.post_id
    CROSS JOIN cfg_groups AS g
    LEFT JOIN int_own_links AS o ON o.post_id = l.post_id AND o.url = l.url AND o.group_id = g.group_id
    GROUP BY g.group_id, b.period, p.author_id
),
neighbours AS (
    SELECT DISTINCT mp.group_id, mp.period, mp.author_id AS account_id, i.target_id
    FROM int_member_posts AS mp
    JOIN int_interactions AS i ON i.post_id = mp.post_id
),
neighbour_leaning AS (
    SELECT n.group_id, n.period, n.account_id, avg(al.leaning ORDER BY n.target_id) AS neighbour_leaning
    FROM neighbours AS n
    JOIN account_leaning AS al
        ON al.group_id = n.group_id AND al.period = n.period AND al.account_id = n.target_id
    GROUP BY n.group_id, n.period, n.account_id
),
leaning_stats AS (
    SELECT
        own.group_id,
        own.period,
        count(*) AS leaning_accounts,
        CASE WHEN var_pop(own.leaning ORDER BY own.account_id) > 0
              AND var_pop(nl.neighbour_leaning ORDER BY own.account_id) > 0
             THEN corr(own.leaning, nl.neighbour_leaning ORDER BY own.account_id) END AS leaning_neighbour_corr
    FROM account_leaning AS own
    JOIN neighbour_leaning AS nl
        ON nl.group_id = own.group_id AND nl.period = own.period AND nl.account_id = own.account_id
    GROUP BY own.group_id, own.period
),
counts AS (
    SELECT
        s.group_id,
        s.period,
        s.period_start,
        coalesce(a.members_active, 0) AS members_active,
        coalesce(a.posts, 0) AS posts,
        coalesce(ls.link_posts, 0) AS link_posts,
        coalesce(ls.links, 0) AS links,
        coalesce(ls.own_links, 0) AS own_links,
        coalesce(ss.reposts, 0) AS reposts,
        coalesce(ss.official_reposts, 0) AS official_reposts,
        coalesce(ss.own_shares, 0) AS own_shares,
        coalesce(ss.uncritical_shares, 0) AS uncritical_shares,
        coalesce(ls.domains, 0) AS domains,
        ds.entropy_bits,
        ds.hhi,
        coalesce(ts.in_group_ties, 0) AS in_group_ties,
        coalesce(ts.out_group_ties, 0) AS out_group_ties,
        coalesce(ids.identity_marker_members, 0) AS identity_marker_members,
        coalesce(tk.tokens, 0) AS tokens,
        coalesce(js.jargon_occurrences, 0) AS jargon_occurrences,
        coalesce(bs.text_posts, 0) AS text_posts,
        coalesce(bs.boilerplate_posts, 0) AS boilerplate_posts,
        coalesce(lean.leaning_accounts, 0) AS leaning_accounts,
        lean.leaning_neighbour_corr
    FROM spine AS s
    LEFT JOIN activity AS a ON a.group_id = s.group_id AND a.period = s.period
    LEFT JOIN link_stats AS ls ON ls.group_id = s.group_id AND ls.period = s.period
    LEFT JOIN domain_stats AS ds ON ds.group_id = s.group_id AND ds.period = s.period
    LEFT JOIN share_stats AS ss ON ss.group_id = s.group_id AND ss.period = s.period
    LEFT JOIN tie_stats AS ts ON ts.group_id = s.group_id AND ts.period = s.period
    LEFT JOIN identity_stats AS ids ON ids.group_id = s.group_id AND ids.period = s.period
    LEFT JOIN token_stats AS tk ON tk.group_id = s.group_id AND tk.period = s.period
    LEFT JOIN jargon_stats AS js ON js.group_id = s.group_id AND js.period = s.period
    LEFT JOIN boilerplate_stats AS bs ON bs.group_id = s.group_id AND bs.period = s.period
    LEFT JOIN leaning_stats AS lean ON lean.group_id = s.group_id AND lean.period = s.period
)
SELECT
    group_id,
    period,
    period_start,
    members_active,
    posts,
    link_posts,
    links,
    own_links,
    safe_div(own_links, links) AS own_source_share,
    wilson_lo(own_links, links) AS own_source_share_lo,
    wilson_hi(own_links, links) AS own_source_share_hi,
    reposts,
    official_reposts,
    safe_div(official_reposts, reposts) AS official_repost_share,
    wilson_lo(official_reposts, reposts) AS official_repost_share_lo,
    wilson_hi(official_reposts, reposts) AS official_repost_share_hi,
    own_shares,
    uncritical_shares,
    safe_div(uncritical_shares, own_shares) AS uncritical_share_rate,
    wilson_lo(uncritical_shares, own_shares) AS uncritical_share_rate_lo,
    wilson_hi(uncritical_shares, own_shares) AS uncritical_share_rate_hi,
    domains,
    entropy_bits AS domain_entropy_bits,
    CASE WHEN domains >= 2 THEN entropy_bits / log2(domains) END AS domain_entropy_norm,
    hhi AS domain_hhi,
    in_group_ties,
    out_group_ties,
    safe_div(in_group_ties, in_group_ties + out_group_ties) AS in_group_share,
    wilson_lo(in_group_ties, in_group_ties + out_group_ties) AS in_group_share_lo,
    wilson_hi(in_group_ties, in_group_ties + out_group_ties) AS in_group_share_hi,
    safe_div(out_group_ties - in_group_ties, in_group_ties + out_group_ties) AS ei_index,
    identity_marker_members,
    safe_div(identity_marker_members, members_active) AS identity_marker_share,
    wilson_lo(identity_marker_members, members_active) AS identity_marker_share_lo,
    wilson_hi(identity_marker_members, members_active) AS identity_marker_share_hi,
    tokens,
    jargon_occurrences,
    1000 * safe_div(jargon_occurrences, tokens) AS jargon_per_1k_tokens,
    text_posts,
    boilerplate_posts,
    safe_div(boilerplate_posts, text_posts) AS boilerplate_share,
    wilson_lo(boilerplate_posts, text_posts) AS boilerplate_share_lo,
    wilson_hi(boilerplate_posts, text_posts) AS boilerplate_share_hi,
    leaning_accounts,
    leaning_neighbour_corr
FROM counts
