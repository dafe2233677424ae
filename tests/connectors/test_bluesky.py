"""The Bluesky connector against a fake AppView/PDS on a real loopback socket, its imports, and its mapping.

The fake serves the fixture shapes (connectors/bluesky/fixtures, documented lexicon shapes) with the
headers Bluesky's xrpc-server sends (RateLimit-Limit/-Remaining/-Reset in epoch seconds/-Policy), and
pages getAuthorFeed the way the AppView does: newest first by sortAt, with an opaque cursor.
"""

from __future__ import annotations

import copy
import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from dissentry.config import Source
from dissentry.connectors.base import ImportFormatError, Page, RawRecord, Reject
from dissentry.connectors.bluesky.connector import (
    HANDLE_ENV,
    PASSWORD_ENV,
    PDS_ENV,
    PUBLIC_APPVIEW,
    BlueskyAuthError,
    BlueskyConnector,
    MissingCredentialsError,
    bluesky_rate_limit,
)
from dissentry.connectors.http import Documented, HttpClient, HttpError
from dissentry.connectors.registry import get_connector
from dissentry.normalise import map_records
from tests.support.fake_time import FakeTime
from tests.support.local_server import Reply, Request, RunningServer, serve

FIXTURES = Path(__file__).resolve().parents[2] / "connectors" / "bluesky" / "fixtures"
NOW = 1_750_000_000.0  # the injected clock: rate-limit resets are computed against it
PASSWORD = "hunter2-app-pass-9xq7"
ALICE = "did:plc:aliceaaaaaaaaaaaaaaaaaaa"
BOB = "did:plc:bobbbbbbbbbbbbbbbbbbbbbb"
CAROL = "did:plc:carolccccccccccccccccccc"
ORGA = "did:plc:orgaaaaaaaaaaaaaaaaaaaaa"
FEED_KEY = "feed:alice.bsky.social"

connector = BlueskyConnector()


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def fixture_feed() -> list[dict[str, Any]]:
    return load("getAuthorFeed_page1.json")["feed"] + load("getAuthorFeed_page2.json")["feed"]


def fake_sort_at(item: dict[str, Any]) -> str:
    """The AppView's sortAt, on the fixtures' uniform timestamp format (so strings compare)."""
    if "reason" in item:
        return item["reason"]["indexedAt"]
    post = item["post"]
    return min(post["indexedAt"], post["record"]["createdAt"])


def new_item(rkey: str, when: str) -> dict[str, Any]:
    """A fresh plain post by alice, built from a fixture item."""
    item = copy.deepcopy(load("getAuthorFeed_page2.json")["feed"][0])
    item["post"]["uri"] = f"at://{ALICE}/app.bsky.feed.post/{rkey}"
    item["post"]["indexedAt"] = when
    item["post"]["record"]["createdAt"] = when
    return item


def rate_headers(remaining: int = 2999, reset: float = NOW + 300) -> dict[str, str]:
    return {
        "RateLimit-Limit": "3000",
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(int(reset)),
        "RateLimit-Policy": "3000;w=300",
    }


def xrpc_error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"error": error, "message": message}, headers={**rate_headers(), **(headers or {})})


class FakeBluesky:
    """AppView and PDS in one handler. `faults[(method, nth call)]` replaces that answer once."""

    def __init__(self, feed: list[dict[str, Any]], page_size: int = 2) -> None:
        self.feed = feed
        self.page_size = page_size
        self.faults: dict[tuple[str, int], Reply] = {}
        self.calls: Counter[str] = Counter()
        self.session = load("createSession.json")

    def __call__(self, request: Request) -> Reply:
        method = request.path.rsplit("/", 1)[-1]
        self.calls[method] += 1
        fault = self.faults.pop((method, self.calls[method]), None)
        if fault is not None:
            return fault
        if method == "app.bsky.actor.getProfile":
            return Reply(body=load("getProfile.json"), headers=rate_headers())
        if method == "app.bsky.feed.getAuthorFeed":
            return self._author_feed(request)
        if method == "com.atproto.server.createSession":
            body = json.loads(request.body)
            if body != {"identifier": "collector.bsky.social", "password": PASSWORD}:
                return xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
            return Reply(body=self.session, headers=rate_headers())
        if method == "app.bsky.feed.searchPosts":
            if request.headers.get("Authorization") != f"Bearer {self.session['accessJwt']}":
                return xrpc_error(403, "Forbidden", "Forbidden")
            page = "searchPosts_page2.json" if request.param("cursor") == "25" else "searchPosts_page1.json"
            return Reply(body=load(page), headers=rate_headers())
        return xrpc_error(501, "MethodNotImplemented", "Method Not Implemented")

    def _author_feed(self, request: Request) -> Reply:
        before = request.param("cursor")
        items = [i for i in self.feed if before is None or fake_sort_at(i) < before]
        page = items[: self.page_size]
        body: dict[str, Any] = {"feed": page}
        if len(items) > self.page_size:
            body["cursor"] = fake_sort_at(page[-1])
        return Reply(body=body, headers=rate_headers())


