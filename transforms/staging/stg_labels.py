"""stg_labels: one row per (post_id, annotator): that annotator's latest label of the post.

People's labels live in the lake's append-only `labels` layer (`dissentry labels import`); a
re-import supersedes an earlier label of the same post by the same annotator, the latest by the
label's own time, then by import time. A Python model rather than SQL because a connection
loaded by hand (a notebook, a test) may have no `labels` view: then the model reads an empty
relation of the same schema.
"""

# grain: post_id, annotator
# not_null: post_id, annotator, label
# accepted: label critical supportive neutral

from __future__ import annotations

import duckdb
import pyarrow as pa

from dissentry.config import Config
from dissentry.warehouse import schema
from dissentry.warehouse.catalog import empty_relation_sql, has_relation

# `labels` is read only when it exists (see above), so it is no declared input
DEPENDS_ON: tuple[str, ...] = ()

SELECT = """
SELECT post_id, annotator, lower(trim(label)) AS label, labelled_at, imported_at, import_id
FROM {relation}
WHERE post_id IS NOT NULL AND annotator IS NOT NULL AND label IS NOT NULL
QUALIFY row_number() OVER (
    PARTITION BY post_id, annotator
    ORDER BY labelled_at DESC NULLS LAST, imported_at DESC NULLS LAST, import_id DESC
) = 1
ORDER BY post_id, annotator
"""


def build(con: duckdb.DuckDBPyConnection, config: Config) -> pa.RecordBatchReader:
    relation = "labels" if has_relation(con, "labels") else f"({empty_relation_sql(schema.LABELS)})"
    return con.sql(SELECT.format(relation=relation)).to_arrow_reader()
