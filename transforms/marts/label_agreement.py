"""label_agreement: one row per pair of annotators who labelled the same references, plus one row
('*', '*') for all annotators together: how far people agree on the stance labels the measure is
validated against. n is the number of posts both (or, for '*', at least two) labelled;
percent_agreement and Cohen's kappa per pair; Krippendorff's alpha (nominal) for all together.
Each annotator's latest label of a post counts (stg_labels). Empty when no post has two labels.
"""

# grain: annotator_a, annotator_b
# not_null: annotator_a, annotator_b, n
# range: percent_agreement 0 1; cohen_kappa -1 1; krippendorff_alpha -1 1

from __future__ import annotations

from collections import defaultdict

import duckdb
import pyarrow as pa

from dissentry.config import Config
from dissentry.transforms.evaluation import agreement

DEPENDS_ON = ("stg_labels",)

SCHEMA = pa.schema(
    [
        ("annotator_a", pa.string()),
        ("annotator_b", pa.string()),
        ("n", pa.int64()),
        ("percent_agreement", pa.float64()),
        ("cohen_kappa", pa.float64()),
        ("krippendorff_alpha", pa.float64()),
    ]
)


def build(con: duckdb.DuckDBPyConnection, config: Config) -> pa.Table:
    labels: dict[str, dict[str, str]] = defaultdict(dict)
    for post_id, annotator, label in con.execute("SELECT post_id, annotator, label FROM stg_labels").fetchall():
        labels[post_id][annotator] = label
    rows = agreement(labels)
    return pa.Table.from_pylist([{name: row.get(name) for name in SCHEMA.names} for row in rows], schema=SCHEMA)
