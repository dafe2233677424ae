"""End to end: the marts recover what the synthetic sample planted.

The sample (dissentry.sample) plants, per group, a dissent rate among org-referencing member posts,
an in-group share of member interactions and an own-source share of member links. The whole
pipeline (import both platforms' files, normalise, transform) runs into a temporary warehouse, and
the `period = 'all'` rows of `dissent_frequency` and `echo_chamber` must come back within a stated
tolerance of the planted values.

Tolerance = Z * binomial sd + a fixed margin:
- sampling noise: the realised share of n independent draws at planted rate p has sd sqrt(p(1-p)/n);
  Z = 3.5 makes a miss by chance about 1 in 2,000 per check for a fresh seed (the seed here is
  fixed, so the test is deterministic; the bound says why it is not tuned to this seed);
- a margin for measurement: the classifier may misread a few synthetic sentences, and the marts may
  count a Mastodon reply's implied mention, or a link shown twice, slightly differently from the
  generator. These are small, so the margin is 0.02.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dissentry import pipeline
from dissentry.config import Config
from dissentry.sample import FEEDS_FILE, GROUPS_BY_ID, STATUSES_FILE, SampleTruth, generate_sample

REPO = Path(__file__).resolve().parents[1]
SEED = 2026
SCALE = 6.0  # about 24,000 posts: ~1,200 references per mainstream group, sd of a 0.15 rate ~0.01
Z = 3.5
MARGIN = 0.02
WILSON_Z = 1.959963984540054  # 95%


# the sample's truth, then the `period = 'all'` rows of dissent_frequency and of echo_chamber, by group
Recovered = tuple[SampleTruth, dict[str, dict[str, Any]], dict[str, dict[str, Any]]]


def _config(root: Path) -> Config:
    """The demo configuration, with its warehouse and import files inside `root`."""
    data = tomllib.loads((REPO / "dissentry.toml").read_text(encoding="utf-8"))
    data["warehouse_dir"] = str(root / "warehouse")
    files = {"mastodon": STATUSES_FILE, "bluesky": FEEDS_FILE}
    for source in data["sources"]:
        source["files"] = [str(root / "sample" / files[source["platform"]])]
    return Config.model_validate({**data, "config_path": root / "dissentry.toml"})


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, dict[str, Any]]:
    cursor = con.execute(f"SELECT * FROM {table} WHERE period = 'all'")
    names = [d[0] for d in cursor.description]
    return {row[names.index("group_id")]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


@pytest.fixture(scope="module")
def recovered(tmp_path_factory: pytest.TempPathFactory) -> Recovered:
    root = tmp_path_factory.mktemp("recovery")
    truth = generate_sample(root / "sample", seed=SEED, scale=SCALE)
    config = _config(root)
    result = pipeline.run(config)
    assert result.ok, result.runs
    con = duckdb.connect(str(root / "warehouse" / "dissentry.duckdb"), read_only=True)
    try:
        return truth, _rows(con, "dissent_frequency"), _rows(con, "echo_chamber")
    finally:
        con.close()


def _measured(rows: dict[str, dict[str, Any]], group_id: str, measure: str) -> tuple[dict[str, Any], float]:
    """A group's row of a mart, and the value of `measure` the sample planted for that group."""
    return rows[group_id], getattr(GROUPS_BY_ID[group_id], measure)


def _tolerance(p: float, n: int) -> float:
    return Z * math.sqrt(p * (1 - p) / n) + MARGIN


def _wilson_upper(successes: int, n: int, z: float = WILSON_Z) -> float:
    """Upper bound of the Wilson score interval, written out here to check the mart's own."""
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre + spread) / (1 + z * z / n)


def test_every_group_has_an_all_period_row(recovered: Recovered) -> None:
    truth, dissent, echo = recovered
    assert set(dissent) == set(truth.groups) and set(echo) == set(truth.groups)


@pytest.mark.parametrize("group_id", ["centre_party", "green_alliance"])
def test_mainstream_dissent_rate_is_recovered(recovered: Recovered, group_id: str) -> None:
    truth, dissent, _ = recovered
    row, planted = _measured(dissent, group_id, "dissent_rate")
    n = row["org_reference_posts"]
    assert n > 0.8 * truth.groups[group_id].org_reference_posts  # the references were found at all
    assert row["dissent_rate"] == pytest.approx(row["critical_posts"] / n)
    assert abs(row["dissent_rate"] - planted) <= _tolerance(planted, n), (row["dissent_rate"], planted, n)
    assert row["dissent_rate_lo"] <= row["dissent_rate"] <= row["dissent_rate_hi"]


def test_insular_group_never_dissents(recovered: Recovered) -> None:
    truth, dissent, _ = recovered
    row = dissent["vanguard"]
    assert row["org_reference_posts"] >= truth.groups["vanguard"].org_reference_posts * 0.8
    assert row["critical_posts"] == 0 and row["dissent_rate"] == 0
    # zero out of n: the Wilson upper bound is z^2 / (n + z^2), about 3.8/n
    n = row["org_reference_posts"]
    assert row["dissent_rate_hi"] == pytest.approx(_wilson_upper(0, n), rel=1e-6)
    assert row["dissent_rate_hi"] == pytest.approx(WILSON_Z**2 / (n + WILSON_Z**2), rel=1e-6)
    # "never" is supported: even the upper bound is below what the mainstream parties show
    assert row["dissent_rate_hi"] < min(dissent[g]["dissent_rate"] for g in ("centre_party", "green_alliance"))


@pytest.mark.parametrize("group_id", ["vanguard", "centre_party", "green_alliance"])
def test_in_group_share_is_recovered(recovered: Recovered, group_id: str) -> None:
    row, planted = _measured(recovered[2], group_id, "in_group_share")
    n = row["in_group_ties"] + row["out_group_ties"]
    assert row["in_group_share"] == pytest.approx(row["in_group_ties"] / n)
    assert abs(row["in_group_share"] - planted) <= _tolerance(planted, n), (row["in_group_share"], planted, n)


@pytest.mark.parametrize("group_id", ["vanguard", "centre_party", "green_alliance"])
def test_own_source_share_is_recovered(recovered: Recovered, group_id: str) -> None:
    row, planted = _measured(recovered[2], group_id, "own_source_share")
    n = row["links"]
    assert abs(row["own_source_share"] - planted) <= _tolerance(planted, n), (row["own_source_share"], planted, n)


def test_insular_group_is_the_echo_chamber(recovered: Recovered) -> None:
    _, _, echo = recovered
    vanguard = echo["vanguard"]
    for other in ("centre_party", "green_alliance"):
        assert vanguard["in_group_share"] > echo[other]["in_group_share"] + 0.2
        assert vanguard["own_source_share"] > echo[other]["own_source_share"] + 0.4
        assert vanguard["ei_index"] < echo[other]["ei_index"]
