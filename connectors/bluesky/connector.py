"""Bluesky: account feeds and profiles from the public AppView, search through an app-password session.

API (lexicons in bluesky-social/atproto, `lexicons/app/bsky/...`):
- `app.bsky.actor.getProfile?actor=` -> ProfileViewDetailed          -> record_type "profile" (id: did)
- `app.bsky.feed.getAuthorFeed?actor=&filter=posts_with_replies`     -> FeedViewPost items
                                                                      -> record_type "feed_item"
- `app.bsky.feed.searchPosts?q=&sort=latest&since=`                  -> PostView items -> record_type "post"
- `com.atproto.server.createSession` (POST {identifier, password})   -> accessJwt for searchPosts

Incremental collection. getAuthorFeed pages newest first with an opaque cursor and has no `since`
parameter, so each target (an account feed, a search query) remembers the newest sort key it has
committed and a run stops paging when it reaches items at or older than that key. The sort key is the
AppView's own `sortAt`: for a post the earlier of `record.createdAt` and `indexedAt` (so keys follow
the order the server pages in), for a repost the reason's `indexedAt`. The cursor per target is
`{"newest": key}` when idle and `{"newest": key, "pending": {"cursor": opaque, "run_newest": key}}`
while paging; `newest` moves to `run_newest` only once the target's paging has finished, so a run
that dies halfway resumes from the pending page next time and loses nothing. A run that resumes
finishes the pending pass, then makes a fresh pass from the top for what arrived meanwhile.

Search needs a session: the PDS issues the access token, so searchPosts is sent to the PDS (which
proxies it to the AppView), and the account feeds, which need no auth, are fetched before logging in
so the token never goes to the public AppView. Credentials come from the secrets lookup only (the
environment on the command line, an Airflow Connection for `token_env` under Airflow):
DISSENTRY_BLUESKY_HANDLE and DISSENTRY_BLUESKY_APP_PASSWORD (or the variable named by the source's
`token_env`); DISSENTRY_BLUESKY_PDS overrides the PDS (default https://bsky.social). The password and
the token never enter a record, a locator, a log line or an exception message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from dissentry.connectors.base import Connector, Page, RawRecord, Reject, TargetCursor, json_excerpt
from dissentry.connectors.exports import read_json_items
from dissentry.connectors.http import (
    BudgetExhausted,
    Documented,
    HttpClient,
    HttpError,
    RateLimit,
    header_number,
    redact_url,
)
from dissentry.secrets import ENVIRONMENT, SecretLookup

if TYPE_CHECKING:
    from dissentry.connectors.base import Source

PUBLIC_APPVIEW = "https://public.api.bsky.app"
DEFAULT_PDS = "https://bsky.social"
HANDLE_ENV = "DISSENTRY_BLUESKY_HANDLE"
PASSWORD_ENV = "DISSENTRY_BLUESKY_APP_PASSWORD"
PDS_ENV = "DISSENTRY_BLUESKY_PDS"
API_PAGE_LIMIT = 100  # the lexicons' maximum for getAuthorFeed and searchPosts
REASON_REPOST = "app.bsky.feed.defs#reasonRepost"
REASON_PIN = "app.bsky.feed.defs#reasonPin"

Json = dict[str, Any]


class MissingCredentialsError(ValueError):
    """Search was asked for but no app password is configured in the environment."""


class BlueskyAuthError(HttpError):
    """The PDS refused to open a session with the configured app password."""


# ---- rate limits --------------------------------------------------------------------------------
def bluesky_rate_limit(headers: httpx.Headers, now: float) -> RateLimit:
    """Bluesky's `RateLimit-Remaining` and `RateLimit-Reset` (epoch seconds, set by atproto's
    xrpc-server); a small Reset is read as delta seconds, the IETF draft's form, in case a
    self-hosted service follows the draft instead."""
    remaining = header_number(headers.get("RateLimit-Remaining"))
    reset = header_number(headers.get("RateLimit-Reset"))
    if reset is not None and reset < 1e9:
        reset = now + reset
    # RateLimit-Policy: "3000;w=300" is the window's size and length
    window = None
    for part in (headers.get("RateLimit-Policy") or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key == "w":
            window = header_number(value)
    return RateLimit(remaining, reset, header_number(headers.get("RateLimit-Limit")), window)


# ---- the platform's shapes ----------------------------------------------------------------------
def sort_key(value: Any) -> str | None:
    """An AT Protocol datetime as a fixed-width UTC string, so keys compare as strings."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        # OverflowError: an offset that carries year 1 or 9999 out of range ('0001-01-01T00:00:00+01:00'),
        # which used to stop the whole file; it is no valid datetime, so the record is rejected
        return parsed.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    except (ValueError, OverflowError):
        return None