def client(fake_time: FakeTime, source: Source) -> HttpClient:
    return HttpClient(
        "bluesky", sleep=fake_time.sleep, clock=fake_time.clock, max_attempts=3,
        **connector.http_client_options(source),
    )


def account_source(server: RunningServer, **extra: Any) -> Source:
    return Source(name="bsky-test", platform="bluesky", instance=server.url, accounts=["@alice.bsky.social"], **extra)


def collect(source: Source, cursor: dict[str, Any] | None, fake_time: FakeTime | None = None) -> list[Page]:
    fake_time = fake_time or FakeTime(NOW)
    with client(fake_time, source) as http:
        pages = list(connector.collect(source, cursor, http))
    for page in pages:  # every cursor must survive the lake's JSON round trip
        assert json.loads(json.dumps(page.cursor)) == page.cursor
    return pages


def records(pages: list[Page], record_type: str | None = None) -> list[RawRecord]:
    return [r for p in pages for r in p.records if record_type is None or r.record_type == record_type]


def requests_for(server: RunningServer, method: str) -> list[Request]:
    return [r for r in server.requests if r.path.endswith("/" + method)]


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (HANDLE_ENV, PASSWORD_ENV, PDS_ENV):
        monkeypatch.delenv(name, raising=False)


# ---- collection ---------------------------------------------------------------------------------
def test_registry_and_options() -> None:
    assert isinstance(get_connector("bluesky"), BlueskyConnector)
    assert connector.mapping_file.is_file()
    assert connector.http_client_options(Source(name="s", platform="bluesky", accounts=["a"])) == {
        "rate_limit_parser": bluesky_rate_limit, "documented_limit": Documented(3000, 300.0)
    }


def test_rate_limit_headers_are_epoch_seconds() -> None:
    limit = bluesky_rate_limit(httpx.Headers(rate_headers(remaining=5, reset=NOW + 42)), NOW)
    assert (limit.remaining, limit.reset_at) == (5.0, NOW + 42)
    # a small value is the IETF draft's delta-seconds form
    assert bluesky_rate_limit(httpx.Headers({"RateLimit-Reset": "30"}), NOW).reset_at == NOW + 30
    assert bluesky_rate_limit(httpx.Headers({}), NOW).remaining is None


def test_author_feed_pages_to_the_end_by_cursor() -> None:
    fake = FakeBluesky(fixture_feed(), page_size=2)
    with serve(fake) as server:
        pages = collect(account_source(server), None)
        feed_requests = requests_for(server, "app.bsky.feed.getAuthorFeed")

    assert [r.record_type for r in records(pages)] == ["profile"] + ["feed_item"] * 5
    assert records(pages, "profile")[0].record_id == ALICE
    assert [r.record_id for r in records(pages, "feed_item")] == [
        f"at://{ALICE}/app.bsky.feed.repost/3lkalicerp001",  # the repost reason's own uri
        f"at://{ALICE}/app.bsky.feed.post/3lkalicereply",
        f"at://{ALICE}/app.bsky.feed.post/3lkalicemix01",
        f"at://{ALICE}/app.bsky.feed.post/3lkalicequote",
        f"repost:{ALICE}:at://{BOB}/app.bsky.feed.post/3lkbobpost001",  # reason without uri
    ]
    assert all(r.origin == server.url for r in records(pages))
    # one Page per API page: profile + 3 feed pages
    assert len(pages) == 4
    assert [r.param("cursor") for r in feed_requests] == [None, "2025-03-09T18:30:00.000Z", "2025-03-07T07:00:00.000Z"]
    assert all(r.param("actor") == "alice.bsky.social" for r in feed_requests)
    assert all(r.param("limit") == "100" and r.param("filter") == "posts_with_replies" for r in feed_requests)
    assert feed_requests[1].path.startswith("/xrpc/")
    # the locator names the page it came from
    assert records(pages, "feed_item")[2].locator.endswith("cursor=2025-03-09T18%3A30%3A00.000Z")
    # paging mid-way leaves a pending cursor; the end commits the newest sortAt seen
    assert pages[1].cursor == {"targets": {FEED_KEY: {
        "newest": None, "pending": {"cursor": "2025-03-09T18:30:00.000Z", "run_newest": "2025-03-10T12:00:00.000000Z"}}}}
    assert pages[-1].cursor == {"targets": {FEED_KEY: {"newest": "2025-03-10T12:00:00.000000Z"}}}


