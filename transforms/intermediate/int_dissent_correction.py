"""int_dissent_correction: one row per (group, period): the dissent rate corrected for the stance
classifier's error, with a 95% interval that includes that error (docs/metrics.md, "Corrected
dissent rates").

In each cell the classifier's labels of all N references are known (reference_stance), and a
random sample of them carries people's labels (drawn by `dissentry labels sample`, so
int_stance_labels.in_draw). transforms.estimation combines the two (prediction-powered inference
with power tuning, in its finite-population form): the classifier's rate, moved by how far its
labels miss people's on the sample. For a period cell, the labels a group-wide draw put in that
period are a random sample of the period's references. Below estimation.MIN_LABELS labelled
references the cell has no corrected rate (NULL) and `measure` says why.

The cells' counts are those of agg_references (one row per group and calendar period); a
group's 'all' cell is their sum over the periods, so no reference is read here.

The comparison with the other groups pools their corrected rates (weighted by their references)
and takes the difference, with an interval and a two-sided normal p-value; it needs every other
group with references in the period to have its own corrected rate.
"""

# grain: group_id, period
# not_null: group_id, period, labelled_refs, measure
# accepted: measure corrected too_few_labels unvalidated no_references
# range: dissent_rate_corrected 0 1; dissent_rate_corrected_lo 0 1; dissent_rate_corrected_hi 0 1
# range: dissent_diff_vs_others_corrected -1 1; dissent_diff_vs_others_corrected_lo -1 1
# range: dissent_diff_vs_others_corrected_hi -1 1; dissent_diff_p_value_corrected 0 1; power_tuning 0 1
# check: dissent_rate_corrected_lo <= dissent_rate_corrected AND dissent_rate_corrected <= dissent_rate_corrected_hi

from __future__ import annotations

import math

import duckdb
import pyarrow as pa

from dissentry.config import Config
from dissentry.transforms.estimation import MIN_LABELS, Estimate, PairedCounts, corrected_proportion, difference, pooled

DEPENDS_ON = ("agg_references", "int_periods", "cfg_groups")

SCHEMA = pa.schema(
    [
        ("group_id", pa.string()),
        ("period", pa.string()),
        ("labelled_refs", pa.int64()),
        ("measure", pa.string()),
        ("dissent_rate_corrected", pa.float64()),
        ("dissent_rate_corrected_lo", pa.float64()),
        ("dissent_rate_corrected_hi", pa.float64()),
        ("dissent_rate_corrected_se", pa.float64()),
        ("power_tuning", pa.float64()),
        ("others_dissent_rate_corrected", pa.float64()),
        ("dissent_diff_vs_others_corrected", pa.float64()),
        ("dissent_diff_vs_others_corrected_lo", pa.float64()),
        ("dissent_diff_vs_others_corrected_hi", pa.float64()),
        ("dissent_diff_p_value_corrected", pa.float64()),
    ]
)

CELLS = """
WITH counts AS (
    -- additive counts of the period aggregate; 'all' is their sum over the periods
    SELECT group_id, period, org_reference_posts AS refs, critical_posts AS predicted_critical,
           labelled, tp, fn, fp, tn
    FROM agg_references
    UNION ALL
    SELECT group_id, 'all' AS period, sum(org_reference_posts)::BIGINT, sum(critical_posts)::BIGINT,
           sum(labelled)::BIGINT, sum(tp)::BIGINT, sum(fn)::BIGINT, sum(fp)::BIGINT, sum(tn)::BIGINT
    FROM agg_references
    GROUP BY group_id
)
SELECT g.group_id, p.period, coalesce(c.refs, 0), coalesce(c.predicted_critical, 0), coalesce(c.labelled, 0),
       coalesce(c.tp, 0), coalesce(c.fn, 0), coalesce(c.fp, 0), coalesce(c.tn, 0)
FROM cfg_groups AS g
CROSS JOIN int_periods AS p
LEFT JOIN counts AS c ON c.group_id = g.group_id AND c.period = p.period
ORDER BY p.period, g.group_id
"""


def _p_value(estimate: Estimate) -> float | None:
    if estimate.se <= 0:
        return None
    return math.erfc(abs(estimate.estimate) / estimate.se / math.sqrt(2))


def _measure(refs: int, labelled: int, estimate: Estimate | None) -> str:
    if refs == 0:
        return "no_references"
    if estimate is not None:
        return "corrected"
    return "too_few_labels" if labelled else "unvalidated"


def build(con: duckdb.DuckDBPyConnection, config: Config) -> pa.Table:
    cells = con.execute(CELLS).fetchall()
    estimates: dict[tuple[str, str], Estimate | None] = {}
    refs_in: dict[tuple[str, str], int] = {}
    labelled_in: dict[tuple[str, str], int] = {}
    for group_id, period, refs, predicted, labelled, tp, fn, fp, tn in cells:
        key = (group_id, period)
        refs_in[key], labelled_in[key] = refs, labelled
        estimates[key] = (
            corrected_proportion(refs, predicted, PairedCounts(tp=tp, fn=fn, fp=fp, tn=tn), min_labels=MIN_LABELS)
            if refs
            else None
        )
    rows = []
    for (group_id, period), estimate in estimates.items():
        others = [e for (g, p), e in estimates.items() if p == period and g != group_id and refs_in[(g, p)] > 0]
        others_estimate = pooled(others) if others and all(e is not None for e in others) else None
        diff = difference(estimate, others_estimate) if estimate is not None and others_estimate is not None else None
        rows.append(
            {
                "group_id": group_id,
                "period": period,
                "labelled_refs": labelled_in[(group_id, period)],
                "measure": _measure(refs_in[(group_id, period)], labelled_in[(group_id, period)], estimate),
                "dissent_rate_corrected": estimate.estimate if estimate else None,
                "dissent_rate_corrected_lo": estimate.lo if estimate else None,
                "dissent_rate_corrected_hi": estimate.hi if estimate else None,
                "dissent_rate_corrected_se": estimate.se if estimate else None,
                "power_tuning": estimate.lam if estimate else None,
                "others_dissent_rate_corrected": others_estimate.estimate if others_estimate else None,
                "dissent_diff_vs_others_corrected": diff.estimate if diff else None,
                "dissent_diff_vs_others_corrected_lo": diff.lo if diff else None,
                "dissent_diff_vs_others_corrected_hi": diff.hi if diff else None,
                "dissent_diff_p_value_corrected": _p_value(diff) if diff else None,
            }
        )
    return pa.Table.from_pylist(rows, schema=SCHEMA)
