"""The corrected dissent rate (transforms/estimation.py): simulation coverage and hand-worked cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from dissentry.transforms.estimation import (
    MIN_LABELS,
    Estimate,
    PairedCounts,
    corrected_proportion,
    difference,
    pooled,
)

Z95 = 1.959963984540054


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson score interval, as the wilson_lo/wilson_hi macros compute it for the raw rate."""
    p = k / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return centre - half, centre + half


def draw(rng: np.random.Generator, y: np.ndarray, sens: float, spec: float, n: int) -> tuple[int, int, PairedCounts]:
    """One draw: fresh classifier noise over the whole population, then a labelled SRS of n."""
    u = rng.random(y.size)
    f = np.where(y, u < sens, u < 1.0 - spec)
    idx = rng.choice(y.size, size=n, replace=False)
    ys, fs = y[idx], f[idx]
    counts = PairedCounts(
        tp=int(np.sum(ys & fs)), fn=int(np.sum(ys & ~fs)), fp=int(np.sum(~ys & fs)), tn=int(np.sum(~ys & ~fs))
    )
    return y.size, int(f.sum()), counts


def test_corrected_interval_covers_and_the_raw_rate_is_biased() -> None:
    # A known population: 2000 references, exactly 400 critical (rate 0.2). The classifier finds
    # 60% of the critical ones and calls 15% of the others critical, so its predicted rate is
    # about 0.6 * 0.2 + 0.15 * 0.8 = 0.24.
    rng = np.random.default_rng(20260902)
    big_n, truth = 2000, 0.2
    y = np.zeros(big_n, dtype=bool)
    y[rng.choice(big_n, size=int(truth * big_n), replace=False)] = True
    draws = 1000
    covered = raw_covered = 0
    raw_rates: list[float] = []
    for _ in range(draws):
        population, predicted, counts = draw(rng, y, sens=0.6, spec=0.85, n=150)
        est = corrected_proportion(population, predicted, counts)
        assert est is not None
        assert 0.0 <= est.lam <= 1.0
        covered += est.lo <= truth <= est.hi
        lo, hi = wilson(predicted, population)
        raw_covered += lo <= truth <= hi
        raw_rates.append(predicted / population)
    coverage = covered / draws
    assert 0.93 <= coverage <= 0.97, coverage
    # The uncorrected rate is biased: its mean is off by far more than its Monte-Carlo error,
    # and its Wilson interval (sampling error only) almost never covers the truth.
    raw_mean = float(np.mean(raw_rates))
    raw_mc_se = float(np.std(raw_rates, ddof=1)) / math.sqrt(draws)
    assert abs(raw_mean - truth) > 20 * raw_mc_se
    assert abs(raw_mean - 0.24) < 0.005
    assert raw_covered / draws < 0.10


def test_group_comparison_covers() -> None:
    # Three groups with planted rates 0.05, 0.2, 0.4 (N = 1500, 2000, 2500), each with its own
    # labelled SRS of 150 and the same biased classifier. The comparison of the first group with
    # the pooled others must cover the true difference 0.05 - (400 + 1000)/4500, and the pooled
    # rate of the others its truth 1400/4500.
    rng = np.random.default_rng(11)
    populations = []
    for big_n, rate in ((1500, 0.05), (2000, 0.2), (2500, 0.4)):
        y = np.zeros(big_n, dtype=bool)
        y[rng.choice(big_n, size=int(rate * big_n), replace=False)] = True
        populations.append(y)
    others_truth = 1400 / 4500
    draws, covered, pooled_covered = 1000, 0, 0
    for _ in range(draws):
        estimates = [corrected_proportion(*draw(rng, y, sens=0.6, spec=0.85, n=150)) for y in populations]
        first = estimates[0]
        others = pooled(estimates[1:])
        assert first is not None and others is not None
        d = difference(first, others)
        covered += d.lo <= 0.05 - others_truth <= d.hi
        pooled_covered += others.lo <= others_truth <= others.hi
    assert 0.93 <= covered / draws <= 0.97
    assert 0.93 <= pooled_covered / draws <= 0.97


