-- One row per (group, period): how often the group's members criticise their own organisation in
-- public (METRICS.md). Periods are the calendar periods in the data plus 'all'; a group with no
-- member posts in a period still has a row, with zero counts and NULL rates (0/0 is no data).
-- members_active, dissenters: distinct people (person_id). posts: member posts of any kind.
-- org_reference_posts: rows of org_references; critical_posts: those labelled critical.
-- rate_ratio_vs_others = dissent_rate / others_dissent_rate, where the others are all other
-- groups in the same period pooled (sums of their counts); NULL when either rate is undefined or
-- the others' rate is 0. rate_ratio_p_value: two-sided Fisher exact test of
-- [[critical, not critical] this group, [critical, not critical] others], NULL unless both rows
-- have references.
-- The counts come from the period aggregates (agg_member_activity through int_group_people, agg_references,
-- agg_dissenters), so no post is read here: 'all' sums the periods' counts and counts distinct
-- people (members_active, dissenters) over periods.
-- Corrected for the stance classifier's error (int_dissent_correction, docs/metrics.md):
-- labelled_refs are the references in the cell that a random draw picked and people labelled;
-- dissent_rate_corrected with _lo/_hi is the rate estimated from the classifier's labels of every
-- reference plus people's labels of that sample, its 95% interval covering sampling error and the
-- classifier's error; NULL below the minimum number of labels. measure says which rate to read:
-- 'corrected', 'too_few_labels' or 'unvalidated' (no labels at all: dissent_rate and its Wilson
-- interval then leave the classifier's error out), or 'no_references'.
-- dissent_diff_vs_others_corrected: this group's corrected rate minus the other groups' pooled
-- corrected rate, with its interval and a two-sided p-value.
-- grain: group_id, period
-- not_null: group_id, period, members_active, posts, org_reference_posts, critical_posts, dissenters
-- not_null: others_org_reference_posts, others_critical_posts
-- range: dissent_rate 0 1; dissent_rate_lo 0 1; dissent_rate_hi 0 1; dissenter_share 0 1
-- range: dissenter_share_lo 0 1; dissenter_share_hi 0 1; rate_ratio_p_value 0 1; rate_ratio_vs_others 0 inf
-- check: critical_posts <= org_reference_posts AND org_reference_posts <= posts
-- check: dissenters <= members_active
-- check: dissent_rate_lo <= dissent_rate AND dissent_rate <= dissent_rate_hi
-- check: dissenter_share_lo <= dissenter_share AND dissenter_share <= dissenter_share_hi
-- check: (org_reference_posts = 0) = (dissent_rate IS NULL)
-- not_null: labelled_refs, measure
-- accepted: measure corrected too_few_labels unvalidated no_references
-- range: dissent_rate_corrected 0 1; dissent_rate_corrected_lo 0 1; dissent_rate_corrected_hi 0 1
-- check: labelled_refs <= org_reference_posts
-- check: (measure = 'corrected') = (dissent_rate_corrected IS NOT NULL)
WITH spine AS (
    SELECT g.group_id, p.period, p.period_start
    FROM cfg_groups AS g CROSS JOIN int_periods AS p
),
activity AS (
    SELECT group_id, period, count(*) AS members_active, sum(posts)::BIGINT AS posts
    FROM int_group_people
    GROUP BY group_id, period
),
references_by_period AS (
    SELECT group_id, period, org_reference_posts, critical_posts FROM agg_references
    UNION ALL
    SELECT group_id, 'all' AS period, sum(org_reference_posts)::BIGINT, sum(critical_posts)::BIGINT
    FROM agg_references
    GROUP BY group_id
),
dissenters AS (
    SELECT group_id, period, count(*) AS dissenters FROM agg_dissenters GROUP BY group_id, period
    UNION ALL
    SELECT group_id, 'all' AS period, count(DISTINCT person_id) FROM agg_dissenters GROUP BY group_id
),
ref_counts AS (
    SELECT r.group_id, r.period, r.org_reference_posts, r.critical_posts, coalesce(d.dissenters, 0) AS dissenters
    FROM references_by_period AS r
    LEFT JOIN dissenters AS d ON d.group_id = r.group_id AND d.period = r.period
),
counts AS (
    SELECT
        s.group_id,
        s.period,
        s.period_start,
        coalesce(a.members_active, 0) AS members_active,
        coalesce(a.posts, 0) AS posts,
        coalesce(r.org_reference_posts, 0) AS org_reference_posts,
        coalesce(r.critical_posts, 0) AS critical_posts,
        coalesce(r.dissenters, 0) AS dissenters
    FROM spine AS s
    LEFT JOIN activity AS a ON a.group_id = s.group_id AND a.period = s.period
    LEFT JOIN ref_counts AS r ON r.group_id = s.group_id AND r.period = s.period
),
with_others AS (
    SELECT
        *,
        (sum(org_reference_posts) OVER (PARTITION BY period) - org_reference_posts)::BIGINT
            AS others_org_reference_posts,
        (sum(critical_posts) OVER (PARTITION BY period) - critical_posts)::BIGINT AS others_critical_posts
    FROM counts
),
rates AS (
    SELECT
        *,
        safe_div(critical_posts, org_reference_posts) AS dissent_rate,
        safe_div(others_critical_posts, others_org_reference_posts) AS others_dissent_rate
    FROM with_others
)
SELECT
    group_id,
    period,
    period_start,
    members_active,
    posts,
    org_reference_posts,
    critical_posts,
    dissent_rate,
    wilson_lo(critical_posts, org_reference_posts) AS dissent_rate_lo,
    wilson_hi(critical_posts, org_reference_posts) AS dissent_rate_hi,
    1000 * safe_div(critical_posts, posts) AS dissent_per_1k_posts,
    dissenters,
    safe_div(dissenters, members_active) AS dissenter_share,
    wilson_lo(dissenters, members_active) AS dissenter_share_lo,
    wilson_hi(dissenters, members_active) AS dissenter_share_hi,
    others_org_reference_posts,
    others_critical_posts,
    others_dissent_rate,
    safe_div(dissent_rate, others_dissent_rate) AS rate_ratio_vs_others,
    CASE WHEN org_reference_posts > 0 AND others_org_reference_posts > 0 THEN
        fisher_p(critical_posts, org_reference_posts - critical_posts,
                 others_critical_posts, others_org_reference_posts - others_critical_posts)
    END AS rate_ratio_p_value,
    c.measure,
    c.labelled_refs,
    c.dissent_rate_corrected,
    c.dissent_rate_corrected_lo,
    c.dissent_rate_corrected_hi,
    c.others_dissent_rate_corrected,
    c.dissent_diff_vs_others_corrected,
    c.dissent_diff_vs_others_corrected_lo,
    c.dissent_diff_vs_others_corrected_hi,
    c.dissent_diff_p_value_corrected
FROM rates
JOIN int_dissent_correction AS c USING (group_id, period)
