"""Look-alike handles and IDN hosts are one account on every platform, not only Mastodon and the
tables (issue 10, smaller items): a handle written with a zero-width space, a bidi override, a
word joiner or fullwidth letters is the same account as the plain one, and a Bluesky handle (a
host name) in Unicode is its punycode spelling. Each test maps hand-made raw records of one
platform through its real mapping.sql (`map_records`, DuckDB) and counts the accounts.
"""

from __future__ import annotations

from dissentry.connectors.base import RawRecord
from dissentry.connectors.facebook.connector import slug
from dissentry.normalise import map_records

# one person, spelled five ways (the plain spelling first)
DISGUISED = ["alice_m", "alice\u200b_m", "\uff41\uff4c\uff49\uff43\uff45_m", "\u202ealice_m", "alice_m\u2060"]


def _record(record_type: str, record_id: str, payload: dict, origin: str = "test") -> RawRecord:
    return RawRecord.from_json(record_type, record_id, payload, origin, f"t:{record_id}")


def test_reddit_look_alike_authors_and_parents_are_one_account() -> None:
    records = [_record("t1", f"t1_c{i}", {
        "name": f"t1_c{i}", "author": author, "body": "hi", "created_utc": 1767261600 + i,
        "parent_id": "t3_s1", "link_id": "t3_s1", "link_author": author, "permalink": f"/r/x/comments/s1/_/c{i}/",
    }) for i, author in enumerate(DISGUISED)]
    out = map_records("reddit", records)
    assert set(out["posts"].column("author_id").to_pylist()) == {"reddit:alice_m"}
    assert set(out["posts"].column("reply_to_author_id").to_pylist()) == {"reddit:alice_m"}
    assert out["accounts"].column("account_id").to_pylist() == ["reddit:alice_m"]


def test_twitter_look_alike_handles_are_one_account() -> None:
    # account.js rows without an id: the handle is the account's id ('twitter:' || handle)
    records = [_record("account", f"a{i}", {"username": name, "accountDisplayName": "Alice"})
               for i, name in enumerate(DISGUISED)]
    out = map_records("twitter", records)
    assert out["accounts"].column("account_id").to_pylist() == ["twitter:alice_m"]
    assert out["accounts"].column("handle").to_pylist() == ["alice_m"]


def test_telegram_look_alike_mentions_are_one_account() -> None:
    records = [_record("message", f"c1:{i}", {
        "chat": {"id": "1", "name": "News", "type": "public_channel"},
        "message": {"id": i, "type": "message", "date_unixtime": str(1767261600 + i), "from": "News",
                    "from_id": "channel1", "text": [{"type": "mention", "text": f"@{name}"}, " hi"],
                    "text_entities": [{"type": "mention", "text": f"@{name}"}, {"type": "plain", "text": " hi"}]},
    }) for i, name in enumerate(DISGUISED, 1)]
    out = map_records("telegram", records)
    assert out["posts"].num_rows == len(DISGUISED)
    assert set(out["post_mentions"].column("account_id").to_pylist()) == {"telegram:@alice_m"}
    assert set(out["post_mentions"].column("handle").to_pylist()) == {"alice_m"}


def test_bluesky_look_alike_and_idn_handles_are_one_spelling() -> None:
    did = "did:plc:abcdefghijklmnopqrstuvwx"
    spellings = [f"{name}.bsky.social" for name in DISGUISED]
    records = [_record("profile", f"{did}#{i}", {"did": did, "handle": handle, "displayName": "Alice"},
                       "https://public.api.bsky.app") for i, handle in enumerate(spellings)]
    out = map_records("bluesky", records)
    assert out["accounts"].column("handle").to_pylist() == ["alice_m.bsky.social"]
    idn = [_record("profile", f"did:plc:idn{i}", {"did": f"did:plc:idn{i}", "handle": handle},
                   "https://public.api.bsky.app") for i, handle in enumerate(["hans.bücher.example",
                                                                              "hans.xn--bcher-kva.example",
                                                                              "HANS.BÜCHER.EXAMPLE"])]
    handles = set(map_records("bluesky", idn)["accounts"].column("handle").to_pylist())
    assert handles == {"hans.xn--bcher-kva.example"}


def test_facebook_look_alike_names_are_one_account() -> None:
    assert {slug(f"Alice {name}") for name in DISGUISED} == {"alice-alice_m".replace("_", "-")}
    records = [_record("post", f"owner:{1767261600 + i}", {
        "owner": {"name": "Owner Person", "slug": "owner-person"},
        "post": {"timestamp": 1767261600 + i, "data": [{"post": "with a friend"}],
                 "tags": [{"name": f"Alice {name}"}]},
    }) for i, name in enumerate(DISGUISED)]
    out = map_records("facebook", records)
    assert out["posts"].num_rows == len(DISGUISED)
    assert set(out["post_mentions"].column("account_id").to_pylist()) == {"facebook:alice-alice-m"}