@pytest.mark.parametrize("n", [MIN_LABELS, 150])
def test_coverage_near_zero_without_collapse(n: int) -> None:
    # Rare dissent (rate 0.02) and a nearly perfect classifier: most labelled samples show no
    # disagreement at all, where a plug-in variance would be 0.
    rng = np.random.default_rng(7)
    big_n, truth = 2000, 0.02
    y = np.zeros(big_n, dtype=bool)
    y[rng.choice(big_n, size=int(truth * big_n), replace=False)] = True
    draws, covered, no_disagreement = 1000, 0, 0
    for _ in range(draws):
        population, predicted, counts = draw(rng, y, sens=0.98, spec=0.995, n=n)
        est = corrected_proportion(population, predicted, counts)
        assert est is not None
        assert est.hi - est.lo > 1e-3, (counts, est)
        assert est.se > 0
        no_disagreement += counts.fn + counts.fp == 0
        covered += est.lo <= truth <= est.hi
    assert no_disagreement > draws / 3  # the boundary case is a common one here
    assert covered / draws >= 0.90


def test_hand_worked_table() -> None:
    # N = 200 references, F = 40 predicted critical. 50 labelled:
    #                  predicted critical   predicted not
    #   critical            tp = 8              fn = 2
    #   not critical        fp = 4              tn = 36
    # Adjusted table (+1/2 per cell, Agresti & Min): 8.5, 2.5, 4.5, 36.5; m = 52.
    #   lam = slope of y on f = P(y|f=1) - P(y|f=0) = 8.5/13 - 2.5/39 = 23/39 = 0.589744
    #   (equivalently cov/var: (8.5/52 - 11/52 * 13/52) / (13/52 * 39/52) = 299/507)
    # Point from the raw counts: ybar = 10/50 = 0.2, fbar = 12/50 = 0.24, F/N = 0.2:
    #   theta = 23/39 * 0.2 + 0.2 - 23/39 * 0.24 = 0.2 - 0.92/39 = 172/975 = 0.176410
    # Residual e = y - lam f per cell: 16/39, 1, -23/39, 0; weighted mean (130/39)/52 = 5/78;
    #   sum w e^2 = (8.5 * 256 + 4.5 * 529)/1521 + 2.5 = 643/117;
    #   ss = 643/117 - 52 * (5/78)^2 = 206/39; s^2 = ss/51 = 0.103570
    #   var = (1 - 50/200) * s^2 / 50 = 103/66300 = 0.00155354; se = 0.0394150
    # Wilson with effective size k = p(1-p)/var = 93.5214:
    #   centre = (p + z^2/2k)/(1 + z^2/k) = 0.189178; half = z sqrt(p(1-p)/k + z^2/4k^2)/(1 + z^2/k) = 0.0767816
    est = corrected_proportion(200, 40, PairedCounts(tp=8, fn=2, fp=4, tn=36))
    assert est is not None
    assert est.lam == pytest.approx(23 / 39, abs=1e-12)
    assert est.estimate == pytest.approx(172 / 975, abs=1e-12)
    assert est.se == pytest.approx(math.sqrt(103 / 66300), abs=1e-12)
    assert est.lo == pytest.approx(0.189178 - 0.0767816, abs=1e-6)
    assert est.hi == pytest.approx(0.189178 + 0.0767816, abs=1e-6)
    assert (est.n_labelled, est.n_population) == (50, 200)


def test_zero_disagreement_keeps_a_real_interval() -> None:
    # N = 1000, F = 20; 50 labelled with y == f everywhere: tp = 1, tn = 49.
    # Adjusted 1.5, 0.5, 0.5, 49.5 (m = 52): lam = 1.5/2 - 0.5/50 = 0.74.
    # ybar = fbar = F/N = 0.02, so the point is 0.02 whatever lam; the plug-in variance would be 0.
    est = corrected_proportion(1000, 20, PairedCounts(tp=1, fn=0, fp=0, tn=49))
    assert est is not None
    assert est.lam == pytest.approx(0.74, abs=1e-12)
    assert est.estimate == pytest.approx(0.02, abs=1e-12)
    assert est.se > 0.01
    assert est.lo < 0.02 < est.hi


def test_census_is_exact() -> None:
    # Every reference labelled: no sampling error, the rate is the labelled rate.
    est = corrected_proportion(60, 25, PairedCounts(tp=20, fn=3, fp=5, tn=32))
    assert est is not None
    assert est.estimate == pytest.approx(23 / 60, abs=1e-12)
    assert est.lo == est.hi == est.estimate
    assert est.se == 0.0


