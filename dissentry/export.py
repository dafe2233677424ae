"""`dissentry export network`: the interaction graph as GraphML, GEXF or CSV, for Gephi, networkx, igraph.

The graph is the one `network_mixing` measures (docs/metrics.md): nodes are accounts with one known
group that have at least one tie of the kind in the period; a tie is a distinct directed
(source, target) pair, self-loops excluded. So networkx, reading the file back, finds the mart's
modularity (`nx.community.modularity(G, groups, weight=None)`) and assortativity
(`nx.attribute_assortativity_coefficient(G, "group")`). Edges also carry `weight`: the number of
posts that make the tie (a reply and a mention in one post count once for kind 'all'), and, for
kind 'all', the posts of each kind; the mart's statistics are unweighted, so pass weight=None to
reproduce them. Nodes carry group, role (official | member), evidence (official, listed,
bio_marker, amplifies_official), platform, label (the handle; a keyed hash when pseudonymised, as
in the normalised layer) and post counts in the period.

CSV is two files: FILE holds the edges, FILE's stem + `.nodes.csv` beside it the nodes.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from dissentry.config import Config

KINDS = ("reply", "repost", "quote", "mention", "all")
FORMATS = ("graphml", "gexf", "csv")
EVIDENCE = {0: "official", 1: "listed", 2: "bio_marker", 3: "amplifies_official"}
NODE_COLUMNS = ["account_id", "group_id", "role", "evidence", "platform", "label", "posts", "tie_posts"]


class ExportError(ValueError):
    """A bad request (kind, format, period) or a warehouse without the tables; one line for the user."""


EDGES_SQL = """
SELECT i.source_id, i.target_id, count(DISTINCT i.post_id) AS weight,
       count(DISTINCT i.post_id) FILTER (WHERE i.kind = 'reply') AS replies,
       count(DISTINCT i.post_id) FILTER (WHERE i.kind = 'repost') AS reposts,
       count(DISTINCT i.post_id) FILTER (WHERE i.kind = 'quote') AS quotes,
       count(DISTINCT i.post_id) FILTER (WHERE i.kind = 'mention') AS mentions
FROM int_interactions AS i
JOIN int_node_groups AS s ON s.account_id = i.source_id
JOIN int_node_groups AS t ON t.account_id = i.target_id
WHERE ($kind = 'all' OR i.kind = $kind) AND ($period = 'all' OR i.period = $period)
GROUP BY i.source_id, i.target_id
ORDER BY i.source_id, i.target_id
"""

NODES_SQL = """
WITH ends AS (
    SELECT source_id AS account_id FROM edges UNION SELECT target_id FROM edges
),
posts AS (
    SELECT author_id, count(*) AS posts
    FROM stg_posts
    WHERE $period = 'all' OR period = $period
    GROUP BY author_id
),
tie_posts AS (
    SELECT source_id AS account_id, sum(weight) AS tie_posts FROM edges GROUP BY source_id
),
handles AS (
    SELECT account_id, min(handle) AS handle, min(platform) AS platform FROM stg_accounts GROUP BY account_id
)
SELECT e.account_id, g.group_id, ag.evidence_rank,
       coalesce(h.platform, split_part(e.account_id, ':', 1)) AS platform,
       coalesce(h.handle, '') AS label,
       coalesce(p.posts, 0) AS posts, coalesce(tp.tie_posts, 0) AS tie_posts
