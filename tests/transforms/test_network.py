"""network_mixing against networkx on random directed graphs, which account belongs to which
node group, and leaning_neighbour_corr on a worked example."""

from __future__ import annotations

import math
import random
import warnings
from typing import Any

import networkx as nx
import pytest

from tests.transforms.builders import account, build, config, post, rows

KINDS = ("reply", "repost", "quote", "mention")
MONTHS = ("2026-03-05", "2026-04-05")


def acct(i: int) -> str:
    return f"mastodon:u{i}@s.example"


def random_world(seed: int) -> tuple[dict[str, Any], dict[int, str], list[tuple[int, int, str, str]]]:
    """Accounts u0..u(n-1) in 3-4 groups (some as official accounts), random interactions of random
    kinds, with repeated pairs, self-loops and ties to accounts outside every group."""
    rng = random.Random(seed)
    n_groups = rng.choice([3, 4])
    n = rng.randint(10, 24)
    group_of = {i: f"g{rng.randrange(n_groups)}" for i in range(n)}
    outsiders = [n + k for k in range(3)]  # interact, but belong to no group
    officials = {i for i in range(n) if rng.random() < 0.15}
    groups = []
    for g in sorted(set(group_of.values())):
        groups.append(
            {
                "id": g,
                "name": f"Group {g}",
                "accounts": [f"mastodon:u{i}@s.example" for i in range(n) if group_of[i] == g and i in officials],
                "members": [f"mastodon:u{i}@s.example" for i in range(n) if group_of[i] == g and i not in officials],
            }
        )
    interactions = []
    everyone = list(range(n)) + outsiders
    for _ in range(rng.randint(25, 80)):
        src, dst = rng.choice(everyone), rng.choice(everyone)
        interactions.append((src, dst, rng.choice(KINDS), rng.choice(MONTHS)))
    interactions += interactions[:5]  # repeated pairs count once
    cfg = config(groups, membership={"infer_from_bio": False, "infer_from_amplification": False})
    posts, mentions = [], []
    for k, (src, dst, kind, day) in enumerate(interactions):
        pid = f"x{k}"
        if kind == "mention":
            posts.append(post(pid, acct(src), day, f"hi @u{dst}"))
            mentions.append((pid, acct(dst), f"u{dst}@s.example"))
        else:
            posts.append(
                post(
                    pid,
                    acct(src),
                    day,
                    "" if kind == "repost" else "words",
                    kind=kind,
                    **{{"reply": "reply_to", "repost": "repost_of", "quote": "quote_of"}[kind]: acct(dst)},
                )
            )
    inputs = {"posts": posts, "mentions": mentions, "accounts": [account(acct(i), f"u{i}@s.example") for i in everyone]}
    return {"config": cfg, "inputs": inputs}, group_of, interactions


def networkx_stats(
    group_of: dict[int, str], interactions: list[tuple[int, int, str, str]], kind: str, month: str | None
) -> tuple[int, int, float, float]:
    graph = nx.DiGraph()
    for src, dst, k, day in interactions:
        if src == dst or src not in group_of or dst not in group_of:
            continue
        if (kind in (k, "all")) and (month is None or day.startswith(month)):
            graph.add_edge(src, dst)
    nx.set_node_attributes(graph, {v: group_of[v] for v in graph}, "group")
    partition = [{v for v in graph if group_of[v] == g} for g in sorted(set(group_of.values()))]
    partition = [p for p in partition if p]
    if graph.number_of_edges() == 0:
        return 0, 0, math.nan, math.nan
    q = nx.community.modularity(graph, partition)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 when every edge is inside one group
        r = nx.attribute_assortativity_coefficient(graph, "group")
    return graph.number_of_nodes(), graph.number_of_edges(), q, r


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_modularity_and_assortativity_equal_networkx(seed: int) -> None:
    world, group_of, interactions = random_world(seed)
    con = build(world["config"], **world["inputs"])
    got = {(r["period"], r["interaction_kind"]): r for r in rows(con, "SELECT * FROM network_mixing")}
    assert len(got) == 3 * 5  # (2 months + all) x (4 kinds + all)
    compared = 0
    for (period, kind), r in got.items():
        nodes, edges, q, assortativity = networkx_stats(
            group_of, interactions, kind, None if period == "all" else period
        )
        assert (r["nodes"], r["edges"]) == (nodes, edges), (period, kind)
        if edges == 0:
            assert r["modularity"] is None and r["assortativity"] is None
            continue
        assert r["modularity"] == pytest.approx(q, abs=1e-9), (period, kind)
        compared += 1
        if math.isnan(assortativity):
            assert r["assortativity"] is None
        else:
            assert r["assortativity"] == pytest.approx(assortativity, abs=1e-9), (period, kind)
    assert compared >= 10  # the graphs are not empty: most (period, kind) cells have edges


