"""dissent_frequency, echo_chamber, group_members and org_references on the hand-built world in
hand_dataset.py. Every expected number is derived in the comments from that file alone."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import duckdb
import pytest

from tests.transforms import hand_dataset as hd
from tests.transforms.builders import build, rows

Z = 1.959963984540054


def wilson(k: int, n: int) -> tuple[float | None, float | None]:
    """Textbook Wilson score interval (Wilson 1927), written out independently of macros.sql."""
    if n == 0:
        return None, None
    p = k / n
    centre = p + Z * Z / (2 * n)
    margin = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    denom = 1 + Z * Z / n
    return max(0.0, (centre - margin) / denom), min(1.0, (centre + margin) / denom)


def with_bounds(row: dict[str, Any], name: str, k: int, n: int) -> None:
    row[name] = k / n if n else None
    row[f"{name}_lo"], row[f"{name}_hi"] = wilson(k, n)


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    return build(hd.CONFIG, **hd.inputs())


def assert_row(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert set(actual) == set(expected), set(actual) ^ set(expected)
    for key, want in expected.items():
        got = actual[key]
        if want is None or isinstance(want, str | bool) or key == "period_start":
            assert got == want, key
        else:
            assert got == pytest.approx(want, rel=1e-12, abs=1e-12), key


def assert_every_row(got: list[dict[str, Any]], table: dict[tuple[str, str], Any],
                     expected: Callable[[str, str], dict[str, Any]]) -> None:
    """One row per (group, period) of the hand-worked table, in order, each as worked out."""
    assert [(r["group_id"], r["period"]) for r in got] == sorted(table)
    for r in got:
        assert_row(r, expected(r["group_id"], r["period"]))


def mart_rows(con: duckdb.DuckDBPyConnection, mart: str) -> list[dict[str, Any]]:
    """Every row of a per-(group, period) mart in that order, `period_start` as text (as expected)."""
    got = rows(con, f"SELECT * FROM {mart} ORDER BY group_id, period")
    for r in got:
        r["period_start"] = str(r["period_start"]) if r["period_start"] else None
    return got


def test_group_members(con: duckdb.DuckDBPyConnection) -> None:
    got = {
        (r["group_id"], r["account_id"]): (r["person_id"], r["evidence"], r["evidence_all"], r["official_reposts"])
        for r in rows(con, "SELECT * FROM group_members")
    }
    assert got == {
        # the Person: two accounts, one person_id; A1's bio marker is extra evidence
        ("org_a", hd.A1): ("person:Alice", "listed", ["listed", "bio_marker"], 0),
        ("org_a", hd.A2): ("person:Alice", "listed", ["listed"], 0),
        # listed as 'mastodon:@Bob@s.example': case and '@' do not matter
        ("org_a", hd.B): ("mastodon:bob@s.example", "listed", ["listed"], 0),
        # inferred from the 🚩 in her bio: her own person; p05 is one repost of OA
        ("org_a", hd.E): (hd.E, "bio_marker", ["bio_marker"], 1),
        ("org_b", hd.C): (hd.C, "listed", ["listed"], 0),
        ("org_b", hd.D): (hd.D, "listed", ["listed"], 0),
        # p08 and p10 repost OB: 2 >= amplification_min_reposts
        ("org_b", hd.F): (hd.F, "amplifies_official", ["amplifies_official"], 2),
        # OA's bio carries 🚩 but official accounts are never members; Z is nobody's
    }


def test_org_references_and_their_stance(con: duckdb.DuckDBPyConnection) -> None:
    got = {
        r["post_id"]: (r["group_id"], r["reference_kinds"], r["stance"])
        for r in rows(
            con,
            "SELECT r.*, s.stance FROM org_references r JOIN reference_stance s USING (post_id, group_id)",
        )
    }
    assert got == {
        "p01": ("org_a", ["alias"], "critical"),  # 'wrong about'
        "p02": ("org_a", ["alias"], "supportive"),  # 'Great rally' (VADER +0.66)
        "p04": ("org_a", ["mention", "reply"], "supportive"),  # "don't disagree": negated cue
        "p09": ("org_a", ["quote"], "neutral"),  # 'Exactly this': no valence
        "p18": ("org_a", ["alias"], "critical"),  # Alice's cross-post of p01
        "p11": ("org_a", ["alias"], "neutral"),
        "p12": ("org_a", ["alias"], "neutral"),
        "p06": ("org_b", ["leader"], "critical"),  # 'resign'
        "p13": ("org_b", ["leader"], "critical"),  # 'failed'
        # not references: p03 (text is only the link's title), p05/p08/p10 (pure reposts),
        # p07/p16 ('Org Army' is not 'Org A'), p14/p17 (no official account), p15 (not a member)
    }


# ---- dissent_frequency ----------------------------------------------------------------------------
# Member posts and references (R = references own org; c = critical):
#   org_a March: p01 A1 R c, p02 A2 R, p03 B, p04 B R, p05 E, p09 A2 R, p16 E, p18 A2 R c
#            -> posts 8, people {Alice, Bob, Erin} = 3, refs 5, critical 2, dissenters {Alice} = 1
#   org_a April: p11 B R, p12 A1 R, p17 B -> posts 3, people {Bob, Alice} = 2, refs 2, critical 0
#   org_a all: posts 11, people 3, refs 7, critical 2, dissenters 1 (p01 and p18 are one person)
#   org_b March: p06 C R c, p07 D, p08 F -> posts 3, people 3, refs 1, critical 1, dissenters {C}
#   org_b April: p10 F, p13 D R c, p14 C -> posts 3, people 3, refs 1, critical 1, dissenters {D}
#   org_b all: posts 6, people 3, refs 2, critical 2, dissenters {C, D} = 2
#   org_c: nothing at all.
# Others pooled per period (refs, critical): March org_a sees (1, 1), org_b sees (5, 2),
# org_c sees (6, 3); April (1, 1), (2, 0), (3, 1); all (2, 2), (7, 2), (9, 4).
# Fisher p by hand, top-left x over tables with the observed margins, P = C(r1,x) C(r2,c1-x) / C(N,c1):
#   March org_a [[2,3],[1,0]]: r1 5, r2 1, c1 3: P(2) = 10/20, P(3) = 10/20 -> p = 1
#   March org_b [[1,0],[2,3]]: r1 1, r2 5, c1 3: P(0) = 10/20, P(1) = 10/20 -> p = 1
#   April org_a [[0,2],[1,0]]: r1 2, r2 1, c1 1: P(0) = 1/3, P(1) = 2/3 -> p = 1/3
#   April org_b [[1,0],[0,2]]: r1 1, r2 2, c1 1: P(0) = 2/3, P(1) = 1/3 -> p = 1/3
#   all org_a [[2,5],[2,0]]: r1 7, r2 2, c1 4, C(9,4) = 126: P(2) = 21, P(3) = 70, P(4) = 35 (/126)
#            -> p = 21/126 = 1/6
#   all org_b [[2,0],[2,5]]: P(0) = 35, P(1) = 70, P(2) = 21 (/126) -> p = 1/6
#   org_c has no references: no test (NULL).

DISSENT = {
    # (group, period): members, posts, refs, critical, dissenters, others refs, others critical, p
    ("org_a", "2026-03"): (3, 8, 5, 2, 1, 1, 1, 1.0),
    ("org_a", "2026-04"): (2, 3, 2, 0, 0, 1, 1, 1 / 3),
    ("org_a", "all"): (3, 11, 7, 2, 1, 2, 2, 1 / 6),
    ("org_b", "2026-03"): (3, 3, 1, 1, 1, 5, 2, 1.0),
    ("org_b", "2026-04"): (3, 3, 1, 1, 1, 2, 0, 1 / 3),
    ("org_b", "all"): (3, 6, 2, 2, 2, 7, 2, 1 / 6),
    ("org_c", "2026-03"): (0, 0, 0, 0, 0, 6, 3, None),
    ("org_c", "2026-04"): (0, 0, 0, 0, 0, 3, 1, None),
    ("org_c", "all"): (0, 0, 0, 0, 0, 9, 4, None),
}

PERIOD_START = {"2026-03": "2026-03-01", "2026-04": "2026-04-01", "all": None}


def group_period(group: str, period: str, members: int, posts: int) -> dict[str, Any]:
    """The columns every per-(group, period) mart starts with."""
    return {"group_id": group, "period": period, "period_start": PERIOD_START[period], "members_active": members,
            "posts": posts}


def expected_dissent(group: str, period: str) -> dict[str, Any]:
    members, posts, refs, critical, dissenters, o_refs, o_crit, p = DISSENT[(group, period)]
    row: dict[str, Any] = {
        **group_period(group, period, members, posts),
        "org_reference_posts": refs,
        "critical_posts": critical,
        "dissent_per_1k_posts": 1000 * critical / posts if posts else None,
        "dissenters": dissenters,
        "others_org_reference_posts": o_refs,
        "others_critical_posts": o_crit,
        "others_dissent_rate": o_crit / o_refs,
        "rate_ratio_p_value": p,
        # nobody labelled anything here: the rates are the classifier's alone
        "measure": "unvalidated" if refs else "no_references",
        "labelled_refs": 0,
        **dict.fromkeys(
            ["dissent_rate_corrected", "dissent_rate_corrected_lo", "dissent_rate_corrected_hi",
             "others_dissent_rate_corrected", "dissent_diff_vs_others_corrected",
             "dissent_diff_vs_others_corrected_lo", "dissent_diff_vs_others_corrected_hi",
             "dissent_diff_p_value_corrected"]),
    }
    with_bounds(row, "dissent_rate", critical, refs)
    with_bounds(row, "dissenter_share", dissenters, members)
    # NULL when this group's rate is undefined or the others' rate is 0 (April org_b: 1 / 0)
    rate, others = row["dissent_rate"], row["others_dissent_rate"]
    row["rate_ratio_vs_others"] = rate / others if rate is not None and others else None
    return row


def test_dissent_frequency_by_hand(con: duckdb.DuckDBPyConnection) -> None:
    got = mart_rows(con, "dissent_frequency")
    assert_every_row(got, DISSENT, expected_dissent)
    # spot checks of the derived columns, spelled out
    march_a = next(r for r in got if (r["group_id"], r["period"]) == ("org_a", "2026-03"))
    assert march_a["dissent_rate"] == 0.4 and march_a["rate_ratio_vs_others"] == pytest.approx(0.4)
    assert march_a["dissent_per_1k_posts"] == 250.0
    all_b = next(r for r in got if (r["group_id"], r["period"]) == ("org_b", "all"))
    assert all_b["rate_ratio_vs_others"] == pytest.approx(3.5)  # 1 / (2/7)


# ---- echo_chamber ---------------------------------------------------------------------------------
# Links in member posts: p02 news.example (March, org_a), p03 org-a.example (March, org_a, own),
#   p12 org-a.example (April, org_a, own), p07 news.example (March, org_b, not own).
#   org_a March: 2 links in 2 posts, 1 own; domains {news, org-a}: p = 1/2, 1/2 -> H = 1 bit,
#     norm 1, HHI 1/2. April: 1 own link, 1 domain -> H 0, norm NULL, HHI 1.
#     all: 3 links, 2 own; p = 1/3, 2/3 -> H = log2(3) - 2/3 = 0.9182958340544896, norm = H / 1,
#     HHI = 1/9 + 4/9 = 5/9.
#   org_b: March and all 1 link, 0 own, H 0, HHI 1; April no links: NULLs.
# Reposts: org_a p05 (of OA) in March; org_b p08 (March), p10 (April), both of OB.
# Own-organisation shares (repost of own official, or own-domain link):
#   org_a: p03 (text 'Org A news' = the link title: no commentary), p05 (pure repost), p12 (adds
#   'Org A meets on Tuesday.' vs title 'Events': commentary) -> March 2/2 uncritical, April 0/1,
#   all 2/3. org_b: p08, p10 pure reposts -> 1/1, 1/1, 2/2.
# Ties (post, target), in-group when the target is a member or official account of the group:
#   org_a: p04 B->OA (reply + mention: one tie), p05 E->OA, p09 A2->OA (March, all in);
#          p17 B->C (April, out). March 3/0, April 0/1, all 3/1; E-I = (E - I)/(E + I).
#   org_b: p08 F->OB (March, in); p10 F->OB in, p13 D->C in, p14 C->B out (April).
# Identity markers (🚩 in display name or bio): Alice (A1's bio) and Erin; Bob, org_b nobody.
#   org_a March {Alice, Bob, Erin}: 2/3; April {Bob, Alice}: 1/2; all 2/3. org_b 0/3 throughout.
# Tokens (URLs and @handles removed; words = runs of letters/digits/_):
#   March org_a: p01 7, p02 5, p03 3, p04 5 ("I don't disagree, comrade": i don t disagree comrade),
#     p05 0, p09 4, p16 10, p18 7 = 41. Jargon: p04 comrade 1, p09 'comrade comrade' 2,
#     p16 'The struggle' 1 = 4 -> 4000/41.
#   April org_a: p11 5, p12 5, p17 4 = 14, jargon 0. all: 55 tokens, 4 -> 4000/55.
#   org_b (no jargon configured; carol's 'comrade' counts for nobody): March p06 8 + p07 5 + p08 0
#     = 13; April p10 0 + p13 5 + p14 3 = 8; all 21; jargon 0 -> 0 per 1k.
# Boilerplate (non-empty normalised text, reposts excluded; same text by another person):
#   org_a March: p01, p02, p03, p04, p09, p16, p18 = 7 texts; p01 = p18 but both Alice's -> 0.
#   April: p11 (Bob) = p12 (Alice, URL removed) -> 2 of 3 (p17). all: 2 of 10.
#   org_b: March p06, p07; April p13, p14; all 4 texts, none shared.
# Leaning: no member's interaction partner has links in the same period -> 0 pairs, NULL.

ECHO = {
    # (group, period): (link_posts, links, own_links, domains, entropy, hhi),
    #   (reposts, official_reposts, own_shares, uncritical), (ties in, out), (members_active, marked), posts,
    #   (tokens, jargon), (texts, boilerplate)
    ("org_a", "2026-03"): ((2, 2, 1, 2, 1.0, 0.5), (1, 1, 2, 2), (3, 0), (3, 2), 8, (41, 4), (7, 0)),
    ("org_a", "2026-04"): ((1, 1, 1, 1, 0.0, 1.0), (0, 0, 1, 0), (0, 1), (2, 1), 3, (14, 0), (3, 2)),
    ("org_a", "all"): ((3, 3, 2, 2, math.log2(3) - 2 / 3, 5 / 9), (1, 1, 3, 2), (3, 1), (3, 2), 11, (55, 4), (10, 2)),
    ("org_b", "2026-03"): ((1, 1, 0, 1, 0.0, 1.0), (1, 1, 1, 1), (1, 0), (3, 0), 3, (13, 0), (2, 0)),
    ("org_b", "2026-04"): ((0, 0, 0, 0, None, None), (1, 1, 1, 1), (2, 1), (3, 0), 3, (8, 0), (2, 0)),
    ("org_b", "all"): ((1, 1, 0, 1, 0.0, 1.0), (2, 2, 2, 2), (3, 1), (3, 0), 6, (21, 0), (4, 0)),
    ("org_c", "2026-03"): ((0, 0, 0, 0, None, None), (0, 0, 0, 0), (0, 0), (0, 0), 0, (0, 0), (0, 0)),
    ("org_c", "2026-04"): ((0, 0, 0, 0, None, None), (0, 0, 0, 0), (0, 0), (0, 0), 0, (0, 0), (0, 0)),
    ("org_c", "all"): ((0, 0, 0, 0, None, None), (0, 0, 0, 0), (0, 0), (0, 0), 0, (0, 0), (0, 0)),
}


def expected_echo(group: str, period: str) -> dict[str, Any]:
    link_figures, shares, ties, people, posts, words, texts_and_boilerplate = ECHO[(group, period)]
    link_posts, links, own, domains, entropy, hhi = link_figures
    reposts, official, own_shares, uncritical = shares
    ties_in, ties_out = ties
    members, marked = people
    tokens, jargon = words
    texts, boiler = texts_and_boilerplate
    row: dict[str, Any] = {
        **group_period(group, period, members, posts),
        "link_posts": link_posts,
        "links": links,
        "own_links": own,
        "reposts": reposts,
        "official_reposts": official,
        "own_shares": own_shares,
        "uncritical_shares": uncritical,
        "domains": domains,
        "domain_entropy_bits": entropy,
        "domain_entropy_norm": entropy / math.log2(domains) if domains >= 2 else None,
        "domain_hhi": hhi,
        "in_group_ties": ties_in,
        "out_group_ties": ties_out,
        "ei_index": (ties_out - ties_in) / (ties_in + ties_out) if ties_in + ties_out else None,
        "identity_marker_members": marked,
        "tokens": tokens,
        "jargon_occurrences": jargon,
        "jargon_per_1k_tokens": 1000 * jargon / tokens if tokens else None,
        "text_posts": texts,
        "boilerplate_posts": boiler,
        "leaning_accounts": 0,
        "leaning_neighbour_corr": None,
    }
    with_bounds(row, "own_source_share", own, links)
    with_bounds(row, "official_repost_share", official, reposts)
    with_bounds(row, "uncritical_share_rate", uncritical, own_shares)
    with_bounds(row, "in_group_share", ties_in, ties_in + ties_out)
    with_bounds(row, "identity_marker_share", marked, members)
    with_bounds(row, "boilerplate_share", boiler, texts)
    return row


def test_echo_chamber_by_hand(con: duckdb.DuckDBPyConnection) -> None:
    got = mart_rows(con, "echo_chamber")
    assert_every_row(got, ECHO, expected_echo)


def test_zero_is_a_result_not_a_gap(con: duckdb.DuckDBPyConnection) -> None:
    # org_a April: 0 critical of 2 references -> rate 0 with an informative upper bound
    row = rows(con, "SELECT * FROM dissent_frequency WHERE group_id = 'org_a' AND period = '2026-04'")[0]
    assert row["dissent_rate"] == 0.0 and row["dissent_rate_lo"] == 0.0
    assert row["dissent_rate_hi"] == pytest.approx(Z * Z / (2 + Z * Z))
