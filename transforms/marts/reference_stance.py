"""reference_stance: one row per org_references row, its stance and who labelled it.

The classifier (settings.stance.classifier, default `vader_rules`) reads each referencing post
with the names of the organisation it references (the group's aliases and leaders), so it can
judge the sentences about the organisation rather than the whole post. References stream from
DuckDB in batches, so memory stays flat however many there are. Every row records the
classifier's name and version; `compound` and `cue` explain a VADER-rules label (NULL for a
classifier that gives no explanation).
"""

# grain: post_id, group_id
# not_null: post_id, group_id, stance, classifier, classifier_version
# accepted: stance critical supportive neutral
# range: compound -1 1
# rows_match: org_references

from __future__ import annotations

from collections import defaultdict

import duckdb
import pyarrow as pa

from dissentry.config import Config
from transforms.stance import Judgement, StanceClassifier, make_classifier

BATCH_SIZE = 5000

SCHEMA = pa.schema(
    [
        ("post_id", pa.string()),
        ("group_id", pa.string()),
        ("stance", pa.string()),
        ("compound", pa.float64()),
        ("cue", pa.string()),
        ("classifier", pa.string()),
        ("classifier_version", pa.string()),
    ]
)


def _targets_by_group(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    rows = con.execute(
        "SELECT group_id, term FROM cfg_group_terms WHERE kind IN ('alias', 'leader') ORDER BY group_id, term"
    ).fetchall()
    targets: dict[str, list[str]] = defaultdict(list)
    for group_id, term in rows:
        targets[group_id].append(term)
    return dict(targets)


def label_batch(
    classifier: StanceClassifier, texts: list[str], targets: list[list[str]]
) -> tuple[list[str], list[float | None], list[str | None]]:
    """Labels, and the explanation when the classifier offers one (`judge`)."""
    judge = getattr(classifier, "judge", None)
    if callable(judge):
        judgements: list[Judgement] = judge(texts, targets)
        return [j.label for j in judgements], [j.compound for j in judgements], [j.cue for j in judgements]
    labels = classifier.classify(texts, targets)
    return labels, [None] * len(labels), [None] * len(labels)


def build(con: duckdb.DuckDBPyConnection, config: Config, classifier: StanceClassifier | None = None) -> pa.Table:
    classifier = classifier or make_classifier(config.settings.stance)
    targets_by_group = _targets_by_group(con)
    reader = con.sql(
        """
        SELECT r.post_id, r.group_id, p.text
        FROM org_references AS r
        JOIN stg_posts AS p ON p.post_id = r.post_id
        ORDER BY r.group_id, r.post_id
        """
    ).to_arrow_reader(BATCH_SIZE)
    batches: list[pa.RecordBatch] = []
    for batch in reader:
        post_ids = batch.column("post_id").to_pylist()
        group_ids = batch.column("group_id").to_pylist()
        texts = [t or "" for t in batch.column("text").to_pylist()]
        targets = [targets_by_group.get(g, []) for g in group_ids]
        labels, compounds, cues = label_batch(classifier, texts, targets)
        n = len(labels)
        if n != len(texts):
            raise ValueError(f"classifier {classifier.name} returned {n} labels for {len(texts)} texts")
        batches.append(
            pa.record_batch(
                [
                    pa.array(post_ids, pa.string()),
                    pa.array(group_ids, pa.string()),
                    pa.array(labels, pa.string()),
                    pa.array(compounds, pa.float64()),
                    pa.array(cues, pa.string()),
                    pa.array([classifier.name] * n, pa.string()),
                    pa.array([classifier.version] * n, pa.string()),
                ],
                schema=SCHEMA,
            )
        )
    return pa.Table.from_batches(batches, schema=SCHEMA)
