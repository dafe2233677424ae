"""Mastodon: public statuses of accounts and hashtags from an instance's REST API, and saved API JSON.

Endpoints (docs.joinmastodon.org/methods/accounts, /methods/timelines):
- `GET /api/v1/accounts/lookup?acct=` -> Account
- `GET /api/v1/accounts/:id/statuses` and `GET /api/v1/timelines/tag/:hashtag` -> [Status], newest
  first, `limit` at most 40, bounded by `max_id` / `since_id` / `min_id`; the `Link` header carries
  `rel="next"` (older, `max_id=`) and `rel="prev"` (newer, `min_id=`).
Rate limits come as `X-RateLimit-Limit`, `-Remaining` and `-Reset` (an ISO 8601 timestamp); a 429
carries no Retry-After, so the shared HttpClient waits until the reset this module parses.

Cursor, per target (`account:<handle>` or `tag:<name>`):
    {"newest_id": <newest status id committed>, "pending": {"max_id": ..., "run_newest": ...} | None}
- The first run pages newest -> oldest by the `next` link. `pending` remembers where the walk is and
  the newest id it started from; `newest_id` becomes `run_newest` only when the walk reaches the end,
  so a crash resumes at `pending.max_id` and loses nothing.
- Later runs page *forward* from `min_id=newest_id` (the statuses immediately newer, oldest page
  first), advancing `newest_id` page by page: a resumed run refetches at most one page.
Every `Page` carries the whole cursor (all targets), so the pipeline can commit it as it is.

Ids in a Status (its own, `in_reply_to_id`, accounts') are local to the instance that served it, so
every raw record keeps that instance as its `origin`; `mapping.sql` namespaces ids by its host.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

import httpx

from dissentry.connectors.base import Connector, ImportFormatError, Page, RawRecord, Reject, json_type_name
from dissentry.connectors.exports import read_json_records_with_text
from dissentry.connectors.http import Documented, HttpError, RateLimit, redact_url
from dissentry.connectors.identity import canonical_host, leap_second_clamped
from dissentry.secrets import ENVIRONMENT, SecretLookup

if TYPE_CHECKING:
    from dissentry.connectors.base import Source
    from dissentry.connectors.http import HttpClient

log = logging.getLogger(__name__)

PAGE_LIMIT = 40  # the documented maximum for status timelines
_STATUS_OR_ACCOUNT_KEYS = frozenset({"id", "account", "content", "acct", "username", "created_at", "uri", "reblog"})


# ---- rate limits ------------------------------------------------------------------------------------


def _parse_reset(value: str | None, now: float) -> float | None:
    """`X-RateLimit-Reset` as epoch seconds. Mastodon sends ISO 8601; some forks send numbers."""
    if not value:
        return None
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        return number if number > 1e9 else now + number  # an epoch timestamp, or seconds from now
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def mastodon_rate_limit(headers: httpx.Headers, now: float) -> RateLimit:
    remaining_text = headers.get("X-RateLimit-Remaining")
    try:
        remaining = float(remaining_text) if remaining_text is not None else None
    except ValueError:
        remaining = None
    limit_text = headers.get("X-RateLimit-Limit")
    try:
        limit = float(limit_text) if limit_text is not None else None
    except ValueError:
        limit = None
    return RateLimit(remaining, _parse_reset(headers.get("X-RateLimit-Reset"), now), limit)


# ---- small helpers ----------------------------------------------------------------------------------


def normalise_instance(instance: str) -> str:
    """`https://Social.Example/` -> `https://social.example`: the origin stored with every record."""
    text = instance.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    # one host, one spelling: `bücher.example` and `xn--bcher-kva.example` are the same instance
    netloc = parts.netloc
    if parts.hostname:
        host = canonical_host(parts.hostname)
        netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))


def _origin_of(url: Any) -> str | None:
    if not isinstance(url, str) or "://" not in url:
        return None
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        port = None
    # the instance's port is part of its namespace (mapping.sql); the scheme's default is not
    shown = f":{port}" if port and port != (80 if parts.scheme.lower() == "http" else 443) else ""
    return f"https://{canonical_host(parts.hostname)}{shown}"


def _id_key(status_id: str) -> tuple[int, str]:
    """Order of Mastodon ids: numeric strings of growing length (snowflakes), or fixed-length
    sortable strings on forks (ULIDs, flake ids). Length first, then text, orders both."""
    return (len(status_id), status_id)


def _newest(ids: list[str]) -> str | None:
    return max(ids, key=_id_key) if ids else None


def _oldest(ids: list[str]) -> str | None:
    return min(ids, key=_id_key) if ids else None


def _is_id(value: Any) -> bool:
    return (isinstance(value, str) and value != "") or (isinstance(value, int) and not isinstance(value, bool))


def _next_max_id(response: httpx.Response) -> str | None:
    """`max_id` of the `rel="next"` link. Only the id is taken from it: the request itself is built
    on the configured instance, so a Link to another host can never receive the token."""
    url = response.links.get("next", {}).get("url")
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("max_id")
    return values[0] if values else None


# ---- validation of the platform's JSON ---------------------------------------------------------------


# what the mapping's safe_timestamp holds: a time of the years 1 to 9999 in UTC, else no date at all
_EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 12, 31, tzinfo=UTC)


def _datetime_problem(value: Any, where: str) -> str | None:
    if not isinstance(value, str):
        return f"{where}created_at is missing" if value is None else f"{where}created_at is {json_type_name(value)}"
    try:
        # nearly every date reads as it is; only one that does not can hold a leap second (`:60`
        # never reads), and replacing `:60` by `:59` cannot spoil a date that reads
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            # a leap second is kept, as :59 (the mapping clamps it the same way)
            parsed = datetime.fromisoformat(leap_second_clamped(value).replace("Z", "+00:00"))
        except ValueError:
            return f"{where}created_at {value[:40]!r} is not an ISO 8601 date"
    try:
        # '0001-01-01T00:00:00+01:00' reads, but is a time before the year 1 in UTC: the post would
        # land with no date, and every canonical post needs one
        in_range = _EARLIEST <= (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC) < _LATEST
    except OverflowError:
        in_range = False
    if in_range:
        return None
    return (f"{where}created_at {value[:40]!r} is out of the range a post's date may take "
            "(0001-01-01 to 9999-12-30, UTC)")


def account_problem(obj: Any, where: str = "") -> str | None:
    """Why `obj` is not a usable Account, or None."""
    if not isinstance(obj, dict):
        return f"{where.rstrip('.') or 'account'} is {json_type_name(obj)}, not an object"
    if not _is_id(obj.get("id")):
        return f"{where}id is missing or not a string"
    if not isinstance(obj.get("acct"), str) or not obj["acct"]:
        return f"{where}acct is missing or not a string"
    return None


def status_problem(obj: Any, where: str = "", depth: int = 0) -> str | None:
    """Why `obj` is not a usable Status (checked as deep as the mapping reads it), or None."""
    if not isinstance(obj, dict):
        return f"{where.rstrip('.') or 'value'} is {json_type_name(obj)}, not an object"
    if not _is_id(obj.get("id")):
        return f"{where}id is missing or not a string"
    problem = _datetime_problem(obj.get("created_at"), where)
    if problem:
        return problem
    if "account" not in obj:
        return f"{where}account is missing"
    problem = account_problem(obj["account"], f"{where}account.")
    if problem:
        return problem
    if obj.get("content") is not None and not isinstance(obj["content"], str):
        return f"{where}content is {json_type_name(obj['content'])}, not a string"
    for key in ("mentions", "tags"):
        if obj.get(key) is not None and not isinstance(obj[key], list):
            return f"{where}{key} is {json_type_name(obj[key])}, not an array"
    if depth < 2 and obj.get("reblog") is not None:
        problem = status_problem(obj["reblog"], f"{where}reblog.", depth + 1)
        if problem:
            return problem
    quote_obj = obj.get("quote")
    if depth < 2 and isinstance(quote_obj, dict):
        if isinstance(quote_obj.get("quoted_status"), dict):
            return status_problem(quote_obj["quoted_status"], f"{where}quote.quoted_status.", depth + 1)
        if "account" in quote_obj:  # some forks send the quoted Status itself
            return status_problem(quote_obj, f"{where}quote.", depth + 1)
    return None


def _looks_like_account(obj: dict[str, Any]) -> bool:
    return "acct" in obj and "username" in obj and "content" not in obj


def _looks_like_status(obj: dict[str, Any]) -> bool:
    return "content" in obj or "account" in obj or "reblog" in obj


def foreign_format(value: Any) -> str | None:
    """What a first record is when it is clearly not Mastodon API JSON, else None."""
    if isinstance(value, list):
        first = next((v for v in value if v is not None), None)
        return None if first is None else foreign_format(first)
    if not isinstance(value, dict):
        return f"is {json_type_name(value)}, not a Mastodon status or account"
    post = value.get("post")
    uri = value.get("uri")
    kind = value.get("$type") or (post.get("$type") if isinstance(post, dict) else None)
    if (
        (isinstance(post, dict) and str(post.get("uri", "")).startswith("at://"))
        or (isinstance(uri, str) and uri.startswith("at://"))
        or (isinstance(kind, str) and kind.startswith(("app.bsky.", "com.atproto.")))
        or (isinstance(value.get("did"), str) and value["did"].startswith("did:"))
        or isinstance(value.get("feed"), list)
    ):
        return "looks like a Bluesky export, not Mastodon"
    if "@context" in value or value.get("type") in ("OrderedCollection", "Create", "Note", "Announce", "Person"):
        return (
            "looks like an ActivityPub archive (such as Mastodon's outbox.json), not statuses saved from "
            "the Mastodon API"
        )
    if "tweet" in value or ("id_str" in value and "full_text" in value):
        return "looks like an X/Twitter archive, not Mastodon"
    if not (_STATUS_OR_ACCOUNT_KEYS & value.keys()):
        keys = ", ".join(sorted(value)[:8]) or "none"
        return f"does not look like a Mastodon status or account (its keys: {keys})"
    return None


# ---- the connector ----------------------------------------------------------------------------------


@dataclass
class _Fetched:
    """One API page: its records, rejects, every status id in it, and the response (for Link)."""

    response: httpx.Response
    size: int
    records: list[RawRecord] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


class _Origins:
    """Which instance the ids of an imported record belong to.

    The source's `instance` when given. Otherwise a status by a local author (acct without `@`)
    shows its instance in its `uri`, and the first such instance is assumed for the rest of the file;
    before one is seen, the host of the record's own `uri` (or an account's `url`) is used.
    """

    def __init__(self, explicit: str | None) -> None:
        self.explicit = explicit
        self.learned: str | None = None

    def __call__(self, url: Any, acct: Any) -> str | None:
        if self.explicit:
            return self.explicit
        own = _origin_of(url)
        if own and isinstance(acct, str) and "@" not in acct:
            self.learned = self.learned or own
            return own
        return self.learned or own


class MastodonConnector(Connector):
    platform: ClassVar[str] = "mastodon"
    mapping_file: ClassVar[Path] = Path(__file__).with_name("mapping.sql")

    # ---- HTTP ---------------------------------------------------------------------------------------
    def http_client_options(self, source: Source, secrets: SecretLookup = ENVIRONMENT) -> dict[str, Any]:
        headers: dict[str, str] = {}
        if source.token_env:
            token = secrets(source.token_env)
            if token:
                headers["Authorization"] = f"Bearer {token}"
            else:
                log.warning("mastodon: %s is not set; collecting without a token", source.token_env)
        # the documented limits: 300 requests per 5 minutes with a token, paging without one 300 per
        # 15 minutes; the client paces by them only when the server sends no rate-limit headers
        documented = Documented(300, 300.0) if headers else Documented(300, 900.0)
        return {"headers": headers, "rate_limit_parser": mastodon_rate_limit, "documented_limit": documented}

    # ---- API collection -----------------------------------------------------------------------------
    def collect(self, source: Source, cursor: dict[str, Any] | None, http: HttpClient,
                secrets: SecretLookup = ENVIRONMENT) -> Iterator[Page]:
        if not source.instance:
            raise ValueError(f"source {source.name!r}: a Mastodon source needs `instance`, e.g. https://social.example")
        base = normalise_instance(source.instance)
        targets: dict[str, dict[str, Any]] = copy.deepcopy((cursor or {}).get("targets", {}))

        def snapshot() -> dict[str, Any]:
            return {"targets": copy.deepcopy(targets)}

        for handle in source.accounts:
            acct = handle.strip().lstrip("@")
            state = targets.setdefault(f"account:{acct.lower()}", {"newest_id": None, "pending": None})
            lookup_url = f"{base}/api/v1/accounts/lookup"
            try:
                account, response = http.get_json(lookup_url, params={"acct": acct})
            except HttpError as exc:
                if exc.status_code != 404:
                    raise
                where = redact_url(httpx.URL(lookup_url, params={"acct": acct}))
                yield Page(rejects=[Reject(where, f"account @{acct} not found on {base}")], cursor=snapshot())
                continue
            locator = redact_url(response.request.url)
            problem = account_problem(account)
            if problem:
                raise HttpError(f"unexpected answer from {locator}: {problem}")
            record = RawRecord.from_json("account", str(account["id"]), account, base, locator)
            yield Page(records=[record], cursor=snapshot())
            url = f"{base}/api/v1/accounts/{quote(str(account['id']), safe='')}/statuses"
            yield from self._walk(http, url, base, state, snapshot)

        for tag in source.hashtags:
            name = tag.strip().lstrip("#")
            state = targets.setdefault(f"tag:{name.lower()}", {"newest_id": None, "pending": None})
            url = f"{base}/api/v1/timelines/tag/{quote(name, safe='')}"
            try:
                yield from self._walk(http, url, base, state, snapshot)
            except HttpError as exc:
                if exc.status_code != 404:
                    raise
                yield Page(rejects=[Reject(redact_url(url), f"hashtag #{name} not found on {base}")],
                           cursor=snapshot())

    def _walk(self, http: HttpClient, url: str, base: str, state: dict[str, Any],
              snapshot: Callable[[], dict[str, Any]]) -> Iterator[Page]:
        if state.get("newest_id") is None or state.get("pending") is not None:
            yield from self._backfill(http, url, base, state, snapshot)
        else:
            yield from self._forward(http, url, base, state, snapshot)

    def _fetch(self, http: HttpClient, url: str, params: dict[str, Any], base: str) -> _Fetched:
        body, response = http.get_json(url, params=params)
        locator = redact_url(response.request.url)
        if not isinstance(body, list):
            raise HttpError(f"unexpected answer from {locator}: expected an array of statuses, "
                            f"got {json_type_name(body)}")
        fetched = _Fetched(response=response, size=len(body))
        for index, status in enumerate(body):
            if isinstance(status, dict) and _is_id(status.get("id")):
                fetched.ids.append(str(status["id"]))
            problem = status_problem(status)
            if problem:
                fetched.rejects.append(Reject(f"{locator}[{index}]", f"not a usable Mastodon status: {problem}",
                                              json.dumps(status, ensure_ascii=False)[:2000]))
            else:
                fetched.records.append(RawRecord.from_json("status", str(status["id"]), status, base, locator))
        return fetched

    def _backfill(self, http: HttpClient, url: str, base: str, state: dict[str, Any],
                  snapshot: Callable[[], dict[str, Any]]) -> Iterator[Page]:
        """Newest -> oldest by the `next` link; commit `newest_id` once the end is reached."""
        pending = state.get("pending") or {"max_id": None, "run_newest": None}
        while True:
            params: dict[str, Any] = {"limit": PAGE_LIMIT}
            if pending["max_id"]:
                params["max_id"] = pending["max_id"]
            got = self._fetch(http, url, params, base)
            if pending["run_newest"] is None:
                pending["run_newest"] = _newest(got.ids)
            next_max = _next_max_id(got.response)
            if next_max is None and "link" not in got.response.headers and got.size >= PAGE_LIMIT:
                next_max = _oldest(got.ids)  # a server without Link headers: continue below this page
            if got.size and next_max is not None and next_max == pending["max_id"]:
                # the page that ends at max_id served again (a stale cache, a confused proxy): ending
                # the walk here would lose everything older, so fail the run and resume from this page
                raise HttpError(f"{redact_url(got.response.request.url)}: the server answered with a page it "
                                f"served before (its next link repeats max_id={next_max}); the next run resumes here")
            if got.size == 0 or next_max is None:
                state["newest_id"] = pending["run_newest"] or state.get("newest_id")
                state["pending"] = None
                yield Page(records=got.records, rejects=got.rejects, cursor=snapshot())
                return
            pending["max_id"] = next_max
            state["pending"] = dict(pending)
            yield Page(records=got.records, rejects=got.rejects, cursor=snapshot())

    def _forward(self, http: HttpClient, url: str, base: str, state: dict[str, Any],
                 snapshot: Callable[[], dict[str, Any]]) -> Iterator[Page]:
        """Statuses newer than `newest_id`, the page just above it first; `newest_id` advances with each."""
        while True:
            seen = state["newest_id"]
            got = self._fetch(http, url, {"limit": PAGE_LIMIT, "min_id": seen}, base)
            # a server that ignored min_id must not make us store again what we already have
            fresh = [r for r in got.records if _id_key(r.record_id) > _id_key(seen)]
            newest = _newest([i for i in got.ids if _id_key(i) > _id_key(seen)])
            if newest is not None:
                state["newest_id"] = newest
            yield Page(records=fresh, rejects=got.rejects, cursor=snapshot())
            if newest is None or got.size < PAGE_LIMIT:
                return

    # ---- export import ------------------------------------------------------------------------------
    def read_export(self, path: Path, source: Source | None) -> Iterator[Page]:
        path = Path(path)
        origins = _Origins(normalise_instance(source.instance) if source and source.instance else None)
        checked = False

        def records_in(locator: str, value: Any, text: bytes | None) -> Iterator[RawRecord | Reject]:
            nonlocal checked
            if not checked and value not in (None, []):
                reason = foreign_format(value)
                if reason:
                    raise ImportFormatError(f"{path}: the first record {reason}")
                checked = True
            if isinstance(value, list):
                return _records_in(value, locator, origins)
            return (_record_of(value, locator, origins, text),)

        yield from read_json_records_with_text(path, records_in)


def _records_in(value: Any, locator: str, origins: _Origins) -> Iterator[RawRecord | Reject]:
    """A saved value: one Status, one Account, or an array of them (a saved API page)."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield _record_of(item, f"{locator}[{index}]", origins)
    else:
        yield _record_of(value, locator, origins)


