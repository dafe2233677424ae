"""Coverage of the corrected dissent rate's 95% interval (transforms/estimation.py), by simulation.

For each setting (true rate, labelled sample size n, cell size N, classifier quality) it draws,
`--sims` times: a population of N references with Bernoulli(rate) truth, the classifier's
predictions with the given sensitivity and specificity, and a simple random sample without
replacement of n references that a person labels. It prints the share of intervals that cover the
realised population rate, then the mean interval width beside the width of the labelled sample's
own Wilson interval (what the labels alone would give), and the coverage of the uncorrected
predicted rate's Wilson interval. Seeded: the same command prints the same tables.

    .venv/bin/python bench/estimator_coverage.py [--sims 2000] [--seed 0]

The Monte-Carlo standard error of a coverage near 0.95 is sqrt(0.95 * 0.05 / sims), 0.005 at 2000.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dissentry.transforms.estimation import PairedCounts, corrected_proportion

RATES = (0.02, 0.05, 0.2, 0.4)
SAMPLE_SIZES = (20, 30, 50, 100, 150)
POPULATIONS = (300, 2000)
# (name, sensitivity, specificity). (0.38, 0.90) is about vader_rules' recall of `critical` on
# SemEval-2016; the useless one predicts critical 30% of the time whatever the truth.
CLASSIFIERS = (
    ("good", 0.90, 0.95),
    ("biased", 0.50, 0.80),
    ("vader-like", 0.38, 0.90),
    ("useless", 0.30, 0.70),
)
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Cell:
    coverage: float
    width: float
    wilson_labels_width: float
    raw_coverage: float


def wilson(k: np.ndarray, n: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = k / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * np.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return centre - half, centre + half


def simulate(rate: float, n: int, big_n: int, sens: float, spec: float, sims: int, rng: np.random.Generator) -> Cell:
    y = rng.random((sims, big_n)) < rate
    u = rng.random((sims, big_n))
    f = np.where(y, u < sens, u < 1.0 - spec)
    truth = y.mean(axis=1)
    predicted = f.sum(axis=1)
    # A simple random sample without replacement: the n smallest of N uniform keys.
    idx = np.argpartition(rng.random((sims, big_n)), n - 1, axis=1)[:, :n]
    ys, fs = np.take_along_axis(y, idx, axis=1), np.take_along_axis(f, idx, axis=1)
    tp, fn = (ys & fs).sum(axis=1), (ys & ~fs).sum(axis=1)
    fp, tn = (~ys & fs).sum(axis=1), (~ys & ~fs).sum(axis=1)
    covered, widths = 0, 0.0
    for i in range(sims):
        est = corrected_proportion(
            big_n, int(predicted[i]), PairedCounts(int(tp[i]), int(fn[i]), int(fp[i]), int(tn[i])), min_labels=1
        )
        assert est is not None
        covered += est.lo <= truth[i] <= est.hi
        widths += est.hi - est.lo
    lab_lo, lab_hi = wilson(tp + fn, n)
    raw_lo, raw_hi = wilson(predicted, big_n)
    return Cell(
        covered / sims,
        widths / sims,
        float(np.mean(lab_hi - lab_lo)),
        float(np.mean((raw_lo <= truth) & (truth <= raw_hi))),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    results: dict[tuple[str, int, float, int], Cell] = {}
    for name, sens, spec in CLASSIFIERS:
        for big_n in POPULATIONS:
            for rate in RATES:
                for n in SAMPLE_SIZES:
                    results[name, big_n, rate, n] = simulate(rate, n, big_n, sens, spec, args.sims, rng)

    mc_se = math.sqrt(0.95 * 0.05 / args.sims)
    head = "| classifier (sens, spec) | N | rate | " + " | ".join(f"n={n}" for n in SAMPLE_SIZES) + " |"
    rule = "|" + "---|" * (3 + len(SAMPLE_SIZES))
    print(f"Coverage of the corrected 95% interval ({args.sims} simulations each, MC s.e. {mc_se:.3f})\n")
    print(head)
    print(rule)
    for name, sens, spec in CLASSIFIERS:
        for big_n in POPULATIONS:
            for rate in RATES:
                cells = " | ".join(f"{results[name, big_n, rate, n].coverage:.3f}" for n in SAMPLE_SIZES)
                print(f"| {name} ({sens:.2f}, {spec:.2f}) | {big_n} | {rate} | {cells} |")
    worst = {n: min(c.coverage for k, c in results.items() if k[3] == n) for n in SAMPLE_SIZES}
    print("| worst over all settings | | | " + " | ".join(f"{worst[n]:.3f}" for n in SAMPLE_SIZES) + " |")

    print("\nMean width of the corrected interval / of the labels-only Wilson interval (N = 2000)\n")
    print(head)
    print(rule)
    for name, sens, spec in CLASSIFIERS:
        for rate in RATES:
            cells = " | ".join(
                f"{results[name, 2000, rate, n].width:.3f} / {results[name, 2000, rate, n].wilson_labels_width:.3f}"
                for n in SAMPLE_SIZES
            )
            print(f"| {name} ({sens:.2f}, {spec:.2f}) | 2000 | {rate} | {cells} |")

    print("\nCoverage of the uncorrected predicted rate's Wilson interval (N = 2000, any n)\n")
    print("| classifier (sens, spec) | " + " | ".join(f"rate={r}" for r in RATES) + " |")
    print("|" + "---|" * (1 + len(RATES)))
    for name, sens, spec in CLASSIFIERS:
        cells = " | ".join(f"{results[name, 2000, rate, 150].raw_coverage:.3f}" for rate in RATES)
        print(f"| {name} ({sens:.2f}, {spec:.2f}) | {cells} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
