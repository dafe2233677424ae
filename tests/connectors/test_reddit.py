"""The reddit connector against a fake OAuth API on a real loopback socket, its imports, and its mapping.

The fake (connectors/reddit/fixtures/contract/fake_api.py) serves the fixture Listings newest first,
paged by `after`, behind the app-only token endpoint, with reddit's `x-ratelimit-*` headers.
"""

from __future__ import annotations

import base64
import copy
import gzip
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from dissentry.config import Source
from dissentry.connectors.base import ImportFormatError, Page, RawRecord, Reject
from dissentry.connectors.http import Documented, HttpClient, HttpError
from dissentry.connectors.reddit import connector as reddit_module
from dissentry.connectors.reddit.connector import (
    API_BASE,
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    USER_AGENT,
    MissingCredentialsError,
    RedditAuthError,
    RedditConnector,
    reddit_rate_limit,
)
from dissentry.connectors.registry import get_connector
from dissentry.normalise import map_records
from tests.support.fake_time import FakeTime
from tests.support.local_server import Reply, Request, RunningServer, serve

FIXTURES = Path(__file__).resolve().parents[2] / "connectors" / "reddit" / "fixtures"


def _load_fake_api() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reddit_fake_api", FIXTURES / "contract" / "fake_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fake_api = _load_fake_api()
FakeReddit = fake_api.FakeReddit
NOW = 1_750_000_000.0
SUBMITTED, COMMENTS, NEW = "/user/AliceReform/submitted", "/user/AliceReform/comments", "/r/examplepolitics/new"
KEYS = ("u/alicereform/submitted", "u/alicereform/comments", "r/examplepolitics/new")

connector = RedditConnector()


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CLIENT_ID_ENV, fake_api.CLIENT_ID)
    monkeypatch.setenv(CLIENT_SECRET_ENV, fake_api.CLIENT_SECRET)


def make_source(server: RunningServer, **extra: Any) -> Source:
    fields: dict[str, Any] = {"accounts": ["u/AliceReform"], "options": {"subreddits": ["r/examplepolitics"]}}
    fields.update(extra)
    return Source(name="reddit-test", platform="reddit", instance=server.url, **fields)


def client(fake_time: FakeTime, source: Source) -> HttpClient:
    return HttpClient("reddit", sleep=fake_time.sleep, clock=fake_time.clock, max_attempts=3,
                      **connector.http_client_options(source))


def collect(source: Source, cursor: dict[str, Any] | None, fake_time: FakeTime | None = None) -> list[Page]:
    with client(fake_time or FakeTime(NOW), source) as http:
        pages = list(connector.collect(source, cursor, http))
    for page in pages:  # every cursor must survive the lake's JSON round trip
        assert json.loads(json.dumps(page.cursor)) == page.cursor
    return pages


def records(pages: list[Page]) -> list[RawRecord]:
    return [r for p in pages for r in p.records]


def ids(pages: list[Page]) -> list[str]:
    return [r.record_id for r in records(pages)]


def requests_to(server: RunningServer, path: str) -> list[Request]:
    return [r for r in server.requests if r.path == path]


def thing(kind: str, id36: str, created: float, **fields: Any) -> dict[str, Any]:
    """A fresh submission or comment by alice, built from a fixture item."""
    base = load("user_submitted.json" if kind == "t3" else "user_comments.json")["data"]["children"][-1]
    child = copy.deepcopy(base)
    child["data"].update({"id": id36, "name": f"{kind}_{id36}", "created_utc": created, "created": created, **fields})
    return child


ALL_IDS = [
    "t3_1j9xc03", "t3_1j9vb02", "t3_1j9ta03",  # alice's submissions
    "t1_mh0b002", "t1_mh0c003", "t1_mh0a001",  # alice's comments
    "t3_1j9yd06", "t3_1j9xe07", "t3_1j9vb02", "t3_1j9ub05", "t3_1j9sa08",  # r/examplepolitics/new
]


