"""Scoring the stance classifier against labels, and agreement between annotators.

Pure functions over plain sequences; scikit-learn computes the scores and the `krippendorff`
package the multi-annotator alpha, so the figures match what a reader gets from those libraries.
Every metric is over the three LABELS whether or not each occurs: a label that never occurs in the
data scores 0 (zero_division=0), so macro-F1 is always a mean of three numbers.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# scikit-learn and krippendorff are imported where a score is computed, not here: importing them
# costs about a CPU second, which every transform paid (in label_agreement) even with no labels.

LABELS = ("critical", "supportive", "neutral")
_CODE = {label: float(i) for i, label in enumerate(LABELS)}


def _check(labels: Sequence[str], what: str) -> None:
    unknown = sorted(set(labels) - set(LABELS))
    if unknown:
        raise ValueError(f"{what}: unknown labels {unknown}; expected one of {list(LABELS)}")


def _finite(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def classification_scores(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, Any]:
    """n, accuracy, precision/recall/F1 of `critical`, macro-F1 over LABELS, and the confusion matrix.

    `confusion[true][predicted]` is a count, with every label present on both sides. With no
    labelled posts every score is None and the matrix is all zeros.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    _check(y_true, "y_true")
    _check(y_pred, "y_pred")
    labels = list(LABELS)
    n = len(y_true)
    if n == 0:
        zero = {t: dict.fromkeys(LABELS, 0) for t in LABELS}
        return {
            "n": 0,
            "accuracy": None,
            "precision_critical": None,
            "recall_critical": None,
            "f1_critical": None,
            "macro_f1": None,
            "confusion": zero,
        }
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=["critical"], zero_division=0)
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    return {
        "n": n,
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision_critical": float(precision[0]),
        "recall_critical": float(recall[0]),
        "f1_critical": float(f1[0]),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "confusion": {t: {p: int(matrix[i, j]) for j, p in enumerate(LABELS)} for i, t in enumerate(LABELS)},
    }


def _alpha(rows: list[list[float]]) -> float | None:
    """Nominal Krippendorff's alpha of an annotators x posts matrix (NaN = not labelled).

    None when fewer than two distinct labels were given: the expected disagreement is then 0
    and alpha is undefined (0/0), whatever the annotators did.
    """
    data = np.array(rows, dtype=float)
    if len(np.unique(data[~np.isnan(data)])) < 2:
        return None
    import krippendorff

    return _finite(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def _kappa(a: list[str], b: list[str]) -> float | None:
    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():
        # An undefined kappa (both annotators used one and the same label) becomes None below.
        warnings.simplefilter("ignore")
        value = cohen_kappa_score(a, b, labels=list(LABELS), replace_undefined_by=np.nan)
    return _finite(float(value))


def _observed_agreement(posts: list[list[str]]) -> float:
    """Krippendorff's observed agreement 1 - D_o: the share of agreeing pairs of labels within a
    post, each post weighted by its number of labels (pairs counted as 1/(m_u - 1) each). With two
    annotators per post this is the plain share of posts on which they agree."""
    total = sum(len(p) for p in posts)
    agreeing = sum(sum(k * (k - 1) for k in Counter(p).values()) / (len(p) - 1) for p in posts)
    return agreeing / total


def agreement(labels: Mapping[str, Mapping[str, str]]) -> list[dict[str, Any]]:
    """Agreement between annotators, from post_id -> annotator -> label.

    One row per pair of annotators who labelled at least one post in common (annotator_a <
    annotator_b), then one row with annotator_a = annotator_b = '*' for all annotators together
    over the posts with two or more labels (cohen_kappa None there). percent_agreement is a
    proportion in [0, 1]. Empty when no post has two annotators.
    """
    for post_id, by_annotator in labels.items():
        _check(list(by_annotator.values()), f"post {post_id}")
    shared = {pid: dict(by) for pid, by in labels.items() if len(by) >= 2}
    if not shared:
        return []
    annotators = sorted({a for by in shared.values() for a in by})
    rows: list[dict[str, Any]] = []
    for a, b in itertools.combinations(annotators, 2):
        both = [(by[a], by[b]) for _, by in sorted(shared.items()) if a in by and b in by]
        if not both:
            continue
        la, lb = [x for x, _ in both], [y for _, y in both]
        rows.append(
            {
                "annotator_a": a,
                "annotator_b": b,
                "n": len(both),
                "percent_agreement": sum(x == y for x, y in both) / len(both),
                "cohen_kappa": _kappa(la, lb),
                "krippendorff_alpha": _alpha([[_CODE[x] for x in la], [_CODE[y] for y in lb]]),
            }
        )
    post_ids = sorted(shared)
    matrix = [[_CODE[shared[pid][a]] if a in shared[pid] else math.nan for pid in post_ids] for a in annotators]
    rows.append(
        {
            "annotator_a": "*",
            "annotator_b": "*",
            "n": len(post_ids),
            "percent_agreement": _observed_agreement([list(shared[pid].values()) for pid in post_ids]),
            "cohen_kappa": None,
            "krippendorff_alpha": _alpha(matrix),
        }
    )
    return rows
