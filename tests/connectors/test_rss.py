"""The RSS/Atom connector against a fake web server on a real loopback socket, its import of saved
feed files, and its mapping to `org_articles` through `dissentry.normalise.map_records`.

The fake server answers conditional GETs as RFC 9110 (section 13.1) describes: `If-None-Match`
against the ETag it sent, `If-Modified-Since` against its Last-Modified date, 304 with no body when
nothing changed. The bodies are the fixtures in connectors/rss/fixtures (RSS 2.0 and Atom shapes).
"""

from __future__ import annotations

import email.utils
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from dissentry.config import Source
from dissentry.connectors.base import ImportFormatError, Page, RawRecord
from dissentry.connectors.http import BudgetExhausted, HttpClient
from dissentry.connectors.registry import get_connector
from dissentry.connectors.rss.connector import RssConnector, feed_rate_limit
from dissentry.normalise import map_records, normalise_url_one
from tests.support.fake_time import FakeTime
from tests.support.local_server import Reply, Request, RunningServer, serve

FIXTURES = Path(__file__).resolve().parents[2] / "connectors" / "rss" / "fixtures"
RSS = (FIXTURES / "rss2_feed.xml").read_bytes()
ATOM = (FIXTURES / "atom_feed.xml").read_bytes()
MALFORMED = (FIXTURES / "malformed.xml").read_bytes()
ETAG = '"rss-v1"'
LAST_MODIFIED = "Fri, 06 Mar 2026 10:15:00 GMT"

connector = RssConnector()


@dataclass
class Feed:
    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class FakeSite:
    """Feeds by path, answering conditional GETs; `hooks` may answer a request instead."""

    feeds: dict[str, Feed] = field(default_factory=dict)
    hooks: list[Callable[[Request], Reply | None]] = field(default_factory=list)

    def handle(self, request: Request) -> Reply:
        for hook in self.hooks:
            reply = hook(request)
            if reply is not None:
                return reply
        feed = self.feeds.get(request.path)
        if feed is None:
            return Reply(404, "<html><body>Not Found</body></html>", {"Content-Type": "text/html"})
        headers = {"Content-Type": feed.content_type}
        if feed.etag:
            headers["ETag"] = feed.etag
        if feed.last_modified:
            headers["Last-Modified"] = feed.last_modified
        if_none_match = request.headers.get("If-None-Match")
        if_modified_since = request.headers.get("If-Modified-Since")
        # RFC 9110 13.2.2: If-None-Match wins; If-Modified-Since counts only without it
        if if_none_match is not None:
            unchanged = bool(feed.etag) and if_none_match == feed.etag
        else:
            unchanged = (
                if_modified_since is not None
                and feed.last_modified is not None
                and email.utils.parsedate_to_datetime(feed.last_modified)
                <= email.utils.parsedate_to_datetime(if_modified_since)
            )
        return Reply(304, None, headers) if unchanged else Reply(200, feed.body, headers)


@pytest.fixture
def site() -> Iterator[tuple[FakeSite, RunningServer, FakeTime]]:
    fake = FakeSite(
        {
            "/org-a/feed.xml": Feed(RSS, etag=ETAG),
            "/org-b/atom.xml": Feed(ATOM, "application/atom+xml", last_modified=LAST_MODIFIED),
        }
    )
    with serve(fake.handle) as server:
        yield fake, server, FakeTime()


def source(*feeds: str, group: str = "org_a") -> Source:
    return Source(name="org-a-feeds", platform="rss", options={"group": group, "feeds": list(feeds)})


def client(time: FakeTime, **options: Any) -> HttpClient:
    return HttpClient("rss", sleep=time.sleep, clock=time.clock,
                      **(connector.http_client_options(source("https://x.example/f")) | options))


def collect(src: Source, cursor: dict[str, Any] | None, time: FakeTime) -> list[Page]:
    with client(time) as http:
        return list(connector.collect(src, cursor, http))


def records(pages: list[Page]) -> list[RawRecord]:
    return [r for p in pages for r in p.records]


# ---- API collection ---------------------------------------------------------------------------------


