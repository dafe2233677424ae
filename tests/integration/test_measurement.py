"""End to end on a planted world of our own wording: a labelled sample corrects the dissent rate.

tests/support/planted_world.py writes three groups with planted dissent rates 0.05, 0.20 and 0.40
in hard wording (sarcasm, rebuttals of critics, negated praise, attacks on the leader by name,
news). Through the real CLI, as a researcher would: `run`, `labels sample --per-group 150`, label
the draw from the world's truth (dissentry.sample.label_from_truth: a simulated annotator),
`labels import`, `transform`. Then dissent_frequency (period 'all') must hold corrected 95%
intervals that cover each group's realised rate (critical references / references) and corrected
point estimates in the planted order.

Three 95% intervals all cover only about 86% of the time, so one seed proves little: four world
seeds give 12 group-runs per classifier, of which at least 10 must be covered (a correct 95%
procedure misses 3 or more of 12 about 2% of the time), and the order must hold in every seed.
Each world is measured with `vader_rules` and with `auto` (450 labels: it trains a classifier),
on the same draw and labels. The raw `dissent_rate` and its Wilson interval from the same runs
are printed beside the corrected ones (run with -s to see them): they carry sampling error only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from dissentry import pipeline
from dissentry.cli import app
from dissentry.config import load_config
from dissentry.sample import label_from_truth
from tests.support.planted_world import GROUPS, PLANTED_RATES, write_config, write_world

runner = CliRunner()

WORLD_SEEDS = (101, 202, 303, 404)
LABELS_PER_GROUP = 150
CLASSIFIERS = ("vader_rules", "auto")
MIN_COVERED = 10  # of 12 group-runs per classifier
ORDER = tuple(sorted(PLANTED_RATES, key=PLANTED_RATES.__getitem__))  # lowest planted rate first
COLUMNS = ("org_reference_posts", "labelled_refs", "dissent_rate", "dissent_rate_lo", "dissent_rate_hi",
           "dissent_rate_corrected", "dissent_rate_corrected_lo", "dissent_rate_corrected_hi", "measure")


def _cli(config: Path, *args: str) -> str:
    result = runner.invoke(app, ["--config", str(config), *args])
    assert result.exit_code == 0, f"dissentry {' '.join(args)} exited {result.exit_code}:\n{result.output}"
    return result.output


def _query(config: Path, sql: str) -> list[tuple[Any, ...]]:
    path = pipeline.lake_for(load_config(config)).duckdb_path
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _overall(config: Path) -> dict[str, dict[str, Any]]:
    rows = _query(config, f"SELECT group_id, {', '.join(COLUMNS)} FROM dissent_frequency WHERE period = 'all'")
    return {r[0]: dict(zip(COLUMNS, r[1:], strict=True)) for r in rows}


@dataclass
class SeedRun:
    seed: int
    realised: dict[str, float]
    references: dict[str, int]
    rows: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # classifier -> group -> row
    predictions: dict[str, set[str]] = field(default_factory=dict)  # classifier -> reference_stance.prediction


def _measure(folder: Path, seed: int) -> SeedRun:
    truth = write_world(folder, seed, classifier=CLASSIFIERS[0])
    config = folder / "dissentry.toml"
    _cli(config, "run", "--no-progress")
    drawn = folder / "to_label.csv"
    _cli(config, "labels", "sample", "--per-group", str(LABELS_PER_GROUP), "--seed", str(seed), "--out", str(drawn))
    labelled = folder / "labelled.csv"
    assert label_from_truth(drawn, folder, labelled) == LABELS_PER_GROUP * len(GROUPS)
    _cli(config, "labels", "import", str(labelled), "--annotator", "planted-truth")
    run = SeedRun(seed, truth.realised_rates, truth.references)
    for classifier in CLASSIFIERS:
        write_config(folder, classifier)
        _cli(config, "transform")
        run.rows[classifier] = _overall(config)
        run.predictions[classifier] = {r[0] for r in _query(config, "SELECT DISTINCT prediction FROM reference_stance")}
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[SeedRun]:
    results = [_measure(tmp_path_factory.mktemp(f"world{seed}"), seed) for seed in WORLD_SEEDS]
    _print_table(results)
    return results


def _covers(lo: float | None, hi: float | None, value: float) -> bool:
    return lo is not None and hi is not None and lo <= value <= hi


def _print_table(results: list[SeedRun]) -> None:
    print("\nplanted world: realised rate, raw dissent_rate [Wilson 95%], corrected [95%] (* = covers realised)")
    for run in results:
        for classifier in CLASSIFIERS:
            for group in ORDER:
                row, realised = run.rows[classifier][group], run.realised[group]
                raw = "*" if _covers(row["dissent_rate_lo"], row["dissent_rate_hi"], realised) else " "
                cor = "*" if _covers(row["dissent_rate_corrected_lo"], row["dissent_rate_corrected_hi"], realised) else " "
                print(f"seed {run.seed} {classifier:<11} {group:<16} realised {realised:.3f}  "
                      f"raw {row['dissent_rate']:.3f} [{row['dissent_rate_lo']:.3f}, {row['dissent_rate_hi']:.3f}]{raw}  "
                      f"corrected {_fmt(row['dissent_rate_corrected'])} [{_fmt(row['dissent_rate_corrected_lo'])}, "
                      f"{_fmt(row['dissent_rate_corrected_hi'])}]{cor}")
    for classifier in CLASSIFIERS:
        raw = sum(_covers(r.rows[classifier][g]["dissent_rate_lo"], r.rows[classifier][g]["dissent_rate_hi"],
                          r.realised[g]) for r in results for g in ORDER)
        cor = sum(_covers(r.rows[classifier][g]["dissent_rate_corrected_lo"],
                          r.rows[classifier][g]["dissent_rate_corrected_hi"], r.realised[g]) for r in results for g in ORDER)
        print(f"{classifier}: raw Wilson intervals cover {raw}/{len(results) * len(ORDER)}, "
              f"corrected intervals cover {cor}/{len(results) * len(ORDER)}")


def _fmt(value: float | None) -> str:
    return "NULL" if value is None else f"{value:.3f}"


@pytest.mark.slow
def test_the_world_is_detected_whole_and_labelled_as_drawn(runs: list[SeedRun]) -> None:
    """The realised rate is over exactly the frame the estimator sees: every planted reference, no other."""
    for run in runs:
        for classifier in CLASSIFIERS:
            for group in ORDER:
                row = run.rows[classifier][group]
                assert row["org_reference_posts"] == run.references[group], (run.seed, group)
                assert 600 <= row["org_reference_posts"] <= 1000
                assert row["labelled_refs"] == LABELS_PER_GROUP, (run.seed, classifier, group)
                assert row["measure"] == "corrected", (run.seed, classifier, group)
        assert run.predictions["vader_rules"] == {"rules"}
        # 450 labels: `auto` trains, and labelled references get out-of-fold predictions
        assert run.predictions["auto"] == {"cross_fitted", "fitted"}


@pytest.mark.slow
@pytest.mark.parametrize("classifier", CLASSIFIERS)
def test_corrected_intervals_cover_the_realised_rates_and_keep_the_order(runs: list[SeedRun], classifier: str) -> None:
    covered = []
    for run in runs:
        rows = run.rows[classifier]
        for group in ORDER:
            row = rows[group]
            assert row["dissent_rate_corrected_lo"] <= row["dissent_rate_corrected"] <= row["dissent_rate_corrected_hi"]
            covered.append(_covers(row["dissent_rate_corrected_lo"], row["dissent_rate_corrected_hi"],
                                   run.realised[group]))
        estimates = [rows[group]["dissent_rate_corrected"] for group in ORDER]
        assert estimates == sorted(estimates) and len(set(estimates)) == len(estimates), (run.seed, estimates)
    assert sum(covered) >= MIN_COVERED, f"{classifier}: corrected intervals covered {sum(covered)} of {len(covered)}"


@pytest.mark.slow
def test_the_uncorrected_rules_rate_misses_where_the_corrected_one_covers(runs: list[SeedRun]) -> None:
    """The point of the correction: the lexicon's raw rate on this wording is confidently wrong."""
    raw = corrected = 0
    for run in runs:
        for group in ORDER:
            row = run.rows["vader_rules"][group]
            raw += _covers(row["dissent_rate_lo"], row["dissent_rate_hi"], run.realised[group])
            corrected += _covers(row["dissent_rate_corrected_lo"], row["dissent_rate_corrected_hi"], run.realised[group])
    assert raw < corrected


@pytest.mark.slow
def test_without_labels_the_corrected_columns_are_null(tmp_path: Path) -> None:
    write_world(tmp_path, 7, references_per_group=(120, 160))
    config = tmp_path / "dissentry.toml"
    _cli(config, "run", "--no-progress")
    rows = _query(config, f"SELECT group_id, period, {', '.join(COLUMNS)} FROM dissent_frequency")
    assert {r[0] for r in rows} == set(PLANTED_RATES) and {r[1] for r in rows} >= {"all"}
    for group, period, *values in rows:
        row = dict(zip(COLUMNS, values, strict=True))
        assert row["labelled_refs"] == 0, (group, period)
        assert row["dissent_rate_corrected"] is None, (group, period)
        assert row["dissent_rate_corrected_lo"] is None and row["dissent_rate_corrected_hi"] is None
        assert row["measure"] == ("unvalidated" if row["org_reference_posts"] else "no_references"), (group, period)
        if row["org_reference_posts"]:
            assert row["dissent_rate"] is not None  # the raw rate is still there, marked unvalidated
