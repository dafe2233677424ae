"""Dissent rates corrected for classifier error, with intervals that include that error.

Setting: one cell (a group, a period) has N references. The classifier labels all N, F of them
critical. A simple random sample without replacement of n of the N carries a person's label y
(1 = critical) beside the classifier's f. The target is the cell's realised rate
theta = (1/N) sum y, a finite-population quantity.

The estimator is prediction-powered inference with power tuning (PPI++, Angelopoulos, Duchi &
Zrnic 2023) in its design-based form, which for a simple random sample of a finite population is
the survey regression (difference) estimator:

    theta_hat = lam * F/N + (ybar - lam * fbar)

The classifier's mean over the population, F/N, is known exactly; the labelled sample estimates
its error, ybar - fbar (the "rectifier"). lam tunes how much the predictions are trusted:
lam = 0 is the labelled sample alone, lam = 1 plain PPI. For any fixed lam the estimator is
unbiased under the design, with variance (1 - n/N) S^2_{y - lam f} / n; the lam minimising it is
the population regression slope S_yf / S_f^2, estimated on the sample and clipped to [0, 1].
Because lam = 0 is among the candidates, the tuned estimator is asymptotically never worse than
the labels alone (PPI++'s guarantee), and it is much better when the classifier is good.

The interval covers the sampling error of the labelled sample, which here *is* the classifier's
error (F/N carries none: every reference was classified). Two small-sample repairs, both chosen by
the coverage study in bench/estimator_coverage.py (docs/metrics.md has the table):
- At the boundary (no disagreement between y and f in the sample, or no critical post) the plug-in
  variance is 0 and the interval would collapse onto the point. Agresti & Min (2005, Stat. Med.
  24:729) showed that adding 1/2 to each cell of the 2x2 table of a paired sample repairs the Wald
  interval for a difference of matched proportions, which ybar - fbar is. lam and the variance
  come from that adjusted table; the point estimate from the raw counts.
- Near a rate of 0 the error is skewed and a symmetric interval undercovers. The interval is
  Wilson's score interval with the effective sample size p(1 - p) / var (Kish), the survey
  literature's interval for a proportion from a complex design (Korn & Graubard 1998, Survey
  Methodology 24:193; Dean & Pagano 2015, J. Surv. Stat. Methodol. 3:484).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

# The smallest labelled sample per cell for which a corrected rate is reported, chosen from the
# coverage study in bench/estimator_coverage.py (seeds 0 and 1, 2000 simulations a setting): from
# 50 labels the worst of 32 settings (rates 0.02-0.4, cells of 300 and 2000, good to useless
# classifiers) covers 0.93 and the typical one 0.95-0.96; at 20-30 the worst, rare dissent, falls
# to 0.92 in both seeds, and the intervals are 0.15-0.4 wide, too wide to tell a reader anything.
MIN_LABELS = 50

# Pseudo-count added to each cell of the labelled 2x2 table (Agresti & Min 2005).
_PSEUDO = 0.5


@dataclass(frozen=True)
class PairedCounts:
    """The labelled references of one cell, cross-tabulated by true label and prediction."""

    tp: int  # labelled critical, predicted critical
    fn: int  # labelled critical, predicted not
    fp: int  # labelled not critical, predicted critical
    tn: int  # neither

    @property
    def n(self) -> int:
        return self.tp + self.fn + self.fp + self.tn


@dataclass(frozen=True)
class Estimate:
    estimate: float
    lo: float
    hi: float
    se: float
    n_labelled: int
    n_population: int
    lam: float  # power-tuning coefficient; NaN for a pooled estimate or a difference


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def _clip(x: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, x))


def _validate(population: int, predicted_positive: int, c: PairedCounts) -> None:
    if min(c.tp, c.fn, c.fp, c.tn) < 0:
        raise ValueError(f"negative count in {c}")
    if population < 0 or not 0 <= predicted_positive <= population:
        raise ValueError(f"need 0 <= predicted_positive ({predicted_positive}) <= population ({population})")
    # The labelled references are part of the population, with their own predictions.
    if c.tp + c.fp > predicted_positive or c.fn + c.tn > population - predicted_positive:
        raise ValueError(
            f"labelled counts {c} do not fit in a population of {population}"
            f" with {predicted_positive} predicted critical"
        )


def corrected_proportion(
    population: int,
    predicted_positive: int,
    labelled: PairedCounts,
    *,
    confidence: float = 0.95,
    min_labels: int = MIN_LABELS,
) -> Estimate | None:
    """The cell's rate of critical references, corrected by its labelled random sample.

    None when the cell is empty or has fewer than `min_labels` labelled references.
    """
    _validate(population, predicted_positive, labelled)
    n, big_n = labelled.n, population
    if big_n == 0 or n < min_labels or n == 0:
        return None
    z = _z(confidence)

    # Moments from the adjusted table: never a zero variance, so lam is always defined and the
    # interval never collapses while part of the population is unlabelled.
    a, b = labelled.tp + _PSEUDO, labelled.fn + _PSEUDO
    c, d = labelled.fp + _PSEUDO, labelled.tn + _PSEUDO
    m = a + b + c + d
    p_y, p_f = (a + b) / m, (a + c) / m
    cov_yf = a / m - p_y * p_f
    var_f = p_f * (1.0 - p_f)
    lam = _clip(cov_yf / var_f, 0.0, 1.0)

    # Residual e = y - lam * f takes one value per cell of the table.
    values = (1.0 - lam, 1.0, -lam, 0.0)
    weights = (a, b, c, d)
    mean_e = sum(w * v for w, v in zip(weights, values, strict=True)) / m
    s2 = sum(w * (v - mean_e) ** 2 for w, v in zip(weights, values, strict=True)) / (m - 1.0)
    fpc = 1.0 - n / big_n  # a census (n = N) has no sampling error
    var = fpc * s2 / n

    ybar = (labelled.tp + labelled.fn) / n
    fbar = (labelled.tp + labelled.fp) / n
    raw = lam * predicted_positive / big_n + ybar - lam * fbar
    est, lo, hi = _wilson_effective(raw, var, z, floor=1.0 / m)
    return Estimate(est, lo, hi, math.sqrt(var), n, big_n, lam)


def _wilson_effective(raw: float, var: float, z: float, *, floor: float) -> tuple[float, float, float]:
    """Point and Wilson score interval with the effective sample size p(1 - p) / var.

    A symmetric normal interval undercovers near 0, where the rate's error is skewed; the Wilson
    interval with Kish's effective sample size is the survey literature's fix for a proportion
    estimated under a complex design (Korn & Graubard 1998; Dean & Pagano 2015). p in the
    effective size is kept `floor` from 0 and 1 so the size stays finite: 1/m, the rate of the one
    critical (and one not critical) label that the pseudo-counts of the adjusted table add.
    """
    p = _clip(raw, 0.0, 1.0)  # a rate outside [0, 1] is not publishable
    if var <= 0.0:
        return p, p, p  # a census: the rate is known exactly
    p_eff = _clip(raw, floor, 1.0 - floor)
    k = p_eff * (1.0 - p_eff) / var
    centre = (p + z * z / (2.0 * k)) / (1.0 + z * z / k)
    half = z * math.sqrt(p * (1.0 - p) / k + z * z / (4.0 * k * k)) / (1.0 + z * z / k)
    # The score interval always contains p; the clip only removes rounding noise.
    return p, _clip(min(centre - half, p), 0.0, 1.0), _clip(max(centre + half, p), 0.0, 1.0)


def pooled(estimates: Sequence[Estimate | None], *, confidence: float = 0.95) -> Estimate | None:
    """Independent strata (e.g. the other groups) combined, each weighted by its population.

    None when the list is empty, any stratum has no estimate, or the strata hold no references.
    """
    if not estimates or any(e is None for e in estimates):
        return None
    strata = [e for e in estimates if e is not None]
    total = sum(e.n_population for e in strata)
    if total == 0:
        return None
    est = sum(e.n_population * e.estimate for e in strata) / total
    var = sum((e.n_population / total) ** 2 * e.se**2 for e in strata)
    labelled = sum(e.n_labelled for e in strata)
    est, lo, hi = _wilson_effective(est, var, _z(confidence), floor=1.0 / (labelled + 4 * _PSEUDO))
    return Estimate(est, lo, hi, math.sqrt(var), labelled, total, math.nan)


def difference(a: Estimate, b: Estimate, *, confidence: float = 0.95) -> Estimate:
    """a - b for estimates from independent samples (a group against the pooled other groups)."""
    est = a.estimate - b.estimate
    se, z = math.sqrt(a.se**2 + b.se**2), _z(confidence)
    return Estimate(
        est,
        _clip(est - z * se, -1.0, 1.0),
        _clip(est + z * se, -1.0, 1.0),
        se,
        a.n_labelled + b.n_labelled,
        a.n_population + b.n_population,
        math.nan,
    )
