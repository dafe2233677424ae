"""The marts' whole-range ('all') rows on a hand-built world where the things that are not additive
over periods cross a month boundary: a text posted by two people in different months, one person
active in two months (on two accounts), the same directed pair interacting in both months, one
domain linked in both months, accounts whose links and neighbours span both months.

The 'all' rows are derived from the period aggregates (transforms/intermediate/agg_*.sql); each
expected value below is worked out from the posts in this file alone (network figures also with
networkx), never from an aggregate, so a merge of the periods done the wrong way (people or texts'
people summed over months, pairs or neighbours not deduplicated, ratios averaged) fails here even
though every single month is right.

World (host s.example), months March (M) and April (A):
  g1 "Org A", own domain own.example, members: the Person Pat (PA mastodon, PB bluesky), mia (M2),
     max (M3); bio marker ✊ (PA's bio).   g2 "Org B": nia (N1).   tom (T1), tia (T2): nobody's.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import duckdb
import networkx as nx
import pytest

from dissentry.transforms.estimation import PairedCounts, corrected_proportion, difference, pooled
from tests.transforms import test_measurement_models as mm
from tests.transforms.builders import account, build, config, post, rows, ts

PA = "mastodon:pat@s.example"
PB = "bluesky:did:plc:pat"
M2 = "mastodon:mia@s.example"
M3 = "mastodon:max@s.example"
N1 = "mastodon:nia@s.example"
T1 = "mastodon:tom@s.example"
T2 = "mastodon:tia@s.example"

CONFIG = config(
    [
        {
            "id": "g1",
            "name": "Org A",
            "domains": ["own.example"],
            "bio_markers": ["✊"],
            "members": [
                {"name": "Pat", "accounts": ["mastodon:pat@s.example", "bluesky:pat.bsky.social"]},
                M2,
                M3,
            ],
        },
        {"id": "g2", "name": "Org B", "domains": ["b.example"], "members": [N1]},
    ],
    membership={"infer_from_bio": False, "infer_from_amplification": False},
)

MARCH, APRIL = "2026-03-10", "2026-04-10"
CRITICAL = "Org A was wrong about the coalition."  # a critical reference to g1 (test_marts_by_hand p01)
PICKET = "Join the picket on Friday"

POSTS = [
    # ---- March
    post("a1", PA, MARCH, CRITICAL),
    post("a2", M2, MARCH, PICKET),
    post("a3", PA, MARCH, "a3 reading"),  # link own.example
    post("a4", M2, MARCH, "a4 reading"),  # link news.example
    post("a5", M2, MARCH, "a5 yes", kind="reply", reply_to=T1),
    post("a6", M2, MARCH, "a6 hello", kind="reply", reply_to=N1),
    post("a7", PA, MARCH, "a7 right", kind="reply", reply_to=T2),
    post("a8", N1, MARCH, "a8 thanks", kind="reply", reply_to=M2),
    post("t1", T1, MARCH, "t1 own"),  # link own.example
    # ---- April
    post("b1", PB, APRIL, CRITICAL),  # Pat again, from the other account: the same person, the same text
    post("b2", M3, APRIL, PICKET),  # mia's March text, by another person
    post("b3", M3, APRIL, "b3 reading"),  # link news.example
    post("b4", M2, APRIL, "b4 reading"),  # link news.example
    post("b5", M2, APRIL, "b5 hello", kind="reply", reply_to=N1),  # the pair of a6 again
    post("b6", M3, APRIL, "b6 hey @mia"),  # mentions M2
    post("b7", M2, APRIL, "b7 sure", kind="reply", reply_to=T2),
    post("b8", M3, APRIL, "b8 ok", kind="reply", reply_to=T1),
    post("b9", M2, APRIL, "b9 indeed", kind="reply", reply_to=T1),  # the pair of a5 again
    post("t2", T1, APRIL, "t2 news"),  # t2..t4: links news.example
    post("t3", T1, APRIL, "t3 news"),
    post("t4", T1, APRIL, "t4 news"),
    post("t5", T2, APRIL, "t5 own"),  # link own.example
]

LINKS = [
    (pid, f"https://{domain}/{pid}", domain)
    for pid, domain in [
        ("a3", "own.example"), ("a4", "news.example"), ("t1", "own.example"), ("b3", "news.example"),
        ("b4", "news.example"), ("t2", "news.example"), ("t3", "news.example"), ("t4", "news.example"),
        ("t5", "own.example"),
    ]
]

ACCOUNTS = [
    account(PA, "pat@s.example", bio="✊ shop steward"),
    account(PB, "pat.bsky.social"),
    *(account(a, a.split(":", 1)[1]) for a in (M2, M3, N1, T1, T2)),
]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    return build(CONFIG, posts=POSTS, links=LINKS, accounts=ACCOUNTS, mentions=[("b6", M2, "mia@s.example")])


def by_period(con: duckdb.DuckDBPyConnection, mart: str, group: str) -> dict[str, dict[str, Any]]:
    return {r["period"]: r for r in rows(con, f"SELECT * FROM {mart} WHERE group_id = ?", [group])}


def test_members_active_counts_a_person_once_over_the_months(con: duckdb.DuckDBPyConnection) -> None:
    # g1 March: Pat (a1, a3, a7), mia (a2, a4, a5, a6) = 2; April: Pat (b1, on PB), max (b2, b3,
    # b6, b8), mia (b4, b5, b7, b9) = 3; all: {Pat, mia, max} = 3, not 2 + 3 = 5.
    # Posts are additive: 7 + 9 = 16. The ✊ is on PA only, but marks the person: 1 each time, all 1.
    for mart in ("echo_chamber", "dissent_frequency"):
        got = by_period(con, mart, "g1")
        assert {p: (r["members_active"], r["posts"]) for p, r in got.items()} == {
            "2026-03": (2, 7), "2026-04": (3, 9), "all": (3, 16)
        }, mart
    echo = by_period(con, "echo_chamber", "g1")
    assert {p: r["identity_marker_members"] for p, r in echo.items()} == {"2026-03": 1, "2026-04": 1, "all": 1}
    assert echo["all"]["identity_marker_share"] == pytest.approx(1 / 3)


def test_dissenters_count_a_person_once_over_the_months(con: duckdb.DuckDBPyConnection) -> None:
    # Pat's critical reference a1 (March, PA) and b1 (April, PB): one dissenter each month and one
    # over the range; references and critical ones add up: 1 + 1 = 2. dissenter_share all = 1/3.
    got = by_period(con, "dissent_frequency", "g1")
    assert {p: (r["org_reference_posts"], r["critical_posts"], r["dissenters"]) for p, r in got.items()} == {
        "2026-03": (1, 1, 1), "2026-04": (1, 1, 1), "all": (2, 2, 1)
    }
    assert got["all"]["dissenter_share"] == pytest.approx(1 / 3)


def test_boilerplate_is_a_text_of_two_people_over_the_whole_range(con: duckdb.DuckDBPyConnection) -> None:
    # Every g1 member post here is a non-repost with text: text_posts 7, 9, 16.
    # PICKET: mia in March (a2), max in April (b2): one person per month -> no boilerplate in
    # either month; over the range two people -> both posts are boilerplate.
    # CRITICAL: Pat in March (a1) and April (b1): one person however often -> never boilerplate
    # (counting the text's (month, person) rows would make it 2 "people").
    got = by_period(con, "echo_chamber", "g1")
    assert {p: (r["text_posts"], r["boilerplate_posts"]) for p, r in got.items()} == {
        "2026-03": (7, 0), "2026-04": (9, 0), "all": (16, 2)
    }
    assert got["all"]["boilerplate_share"] == pytest.approx(2 / 16)


def test_domain_concentration_of_the_range_is_from_the_summed_counts(con: duckdb.DuckDBPyConnection) -> None:
    # g1 member links: March a3 own.example, a4 news.example -> p = 1/2, 1/2: H 1 bit, HHI 1/2.
    # April b3, b4 news.example -> one domain: H 0, HHI 1. (t1..t5 are not members' links.)
    # all: own 1, news 1 + 2 = 3 of 4 links, 2 domains (not 2 + 1):
    #   H = -(1/4 log2 1/4 + 3/4 log2 3/4) = 1/2 + 3/4 (2 - log2 3) = 2 - 3/4 log2 3 = 0.8112781...
    #   norm = H / log2 2 = H; HHI = (1/4)^2 + (3/4)^2 = 10/16 = 5/8.
    # (The mean of the months' entropies would be 1/2, the mean of their HHIs 3/4.)
    got = by_period(con, "echo_chamber", "g1")
    figures = {p: (r["links"], r["own_links"], r["domains"], r["domain_entropy_bits"], r["domain_hhi"])
               for p, r in got.items()}
    assert figures["2026-03"] == (2, 1, 2, pytest.approx(1.0), pytest.approx(0.5))
    assert figures["2026-04"] == (2, 0, 1, pytest.approx(0.0), pytest.approx(1.0))
    assert figures["all"] == (4, 1, 2, pytest.approx(2 - 0.75 * math.log2(3), abs=1e-12), pytest.approx(5 / 8))
    assert got["all"]["domain_entropy_norm"] == pytest.approx(2 - 0.75 * math.log2(3), abs=1e-12)
    assert got["all"]["own_source_share"] == pytest.approx(1 / 4)


def test_leaning_correlation_of_the_range_sums_links_and_merges_neighbours(con: duckdb.DuckDBPyConnection) -> None:
    # Leaning towards g1 = own.example links / links of an account (member or not) in the bucket:
    #   March: PA 1/1, mia 0/1, tom 1/1.  April: max 0/1, mia 0/1, tom 0/3, tia 1/1.
    #   all (sums): PA 1/1 = 1, mia 0/2 = 0, max 0/1 = 0, tom 1/4 (not the mean 1/2), tia 1.
    # Distinct neighbours of member accounts (nia has no links, so never counts):
    #   March: mia {tom, nia}, PA {tia};  April: mia {nia, tia, tom}, max {mia, tom};
    #   all: mia {tom, nia, tia} (tom and nia in both months: once each), PA {tia}, max {mia, tom}.
    # Pairs (x, y = mean neighbour leaning with links in the bucket):
    #   March: mia (0, 1); PA's only neighbour tia has no March links -> 1 pair, NULL.
    #   April: mia (0, (1 + 0)/2), max (0, (0 + 0)/2) -> x does not vary -> 2 pairs, NULL.
    #   all: PA (1, 1), mia (0, (1/4 + 1)/2 = 5/8), max (0, (0 + 1/4)/2 = 1/8).
    #   x mean 1/3, dx = (2, -1, -1)/3; y mean 7/12, dy = (10, 1, -11)/24;
    #   sum dx dy = (20 - 1 + 11)/72 = 5/12; sum dx^2 = 2/3; sum dy^2 = 222/576 = 37/96;
    #   r = (5/12) / sqrt(2/3 * 37/96) = (5/12) / (sqrt(37)/12) = 5 / sqrt(37).
    got = by_period(con, "echo_chamber", "g1")
    assert {p: r["leaning_accounts"] for p, r in got.items()} == {"2026-03": 1, "2026-04": 2, "all": 3}
    assert got["2026-03"]["leaning_neighbour_corr"] is None
    assert got["2026-04"]["leaning_neighbour_corr"] is None
    assert got["all"]["leaning_neighbour_corr"] == pytest.approx(5 / math.sqrt(37), abs=1e-12)


# Interactions between network nodes (accounts with one known group: PA, PB, mia, max in g1, nia
# in g2; tom and tia are in no group): March a6 mia->nia reply, a8 nia->mia reply; April b5
# mia->nia reply (a6's pair again), b6 max->mia mention.
NODE_GROUP = {PA: "g1", PB: "g1", M2: "g1", M3: "g1", N1: "g2"}
NETWORK = [(M2, N1, "reply", "2026-03"), (N1, M2, "reply", "2026-03"), (M2, N1, "reply", "2026-04"),
           (M3, M2, "mention", "2026-04")]


def networkx_row(kind: str, period: str) -> tuple[int, int, float, float]:
    graph = nx.DiGraph()
    graph.add_edges_from((s, t) for s, t, k, p in NETWORK if kind in (k, "all") and period in (p, "all"))
    partition = [{v for v in graph if NODE_GROUP[v] == g} for g in ("g1", "g2")]
    nx.set_node_attributes(graph, {v: NODE_GROUP[v] for v in graph}, "group")
    q = nx.community.modularity(graph, [p for p in partition if p])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 when every edge is inside one group
        r = nx.attribute_assortativity_coefficient(graph, "group")
    return graph.number_of_nodes(), graph.number_of_edges(), q, r


def test_network_of_the_range_counts_a_directed_pair_once(con: duckdb.DuckDBPyConnection) -> None:
    got = {(r["period"], r["interaction_kind"]): r for r in rows(con, "SELECT * FROM network_mixing")}
    # all/all: {mia->nia, nia->mia, max->mia} = 3 edges (not 4), 1 inside g1: e_in = 1/3;
    #   leaving g1 2/3, g2 1/3; arriving g1 2/3, g2 1/3 -> sum ab = 5/9;
    #   Q = 1/3 - 5/9 = -2/9; r = (-2/9) / (4/9) = -1/2.
    # all/reply: {mia->nia, nia->mia} = 2 (not 3), none inside: sum ab = 1/4 + 1/4 = 1/2;
    #   Q = -1/2; r = (-1/2) / (1/2) = -1.
    # Months: March reply 2 edges; April reply 1 (mia->nia), mention 1 (max->mia).
    expected = {
        ("all", "all"): (3, 3, 1, -2 / 9, -1 / 2),
        ("all", "reply"): (2, 2, 0, -1 / 2, -1.0),
        # all/mention {max->mia}: inside g1 only: Q = 1 - 1 = 0, r = 0/0 (NULL)
        ("all", "mention"): (2, 1, 1, 0.0, None),
        ("2026-03", "reply"): (2, 2, 0, -1 / 2, -1.0),
        # April reply {mia->nia}: e_in 0, a_g1 b_g1 = 1 * 0, a_g2 b_g2 = 0 * 1 -> Q = 0, r = 0.
        ("2026-04", "reply"): (2, 1, 0, 0.0, 0.0),
        # April all {mia->nia, max->mia}: e_in 1/2; a_g1 b_g1 = 1 * 1/2, g2 0 -> Q = 0, r = 0.
        ("2026-04", "all"): (3, 2, 1, 0.0, 0.0),
    }
    for (period, kind), (nodes, edges, inside, q, r) in expected.items():
        row = got[(period, kind)]
        assert (row["nodes"], row["edges"], row["in_group_edges"]) == (nodes, edges, inside), (period, kind)
        want_nodes, want_edges, nx_q, nx_r = networkx_row(kind, period)
        assert (row["nodes"], row["edges"]) == (want_nodes, want_edges), (period, kind)
        assert row["modularity"] == pytest.approx(nx_q, abs=1e-12), (period, kind)
        if q is not None:
            assert row["modularity"] == pytest.approx(q, abs=1e-12), (period, kind)
        if r is not None:
            assert row["assortativity"] == pytest.approx(r, abs=1e-12), (period, kind)
            assert nx_r == pytest.approx(r, abs=1e-12), (period, kind)
        else:
            assert row["assortativity"] is None and math.isnan(nx_r), (period, kind)


def test_corrected_rate_of_the_range_sums_the_months_labelled_counts() -> None:
    # test_measurement_models' labelled world, its posts alternated between March and April: each
    # month holds part of the references and of the labelled sample, and the 'all' cell must be the
    # whole range's: N = 70 references, F = 30 predicted critical, tp 18, fn 4, fp 6, tn 28 of the
    # 56 labelled (org_a), and N 60, F 15, tp 15, fn 7, fp 0, tn 33 of 55 (org_b), as if in one month.
    posts, labels, draws = mm.world()
    for i, p in enumerate(posts):
        p["created_at"] = ts(MARCH if i % 2 == 0 else APRIL)
    con = mm.build_with_labels(mm.GROUPS, posts, labels, draws, classifier=mm.PLUGIN)
    cells = {(r["group_id"], r["period"]): r for r in rows(con, "SELECT * FROM dissent_frequency")}
    months = [cells[("org_a", m)]["labelled_refs"] for m in ("2026-03", "2026-04")]
    assert sum(months) == 56 and min(months) > 0, months  # the sample really is split over the months
    a, b = cells[("org_a", "all")], cells[("org_b", "all")]
    assert (a["org_reference_posts"], a["critical_posts"], a["labelled_refs"]) == (70, 30, 56)
    assert (b["org_reference_posts"], b["critical_posts"], b["labelled_refs"]) == (60, 15, 55)
    expected_a = corrected_proportion(70, 30, PairedCounts(tp=18, fn=4, fp=6, tn=28))
    expected_b = corrected_proportion(60, 15, PairedCounts(tp=15, fn=7, fp=0, tn=33))
    assert expected_a is not None and expected_b is not None
    assert a["measure"] == "corrected"
    assert (a["dissent_rate_corrected"], a["dissent_rate_corrected_lo"], a["dissent_rate_corrected_hi"]) == (
        pytest.approx(expected_a.estimate), pytest.approx(expected_a.lo), pytest.approx(expected_a.hi))
    diff = difference(expected_a, pooled([expected_b]))
    assert a["dissent_diff_vs_others_corrected"] == pytest.approx(diff.estimate)
