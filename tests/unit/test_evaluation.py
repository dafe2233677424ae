"""Classifier scores and annotator agreement (transforms/evaluation.py), against values worked by hand."""

from __future__ import annotations

import pytest

from dissentry.transforms.evaluation import LABELS, agreement, classification_scores

C, S, N = "critical", "supportive", "neutral"


def test_scores_of_a_small_confusion_matrix() -> None:
    # true \ predicted   critical  supportive  neutral
    #   critical             3          1          1      (5)
    #   supportive           1          2          0      (3)
    #   neutral              0          1          1      (2)
    # accuracy = (3 + 2 + 1) / 10 = 0.6
    # critical:   P = 3/4, R = 3/5, F1 = 2 * 0.75 * 0.6 / 1.35 = 2/3
    # supportive: P = 2/4, R = 2/3, F1 = (2/3) / (7/6) = 4/7
    # neutral:    P = 1/2, R = 1/2, F1 = 1/2
    # macro-F1 = (2/3 + 4/7 + 1/2) / 3 = 73/126
    pairs = [(C, C)] * 3 + [(C, S), (C, N), (S, C)] + [(S, S)] * 2 + [(N, S), (N, N)]
    y_true, y_pred = [t for t, _ in pairs], [p for _, p in pairs]
    scores = classification_scores(y_true, y_pred)
    assert scores["n"] == 10
    assert scores["accuracy"] == pytest.approx(0.6, abs=1e-12)
    assert scores["precision_critical"] == pytest.approx(0.75, abs=1e-12)
    assert scores["recall_critical"] == pytest.approx(0.6, abs=1e-12)
    assert scores["f1_critical"] == pytest.approx(2 / 3, abs=1e-12)
    assert scores["macro_f1"] == pytest.approx(73 / 126, abs=1e-12)
    assert scores["confusion"] == {
        C: {C: 3, S: 1, N: 1},
        S: {C: 1, S: 2, N: 0},
        N: {C: 0, S: 1, N: 1},
    }


def test_absent_labels_score_zero() -> None:
    # No supportive post anywhere: its F1 is 0 by convention (zero_division=0), so
    # macro-F1 = (F1 critical 2/3 [P 1, R 1/2] + 0 + F1 neutral 2/3 [P 1/2, R 1]) / 3 = 4/9.
    scores = classification_scores([C, C, N], [C, N, N])
    assert scores["macro_f1"] == pytest.approx(4 / 9, abs=1e-12)
    assert scores["confusion"][S] == {C: 0, S: 0, N: 0}
    # Nothing predicted critical: precision 0, not an error.
    none_critical = classification_scores([C, N], [N, N])
    assert none_critical["precision_critical"] == 0.0
    assert none_critical["recall_critical"] == 0.0
    assert none_critical["accuracy"] == 0.5


def test_no_labels_and_bad_input() -> None:
    empty = classification_scores([], [])
    assert empty["n"] == 0 and empty["accuracy"] is None and empty["macro_f1"] is None
    assert set(empty["confusion"]) == set(LABELS)
    with pytest.raises(ValueError):
        classification_scores([C], [C, C])
    with pytest.raises(ValueError):
        classification_scores(["against"], [C])


def test_two_annotators_kappa_and_alpha() -> None:
    # post:  1 2 3 4 5 6 7 8 9 10
    # ann:   c c c c s s s n n n
    # bob:   c c c s s s n n n c
    # Agreement 7/10. Marginals both c 4, s 3, n 3: p_e = (16 + 9 + 9)/100 = 0.34,
    # kappa = (0.7 - 0.34) / 0.66 = 6/11.
    # Alpha: coincidence matrix over 20 values: o_cc 6, o_ss 4, o_nn 4, six off-diagonal 1s;
    # n_c = 8, n_s = 6, n_n = 6. D_o = 6/20, D_e = (400 - 136)/(20 * 19) = 264/380,
    # alpha = 1 - 0.3 * 380/264 = 25/44.
    ann = [C, C, C, C, S, S, S, N, N, N]
    bob = [C, C, C, S, S, S, N, N, N, C]
    labels = {f"p{i}": {"ann": a, "bob": b} for i, (a, b) in enumerate(zip(ann, bob, strict=True))}
    labels["p_solo"] = {"ann": C}  # one annotator only: in no row
    rows = agreement(labels)
    assert [(r["annotator_a"], r["annotator_b"]) for r in rows] == [("ann", "bob"), ("*", "*")]
    pair, everyone = rows
    assert pair["n"] == 10
    assert pair["percent_agreement"] == pytest.approx(0.7, abs=1e-12)
    assert pair["cohen_kappa"] == pytest.approx(6 / 11, abs=1e-12)
    assert pair["krippendorff_alpha"] == pytest.approx(25 / 44, abs=1e-12)
    assert everyone["n"] == 10
    assert everyone["cohen_kappa"] is None
    assert everyone["krippendorff_alpha"] == pytest.approx(25 / 44, abs=1e-12)
    assert everyone["percent_agreement"] == pytest.approx(0.7, abs=1e-12)


