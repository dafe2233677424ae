"""The measurement models on hand-made data: people's labels -> consensus -> cross-fitted stance ->
corrected dissent rates, the classifier's evaluation and the annotators' agreement.

The classifiers here are small classes written in this file and loaded the way a user's own
classifier is (`settings.stance.classifier = "module:Class"`), so every prediction is known by
construction and every count below is worked out by hand.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from dissentry.transforms.estimation import PairedCounts, corrected_proportion, difference, pooled
from dissentry.transforms.runner import run_models
from dissentry.warehouse import catalog, schema
from tests.transforms.builders import account, config, load_inputs, post, rows

DAY = "2026-03-10"
LATER = "2026-04-10"
ALICE, BOB, CAROL = "mastodon:alice@s.example", "mastodon:bob@s.example", "mastodon:carol@s.example"


class KeywordClassifier:
    """critical when the text says 'bad', supportive when it says 'good', neutral otherwise."""

    name = "keywords"
    version = "1"

    def classify(self, texts: Sequence[str], targets: Sequence[Sequence[str]]) -> list[str]:
        return ["critical" if "bad" in t else "supportive" if "good" in t else "neutral" for t in texts]


class Memoriser:
    """Learns texts by heart: a prediction made from a model that saw its own label is that label."""

    name = "memoriser"

    def __init__(self) -> None:
        self.memory: dict[str, str] = {}
        self.version = "unfitted"

    def fit(self, texts: Sequence[str], targets: Sequence[Sequence[str]], labels: Sequence[str]) -> None:
        self.memory = dict(zip(texts, labels, strict=True))
        self.version = f"memo-{len(self.memory)}"

    def classify(self, texts: Sequence[str], targets: Sequence[Sequence[str]]) -> list[str]:
        return [self.memory.get(t, "neutral") for t in texts]


GROUPS = [
    {"id": "org_a", "name": "Org A", "members": [ALICE, BOB]},
    {"id": "org_b", "name": "Org B", "members": [CAROL]},
]


def labels_table(labels: list[tuple[str, str, str, str]]) -> pa.Table:
    """(post_id, annotator, label, labelled day) rows in the lake's schema."""
    return pa.Table.from_pylist(
        [
            {
                "post_id": p,
                "label": label,
                "annotator": who,
                "labelled_at": datetime.fromisoformat(day).replace(tzinfo=UTC),
                "imported_at": datetime.fromisoformat(day).replace(tzinfo=UTC),
                "import_id": f"imp-{day}",
                "locator": "test",
            }
            for p, who, label, day in labels
        ],
        schema=schema.LABELS,
    )


def draws_table(draws: list[tuple[str, str]]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "draw_id": "d1", "seed": 1, "drawn_at": datetime(2026, 5, 1, tzinfo=UTC), "group_id": g,
                "scope": "all", "frame_size": 0, "sample_size": 0, "post_id": p, "position": i,
            }
            for i, (g, p) in enumerate(draws)
        ],
        schema=schema.LABEL_DRAWS,
    )


