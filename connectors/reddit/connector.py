"""Reddit: users' submissions and comments and subreddits' new posts, through the OAuth API.

API (www.reddit.com/dev/api; reddit-archive/reddit `r2/controllers/listingcontroller.py`, `oauth2.py`):
- `POST {token host}/api/v1/access_token` (form body `grant_type=client_credentials`) with HTTP basic auth
  `client_id:client_secret` -> `{access_token, token_type: "bearer", expires_in, scope}`: an
  application-only ("signed out") token. reddit's validators read `grant_type` from the form body or
  the query string; the shared HttpClient sends no form bodies, so it goes in the query string.
- `GET {api}/user/NAME/submitted`, `/user/NAME/comments` (`sort=new`) and `/r/SUB/new`, each with
  `limit=100`, `raw_json=1` (no HTML-entity escaping of `<`, `>`, `&` in text) and `after=<fullname>`
  -> `{"kind": "Listing", "data": {"after", "before", "dist", "children": [{"kind": "t3"|"t1", "data"}]}}`,
  newest first. A raw record is one child's `data`, record_type its kind, record_id its fullname.
Every request names the client in a descriptive User-Agent, as reddit's API rules require; they ask
for `<platform>:<app ID>:<version> (by /u/<username>)`, so operators set `options.user_agent` with
their own username.
Rate limits: `x-ratelimit-remaining` (a float, "598.0"), `x-ratelimit-used` and `x-ratelimit-reset`
(seconds until the window resets); a 429 carries no Retry-After, so the client waits until reset.

Credentials: the app's client id comes from DISSENTRY_REDDIT_CLIENT_ID (or `options.client_id`: an
id is no secret) and its secret only from DISSENTRY_REDDIT_CLIENT_SECRET, never from the config
file. The secret and the token live only in the HTTP client's headers: never in a record, a
locator, a cursor or an error.

Incremental collection. Listings page newest first by `after` and have no "since" parameter, so each
target (`u/NAME/submitted`, `u/NAME/comments`, `r/SUB/new`) remembers the newest item it committed,
`{"created_utc", "name"}`, and a pass stops paging at items at or older than that. While paging, the
target's state carries `pending: {after, run_newest, walked}`; `newest` moves to `run_newest` only when
the pass ends, so a run that dies halfway resumes at `pending.after` and loses nothing; after finishing
a resumed pass it makes a fresh pass from the top for what arrived meanwhile. reddit serves at most
about 1000 items of any listing: a pass that walked that many without reaching known items marks its
last page `cap_hit` (older items exist that reddit will not list).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict

from dissentry.connectors.base import Connector, Page, RawRecord, Reject, TargetCursor, json_excerpt, json_type_name
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

API_BASE = "https://oauth.reddit.com"
TOKEN_HOST = "https://www.reddit.com"
CLIENT_ID_ENV = "DISSENTRY_REDDIT_CLIENT_ID"
CLIENT_SECRET_ENV = "DISSENTRY_REDDIT_CLIENT_SECRET"
USER_AGENT = "python:dissentry:0.1 (research data collection; +https://github.com/dissentry/dissentry)"
PAGE_LIMIT = 100  # the documented maximum for listings
LISTING_CAP = 1000  # reddit lists no further back than about this many items
KINDS = ("t1", "t3")  # comment, link (submission)

Json = dict[str, Any]
_USERNAME = re.compile(r"^[A-Za-z0-9_-]{3,20}$")
_SUBREDDIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{1,20}$")
_FULLNAME = re.compile(r"^(t[13])_([0-9a-z]+)$")


class MissingCredentialsError(ValueError):
    """No reddit app credentials in the environment or the source's options."""


class RedditAuthError(HttpError):
    """reddit refused the app-only token for the configured client id and secret."""


