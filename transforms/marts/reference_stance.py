"""reference_stance: one row per org_references row, its stance and who labelled it.

The classifier (settings.stance.classifier, default `auto`) reads each referencing post with the
names of the organisation it references (the group's aliases and leaders), so it can judge what
is said about the organisation rather than the whole post.

- A rules classifier (`vader_rules`) labels every reference the same way; `prediction = 'rules'`.
- A trainable one (`trained`, or a user's class with `fit`; `auto` picks `trained` once
  settings.stance.min_training_labels references carry people's labels) is fitted on every
  labelled reference (int_stance_labels) and stored in the lake under models/stance/, named by
  its version, which is the fitted model's content hash. References nobody labelled get that
  model's label (`prediction = 'fitted'`). A labelled reference gets a cross-fitted label instead
  (`'cross_fitted'`): the prediction of a model fitted on the other folds, never on its own label,
  so grading the classifier and correcting its error on the labelled sample stay honest.

gold_label is the people's label (NULL when unlabelled or disputed); in_draw says whether a random
draw picked the reference. References stream from DuckDB in batches, so memory stays flat however
many there are. `compound` and `cue` explain a VADER-rules label (NULL for other classifiers).

A built-in classifier's judgements are kept across builds (transforms/stance_cache.py), keyed by
sha256 of the text and of the target's names under a fingerprint of the classifier: a build after
new posts classifies only the references it has not judged before, with the same labels.
"""

# grain: post_id, group_id
# not_null: post_id, group_id, stance, classifier, classifier_version, in_draw, prediction
# accepted: stance critical supportive neutral
# accepted: gold_label critical supportive neutral
# accepted: prediction rules fitted cross_fitted
# range: compound -1 1
# rows_match: org_references

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from dissentry.config import Config
from dissentry.transforms.stance import (
    Judgement,
    StanceClassifier,
    cross_fit_predict,
    is_trainable,
    make_classifier,
)
from dissentry.transforms.stance_cache import JudgementCache, is_cacheable, targets_key
from dissentry.warehouse.lake import Lake

# named, not __name__: the runner loads a model under a module name of its own
log = logging.getLogger("dissentry.transforms.reference_stance")

DEPENDS_ON = ("org_references", "stg_posts", "int_stance_labels", "cfg_group_terms")
BATCH_SIZE = 5000
MODEL_FOLDER = ("models", "stance")

SCHEMA = pa.schema(
    [
        ("post_id", pa.string()),
        ("group_id", pa.string()),
        ("stance", pa.string()),
        ("compound", pa.float64()),
        ("cue", pa.string()),
        ("classifier", pa.string()),
        ("classifier_version", pa.string()),
        ("gold_label", pa.string()),
        ("in_draw", pa.bool_()),
        ("prediction", pa.string()),
    ]
)

REFERENCES = """
SELECT r.post_id, r.group_id, p.text, l.label AS gold_label, coalesce(l.in_draw, false) AS in_draw
FROM org_references AS r
JOIN stg_posts AS p ON p.post_id = r.post_id
LEFT JOIN int_stance_labels AS l ON l.post_id = r.post_id AND l.group_id = r.group_id
{where}
ORDER BY r.group_id, r.post_id
"""


@dataclass(frozen=True)
class LabelledReferences:
    """The references people labelled (a clear verdict), with what the classifier reads."""

    keys: list[tuple[str, str]]
    texts: list[str]
    targets: list[list[str]]
    labels: list[str]