def test_rss_and_atom_entries_in_the_spec_shape(site: Any) -> None:
    _, server, time = site
    rss_url, atom_url = f"{server.url}/org-a/feed.xml", f"{server.url}/org-b/atom.xml"
    pages = collect(source(rss_url, atom_url), None, time)

    got = records(pages)
    assert [(r.record_type, r.record_id, r.origin, r.locator) for r in got] == [
        ("entry", "org-a-news-1041", rss_url, rss_url),
        ("entry", "org-a-news-1042", rss_url, rss_url),
        # an RSS guid without isPermaLink="false" is the article's address: the id and the link
        ("entry", "https://org-a.example/news/budget-statement", rss_url, rss_url),
        ("entry", "tag:org-b.example,2026:journal.2041", atom_url, atom_url),
        ("entry", "tag:org-b.example,2026:journal.2040", atom_url, atom_url),
    ]
    assert json.loads(got[0].payload) == {
        "group": "org_a",
        "feed_url": rss_url,
        "entry": {
            "id": "org-a-news-1041",
            "link": "https://www.org-a.example/news/housing-plan?utm_source=rss&utm_medium=feed",
            "title": "Org A launches its housing plan",
            "published": "2026-03-03T08:30:00Z",  # 09:30 +0100
            "updated": None,  # RSS items carry no update date
            "summary": "<p>Our plan for <b>affordable</b> homes.</p>",
        },
    }
    assert json.loads(got[1].payload)["entry"]["title"] == "Rally & march: what you need to know"
    assert json.loads(got[3].payload)["entry"] == {
        "id": "tag:org-b.example,2026:journal.2041",
        "link": "https://org-b.example/journal/2026/03/oppose-the-bill",
        "title": "Why we oppose the bill",  # type="html": the markup is not part of the title
        "published": "2026-03-06T06:00:00Z",  # 08:00 +02:00
        "updated": "2026-03-06T10:15:00Z",
        "summary": "The bill would cut local services.",
    }
    # a relative Atom link resolves against where the feed was fetched from
    assert json.loads(got[4].payload)["entry"]["link"] == f"{server.url}/journal/2026/03/conference"
    assert json.loads(got[4].payload)["entry"]["published"] is None
    assert all(not p.rejects for p in pages)
    assert [r.headers["Accept"] for r in server.requests] == [
        "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
    ] * 2


def test_second_run_sends_validators_and_a_304_yields_nothing(site: Any) -> None:
    _, server, time = site
    rss_url, atom_url = f"{server.url}/org-a/feed.xml", f"{server.url}/org-b/atom.xml"
    first = collect(source(rss_url, atom_url), None, time)
    cursor = first[-1].cursor
    assert cursor is not None
    assert cursor["feeds"][rss_url]["etag"] == ETAG
    assert cursor["feeds"][atom_url]["last_modified"] == LAST_MODIFIED
    assert json.loads(json.dumps(cursor)) == cursor

    second = collect(source(rss_url, atom_url), cursor, time)

    assert records(second) == [] and all(not p.rejects for p in second)
    rss_request, atom_request = server.requests[2:]
    assert rss_request.headers.get("If-None-Match") == ETAG
    assert "If-Modified-Since" not in rss_request.headers  # the RSS feed sent no Last-Modified
    assert atom_request.headers.get("If-Modified-Since") == LAST_MODIFIED
    assert "If-None-Match" not in atom_request.headers
    assert second[-1].cursor == cursor


def test_changed_feed_is_fetched_again_with_its_new_etag(site: Any) -> None:
    fake, server, time = site
    rss_url = f"{server.url}/org-a/feed.xml"
    cursor = collect(source(rss_url), None, time)[-1].cursor
    extra = b"""<item><title>New</title><link>https://org-a.example/news/new</link>
      <guid isPermaLink="false">org-a-news-1043</guid></item>
    </channel>"""
    fake.feeds["/org-a/feed.xml"] = Feed(RSS.replace(b"</channel>", extra), etag='"rss-v2"')

    pages = collect(source(rss_url), cursor, time)

    assert "org-a-news-1043" in [r.record_id for r in records(pages)]
    assert pages[-1].cursor["feeds"][rss_url]["etag"] == '"rss-v2"'