# ---- collection ---------------------------------------------------------------------------------
def test_registry_and_client_options() -> None:
    assert isinstance(get_connector("reddit"), RedditConnector)
    assert connector.mapping_file.is_file()
    source = Source(name="s", platform="reddit", accounts=["alice"])
    assert connector.http_client_options(source) == {"headers": {"User-Agent": USER_AGENT},
                                                      "rate_limit_parser": reddit_rate_limit,
                                                      "documented_limit": Documented(600, 600.0)}
    custom = Source(name="s", platform="reddit", accounts=["alice"], options={"user_agent": "python:x:1 (by u/me)"})
    assert connector.http_client_options(custom)["headers"] == {"User-Agent": "python:x:1 (by u/me)"}


def test_rate_limit_headers_count_seconds_until_reset() -> None:
    headers = httpx.Headers({"x-ratelimit-remaining": "598.0", "x-ratelimit-reset": "342", "x-ratelimit-used": "2"})
    limit = reddit_rate_limit(headers, NOW)
    assert (limit.remaining, limit.reset_at, limit.limit) == (598.0, NOW + 342, 600.0)
    assert reddit_rate_limit(httpx.Headers({}), NOW) == reddit_rate_limit(httpx.Headers({"x-ratelimit-reset": "x"}), NOW)
    assert reddit_rate_limit(httpx.Headers({}), NOW).remaining is None


def test_token_then_listings_paged_by_after() -> None:
    fake = FakeReddit(page_size=2)
    with serve(fake) as server:
        pages = collect(make_source(server), None)
        token_request = server.requests[0]
        listing_requests = server.requests[1:]

    assert ids(pages) == ALL_IDS
    assert [r.record_type for r in records(pages)] == [i[:2] for i in ALL_IDS]
    assert all(r.origin == server.url for r in records(pages))
    # the token: a POST with the app's basic credentials, asking for an app-only grant
    assert (token_request.method, token_request.path) == ("POST", "/api/v1/access_token")
    assert token_request.body == b"grant_type=client_credentials"  # a form body, as OAuth asks
    expected_basic = base64.b64encode(f"{fake_api.CLIENT_ID}:{fake_api.CLIENT_SECRET}".encode()).decode()
    assert token_request.headers["Authorization"] == f"Basic {expected_basic}"
    # listings: the bearer token and a descriptive User-Agent; never the basic credentials
    assert all(r.headers["Authorization"] == f"bearer {fake.token}" for r in listing_requests)
    assert all(r.headers["User-Agent"] == USER_AGENT for r in server.requests)
    assert [(r.path, r.param("after")) for r in listing_requests] == [
        (SUBMITTED, None), (SUBMITTED, "t3_1j9vb02"),
        (COMMENTS, None), (COMMENTS, "t1_mh0c003"),
        (NEW, None), (NEW, "t3_1j9xe07"), (NEW, "t3_1j9ub05"),
    ]
    assert all(r.param("limit") == "100" and r.param("raw_json") == "1" for r in listing_requests)
    assert [r.param("sort") for r in listing_requests] == ["new"] * 4 + [None] * 3
    # a locator names the page and the child
    assert records(pages)[2].locator.endswith("/user/AliceReform/submitted?sort=new&limit=100&raw_json=1"
                                              "&after=t3_1j9vb02[0]")
    # paging mid-way leaves a pending cursor; the end of a listing commits its newest item
    assert pages[0].cursor == {"targets": {KEYS[0]: {"newest": None, "pending": {
        "after": "t3_1j9vb02", "run_newest": {"created_utc": 1741608000.0, "name": "t3_1j9xc03"}, "walked": 2}}}}
    assert pages[-1].cursor == {"targets": {
        KEYS[0]: {"newest": {"created_utc": 1741608000.0, "name": "t3_1j9xc03"}},
        KEYS[1]: {"newest": {"created_utc": 1741580000.0, "name": "t1_mh0b002"}},
        KEYS[2]: {"newest": {"created_utc": 1741620000.0, "name": "t3_1j9yd06"}},
    }}
    assert not any(p.cap_hit for p in pages)


