"""A loopback API server that knows a fixed set of posts and misbehaves on a seeded schedule.

It answers in the Mastodon, Bluesky and reddit API shapes at once (their paths do not overlap),
with the platforms' real paging (Mastodon `Link` + `max_id`, Bluesky opaque `cursor`, reddit
`after`) and real rate-limit windows and headers, counted against a clock the test shares with the
client. Each request may be answered with a fault drawn from a `FaultSchedule`: 429 with and
without Retry-After, 500/502/503, a reset connection, an answer slower than the client's timeout,
a body cut short, a body that is not JSON, the previous page served again, or a merely slow answer.
The known set (`Catalogue`) says which record ids and which normalised post ids a complete
collection must hold, worked out from the server's own data and the mappings' documented id forms.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from dissentry import connectors
from dissentry.config import Config, Source
from dissentry.testing.clock import FAKE_EPOCH  # noqa: F401  (kept importable here, where it was defined)
from dissentry.testing.server import Reply, Request, RunningServer, serve

# the checkout's root in a source tree (the reliability tests start `dissentry` subprocesses there)
ROOT = Path(__file__).resolve().parents[2]
# the connectors' fixtures the fake platform's posts are built from (package data, so also installed)
CONNECTORS = Path(connectors.__file__).resolve().parent
BASE_TIME = 1_700_000_000  # posts are dated from here, one second apart
REDDIT_CLIENT_ID = "fault-client-id"
REDDIT_CLIENT_SECRET = "fault-client-secret-Qx3"
REDDIT_TOKEN = "fault-token-Zr8"
REDDIT_ENV = {"DISSENTRY_REDDIT_CLIENT_ID": REDDIT_CLIENT_ID, "DISSENTRY_REDDIT_CLIENT_SECRET": REDDIT_CLIENT_SECRET}
LOOPBACK_HOST = "127.0.0.1"  # the mapping namespaces Mastodon ids by the origin's host:port (expected_ids adds it)

FAULT_KINDS = (
    "429_retry_after",
    "429_no_retry_after",
    "500",
    "502",
    "503",
    "reset",
    "timeout",
    "truncated",
    "invalid_json",
    "repeat_page",
    "slow",
)
# faults that cost no waiting in the client: the only ones a test may use when it cannot inject `sleep`
NO_WAIT_KINDS = ("repeat_page", "slow")

Json = dict[str, Any]


def _load(platform: str, name: str) -> Any:
    return json.loads((CONNECTORS / platform / "fixtures" / name).read_text(encoding="utf-8"))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


# ---- the known set ---------------------------------------------------------------------------------
@dataclass
class Feed:
    """One pageable list of one platform, newest first, and what collecting it must produce."""

    platform: str
    name: str  # Mastodon acct, Bluesky handle, reddit "u/NAME/submitted" | "u/NAME/comments" | "r/SUB/new"
    items: list[Json]
    record_ids: list[str]  # the raw record id of each item
    post_ids: list[str]  # the normalised post id of each item


@dataclass
class Catalogue:
    """Every post the server knows, by platform and feed; built deterministically from sizes."""

    mastodon: dict[str, tuple[Json, Feed]] = field(default_factory=dict)  # acct -> (Account, statuses)
    bluesky: dict[str, tuple[Json, Feed]] = field(default_factory=dict)  # handle -> (profile, feed)
    reddit: dict[str, Feed] = field(default_factory=dict)  # listing path -> children

    @property
    def feeds(self) -> list[Feed]:
        return (
            [f for _, f in self.mastodon.values()] + [f for _, f in self.bluesky.values()] + list(self.reddit.values())
        )

    def __len__(self) -> int:
        return sum(len(f.items) for f in self.feeds)


def build_catalogue(
    mastodon: list[int], bluesky: list[int], reddit_users: list[tuple[int, int]], reddit_subs: list[int]
) -> Catalogue:
    """Feeds of the given sizes; every post has a unique id and a unique, strictly ordered time."""
    status_tpl = _load("mastodon", "account_statuses_page.json")[-1]
    account_tpl = _load("mastodon", "account_lookup.json")
    feed_tpl = _load("bluesky", "getAuthorFeed_page1.json")["feed"][0]
    profile_tpl = _load("bluesky", "getProfile.json")
    t3_tpl = _load("reddit", "user_submitted.json")["data"]["children"][0]
    t1_tpl = _load("reddit", "user_comments.json")["data"]["children"][0]
    cat = Catalogue()
    serial = iter(range(1, 10_000_000))

    for i, size in enumerate(mastodon):
        acct = f"m{i}"
        account = {
            **copy.deepcopy(account_tpl),
            "id": str(109_000_000_000_000_000 + i),
            "username": acct,
            "acct": acct,
            "url": f"https://social.example/@{acct}",
        }
        statuses = []
        for _ in range(size):
            n = next(serial)
            s = copy.deepcopy(status_tpl)
            sid = str(113_500_000_000_000_000 + n)
            s |= {
                "id": sid,
                "created_at": _iso(BASE_TIME + n),
                "in_reply_to_id": None,
                "in_reply_to_account_id": None,
                "uri": f"https://social.example/users/{acct}/statuses/{sid}",
                "url": f"https://social.example/@{acct}/{sid}",
                "content": f"<p>post {n} by {acct}</p>",
                "account": account,
                "reblog": None,
            }
            s.pop("quote", None)
            statuses.append(s)
        statuses.reverse()
        ids = [s["id"] for s in statuses]
        cat.mastodon[acct] = (
            account,
            Feed("mastodon", acct, statuses, ids, [f"mastodon:{LOOPBACK_HOST}:{x}" for x in ids]),
        )

    for i, size in enumerate(bluesky):
        handle = f"b{i}.bsky.example"
        did = f"did:plc:fault{i:019d}"
        author = {**copy.deepcopy(feed_tpl["post"]["author"]), "did": did, "handle": handle}
        profile = {**copy.deepcopy(profile_tpl), "did": did, "handle": handle}
        items = []
        for _ in range(size):
            n = next(serial)
            post = copy.deepcopy(feed_tpl["post"])
            post |= {
                "uri": f"at://{did}/app.bsky.feed.post/3f{n:011d}",
                "author": author,
                "indexedAt": _iso(BASE_TIME + n),
                "record": {
                    "$type": "app.bsky.feed.post",
                    "text": f"post {n} by {handle}",
                    "createdAt": _iso(BASE_TIME + n),
                    "langs": ["en"],
                },
            }
            post.pop("embed", None)
            items.append({"post": post})
        items.reverse()
        uris = [it["post"]["uri"] for it in items]
        cat.bluesky[handle] = (profile, Feed("bluesky", handle, items, uris, [f"bluesky:{u}" for u in uris]))

    def reddit_feed(name: str, kind: str, author: str, sub: str, size: int) -> Feed:
        children = []
        for _ in range(size):
            n = next(serial)
            child = copy.deepcopy(t3_tpl if kind == "t3" else t1_tpl)
            d = child["data"]
            d |= {
                "id": _base36(n),
                "name": f"{kind}_{_base36(n)}",
                "created_utc": float(BASE_TIME + n),
                "created": float(BASE_TIME + n),
                "author": author,
                "subreddit": sub,
                "pinned": False,
                "stickied": False,
            }
            if kind == "t3":
                d |= {"title": f"post {n} by {author}", "selftext": f"text {n}", "crosspost_parent": None}
                d.pop("crosspost_parent_list", None)
            else:
                d |= {"body": f"comment {n} by {author}", "parent_id": f"t3_{_base36(n + 5_000_000)}"}
            children.append(child)
        children.reverse()
        names = [c["data"]["name"] for c in children]
        return Feed("reddit", name, children, names, [f"reddit:{x}" for x in names])

    for i, (submitted, comments) in enumerate(reddit_users):
        user = f"user_{i:03d}"
        cat.reddit[f"/user/{user}/submitted"] = reddit_feed(
            f"u/{user}/submitted", "t3", user, "faultpolitics", submitted
        )
        cat.reddit[f"/user/{user}/comments"] = reddit_feed(f"u/{user}/comments", "t1", user, "faultpolitics", comments)
    for i, size in enumerate(reddit_subs):
        sub = f"sub{i:03d}"
        cat.reddit[f"/r/{sub}/new"] = reddit_feed(f"r/{sub}/new", "t3", f"poster_{i:03d}", sub, size)
    return cat


def sources_for(
    cat: Catalogue,
    url: str,
    *,
    mastodon: list[str] | None = None,
    bluesky: list[str] | None = None,
    reddit_users: list[str] | None = None,
    reddit_subs: list[str] | None = None,
    per_account: bool = False,
) -> list[Source]:
    """One source per platform naming the chosen feeds (all of them when a list is None), or with
    `per_account` one source per account/subreddit (each commits on its own)."""
    m = list(cat.mastodon) if mastodon is None else mastodon
    b = list(cat.bluesky) if bluesky is None else bluesky
    users = (
        sorted({p.split("/")[2] for p in cat.reddit if p.startswith("/user/")})
        if reddit_users is None
        else reddit_users
    )
    subs = sorted({p.split("/")[2] for p in cat.reddit if p.startswith("/r/")}) if reddit_subs is None else reddit_subs
    if per_account:
        return (
            [s for a in m for s in sources_for(cat, url, mastodon=[a], bluesky=[], reddit_users=[], reddit_subs=[])]
            + [s for a in b for s in sources_for(cat, url, mastodon=[], bluesky=[a], reddit_users=[], reddit_subs=[])]
            + [
                s
                for u in users
                for s in sources_for(cat, url, mastodon=[], bluesky=[], reddit_users=[u], reddit_subs=[])
            ]
            + [
                s
                for r in subs
                for s in sources_for(cat, url, mastodon=[], bluesky=[], reddit_users=[], reddit_subs=[r])
            ]
        )
    out = []
    if m:
        out.append(Source(name=f"faulty-mastodon-{m[0]}-{len(m)}", platform="mastodon", instance=url, accounts=m))
    if b:
        out.append(Source(name=f"faulty-bluesky-{b[0]}-{len(b)}", platform="bluesky", instance=url, accounts=b))
    if users or subs:
        out.append(
            Source(
                name=f"faulty-reddit-{(users + subs)[0]}-{len(users + subs)}",
                platform="reddit",
                instance=url,
                accounts=users,
                options={"subreddits": subs} if subs else {},
            )
        )
    return out


def expected_ids(cat: Catalogue, sources: list[Source]) -> tuple[set[tuple[str, str]], set[str]]:
    """(platform, raw status/post record id) and normalised post ids a complete collection holds."""
    feeds: list[Feed] = []
    for source in sources:
        if source.platform == "mastodon":
            # Mastodon post ids are namespaced by the serving instance's host:port (mapping.sql)
            host = urlsplit(source.instance or "").netloc or LOOPBACK_HOST
            for feed in (cat.mastodon[a][1] for a in source.accounts):
                feeds.append(Feed(feed.platform, feed.name, feed.items, feed.record_ids,
                                  [f"mastodon:{host}:{x}" for x in feed.record_ids]))
        elif source.platform == "bluesky":
            feeds += [cat.bluesky[a][1] for a in source.accounts]
        else:
            feeds += [cat.reddit[f"/user/{u}/{what}"] for u in source.accounts for what in ("submitted", "comments")]
            feeds += [cat.reddit[f"/r/{s}/new"] for s in source.options.get("subreddits", [])]
    records = {(f.platform, r) for f in feeds for r in f.record_ids}
    posts = {p for f in feeds for p in f.post_ids}
    return records, posts


def make_config(warehouse: Path, sources: list[Source]) -> Config:
    return Config(warehouse_dir=str(warehouse), sources=sources, config_path=warehouse.parent / "dissentry.toml")


def config_toml(warehouse: Path, sources: list[Source]) -> str:
    """The same configuration as a file, for the CLI in a subprocess."""
    lines = [f"warehouse_dir = {json.dumps(str(warehouse))}", ""]
    for s in sources:
        lines += [
            "[[sources]]",
            f"name = {json.dumps(s.name)}",
            f"platform = {json.dumps(s.platform)}",
            f"instance = {json.dumps(s.instance)}",
            f"accounts = {json.dumps(s.accounts)}",
        ]
        if s.options:
            lines += ["[sources.options]", f"subreddits = {json.dumps(s.options['subreddits'])}"]
        lines.append("")
    return "\n".join(lines)


# ---- faults ----------------------------------------------------------------------------------------
@dataclass
class FaultSchedule:
    """Per request: with probability `rate` a fault of one of `kinds`, drawn from a seeded stream."""

    seed: int = 0
    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    timeout_delay: float = 0.35  # longer than the client's timeout in the tests
    max_timeouts: int = 3  # each costs real seconds; cap them so an example stays fast
    slow_delay: float = 0.03
    rng: random.Random = field(init=False)
    timeouts: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def draw(self) -> str | None:
        if not self.kinds or self.rng.random() >= self.rate:
            return None
        kind = self.rng.choice(self.kinds)
        if kind == "timeout":
            if self.timeouts >= self.max_timeouts:
                return None
            self.timeouts += 1
        return kind


@dataclass
class _Window:
    start: float = 0.0
    used: int = 0


class FaultServer:
    """The request handler: pages the catalogue, keeps rate-limit windows, injects faults."""

    def __init__(
        self,
        cat: Catalogue,
        *,
        page_size: int,
        clock: Callable[[], float] = time.time,
        window_requests: int = 300,
        window_seconds: float = 300.0,
    ) -> None:
        self.cat = cat
        self.page_size = page_size
        self.clock = clock
        self.window_requests = window_requests
        self.window_seconds = window_seconds
        self.schedule = FaultSchedule()
        self.faults: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()  # by platform
        self.over_limit: Counter[str] = Counter()  # requests sent into an exhausted window (answered 429)
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()
        self._basic = "Basic " + base64.b64encode(f"{REDDIT_CLIENT_ID}:{REDDIT_CLIENT_SECRET}".encode()).decode()
        self._by_account_id = {account["id"]: feed for account, feed in cat.mastodon.values()}

    def reset_counts(self) -> None:
        with self._lock:
            self.faults.clear()
            self.requests.clear()
            self.over_limit.clear()
            self._windows.clear()

    def __call__(self, request: Request) -> Reply:
        platform = _platform_of(request.path)
        with self._lock:
            self.requests[platform] += 1
            limit_headers, exhausted = self._count(platform)
            if exhausted:
                self.over_limit[platform] += 1
                return Reply(429, {"error": "RateLimitExceeded"}, headers=limit_headers)
            fault = self.schedule.draw()
            if fault == "repeat_page" and not _is_paged(request):
                fault = None  # nothing to repeat on the first page or a lookup: answer normally
            if fault is not None:
                self.faults[fault] += 1
            rng = self.schedule.rng
            slow = self.schedule.slow_delay
            timeout_delay = self.schedule.timeout_delay
        if fault is not None and fault.startswith("429"):
            return self._too_many(platform, fault, limit_headers, rng)
        if fault in ("500", "502", "503"):
            return Reply(int(fault), "<html><body>upstream error</body></html>", headers={"Content-Type": "text/html"})
        if fault == "reset":
            return Reply(reset=True)
        if fault == "invalid_json":
            return Reply(200, "<html><body>502 Bad Gateway</body></html>", headers=limit_headers)
        reply = self._answer(request, platform, repeat=fault == "repeat_page")
        reply.headers = {**limit_headers, **reply.headers}
        if fault == "timeout":
            reply.delay = timeout_delay
        elif fault == "slow":
            reply.delay = rng.uniform(0.001, slow)
        elif fault == "truncated":
            reply.truncate_to = rng.randrange(0, max(1, len(reply.encoded())))
        return reply

    # ---- rate limits ---------------------------------------------------------------------------
    def _count(self, platform: str) -> tuple[dict[str, str], bool]:
        now = self.clock()
        window = self._windows.setdefault(platform, _Window(now, 0))
        if now >= window.start + self.window_seconds:
            window.start, window.used = now, 0
        window.used += 1
        remaining = max(0, self.window_requests - window.used)
        reset_at = window.start + self.window_seconds
        return _limit_headers(
            platform, self.window_requests, remaining, reset_at, now
        ), window.used > self.window_requests

    def _too_many(self, platform: str, fault: str, headers: dict[str, str], rng: random.Random) -> Reply:
        now = self.clock()
        headers = {**headers, **_limit_headers(platform, self.window_requests, 0, now + rng.randint(5, 300), now)}
        if fault == "429_retry_after":
            headers["Retry-After"] = str(rng.randint(1, 120))
        return Reply(429, {"error": "Too Many Requests"}, headers=headers)

    # ---- answers -------------------------------------------------------------------------------
    def _answer(self, request: Request, platform: str, repeat: bool) -> Reply:
        path = request.path
        if platform == "mastodon":
            if path == "/api/v1/accounts/lookup":
                found = self.cat.mastodon.get(request.param("acct") or "")
                return Reply(200, found[0]) if found else Reply(404, {"error": "Record not found"})
            feed = self._by_account_id.get(path.removeprefix("/api/v1/accounts/").removesuffix("/statuses"))
            return self._mastodon_page(request, feed, repeat) if feed else Reply(404, {"error": "Record not found"})
        if platform == "bluesky":
            found = self.cat.bluesky.get(request.param("actor") or "")
            if found is None:
                return Reply(400, {"error": "InvalidRequest", "message": "Profile not found"})
            if path == "/xrpc/app.bsky.actor.getProfile":
                return Reply(200, found[0])
            if path == "/xrpc/app.bsky.feed.getAuthorFeed":
                return self._bluesky_page(request, found[1], repeat)
            return Reply(400, {"error": "InvalidRequest", "message": "unknown method"})
        return self._reddit(request, repeat)

    def _limit(self, request: Request) -> int:
        return max(1, min(int(request.param("limit") or self.page_size), self.page_size))

    def _mastodon_page(self, request: Request, feed: Feed, repeat: bool) -> Reply:
        items, limit = feed.items, self._limit(request)
        max_id, min_id = request.param("max_id"), request.param("min_id")
        if min_id:
            newer = [s for s in items if int(s["id"]) > int(min_id)]
            return Reply(200, newer[-limit:])
        start = 0
        if max_id:
            start = next((i for i, s in enumerate(items) if int(s["id"]) < int(max_id)), len(items))
            if repeat:  # the page that ended at max_id, whose next link points at max_id again
                start = max(0, start - limit)
        page = items[start : start + limit]
        headers = {}
        if page and start + limit < len(items):
            host = request.headers.get("Host", "")
            headers["Link"] = f'<http://{host}{request.path}?limit={limit}&max_id={page[-1]["id"]}>; rel="next"'
        return Reply(200, page, headers=headers)

    def _bluesky_page(self, request: Request, feed: Feed, repeat: bool) -> Reply:
        limit = self._limit(request)
        start = int(request.param("cursor") or 0)
        if repeat:
            start = max(0, start - limit)
        page = feed.items[start : start + limit]
        body: Json = {"feed": page}
        if start + limit < len(feed.items):
            body["cursor"] = str(start + limit)
        return Reply(200, body)

    def _reddit(self, request: Request, repeat: bool) -> Reply:
        if request.path == "/api/v1/access_token":
            form = request.query | parse_qs(request.body.decode())
            if request.method != "POST" or request.headers.get("Authorization") != self._basic:
                return Reply(401, {"message": "Unauthorized", "error": 401})
            if form.get("grant_type") != ["client_credentials"]:
                return Reply(200, {"error": "unsupported_grant_type"})
            return Reply(200, {"access_token": REDDIT_TOKEN, "token_type": "bearer", "expires_in": 86400, "scope": "*"})
        if request.headers.get("Authorization") != f"bearer {REDDIT_TOKEN}":
            return Reply(401, {"message": "Unauthorized", "error": 401})
        feed = self.cat.reddit.get(request.path)
        if feed is None:
            return Reply(404, {"message": "Not Found", "error": 404})
        limit, after = self._limit(request), request.param("after")
        names = feed.record_ids
        start = names.index(after) + 1 if after in names else 0
        if repeat and after:
            start = max(0, start - limit)
        page = feed.items[start : start + limit]
        more = start + limit < len(feed.items)
        return Reply(
            200,
            {
                "kind": "Listing",
                "data": {
                    "after": page[-1]["data"]["name"] if more and page else None,
                    "dist": len(page),
                    "children": page,
                    "before": None,
                },
            },
        )


def _platform_of(path: str) -> str:
    if path.startswith("/api/v1/accounts"):
        return "mastodon"
    if path.startswith("/xrpc/"):
        return "bluesky"
    return "reddit"


def _is_paged(request: Request) -> bool:
    return any(request.param(p) for p in ("max_id", "cursor", "after"))


def _limit_headers(platform: str, limit: int, remaining: int, reset_at: float, now: float) -> dict[str, str]:
    if platform == "mastodon":
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": _iso(reset_at),
        }
    if platform == "bluesky":
        return {
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(int(reset_at + 0.999)),
            "RateLimit-Policy": f"{limit};w=300",
        }
    return {
        "x-ratelimit-remaining": f"{remaining:.1f}",
        "x-ratelimit-reset": str(int(reset_at - now + 0.999)),
        "x-ratelimit-used": str(limit - remaining),
    }


@contextmanager
def serve_faults(handler: FaultServer) -> Iterator[RunningServer]:
    """`serve` with Nagle's algorithm off: the stock handler writes headers and body separately, and
    Nagle plus delayed ACKs would add ~40 ms to every answer (Linux sockets inherit TCP_NODELAY
    from the listening socket)."""
    with serve(handler) as running:
        running.server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        yield running
