-- One row per labelled own-organisation reference (post_id, group_id): the people's verdict on
-- its stance. label is the majority of the annotators' latest labels (stg_labels); a tie between
-- annotators leaves it NULL, so a disputed post neither trains nor grades nor corrects anything.
-- n_annotators counts who labelled it, unanimous says whether they all agreed, and in_draw
-- whether a `labels sample` draw picked it for this group: only drawn references are a random
-- sample, so only they feed the corrected dissent rate (every labelled one trains and grades).
-- grain: post_id, group_id
-- not_null: post_id, group_id, n_annotators, unanimous, in_draw
-- accepted: label critical supportive neutral
WITH votes AS (
    SELECT post_id, label, count(*) AS votes
    FROM stg_labels
    GROUP BY post_id, label
),
ranked AS (
    SELECT *, rank() OVER (PARTITION BY post_id ORDER BY votes DESC) AS place
    FROM votes
),
verdicts AS (
    SELECT
        post_id,
        CASE WHEN count(*) FILTER (WHERE place = 1) = 1 THEN any_value(label) FILTER (WHERE place = 1) END AS label,
        sum(votes)::BIGINT AS n_annotators,
        count(*) = 1 AS unanimous
    FROM ranked
    GROUP BY post_id
)
SELECT
    r.post_id,
    r.group_id,
    v.label,
    v.n_annotators,
    v.unanimous,
    d.post_id IS NOT NULL AS in_draw
FROM org_references AS r
JOIN verdicts AS v ON v.post_id = r.post_id
LEFT JOIN stg_label_draws AS d ON d.post_id = r.post_id AND d.group_id = r.group_id
