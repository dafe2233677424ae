-- One row per (group, period): how closed the group's members' communication is (METRICS.md).
-- Every proportion has its numerator, denominator and Wilson 95% bounds (_lo, _hi); a ratio with
-- a zero denominator is NULL. The figures come from the period aggregates (agg_member_*,
-- agg_account_links): a calendar period's row from its own rows, the 'all' row from sums over
-- periods for counts and from the distinct keys over periods for people, texts and neighbours,
-- so no post is read here. Decisions where METRICS.md leaves room:
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
--   normalised text equals a post by a different member person of the group in the same period;
--   for 'all', in any period (agg_member_texts: a text's distinct people over every period).
-- * leaning_neighbour_corr: over member accounts (the interaction graph is between accounts)
--   with links in the period: x = share of the account's links to this group's domains, y = mean of
--   the same share over the distinct accounts it interacted with that have links in the period.
--   NULL unless both x and y vary; leaning_accounts is the number of (x, y) pairs. For 'all', x and
--   the neighbours' shares are of links summed over periods, each distinct neighbour counted once.
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
    SELECT group_id, period, count(*) AS members_active
    FROM int_group_people
    GROUP BY group_id, period
),
member_counts AS (
    -- additive counts: 'all' is their sum over the periods
    SELECT * FROM agg_member_counts
    UNION ALL
    SELECT group_id, 'all' AS period, sum(COLUMNS(* EXCLUDE (group_id, period)))::BIGINT
    FROM agg_member_counts
    GROUP BY group_id
),
domain_counts AS (
    SELECT group_id, period, domain, n, sum(n) OVER (PARTITION BY group_id, period) AS total
    FROM (
        SELECT group_id, period, domain, links AS n FROM agg_member_domains
        UNION ALL
        SELECT group_id, 'all' AS period, domain, sum(links)::BIGINT AS n
        FROM agg_member_domains
        GROUP BY group_id, domain
    ) AS d
),
domain_stats AS (
    -- Floating-point sums run in a fixed order (ORDER BY) so a rebuild gives the same bits, and
    -- '0.0 - sum' rather than '-sum' so a single domain gives 0.0, not -0.0. HHI is exact: integers.
    SELECT
        group_id,
        period,
        count(*) AS domains,
        0.0 - sum(p_log2_p(n / total) ORDER BY domain) AS entropy_bits,
        sum(n * n)::DOUBLE / (max(total) * max(total)) AS hhi
    FROM domain_counts
    GROUP BY group_id, period
),
marked_people AS (
    SELECT DISTINCT m.group_id, m.person_id
    FROM group_members AS m
    JOIN int_profile_markers AS k ON k.group_id = m.group_id AND k.account_id = m.account_id
),
identity_stats AS (
    SELECT p.group_id, p.period, count(*) AS identity_marker_members
    FROM int_group_people AS p
    JOIN marked_people AS k ON k.group_id = p.group_id AND k.person_id = p.person_id
    GROUP BY p.group_id, p.period
),
text_people AS (
    -- a text's distinct people and posts in a bucket: for 'all', over every period
    SELECT group_id, period, text_key, count(*) AS people, sum(posts) AS posts
    FROM agg_member_texts
    GROUP BY group_id, period, text_key
    UNION ALL
    SELECT group_id, 'all' AS period, text_key, count(DISTINCT person_id) AS people, sum(posts) AS posts
    FROM agg_member_texts
    GROUP BY group_id, text_key
),
boilerplate_stats AS (
    SELECT group_id, period, coalesce(sum(posts) FILTER (WHERE people >= 2), 0)::BIGINT AS boilerplate_posts
    FROM text_people
    GROUP BY group_id, period
),
account_leaning AS (
    SELECT group_id, period, account_id, own_links::DOUBLE / links AS leaning
    FROM agg_account_links
    UNION ALL
    SELECT group_id, 'all' AS period, account_id, sum(own_links)::BIGINT::DOUBLE / sum(links)::BIGINT AS leaning
    FROM agg_account_links
    GROUP BY group_id, account_id
),
neighbours AS (
    SELECT group_id, period, account_id, target_id FROM agg_member_neighbours
    UNION ALL
    SELECT DISTINCT group_id, 'all' AS period, account_id, target_id FROM agg_member_neighbours
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
        coalesce(mc.posts, 0) AS posts,
        coalesce(mc.link_posts, 0) AS link_posts,
        coalesce(mc.links, 0) AS links,
        coalesce(mc.own_links, 0) AS own_links,
        coalesce(mc.reposts, 0) AS reposts,
        coalesce(mc.official_reposts, 0) AS official_reposts,
        coalesce(mc.own_shares, 0) AS own_shares,
        coalesce(mc.uncritical_shares, 0) AS uncritical_shares,
        coalesce(ds.domains, 0) AS domains,
        ds.entropy_bits,
        ds.hhi,
        coalesce(mc.in_group_ties, 0) AS in_group_ties,
        coalesce(mc.out_group_ties, 0) AS out_group_ties,
        coalesce(ids.identity_marker_members, 0) AS identity_marker_members,
        coalesce(mc.tokens, 0) AS tokens,
        coalesce(mc.jargon_occurrences, 0) AS jargon_occurrences,
        coalesce(mc.text_posts, 0) AS text_posts,
        coalesce(bs.boilerplate_posts, 0) AS boilerplate_posts,
        coalesce(lean.leaning_accounts, 0) AS leaning_accounts,
        lean.leaning_neighbour_corr
    FROM spine AS s
    LEFT JOIN activity AS a ON a.group_id = s.group_id AND a.period = s.period
    LEFT JOIN member_counts AS mc ON mc.group_id = s.group_id AND mc.period = s.period
    LEFT JOIN domain_stats AS ds ON ds.group_id = s.group_id AND ds.period = s.period
    LEFT JOIN identity_stats AS ids ON ids.group_id = s.group_id AND ids.period = s.period
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
