"""stance_evaluation: one row per (classifier, scope): how well each stance classifier agrees with
people's labels, over every labelled reference (scope 'all') and per group (scope = group_id).

The configured classifier is graded on the labels reference_stance gave the labelled references:
cross-fitted when it learns, so no label grades a prediction made from itself. The others are
graded beside it as baselines: `vader_rules` (rules, nothing to fit) and `trained` (cross-fitted
on the same labels) when it is not the configured one and enough labels exist to fit it. n is the
number of labelled references; precision, recall and F1 are those of `critical` (the class a
dissent rate counts); macro_f1 averages F1 over the three labels; confusion is JSON,
{true label: {predicted label: count}}. Labels chosen by hand rather than drawn at random grade
the classifier too: evaluate on a `labels sample` draw for a figure that speaks for all references.
"""

# grain: classifier, scope
# not_null: classifier, is_configured, prediction, scope, n, accuracy, macro_f1, confusion
# range: accuracy 0 1; precision_critical 0 1; recall_critical 0 1; f1_critical 0 1; macro_f1 0 1
# accepted: prediction rules cross_fitted

from __future__ import annotations

import json
from collections.abc import Sequence

import duckdb
import pyarrow as pa

from dissentry.config import Config
from dissentry.transforms.evaluation import classification_scores
from dissentry.transforms.marts.reference_stance import targets_by_group
from dissentry.transforms.stance import BUILTIN, cross_fit_predict, is_trainable, make_classifier

DEPENDS_ON = ("reference_stance", "stg_posts", "cfg_group_terms")
MIN_LABELS_TO_FIT = 20  # fewer labels than this fit no baseline model worth grading

SCHEMA = pa.schema(
    [
        ("classifier", pa.string()),
        ("classifier_version", pa.string()),
        ("is_configured", pa.bool_()),
        ("prediction", pa.string()),
        ("scope", pa.string()),
        ("n", pa.int64()),
        ("accuracy", pa.float64()),
        ("precision_critical", pa.float64()),
        ("recall_critical", pa.float64()),
        ("f1_critical", pa.float64()),
        ("macro_f1", pa.float64()),
        ("confusion", pa.string()),
    ]
)

LABELLED = """
SELECT s.group_id, p.text, s.gold_label, s.stance, s.classifier, s.classifier_version, s.prediction
FROM reference_stance AS s
JOIN stg_posts AS p ON p.post_id = s.post_id
WHERE s.gold_label IS NOT NULL
ORDER BY s.group_id, s.post_id
"""


def _rows(
    name: str, version: str, configured: bool, prediction: str, groups: Sequence[str], truth: Sequence[str],
    predicted: Sequence[str],
) -> list[dict[str, object]]:
    rows = []
    for scope in ["all", *sorted(set(groups))]:
        pick = [i for i, g in enumerate(groups) if scope in ("all", g)]
        scores = classification_scores([truth[i] for i in pick], [predicted[i] for i in pick])
        rows.append(
            {
                "classifier": name,
                "classifier_version": version,
                "is_configured": configured,
                "prediction": prediction,
                "scope": scope,
                **{k: v for k, v in scores.items() if k != "confusion"},
                "confusion": json.dumps(scores["confusion"], sort_keys=True),
            }
        )
    return rows


def build(con: duckdb.DuckDBPyConnection, config: Config) -> pa.Table:
    labelled = con.execute(LABELLED).fetchall()
    if not labelled:
        return SCHEMA.empty_table()
    groups = [r[0] for r in labelled]
    texts = [r[1] or "" for r in labelled]
    truth = [r[2] for r in labelled]
    configured_name, configured_version, configured_kind = labelled[0][4], labelled[0][5], labelled[0][6]
    kind = "cross_fitted" if configured_kind in ("cross_fitted", "fitted") else "rules"
    rows = _rows(configured_name, configured_version, True, kind, groups, truth, [r[3] for r in labelled])

    settings = config.settings.stance
    by_group = targets_by_group(con)
    targets = [by_group.get(g, []) for g in groups]
    for baseline in BUILTIN:  # every classifier dissentry ships, in the registry's order
        if baseline == configured_name:
            continue
        classifier = make_classifier(settings.model_copy(update={"classifier": baseline}))
        if not is_trainable(classifier):
            predicted = classifier.classify(texts, targets)
            rows += _rows(baseline, classifier.version, False, "rules", groups, truth, predicted)
        elif len(truth) >= MIN_LABELS_TO_FIT and len(set(truth)) >= 2:
            def fresh(name: str = baseline) -> object:
                return make_classifier(settings.model_copy(update={"classifier": name}))

            folds, seed = settings.cross_fit_folds, settings.seed
            predicted = cross_fit_predict(fresh, texts, targets, truth, folds=folds, seed=seed)
            rows += _rows(baseline, "cross-fitted", False, "cross_fitted", groups, truth, predicted)
    return pa.Table.from_pylist(rows, schema=SCHEMA)
