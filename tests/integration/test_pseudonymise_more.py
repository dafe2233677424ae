"""Pseudonymisation, round two: the places a handle and a name hid from it.

- `post_links.url`: a plain link to someone's profile (`https://social.example/@alice`);
- `posts.link_title`: a link card titled with the person's display name (`Name (@handle)`);
- text where the handle follows `@` plus U+202E (right-to-left override) or a fullwidth `＠`.
The same world normalised without pseudonymisation holds each of them (the control), and with it
none: every value of every normalised column is scanned.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dissentry import pipeline
from dissentry.config import load_config

KEY = "test-key-of-at-least-sixteen-chars"
NAME = "Alice Quandt"


def _account(local_id: str, username: str, name: str) -> dict:
    return {"id": local_id, "username": username, "acct": username, "display_name": name, "note": "",
            "url": f"https://social.example/@{username}", "created_at": "2024-01-01T00:00:00.000Z"}


def _status(status_id: str, account: dict, html: str, **extra: object) -> dict:
    return {"id": status_id, "created_at": "2026-02-03T10:00:00.000Z", "in_reply_to_id": None,
            "in_reply_to_account_id": None, "spoiler_text": "", "language": "en",
            "uri": f"https://social.example/users/{account['username']}/statuses/{status_id}",
            "url": f"https://social.example/@{account['username']}/{status_id}", "content": html,
            "reblog": None, "account": account, "mentions": [], "tags": [], "quote": None, "card": None, **extra}


def world(root: Path, pseudonymise: bool) -> Path:
    alice = _account("1001", "alicequandt", NAME)
    bob = _account("1002", "bobrenner", "Bob Renner")
    records = [
        _status("2001", alice, "<p>Morning, all.</p>"),
        _status("2002", bob, '<p>Read her: <a href="https://social.example/@alicequandt">her profile</a></p>'),
        _status("2003", bob, "<p>See this</p>",
                card={"url": "https://social.example/@alicequandt", "title": f"{NAME} (@alicequandt@social.example)"}),
        _status("2004", bob, "<p>hey @\u202ealicequandt, what now?</p>"),
        _status("2005", bob, "<p>and \uff20alicequandt too</p>"),
    ]
    (root / "in").mkdir(parents=True)
    (root / "in" / "m.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                                         encoding="utf-8")
    settings = "[settings]\npseudonymise = true\n\n" if pseudonymise else ""
    (root / "dissentry.toml").write_text(
        f'warehouse_dir = "wh"\n\n{settings}[[sources]]\nname = "m"\nplatform = "mastodon"\n'
        'instance = "https://social.example"\nfiles = ["in/m.jsonl"]\n', encoding="utf-8")
    return root / "dissentry.toml"


def normalised_values(root: Path) -> dict[str, list[str]]:
    """`table.column` -> every string value the normalised layer holds in it."""
    out: dict[str, list[str]] = {}
    for f in (root / "wh" / "normalised").rglob("*.parquet"):
        table_name = f.parent.parent.name  # .../<table>/platform=P/data.parquet
        table = pq.read_table(f)
        for name in table.column_names:
            values = [v for v in table.column(name).to_pylist() if isinstance(v, str)]
            out.setdefault(f"{table_name}.{name}", []).extend(values)
    return out


def leaks(values: dict[str, list[str]]) -> dict[str, list[str]]:
    return {col: [v for v in vs if "alicequandt" in v.lower() or "quandt" in v.lower()]
            for col, vs in values.items() if any("quandt" in v.lower() for v in vs)}


def test_profile_links_card_titles_and_disguised_mentions_are_pseudonymised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISSENTRY_PSEUDONYM_KEY", KEY)
    plain = load_config(world(tmp_path / "plain", False))
    hidden = load_config(world(tmp_path / "hidden", True))
    for config in (plain, hidden):
        pipeline.collect(config)
        pipeline.normalise(config)

    control = leaks(normalised_values(tmp_path / "plain"))
    # the control holds the name and handle in each place this test is about
    assert any("/@alicequandt" in v for v in control["post_links.url"])
    assert control["posts.link_title"] == [f"{NAME} (@alicequandt@social.example)"]
    assert sum("alicequandt" in v for v in control["posts.text"]) == 2

    assert leaks(normalised_values(tmp_path / "hidden")) == {}
    values = normalised_values(tmp_path / "hidden")
    # what replaced them still says what it was: a profile link on that host, a titled card, a mention
    assert any(v.startswith("https://social.example/@p") for v in values["post_links.url"])
    assert [t for t in values["posts.link_title"] if t] and all(t.startswith("p") for t in values["posts.link_title"])
    mentions = [t for t in values["posts.text"] if "what now" in t or "too" in t]
    assert len(mentions) == 2 and all("@p" in t for t in mentions)
    # the post's other words stay exactly as written
    assert any(t.startswith("hey @p") and t.endswith(", what now?") for t in mentions)
    # the same handle, however disguised, is one pseudonym
    digests = {t.split("@", 1)[1].split(",")[0].split(" ")[0] for t in mentions}
    assert len(digests) == 1
