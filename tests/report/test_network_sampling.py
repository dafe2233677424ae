"""The node-link drawing of a large network: which accounts and ties it keeps, and that it says so.

A real DuckDB holds `int_interactions` and `int_node_groups` (the two relations the drawing reads);
the network is complete, so every count below is worked out by hand."""

from __future__ import annotations

import itertools
import random
import re

import duckdb
import pytest

from dissentry.figures import MAX_DRAWN_TIES, drawn_ties, graph_panel, load

ACCOUNTS = [f"a{k:03d}" for k in range(100)]  # zero-padded: id order is numeric order
GROUPS = ("g0", "g1")


@pytest.fixture(scope="module")
def complete() -> duckdb.DuckDBPyConnection:
    """100 accounts in two groups, each replying to every other once: 9,900 directed ties, 4,950 pairs."""
    con = duckdb.connect()
    con.execute("CREATE TABLE int_node_groups (account_id VARCHAR, group_id VARCHAR)")
    con.executemany("INSERT INTO int_node_groups VALUES (?, ?)",
                    [(a, GROUPS[k % 2]) for k, a in enumerate(ACCOUNTS)])
    con.execute("CREATE TABLE int_interactions (source_id VARCHAR, target_id VARCHAR)")
    con.executemany("INSERT INTO int_interactions VALUES (?, ?)", list(itertools.permutations(ACCOUNTS, 2)))
    return con


def test_a_capped_drawing_keeps_the_first_accounts_by_id_and_every_tie_among_them(
    complete: duckdb.DuckDBPyConnection,
) -> None:
    data = load(complete, list(GROUPS), pseudonymised=True, max_nodes=10)
    # every account has 99 + 99 = 198 ties, so the id breaks every tie: a000..a009
    assert [n["account_id"] for n in data.network_nodes] == ACCOUNTS[:10]
    assert {n["ties"] for n in data.network_nodes} == {198}
    assert data.network_nodes[0]["all_nodes"] == 100
    # the 10 * 9 directed ties among them, and no other
    assert [(e["source_id"], e["target_id"]) for e in data.network_edges] == list(
        itertools.permutations(ACCOUNTS[:10], 2))


def test_a_dense_drawing_samples_its_lines_deterministically_and_says_so(
    complete: duckdb.DuckDBPyConnection,
) -> None:
    data = load(complete, list(GROUPS), pseudonymised=True)
    assert len(data.network_nodes) == 100 and len(data.network_edges) == 9_900
    panel = graph_panel(data, 100)
    lines = panel.figure.axes[0].collections[0].get_segments()  # type: ignore[union-attr]
    assert MAX_DRAWN_TIES == 3_000 and len(lines) == 3_000  # one line per pair, 4,950 pairs > 3,000
    assert panel.notes == ["Sampled: 3,000 of the 4,950 linked account pairs are drawn as lines (chosen by a hash "
                           "of the pair, so the same every time); the layout uses every tie."]
    assert panel.marks == 100  # every account is still drawn
    # the same lines whatever order the rows come in, and both directions of a pair make one line
    shuffled = list(data.network_edges)
    random.Random(1).shuffle(shuffled)
    reversed_ties = [{"source_id": e["target_id"], "target_id": e["source_id"]} for e in shuffled]
    assert drawn_ties(shuffled) == drawn_ties(reversed_ties) == drawn_ties(data.network_edges)
    again = load(complete, list(GROUPS), pseudonymised=True)
    assert graph_panel(again, 100).render("svg") == panel.render("svg")
    # a small network is drawn whole: one line per pair, no sampling note
    assert drawn_ties(data.network_edges[:40]) == [("a000", f"a{k:03d}") for k in range(1, 41)]


def test_the_page_shows_the_query_that_reproduces_the_drawn_ties(complete: duckdb.DuckDBPyConnection) -> None:
    data = load(complete, list(GROUPS), pseudonymised=True, max_nodes=10)
    panel = graph_panel(data, 100)
    edges_sql = panel.sql.split(";\n\n")[1]
    assert re.search(r"LIMIT 10\b", edges_sql)
    rows = complete.execute(edges_sql).fetchall()
    assert rows == [(e["source_id"], e["target_id"]) for e in data.network_edges]