def _record_of(value: Any, locator: str, origins: _Origins, text: bytes | None = None) -> RawRecord | Reject:
    """The record (or reject) one saved value makes: a function, not a generator, as it runs once
    per line of an export. `text`: the value's compact JSON as read, in UTF-8 (the payload as it is), or None."""

    def reject(reason: str) -> Reject:
        return Reject(locator, reason, json.dumps(value, ensure_ascii=False)[:2000])

    if not isinstance(value, dict):
        return reject(f"expected a Mastodon status or account, got {json_type_name(value)}")
    if _looks_like_account(value):
        problem = account_problem(value)
        if problem:
            return reject(f"not a usable Mastodon account: {problem}")
        origin = origins(value.get("url"), value.get("acct"))
        if origin is None:
            return reject("cannot tell which instance this account's id belongs to: it has no url and the "
                          "source names no instance")
        return RawRecord.from_json("account", str(value["id"]), value, origin, locator, text)
    if not _looks_like_status(value):
        keys = ", ".join(sorted(value)[:8]) or "none"
        return reject(f"neither a Mastodon status nor an account (keys: {keys})")
    problem = status_problem(value)
    if problem:
        return reject(f"not a usable Mastodon status: {problem}")
    origin = origins(value.get("uri"), value["account"].get("acct"))
    if origin is None:
        return reject("cannot tell which instance this status's ids belong to: it has no uri and the source "
                      "names no instance")
    return RawRecord.from_json("status", str(value["id"]), value, origin, locator, text)
