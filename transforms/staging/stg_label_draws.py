"""stg_label_draws: one row per (group_id, post_id) that a `dissentry labels sample` draw picked.

A draw is a simple random sample, without replacement, of a group's own-organisation references
(`label_draws` in the lake records the seed, the frame and the ids). Only labels of drawn
references feed the corrected dissent rate: a label chosen by hand is no random sample, so it
would bias the correction (it still trains and grades the classifier). A Python model because a
connection loaded by hand may have no `label_draws` view; then it reads an empty relation.
"""

# grain: group_id, post_id
# not_null: group_id, post_id, draw_id

from __future__ import annotations

import duckdb
import pyarrow as pa

from dissentry.config import Config
from dissentry.warehouse import schema
from dissentry.warehouse.catalog import empty_relation_sql, has_relation

# `label_draws` is read only when it exists (see above), so it is no declared input
DEPENDS_ON: tuple[str, ...] = ()

SELECT = """
SELECT group_id, post_id, draw_id, seed, scope, drawn_at
FROM {relation}
WHERE group_id IS NOT NULL AND post_id IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY group_id, post_id ORDER BY drawn_at, draw_id) = 1
ORDER BY group_id, post_id
"""


def build(con: duckdb.DuckDBPyConnection, config: Config) -> pa.RecordBatchReader:
    relation = "label_draws" if has_relation(con, "label_draws") else f"({empty_relation_sql(schema.LABEL_DRAWS)})"
    return con.sql(SELECT.format(relation=relation)).to_arrow_reader()