def test_a_server_without_validators_sending_the_same_bytes_yields_nothing_new(site: Any) -> None:
    fake, server, time = site
    fake.feeds["/plain.xml"] = Feed(RSS)
    url = f"{server.url}/plain.xml"
    cursor = collect(source(url), None, time)[-1].cursor

    again = collect(source(url), cursor, time)

    assert records(again) == []
    assert len(server.requests) == 2  # still asked: the bytes are compared, not assumed


def test_5xx_is_retried_then_the_feed_lands(site: Any) -> None:
    fake, server, time = site
    failures: list[Request] = []

    def unavailable_once(request: Request) -> Reply | None:
        if not failures:
            failures.append(request)
            return Reply(503, "busy", {"Content-Type": "text/plain"})
        return None

    fake.hooks.append(unavailable_once)
    with client(time) as http:
        pages = list(connector.collect(source(f"{server.url}/org-a/feed.xml"), None, http))
        retries = http.retries

    assert retries == 1 and len(time.sleeps) == 1
    assert len(server.requests) == 2
    assert len(records(pages)) == 3


def test_waits_when_the_server_says_no_requests_remain(site: Any) -> None:
    fake, server, time = site
    answered: list[Request] = []

    def spent(request: Request) -> Reply | None:
        if answered:
            return None
        answered.append(request)
        reply = fake.feeds["/org-a/feed.xml"]
        return Reply(200, reply.body, {"Content-Type": reply.content_type, "X-RateLimit-Remaining": "0",
                                       "X-RateLimit-Reset": str(int(time.now + 30))})

    fake.hooks.append(spent)
    pages = collect(source(f"{server.url}/org-a/feed.xml", f"{server.url}/org-b/atom.xml"), None, time)

    assert len(time.sleeps) == 1 and 30 <= time.sleeps[0] <= 31
    assert len(records(pages)) == 5


def test_rate_limit_parser_reads_epoch_and_delta_resets() -> None:
    now = 1_800_000_000.0
    epoch = feed_rate_limit(httpx.Headers({"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "1800000060"}), now)
    delta = feed_rate_limit(httpx.Headers({"RateLimit-Remaining": "0", "RateLimit-Reset": "42"}), now)
    none = feed_rate_limit(httpx.Headers({}), now)
    assert (epoch.remaining, epoch.reset_at) == (3, 1_800_000_060)
    assert (delta.remaining, delta.reset_at) == (0, now + 42)
    assert (none.remaining, none.reset_at) == (None, None)


def test_malformed_feed_is_a_reject_naming_it_and_other_feeds_still_land(site: Any) -> None:
    fake, server, time = site
    fake.feeds["/broken.xml"] = Feed(MALFORMED, etag='"broken"')
    broken = f"{server.url}/broken.xml"

    pages = collect(source(broken, f"{server.url}/org-a/feed.xml"), None, time)

    rejects = [j for p in pages for j in p.rejects]
    assert len(rejects) == 1
    assert rejects[0].locator == broken
    assert broken in rejects[0].reason and "not a readable RSS or Atom feed" in rejects[0].reason
    assert rejects[0].content.startswith('<?xml version="1.0"')
    assert len(records(pages)) == 3
    # no validators kept for the broken feed: the next run fetches it in full again
    assert broken not in pages[-1].cursor["feeds"]


def test_missing_feed_and_html_page_are_rejects(site: Any) -> None:
    fake, server, time = site
    fake.feeds["/page.html"] = Feed(b"<html><body><p>Welcome</p></body></html>", "text/html")
    missing, page = f"{server.url}/gone.xml", f"{server.url}/page.html"

    pages = collect(source(missing, page, f"{server.url}/org-a/feed.xml"), None, time)

    rejects = {j.locator: j.reason for p in pages for j in p.rejects}
    assert set(rejects) == {missing, page}
    assert "404" in rejects[missing]
    assert "not an RSS or Atom feed" in rejects[page]
    assert len(records(pages)) == 3


def test_a_body_that_is_a_url_is_never_fetched_by_the_parser(site: Any) -> None:
    fake, server, time = site
    fake.feeds["/pointer.xml"] = Feed(f"{server.url}/org-a/feed.xml".encode(), "text/plain")

    pages = collect(source(f"{server.url}/pointer.xml"), None, time)

    assert records(pages) == [] and len([j for p in pages for j in p.rejects]) == 1
    assert [r.path for r in server.requests] == ["/pointer.xml"]


def test_feed_paths_are_fetched_from_the_instance(site: Any) -> None:
    _, server, time = site
    src = Source(name="site", platform="rss", instance=server.url + "/",
                 options={"group": "org_a", "feeds": ["/org-a/feed.xml"]})

    pages = collect(src, None, time)

    assert {r.origin for r in records(pages)} == {f"{server.url}/org-a/feed.xml"}
    assert list(pages[-1].cursor["feeds"]) == [f"{server.url}/org-a/feed.xml"]


def test_budget_exhaustion_stops_the_run(site: Any) -> None:
    _, server, time = site
    with client(time, max_requests=1) as http, pytest.raises(BudgetExhausted):
        list(connector.collect(source(f"{server.url}/org-a/feed.xml", f"{server.url}/org-b/atom.xml"), None, http))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"feeds": ["https://org-a.example/feed.xml"]}, "group"),
        ({"group": "org_a", "feeds": ["ftp://org-a.example/feed.xml"]}, "not an http(s) URL"),
        ({"group": "Org A!", "feeds": ["https://org-a.example/feed.xml"]}, "group"),
        ({"group": "org_a", "feed": ["https://org-a.example/feed.xml"]}, "feed"),
        ({"group": "org_a"}, "options.feeds"),
        ({"group": "org_a", "feeds": ["/feed.xml"]}, "needs `instance`"),
    ],
)
def test_invalid_options_fail_with_a_clear_message(options: dict[str, Any], message: str) -> None:
    src = Source(name="bad", platform="rss", options=options)
    with HttpClient("rss") as http, pytest.raises(ValueError, match="source 'bad'") as caught:
        list(connector.collect(src, None, http))
    assert message in str(caught.value)