class RedditOptions(BaseModel):
    """`options` of a reddit source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subreddits: list[str] = []
    client_id: str | None = None
    token_host: str | None = None  # where /api/v1/access_token lives (default www.reddit.com)
    user_agent: str | None = None


# ---- rate limits --------------------------------------------------------------------------------
def reddit_rate_limit(headers: httpx.Headers, now: float) -> RateLimit:
    """`x-ratelimit-remaining` ("598.0") and `x-ratelimit-reset` (seconds until the window resets)."""
    remaining = header_number(headers.get("x-ratelimit-remaining"))
    reset = header_number(headers.get("x-ratelimit-reset"))
    used = header_number(headers.get("x-ratelimit-used"))
    limit = used + remaining if used is not None and remaining is not None else None
    return RateLimit(remaining, now + reset if reset is not None else None, limit)


# ---- the platform's shapes ----------------------------------------------------------------------
# the seconds the mapping's to_timestamp turns into a date: 0001-01-01 to 9999-12-31 (UTC)
_EARLIEST_EPOCH = -62_135_596_800
_LATEST_EPOCH = 253_402_214_400
def _created(data: Json) -> float | None:
    value = data.get("created_utc")
    if isinstance(value, bool):
        return None
    try:
        return float(value) if isinstance(value, int | float | str) else None
    except ValueError:
        return None


def fullname_of(kind: str, data: Json) -> str | None:
    """`t3_abc`: the thing's `name`, or its kind and `id` in dumps that leave `name` out."""
    name = data.get("name")
    if isinstance(name, str) and _FULLNAME.match(name) and name.startswith(kind + "_"):
        return name
    thing_id = data.get("id")
    if isinstance(thing_id, str) and re.fullmatch(r"[0-9a-z]+", thing_id):
        return f"{kind}_{thing_id}"
    return None


def thing_problem(kind: str, data: Any) -> str | None:
    """Why a t1/t3 `data` object cannot be used (as deep as the mapping reads it), or None."""
    if not isinstance(data, dict):
        return f"the {kind} data is {json_type_name(data)}, not an object"
    if fullname_of(kind, data) is None:
        return f"the {kind} has no usable name or id"
    created = _created(data)
    if created is None:
        return f"the {kind} has no numeric created_utc"
    if not _EARLIEST_EPOCH <= created < _LATEST_EPOCH:  # NaN fails both comparisons
        return (f"the {kind}'s created_utc {str(data.get('created_utc'))[:40]!r} is out of range "
                "(0001-01-01 to 9999-12-30, UTC)")
    if not isinstance(data.get("author"), str):
        return f"the {kind} has no author"
    if kind == "t3" and not isinstance(data.get("title"), str):
        return "the submission has no title"
    if kind == "t1":
        if not isinstance(data.get("body"), str):
            return "the comment has no body"
        if not isinstance(data.get("parent_id"), str) or not _FULLNAME.match(data["parent_id"]):
            return "the comment has no t1_/t3_ parent_id"
    return None


def sort_key(data: Json) -> tuple[float, int]:
    """Listing order: creation second, then the base-36 id (ids grow with time within a kind)."""
    created = _created(data) or 0.0
    match = _FULLNAME.match(str(data.get("name") or ""))
    return created, int(match.group(2), 36) if match else 0


def _mark(data: Json) -> Json:
    return {"created_utc": _created(data), "name": data.get("name")}


def _mark_key(mark: Any) -> tuple[float, int] | None:
    return sort_key(mark) if isinstance(mark, dict) and mark.get("created_utc") is not None else None


def _to_record(kind: str, data: Any, origin: str, locator: str) -> RawRecord | Reject:
    problem = thing_problem(kind, data)
    if problem:
        return Reject(locator, f"reddit {kind} rejected: {problem}", json_excerpt(data))
    return RawRecord.from_json(kind, fullname_of(kind, data) or "", data, origin, locator)


# ---- credentials --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Credentials:
    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # never print the secret, even in a traceback's locals
        return f"_Credentials(client_id={self.client_id!r})"


def _credentials(source: Source, options: RedditOptions, secrets: SecretLookup) -> _Credentials:
    client_id = (options.client_id or secrets(CLIENT_ID_ENV)).strip()
    client_secret = secrets(CLIENT_SECRET_ENV).strip()
    missing = [name for name, value in ((CLIENT_ID_ENV, client_id), (CLIENT_SECRET_ENV, client_secret)) if not value]
    if missing:
        raise MissingCredentialsError(
            f"reddit source {source.name!r}: the reddit API needs an app's client id and secret, but "
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set; create a 'script' app at "
            f"https://www.reddit.com/prefs/apps and export {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV}"
        )
    return _Credentials(client_id, client_secret)


