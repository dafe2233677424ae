"""A small hand-built world: three groups, a dozen member posts over two months, one Person with a
Mastodon and a Bluesky account. The expected mart values in test_marts_by_hand.py are worked out
from this file alone; keep the two in step.

Accounts (host s.example):
  A1 alice (mastodon) + A2 alice.bsky.social (bluesky DID): the Person "Alice", listed in org_a.
     A1's bio carries org_a's marker 🚩.
  B  bob: listed in org_a.          E erin: bio "🚩 activist" -> org_a member by bio marker.
  C  carol, D dan: listed in org_b. F fay: reposts org_b's official account twice -> member by
     amplification (amplification_min_reposts = 2).
  OA orga, OB orgb: official accounts (OA's bio has 🚩 too: officials are never members).
  Z  zed: nobody's member.
org_c has no accounts and no posts: its rows are zeros, not gaps.
"""

from __future__ import annotations

from typing import Any

from tests.transforms.builders import account, config, post

A1 = "mastodon:alice@s.example"
A2 = "bluesky:did:plc:alice"
B = "mastodon:bob@s.example"
E = "mastodon:erin@s.example"
C = "mastodon:carol@s.example"
D = "mastodon:dan@s.example"
F = "mastodon:fay@s.example"
OA = "mastodon:orga@s.example"
OB = "mastodon:orgb@s.example"
Z = "mastodon:zed@s.example"

CONFIG = config(
    [
        {
            "id": "org_a",
            "name": "Org A",
            "aliases": ["OrgA"],
            "leaders": ["Jane Leader"],
            "domains": ["org-a.example"],
            "accounts": ["mastodon:@orga@s.example"],
            "bio_markers": ["🚩"],
            "members": [
                {"name": "Alice", "accounts": ["mastodon:alice@s.example", "bluesky:alice.bsky.social"]},
                "mastodon:@Bob@s.example",
            ],
            "jargon": ["comrade", "the struggle"],
        },
        {
            "id": "org_b",
            "name": "Org B",
            "leaders": ["Max Boss"],
            "domains": ["org-b.example"],
            "accounts": ["mastodon:orgb@s.example"],
            "members": ["mastodon:carol@s.example", "mastodon:dan@s.example"],
        },
        {"id": "org_c", "name": "Org C"},
    ],
    membership={"amplification_min_reposts": 2},
)

ACCOUNTS = [
    account(A1, "alice@s.example", bio="Org A member 🚩"),
    account(A2, "alice.bsky.social"),
    account(B, "bob@s.example"),
    account(E, "erin@s.example", bio="🚩 activist"),
    account(C, "carol@s.example"),
    account(D, "dan@s.example"),
    account(F, "fay@s.example"),
    account(OA, "orga@s.example", bio="Official account of Org A 🚩"),
    account(OB, "orgb@s.example"),
    account(Z, "zed@s.example", bio="just watching"),
]

MARCH, APRIL = "2026-03-10", "2026-04-10"

POSTS = [
    post("oa1", OA, "2026-03-01", "Welcome to Org A"),
    # ---- March
    post("p01", A1, MARCH, "Org A was wrong about the coalition."),
    post("p02", A2, MARCH, "Great rally today with OrgA! https://news.example/rally", link_title="Rally"),
    post("p03", B, MARCH, "Org A news https://org-a.example/news/1", link_title="Org A news"),
    post("p04", B, MARCH, "@orga I don't disagree, comrade.", kind="reply", reply_to=OA),
    post("p05", E, MARCH, "", kind="repost", repost_of=OA),
    post("p06", C, MARCH, "Max Boss should resign. The struggle continues, comrade."),
    post("p07", D, MARCH, "Org Army parade was fun https://news.example/x"),
    post("p08", F, MARCH, "", kind="repost", repost_of=OB),
    post("p09", A2, MARCH, "Exactly this, comrade comrade.", kind="quote", quote_of=OA),
    post("p16", E, MARCH, "The Org Army fans were loud. The struggle goes on."),
    post("p18", A2, MARCH, "Org A was wrong about the coalition."),
    # ---- April
    post("p10", F, APRIL, "", kind="repost", repost_of=OB),
    post("p11", B, APRIL, "Org A meets on Tuesday."),
    post("p12", A1, APRIL, "Org A meets on Tuesday. https://org-a.example/events", link_title="Events"),
    post("p13", D, APRIL, "Agreed, Max Boss failed us.", kind="reply", reply_to=C),
    post("p14", C, APRIL, "@bob see you there"),
    post("p15", Z, APRIL, "Org A is terrible"),
    post("p17", B, APRIL, "@carol nice to meet you", kind="reply", reply_to=C),
]

LINKS = [
    ("p02", "https://news.example/rally", "news.example"),
    ("p03", "https://org-a.example/news/1", "org-a.example"),
    ("p07", "https://news.example/x", "news.example"),
    ("p12", "https://org-a.example/events", "org-a.example"),
]

MENTIONS = [
    ("p04", OA, "orga@s.example"),
    ("p14", B, "bob@s.example"),
    ("p17", C, "carol@s.example"),
]


def inputs() -> dict[str, Any]:
    return {"posts": POSTS, "accounts": ACCOUNTS, "links": LINKS, "mentions": MENTIONS}