def _is_did(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("did:")


# where a PostView and its record hold the at-uri of a quoted post (the paths mapping.sql reads)
_QUOTED_URI_PATHS = (("embed", "record", "uri"), ("embed", "record", "record", "uri"),
                     ("record", "embed", "record", "uri"), ("record", "embed", "record", "record", "uri"))
_POST_AT_URI = re.compile(r"^at://[^/]+/app\.bsky\.feed\.post/")
# AT Protocol record key syntax (atproto.com/specs/record-key): the mapping matches the quoted
# post's bsky.app link by its record key, so one that is not a key is refused here
_RECORD_KEY = re.compile(r"^[A-Za-z0-9._:~-]{1,512}$")


def _quoted_uri_problem(post: Json) -> str | None:
    for path in _QUOTED_URI_PATHS:
        value: Any = post
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        match = _POST_AT_URI.match(value) if isinstance(value, str) else None
        if match:
            rkey = value[match.end():]
            if not _RECORD_KEY.match(rkey) or rkey in (".", ".."):
                return f"{'.'.join(path)} {value[:200]!r} does not end in a record key"
    return None


def _reason_type(item: Json) -> str | None:
    reason = item.get("reason")
    return reason.get("$type") if isinstance(reason, dict) else None


def post_view_problem(post: Any) -> str | None:
    """Why a PostView cannot be used, or None."""
    if not isinstance(post, dict):
        return "the post is not a JSON object"
    uri = post.get("uri")
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return "the post has no at:// uri"
    author = post.get("author")
    if not isinstance(author, dict) or not _is_did(author.get("did")):
        return "the post has no author.did"
    if not isinstance(post.get("record"), dict):
        return "the post has no record"
    if sort_key(post.get("indexedAt")) is None:
        return _date_problem("the post", post.get("indexedAt"))
    return _quoted_uri_problem(post)


def _date_problem(what: str, value: Any) -> str:
    if value is None:
        return f"{what} has no valid indexedAt"
    return f"{what}'s indexedAt {json_excerpt(value)[:80]} is not a valid date and time"


def feed_item_problem(item: Any) -> str | None:
    """Why a FeedViewPost cannot be used, or None."""
    if not isinstance(item, dict):
        return "the feed item is not a JSON object"
    if "post" not in item:
        return "the feed item has no post"
    problem = post_view_problem(item["post"])
    if problem:
        return problem
    if _reason_type(item) == REASON_REPOST:
        reason = item["reason"]
        by = reason.get("by")
        if not isinstance(by, dict) or not _is_did(by.get("did")):
            return "the repost reason has no by.did"
        if sort_key(reason.get("indexedAt")) is None:
            return _date_problem("the repost reason", reason.get("indexedAt"))
    return None


def profile_problem(profile: Any) -> str | None:
    if not isinstance(profile, dict):
        return "the profile is not a JSON object"
    if not _is_did(profile.get("did")):
        return "the profile has no did"
    if not isinstance(profile.get("handle"), str) or not profile["handle"]:
        return "the profile has no handle"
    return None


def feed_item_id(item: Json) -> str:
    """The post's at-uri; for a repost the repost record's at-uri, or a stable stand-in when the
    AppView leaves the (optional) reason.uri out."""
    post_uri: str = item["post"]["uri"]
    if _reason_type(item) != REASON_REPOST:
        return post_uri
    reason = item["reason"]
    uri = reason.get("uri")
    if isinstance(uri, str) and uri.startswith("at://"):
        return uri
    return f"repost:{reason['by']['did']}:{post_uri}"


def post_sort_key(post: Json) -> str | None:
    """The AppView's sortAt for a post: the earlier of createdAt and indexedAt."""
    record = post.get("record") if isinstance(post.get("record"), dict) else {}
    keys = [k for k in (sort_key(post.get("indexedAt")), sort_key(record.get("createdAt"))) if k]
    return min(keys) if keys else None


def feed_item_sort_key(item: Json) -> str | None:
    reason_type = _reason_type(item)
    if reason_type == REASON_PIN:
        return None  # a pinned post sits on top whatever its age: it says nothing about paging
    if reason_type == REASON_REPOST:
        return sort_key(item["reason"].get("indexedAt"))
    return post_sort_key(item["post"])


@dataclass(frozen=True)
class _Kind:
    record_type: str
    problem: Callable[[Any], str | None]
    record_id: Callable[[Json], str]
    key: Callable[[Json], str | None]


FEED_ITEM = _Kind("feed_item", feed_item_problem, feed_item_id, feed_item_sort_key)
POST = _Kind("post", post_view_problem, lambda post: post["uri"], post_sort_key)
PROFILE = _Kind("profile", profile_problem, lambda profile: profile["did"], lambda profile: None)


def _to_record(kind: _Kind, obj: Any, origin: str, locator: str) -> RawRecord | Reject:
    problem = kind.problem(obj)
    if problem:
        return Reject(locator, f"bluesky {kind.record_type} rejected: {problem}", json_excerpt(obj))
    return RawRecord.from_json(kind.record_type, kind.record_id(obj), obj, origin, locator)


# ---- collection ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Target:
    key: str  # name of this target in the cursor
    url: str
    params: dict[str, str]
    items_field: str  # "feed" or "posts"
    kind: _Kind
    origin: str
    use_since: bool  # searchPosts filters by sortAt server side; getAuthorFeed cannot


Fetch = Callable[[str, dict[str, str]], tuple[Any, httpx.Response]]


@dataclass(frozen=True)
class _Credentials:
    identifier: str
    password: str = ""
    password_env: str = PASSWORD_ENV
    pds: str = DEFAULT_PDS

    def __repr__(self) -> str:  # never print the password, even in a traceback's locals
        return f"_Credentials(identifier={self.identifier!r}, password_env={self.password_env!r}, pds={self.pds!r})"


def _credentials(source: Source, secrets: SecretLookup) -> _Credentials:
    password_env = source.token_env or PASSWORD_ENV
    identifier = secrets(HANDLE_ENV).strip().lstrip("@")
    password = secrets(password_env).strip()
    missing = [name for name, value in ((HANDLE_ENV, identifier), (password_env, password)) if not value]
    if missing:
        raise MissingCredentialsError(
            f"bluesky source {source.name!r}: searching posts (query/hashtags) needs an app-password session "
            f"(searchPosts answers 403 without one), but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set; create an app password in Bluesky "
            f"(Settings > Privacy and security > App passwords) and export {HANDLE_ENV} and {password_env}"
        )
    pds = secrets(PDS_ENV).strip().rstrip("/") or DEFAULT_PDS
    return _Credentials(identifier, password, password_env, pds)


class _Session:
    """An app-password session; the access token only ever lives in the client's headers."""

    def __init__(self, http: HttpClient, credentials: _Credentials) -> None:
        self._http = http
        self._credentials = credentials
        self.pds = credentials.pds

    def login(self) -> None:
        creds = self._credentials
        url = f"{creds.pds}/xrpc/com.atproto.server.createSession"
        try:
            data, _ = self._http.request_json(
                "POST", url, json_body={"identifier": creds.identifier, "password": creds.password}
            )
        except BudgetExhausted:
            raise
        except HttpError as exc:
            raise BlueskyAuthError(
                f"bluesky: {url} did not open a session for {creds.identifier!r} with the app password in "
                f"{creds.password_env} (HTTP {exc.status_code or 'error'}); check {HANDLE_ENV} and "
                f"{creds.password_env}",
                exc.status_code,
            ) from None
        token = data.get("accessJwt") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise BlueskyAuthError(f"bluesky: {url} answered without an accessJwt")
        self._http.set_header("Authorization", f"Bearer {token}")

    def get(self, url: str, params: dict[str, str]) -> tuple[Any, httpx.Response]:
        try:
            return self._http.get_json(url, params)
        except HttpError as exc:
            # access tokens live minutes to hours: a long search outlives one, so log in again once
            if exc.status_code in (400, 401) and "ExpiredToken" in str(exc):
                self.login()
                return self._http.get_json(url, params)
            raise


def _search_queries(source: Source) -> list[str]:
    queries = [source.query] if source.query else []
    queries += [f"#{tag.strip().lstrip('#')}" for tag in source.hashtags if tag.strip().lstrip("#")]
    return queries


class BlueskyConnector(Connector):
    platform: ClassVar[str] = "bluesky"
    mapping_file: ClassVar[Path] = Path(__file__).with_name("mapping.sql")

    def http_client_options(self, source: Source, secrets: SecretLookup = ENVIRONMENT) -> dict[str, Any]:
        # the public AppView's documented limit, paced by only when the server sends no headers
        return {"rate_limit_parser": bluesky_rate_limit, "documented_limit": Documented(3000, 300.0)}

    def collect(self, source: Source, cursor: dict[str, Any] | None, http: HttpClient,
                secrets: SecretLookup = ENVIRONMENT) -> Iterator[Page]:
        base = (source.instance or PUBLIC_APPVIEW).rstrip("/")
        queries = _search_queries(source)
        credentials = _credentials(source, secrets) if queries else None  # fail before any request
        state = TargetCursor(cursor)
        # account feeds first: they need no auth, and once the session header is set every later
        # request carries it
        for account in source.accounts:
            actor = account.strip().lstrip("@")
            if actor:
                yield from self._collect_account(base, actor, state, http)
        if credentials is not None:
            session = _Session(http, credentials)
            session.login()
            for query in queries:
                target = _Target(
                    key=f"search:{query}",
                    url=f"{session.pds}/xrpc/app.bsky.feed.searchPosts",
                    params={"q": query, "sort": "latest", "limit": str(API_PAGE_LIMIT)},
                    items_field="posts",
                    kind=POST,
                    origin=session.pds,
                    use_since=True,
                )
                yield from self._collect_target(target, state, session.get)

    def _collect_account(self, base: str, actor: str, state: TargetCursor, http: HttpClient) -> Iterator[Page]:
        url = f"{base}/xrpc/app.bsky.actor.getProfile"
        try:
            data, response = http.get_json(url, {"actor": actor})
        except BudgetExhausted:
            raise
        except HttpError as exc:
            if exc.status_code != 400:  # 400: no such actor, or a bad handle; the other accounts go on
                raise
            locator = redact_url(httpx.URL(url, params={"actor": actor}))
            yield Page(rejects=[Reject(locator, f"bluesky account {actor!r} skipped: {exc}")], cursor=state.snapshot())
            return
        locator = redact_url(response.request.url)
        yield _page_of([_to_record(PROFILE, data, base, locator)], state.snapshot())
        target = _Target(
            key=f"feed:{actor.lower()}",
            url=f"{base}/xrpc/app.bsky.feed.getAuthorFeed",
            params={"actor": actor, "limit": str(API_PAGE_LIMIT), "filter": "posts_with_replies"},
            items_field="feed",
            kind=FEED_ITEM,
            origin=base,
            use_since=False,
        )
        yield from self._collect_target(target, state, http.get_json)

    def _collect_target(self, target: _Target, state: TargetCursor, fetch: Fetch) -> Iterator[Page]:
        resumed = "pending" in state.get(target.key)
        yield from self._one_pass(target, state, fetch)
        if resumed:  # the pending pass covered the past; now what arrived while it waited
            yield from self._one_pass(target, state, fetch)

    def _one_pass(self, target: _Target, state: TargetCursor, fetch: Fetch) -> Iterator[Page]:
        current = state.get(target.key)
        newest: str | None = current.get("newest")
        pending = current.get("pending") if isinstance(current.get("pending"), dict) else {}
        api_cursor: str | None = pending.get("cursor")
        run_newest: str | None = pending.get("run_newest", newest)
        while True:
            params = dict(target.params)
            if api_cursor:
                params["cursor"] = api_cursor
            if target.use_since and newest:
                params["since"] = newest
            data, response = fetch(target.url, params)
            locator = redact_url(response.request.url)
            items = data.get(target.items_field) if isinstance(data, dict) else None
            if not isinstance(items, list):
                # a broken answer: fail the run so the pending cursor stays where it was
                raise HttpError(f"{locator}: the answer has no {target.items_field!r} list")
            page = Page()
            reached_known = False
            for item in items:
                out = _to_record(target.kind, item, target.origin, locator)
                if isinstance(out, Reject):
                    page.rejects.append(out)
                    continue
                key = target.kind.key(item)
                if key is not None and newest is not None and key <= newest:
                    reached_known = True  # pages run newest first: the rest was committed before
                    continue
                page.records.append(out)
                if key is not None and (run_newest is None or key > run_newest):
                    run_newest = key
            next_cursor = data.get("cursor")
            if not reached_known and items and api_cursor and next_cursor == api_cursor:
                # the previous page served again: ending the pass here would lose everything older
                # and move `newest` past it, so fail the run; the pending cursor resumes at this page
                raise HttpError(f"{locator}: the server answered with a page it served before (its cursor did "
                                f"not move on); the next run resumes here")
            done = reached_known or not items or not isinstance(next_cursor, str) or not next_cursor
            if done:
                state.set(target.key, {"newest": run_newest})
            else:
                state.set(target.key, {"newest": newest, "pending": {"cursor": next_cursor, "run_newest": run_newest}})
            page.cursor = state.snapshot()
            yield page
            if done:
                return
            api_cursor = next_cursor

    # ---- imports --------------------------------------------------------------------------------
    def read_export(self, path: Path, source: Source | None) -> Iterator[Page]:
        path = Path(path)
        origin = ((source.instance if source is not None else None) or PUBLIC_APPVIEW).rstrip("/")
        yield from read_json_items(path, _flatten, lambda kind, item, locator: _to_record(kind, item, origin, locator),
                                   _not_bluesky_message, "not a Bluesky feed item, post view or profile")


def _add(page: Page, out: RawRecord | Reject) -> None:
    if isinstance(out, Reject):
        page.rejects.append(out)
    else:
        page.records.append(out)


def _page_of(outs: list[RawRecord | Reject], cursor: dict[str, Any] | None) -> Page:
    page = Page(cursor=cursor)
    for out in outs:
        _add(page, out)
    return page


def classify(obj: Any) -> _Kind | None:
    """Which Bluesky view a standalone JSON object is, by its required fields."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("post"), dict):
        return FEED_ITEM
    if "uri" in obj and "record" in obj and "author" in obj:
        return POST
    if "did" in obj and "handle" in obj and "record" not in obj:
        return PROFILE
    return None


def _flatten(locator: str, value: Any, depth: int = 0) -> Iterator[tuple[str, Any, _Kind | None]]:
    """Records inside one top-level value: an API page, a list, or a single view."""
    if isinstance(value, list) and depth < 2:
        for index, element in enumerate(value):
            yield from _flatten(f"{locator}[{index}]", element, depth + 1)
    elif isinstance(value, dict) and isinstance(value.get("feed"), list) and "post" not in value:
        for index, element in enumerate(value["feed"]):  # getAuthorFeed / getTimeline page
            yield f"{locator}.feed[{index}]", element, FEED_ITEM
    elif isinstance(value, dict) and isinstance(value.get("posts"), list) and "uri" not in value:
        for index, element in enumerate(value["posts"]):  # searchPosts / getPosts page
            yield f"{locator}.posts[{index}]", element, POST
    else:
        yield locator, value, classify(value)


def _not_bluesky_message(path: Path, obj: Any) -> str:
    if isinstance(obj, dict) and "content" in obj and "account" in obj:
        return f"{path}: not a Bluesky export: its first record looks like a Mastodon status (import it as mastodon)"
    if isinstance(obj, dict) and "acct" in obj:
        return f"{path}: not a Bluesky export: its first record looks like a Mastodon account (import it as mastodon)"
    if isinstance(obj, dict):
        keys = ", ".join(sorted(obj)[:8])
        return (f"{path}: not a Bluesky export: its first record is neither a feed item, a post view nor a "
                f"profile (keys: {keys})")
    return f"{path}: not a Bluesky export: its first record is a JSON {type(obj).__name__}, not an object"