def test_rate_limit_exhausted_waits_until_reset() -> None:
    fake = FakeReddit(page_size=100)
    fake.faults[("/api/v1/access_token", 1)] = Reply(
        body=load("access_token.json"), headers=fake_api.rate_headers(remaining=0.0, reset=30, used=600))
    fake_time = FakeTime(NOW)
    with serve(fake) as server:
        pages = collect(make_source(server), None, fake_time)
    assert ids(pages) == ALL_IDS
    assert len(fake_time.sleeps) == 1 and 30 <= fake_time.sleeps[0] <= 31


def test_429_without_retry_after_waits_until_reset() -> None:
    fake = FakeReddit(page_size=100)
    fake.faults[(COMMENTS, 1)] = Reply(429, {"message": "Too Many Requests", "error": 429},
                                       headers=fake_api.rate_headers(remaining=0.0, reset=7, used=600))
    fake_time = FakeTime(NOW)
    with serve(fake) as server:
        pages = collect(make_source(server), None, fake_time)
        assert len(requests_to(server, COMMENTS)) == 2
    assert fake_time.sleeps == [7.5]  # the reset, plus the client's half-second margin
    assert ids(pages) == ALL_IDS


def test_5xx_is_retried() -> None:
    fake = FakeReddit(page_size=2)
    fake.faults[(NEW, 2)] = Reply(503, "<html>all our servers are busy</html>", headers=fake_api.rate_headers())
    fake_time = FakeTime(NOW)
    with serve(fake) as server, client(fake_time, make_source(server)) as http:
        pages = list(connector.collect(make_source(server), None, http))
        assert http.retries == 1
        assert [r.param("after") for r in requests_to(server, NEW)] == [None, "t3_1j9xe07", "t3_1j9xe07", "t3_1j9ub05"]
    assert ids(pages) == ALL_IDS


def test_second_run_fetches_only_new_items() -> None:
    fake = FakeReddit(page_size=2)
    with serve(fake) as server:
        first = collect(make_source(server), None)
        cursor = json.loads(json.dumps(first[-1].cursor))
        before = len(server.requests)
        nothing = collect(make_source(server), cursor)
        # the token, then one page per target that already reaches a committed item
        assert [r.path for r in server.requests[before:]] == ["/api/v1/access_token", SUBMITTED, COMMENTS, NEW]
        assert records(nothing) == [] and nothing[-1].cursor == cursor
        fake.listings[SUBMITTED].append(thing("t3", "1jb0001", 1741700000.0))
        fake.listings[NEW] += [thing("t3", "1jb0003", 1741720000.0), thing("t3", "1jb0002", 1741710000.0),
                               thing("t3", "1jb0001", 1741700000.0)]
        second = collect(make_source(server), cursor)

    assert ids(second) == ["t3_1jb0001", "t3_1jb0003", "t3_1jb0002", "t3_1jb0001"]
    assert second[-1].cursor["targets"][KEYS[2]] == {"newest": {"created_utc": 1741720000.0, "name": "t3_1jb0003"}}
    assert second[-1].cursor["targets"][KEYS[1]] == cursor["targets"][KEYS[1]]


def test_same_second_items_are_told_apart_by_id() -> None:
    fake = FakeReddit(page_size=100)
    with serve(fake) as server:
        cursor = collect(make_source(server), None)[-1].cursor
        # created in the same second as the committed newest submission, with a later id
        fake.listings[SUBMITTED].append(thing("t3", "1j9xc04", 1741608000.0))
        second = collect(make_source(server), cursor)
    assert ids(second) == ["t3_1j9xc04"]


def test_a_pinned_old_post_does_not_stop_paging() -> None:
    fake = FakeReddit(page_size=100)
    with serve(fake) as server:
        cursor = collect(make_source(server), None)[-1].cursor
        pinned = copy.deepcopy(next(c for c in fake.listings[SUBMITTED] if c["data"]["name"] == "t3_1j9ta03"))
        pinned["data"]["pinned"] = True
        fresh = thing("t3", "1jb0009", 1741800000.0)
        plain_page = fake.page

        def page_with_pin(items: list[dict[str, Any]], request: Request) -> dict[str, Any]:
            body = plain_page(items, request)
            if request.path == SUBMITTED:  # a profile pin sits on top whatever its age
                body["data"]["children"] = [pinned, fresh, *body["data"]["children"]]
            return body

        fake.page = page_with_pin
        second = collect(make_source(server), cursor)
    assert ids(second) == ["t3_1jb0009"]