def test_every_small_table_gives_an_ordered_interval_in_bounds() -> None:
    # Exhaustive over all 2x2 tables of 30 labels in a cell of 100, at the extreme and middle
    # values of F the table allows: lam in [0, 1], lo <= estimate <= hi, and lo < hi.
    big_n, n = 100, 30
    for tp, fn, fp in itertools.product(range(n + 1), repeat=3):
        tn = n - tp - fn - fp
        if tn < 0:
            continue
        low_f = tp + fp
        for predicted in (low_f, low_f + (big_n - n) // 2, low_f + big_n - n):
            est = corrected_proportion(big_n, predicted, PairedCounts(tp, fn, fp, tn), min_labels=1)
            assert est is not None
            assert 0.0 <= est.lam <= 1.0
            assert 0.0 <= est.lo <= est.estimate <= est.hi <= 1.0
            assert est.hi > est.lo


def test_too_few_labels_or_empty_cell() -> None:
    few = PairedCounts(tp=1, fn=1, fp=1, tn=MIN_LABELS - 4)
    assert few.n == MIN_LABELS - 1
    assert corrected_proportion(500, 50, few) is None
    assert corrected_proportion(500, 50, few, min_labels=MIN_LABELS - 1) is not None
    assert corrected_proportion(0, 0, PairedCounts(0, 0, 0, 0), min_labels=0) is None


def test_inconsistent_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        corrected_proportion(100, 101, PairedCounts(0, 0, 0, 60))
    with pytest.raises(ValueError):  # 12 labelled predicted critical, only 10 in the population
        corrected_proportion(100, 10, PairedCounts(6, 0, 6, 48))
    with pytest.raises(ValueError):
        corrected_proportion(100, 10, PairedCounts(-1, 0, 0, 60))
    with pytest.raises(ValueError):
        corrected_proportion(100, 10, PairedCounts(2, 2, 2, 50), confidence=1.0)


def test_pooled_by_hand() -> None:
    # Strata A (N = 100, 0.2, se 0.03) and B (N = 300, 0.4, se 0.04):
    #   estimate = (100 * 0.2 + 300 * 0.4) / 400 = 0.35
    #   var = 0.25^2 * 0.03^2 + 0.75^2 * 0.04^2 = 0.00005625 + 0.0009 = 0.00095625
    # Wilson with k = 0.35 * 0.65 / 0.00095625 = 237.908: centre 0.352384, half 0.0601723.
    a = Estimate(0.2, 0.15, 0.25, 0.03, 60, 100, 0.5)
    b = Estimate(0.4, 0.33, 0.47, 0.04, 60, 300, 0.7)
    p = pooled([a, b])
    assert p is not None
    assert p.estimate == pytest.approx(0.35, abs=1e-12)
    assert p.se == pytest.approx(math.sqrt(0.00095625), abs=1e-12)
    assert p.lo == pytest.approx(0.352384 - 0.0601723, abs=1e-6)
    assert p.hi == pytest.approx(0.352384 + 0.0601723, abs=1e-6)
    assert (p.n_labelled, p.n_population) == (120, 400)
    assert math.isnan(p.lam)
    assert pooled([]) is None
    assert pooled([a, None]) is None


def test_difference_by_hand() -> None:
    # 0.2 (se 0.03) - 0.35 (se 0.04) = -0.15, se = sqrt(0.0009 + 0.0016) = 0.05,
    # interval -0.15 -+ 1.959964 * 0.05 = [-0.247998, -0.052002].
    a = Estimate(0.2, 0.15, 0.25, 0.03, 60, 100, 0.5)
    b = Estimate(0.35, 0.29, 0.41, 0.04, 120, 400, math.nan)
    d = difference(a, b)
    assert d.estimate == pytest.approx(-0.15, abs=1e-12)
    assert d.se == pytest.approx(0.05, abs=1e-12)
    assert d.lo == pytest.approx(-0.15 - Z95 * 0.05, abs=1e-12)
    assert d.hi == pytest.approx(-0.15 + Z95 * 0.05, abs=1e-12)
    assert (d.n_labelled, d.n_population) == (180, 500)
    # Clipped to [-1, 1].
    wide = difference(Estimate(0.9, 0.0, 1.0, 0.3, 50, 50, 0.5), Estimate(0.0, 0.0, 1.0, 0.3, 50, 50, 0.5))
    assert wide.hi == 1.0
    assert wide.lo == pytest.approx(0.9 - Z95 * math.sqrt(0.18), abs=1e-12)