# ---- import of saved files --------------------------------------------------------------------------


def test_import_of_a_saved_feed_file(tmp_path: Path) -> None:
    path = tmp_path / "org-a.rss"
    path.write_bytes(RSS)

    pages = list(connector.read_export(path, source()))

    got = records(pages)
    assert [r.record_id for r in got] == ["org-a-news-1041", "org-a-news-1042",
                                          "https://org-a.example/news/budget-statement"]
    assert [r.locator for r in got] == [f"{path}[0]", f"{path}[1]", f"{path}[2]"]
    # the feed's own atom:link rel="self" is its origin
    assert {r.origin for r in got} == {"https://org-a.example/feed.xml"}
    assert {json.loads(r.payload)["group"] for r in got} == {"org_a"}


def test_import_resolves_relative_links_against_the_feeds_self_link(tmp_path: Path) -> None:
    path = tmp_path / "journal.atom"
    path.write_bytes(ATOM)

    got = records(list(connector.read_export(path, source(group="org_b"))))

    assert json.loads(got[1].payload)["entry"]["link"] == "https://org-b.example/journal/2026/03/conference"


def test_import_of_a_zip_reads_feed_members(tmp_path: Path) -> None:
    path = tmp_path / "feeds.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("feeds/org-a.xml", RSS)
        archive.writestr("feeds/journal.atom", ATOM)
        archive.writestr("feeds/broken.xml", MALFORMED)
        archive.writestr("readme.txt", "not a feed")
        archive.writestr("../escape.xml", RSS)

    pages = list(connector.read_export(path, source()))

    got = records(pages)
    assert len(got) == 5
    assert got[0].locator == f"{path}!feeds/org-a.xml[0]"
    rejects = {j.locator: j.reason for p in pages for j in p.rejects}
    assert set(rejects) == {f"{path}!feeds/broken.xml", f"{path}!../escape.xml"}
    assert rejects[f"{path}!feeds/broken.xml"].startswith("not a readable RSS or Atom feed")
    assert "unsafe path" in rejects[f"{path}!../escape.xml"]