def targets_by_group(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The names of each group's organisation (aliases and leaders) the classifier reads for."""
    rows = con.execute(
        "SELECT group_id, term FROM cfg_group_terms WHERE kind IN ('alias', 'leader') ORDER BY group_id, term"
    ).fetchall()
    targets: dict[str, list[str]] = defaultdict(list)
    for group_id, term in rows:
        targets[group_id].append(term)
    return dict(targets)


def labelled_references(con: duckdb.DuckDBPyConnection, targets: dict[str, list[str]]) -> LabelledReferences:
    rows = con.execute(REFERENCES.format(where="WHERE l.label IS NOT NULL")).fetchall()
    return LabelledReferences(
        keys=[(post_id, group_id) for post_id, group_id, *_ in rows],
        texts=[text or "" for _, _, text, _, _ in rows],
        targets=[targets.get(group_id, []) for _, group_id, *_ in rows],
        labels=[label for *_, label, _ in rows],
    )


def label_batch(
    classifier: StanceClassifier, texts: list[str], targets: list[list[str]]
) -> tuple[list[str], list[float | None], list[str | None]]:
    """Labels, and the explanation when the classifier offers one (`judge`)."""
    judge = getattr(classifier, "judge", None)
    if callable(judge):
        judgements: list[Judgement] = judge(texts, targets)
        return [j.label for j in judgements], [j.compound for j in judgements], [j.cue for j in judgements]
    labels = classifier.classify(texts, targets)
    if len(labels) != len(texts):
        raise ValueError(f"classifier {classifier.name} returned {len(labels)} labels for {len(texts)} texts")
    return list(labels), [None] * len(labels), [None] * len(labels)


def _store_model(config: Config, classifier: StanceClassifier) -> None:
    """Keep the fitted model in the lake, named by its content hash: a rate can be traced to it."""
    to_bytes = getattr(classifier, "to_bytes", None)
    # a configuration built in code (a notebook, a test) names no warehouse of its own
    if not callable(to_bytes) or config.config_path is None:
        return
    lake = Lake(config.warehouse_location, local_dir=config.local_path, storage_options=config.lake_storage_options)
    path = lake.path(*MODEL_FOLDER, f"{classifier.version}.joblib")
    if not lake.exists(path):
        with lake.staged(path) as tmp:
            tmp.write_bytes(to_bytes())


def prepare_classifier(
    con: duckdb.DuckDBPyConnection, config: Config, classifier: StanceClassifier | None = None
) -> tuple[StanceClassifier, dict[tuple[str, str], str]]:
    """The classifier to label with, fitted when it learns, and the cross-fitted labels of the
    labelled references (empty for a rules classifier)."""
    settings = config.settings.stance
    labelled = labelled_references(con, targets_by_group(con))
    classifier = classifier or make_classifier(settings, n_labels=len(labelled.labels))
    if not is_trainable(classifier):
        return classifier, {}
    if len(set(labelled.labels)) < 2:
        raise ValueError(
            f"stance classifier {classifier.name!r} learns from people's labels, but {len(labelled.labels)} "
            "labelled references with fewer than two distinct labels exist: draw a sample with "
            "`dissentry labels sample`, label it and `dissentry labels import` it, or set "
            "settings.stance.classifier = \"vader_rules\""
        )

    def fresh() -> StanceClassifier:
        return make_classifier(settings, n_labels=len(labelled.labels))

    out_of_fold = cross_fit_predict(
        fresh, labelled.texts, labelled.targets, labelled.labels, folds=settings.cross_fit_folds, seed=settings.seed
    )
    classifier.fit(labelled.texts, labelled.targets, labelled.labels)  # type: ignore[attr-defined]
    _store_model(config, classifier)
    return classifier, dict(zip(labelled.keys, out_of_fold, strict=True))


# the references with the stored judgement of each, when there is one (`judged`); the text is read
# only for the others, the ones to classify
KEYED_REFERENCES = """
WITH stored AS ({stored}),
refs AS (
    SELECT r.post_id, r.group_id, p.text, sha256(coalesce(p.text, '')) AS text_key, t.targets_key,
           l.label AS gold_label, coalesce(l.in_draw, false) AS in_draw
    FROM org_references AS r
    JOIN stg_posts AS p ON p.post_id = r.post_id
    JOIN _reference_stance_targets AS t ON t.group_id = r.group_id
    LEFT JOIN int_stance_labels AS l ON l.post_id = r.post_id AND l.group_id = r.group_id
)
SELECT refs.post_id, refs.group_id, CASE WHEN s.text_key IS NULL THEN refs.text END AS text,
       refs.text_key, refs.targets_key, s.text_key IS NOT NULL AS judged, s.stance, s.compound, s.cue,
       refs.gold_label, refs.in_draw
FROM refs
LEFT JOIN stored AS s ON s.text_key = refs.text_key AND s.targets_key = refs.targets_key
ORDER BY refs.group_id, refs.post_id
"""


def _judged_batches(
    con: duckdb.DuckDBPyConnection, classifier: StanceClassifier, cache: JudgementCache
) -> Iterator[tuple[pa.RecordBatch, list[str], list[float | None], list[str | None]]]:
    """Each batch of references with its labels, compounds and cues: stored ones where the cache
    has them, the classifier's for the rest. Every judgement is written to the new cache file."""
    targets = targets_by_group(con)
    groups = [g for (g,) in con.execute("SELECT DISTINCT group_id FROM org_references").fetchall()]
    keys = pa.table({"group_id": pa.array(groups, pa.string()),
                     "targets_key": pa.array([targets_key(targets.get(g, [])) for g in groups], pa.string())})
    con.register("_reference_stance_targets", keys)
    classified = total = 0
    try:
        reader = con.sql(KEYED_REFERENCES.format(stored=cache.relation(con))).to_arrow_reader(BATCH_SIZE)
        with cache.writer() as out:
            for batch in reader:
                labels = batch.column("stance").to_pylist()
                compounds = batch.column("compound").to_pylist()
                cues = batch.column("cue").to_pylist()
                todo = [i for i, judged in enumerate(batch.column("judged").to_pylist()) if not judged]
                if todo:
                    texts = batch.column("text").to_pylist()
                    group_ids = batch.column("group_id").to_pylist()
                    new = label_batch(classifier, [texts[i] or "" for i in todo],
                                      [targets.get(group_ids[i], []) for i in todo])
                    for column, values in zip((labels, compounds, cues), new, strict=True):
                        for i, value in zip(todo, values, strict=True):
                            column[i] = value
                classified += len(todo)
                total += batch.num_rows
                if out is not None:
                    out.write_batch(pa.record_batch(
                        [batch.column("text_key"), batch.column("targets_key"), pa.array(labels, pa.string()),
                         pa.array(compounds, pa.float64()), pa.array(cues, pa.string())],
                        schema=out.schema))
                yield batch, labels, compounds, cues
    finally:
        con.unregister("_reference_stance_targets")
    # a real count, so a test (and a reader of the log) can see what a warm build cost
    log.info("reference_stance: classified %d of %d references (%d judged in an earlier build)",
             classified, total, total - classified)


def _plain_batches(
    con: duckdb.DuckDBPyConnection, classifier: StanceClassifier
) -> Iterator[tuple[pa.RecordBatch, list[str], list[float | None], list[str | None]]]:
    """Each batch of references labelled by the classifier, as they come (a user's classifier)."""
    targets = targets_by_group(con)
    for batch in con.sql(REFERENCES.format(where="")).to_arrow_reader(BATCH_SIZE):
        group_ids = batch.column("group_id").to_pylist()
        texts = [t or "" for t in batch.column("text").to_pylist()]
        yield batch, *label_batch(classifier, texts, [targets.get(g, []) for g in group_ids])


def _batches(
    con: duckdb.DuckDBPyConnection, classifier: StanceClassifier, cross_fitted: dict[tuple[str, str], str],
    cache: JudgementCache | None = None,
) -> Iterator[pa.RecordBatch]:
    trainable = is_trainable(classifier)
    judged = _judged_batches(con, classifier, cache) if cache is not None else _plain_batches(con, classifier)
    for batch, labels, compounds, cues in judged:
        post_ids = batch.column("post_id").to_pylist()
        group_ids = batch.column("group_id").to_pylist()
        kinds = ["rules"] * len(labels)
        if trainable:
            for i, key in enumerate(zip(post_ids, group_ids, strict=True)):
                if key in cross_fitted:
                    labels[i] = cross_fitted[key]
                    kinds[i] = "cross_fitted"
                else:
                    kinds[i] = "fitted"
        n = len(labels)
        yield pa.record_batch(
            [
                pa.array(post_ids, pa.string()),
                pa.array(group_ids, pa.string()),
                pa.array(labels, pa.string()),
                pa.array(compounds, pa.float64()),
                pa.array(cues, pa.string()),
                pa.array([classifier.name] * n, pa.string()),
                pa.array([classifier.version] * n, pa.string()),
                batch.column("gold_label").cast(pa.string()),
                batch.column("in_draw").cast(pa.bool_()),
                pa.array(kinds, pa.string()),
            ],
            schema=SCHEMA,
        )


def build(
    con: duckdb.DuckDBPyConnection, config: Config, classifier: StanceClassifier | None = None
) -> pa.RecordBatchReader:
    """The classifier is chosen (and fitted) now; the references are labelled as the reader is read."""
    classifier, cross_fitted = prepare_classifier(con, config, classifier)
    cache = JudgementCache.for_config(config, classifier) if is_cacheable(classifier) else None
    return pa.RecordBatchReader.from_batches(SCHEMA, _batches(con, classifier, cross_fitted, cache))
