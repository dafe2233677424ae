"""The Mastodon connector: API collection against a fake instance on a real loopback socket, export
import from files, and the mapping to the canonical schema through `dissentry.normalise.map_records`.

The fake instance answers as docs.joinmastodon.org describes (methods/accounts#lookup, #statuses,
methods/timelines#tag, api/rate-limits): statuses newest first, at most 40 a page, `max_id` /
`since_id` / `min_id` bounds, a `Link` header built the way Mastodon builds it (a `next` link only
when the page is full, a `prev` link whenever it is not empty), and X-RateLimit-* headers with an
ISO 8601 reset time.
"""

from __future__ import annotations

import copy
import gzip
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pytest

from dissentry.config import Source
from dissentry.connectors.base import ImportFormatError, Page, RawRecord, Reject
from dissentry.connectors.http import HttpClient, HttpError
from dissentry.connectors.mastodon.connector import MastodonConnector, mastodon_rate_limit
from dissentry.normalise import map_records
from tests.support.fake_time import FakeTime
from tests.support.local_server import Reply, Request, serve

FIXTURES = Path(__file__).resolve().parents[2] / "connectors" / "mastodon" / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


ALICE = fixture("account_lookup.json")
PAGE = fixture("account_statuses_page.json")  # post with link, reply, boost, quote, self-reply
TEMPLATE = PAGE[0]
TOKEN = "s3cr3t-Token-value-123"


def make_status(n: int, account: dict[str, Any] = ALICE) -> dict[str, Any]:
    """Status number n (higher n = newer), in the documented shape of the fixture."""
    status = copy.deepcopy(TEMPLATE)
    sid = str(113_400_000_000_000_000 + n)
    user = account["username"]
    status.update(
        id=sid,
        created_at=datetime.fromtimestamp(1_759_000_000 + 60 * n, UTC).isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        uri=f"https://social.example/users/{user}/statuses/{sid}",
        url=f"https://social.example/@{user}/{sid}",
        account=account,
    )
    return status


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeMastodon:
    """Lookup, account statuses and tag timeline; `hooks` may answer a request instead."""

    def __init__(self, time: FakeTime) -> None:
        self.time = time
        self.accounts = {"alice": ALICE}
        self.statuses: dict[str, list[dict[str, Any]]] = {ALICE["id"]: []}
        self.tags: dict[str, list[dict[str, Any]]] = {}
        self.hooks: list[Callable[[Request], Reply | None]] = []
        self.limits: list[tuple[int, float]] = []  # (remaining, reset epoch) for the next answers
        self.remaining = 300
        self.link_base: str | None = None  # set to send Link URLs on another host

    def add(self, count: int, first: int = 1) -> list[dict[str, Any]]:
        new = [make_status(n) for n in range(first, first + count)]
        self.statuses[ALICE["id"]] = sorted(
            self.statuses[ALICE["id"]] + new, key=lambda s: (len(s["id"]), s["id"]), reverse=True
        )
        return new

    def handle(self, request: Request) -> Reply:
        for hook in self.hooks:
            reply = hook(request)
            if reply is not None:
                return reply
        if self.limits:
            remaining, reset = self.limits.pop(0)
        else:
            self.remaining -= 1
            remaining, reset = self.remaining, self.time.now + 300
        headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": iso(reset)}
        path = request.path
        if path == "/api/v1/accounts/lookup":
            account = self.accounts.get((request.param("acct") or "").lower())
            if account is None:
                return Reply(404, {"error": "Record not found"}, headers)
            return Reply(200, account, headers)
        if path.startswith("/api/v1/accounts/") and path.endswith("/statuses"):
            items = self.statuses.get(path.split("/")[4])
        elif path.startswith("/api/v1/timelines/tag/"):
            items = self.tags.get(unquote(path.rsplit("/", 1)[1]).lower())
        else:
            items = None
        if items is None:
            return Reply(404, {"error": "Record not found"}, headers)
        return self.paginate(request, items, headers)

    def paginate(self, request: Request, items: list[dict[str, Any]], headers: dict[str, str]) -> Reply:
        def key(sid: str) -> tuple[int, str]:
            return (len(sid), sid)

        limit = min(int(request.param("limit") or 20), 40)
        max_id, since_id, min_id = request.param("max_id"), request.param("since_id"), request.param("min_id")
        if max_id:
            items = [s for s in items if key(s["id"]) < key(max_id)]
        if since_id:
            items = [s for s in items if key(s["id"]) > key(since_id)]
        if min_id:  # the statuses immediately newer than min_id, still newest first
            items = [s for s in items if key(s["id"]) > key(min_id)]
            page = items[-limit:]
        else:
            page = items[:limit]
        if page:
            base = self.link_base or f"http://{request.headers['Host']}"
            links = []
            if len(page) == limit:
                links.append(f'<{base}{request.path}?limit={limit}&max_id={page[-1]["id"]}>; rel="next"')
            links.append(f'<{base}{request.path}?limit={limit}&min_id={page[0]["id"]}>; rel="prev"')
            headers = {**headers, "Link": ", ".join(links)}
        return Reply(200, page, headers)


