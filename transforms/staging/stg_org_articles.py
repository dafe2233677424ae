"""stg_org_articles: one row per (group, article URL) an organisation published in its own feeds
(the `org_articles` view; the rss connector collects them).

url is normalised like post_links.url, so the two join; title_key is the title folded for
comparison with a post's text (lower case, whitespace folded, NULL when there is no title).
Only configured groups are kept.

A Python model rather than SQL for one reason: the canonical `org_articles` relation is always a
view in a real warehouse (warehouse/catalog.py makes an empty typed one before any feed is
collected), but a connection loaded by hand with the other canonical tables (notebooks, tests)
may not have it; then the model reads an empty relation of the same schema.
"""

# grain: group_id, url
# not_null: group_id, url

from __future__ import annotations

import duckdb
import pyarrow as pa

from dissentry.config import Config
from dissentry.warehouse import schema
from dissentry.warehouse.catalog import empty_relation_sql, has_relation

# `org_articles` is read only when it exists (see above), so it is no declared input
DEPENDS_ON: tuple[str, ...] = ("cfg_groups",)

SELECT = """
SELECT
    a.group_id,
    a.url,
    a.title,
    nullif(lower(fold_ws(a.title)), '') AS title_key,
    a.published_at,
    a.feed_url
FROM {relation} AS a
WHERE a.group_id IS NOT NULL AND a.url IS NOT NULL
  AND a.group_id IN (SELECT group_id FROM cfg_groups)
QUALIFY row_number() OVER (
    PARTITION BY a.group_id, a.url ORDER BY a.fetched_at DESC NULLS LAST, a.title, a.feed_url
) = 1
ORDER BY a.group_id, a.url
"""


def build(con: duckdb.DuckDBPyConnection, config: Config) -> pa.RecordBatchReader:
    relation = "org_articles" if has_relation(con, "org_articles") else f"({empty_relation_sql(schema.ORG_ARTICLES)})"
    return con.sql(SELECT.format(relation=relation)).to_arrow_reader()