def test_rate_limit_exhausted_waits_until_reset() -> None:
    fake = FakeBluesky(fixture_feed(), page_size=5)
    fake.faults[("app.bsky.actor.getProfile", 1)] = Reply(
        body=load("getProfile.json"), headers=rate_headers(remaining=0, reset=NOW + 30)
    )
    fake_time = FakeTime(NOW)
    with serve(fake) as server:
        pages = collect(account_source(server), None, fake_time)
    assert len(records(pages, "feed_item")) == 5
    assert len(fake_time.sleeps) == 1
    assert 30 <= fake_time.sleeps[0] <= 31  # until the epoch reset (plus the client's half-second margin)


def test_429_retry_after_is_honoured() -> None:
    fake = FakeBluesky(fixture_feed(), page_size=5)
    fake.faults[("app.bsky.feed.getAuthorFeed", 1)] = xrpc_error(
        429, "RateLimitExceeded", "Rate Limit Exceeded", {"Retry-After": "7"}
    )
    fake_time = FakeTime(NOW)
    with serve(fake) as server:
        pages = collect(account_source(server), None, fake_time)
        assert len(requests_for(server, "app.bsky.feed.getAuthorFeed")) == 2
    assert fake_time.sleeps == [7.0]
    assert len(records(pages, "feed_item")) == 5


def test_5xx_is_retried() -> None:
    fake = FakeBluesky(fixture_feed(), page_size=2)
    fake.faults[("app.bsky.feed.getAuthorFeed", 2)] = xrpc_error(502, "UpstreamFailure", "Upstream Failure")
    fake_time = FakeTime(NOW)
    with serve(fake) as server, client(fake_time, account_source(server)) as http:
        pages = list(connector.collect(account_source(server), None, http))
        assert http.retries == 1
        assert len(requests_for(server, "app.bsky.feed.getAuthorFeed")) == 4
    assert len(fake_time.sleeps) == 1
    assert len(records(pages, "feed_item")) == 5


def test_second_run_fetches_only_new_items() -> None:
    fake = FakeBluesky(fixture_feed(), page_size=3)
    with serve(fake) as server:
        first = collect(account_source(server), None)
        cursor = json.loads(json.dumps(first[-1].cursor))
        fake.feed = [new_item("3lnew0000002", "2025-03-12T09:00:00.000Z"),
                     new_item("3lnew0000001", "2025-03-11T09:00:00.000Z"), *fixture_feed()]
        before = len(requests_for(server, "app.bsky.feed.getAuthorFeed"))
        second = collect(account_source(server), cursor)
        feed_requests = requests_for(server, "app.bsky.feed.getAuthorFeed")[before:]

    assert [r.record_id for r in records(second, "feed_item")] == [
        f"at://{ALICE}/app.bsky.feed.post/3lnew0000002", f"at://{ALICE}/app.bsky.feed.post/3lnew0000001"
    ]
    assert len(feed_requests) == 1  # the first page already reached the committed newest item
    assert second[-1].cursor == {"targets": {FEED_KEY: {"newest": "2025-03-12T09:00:00.000000Z"}}}