def test_network_by_hand() -> None:
    # a -> b inside g1, b -> c from g1 to g2, c -> a from g2 to g1: m = 3, e_in = 1/3;
    # leaving: g1 2/3, g2 1/3; arriving: g1 2/3, g2 1/3 -> sum a*b = 4/9 + 1/9 = 5/9;
    # Q = 1/3 - 5/9 = -2/9; r = (-2/9) / (1 - 5/9) = -1/2.
    a, b, c = acct(1), acct(2), acct(3)
    cfg = config([{"id": "g1", "name": "G1", "members": [a, b]}, {"id": "g2", "name": "G2", "members": [c]}])
    con = build(
        cfg,
        posts=[
            post("1", a, MONTHS[0], "x", kind="reply", reply_to=b),
            post("2", b, MONTHS[0], "x", kind="reply", reply_to=c),
            post("3", c, MONTHS[0], "x", kind="reply", reply_to=a),
            post("4", c, MONTHS[0], "x", kind="reply", reply_to=c),  # self-loop: no edge
        ],
    )
    r = rows(con, "SELECT * FROM network_mixing WHERE period = 'all' AND interaction_kind = 'all'")[0]
    assert (r["nodes"], r["edges"], r["in_group_edges"], r["groups"]) == (3, 3, 1, 2)
    assert r["modularity"] == pytest.approx(-2 / 9, abs=1e-12)
    assert r["assortativity"] == pytest.approx(-0.5, abs=1e-12)


def test_account_in_two_groups() -> None:
    # x is listed in g1 and g2 at once: its group is unknown, so it is not a network node.
    # o is g1's official account and also listed in g2: official ties are stronger than listing,
    # and official accounts are never members, so o is a g1 node and not in group_members at all.
    x, o, y = acct(1), acct(2), acct(3)
    cfg = config(
        [
            {"id": "g1", "name": "G1", "accounts": [o], "members": [x]},
            {"id": "g2", "name": "G2", "members": [x, o, y]},
        ]
    )
    con = build(cfg, posts=[post("1", y, MONTHS[0], "x", kind="reply", reply_to=x)])
    nodes = {r["account_id"]: r["group_id"] for r in rows(con, "SELECT * FROM int_node_groups")}
    assert nodes == {o: "g1", y: "g2"}
    members = {(r["group_id"], r["account_id"]) for r in rows(con, "SELECT * FROM group_members")}
    assert members == {("g1", x), ("g2", x), ("g2", y)}
    # y's reply to x is an in-group tie for g2 (x is a g2 member) but not a network edge
    echo = rows(con, "SELECT in_group_ties FROM echo_chamber WHERE group_id = 'g2' AND period = 'all'")[0]
    assert echo["in_group_ties"] == 1
    net = rows(con, "SELECT edges FROM network_mixing WHERE period = 'all' AND interaction_kind = 'all'")[0]
    assert net["edges"] == 0


def test_leaning_neighbour_correlation_by_hand() -> None:
    # Group g (own domain own.example), members m1, m2, m3, m4; outsiders t1, t2, t3.
    # Leaning = share of an account's links to own.example:
    #   m1 own, own -> 1; m2 own, other -> 1/2; m3 other -> 0; m4 no links (left out);
    #   t1 own -> 1; t2 other -> 0; t3 own, other, other -> 1/3.
    # Neighbours (distinct accounts interacted with) and their mean leaning:
    #   m1 -> t1, t2, m2: (1 + 0 + 1/2) / 3 = 1/2;  m2 -> t2: 0;  m3 -> t3: 1/3;  m4 -> t1 (no x).
    # Pairs (x, y): (1, 1/2), (1/2, 0), (0, 1/3). Means 1/2 and 5/18; deviations
    # dx = (1/2, 0, -1/2), dy = (4, -5, 1)/18; sum dx dy = 4/36 - 1/36 = 1/12;
    # sum dx^2 = 1/2, sum dy^2 = 42/324 = 7/54; r = (1/12) / sqrt(1/2 * 7/54) = sqrt(3/28).
    m1, m2, m3, m4 = (f"mastodon:m{i}@s.example" for i in range(1, 5))
    t1, t2, t3 = (f"mastodon:t{i}@s.example" for i in range(1, 4))
    cfg = config(
        [{"id": "g", "name": "G", "domains": ["own.example"], "members": [m1, m2, m3, m4]}],
        membership={"infer_from_bio": False, "infer_from_amplification": False},
    )
    day = MONTHS[0]
    links_of = {m1: "oo", m2: "ox", m3: "x", t1: "o", t2: "x", t3: "oxx"}
    posts, links = [], []
    for who, kinds in links_of.items():
        for k, kind in enumerate(kinds):
            pid = f"{who}-link{k}"
            posts.append(post(pid, who, day, "see"))
            url = f"https://{'own' if kind == 'o' else 'other'}.example/{pid}"
            links.append((pid, url, "own.example" if kind == "o" else "other.example"))
    for k, (src, dst) in enumerate([(m1, t1), (m1, t2), (m1, m2), (m2, t2), (m3, t3), (m4, t1)]):
        posts.append(post(f"i{k}", src, day, "hey", kind="reply", reply_to=dst))
    con = build(cfg, posts=posts, links=links)
    for period in ("2026-03", "all"):
        r = rows(con, "SELECT * FROM echo_chamber WHERE period = ?", [period])[0]
        assert r["leaning_accounts"] == 3
        assert r["leaning_neighbour_corr"] == pytest.approx(math.sqrt(3 / 28), abs=1e-12)