def statuses_requests(requests: list[Request]) -> list[Request]:
    return [r for r in requests if r.path.endswith("/statuses") or "/timelines/tag/" in r.path]


def source_for(url: str, **kwargs: Any) -> Source:
    return Source(name="members", platform="mastodon", instance=url, **({"accounts": ["@alice"]} | kwargs))


def status_ids(pages: list[Page]) -> list[str]:
    return [r.record_id for p in pages for r in p.records if r.record_type == "status"]


@pytest.fixture
def fake() -> Iterator[tuple[FakeMastodon, Any, FakeTime]]:
    time = FakeTime()
    mastodon = FakeMastodon(time)
    with serve(mastodon.handle) as server:
        yield mastodon, server, time


def client(time: FakeTime, **options: Any) -> HttpClient:
    return HttpClient("mastodon", sleep=time.sleep, clock=time.clock,
                      **({"rate_limit_parser": mastodon_rate_limit} | options))


# ---- API collection ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "status_requests"), [(95, 3), (80, 3), (0, 1)])
def test_pages_to_the_end_by_link_headers(fake: Any, count: int, status_requests: int) -> None:
    mastodon, server, time = fake
    everything = mastodon.add(count)
    with client(time) as http:
        pages = list(MastodonConnector().collect(source_for(server.url), None, http))

    ids = status_ids(pages)
    assert sorted(ids) == sorted(s["id"] for s in everything)
    assert len(ids) == len(set(ids))
    requests = statuses_requests(server.requests)
    assert len(requests) == status_requests
    assert len(server.requests) == 1 + status_requests  # the lookup, then one request per page
    assert len(pages) == 1 + status_requests  # one Page per API page
    newest_first = [s["id"] for s in mastodon.statuses[ALICE["id"]]]
    assert [r.param("max_id") for r in requests] == [None, *newest_first[39:80:40]][:status_requests]
    assert all(r.param("limit") == "40" for r in requests)

    account = pages[0].records[0]
    assert (account.record_type, account.record_id, account.origin) == ("account", ALICE["id"], server.url)
    for page, request in zip(pages[1:], requests, strict=True):
        for record in page.records:
            assert record.origin == server.url
            assert record.locator.startswith(f"{server.url}/api/v1/accounts/{ALICE['id']}/statuses?")
            assert record.locator.endswith(f"max_id={request.param('max_id')}" if request.param("max_id")
                                           else "limit=40")
    final = pages[-1].cursor
    assert final == {"targets": {"account:alice": {"newest_id": newest_first[0] if count else None,
                                                   "pending": None}}}
    assert json.loads(json.dumps(final)) == final


def test_hashtag_timeline_pages_to_the_end(fake: Any) -> None:
    mastodon, server, time = fake
    tagged = [make_status(n) for n in range(1, 46)]
    mastodon.tags["climate"] = sorted(tagged, key=lambda s: s["id"], reverse=True)
    source = Source(name="tag", platform="mastodon", instance=server.url + "/", hashtags=["#Climate"])
    with client(time) as http:
        pages = list(MastodonConnector().collect(source, None, http))

    assert sorted(status_ids(pages)) == sorted(s["id"] for s in tagged)
    assert [r.path for r in server.requests] == ["/api/v1/timelines/tag/Climate"] * 2
    assert {r.origin for p in pages for r in p.records} == {server.url}  # no trailing slash
    assert pages[-1].cursor == {"targets": {"tag:climate": {"newest_id": tagged[-1]["id"], "pending": None}}}