def test_failure_midway_then_resume_loses_nothing() -> None:
    fake = FakeBluesky(fixture_feed(), page_size=2)
    fake.faults[("app.bsky.feed.getAuthorFeed", 2)] = xrpc_error(400, "InvalidRequest", "Something broke")
    seen: list[str] = []
    cursor: dict[str, Any] | None = None
    with serve(fake) as server:
        source = account_source(server)
        with client(FakeTime(NOW), source) as http, pytest.raises(HttpError, match="400"):
            for page in connector.collect(source, None, http):  # what the pipeline does: keep each page's cursor
                seen += [r.record_id for r in page.records if r.record_type == "feed_item"]
                cursor = page.cursor
        assert cursor is not None and "pending" in cursor["targets"][FEED_KEY]
        assert cursor["targets"][FEED_KEY]["newest"] is None  # nothing committed yet
        # a post arrives while the collector is down
        fake.feed = [new_item("3lnew0000003", "2025-03-13T09:00:00.000Z"), *fixture_feed()]
        second = collect(source, json.loads(json.dumps(cursor)))

    seen += [r.record_id for r in records(second, "feed_item")]
    expected = {f"at://{ALICE}/app.bsky.feed.post/3lnew0000003"} | {
        r.record_id for r in records(collect_fixture_feed(), "feed_item")
    }
    assert set(seen) == expected
    assert second[-1].cursor == {"targets": {FEED_KEY: {"newest": "2025-03-13T09:00:00.000000Z"}}}


def collect_fixture_feed() -> list[Page]:
    with serve(FakeBluesky(fixture_feed(), page_size=10)) as server:
        return collect(account_source(server), None)


def test_unknown_account_is_rejected_and_others_go_on() -> None:
    fake = FakeBluesky(fixture_feed(), page_size=5)
    fake.faults[("app.bsky.actor.getProfile", 1)] = xrpc_error(400, "InvalidRequest", "Profile not found")
    with serve(fake) as server:
        source = Source(name="s", platform="bluesky", instance=server.url, accounts=["ghost.bsky.social", "alice.bsky.social"])
        pages = collect(source, None)
    rejects = [r for p in pages for r in p.rejects]
    assert len(rejects) == 1 and "ghost.bsky.social" in rejects[0].reason
    assert "actor=ghost.bsky.social" in rejects[0].locator
    assert len(records(pages, "feed_item")) == 5


def test_search_without_credentials_is_a_clear_error(no_credentials: None) -> None:
    fake = FakeBluesky(fixture_feed())
    with serve(fake) as server:
        source = account_source(server, query="org a")
        with pytest.raises(MissingCredentialsError) as excinfo:
            collect(source, None)
        assert server.requests == []  # it fails before asking anything
    assert HANDLE_ENV in str(excinfo.value) and PASSWORD_ENV in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)  # the pipeline records it as a failed run


def test_search_with_session_sends_bearer_and_never_leaks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeBluesky(fixture_feed(), page_size=5)
    jwt = fake.session["accessJwt"]
    with serve(fake) as server:
        monkeypatch.setenv(HANDLE_ENV, "collector.bsky.social")
        monkeypatch.setenv("MY_BSKY_APP_PASSWORD", PASSWORD)
        monkeypatch.setenv(PDS_ENV, server.url)
        source = account_source(server, query="org a", token_env="MY_BSKY_APP_PASSWORD")
        pages = collect(source, None)
        order = [r.path.rsplit("/", 1)[-1] for r in server.requests]
        searches = requests_for(server, "app.bsky.feed.searchPosts")
        login = requests_for(server, "com.atproto.server.createSession")[0]
        public = requests_for(server, "app.bsky.actor.getProfile") + requests_for(server, "app.bsky.feed.getAuthorFeed")
        second = collect(source, pages[-1].cursor)
        since = requests_for(server, "app.bsky.feed.searchPosts")[len(searches)].param("since")

    assert order == ["app.bsky.actor.getProfile", "app.bsky.feed.getAuthorFeed",
                     "com.atproto.server.createSession", "app.bsky.feed.searchPosts", "app.bsky.feed.searchPosts"]
    assert login.method == "POST"
    assert json.loads(login.body) == {"identifier": "collector.bsky.social", "password": PASSWORD}
    assert all(r.headers.get("Authorization") == f"Bearer {jwt}" for r in searches)
    assert all("Authorization" not in r.headers for r in public)  # the token never goes to the AppView
    assert [(r.param("q"), r.param("sort"), r.param("limit"), r.param("cursor")) for r in searches] == [
        ("org a", "latest", "100", None), ("org a", "latest", "100", "25")]
    assert [r.record_id for r in records(pages, "post")] == [
        "at://did:plc:davedddddddddddddddddddd/app.bsky.feed.post/3lkdavepost01",
        "at://did:plc:erineeeeeeeeeeeeeeeeeeee/app.bsky.feed.post/3lkerinpost01",
        "at://did:plc:frankfffffffffffffffffff/app.bsky.feed.post/3lkfrankpost1",
    ]
    # incremental search: the next run asks only for posts since the newest sortAt it committed
    assert since == "2025-03-11T10:00:00.000000Z"
    assert records(second, "post") == []
    for page in pages + second:
        text = json.dumps(page.cursor) + "".join(r.payload + r.locator for r in page.records)
        text += "".join(r.locator + r.reason + r.content for r in page.rejects)
        assert PASSWORD not in text and jwt not in text


