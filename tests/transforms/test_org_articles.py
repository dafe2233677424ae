"""Org articles (the groups' own RSS/Atom publications) in the echo-chamber mart: article links
count as own-source links whatever their domain, and a member post that only repeats an article's
title (or adds nothing) is an uncritical own share. Expected values are worked out in the comments.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from dissentry.config import Config, Source
from dissentry.connectors.rss.connector import RssConnector
from dissentry.normalise import map_records, normalise_url_one
from dissentry.pipeline import import_export, normalise, transform
from dissentry.transforms.runner import run_models
from dissentry.warehouse import catalog, schema
from tests.transforms.builders import FETCHED, config, load_inputs, post, rows

A = "mastodon:alice@s.example"
B = "mastodon:bob@s.example"
C = "mastodon:carol@s.example"
DAY = "2026-03-10"

HOMES = "https://homes-for-all.example/plan"  # org_a's campaign site: not a configured domain
PLAN = "https://org-a.example/news/housing-plan"
ABOUT = "https://org-a.example/about"  # org_a's domain, but not an article
BILL = "https://org-b.example/journal/bill"  # org_b configures no domain: only the article counts
NEWS = "https://news.example/story"

CONFIG = config(
    [
        {"id": "org_a", "name": "Org A", "domains": ["org-a.example"],
         "members": ["mastodon:alice@s.example", "mastodon:bob@s.example"]},
        {"id": "org_b", "name": "Org B", "members": ["mastodon:carol@s.example"]},
    ]
)


def article(group_id: str, url: str, title: str | None, feed: str = "https://feeds.example/f.xml",
            fetched: datetime = FETCHED) -> dict[str, Any]:
    return {"group_id": group_id, "url": url, "title": title, "published_at": datetime(2026, 3, 1, tzinfo=UTC),
            "feed_url": feed, "source": "feeds", "fetched_at": fetched}


ARTICLES = [
    article("org_a", HOMES, "Homes for all: the plan"),
    article("org_a", PLAN, "Org A launches its housing plan"),
    # the same article in a second feed, fetched earlier: one row, the latest fetch's title
    article("org_a", PLAN, "Old title", feed="https://feeds.example/old.xml", fetched=datetime(2026, 1, 1, tzinfo=UTC)),
    article("org_b", BILL, "Why we oppose the bill"),
    article("org_z", NEWS, "Not a configured group"),  # dropped
]

POSTS = [
    post("p1", A, DAY, HOMES),  # nothing but the link: uncritical
    post("p2", A, DAY, f"homes FOR all:   the plan {HOMES}"),  # the article's title, case/space aside: uncritical
    post("p3", B, DAY, f"Read this, it is wrong about rents {HOMES}"),  # commentary
    post("p4", B, DAY, f"Org A launches its housing plan {PLAN}"),  # the title, no link card: uncritical
    post("p5", A, DAY, f"Why we oppose the bill {BILL}"),  # org_b's article: not org_a's own source
    post("p6", B, DAY, f"Interesting {NEWS}"),
    # an article title, but the link is another own page: commentary as far as the rules can tell
    post("p8", A, DAY, f"Org A launches its housing plan {ABOUT}"),
    post("p7", C, DAY, f"Why we oppose the bill {BILL}"),
]
LINKS = [
    ("p1", HOMES, "homes-for-all.example"),
    ("p2", HOMES, "homes-for-all.example"),
    ("p3", HOMES, "homes-for-all.example"),
    ("p4", PLAN, "org-a.example"),
    ("p5", BILL, "org-b.example"),
    ("p6", NEWS, "news.example"),
    ("p8", ABOUT, "org-a.example"),
    ("p7", BILL, "org-b.example"),
]


def build(articles: list[dict[str, Any]] | None, **inputs: Any) -> duckdb.DuckDBPyConnection:
    con = catalog.connect()
    load_inputs(con, **inputs)
    if articles is not None:
        con.register("_articles", pa.Table.from_pylist(articles, schema=schema.ORG_ARTICLES))
        con.execute("CREATE TABLE org_articles AS SELECT * FROM _articles")
        con.unregister("_articles")
    run_models(con, CONFIG)
    return con


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    return build(ARTICLES, posts=POSTS, links=LINKS)


def shares(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, ...]]:
    return {
        r["group_id"]: (r["links"], r["own_links"], r["own_shares"], r["uncritical_shares"])
        for r in rows(con, "SELECT * FROM echo_chamber WHERE period = 'all'")
    }


def test_staging_keeps_one_row_per_group_and_url_of_configured_groups(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(con, "SELECT group_id, url, title, title_key, feed_url FROM stg_org_articles ORDER BY group_id, url")
    assert got == [
        {"group_id": "org_a", "url": HOMES, "title": "Homes for all: the plan", "title_key": "homes for all: the plan",
         "feed_url": "https://feeds.example/f.xml"},
        {"group_id": "org_a", "url": PLAN, "title": "Org A launches its housing plan",
         "title_key": "org a launches its housing plan", "feed_url": "https://feeds.example/f.xml"},
        {"group_id": "org_b", "url": BILL, "title": "Why we oppose the bill", "title_key": "why we oppose the bill",
         "feed_url": "https://feeds.example/f.xml"},
    ]


def test_article_links_are_own_links_whatever_their_domain(con: duckdb.DuckDBPyConnection) -> None:
    got = {(r["post_id"], r["group_id"]): r["is_article"]
           for r in rows(con, "SELECT post_id, group_id, is_article FROM int_own_links")}
    assert got == {
        ("p1", "org_a"): True, ("p2", "org_a"): True, ("p3", "org_a"): True,
        ("p4", "org_a"): True,  # both an own domain and an article
        ("p8", "org_a"): False,  # own domain only
        # BILL is org_b's article: own for org_b (every poster's link is listed; the mart keeps members)
        ("p5", "org_b"): True, ("p7", "org_b"): True,
    }


def test_uncritical_own_shares_count_article_titles(con: duckdb.DuckDBPyConnection) -> None:
    # org_a members posted p1-p6 and p8: 7 links; own: p1 p2 p3 (article), p4 (both), p8 (domain) = 5;
    # own shares are those 5 posts; uncritical: p1 (empty), p2 and p4 (the article's title) = 3.
    # org_b: carol's p7 links org_b's article with its title: 1 link, own, shared, uncritical.
    assert shares(con) == {"org_a": (7, 5, 5, 3), "org_b": (1, 1, 1, 1)}
    org_a = rows(con, "SELECT * FROM echo_chamber WHERE group_id = 'org_a' AND period = '2026-03'")[0]
    assert org_a["own_source_share"] == pytest.approx(5 / 7)
    assert org_a["uncritical_share_rate"] == pytest.approx(3 / 5)


def test_without_articles_only_the_domain_rule_applies() -> None:
    # the same posts and no feed collected: own links are p4 and p8 (org-a.example); neither text is
    # empty or a link card title, so no uncritical share; org_b has no own source at all
    for articles in ([], None):  # an empty org_articles, or none at all (a hand-loaded connection)
        con = build(articles, posts=POSTS, links=LINKS)
        assert shares(con) == {"org_a": (7, 2, 2, 0), "org_b": (1, 0, 0, 0)}


def test_collected_articles_join_member_links_after_normalisation(tmp_path: Path) -> None:
    """Connector -> mapping -> models: a member shares the feed's article with tracking tail and www."""
    feed = Path(__file__).resolve().parents[2] / "connectors" / "rss" / "fixtures" / "rss2_feed.xml"
    source = Source(name="orga-feed", platform="rss", options={"group": "org_a"})
    records = [r for page in RssConnector().read_export(feed, source) for r in page.records]
    articles = map_records("rss", records)["org_articles"].to_pylist()
    shared = "https://www.org-a.example/news/rally-guide?utm_source=mastodon&fbclid=x"
    posts = [post("q1", A, DAY, f"RALLY & march: what you need to know {shared}")]
    links = [("q1", normalise_url_one(shared), "org-a.example")]

    con = build(articles, posts=posts, links=links)

    assert shares(con)["org_a"] == (1, 1, 1, 1)


def test_imported_feed_reaches_the_model_through_the_lake(tmp_path: Path) -> None:
    """import -> raw Parquet -> normalise (org_articles Parquet) -> the catalog's view -> model."""
    feed = Path(__file__).resolve().parents[2] / "connectors" / "rss" / "fixtures" / "rss2_feed.xml"
    cfg = Config.model_validate({
        "warehouse_dir": str(tmp_path / "data"),
        "groups": [{"id": "org_a", "name": "Org A"}],
        "sources": [{"name": "orga-feed", "platform": "rss", "files": [str(feed)], "options": {"group": "org_a"}}],
    })
    import_export(cfg, "rss", [feed], "orga-feed")
    assert normalise(cfg)["org_articles"] == 3
    assert transform(cfg)["stg_org_articles"] == 3