def test_failure_midway_then_resume_loses_nothing() -> None:
    fake = FakeReddit(page_size=2)
    fake.faults[(NEW, 2)] = Reply(400, {"message": "Bad Request", "error": 400}, headers=fake_api.rate_headers())
    seen: list[str] = []
    cursor: dict[str, Any] | None = None
    with serve(fake) as server:
        source = make_source(server)
        with client(FakeTime(NOW), source) as http, pytest.raises(HttpError, match="400"):
            for page in connector.collect(source, None, http):  # what the pipeline does: keep each page's cursor
                seen += [r.record_id for r in page.records]
                cursor = page.cursor
        assert cursor is not None
        assert cursor["targets"][KEYS[2]]["newest"] is None  # nothing of the subreddit committed yet
        assert cursor["targets"][KEYS[2]]["pending"]["after"] == "t3_1j9xe07"
        assert "pending" not in cursor["targets"][KEYS[0]]  # the finished targets are committed
        # a post arrives while the collector is down
        fake.listings[NEW].append(thing("t3", "1jb0005", 1741750000.0))
        before = len(server.requests)
        second = collect(source, json.loads(json.dumps(cursor)))
        resumed = [(r.path, r.param("after")) for r in server.requests[before:]]

    assert resumed[:4] == [("/api/v1/access_token", None), (SUBMITTED, None), (COMMENTS, None), (NEW, "t3_1j9xe07")]
    seen += ids(second)
    assert set(seen) == set(ALL_IDS) | {"t3_1jb0005"}
    assert second[-1].cursor["targets"][KEYS[2]] == {"newest": {"created_utc": 1741750000.0, "name": "t3_1jb0005"}}


def test_listing_cap_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reddit_module, "LISTING_CAP", 5)  # reddit's is about 1000
    with serve(FakeReddit(page_size=2)) as server:
        pages = collect(make_source(server), None)
    # only r/examplepolitics/new walks 5 items without reaching anything known
    assert [p.cap_hit for p in pages] == [False] * 6 + [True]


def test_expired_token_is_renewed() -> None:
    fake = FakeReddit(page_size=100)
    fake.faults[(COMMENTS, 1)] = fake_api.unauthorized()
    with serve(fake) as server:
        pages = collect(make_source(server), None)
        assert len(requests_to(server, "/api/v1/access_token")) == 2
    assert ids(pages) == ALL_IDS


def test_unknown_user_is_rejected_and_the_rest_goes_on() -> None:
    with serve(FakeReddit(page_size=100)) as server:
        pages = collect(make_source(server, accounts=["ghost_user", "AliceReform"]), None)
    rejects = [r for p in pages for r in p.rejects]
    assert [r.reason.split(":")[0] for r in rejects] == ["reddit user u/ghost_user skipped"] * 2
    assert "/user/ghost_user/submitted?" in rejects[0].locator and "404" in rejects[0].reason
    assert ids(pages) == ALL_IDS


def test_unknown_subreddit_redirected_to_search_is_rejected() -> None:
    fake = FakeReddit(page_size=100)
    search = {"kind": "Listing", "data": {"after": None, "before": None, "dist": 0, "children": []}}
    fake.faults[("/r/nosuchsub/new", 1)] = Reply(302, headers={"Location": "/subreddits/search.json?q=nosuchsub"})
    fake.faults[("/subreddits/search.json", 1)] = Reply(body=search, headers=fake_api.rate_headers())
    with serve(fake) as server:
        pages = collect(make_source(server, options={"subreddits": ["nosuchsub", "examplepolitics"]}), None)
    rejects = [r for p in pages for r in p.rejects]
    assert [r.reason for r in rejects] == ["reddit subreddit r/nosuchsub not found (redirected)"]
    assert ids(pages) == ALL_IDS
    assert "r/nosuchsub/new" not in pages[-1].cursor["targets"]


