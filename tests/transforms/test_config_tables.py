"""The configuration as cfg_ tables."""

from __future__ import annotations

from dissentry.transforms.config_tables import load_config_tables
from dissentry.warehouse import catalog
from tests.transforms.builders import config, rows


def test_config_tables() -> None:
    cfg = config(
        [
            {
                "id": "org_a",
                "name": "Org A",
                "aliases": ["O'Brien's Party", "x'); DROP TABLE cfg_groups; --", " Org  A "],
                "leaders": ["Jane Leader"],
                "domains": ["WWW.Org-A.example"],
                "accounts": ["mastodon:@OrgA@Social.Example"],
                "bio_markers": ["🚩"],
                "members": [
                    {"name": "Alice", "accounts": ["mastodon:alice@s.example", "bluesky:alice.bsky.social"]},
                    "mastodon:@bob@s.example",
                ],
                "jargon": ["the struggle"],
            }
        ],
        period="week",
        membership={"infer_from_bio": False, "amplification_min_reposts": 5},
    )
    con = catalog.connect()
    load_config_tables(con, cfg)
    load_config_tables(con, cfg)  # idempotent
    assert rows(con, "SELECT * FROM cfg_groups") == [{"group_id": "org_a", "name": "Org A"}]
    terms = {(r["kind"], r["term"]) for r in rows(con, "SELECT * FROM cfg_group_terms")}
    # the group name is an alias too; ' Org  A ' folds to 'Org A' and is not repeated
    assert terms == {
        ("alias", "Org A"),
        ("alias", "O'Brien's Party"),
        ("alias", "x'); DROP TABLE cfg_groups; --"),
        ("leader", "Jane Leader"),
        ("bio_marker", "🚩"),
        ("jargon", "the struggle"),
    }
    # the stored pattern finds the term as written, whatever it contains
    matched = rows(
        con,
        "SELECT term FROM cfg_group_terms WHERE regexp_matches(?, pattern) ORDER BY term",
        ["Well, x'); drop table cfg_groups; -- and o'brien's party"],
    )
    assert [r["term"] for r in matched] == ["O'Brien's Party", "x'); DROP TABLE cfg_groups; --"]
    assert rows(con, "SELECT * FROM cfg_group_domains") == [{"group_id": "org_a", "domain": "org-a.example"}]
    assert rows(con, "SELECT platform, handle, account_ref FROM cfg_group_accounts") == [
        {"platform": "mastodon", "handle": "orga@social.example", "account_ref": "mastodon:orga@social.example"}
    ]
    members = {(r["person_id"], r["account_ref"]) for r in rows(con, "SELECT * FROM cfg_group_members")}
    assert members == {
        ("person:Alice", "mastodon:alice@s.example"),
        ("person:Alice", "bluesky:alice.bsky.social"),
        ("mastodon:bob@s.example", "mastodon:bob@s.example"),
    }
    assert rows(con, "SELECT * FROM cfg_settings") == [
        {
            "period_unit": "week",
            "infer_from_bio": False,
            "infer_from_amplification": True,
            "amplification_min_reposts": 5,
        }
    ]
