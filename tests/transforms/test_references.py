"""Which member posts reference their own organisation, and the term matching behind it."""

from __future__ import annotations

import duckdb
import pytest

from dissentry.terms import python_pattern, sql_pattern
from dissentry.transforms.runner import load_macros
from dissentry.warehouse import catalog
from tests.transforms.builders import account, build, config, post, rows

M = "mastodon:mia@s.example"  # member of org_a
N = "mastodon:nora@s.example"  # member of org_b
OA = "mastodon:orga@s.example"  # official account of org_a
OA_BSKY = "bluesky:did:plc:orga"  # org_a's Bluesky account, known only through a mention
DAY = "2026-03-10"

CONFIG = config(
    [
        {
            "id": "org_a",
            "name": "Org A",
            "aliases": ["OrgA", "C++ Party", "Élan Vital"],
            "leaders": ["Jane Leader"],
            "domains": ["org-a.example", "orga.example"],
            "accounts": ["mastodon:orga@s.example", "bluesky:orga.bsky.social"],
            "members": ["mastodon:mia@s.example"],
        },
        {"id": "org_b", "name": "Org B", "members": ["mastodon:nora@s.example"]},
    ]
)

# post id -> (post, expected reference kinds for org_a, or None when it is no reference)
CASES = {
    "army": (post("army", M, DAY, "The Org Army marched."), None),  # 'Org A' is not 'Org Army'
    "orgab": (post("orgab", M, DAY, "OrgAB and xOrgA are different"), None),
    "case": (post("case", M, DAY, "what is org a doing?!"), ["alias"]),
    "possessive": (post("possessive", M, DAY, "Org A's plan"), ["alias"]),
    "hashtag": (post("hashtag", M, DAY, "#OrgA all the way"), ["alias"]),
    "spaces": (post("spaces", M, DAY, "Jane\n  Leader spoke"), ["leader"]),
    "special": (post("special", M, DAY, "the c++ party again"), ["alias"]),
    "not_special": (post("not_special", M, DAY, "the c+ party or cx+ party"), None),
    "unicode": (post("unicode", M, DAY, "ÉLAN VITAL rises"), ["alias"]),
    "unicode_longer": (post("unicode_longer", M, DAY, "élan vitalité"), None),
    "link_only": (post("link_only", M, DAY, "https://org-a.example/news/1"), None),
    "link_in_host": (post("link_in_host", M, DAY, "look https://orga.example/x"), None),  # 'orga' only in the URL
    "link_title": (post("link_title", M, DAY, "Org A news https://org-a.example/n", link_title="Org A news"), None),
    "link_and_words": (
        post("link_and_words", M, DAY, "Org A did this https://org-a.example/n", link_title="News"),
        ["alias"],
    ),
    "handle_lookalike": (post("handle_lookalike", M, DAY, "@OrgA_fan hello"), None),  # a mention, not a name
    "mention": (post("mention", M, DAY, "@orga hello"), ["mention"]),
    "mention_by_handle": (post("mention_by_handle", M, DAY, "@orga.bsky.social hi"), ["mention"]),
    "reply": (post("reply", M, DAY, "thanks", kind="reply", reply_to=OA), ["reply"]),
    "quote": (post("quote", M, DAY, "this", kind="quote", quote_of=OA), ["quote"]),
    "named_reply": (post("named_reply", M, DAY, "Org A rocks", kind="reply", reply_to=OA), ["alias", "reply"]),
    "repost": (post("repost", M, DAY, "", kind="repost", repost_of=OA), None),  # amplification
    "other_group": (post("other_group", N, DAY, "Org A is wrong"), None),  # not nora's own org
    "official": (post("official", OA, DAY, "Org A says hi"), None),  # officials are not members
}

MENTIONS = [
    ("mention", OA, "orga@s.example"),
    ("mention_by_handle", OA_BSKY, "orga.bsky.social"),
    ("handle_lookalike", "mastodon:orga_fan@s.example", "orga_fan@s.example"),
]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    return build(
        CONFIG,
        posts=[p for p, _ in CASES.values()],
        accounts=[account(M, "mia@s.example"), account(N, "nora@s.example"), account(OA, "orga@s.example")],
        mentions=MENTIONS,
    )


def test_reference_detection(con: duckdb.DuckDBPyConnection) -> None:
    got = {r["post_id"]: r for r in rows(con, "SELECT * FROM org_references")}
    expected = {pid: kinds for pid, (_, kinds) in CASES.items() if kinds is not None}
    assert {pid: got[pid]["reference_kinds"] for pid in got} == expected
    assert all(r["group_id"] == "org_a" for r in got.values())
    assert got["named_reply"]["reference_kind"] == "alias"
    assert got["named_reply"]["matched_terms"] == ["Org A"]
    assert got["named_reply"]["official_accounts"] == [OA]
    # the Bluesky official account was configured by handle and resolved to its DID via the mention
    assert got["mention_by_handle"]["official_accounts"] == [OA_BSKY]


TERM_CASES = [
    ("Org A", "Org Army", False),
    ("Org A", "Org A.", True),
    ("Org A", "ORG   A", True),
    ("Org A", "xOrg A", False),
    ("Org A", "Org A_", False),  # underscore is a word character
    ("Org A", "Org A1", False),
    ("OrgA", "#orga", True),
    ("🚩", "flag🚩flag", True),  # no boundary needed next to an emoji
    ("C++ Party", "c++ party", True),
    ("C++ Party", "cc party", False),
    ("a.b", "axb", False),  # '.' is literal
    ("(x)", "(x) y", True),
    ("Über", "über alles", True),  # RE2's \b would fail here: Ü is not ASCII
    ("Über", "Überall", False),
    ("Ölkonzern", "Der Ölkonzern", True),
    ("Org A", "Org Army and Org A", True),  # a failed occurrence does not hide a later one
    ("Org A", "Org A", True),  # the whole text
    ("Jane Leader", "jane\n leader", True),
]


@pytest.fixture(scope="module")
def macro_con() -> duckdb.DuckDBPyConnection:
    con = catalog.connect()
    load_macros(con)
    return con


@pytest.mark.parametrize(("term", "text", "match"), TERM_CASES)
def test_the_three_term_matchers_agree(macro_con: duckdb.DuckDBPyConnection, term: str, text: str, match: bool) -> None:
    by_macro, by_regex = macro_con.execute(
        "SELECT contains_term(?, ?), regexp_matches(?, ?)", [text, term, text, sql_pattern(term)]
    ).fetchall()[0]
    pattern = python_pattern([term])
    assert pattern is not None
    assert by_macro is match
    assert by_regex is match
    assert (pattern.search(text) is not None) is match