def test_unexpected_and_malformed_children_are_rejected() -> None:
    fake = FakeReddit(page_size=100)
    broken = copy.deepcopy(fake.listings[COMMENTS][0])
    del broken["data"]["parent_id"]
    fake.listings[COMMENTS] = [broken, {"kind": "more", "data": {"count": 3, "children": ["x1"]}},
                               *fake.listings[COMMENTS][1:]]
    with serve(fake) as server:
        pages = collect(make_source(server, options={}), None)
    rejects = [r for p in pages for r in p.rejects]
    assert [r.reason for r in rejects] == ["reddit t1 rejected: the comment has no t1_/t3_ parent_id",
                                          "reddit user u/AliceReform: expected a t1, got 'more'"]
    assert rejects[0].locator.endswith("raw_json=1[0]") and '"mh0b002"' in rejects[0].content
    assert [i for i in ids(pages) if i.startswith("t1_")] == ["t1_mh0c003", "t1_mh0a001"]


def test_missing_credentials_are_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CLIENT_SECRET_ENV)
    with serve(FakeReddit()) as server:
        with pytest.raises(MissingCredentialsError) as excinfo:
            collect(make_source(server), None)
        assert server.requests == []  # it fails before asking anything
    assert CLIENT_SECRET_ENV in str(excinfo.value) and CLIENT_ID_ENV in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


def test_client_id_may_come_from_options_but_never_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CLIENT_ID_ENV)
    fake = FakeReddit(page_size=100, client_id="opt-id")
    with serve(fake) as server:
        source = make_source(server, options={"subreddits": ["examplepolitics"], "client_id": "opt-id"})
        pages = collect(source, None)
        assert len(ids(pages)) == len(ALL_IDS)
        with pytest.raises(Exception, match="client_secret"):
            reddit_module.parse_options(make_source(server, options={"client_secret": "in-a-file"}))


def test_wrong_secret_error_names_the_variables_never_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CLIENT_SECRET_ENV, "not-the-secret-4242")
    with serve(FakeReddit()) as server:
        with pytest.raises(RedditAuthError) as excinfo:
            collect(make_source(server), None)
        assert [r.path for r in server.requests] == ["/api/v1/access_token"]
    message = str(excinfo.value)
    assert CLIENT_SECRET_ENV in message and "401" in message and fake_api.CLIENT_ID in message
    assert "not-the-secret-4242" not in message
    assert base64.b64encode(f"{fake_api.CLIENT_ID}:not-the-secret-4242".encode()).decode() not in message


def test_a_token_endpoint_that_keeps_failing_is_a_failure_not_a_refusal() -> None:
    """Three 503s in a row (the client's every attempt) are a server that failed, not credentials
    that were refused: the error says so and sends nobody to check their secret (the fault tests
    found a run that blamed the credentials for a flaky token endpoint)."""
    fake = FakeReddit()
    for attempt in (1, 2, 3):
        fake.faults[("/api/v1/access_token", attempt)] = Reply(503, "<html>busy</html>")
    with serve(fake) as server:
        with pytest.raises(HttpError) as excinfo:
            collect(make_source(server), None)
        assert [r.path for r in server.requests] == ["/api/v1/access_token"] * 3
    assert not isinstance(excinfo.value, RedditAuthError)
    message = str(excinfo.value)
    assert "failed after 3 attempts" in message and "access_token" in message
    assert CLIENT_SECRET_ENV not in message and "refused" not in message


def test_secrets_never_reach_records_locators_cursors_or_rejects() -> None:
    fake = FakeReddit(page_size=2)
    with serve(fake) as server:
        pages = collect(make_source(server, accounts=["ghost_user", "AliceReform"]), None)
    basic = fake.basic.removeprefix("Basic ")
    for page in pages:
        text = json.dumps(page.cursor) + "".join(r.payload + r.locator + r.origin for r in page.records)
        text += "".join(r.locator + r.reason + r.content for r in page.rejects)
        for secret in (fake_api.CLIENT_SECRET, fake.token, basic):
            assert secret not in text