def test_waits_until_reset_when_no_requests_remain_then_continues(fake: Any) -> None:
    mastodon, server, time = fake
    everything = mastodon.add(50)
    mastodon.limits = [(0, time.now + 30)]  # the lookup's answer spends the budget
    with client(time) as http:
        pages = list(MastodonConnector().collect(source_for(server.url), None, http))
        waits = http.rate_limit_waits

    assert len(time.sleeps) == 1 and 29.5 <= time.sleeps[0] <= 31
    assert waits == 1
    assert sorted(status_ids(pages)) == sorted(s["id"] for s in everything)


def test_429_without_retry_after_waits_until_reset_then_succeeds(fake: Any) -> None:
    mastodon, server, time = fake
    everything = mastodon.add(10)
    answered = []

    def too_many_once(request: Request) -> Reply | None:
        if request.path.endswith("/statuses") and not answered:
            answered.append(request)
            reset = iso(time.now + 12)
            return Reply(429, {"error": "Too many requests"},
                         {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
        return None

    mastodon.hooks.append(too_many_once)
    with client(time) as http:
        pages = list(MastodonConnector().collect(source_for(server.url), None, http))

    assert len(time.sleeps) == 1 and 12 <= time.sleeps[0] <= 13
    assert len(statuses_requests(server.requests)) == 2
    assert sorted(status_ids(pages)) == sorted(s["id"] for s in everything)


def test_5xx_is_retried_then_succeeds(fake: Any) -> None:
    mastodon, server, time = fake
    everything = mastodon.add(60)
    failures = [Reply(500, {"error": "boom"}), Reply(502, "<html>Bad Gateway</html>")]

    def flaky_second_page(request: Request) -> Reply | None:
        if request.param("max_id") and failures:
            return failures.pop(0)
        return None

    mastodon.hooks.append(flaky_second_page)
    with client(time) as http:
        pages = list(MastodonConnector().collect(source_for(server.url), None, http))
        retries = http.retries

    assert retries == 2 and len(time.sleeps) == 2
    assert [bool(r.param("max_id")) for r in statuses_requests(server.requests)] == [False, True, True, True]
    ids = status_ids(pages)
    assert sorted(ids) == sorted(s["id"] for s in everything) and len(ids) == len(set(ids))


def test_second_run_fetches_only_newer_statuses(fake: Any) -> None:
    mastodon, server, time = fake
    old = mastodon.add(50)
    connector = MastodonConnector()
    with client(time) as http:
        first = list(connector.collect(source_for(server.url), None, http))
    cursor = json.loads(json.dumps(first[-1].cursor))  # as the lake stores it
    newest_old = max(s["id"] for s in old)
    assert cursor["targets"]["account:alice"] == {"newest_id": newest_old, "pending": None}

    new = mastodon.add(45, first=51)
    before = len(server.requests)
    with client(time) as http:
        second = list(connector.collect(source_for(server.url), cursor, http))

    requests = statuses_requests(server.requests[before:])
    new_ids = sorted(s["id"] for s in new)
    assert [r.param("min_id") for r in requests] == [newest_old, new_ids[39]]
    assert all(r.param("max_id") is None for r in requests)
    got = status_ids(second)
    assert sorted(got) == new_ids and len(got) == len(set(got))
    assert second[-1].cursor["targets"]["account:alice"] == {"newest_id": new_ids[-1], "pending": None}

    # nothing new: one request, nothing stored, the cursor stays
    with client(time) as http:
        third = list(connector.collect(source_for(server.url), second[-1].cursor, http))
    assert status_ids(third) == []
    assert statuses_requests(server.requests)[-1].param("min_id") == new_ids[-1]
    assert third[-1].cursor == second[-1].cursor


def collect_until_failure(connector: MastodonConnector, source: Source, cursor: dict[str, Any] | None,
                          http: HttpClient) -> tuple[list[Page], dict[str, Any] | None, HttpError | None]:
    """What the pipeline keeps from a run: the pages yielded before the fault and the last cursor."""
    pages: list[Page] = []
    try:
        for page in connector.collect(source, cursor, http):
            pages.append(page)
            cursor = page.cursor if page.cursor is not None else cursor
    except HttpError as exc:
        return pages, cursor, exc
    return pages, cursor, None


def test_run_failing_on_page_three_resumes_from_its_cursor_losing_nothing(fake: Any) -> None:
    mastodon, server, time = fake
    everything = mastodon.add(130)
    third_page_max_id = [s["id"] for s in mastodon.statuses[ALICE["id"]]][79]
    broken = {"on": True}
    mastodon.hooks.append(
        lambda r: Reply(500, {"error": "down"}) if broken["on"] and r.param("max_id") == third_page_max_id else None
    )
    connector = MastodonConnector()
    with client(time, max_attempts=3) as http:
        first, cursor, error = collect_until_failure(connector, source_for(server.url), None, http)
    assert error is not None and "500" in str(error)
    assert len(status_ids(first)) == 80
    assert cursor is not None
    assert cursor["targets"]["account:alice"]["pending"]["max_id"] == third_page_max_id

    broken["on"] = False
    with client(time) as http:
        second, final, error = collect_until_failure(connector, source_for(server.url), cursor, http)
    assert error is None
    resumed = [r for r in statuses_requests(server.requests) if r.param("max_id") == third_page_max_id]
    assert len(resumed) == 3 + 1  # three failed attempts, then the resumed request
    both = status_ids(first) + status_ids(second)
    assert sorted(set(both)) == sorted(s["id"] for s in everything)
    assert len(both) - len(set(both)) == 0  # nothing fetched twice
    assert final == {"targets": {"account:alice": {"newest_id": max(s["id"] for s in everything),
                                                   "pending": None}}}


def test_incremental_run_failing_midway_resumes_without_loss(fake: Any) -> None:
    mastodon, server, time = fake
    old = mastodon.add(5)
    cursor = {"targets": {"account:alice": {"newest_id": max(s["id"] for s in old), "pending": None}}}
    new = mastodon.add(100, first=6)
    second_page_min_id = sorted(s["id"] for s in new)[39]
    broken = {"on": True}
    mastodon.hooks.append(
        lambda r: Reply(503) if broken["on"] and r.param("min_id") == second_page_min_id else None
    )
    connector = MastodonConnector()
    with client(time, max_attempts=2) as http:
        first, saved, error = collect_until_failure(connector, source_for(server.url), cursor, http)
    assert error is not None
    assert saved is not None and saved["targets"]["account:alice"]["newest_id"] == second_page_min_id

    broken["on"] = False
    with client(time) as http:
        second, _, error = collect_until_failure(connector, source_for(server.url), saved, http)
    assert error is None
    both = status_ids(first) + status_ids(second)
    assert sorted(both) == sorted(s["id"] for s in new)  # every new status exactly once, no old one


def test_token_is_sent_as_bearer_and_kept_out_of_records(
    fake: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    mastodon, server, time = fake
    mastodon.add(45)
    mastodon.link_base = "https://elsewhere.example"  # a Link to another host must not get the token
    monkeypatch.setenv("DISSENTRY_TEST_MASTODON_TOKEN", TOKEN)
    source = source_for(server.url, token_env="DISSENTRY_TEST_MASTODON_TOKEN")
    connector = MastodonConnector()
    caplog.set_level(logging.DEBUG)
    with HttpClient("mastodon", sleep=time.sleep, clock=time.clock, **connector.http_client_options(source)) as http:
        pages = list(connector.collect(source, None, http))
        broken_page = {"on": True}
        mastodon.hooks.append(lambda r: Reply(500) if broken_page["on"] and r.param("max_id") else None)
        with pytest.raises(HttpError) as failure:
            list(connector.collect(source, None, http))

    assert len(status_ids(pages)) == 45
    assert server.requests and all(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in server.requests)
    stored = json.dumps([[r.payload, r.locator, r.origin] for p in pages for r in p.records] + [pages[-1].cursor])
    assert TOKEN not in stored
    assert TOKEN not in str(failure.value)
    assert TOKEN not in caplog.text


def test_no_token_means_no_authorization_header(fake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    mastodon, server, time = fake
    mastodon.add(3)
    monkeypatch.delenv("DISSENTRY_TEST_UNSET_TOKEN", raising=False)
    source = source_for(server.url, token_env="DISSENTRY_TEST_UNSET_TOKEN")
    connector = MastodonConnector()
    options = connector.http_client_options(source)
    assert options["headers"] == {} and options["rate_limit_parser"] is mastodon_rate_limit
    with HttpClient("mastodon", sleep=time.sleep, clock=time.clock, **options) as http:
        assert len(status_ids(list(connector.collect(source, None, http)))) == 3
    assert all("Authorization" not in r.headers for r in server.requests)


def test_unknown_account_is_rejected_and_the_rest_still_collected(fake: Any) -> None:
    mastodon, server, time = fake
    mastodon.add(2)
    source = source_for(server.url, accounts=["@nobody", "@alice"])
    with client(time) as http:
        pages = list(MastodonConnector().collect(source, None, http))
    rejects = [j for p in pages for j in p.rejects]
    assert [j.reason for j in rejects] == [f"account @nobody not found on {server.url}"]
    assert len(status_ids(pages)) == 2


def test_rate_limit_parser_reads_iso_reset() -> None:
    import httpx

    headers = httpx.Headers({"X-RateLimit-Remaining": "17", "X-RateLimit-Reset": "2020-09-08T13:25:00.019685Z"})
    limit = mastodon_rate_limit(headers, now=0.0)
    assert limit.remaining == 17
    assert limit.reset_at == pytest.approx(datetime(2020, 9, 8, 13, 25, 0, 19685, tzinfo=UTC).timestamp())
    assert mastodon_rate_limit(httpx.Headers({"X-RateLimit-Reset": "1599571500"}), 0.0).reset_at == 1599571500
    assert mastodon_rate_limit(httpx.Headers({"X-RateLimit-Reset": "soon"}), 0.0).reset_at is None
    assert mastodon_rate_limit(httpx.Headers({}), 0.0).remaining is None


# ---- export import ----------------------------------------------------------------------------------

SOCIAL = Source(name="import", platform="mastodon", instance="https://social.example/", files=["x"])
EXPECTED_IDS = [s["id"] for s in PAGE]


def write(path: Path, text: str) -> Path:
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def read_all(path: Path, source: Source | None = SOCIAL) -> tuple[list[RawRecord], list[Reject]]:
    pages = list(MastodonConnector().read_export(path, source))
    return [r for p in pages for r in p.records], [j for p in pages for j in p.rejects]


@pytest.mark.parametrize("name", ["statuses.json", "statuses.jsonl", "statuses.jsonl.gz", "statuses.json.gz"])
def test_import_array_jsonl_and_gzip(tmp_path: Path, name: str) -> None:
    values = [*PAGE, ALICE]
    text = "\n".join(json.dumps(v) for v in values) + "\n" if ".jsonl" in name else json.dumps(values, indent=1)
    path = write(tmp_path / name, text)
    records, rejects = read_all(path)

    assert rejects == []
    assert [(r.record_type, r.record_id) for r in records] == [("status", i) for i in EXPECTED_IDS] + [
        ("account", ALICE["id"])
    ]
    assert {r.origin for r in records} == {"https://social.example"}
    assert json.loads(records[2].payload) == PAGE[2]
    first_locator = f"{path}:1" if ".jsonl" in name else f"{path}[0]"
    assert records[0].locator == first_locator


def test_import_saved_api_pages_one_per_line(tmp_path: Path) -> None:
    more = [make_status(n) for n in (1, 2)]
    path = write(tmp_path / "pages.jsonl", json.dumps(PAGE) + "\n" + json.dumps(more) + "\n")
    records, rejects = read_all(path)
    assert rejects == []
    assert [r.record_id for r in records] == EXPECTED_IDS + [s["id"] for s in more]
    assert records[5].locator == f"{path}:2[0]"


def test_import_without_instance_takes_it_from_local_statuses(tmp_path: Path) -> None:
    carol_status = PAGE[2]["reblog"]  # by carol@other.example, as seen from social.example
    path = write(tmp_path / "page.json", json.dumps([PAGE[0], carol_status]))
    records, _ = read_all(path, None)
    assert [r.origin for r in records] == ["https://social.example", "https://social.example"]
    only_remote = write(tmp_path / "remote.json", json.dumps([carol_status]))
    assert [r.origin for r in read_all(only_remote, None)[0]] == ["https://other.example"]


def test_import_rejects_a_malformed_line_and_keeps_the_others(tmp_path: Path) -> None:
    no_account = {k: v for k, v in PAGE[1].items() if k != "account"}
    bad_id = {**PAGE[3], "id": ["113"]}
    bad_date = {**PAGE[4], "created_at": "yesterday"}
    lines = [json.dumps(PAGE[0]), json.dumps(no_account), json.dumps(PAGE[2]), json.dumps(bad_id),
             '{"id": "1", "content": "<p>cut', json.dumps([bad_date, make_status(7)])]
    path = write(tmp_path / "mixed.jsonl", "\n".join(lines) + "\n")
    records, rejects = read_all(path)

    assert [r.record_id for r in records] == [PAGE[0]["id"], PAGE[2]["id"], make_status(7)["id"]]
    assert [j.locator for j in rejects] == [f"{path}:2", f"{path}:4", f"{path}:5", f"{path}:6[0]"]
    assert "account is missing" in rejects[0].reason
    assert "id is missing or not a string" in rejects[1].reason
    assert "invalid JSON" in rejects[2].reason
    assert "created_at 'yesterday' is not an ISO 8601 date" in rejects[3].reason
    assert all("\n" not in j.reason for j in rejects)
    assert json.loads(rejects[0].content)["id"] == PAGE[1]["id"]


def test_import_truncated_array_keeps_the_good_elements(tmp_path: Path) -> None:
    text = json.dumps(PAGE[:3], indent=1)
    path = write(tmp_path / "cut.json", text[: text.index(PAGE[2]["id"]) + 10])
    records, rejects = read_all(path)
    assert [r.record_id for r in records] == EXPECTED_IDS[:2]
    assert len(rejects) == 1 and rejects[0].locator == f"{path}[2]" and "truncated" in rejects[0].reason


def test_import_of_a_bluesky_file_names_the_file(tmp_path: Path) -> None:
    item = {"post": {"uri": "at://did:plc:abc123/app.bsky.feed.post/3kabc", "cid": "bafy",
                     "author": {"did": "did:plc:abc123", "handle": "orga.bsky.social"},
                     "record": {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2025-01-01T00:00:00Z"}}}
    path = write(tmp_path / "feed.jsonl", json.dumps(item) + "\n")
    with pytest.raises(ImportFormatError, match="looks like a Bluesky export, not Mastodon") as failure:
        read_all(path)
    assert str(path) in str(failure.value)


def test_import_yields_pages_of_a_thousand(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for n in range(2500):
            fh.write(json.dumps(make_status(n)) + "\n")
    sizes = [len(p.records) for p in MastodonConnector().read_export(path, SOCIAL)]
    assert sizes == [1000, 1000, 500]


# ---- mapping to the canonical schema ----------------------------------------------------------------

PID = "mastodon:social.example:"


def rows(table: pa.Table, key: str) -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in table.to_pylist()}


@pytest.fixture(scope="module")
def mapped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pa.Table]:
    unknown_reply = {**make_status(900), "in_reply_to_id": "113000000000000001", "in_reply_to_account_id": "424242",
                     "content": "<p>Replying to an account never seen here.</p>", "mentions": [], "tags": [],
                     "card": None}
    values = [*PAGE, ALICE, fixture("status_quote_fork.json"), fixture("status_shallow_quote.json"), unknown_reply]
    path = tmp_path_factory.mktemp("export") / "all.jsonl"
    path.write_text("\n".join(json.dumps(v) for v in values) + "\n", encoding="utf-8")
    records, rejects = read_all(path)
    assert rejects == []
    return map_records("mastodon", records)


def test_boost_maps_to_a_repost_and_the_boosted_post(mapped: dict[str, pa.Table]) -> None:
    posts = rows(mapped["posts"], "post_id")
    boost = posts[PID + PAGE[2]["id"]]
    assert (boost["kind"], boost["text"], boost["author_id"]) == ("repost", "", "mastodon:alice@social.example")
    assert boost["repost_of_post_id"] == PID + "113290000000000777"
    assert boost["repost_of_author_id"] == "mastodon:carol@other.example"
    original = posts[PID + "113290000000000777"]
    assert (original["kind"], original["author_id"]) == ("post", "mastodon:carol@other.example")
    assert original["text"] == "Our investigation into party funding is out."
    assert (original["like_count"], original["repost_count"], original["reply_count"]) == (95, 40, 12)


def test_replies_resolve_the_replied_to_author(mapped: dict[str, pa.Table]) -> None:
    posts = rows(mapped["posts"], "post_id")
    to_bob = posts[PID + PAGE[1]["id"]]
    assert (to_bob["kind"], to_bob["reply_to_post_id"], to_bob["reply_to_author_id"]) == (
        "reply", PID + "113299000000000001", "mastodon:bob@social.example")
    own_thread = posts[PID + PAGE[4]["id"]]
    assert (own_thread["kind"], own_thread["reply_to_author_id"]) == ("reply", "mastodon:alice@social.example")
    unknown = posts[PID + make_status(900)["id"]]
    assert (unknown["kind"], unknown["reply_to_author_id"]) == ("reply", None)


def test_quotes_point_at_the_quoted_post_which_is_a_post_too(mapped: dict[str, pa.Table]) -> None:
    posts = rows(mapped["posts"], "post_id")
    quote = posts[PID + PAGE[3]["id"]]
    assert quote["kind"] == "quote"
    assert (quote["quote_of_post_id"], quote["quote_of_author_id"]) == (
        PID + "113280000000000500", "mastodon:dave@news.example")
    assert quote["text"] == "Worth reading, though I'm not convinced."  # the RE: fallback line is dropped
    assert posts[PID + "113280000000000500"]["author_id"] == "mastodon:dave@news.example"
    fork = posts[PID + "113300000000000060"]  # a fork that sends the quoted Status as `quote`
    assert (fork["kind"], fork["quote_of_post_id"], fork["quote_of_author_id"]) == (
        "quote", PID + PAGE[1]["id"], "mastodon:alice@social.example")
    shallow = posts[PID + "113300000000000070"]  # ShallowQuote: only the id, author found in raw
    assert (shallow["quote_of_post_id"], shallow["quote_of_author_id"]) == (
        PID + PAGE[0]["id"], "mastodon:alice@social.example")


def test_text_is_plain_with_entities_decoded_and_breaks_kept(mapped: dict[str, pa.Table]) -> None:
    post = rows(mapped["posts"], "post_id")[PID + PAGE[0]["id"]]
    assert post["text"] == (
        'Council & budget: "a compromise" <finally>\n'
        "Read it: https://news.example.org/2025/10/budget-vote?utm_source=mastodon&ref=feed\n\n"
        "cc @bob #Climate #OrgA"
    )
    assert (post["kind"], post["lang"], post["link_title"]) == ("post", "en", "Budget vote: what changed")
    assert post["created_at"] == datetime(2025, 10, 2, 9, 15, tzinfo=UTC)


def test_links_skip_mentions_and_hashtags_and_include_the_card(mapped: dict[str, pa.Table]) -> None:
    links = [(r["post_id"], r["url"]) for r in mapped["post_links"].to_pylist()]
    assert sorted(links) == [
        (PID + PAGE[0]["id"], "https://news.example.org/2025/10/budget-vote"),
        (PID + PAGE[0]["id"], "https://news.example.org/2025/10/budget-vote?ref=feed"),
    ]


def test_hashtags_are_lower_case_and_mentions_are_canonical(mapped: dict[str, pa.Table]) -> None:
    tags = sorted((r["post_id"], r["tag"]) for r in mapped["post_hashtags"].to_pylist())
    assert tags == [(PID + PAGE[0]["id"], "climate"), (PID + PAGE[0]["id"], "orga")]
    mentions = {(r["post_id"], r["account_id"], r["handle"]) for r in mapped["post_mentions"].to_pylist()}
    bob = ("mastodon:bob@social.example", "bob@social.example")
    assert mentions == {(PID + PAGE[0]["id"], *bob), (PID + PAGE[1]["id"], *bob)}


def test_accounts_have_plain_text_bios(mapped: dict[str, pa.Table]) -> None:
    accounts = rows(mapped["accounts"], "account_id")
    assert set(accounts) == {"mastodon:alice@social.example", "mastodon:bob@social.example",
                             "mastodon:carol@other.example", "mastodon:dave@news.example"}
    alice = accounts["mastodon:alice@social.example"]
    assert alice["bio"] == "Member of Org A & cyclist.\nViews my own.\n\n#OrgA"
    assert (alice["handle"], alice["display_name"], alice["followers"], alice["following"]) == (
        "alice@social.example", "Alice Example", 250, 180)
    assert alice["created_at"] == datetime(2022, 11, 5, tzinfo=UTC)
    assert accounts["mastodon:dave@news.example"]["handle"] == "dave@news.example"


def test_collected_records_map_under_the_serving_instance(fake: Any) -> None:
    mastodon, server, time = fake
    mastodon.statuses[ALICE["id"]] = copy.deepcopy(PAGE)
    with client(time) as http:
        records = [r for p in MastodonConnector().collect(source_for(server.url), None, http) for r in p.records]
    posts = map_records("mastodon", records)["posts"].to_pylist()
    boost = next(p for p in posts if p["kind"] == "repost")
    # issue 11: the instance's port is part of the namespace (this test asserted the bare host before)
    host = urlsplit(server.url).netloc
    assert host.startswith("127.0.0.1:")
    assert boost["post_id"] == f"mastodon:{host}:" + PAGE[2]["id"]
    assert boost["repost_of_post_id"] == f"mastodon:{host}:113290000000000777"
    assert boost["author_id"] == f"mastodon:alice@{host}"


@pytest.mark.parametrize(("instance", "namespace"), [
    ("http://localhost:3000", "localhost:3000"),  # Mastodon's development server
    ("http://127.0.0.1:18081", "127.0.0.1:18081"),
    ("https://Social.Example:443/", "social.example"),  # the scheme's own port is no part of it
    ("http://social.example:80", "social.example"),
])
def test_the_instances_port_stays_in_the_namespace(tmp_path: Path, instance: str, namespace: str) -> None:
    from dissentry.config import parse_account_ref

    path = tmp_path / "statuses.json"
    path.write_text(json.dumps(PAGE), encoding="utf-8")
    source = Source(name="import", platform="mastodon", instance=instance, files=["x"])
    posts = rows(map_records("mastodon", read_all(path, source)[0])["posts"], "post_id")
    assert f"mastodon:{namespace}:{PAGE[0]['id']}" in posts
    assert posts[f"mastodon:{namespace}:{PAGE[0]['id']}"]["author_id"] == f"mastodon:alice@{namespace}"
    # a member written with the port is that author
    assert parse_account_ref(f"mastodon:@Alice@{namespace.upper()}") == ("mastodon", f"alice@{namespace}")


def test_two_instances_on_one_host_are_two_namespaces(tmp_path: Path) -> None:
    path = tmp_path / "statuses.json"
    path.write_text(json.dumps(PAGE[:1]), encoding="utf-8")
    records = [r for port in (3000, 3001) for r in read_all(path, Source(
        name=f"i{port}", platform="mastodon", instance=f"http://localhost:{port}", files=["x"]))[0]]
    posts = map_records("mastodon", records)["posts"].to_pylist()
    assert sorted(p["author_id"] for p in posts) == ["mastodon:alice@localhost:3000", "mastodon:alice@localhost:3001"]


def test_an_import_without_instance_learns_the_port_from_the_uris(tmp_path: Path) -> None:
    status = copy.deepcopy(PAGE[0])
    status["uri"] = status["uri"].replace("https://social.example/", "http://localhost:3000/")
    status["url"] = status["url"].replace("https://social.example/", "http://localhost:3000/")
    path = tmp_path / "statuses.json"
    path.write_text(json.dumps([status]), encoding="utf-8")
    records = read_all(path, None)[0]
    (post,) = [p for p in map_records("mastodon", records)["posts"].to_pylist() if p["author_id"].startswith("mastodon:alice")]
    assert post["author_id"] == "mastodon:alice@localhost:3000"