def test_wrong_app_password_error_names_the_variable_not_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(FakeBluesky(fixture_feed())) as server:
        monkeypatch.setenv(HANDLE_ENV, "collector.bsky.social")
        monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
        monkeypatch.setenv(PDS_ENV, server.url)
        with pytest.raises(BlueskyAuthError) as excinfo:
            collect(Source(name="s", platform="bluesky", instance=server.url, query="x"), None)
    message = str(excinfo.value)
    assert PASSWORD_ENV in message and "401" in message and "not-the-password" not in message


def test_expired_token_logs_in_again(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeBluesky(fixture_feed())
    fake.faults[("app.bsky.feed.searchPosts", 1)] = xrpc_error(400, "ExpiredToken", "Token has expired")
    with serve(fake) as server:
        monkeypatch.setenv(HANDLE_ENV, "collector.bsky.social")
        monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
        monkeypatch.setenv(PDS_ENV, server.url)
        pages = collect(Source(name="s", platform="bluesky", instance=server.url, hashtags=["#Democracy"]), None)
        assert len(requests_for(server, "com.atproto.server.createSession")) == 2
        assert requests_for(server, "app.bsky.feed.searchPosts")[0].param("q") == "#Democracy"
    assert len(records(pages, "post")) == 3


# ---- imports ------------------------------------------------------------------------------------
def read_all(path: Path, source: Source | None = None) -> tuple[list[RawRecord], list[Reject], list[Page]]:
    pages = list(connector.read_export(path, source))
    return [r for p in pages for r in p.records], [r for p in pages for r in p.rejects], pages


def write_jsonl(path: Path, values: list[Any]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as fh:
        for value in values:
            fh.write(json.dumps(value, ensure_ascii=False) + "\n")
    return path


def test_import_api_page_files() -> None:
    recs, rejects, _ = read_all(FIXTURES / "getAuthorFeed_page1.json")
    assert rejects == []
    assert [r.record_type for r in recs] == ["feed_item"] * 3
    assert recs[0].origin == PUBLIC_APPVIEW
    assert recs[1].locator == f"{FIXTURES / 'getAuthorFeed_page1.json'}:1.feed[1]"
    recs, _, _ = read_all(FIXTURES / "searchPosts_page1.json", Source(name="s", platform="bluesky",
                                                                       instance="https://appview.example", files=["x"]))
    assert [r.record_type for r in recs] == ["post", "post"] and recs[0].origin == "https://appview.example"
    recs, _, _ = read_all(FIXTURES / "getProfile.json")
    assert [(r.record_type, r.record_id) for r in recs] == [("profile", ALICE)]


@pytest.mark.parametrize("name", ["export.jsonl", "export.jsonl.gz"])
def test_import_jsonl_and_gzip(tmp_path: Path, name: str) -> None:
    values = [*fixture_feed(), load("getProfile.json"), load("searchPosts_page2.json")["posts"][0],
              load("searchPosts_page1.json"), fixture_feed()[:2]]
    recs, rejects, _ = read_all(write_jsonl(tmp_path / name, values))
    assert rejects == []
    assert Counter(r.record_type for r in recs) == {"feed_item": 7, "profile": 1, "post": 3}
    assert recs[0].payload == json.dumps(fixture_feed()[0], ensure_ascii=False, separators=(",", ":"))
    path = tmp_path / name
    assert [r.locator for r in recs][-4:] == [f"{path}:8.posts[0]", f"{path}:8.posts[1]", f"{path}:9[0]", f"{path}:9[1]"]


def test_import_json_array(tmp_path: Path) -> None:
    path = tmp_path / "posts.json"
    path.write_text(json.dumps(load("searchPosts_page1.json")["posts"]), encoding="utf-8")
    recs, rejects, _ = read_all(path)
    assert rejects == [] and [r.locator for r in recs] == [f"{path}[0]", f"{path}[1]"]


def test_malformed_records_are_rejected_and_good_ones_land(tmp_path: Path) -> None:
    broken = copy.deepcopy(fixture_feed()[1])
    del broken["post"]["uri"]
    path = tmp_path / "feed.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(fixture_feed()[0]) + "\n")
        fh.write('{"post": {"uri": "at://x", \n')  # invalid JSON
        fh.write(json.dumps(broken) + "\n")
        fh.write(json.dumps({"hello": "world"}) + "\n")
        fh.write(json.dumps(fixture_feed()[2]) + "\n")
    recs, rejects, _ = read_all(path)
    assert [r.record_id for r in recs] == [
        f"at://{ALICE}/app.bsky.feed.repost/3lkalicerp001", f"at://{ALICE}/app.bsky.feed.post/3lkalicemix01"]
    assert [r.locator for r in rejects] == [f"{path}:2", f"{path}:3", f"{path}:4"]
    assert "uri" in rejects[1].reason and '"hello"' in rejects[2].content


def test_truncated_file_keeps_what_came_before(tmp_path: Path) -> None:
    text = json.dumps(fixture_feed())
    cut = text.index("app.bsky.feed.post/3lkalicequote")  # inside the fourth element
    path = tmp_path / "feed.json"
    path.write_text(text[:cut], encoding="utf-8")
    recs, rejects, _ = read_all(path)
    assert len(recs) == 3
    assert len(rejects) == 1 and "truncated" in rejects[0].reason and rejects[0].locator == f"{path}[3]"


def test_wrong_platform_file_raises(tmp_path: Path) -> None:
    status = {"id": "1", "created_at": "2025-01-01T00:00:00.000Z", "content": "<p>hi</p>",
              "account": {"id": "2", "acct": "alice", "username": "alice"}, "uri": "https://social.example/1"}
    path = write_jsonl(tmp_path / "mastodon.jsonl", [status, status])
    with pytest.raises(ImportFormatError, match="Mastodon") as excinfo:
        read_all(path)
    assert str(path) in str(excinfo.value)


def test_import_pages_hold_about_a_thousand_records(tmp_path: Path) -> None:
    template = load("searchPosts_page1.json")["posts"][1]
    values = []
    for n in range(2500):
        post = copy.deepcopy(template)
        post["uri"] = f"at://{ALICE}/app.bsky.feed.post/3lgen{n:08d}"
        values.append(post)
    _, _, pages = read_all(write_jsonl(tmp_path / "many.jsonl", values))
    assert [len(p.records) for p in pages] == [1000, 1000, 500]
    assert all(p.cursor is None for p in pages)


# ---- mapping ------------------------------------------------------------------------------------
def fixture_records() -> list[RawRecord]:
    out: list[RawRecord] = []
    for name in ("getProfile.json", "getAuthorFeed_page1.json", "getAuthorFeed_page2.json",
                 "searchPosts_page1.json", "searchPosts_page2.json"):
        out += read_all(FIXTURES / name)[0]
    return out


@pytest.fixture(scope="module")
def mapped() -> dict[str, list[dict[str, Any]]]:
    return {name: table.to_pylist() for name, table in map_records("bluesky", fixture_records()).items()}


def post(mapped: dict[str, list[dict[str, Any]]], post_id: str) -> dict[str, Any]:
    rows = [r for r in mapped["posts"] if r["post_id"] == post_id]
    assert len(rows) == 1, post_id
    return rows[0]


def test_repost_item_yields_the_repost_and_the_original(mapped: dict[str, list[dict[str, Any]]]) -> None:
    original_id = f"bluesky:at://{ORGA}/app.bsky.feed.post/3lkorgapost01"
    repost = post(mapped, f"bluesky:at://{ALICE}/app.bsky.feed.repost/3lkalicerp001")
    assert (repost["kind"], repost["author_id"], repost["text"]) == ("repost", f"bluesky:{ALICE}", "")
    assert (repost["repost_of_post_id"], repost["repost_of_author_id"]) == (original_id, f"bluesky:{ORGA}")
    assert repost["created_at"].isoformat() == "2025-03-10T12:00:00+00:00"  # reason.indexedAt
    original = post(mapped, original_id)
    assert (original["kind"], original["author_id"], original["like_count"]) == ("post", f"bluesky:{ORGA}", 40)
    assert original["url"] == f"https://bsky.app/profile/{ORGA}/post/3lkorgapost01"
    old_shape = post(mapped, f"bluesky:repost:{ALICE}:at://{BOB}/app.bsky.feed.post/3lkbobpost001")
    assert old_shape["repost_of_author_id"] == f"bluesky:{BOB}"
    assert len(mapped["posts"]) == 10  # 8 distinct post views + 2 reposts


def test_reply_author_comes_from_the_parent_at_uri(mapped: dict[str, list[dict[str, Any]]]) -> None:
    reply = post(mapped, f"bluesky:at://{ALICE}/app.bsky.feed.post/3lkalicereply")
    assert reply["kind"] == "reply"
    assert reply["reply_to_post_id"] == f"bluesky:at://{CAROL}/app.bsky.feed.post/3lkcarolpost1"
    assert reply["reply_to_author_id"] == f"bluesky:{CAROL}"


def test_quotes_from_record_and_record_with_media_embeds(mapped: dict[str, list[dict[str, Any]]]) -> None:
    quote = post(mapped, f"bluesky:at://{ALICE}/app.bsky.feed.post/3lkalicequote")
    assert (quote["kind"], quote["quote_of_author_id"]) == ("quote", f"bluesky:{ORGA}")
    assert quote["quote_of_post_id"] == f"bluesky:at://{ORGA}/app.bsky.feed.post/3lkorgapost02"
    with_media = post(mapped, "bluesky:at://did:plc:davedddddddddddddddddddd/app.bsky.feed.post/3lkdavepost01")
    assert (with_media["kind"], with_media["quote_of_author_id"]) == ("quote", f"bluesky:{ORGA}")


def test_links_from_facets_and_external_embed_not_from_text(mapped: dict[str, list[dict[str, Any]]]) -> None:
    mix_id = f"bluesky:at://{ALICE}/app.bsky.feed.post/3lkalicemix01"
    links = {(r["url"], r["domain"]) for r in mapped["post_links"] if r["post_id"] == mix_id}
    assert links == {("https://example.org/articles/2025/03/long-story?id=7", "example.org"),
                     ("https://news.example.net/story/42", "example.net")}
    assert post(mapped, mix_id)["link_title"] == "Story 42: what happened"
    # a URL written in the text without a link facet is not a link
    bare = copy.deepcopy(load("searchPosts_page1.json")["posts"][1])
    bare["record"]["text"] = "see https://plain.example/in-text"
    out = map_records("bluesky", [RawRecord.from_json("post", bare["uri"], bare, PUBLIC_APPVIEW, "t")])
    assert out["post_links"].num_rows == 0


def with_link_facets(post_view: dict[str, Any], parts: list[tuple[str, str | None]]) -> dict[str, Any]:
    """The post's record text made of `parts`, each (text, link facet URI or None), with byte offsets."""
    text, facets = "", []
    for piece, uri in parts:
        start = len(text.encode())
        text += piece
        if uri is not None:
            facets.append({"index": {"byteStart": start, "byteEnd": len(text.encode())},
                           "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}]})
    post_view["record"]["text"], post_view["record"]["facets"] = text, facets
    return post_view


def test_the_quoted_posts_own_url_is_no_external_link() -> None:
    item = copy.deepcopy(next(i for i in load("getAuthorFeed_page2.json")["feed"]
                              if i["post"]["uri"].endswith("/3lkalicequote")))
    own = "https://bsky.app/profile/orga.bsky.social/post/3lkorgapost02"  # how clients write the quote's link
    other = "https://bsky.app/profile/bob.bsky.social/post/3lkbobpost001"  # another post: a link like any other
    with_link_facets(item["post"], [("This is a mistake. ", None), ("bsky.app/profile/orga.bsk...", own),
                                    (" and ", None), ("bsky.app/profile/bob.bsky...", other)])
    out = map_records("bluesky", [RawRecord.from_json("feed_item", item["post"]["uri"], item, PUBLIC_APPVIEW, "t")])
    quote = next(r for r in out["posts"].to_pylist() if r["post_id"].endswith("/3lkalicequote"))
    assert quote["kind"] == "quote"
    assert [(r["url"], r["domain"]) for r in out["post_links"].to_pylist() if r["post_id"] == quote["post_id"]] == [
        (other, "bsky.app")]


def test_a_facet_uri_with_a_stray_quote_mark_is_one_link_with_the_embed() -> None:
    view = copy.deepcopy(load("searchPosts_page1.json")["posts"][1])
    view["embed"] = {"$type": "app.bsky.embed.external#view",
                     "external": {"uri": "https://news.example.net/story/42", "title": "Story 42", "description": ""}}
    with_link_facets(view, [("'", None), ("news.example.net/story/42'", "https://news.example.net/story/42'"),
                            (" says it all", None)])
    out = map_records("bluesky", [RawRecord.from_json("post", view["uri"], view, PUBLIC_APPVIEW, "t")])
    assert [r["url"] for r in out["post_links"].to_pylist()] == ["https://news.example.net/story/42"]


def test_mention_handle_is_sliced_by_utf8_bytes(mapped: dict[str, list[dict[str, Any]]]) -> None:
    record = load("getAuthorFeed_page1.json")["feed"][2]["post"]["record"]
    index = next(f["index"] for f in record["facets"] if "mention" in f["features"][0]["$type"])
    # accents and a flag emoji come first, so character offsets would cut the wrong text
    assert record["text"][index["byteStart"]:index["byteEnd"]] != "@bob.bsky.social"
    mentions = [r for r in mapped["post_mentions"] if r["post_id"].endswith("3lkalicemix01")]
    assert mentions == [{"post_id": f"bluesky:at://{ALICE}/app.bsky.feed.post/3lkalicemix01",
                         "account_id": f"bluesky:{BOB}", "handle": "bob.bsky.social"}]


def test_hashtags_lang_and_text(mapped: dict[str, list[dict[str, Any]]]) -> None:
    tags = {r["tag"] for r in mapped["post_hashtags"] if r["post_id"].endswith("3lkalicemix01")}
    assert tags == {"democracy", "extratag"}  # facet tag and the record's extra tags, lower case
    mix = post(mapped, f"bluesky:at://{ALICE}/app.bsky.feed.post/3lkalicemix01")
    assert mix["lang"] == "fr"  # the first of record.langs
    # the link facet's shortened display text gives way to its full URI (transforms strip URLs by scheme)
    assert mix["text"] == ("Très déçu 🇫🇷 par @bob.bsky.social #Democracy "
                           "https://example.org/articles/2025/03/long-story?utm_source=bsky&id=7")
    orga = post(mapped, f"bluesky:at://{ORGA}/app.bsky.feed.post/3lkorgapost01")
    assert orga["text"] == "Our policy paper is out today. https://orga.example/paper-2025"


def test_text_keeps_the_record_text_when_link_facets_do_not_fit() -> None:
    item = copy.deepcopy(load("getAuthorFeed_page1.json")["feed"][2])
    text = item["post"]["record"]["text"]
    for f in item["post"]["record"]["facets"]:
        f["index"] = {"byteStart": 5, "byteEnd": len(text.encode()) + 40}  # past the end, and overlapping
    out = map_records("bluesky", [RawRecord.from_json("feed_item", item["post"]["uri"], item, PUBLIC_APPVIEW, "t")])
    assert out["posts"].column("text")[0].as_py() == text


def test_future_created_at_is_clamped_to_indexed_at() -> None:
    future = copy.deepcopy(load("searchPosts_page1.json")["posts"][1])
    future["record"]["createdAt"] = "2031-01-01T00:00:00.000Z"
    out = map_records("bluesky", [RawRecord.from_json("post", future["uri"], future, PUBLIC_APPVIEW, "t")])
    assert out["posts"].column("created_at")[0].as_py().isoformat() == "2025-03-11T09:00:00.800000+00:00"


def test_full_profile_beats_the_author_view_embedded_in_posts(mapped: dict[str, list[dict[str, Any]]]) -> None:
    accounts = {r["account_id"]: r for r in mapped["accounts"]}
    alice = accounts[f"bluesky:{ALICE}"]
    assert alice["display_name"] == "Alice A."  # not "Alice (embedded view)"
    assert (alice["handle"], alice["bio"], alice["followers"], alice["following"]) == (
        "alice.bsky.social", "Member of Org A 🚩. Views my own.", 321, 123)
    orga = accounts[f"bluesky:{ORGA}"]  # only ever seen embedded in posts
    assert (orga["handle"], orga["display_name"], orga["bio"], orga["followers"]) == (
        "orga.bsky.social", "Org A Official", None, None)
    assert accounts[f"bluesky:{CAROL}"]["handle"] == "carol.bsky.social"  # the reply parent's author
    # the order of records does not matter
    reordered = map_records("bluesky", list(reversed(fixture_records())))["accounts"].to_pylist()
    assert next(r for r in reordered if r["account_id"] == f"bluesky:{ALICE}")["display_name"] == "Alice A."