def test_three_annotators_with_missing_labels() -> None:
    #        x  y  z
    # u1:    c  c  c
    # u2:    c  s  -
    # u3:    s  s  n
    # u4:    n  -  n
    # u5:    -  c  -     (one label: not pairable, left out)
    # Coincidences (each ordered pair within a post counts 1/(m_u - 1)):
    #   u1: o_cc += 6 * 1/2 = 3;  u2: o_cs += 1, o_sc += 1;
    #   u3: o_ss += 2 * 1/2 = 1, o_sn += 1, o_ns += 1;  u4: o_nn += 2.
    # n_c = 4, n_s = 3, n_n = 3, n = 10. D_o = 4/10, D_e = (100 - 34)/90 = 66/90,
    # alpha = 1 - 0.4 * 90/66 = 5/11. Observed agreement 1 - D_o = 0.6.
    # Pairs:
    #   x-y on u1-u3: (c,c) (c,s) (s,s): agree 2/3; p_e = 2/3*1/3 + 1/3*2/3 = 4/9, kappa = (2/9)/(5/9) = 0.4;
    #       alpha: o_cc 2, o_ss 2, o_cs = o_sc = 1; n_c = n_s = 3; D_o = 2/6, D_e = 18/30 -> 4/9.
    #   x-z on u1, u3, u4: (c,c) (s,n) (n,n): agree 2/3; p_e = 1/9 + 0 + 2/9, kappa = (1/3)/(2/3) = 0.5.
    #   y-z on u1, u3: (c,c) (s,n): agree 1/2; p_e = 1/4, kappa = (1/4)/(3/4) = 1/3.
    labels = {
        "u1": {"x": C, "y": C, "z": C},
        "u2": {"x": C, "y": S},
        "u3": {"x": S, "y": S, "z": N},
        "u4": {"x": N, "z": N},
        "u5": {"y": C},
    }
    rows = {(r["annotator_a"], r["annotator_b"]): r for r in agreement(labels)}
    assert set(rows) == {("x", "y"), ("x", "z"), ("y", "z"), ("*", "*")}
    assert rows["x", "y"]["n"] == 3
    assert rows["x", "y"]["percent_agreement"] == pytest.approx(2 / 3, abs=1e-12)
    assert rows["x", "y"]["cohen_kappa"] == pytest.approx(0.4, abs=1e-12)
    assert rows["x", "y"]["krippendorff_alpha"] == pytest.approx(4 / 9, abs=1e-12)
    assert rows["x", "z"]["cohen_kappa"] == pytest.approx(0.5, abs=1e-12)
    assert rows["y", "z"]["n"] == 2
    assert rows["y", "z"]["percent_agreement"] == pytest.approx(0.5, abs=1e-12)
    assert rows["y", "z"]["cohen_kappa"] == pytest.approx(1 / 3, abs=1e-12)
    everyone = rows["*", "*"]
    assert everyone["n"] == 4
    assert everyone["krippendorff_alpha"] == pytest.approx(5 / 11, abs=1e-12)
    assert everyone["percent_agreement"] == pytest.approx(0.6, abs=1e-12)
    assert everyone["cohen_kappa"] is None


def test_undefined_and_empty_agreement() -> None:
    # Both annotators used one and the same label: chance agreement is 1, so kappa and alpha are
    # 0/0, reported as None; the raw agreement is still 1.
    rows = agreement({"p1": {"a": C, "b": C}, "p2": {"a": C, "b": C}})
    assert rows[0]["percent_agreement"] == 1.0
    assert rows[0]["cohen_kappa"] is None
    assert rows[0]["krippendorff_alpha"] is None
    # No post with two annotators: nothing to report.
    assert agreement({"p1": {"a": C}, "p2": {"b": S}}) == []
    assert agreement({}) == []
    with pytest.raises(ValueError):
        agreement({"p1": {"a": "Critical", "b": C}})
