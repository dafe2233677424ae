-- One row per (group, calendar period) with references to the group's own organisation: the
-- additive counts of dissent_frequency and int_dissent_correction. org_reference_posts: rows of
-- org_references; critical_posts: those the classifier labels critical (reference_stance);
-- labelled: those in a random draw with people's label (gold_label); tp, fn, fp, tn cross the
-- people's critical with the classifier's on the labelled ones.
-- incremental: period
-- grain: group_id, period
-- not_null: group_id, period, org_reference_posts, critical_posts, labelled, tp, fn, fp, tn
-- check: critical_posts <= org_reference_posts AND labelled <= org_reference_posts
-- check: tp + fn + fp + tn = labelled
WITH refs AS (
    SELECT r.group_id, r.period, s.stance = 'critical' AS predicted,
           s.gold_label = 'critical' AS labelled_critical, s.in_draw AND s.gold_label IS NOT NULL AS sampled
    FROM org_references AS r
    JOIN reference_stance AS s ON s.post_id = r.post_id AND s.group_id = r.group_id
)
SELECT
    group_id,
    period,
    count(*) AS org_reference_posts,
    count(*) FILTER (WHERE predicted) AS critical_posts,
    count(*) FILTER (WHERE sampled) AS labelled,
    count(*) FILTER (WHERE sampled AND labelled_critical AND predicted) AS tp,
    count(*) FILTER (WHERE sampled AND labelled_critical AND NOT predicted) AS fn,
    count(*) FILTER (WHERE sampled AND NOT labelled_critical AND predicted) AS fp,
    count(*) FILTER (WHERE sampled AND NOT labelled_critical AND NOT predicted) AS tn
FROM refs
GROUP BY group_id, period
