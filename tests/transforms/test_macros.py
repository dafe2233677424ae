"""The SQL macros against independent references: Wilson bounds from the defining quadratic,
Fisher's exact test from scipy, and small text helpers by hand."""

from __future__ import annotations

import itertools
import random
from decimal import Decimal, localcontext
from statistics import NormalDist

import duckdb
import pyarrow as pa
import pytest
from scipy.stats import fisher_exact

from dissentry.transforms.runner import load_macros
from dissentry.warehouse import catalog

Z = NormalDist().inv_cdf(0.975)


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    con = catalog.connect()
    load_macros(con)
    return con


def wilson_by_quadratic(k: int, n: int) -> tuple[float, float]:
    """The Wilson interval is the set of p with (k/n - p)^2 <= z^2 p (1 - p) / n: its bounds are
    the roots of (1 + z^2/n) p^2 - (2 k/n + z^2/n) p + (k/n)^2 = 0, solved here in 40-digit
    decimal arithmetic so the reference carries no rounding of its own."""
    with localcontext() as ctx:
        ctx.prec = 40
        z2 = Decimal(Z) * Decimal(Z)
        phat = Decimal(k) / Decimal(n)
        a = 1 + z2 / n
        b = -(2 * phat + z2 / n)
        c = phat * phat
        root = (b * b - 4 * a * c).sqrt()
        return float((-b - root) / (2 * a)), float((-b + root) / (2 * a))


def test_z_is_the_normal_975_quantile(con: duckdb.DuckDBPyConnection) -> None:
    assert con.execute("SELECT wilson_z()").fetchall()[0][0] == pytest.approx(Z, abs=1e-15)


def test_wilson_bounds_are_the_roots_of_the_score_quadratic(con: duckdb.DuckDBPyConnection) -> None:
    cases = [(k, n) for n in (1, 2, 3, 5, 10, 37, 100, 1000, 123_457) for k in sorted({0, 1, n // 3, n // 2, n - 1, n})]
    got = con.execute(
        "SELECT k, n, wilson_lo(k, n), wilson_hi(k, n) FROM (SELECT unnest(?) AS k, unnest(?) AS n)",
        [[k for k, _ in cases], [n for _, n in cases]],
    ).fetchall()
    assert len(got) == len(cases)
    for k, n, lo, hi in got:
        ref_lo, ref_hi = wilson_by_quadratic(k, n)
        assert lo == pytest.approx(ref_lo, abs=1e-12), (k, n)
        assert hi == pytest.approx(ref_hi, abs=1e-12), (k, n)
        assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_wilson_zero_successes_upper_bound_is_about_three_over_n(con: duckdb.DuckDBPyConnection) -> None:
    # "never" in 1000 references: the upper bound is z^2 / (n + z^2) = 3.8401 / 1003.8401
    lo, hi = con.execute("SELECT wilson_lo(0, 1000), wilson_hi(0, 1000)").fetchall()[0]
    assert lo == 0.0
    assert hi == pytest.approx(Z * Z / (1000 + Z * Z), rel=1e-12)


def test_wilson_is_null_without_trials(con: duckdb.DuckDBPyConnection) -> None:
    assert con.execute("SELECT wilson_lo(0, 0), wilson_hi(0, 0)").fetchall()[0] == (None, None)


def _fisher_sql(con: duckdb.DuckDBPyConnection, tables: list[tuple[int, int, int, int]]) -> list[float]:
    arrow = pa.table({k: [t[i] for t in tables] for i, k in enumerate("abcd")})
    con.register("tables_2x2", arrow)
    try:
        return [r[0] for r in con.execute("SELECT fisher_p(a, b, c, d) FROM tables_2x2").fetchall()]
    finally:
        con.unregister("tables_2x2")


def test_fisher_p_equals_scipy_on_every_small_table(con: duckdb.DuckDBPyConnection) -> None:
    tables = list(itertools.product(range(5), repeat=4))  # 625 tables, zeros everywhere
    for table, p in zip(tables, _fisher_sql(con, tables), strict=True):
        a, b, c, d = table
        expected = fisher_exact([[a, b], [c, d]]).pvalue
        assert p == pytest.approx(expected, rel=1e-9, abs=1e-12), table


def test_fisher_p_equals_scipy_on_larger_random_tables(con: duckdb.DuckDBPyConnection) -> None:
    rng = random.Random(20260301)
    tables = [
        tuple(rng.choice([0, 1, 2, rng.randint(0, 60), rng.randint(0, 400)]) for _ in range(4)) for _ in range(300)
    ]
    tables += [(0, 500, 30, 470), (250, 250, 250, 250), (1, 999, 10, 990), (12, 0, 0, 12)]
    for table, p in zip(tables, _fisher_sql(con, tables), strict=True):
        a, b, c, d = table
        expected = fisher_exact([[a, b], [c, d]]).pvalue
        assert p == pytest.approx(expected, rel=1e-9, abs=1e-12), table


def test_fisher_p_by_hand(con: duckdb.DuckDBPyConnection) -> None:
    # [[0, 2], [1, 0]]: margins r1 = 2, r2 = 1, c1 = 1; P(x=0) = C(2,0) C(1,1) / C(3,1) = 1/3,
    # P(x=1) = 2/3; only x = 0 is as unlikely as the observation: p = 1/3.
    assert _fisher_sql(con, [(0, 2, 1, 0)]) == [pytest.approx(1 / 3, rel=1e-12)]
    assert con.execute("SELECT fisher_p(NULL, 1, 1, 1)").fetchall()[0][0] is None


def test_period_labels(con: duckdb.DuckDBPyConnection) -> None:
    # 00:30 on 1 March at UTC+2 is 22:30 on 28 February UTC: the label follows UTC.
    row = con.execute(
        """
        SELECT period_label(t, 'month'), period_label(t, 'year'), period_label(t, 'day'),
               period_label(TIMESTAMPTZ '2026-01-01 12:00:00+00', 'week'), period_start(t, 'month')
        FROM (SELECT TIMESTAMPTZ '2026-03-01 00:30:00+02' AS t)
        """
    ).fetchall()[0]
    assert row[:4] == ("2026-02", "2026", "2026-02-28", "2026-W01")
    assert str(row[4]) == "2026-02-01"


def test_token_occurrences_count_back_to_back_and_multi_word_terms(con: duckdb.DuckDBPyConnection) -> None:
    row = con.execute(
        """
        SELECT len(word_tokens(t)),
               count_occurrences(token_key(word_tokens(t)), token_key(['comrade'])),
               count_occurrences(token_key(word_tokens(t)), token_key(['the', 'struggle'])),
               count_occurrences(token_key(word_tokens(t)), token_key(['rade']))
        FROM (SELECT 'Comrade comrade, COMRADES and comrade! The  struggle; the struggle-bus' AS t)
        """
    ).fetchall()[0]
    # tokens: comrade comrade comrades and comrade the struggle the struggle bus = 10;
    # 'comrade' 3 times ('comrades' is another word), 'the struggle' twice, 'rade' never.
    assert row == (10, 3, 2, 0)


def test_strip_helpers(con: duckdb.DuckDBPyConnection) -> None:
    row = con.execute(
        "SELECT fold_ws(strip_mentions(strip_urls('@orga@s.example  look: https://x.example/a?b=1 and www.y.example ok')))"
    ).fetchall()[0]
    assert row[0] == "look: and ok"