def test_token_host_defaults() -> None:
    def host(**fields: Any) -> str:
        source = Source(name="s", platform="reddit", accounts=["alice"], **fields)
        return reddit_module._token_host(source, reddit_module.parse_options(source))

    assert host() == "https://www.reddit.com"
    assert host(instance=API_BASE) == "https://www.reddit.com"
    assert host(instance="http://127.0.0.1:8080/") == "http://127.0.0.1:8080"  # a proxy or test server
    assert host(instance=API_BASE, options={"token_host": "https://auth.example/"}) == "https://auth.example"


def test_invalid_options_and_names_are_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"options\.subredits.*known options: subreddits"):
        connector.http_client_options(Source(name="s", platform="reddit", options={"subredits": ["x"]}))
    http = HttpClient("reddit")
    with pytest.raises(ValueError, match=r"'\.\./etc' is not a subreddit name"):
        list(connector.collect(Source(name="s", platform="reddit", options={"subreddits": ["../etc"]}), None, http))
    with pytest.raises(ValueError, match="'a b' is not a reddit username"):
        list(connector.collect(Source(name="s", platform="reddit", accounts=["a b"]), None, http))
    with pytest.raises(ValueError, match="nothing to collect"):
        list(connector.collect(Source(name="s", platform="reddit", options={"user_agent": "x"}), None, http))
    http.close()


# ---- imports ------------------------------------------------------------------------------------
def read_all(path: Path, source: Source | None = None) -> tuple[list[RawRecord], list[Reject]]:
    pages = list(connector.read_export(path, source))
    return [r for p in pages for r in p.records], [r for p in pages for r in p.rejects]


def test_import_saved_listing_pages() -> None:
    recs, rejects = read_all(FIXTURES / "user_submitted.json")
    assert rejects == []
    assert [(r.record_type, r.record_id) for r in recs] == [("t3", "t3_1j9xc03"), ("t3", "t3_1j9vb02"),
                                                            ("t3", "t3_1j9ta03")]
    assert recs[0].origin == API_BASE
    assert recs[1].locator == f"{FIXTURES / 'user_submitted.json'}:1.children[1]"
    assert json.loads(recs[1].payload) == load("user_submitted.json")["data"]["children"][1]["data"]


def test_import_jsonl_of_things_and_bare_objects_gzipped(tmp_path: Path) -> None:
    comment = load("user_comments.json")["data"]["children"][2]
    bare = copy.deepcopy(load("subreddit_new_page2.json")["data"]["children"][1]["data"])
    del bare["name"]  # dumps often carry only the id
    comments_page = [load("subreddit_new_page2.json"), load("user_comments.json")]  # a /comments/ID answer
    path = tmp_path / "dump.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for value in (comment, bare, comments_page):
            fh.write(json.dumps(value) + "\n")
    recs, rejects = read_all(path)
    assert rejects == []
    assert [r.record_id for r in recs] == ["t1_mh0a001", "t3_1j9sa08", "t3_1j9ub05", "t3_1j9sa08",
                                          "t1_mh0b002", "t1_mh0c003", "t1_mh0a001"]
    assert recs[2].locator == f"{path}:3[0].children[0]"


def test_malformed_records_are_rejected_and_good_ones_land(tmp_path: Path) -> None:
    good = load("user_comments.json")["data"]["children"]
    broken = copy.deepcopy(good[1])
    broken["data"]["created_utc"] = "yesterday"
    path = tmp_path / "comments.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(good[0]) + "\n")
        fh.write('{"kind": "t1", "data": {\n')  # invalid JSON
        fh.write(json.dumps(broken) + "\n")
        fh.write(json.dumps({"hello": "world"}) + "\n")
        fh.write(json.dumps(good[2]) + "\n")
    recs, rejects = read_all(path)
    assert [r.record_id for r in recs] == ["t1_mh0b002", "t1_mh0a001"]
    assert [r.locator for r in rejects] == [f"{path}:2", f"{path}:3", f"{path}:4"]
    assert "created_utc" in rejects[1].reason and '"hello"' in rejects[2].content