def test_import_of_a_folder_reads_its_feed_files(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_bytes(RSS)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.atom").write_bytes(ATOM)
    (tmp_path / "notes.txt").write_text("not a feed", encoding="utf-8")

    got = records(list(connector.read_export(tmp_path, source())))

    assert [r.locator for r in got] == [f"{tmp_path / 'a.xml'}[{i}]" for i in range(3)] + [
        f"{tmp_path / 'sub' / 'b.atom'}[{i}]" for i in range(2)
    ]


def test_import_without_a_source_explains_the_group_is_needed(tmp_path: Path) -> None:
    path = tmp_path / "org-a.xml"
    path.write_bytes(RSS)
    with pytest.raises(ImportFormatError, match="group") as caught:
        list(connector.read_export(path, None))
    assert str(path) in str(caught.value)


def test_import_of_another_platforms_export_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "statuses.json"
    path.write_text('[{"id": "1", "content": "<p>hi</p>"}]', encoding="utf-8")
    with pytest.raises(ImportFormatError, match="not an RSS or Atom feed") as caught:
        list(connector.read_export(path, source()))
    assert str(path) in str(caught.value)


def test_import_of_a_malformed_feed_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_bytes(MALFORMED)
    with pytest.raises(ImportFormatError, match="not a readable RSS or Atom feed") as caught:
        list(connector.read_export(path, source()))
    assert str(path) in str(caught.value)


def test_import_rejects_an_entry_without_id_or_link_and_keeps_the_others(tmp_path: Path) -> None:
    path = tmp_path / "org-a.xml"
    path.write_bytes(RSS.replace(b"<item>", b"<item><description>orphan</description></item><item>", 1))

    pages = list(connector.read_export(path, source()))

    rejects = [j for p in pages for j in p.rejects]
    assert [j.locator for j in rejects] == [f"{path}[0]"]
    assert "neither id nor link" in rejects[0].reason
    assert len(records(pages)) == 3


# ---- mapping ----------------------------------------------------------------------------------------


def test_mapping_makes_org_articles_whose_urls_join_post_links(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_bytes(RSS)
    (tmp_path / "b.atom").write_bytes(ATOM)
    got = records(list(connector.read_export(tmp_path / "a.xml", source())))
    got += records(list(connector.read_export(tmp_path / "b.atom", source(group="org_b"))))

    tables = map_records("rss", got, source="org-feeds")

    assert tables["posts"].num_rows == 0
    rows = sorted(tables["org_articles"].to_pylist(), key=lambda r: r["url"])
    fetched = datetime(2026, 1, 1, tzinfo=UTC)  # map_records' fixed fetch time
    assert [(r["group_id"], r["url"], r["title"], r["published_at"], r["feed_url"]) for r in rows] == [
        ("org_a", "https://org-a.example/news/budget-statement", "Statement on the budget",
         datetime(2026, 3, 5, 17, 45, tzinfo=UTC), "https://org-a.example/feed.xml"),
        # www. and the utm_ parameters go, as they do from post links
        ("org_a", "https://org-a.example/news/housing-plan", "Org A launches its housing plan",
         datetime(2026, 3, 3, 8, 30, tzinfo=UTC), "https://org-a.example/feed.xml"),
        ("org_a", "https://org-a.example/news/rally-guide", "Rally & march: what you need to know",
         datetime(2026, 3, 4, 12, 0, tzinfo=UTC), "https://org-a.example/feed.xml"),
        # no <published>: the entry's update date stands in
        ("org_b", "https://org-b.example/journal/2026/03/conference", "Spring conference report",
         datetime(2026, 3, 2, 16, 0, tzinfo=UTC), "https://org-b.example/journal/atom.xml"),
        ("org_b", "https://org-b.example/journal/2026/03/oppose-the-bill", "Why we oppose the bill",
         datetime(2026, 3, 6, 6, 0, tzinfo=UTC), "https://org-b.example/journal/atom.xml"),
    ]
    assert {(r["source"], r["fetched_at"]) for r in rows} == {("org-feeds", fetched)}
    shared = "https://WWW.Org-A.example/news/housing-plan?utm_campaign=members#top"
    assert normalise_url_one(shared) == rows[1]["url"]


def test_mapping_takes_a_url_id_when_the_entry_has_no_link() -> None:
    payload = {"group": "org_a", "feed_url": "https://org-a.example/feed.xml",
               "entry": {"id": "https://org-a.example/p/1", "link": None, "title": "T", "published": None,
                         "updated": None, "summary": None}}
    not_a_url = {**payload, "entry": {**payload["entry"], "id": "urn:uuid:1", "link": None}}
    tables = map_records("rss", [
        RawRecord.from_json("entry", "https://org-a.example/p/1", payload, payload["feed_url"], "f[0]"),
        RawRecord.from_json("entry", "urn:uuid:1", not_a_url, payload["feed_url"], "f[1]"),
    ])
    assert tables["org_articles"].column("url").to_pylist() == ["https://org-a.example/p/1"]


def test_registry_and_collected_records_map(site: Any) -> None:
    _, server, time = site
    assert isinstance(get_connector("rss"), RssConnector)
    got = records(collect(source(f"{server.url}/org-a/feed.xml"), None, time))
    urls = sorted(map_records("rss", got)["org_articles"].column("url").to_pylist())
    assert urls == ["https://org-a.example/news/budget-statement", "https://org-a.example/news/housing-plan",
                    "https://org-a.example/news/rally-guide"]


# ---- real feeds: localised dates, tracking parameters -------------------------------------------
PT_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Org A</title><link>https://org-a.example/</link>{language}
<item><title>Um</title><link>https://org-a.example/1</link><pubDate>Seg, 24 Set 2018 19:42:40 -0300</pubDate></item>
<item><title>Dois</title><link>https://org-a.example/2</link><pubDate>Ter, 02 Out 2018 08:00:00 +0000</pubDate></item>
<item><title>Três</title><link>https://org-a.example/3</link><pubDate>Qui, 1 Fev 2018 23:30:00 GMT</pubDate></item>
<item><title>Quatro</title><link>https://org-a.example/4</link><pubDate>o dia de são nunca</pubDate></item>
</channel></rss>"""


@pytest.mark.parametrize("language", ["<language>pt-BR</language>", ""])
def test_portuguese_pub_dates_are_read_and_an_unreadable_one_is_counted(
        tmp_path: Path, language: str, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "pt.xml"
    path.write_text(PT_FEED.format(language=language), encoding="utf-8")
    with caplog.at_level("WARNING", logger="dissentry.connectors.rss.connector"):
        got = records(list(connector.read_export(path, source())))
    published = {r.record_id: json.loads(r.payload)["entry"]["published"] for r in got}
    # -0300 is three hours behind UTC; feedparser alone reads none of these
    assert published == {"https://org-a.example/1": "2018-09-24T22:42:40Z",
                         "https://org-a.example/2": "2018-10-02T08:00:00Z",
                         "https://org-a.example/3": "2018-02-01T23:30:00Z",
                         "https://org-a.example/4": None}
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "1 of 4 entries" in warnings[0] and "são nunca" in warnings[0]
    rows = map_records("rss", got)["org_articles"].to_pylist()
    assert sorted((r["url"], r["published_at"]) for r in rows)[0] == (
        "https://org-a.example/1", datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC))


def test_a_month_name_two_languages_read_differently_needs_the_feeds_language() -> None:
    from dissentry.connectors.rss.connector import localised_date

    # `lip` is July in Polish and June in Croatian: only the feed's <language> can tell
    assert localised_date("3 lip 2018 10:00 +0000") is None
    assert localised_date("3 lip 2018 10:00 +0000", "pl") == "2018-07-03T10:00:00Z"
    assert localised_date("3 lip 2018 10:00 +0000", "hr") == "2018-06-03T10:00:00Z"
    assert localised_date("lun., 3 déc. 2018 08:00:00 +0100") == "2018-12-03T07:00:00Z"


@pytest.mark.parametrize(("url", "expected"), [
    # heise's feeds tag every link with wt_mc (Webtrekk)
    ("https://www.heise.de/news/Ein-Artikel-123.html?wt_mc=rss.red.ho.ho.atom.beitrag.beitrag",
     "https://heise.de/news/Ein-Artikel-123.html"),
    ("https://org-a.example/a?mtm_campaign=feed&pk_kwd=x&_ga=2.1&ttclid=9&seite=2",
     "https://org-a.example/a?seite=2"),
    # names that also pick a page stay: these are two articles, not one
    ("https://forum.example/viewtopic.php?pid=12&next=3&ref=v2", "https://forum.example/viewtopic.php?pid=12&next=3&ref=v2"),
])
def test_tracking_parameters_of_real_feeds_are_dropped_and_page_parameters_kept(url: str, expected: str) -> None:
    assert normalise_url_one(url) == expected