FROM ends AS e
JOIN int_node_groups AS g ON g.account_id = e.account_id
JOIN int_account_groups AS ag ON ag.account_id = e.account_id AND ag.group_id = g.group_id
LEFT JOIN posts AS p ON p.author_id = e.account_id
LEFT JOIN tie_posts AS tp ON tp.account_id = e.account_id
LEFT JOIN handles AS h ON h.account_id = e.account_id
ORDER BY e.account_id
"""


@dataclass
class Network:
    kind: str
    period: str
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def read_network(con: duckdb.DuckDBPyConnection, kind: str = "all", period: str = "all") -> Network:
    if kind not in KINDS:
        raise ExportError(f"unknown interaction kind {kind!r}: use {', '.join(KINDS)}")
    have = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    needed = {"int_interactions", "int_node_groups", "int_account_groups", "stg_posts", "stg_accounts"}
    if not needed <= have:
        raise ExportError(f"the warehouse has no {', '.join(sorted(needed - have))}: run `dissentry transform`")
    if period != "all":
        known = {r[0] for r in con.execute("SELECT DISTINCT period FROM stg_posts").fetchall()}
        if period not in known:
            shown = ", ".join(sorted(known)[:12]) or "none"
            raise ExportError(f"no period {period!r} in the warehouse (periods: {shown}; or 'all')")
    params = {"kind": kind, "period": period}
    edges = _rows(con, EDGES_SQL, params)
    con.register("edges", _arrow(edges))
    try:
        nodes = _rows(con, NODES_SQL, {"period": period})
    finally:
        con.unregister("edges")
    for node in nodes:
        rank = node.pop("evidence_rank")
        node["evidence"] = EVIDENCE.get(rank, "member")
        node["role"] = "official" if rank == 0 else "member"
    if kind != "all":
        for edge in edges:
            for column in ("replies", "reposts", "quotes", "mentions"):
                edge.pop(column)
    return Network(kind, period, nodes, edges)


def _arrow(edges: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    schema = pa.schema([("source_id", pa.string()), ("target_id", pa.string()), ("weight", pa.int64())])
    return pa.Table.from_pylist([{k: e[k] for k in schema.names} for e in edges], schema=schema)


def to_networkx(network: Network) -> Any:
    import networkx as nx

    graph = nx.DiGraph(kind=network.kind, period=network.period)
    for node in network.nodes:
        graph.add_node(node["account_id"], **{k: v for k, v in node.items() if k != "account_id"})
    for edge in network.edges:
        graph.add_edge(edge["source_id"], edge["target_id"],
                       **{k: v for k, v in edge.items() if k not in ("source_id", "target_id")})
    return graph


def nodes_path(out: Path) -> Path:
    """Where the CSV export puts its nodes: beside the edges file, `<stem>.nodes.csv`."""
    return out.with_name(f"{out.stem}.nodes.csv")


def write_network(network: Network, out: Path, fmt: str) -> list[Path]:
    """Write the graph; return the files written (each written whole, then renamed into place)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: use {', '.join(FORMATS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        written = []
        edge_columns = ["source_id", "target_id", "weight"]
        if network.kind == "all":
            edge_columns += ["replies", "reposts", "quotes", "mentions"]
        for path, rows, columns in ((out, network.edges, edge_columns), (nodes_path(out), network.nodes, NODE_COLUMNS)):
            temporary = path.with_name(f".{path.name}.tmp")
            with temporary.open("w", encoding="utf-8", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=columns)
                writer.writeheader()
                writer.writerows(rows)
            os.replace(temporary, path)
            written.append(path)
        return written
    import networkx as nx

    graph = to_networkx(network)
    temporary = out.with_name(f".{out.name}.tmp")
    if fmt == "graphml":
        nx.write_graphml(graph, temporary)
    else:
        nx.write_gexf(graph, temporary)
    os.replace(temporary, out)
    return [out]


def export_network(config: Config, out: Path, *, fmt: str, kind: str = "all", period: str = "all") -> tuple[
        Network, list[Path]]:
    """Read the graph through a short-lived read-only connection, then write it."""
    from dissentry.pipeline import lake_for
    from dissentry.warehouse.catalog import connect

    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: use {', '.join(FORMATS)}")
    lake = lake_for(config)
    db = lake.duckdb_path
    if not db.exists():
        raise ExportError(f"{db} does not exist yet: run `dissentry run` (or `dissentry transform`) first")
    con = connect(db, read_only=True, lake=lake)
    try:
        network = read_network(con, kind, period)
    finally:
        con.close()
    return network, write_network(network, out, fmt)