def build_with_labels(
    groups: list[dict[str, Any]],
    posts: list[dict[str, Any]],
    labels: list[tuple[str, str, str, str]],
    draws: list[tuple[str, str]],
    **stance: Any,
) -> duckdb.DuckDBPyConnection:
    con = catalog.connect()
    load_inputs(
        con,
        posts=posts,
        accounts=[account(ALICE, "alice@s.example"), account(BOB, "bob@s.example"), account(CAROL, "carol@s.example")],
    )
    for name, table in (("labels", labels_table(labels)), ("label_draws", draws_table(draws))):
        con.register("_in", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _in")
        con.unregister("_in")
    run_models(con, config(groups, stance=stance))
    return con


# org_a: 70 references, 30 saying 'bad' (predicted critical) and 40 'good'. People labelled 56 of
# them, drawn at random: of the 24 'bad' ones 18 are critical and 6 supportive (the classifier's
# false positives); of the 32 'good' ones 4 are critical (sarcasm it misses) and 28 supportive.
# So tp=18, fp=6, fn=4, tn=28 over n=56, with F=30 predicted critical among N=70.
# org_b: 60 references, 15 'bad'; 55 labelled: 15 'bad' all critical, 40 'good' with 7 critical.
def world() -> tuple[list[dict[str, Any]], list[tuple[str, str, str, str]], list[tuple[str, str]]]:
    posts, labels, draws = [], [], []

    def add(group: str, author: str, n: int, word: str, truth: list[str], day: str = DAY) -> None:
        for i in range(n):
            pid = f"{group}-{word}-{i}"
            posts.append(post(pid, author, day, f"{'Org A' if group == 'org_a' else 'Org B'} is {word} #{pid}"))
            if i < len(truth):
                labels.append((pid, "ann1", truth[i], "2026-05-01"))
                draws.append((group, pid))

    add("org_a", ALICE, 30, "bad", ["critical"] * 18 + ["supportive"] * 6)
    add("org_a", BOB, 40, "good", ["critical"] * 4 + ["supportive"] * 28)
    add("org_b", CAROL, 15, "bad", ["critical"] * 15)
    add("org_b", CAROL, 45, "good", ["critical"] * 7 + ["supportive"] * 33)
    return posts, labels, draws


PLUGIN = f"{__name__}:KeywordClassifier"


@pytest.fixture(scope="module")
def labelled() -> duckdb.DuckDBPyConnection:
    posts, labels, draws = world()
    return build_with_labels(GROUPS, posts, labels, draws, classifier=PLUGIN)


def cell(con: duckdb.DuckDBPyConnection, group: str, period: str = "all") -> dict[str, Any]:
    [row] = rows(con, "SELECT * FROM dissent_frequency WHERE group_id = ? AND period = ?", [group, period])
    return row


def test_without_labels_every_rate_is_unvalidated() -> None:
    posts, _, _ = world()
    con = build_with_labels(GROUPS, posts, [], [], classifier=PLUGIN)
    for row in rows(con, "SELECT * FROM dissent_frequency"):
        assert row["measure"] in ("unvalidated", "no_references")
        assert row["labelled_refs"] == 0
        assert row["dissent_rate_corrected"] is None and row["dissent_diff_vs_others_corrected"] is None
    assert cell(con, "org_a")["dissent_rate"] == pytest.approx(30 / 70)
    assert rows(con, "SELECT * FROM stance_evaluation") == []
    assert rows(con, "SELECT * FROM label_agreement") == []


def test_corrected_rate_uses_the_labelled_sample(labelled: duckdb.DuckDBPyConnection) -> None:
    a, b = cell(labelled, "org_a"), cell(labelled, "org_b")
    assert (a["org_reference_posts"], a["critical_posts"], a["labelled_refs"]) == (70, 30, 56)
    expected_a = corrected_proportion(70, 30, PairedCounts(tp=18, fn=4, fp=6, tn=28))
    expected_b = corrected_proportion(60, 15, PairedCounts(tp=15, fn=7, fp=0, tn=33))
    assert expected_a is not None and expected_b is not None
    assert a["measure"] == "corrected"
    assert (a["dissent_rate_corrected"], a["dissent_rate_corrected_lo"], a["dissent_rate_corrected_hi"]) == (
        pytest.approx(expected_a.estimate), pytest.approx(expected_a.lo), pytest.approx(expected_a.hi))
    # the labelled sample says 22 of 56 are critical (0.39), the classifier 30 of 70 (0.43)
    assert 0.30 < a["dissent_rate_corrected"] < 0.50
    # the comparison: org_a minus org_b (the only other group), with an interval around it
    diff = difference(expected_a, pooled([expected_b]))
    assert a["dissent_diff_vs_others_corrected"] == pytest.approx(diff.estimate)
    assert a["dissent_diff_vs_others_corrected_lo"] == pytest.approx(diff.lo)
    assert b["dissent_diff_vs_others_corrected"] == pytest.approx(-diff.estimate)
    assert a["dissent_diff_p_value_corrected"] == pytest.approx(math.erfc(abs(diff.estimate) / diff.se / 2**0.5))


def test_labels_outside_a_random_draw_grade_but_do_not_correct() -> None:
    posts, labels, draws = world()
    # five more org_a labels, picked by hand (no draw): the evaluation counts them, the estimator not
    extra = [(f"org_a-good-{i}", "ann1", "supportive", "2026-05-01") for i in range(32, 37)]
    con = build_with_labels(GROUPS, posts, labels + extra, draws, classifier=PLUGIN)
    assert cell(con, "org_a")["labelled_refs"] == 56
    [evaluation] = rows(con, "SELECT * FROM stance_evaluation WHERE classifier = 'keywords' AND scope = 'org_a'")
    assert evaluation["n"] == 61


def test_evaluation_is_the_confusion_matrix_by_hand(labelled: duckdb.DuckDBPyConnection) -> None:
    [a] = rows(labelled, "SELECT * FROM stance_evaluation WHERE classifier = 'keywords' AND scope = 'org_a'")
    assert a["is_configured"] and a["prediction"] == "rules" and a["n"] == 56
    # predicted critical: 18 right, 6 wrong (people said supportive); predicted supportive: 28 right,
    # 4 wrong (people said critical). Accuracy 46/56; critical P = 18/24, R = 18/22.
    assert json.loads(a["confusion"])["critical"] == {"critical": 18, "supportive": 4, "neutral": 0}
    assert json.loads(a["confusion"])["supportive"] == {"critical": 6, "supportive": 28, "neutral": 0}
    assert a["accuracy"] == pytest.approx(46 / 56)
    assert a["precision_critical"] == pytest.approx(18 / 24)
    assert a["recall_critical"] == pytest.approx(18 / 22)
    assert a["f1_critical"] == pytest.approx(2 * 18 / (2 * 18 + 6 + 4))
    [overall] = rows(labelled, "SELECT n FROM stance_evaluation WHERE classifier = 'keywords' AND scope = 'all'")
    assert overall["n"] == 111
    # the baselines are graded beside it on the same labels
    assert {r["classifier"] for r in rows(labelled, "SELECT classifier FROM stance_evaluation")} >= {
        "keywords", "vader_rules"}


def test_a_learning_classifier_is_cross_fitted_on_labelled_references() -> None:
    posts, labels, draws = world()
    # the same text as a labelled post, but unlabelled: the model fitted on all labels knows it
    posts.append(post("copy", ALICE, DAY, "Org A is bad #org_a-bad-0"))
    con = build_with_labels(GROUPS, posts, labels, draws, classifier=f"{__name__}:Memoriser")
    stance = {r["post_id"]: r for r in rows(con, "SELECT * FROM reference_stance")}
    assert stance["copy"]["prediction"] == "fitted" and stance["copy"]["stance"] == "critical"
    labelled = [r for r in stance.values() if r["gold_label"] is not None]
    assert len(labelled) == 111 and {r["prediction"] for r in labelled} == {"cross_fitted"}
    # every labelled text is unique, so a model that never saw it says 'neutral': had its own label
    # graded it, the memoriser would have been perfect
    assert {r["stance"] for r in labelled} == {"neutral"}
    assert {r["classifier_version"] for r in stance.values()} == {"memo-111"}


def test_consensus_of_annotators(labelled: duckdb.DuckDBPyConnection) -> None:
    posts, labels, draws = world()
    more = [
        ("org_a-bad-0", "ann2", "supportive", "2026-05-02"),  # 1 vs 1: disputed, no label
        ("org_a-bad-1", "ann2", "critical", "2026-05-02"),  # agrees
        ("org_a-bad-2", "ann2", "neutral", "2026-05-02"),
        ("org_a-bad-2", "ann3", "critical", "2026-05-02"),  # 2 vs 1: critical
        ("org_a-bad-3", "ann1", "supportive", "2026-05-03"),  # ann1 changed their mind later
    ]
    con = build_with_labels(GROUPS, posts, labels + more, draws, classifier=PLUGIN)
    got = {r["post_id"]: r for r in rows(con, "SELECT * FROM int_stance_labels WHERE post_id LIKE 'org_a-bad-%'")}
    assert got["org_a-bad-0"]["label"] is None and got["org_a-bad-0"]["n_annotators"] == 2
    assert got["org_a-bad-1"]["label"] == "critical" and got["org_a-bad-1"]["unanimous"]
    assert got["org_a-bad-2"]["label"] == "critical" and not got["org_a-bad-2"]["unanimous"]
    assert got["org_a-bad-3"]["label"] == "supportive"
    # a disputed reference is left out of the sample: 55 labelled in org_a
    assert cell(con, "org_a")["labelled_refs"] == 55
    pairs = {(r["annotator_a"], r["annotator_b"]): r for r in rows(con, "SELECT * FROM label_agreement")}
    # ann1 and ann2 both labelled bad-0, bad-1, bad-2: they agree on bad-1 only
    assert pairs[("ann1", "ann2")]["n"] == 3
    assert pairs[("ann1", "ann2")]["percent_agreement"] == pytest.approx(1 / 3)


def test_too_few_labels_leaves_the_corrected_rate_null() -> None:
    posts, labels, draws = world()
    keep = {p for _, p in draws[:10]}
    con = build_with_labels(GROUPS, posts, [x for x in labels if x[0] in keep], [d for d in draws if d[1] in keep],
                            classifier=PLUGIN)
    a = cell(con, "org_a")
    assert a["labelled_refs"] == 10 and a["measure"] == "too_few_labels" and a["dissent_rate_corrected"] is None


def test_period_cells_use_the_labels_in_their_period() -> None:
    posts, labels, draws = world()
    # move org_b's references to April: March has none of theirs, April all
    posts = [dict(p, created_at=datetime(2026, 4, 10, tzinfo=UTC)) if p["post_id"].startswith("org_b") else p
             for p in posts]
    con = build_with_labels(GROUPS, posts, labels, draws, classifier=PLUGIN)
    assert cell(con, "org_b", "2026-04")["labelled_refs"] == 55
    assert cell(con, "org_b", "2026-03")["measure"] == "no_references"
    assert cell(con, "org_b", "2026-04")["dissent_rate_corrected"] == pytest.approx(
        cell(con, "org_b")["dissent_rate_corrected"])
    # in March org_a is compared with nobody: org_b has no references there
    assert cell(con, "org_a", "2026-03")["dissent_diff_vs_others_corrected"] is None
