"""`dissentry export network`: networkx reads each file back and finds network_mixing's figures.

The mart computes modularity and assortativity in SQL; here networkx computes them from the
exported file alone (GraphML, GEXF, or the two CSVs), for every interaction kind, over the whole
range and over one month, and they must agree to 1e-9, with the same numbers of nodes and edges.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import duckdb
import networkx as nx
import pytest
from typer.testing import CliRunner

from dissentry.cli import app
from dissentry.export import KINDS, nodes_path
from tests.report.conftest import Built

runner = CliRunner()


def _read_back(path: Path, fmt: str) -> nx.DiGraph:
    if fmt == "graphml":
        return nx.read_graphml(path)
    if fmt == "gexf":
        return nx.read_gexf(path)
    graph = nx.DiGraph()
    with nodes_path(path).open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            graph.add_node(row.pop("account_id"), **row)
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            graph.add_edge(row.pop("source_id"), row.pop("target_id"), **row)
    return graph


def _mart(db: Path, period: str, kind: str) -> tuple[int, int, float | None, float | None]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT nodes, edges, modularity, assortativity FROM network_mixing WHERE period = ? AND interaction_kind = ?",
            [period, kind],
        ).fetchone()
    finally:
        con.close()


def _export(built: Built, out: Path, *args: str) -> None:
    result = runner.invoke(app, ["--config", str(built.config.config_path), "export", "network", "--out", str(out),
                                 *args])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("fmt", ["graphml", "gexf", "csv"])
@pytest.mark.parametrize("period", ["all", "2026-02"])
def test_networkx_reproduces_the_marts_modularity_and_assortativity(labelled: tuple[Built, Built], tmp_path: Path,
                                                                    fmt: str, period: str) -> None:
    built = labelled[1]
    for kind in KINDS:
        out = tmp_path / f"{kind}.{fmt}"
        _export(built, out, "--format", fmt, "--kind", kind, "--period", period)
        graph = _read_back(out, fmt)
        nodes, edges, modularity, assortativity = _mart(built.db, period, kind)
        assert graph.is_directed()
        assert (graph.number_of_nodes(), graph.number_of_edges()) == (nodes, edges), kind
        groups: dict[str, set[str]] = {}
        for node, attrs in graph.nodes(data=True):
            groups.setdefault(attrs["group_id"], set()).add(node)
        # the mart's statistics are of the unweighted graph (one tie per directed pair)
        q = nx.community.modularity(graph, list(groups.values()), weight=None)
        assert math.isclose(q, modularity, rel_tol=0, abs_tol=1e-9), (kind, q, modularity)
        if assortativity is None:
            assert all(graph.nodes[u]["group_id"] == graph.nodes[v]["group_id"] for u, v in graph.edges)
        else:
            r = nx.attribute_assortativity_coefficient(graph, "group_id")
            assert math.isclose(r, assortativity, rel_tol=0, abs_tol=1e-9), (kind, r, assortativity)


def test_nodes_carry_group_role_and_post_counts_and_edges_their_weight(labelled: tuple[Built, Built],
                                                                       tmp_path: Path) -> None:
    built = labelled[1]
    out = tmp_path / "net.graphml"
    _export(built, out, "--format", "graphml")
    graph = nx.read_graphml(out)
    con = duckdb.connect(str(built.db), read_only=True)
    try:
        posts = dict(con.execute("SELECT author_id, count(*) FROM stg_posts GROUP BY author_id").fetchall())
        officials = {r[0] for r in con.execute("SELECT account_id FROM int_official_accounts").fetchall()}
        # the weight of a tie: the posts that make it, counted from the posts themselves
        reply_posts = dict(((s, t), n) for s, t, n in con.execute(
            "SELECT author_id, reply_to_author_id, count(*) FROM stg_posts WHERE reply_to_author_id IS NOT NULL "
            "AND reply_to_author_id <> author_id GROUP BY ALL").fetchall())
    finally:
        con.close()
    roles = {attrs["role"] for _, attrs in graph.nodes(data=True)}
    assert roles == {"official", "member"}
    for node, attrs in graph.nodes(data=True):
        assert attrs["posts"] == posts.get(node, 0)
        assert (attrs["role"] == "official") == (node in officials)
        assert attrs["evidence"] in ("official", "listed", "bio_marker", "amplifies_official")
    for _, _, d in graph.edges(data=True):
        kinds = [d["replies"], d["reposts"], d["quotes"], d["mentions"]]
        # a post that replies to and mentions the same account is one post of the tie, two of its kinds
        assert 1 <= max(kinds) <= d["weight"] <= sum(kinds)
    for (s, t), n in reply_posts.items():
        if graph.has_edge(s, t):
            assert graph.edges[s, t]["replies"] == n


def test_bad_requests_are_one_line_errors(labelled: tuple[Built, Built], tmp_path: Path) -> None:
    config = str(labelled[1].config.config_path)
    for args, message in (
        (["--format", "dot"], "unknown format 'dot'"),
        (["--format", "csv", "--kind", "like"], "unknown interaction kind 'like'"),
        (["--format", "csv", "--period", "1999-01"], "no period '1999-01'"),
    ):
        result = runner.invoke(app, ["--config", config, "export", "network", "--out", str(tmp_path / "x"), *args])
        assert result.exit_code == 2, result.output
        assert message in result.output


def test_a_warehouse_without_a_network_exports_an_empty_graph(tiny: Built, tmp_path: Path) -> None:
    for fmt in ("graphml", "gexf", "csv"):
        out = tmp_path / f"empty.{fmt}"
        _export(tiny, out, "--format", fmt)
        graph = _read_back(out, fmt)
        assert (graph.number_of_nodes(), graph.number_of_edges()) == (0, 0)
    with nodes_path(tmp_path / "empty.csv").open(encoding="utf-8") as fh:
        assert fh.readline().strip().split(",")[:3] == ["account_id", "group_id", "role"]