def _is_reddit_host(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "reddit.com" or host.endswith(".reddit.com")


def _token_host(source: Source, options: RedditOptions) -> str:
    """options.token_host; else a non-reddit `instance` (a proxy or test server serves its own
    token endpoint); else www.reddit.com."""
    if options.token_host:
        return options.token_host.rstrip("/")
    if source.instance and not _is_reddit_host(source.instance):
        return source.instance.rstrip("/")
    return TOKEN_HOST


_REFUSED = (400, 401, 403)
"""What the token endpoint answers to credentials it does not accept (a wrong id or secret, an
app of the wrong type); any other failure is the server's, and says so."""


class _Session:
    """The app-only token; it only ever lives in the client's Authorization header."""

    def __init__(self, http: HttpClient, credentials: _Credentials, token_host: str) -> None:
        self._http = http
        self._credentials = credentials
        self._url = f"{token_host}/api/v1/access_token"

    def login(self) -> None:
        creds = self._credentials
        basic = base64.b64encode(f"{creds.client_id}:{creds.client_secret}".encode()).decode()
        self._http.set_header("Authorization", f"Basic {basic}")
        try:
            data, _ = self._http.request_json("POST", self._url, form={"grant_type": "client_credentials"})
        except BudgetExhausted:
            raise
        except HttpError as exc:
            if exc.status_code not in _REFUSED:  # the server failed (after retries): not the credentials
                raise
            raise RedditAuthError(
                f"reddit: {self._url} refused an app-only token for client id {creds.client_id!r} "
                f"(HTTP {exc.status_code or 'error'}); check {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV}",
                exc.status_code,
            ) from None
        finally:
            self._http.set_header("Authorization", "")  # the basic credentials go to the token host only
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            error = data.get("error") if isinstance(data, dict) else None
            raise RedditAuthError(f"reddit: {self._url} answered without an access_token (error: {error!r}); "
                                  f"the app must be a confidential ('script' or 'web') app")
        self._http.set_header("Authorization", f"bearer {token}")

    def get(self, url: str, params: dict[str, str]) -> tuple[Any, httpx.Response]:
        try:
            return self._http.get_json(url, params)
        except HttpError as exc:
            # app-only tokens expire after a day: a run held up by rate-limit waits may outlive one
            if exc.status_code != 401:
                raise
            self.login()
            return self._http.get_json(url, params)


# ---- collection ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Target:
    key: str  # name of this target in the cursor
    path: str  # below the API base
    params: dict[str, str]
    kind: str  # the kind of thing the listing holds
    what: str  # for messages: "user u/alice", "subreddit r/politics"


def _username(handle: str) -> str:
    name = handle.strip().lstrip("@").lstrip("/")
    for prefix in ("u/", "user/"):
        if name.lower().startswith(prefix):
            name = name[len(prefix):]
    return name.rstrip("/")


def _subreddit(name: str) -> str:
    name = name.strip().lstrip("/")
    if name.lower().startswith("r/"):
        name = name[2:]
    return name.rstrip("/")


def targets_for(source: Source, options: RedditOptions) -> list[_Target]:
    out: list[_Target] = []
    for handle in source.accounts:
        name = _username(handle)
        if not _USERNAME.match(name):
            raise ValueError(f"reddit source {source.name!r}: {handle!r} is not a reddit username "
                             f"(3-20 letters, digits, '_' or '-'; 'u/name' or 'name')")
        quoted = quote(name, safe="")
        for listing, kind in (("submitted", "t3"), ("comments", "t1")):
            out.append(_Target(f"u/{name.lower()}/{listing}", f"/user/{quoted}/{listing}", {"sort": "new"}, kind,
                               f"user u/{name}"))
    for sub in options.subreddits:
        name = _subreddit(sub)
        if not _SUBREDDIT.match(name):
            raise ValueError(f"reddit source {source.name!r}: options.subreddits: {sub!r} is not a subreddit name "
                             f"('politics' or 'r/politics')")
        out.append(_Target(f"r/{name.lower()}/new", f"/r/{quote(name, safe='')}/new", {}, "t3", f"subreddit r/{name}"))
    return out


Fetch = Callable[[str, dict[str, str]], tuple[Any, httpx.Response]]


def _listing_children(body: Any) -> list[Any] | None:
    if not isinstance(body, dict) or body.get("kind") != "Listing" or not isinstance(body.get("data"), dict):
        return None
    children = body["data"].get("children")
    return children if isinstance(children, list) else None


class RedditConnector(Connector):
    platform: ClassVar[str] = "reddit"
    mapping_file: ClassVar[Path] = Path(__file__).with_name("mapping.sql")
    Options: ClassVar[type[BaseModel]] = RedditOptions

    def http_client_options(self, source: Source, secrets: SecretLookup = ENVIRONMENT) -> dict[str, Any]:
        options: RedditOptions = self.options(source)
        # documented: 100 queries a minute averaged over 10 minutes; paced at 600 per 10 minutes (60 a
        # minute, the older and safer figure) only when the server sends no headers
        return {"headers": {"User-Agent": options.user_agent or USER_AGENT}, "rate_limit_parser": reddit_rate_limit,
                "documented_limit": Documented(600, 600.0)}

    def collect(self, source: Source, cursor: dict[str, Any] | None, http: HttpClient,
                secrets: SecretLookup = ENVIRONMENT) -> Iterator[Page]:
        options: RedditOptions = self.options(source)
        targets = targets_for(source, options)
        if not targets:
            raise ValueError(f"reddit source {source.name!r}: nothing to collect: give accounts "
                             f"(reddit usernames) or options.subreddits")
        credentials = _credentials(source, options, secrets)  # fail before any request
        base = (source.instance or API_BASE).rstrip("/")
        session = _Session(http, credentials, _token_host(source, options))
        session.login()
        state = TargetCursor(cursor)
        for target in targets:
            yield from self._collect_target(base, target, state, session.get)

    def _collect_target(self, base: str, target: _Target, state: TargetCursor, fetch: Fetch) -> Iterator[Page]:
        resumed = "pending" in state.get(target.key)
        listed = yield from self._one_pass(base, target, state, fetch)
        if listed and resumed:  # the pending pass covered the past; now what arrived while it waited
            yield from self._one_pass(base, target, state, fetch)

    def _one_pass(
        self, base: str, target: _Target, state: TargetCursor, fetch: Fetch
    ) -> Generator[Page, None, bool]:
        """Page one listing down to the committed newest item; False when the target is not there."""
        current = state.get(target.key)
        newest = current.get("newest")
        newest_key = _mark_key(newest)
        pending = current.get("pending") if isinstance(current.get("pending"), dict) else {}
        after: str | None = pending.get("after")
        run_newest = pending.get("run_newest", newest)
        walked = int(pending.get("walked") or 0)
        url = base + target.path
        while True:
            params = {**target.params, "limit": str(PAGE_LIMIT), "raw_json": "1"}
            if after:
                params["after"] = after
            try:
                body, response = fetch(url, params)
            except HttpError as exc:
                if exc.status_code not in (403, 404):
                    raise
                # a suspended or deleted user, a banned or private subreddit: the others go on
                where = redact_url(httpx.URL(url, params=params))
                yield Page(rejects=[Reject(where, f"reddit {target.what} skipped: {exc}")], cursor=state.snapshot())
                return False
            locator = redact_url(response.request.url)
            if urlsplit(str(response.url)).path.rstrip("/") != urlsplit(url).path.rstrip("/"):
                # reddit redirects an unknown subreddit to a search page
                yield Page(rejects=[Reject(locator, f"reddit {target.what} not found (redirected)")],
                           cursor=state.snapshot())
                return False
            children = _listing_children(body)
            if children is None:
                # a broken answer: fail the run so the pending cursor stays where it was
                raise HttpError(f"{locator}: the answer is not a reddit Listing")
            page = Page()
            reached_known = False
            for index, child in enumerate(children):
                kind = child.get("kind") if isinstance(child, dict) else None
                if kind != target.kind:
                    reason = f"reddit {target.what}: expected a {target.kind}, got {kind!r}"
                    page.rejects.append(Reject(f"{locator}[{index}]", reason, json_excerpt(child)))
                    continue
                out = _to_record(kind, child.get("data"), base, f"{locator}[{index}]")
                if isinstance(out, Reject):
                    page.rejects.append(out)
                    continue
                data = child["data"]
                key = sort_key(data)
                if newest_key is not None and key <= newest_key:
                    # pages run newest first, so the rest was committed before; a pinned post sits on
                    # top whatever its age and says nothing about where paging is
                    reached_known = reached_known or not (data.get("pinned") or data.get("stickied"))
                    continue
                page.records.append(out)
                run_key = _mark_key(run_newest)
                if run_key is None or key > run_key:
                    run_newest = _mark(data)
            next_after = body["data"].get("after")
            if not reached_known and children and after and next_after == after:
                # the previous page served again: ending the pass here would lose everything older
                # and move `newest` past it, so fail the run; the pending `after` resumes at this page
                raise HttpError(f"{locator}: reddit answered with a page it served before (its `after` did not "
                                f"move on); the next run resumes here")
            walked += len(children)
            done = reached_known or not children or not isinstance(next_after, str) or not next_after
            if done:
                state.set(target.key, {"newest": run_newest})
                page.cap_hit = not reached_known and walked >= LISTING_CAP
            else:
                state.set(target.key, {"newest": newest,
                                       "pending": {"after": next_after, "run_newest": run_newest, "walked": walked}})
            page.cursor = state.snapshot()
            yield page
            if done:
                return True
            after = next_after

    # ---- imports --------------------------------------------------------------------------------
    def read_export(self, path: Path, source: Source | None) -> Iterator[Page]:
        """Saved API JSON: Listing pages (a comments page's pair of Listings too), `{kind, data}`
        things, or bare submission/comment objects, as JSON, JSON Lines or gzip."""
        path = Path(path)
        origin = ((source.instance if source is not None else None) or API_BASE).rstrip("/")
        yield from read_json_items(path, _flatten, lambda kind, item, locator: _to_record(kind, item, origin, locator),
                                   _not_reddit_message, "not a reddit submission or comment")


def classify(obj: Any) -> str | None:
    """t3 or t1 for a bare submission or comment object (as in API `data` or dumps), else None."""
    if not isinstance(obj, dict):
        return None
    name = obj.get("name")
    if isinstance(name, str) and _FULLNAME.match(name):
        return name[:2]
    if "author" in obj and "created_utc" in obj:
        if "body" in obj and "link_id" in obj:
            return "t1"
        if "title" in obj and "subreddit" in obj:
            return "t3"
    return None


def _flatten(locator: str, value: Any, depth: int = 0) -> Iterator[tuple[str, Any, str | None]]:
    """The submissions and comments inside one saved value, with their kinds."""
    if isinstance(value, list) and depth < 2:
        for index, element in enumerate(value):
            yield from _flatten(f"{locator}[{index}]", element, depth + 1)
        return
    if isinstance(value, dict) and value.get("kind") == "Listing" and isinstance(value.get("data"), dict):
        children = value["data"].get("children")
        for index, child in enumerate(children if isinstance(children, list) else []):
            where = f"{locator}.children[{index}]"
            if isinstance(child, dict) and child.get("kind") in KINDS:
                yield where, child.get("data"), child["kind"]
            elif isinstance(child, dict) and child.get("kind") == "more":
                continue  # "load more comments" stubs: ids only, nothing to keep
            else:
                yield where, child, None
        return
    if isinstance(value, dict) and value.get("kind") in KINDS and "data" in value:
        yield locator, value["data"], value["kind"]
        return
    yield locator, value, classify(value)


def _not_reddit_message(path: Path, obj: Any) -> str:
    if isinstance(obj, dict) and "content" in obj and "account" in obj:
        return f"{path}: not a reddit export: its first record looks like a Mastodon status (import it as mastodon)"
    if isinstance(obj, dict) and ("post" in obj or str(obj.get("uri", "")).startswith("at://")):
        return f"{path}: not a reddit export: its first record looks like a Bluesky post (import it as bluesky)"
    if isinstance(obj, dict):
        keys = ", ".join(sorted(obj)[:8])
        return f"{path}: not a reddit export: its first record is neither a submission nor a comment (keys: {keys})"
    return f"{path}: not a reddit export: its first record is {json_type_name(obj)}, not an object"


def parse_options(source: Source) -> RedditOptions:
    """The source's options; the name callers used before the connector contract v2."""
    options: RedditOptions = RedditConnector().options(source)
    return options
