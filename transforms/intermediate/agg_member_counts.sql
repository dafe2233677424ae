-- One row per (group, calendar period) with member posts: the additive counts of echo_chamber
-- (sums of int_member_posts' per-post columns), so a mart's 'all' row is their sum over periods.
-- link_posts: member posts with a link; text_posts: non-reposts with text (a text_key).
-- incremental: period
-- grain: group_id, period
-- not_null: group_id, period, posts, link_posts, links, own_links, reposts, official_reposts, own_shares
-- not_null: uncritical_shares, in_group_ties, out_group_ties, tokens, jargon_occurrences, text_posts
-- check: own_links <= links AND link_posts <= posts AND official_reposts <= reposts
-- check: uncritical_shares <= own_shares AND text_posts <= posts
SELECT
    group_id,
    period,
    count(*) AS posts,
    count(*) FILTER (WHERE links > 0) AS link_posts,
    sum(links)::BIGINT AS links,
    sum(own_links)::BIGINT AS own_links,
    count(*) FILTER (WHERE is_repost) AS reposts,
    count(*) FILTER (WHERE reposts_official) AS official_reposts,
    count(*) FILTER (WHERE own_share) AS own_shares,
    count(*) FILTER (WHERE uncritical_share) AS uncritical_shares,
    sum(in_group_ties)::BIGINT AS in_group_ties,
    sum(out_group_ties)::BIGINT AS out_group_ties,
    sum(tokens)::BIGINT AS tokens,
    sum(jargon_occurrences)::BIGINT AS jargon_occurrences,
    count(text_key) AS text_posts
FROM int_member_posts
GROUP BY group_id, period