def test_wrong_platform_file_raises(tmp_path: Path) -> None:
    status = {"id": "1", "created_at": "2025-01-01T00:00:00.000Z", "content": "<p>hi</p>",
              "account": {"id": "2", "acct": "alice", "username": "alice"}}
    path = tmp_path / "mastodon.jsonl"
    path.write_text(json.dumps(status) + "\n" + json.dumps(status) + "\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="Mastodon") as excinfo:
        read_all(path)
    assert str(path) in str(excinfo.value)


# ---- mapping ------------------------------------------------------------------------------------
def fixture_records() -> list[RawRecord]:
    out: list[RawRecord] = []
    for name in ("user_submitted.json", "user_comments.json", "subreddit_new_page1.json", "subreddit_new_page2.json"):
        out += read_all(FIXTURES / name)[0]
    return out


@pytest.fixture(scope="module")
def mapped() -> dict[str, list[dict[str, Any]]]:
    return {name: table.to_pylist() for name, table in map_records("reddit", fixture_records()).items()}


def post(mapped: dict[str, list[dict[str, Any]]], post_id: str) -> dict[str, Any]:
    rows = [r for r in mapped["posts"] if r["post_id"] == post_id]
    assert len(rows) == 1, post_id
    return rows[0]


def test_posts_and_deleted_authors(mapped: dict[str, list[dict[str, Any]]]) -> None:
    # 10 distinct things with an author, plus the crosspost's parent; the '[deleted]' post yields nothing
    assert sorted(r["post_id"] for r in mapped["posts"]) == sorted(
        {f"reddit:{i}" for i in ALL_IDS if i != "t3_1j9xe07"} | {"reddit:t3_1j9wa01"})
    assert all(r["author_id"] for r in mapped["posts"])


def test_self_post(mapped: dict[str, list[dict[str, Any]]]) -> None:
    row = post(mapped, "reddit:t3_1j9vb02")
    assert (row["kind"], row["author_id"], row["link_title"], row["lang"]) == ("post", "reddit:alicereform", None, None)
    assert row["text"] == ("Why I disagree with the leadership\n\nI voted for them for years, but "
                           "[the vote last night](https://news.example.net/story/42?utm_campaign=x) was a mistake. "
                           "u/Bob_Left said it better.\n\n> leadership knows best\n\nNo & no.")
    assert row["created_at"].isoformat() == "2025-03-10T09:46:40+00:00"  # created_utc 1741600000
    assert row["url"] == "https://www.reddit.com/r/examplepolitics/comments/1j9vb02/why_i_disagree_with_the_leadership/"
    assert (row["like_count"], row["reply_count"], row["repost_count"]) == (56, 31, 0)
    links = [(r["url"], r["domain"]) for r in mapped["post_links"] if r["post_id"] == row["post_id"]]
    assert links == [("https://news.example.net/story/42", "example.net")]  # the anchor's href, tracking dropped
    mentions = [r for r in mapped["post_mentions"] if r["post_id"] == row["post_id"]]
    assert mentions == [{"post_id": row["post_id"], "account_id": "reddit:bob_left", "handle": "bob_left"}]
    assert mapped["post_hashtags"] == []


def test_link_posts(mapped: dict[str, list[dict[str, Any]]]) -> None:
    report = post(mapped, "reddit:t3_1j9ta03")
    assert (report["text"], report["link_title"]) == ("Report on turnout", "Report on turnout")
    assert [r["url"] for r in mapped["post_links"] if r["post_id"] == report["post_id"]] == [
        "https://example.org/report.pdf"]  # www. dropped by normalisation
    image = post(mapped, "reddit:t3_1j9ub05")  # an i.redd.it image is reddit's own media, not a link
    assert (image["link_title"], image["kind"]) == (None, "post")
    assert [r for r in mapped["post_links"] if r["post_id"] == image["post_id"]] == []
    removed = post(mapped, "reddit:t3_1j9yd06")  # selftext '[removed]' by a moderator
    assert removed["text"] == "Turnout thread"


def test_crosspost_is_a_repost_and_its_parent_a_post(mapped: dict[str, list[dict[str, Any]]]) -> None:
    cross = post(mapped, "reddit:t3_1j9xc03")
    assert (cross["kind"], cross["repost_of_post_id"], cross["repost_of_author_id"]) == (
        "repost", "reddit:t3_1j9wa01", "reddit:orga_official")
    assert (cross["text"], cross["link_title"]) == ("OrgA manifesto launched", "OrgA manifesto launched")
    assert [r for r in mapped["post_links"] if r["post_id"] == cross["post_id"]] == []
    parent = post(mapped, "reddit:t3_1j9wa01")
    assert (parent["kind"], parent["author_id"], parent["like_count"], parent["repost_count"]) == (
        "post", "reddit:orga_official", 120, 1)
    assert [r["url"] for r in mapped["post_links"] if r["post_id"] == parent["post_id"]] == [
        "https://orga.example/manifesto"]


def test_comments_are_replies(mapped: dict[str, list[dict[str, Any]]]) -> None:
    top = post(mapped, "reddit:t1_mh0a001")  # on bob's submission, which is in raw
    assert (top["kind"], top["reply_to_post_id"], top["reply_to_author_id"]) == (
        "reply", "reddit:t3_1j9ub05", "reddit:bob_left")
    assert (top["text"], top["like_count"], top["reply_count"]) == ("Turnout was lower than the party claims.", 14, None)
    self_reply = post(mapped, "reddit:t1_mh0c003")  # the parent comment is alice's own, in raw
    assert (self_reply["reply_to_post_id"], self_reply["reply_to_author_id"]) == (
        "reddit:t1_mh0a001", "reddit:alicereform")
    orphan = post(mapped, "reddit:t1_mh0b002")  # the parent comment was never collected
    assert (orphan["reply_to_post_id"], orphan["reply_to_author_id"]) == ("reddit:t1_lzz9y99", None)
    assert [r["url"] for r in mapped["post_links"] if r["post_id"] == orphan["post_id"]] == ["https://orga.example/faq"]
    assert [r["account_id"] for r in mapped["post_mentions"] if r["post_id"] == orphan["post_id"]] == [
        "reddit:orga_official"]


def test_top_level_comment_names_the_submission_author_without_it() -> None:
    comment = load("user_comments.json")["data"]["children"][2]["data"]
    out = map_records("reddit", [RawRecord.from_json("t1", "t1_mh0a001", comment, API_BASE, "t")])
    assert out["posts"].column("reply_to_author_id").to_pylist() == ["reddit:bob_left"]  # from link_author


def test_text_links_and_mentions_without_html() -> None:
    comment = copy.deepcopy(load("user_comments.json")["data"]["children"][0]["data"])
    del comment["body_html"]
    comment["body"] = ("See https://orga.example/faq, and (https://news.example.net/a_b). "
                       "Thanks u/Carol_C and /u/dave-d; not reddit.com/u/nobody or https://v.redd.it/xyz")
    out = map_records("reddit", [RawRecord.from_json("t1", "t1_mh0b002", comment, API_BASE, "t")])
    assert out["post_links"].column("url").to_pylist() == ["https://news.example.net/a_b", "https://orga.example/faq"]
    assert out["post_mentions"].column("handle").to_pylist() == ["carol_c", "dave-d"]


def test_accounts_are_authors(mapped: dict[str, list[dict[str, Any]]]) -> None:
    assert [(r["account_id"], r["handle"], r["display_name"], r["bio"]) for r in mapped["accounts"]] == [
        ("reddit:alicereform", "alicereform", None, None),
        ("reddit:bob_left", "bob_left", None, None),
        ("reddit:carol_c", "carol_c", None, None),
        ("reddit:dave_d", "dave_d", None, None),
        ("reddit:orga_official", "orga_official", None, None),
    ]
