"""RSS 2.0 and Atom feeds of an organisation's own publications (its articles, press releases, ...).

The articles are not posts: they land in the canonical table `org_articles` (one row per group and
article URL), which the echo-chamber mart joins to `post_links` to tell when members share their
organisation's own articles (METRICS.md, uncritical sharing).

Source options (validated by `RssOptions`):
    options = {group = "org_a", feeds = ["https://org-a.example/feed.xml", ...]}
`group` names the group whose publications the feeds are; `feeds` are needed to collect, not to
import a saved feed file. A feed given as a path ("/feed.xml") is fetched from the source's
`instance` (the organisation's site).

Collection: one conditional GET per feed. The cursor keeps, per feed URL, the validators the server
sent (`ETag` -> `If-None-Match`, `Last-Modified` -> `If-Modified-Since`) and a hash of the last body:
a 304, or a 200 with the very same bytes (servers without validators), yields nothing new. The bytes
are parsed by feedparser from memory; feedparser never fetches anything itself.

Records: `RawRecord(record_type="entry", record_id=<entry id, else its link>, origin=<feed URL>)`
whose payload is `{group, feed_url, entry: {id, link, title, published, updated, summary}}`, with
dates as ISO 8601 UTC and the title as plain text. An entry with neither id nor link, and a feed
that cannot be read at all (a malformed document with no usable entry, an HTML page, a 4xx), become
`Reject`s naming the feed; the other feeds are still collected.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import io
import logging
import re
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urljoin

import feedparser
import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from dissentry.connectors.base import Connector, ImportFormatError, Page, RawRecord, Reject, paged
from dissentry.connectors.http import BudgetExhausted, HttpError, RateLimit, redact_url
from dissentry.secrets import ENVIRONMENT, SecretLookup

if TYPE_CHECKING:
    from dissentry.connectors.base import Source
    from dissentry.connectors.http import HttpClient

log = logging.getLogger(__name__)

FEED_SUFFIXES = (".xml", ".rss", ".atom")
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
MAX_FEED_BYTES = 64 << 20  # feedparser parses a whole document at once; a larger "feed" is not one
_GROUP_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"  # as dissentry.config.Group.id


# ---- options ----------------------------------------------------------------------------------------


class RssOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    group: str = Field(pattern=_GROUP_ID)
    feeds: list[str] = []

    @field_validator("feeds")
    @classmethod
    def _http_urls(cls, feeds: list[str]) -> list[str]:
        for url in feeds:
            parts = httpx.URL(url)
            if url.startswith("/") and not url.startswith("//"):
                continue  # a path on the source's `instance` (the organisation's site)
            if parts.scheme not in ("http", "https") or not parts.host:
                raise ValueError(f"feed {url!r} is not an http(s) URL (or a path starting with '/')")
        return feeds


def feed_urls(source: Source, options: RssOptions) -> list[str]:
    """The feeds to fetch: absolute URLs as given, paths on the source's `instance`."""
    urls = []
    for feed in options.feeds:
        if feed.startswith("/"):
            if not source.instance:
                raise ValueError(f"source {source.name!r}: feed {feed!r} is a path, which needs `instance` "
                                 "(the organisation's site, e.g. https://org-a.example)")
            feed = source.instance.rstrip("/") + feed
        urls.append(feed)
    return urls


# ---- rate limits ------------------------------------------------------------------------------------


def feed_rate_limit(headers: httpx.Headers, now: float) -> RateLimit:
    """Web servers that limit feed polling use `X-RateLimit-*` or the IETF draft `RateLimit-*`
    headers; the reset is epoch seconds when large, else seconds from now."""
    remaining_text = headers.get("RateLimit-Remaining") or headers.get("X-RateLimit-Remaining")
    reset_text = headers.get("RateLimit-Reset") or headers.get("X-RateLimit-Reset")
    try:
        remaining = float(remaining_text) if remaining_text is not None else None
    except ValueError:
        remaining = None
    try:
        reset = float(reset_text) if reset_text is not None else None
    except ValueError:
        reset = None
    if reset is not None and reset < 1e9:
        reset = now + reset
    return RateLimit(remaining, reset)


# ---- entries ----------------------------------------------------------------------------------------


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _plain_text(detail: Any, value: Any) -> str | None:
    """A feed text construct as plain text: feedparser keeps HTML titles (Atom type="html", or an
    RSS title it detects as HTML) as markup, and a post quoting the title carries only the words."""
    if not isinstance(value, str):
        return None
    kind = detail.get("type", "") if isinstance(detail, Mapping) else ""
    if "html" in kind:
        parser = _TextOnly()
        parser.feed(value)
        parser.close()
        value = "".join(parser.parts)
    return re.sub(r"\s+", " ", value).strip()


def _iso(moment: datetime) -> str:
    """`2018-09-24T22:42:40Z`; the year always four digits (strftime writes year 100 as '100')."""
    return f"{moment.year:04d}{moment:-%m-%dT%H:%M:%SZ}"


def _iso_utc(parsed: Any) -> str | None:
    """feedparser's *_parsed dates are UTC struct_time values. One outside the years 1-9999 (feedparser
    reads '0000-01-01T00:00:00Z' as year 0) is no date: None, and the entry lands undated, where the
    ValueError used to stop the whole feed."""
    if not isinstance(parsed, time.struct_time):
        return None
    try:
        return _iso(datetime(*parsed[:6], tzinfo=UTC))
    except (ValueError, OverflowError):
        return None


# RFC 822 with the day and month named in another language, as feeds written by hand or by
# localised CMSs have it (`Seg, 24 Set 2018 19:42:40 -0300`), which feedparser does not read
_LOCAL_RFC822 = re.compile(
    r"^\s*(?:[^\W\d_]+\.?,?\s+)?(\d{1,2})\.?\s+([^\W\d_]+)\.?,?\s+(\d{4})"
    r"(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*(Z|UT|UTC|GMT|[+-]\d{2}:?\d{2})?\s*$"
)
# languages whose month names are tried when the feed declares no <language>; a name that means
# different months in two of them (`lip`: July in Polish, June in Croatian) is only read when the
# feed says its language
_DATE_LANGUAGES = ("en", "pt", "es", "fr", "de", "it", "nl", "ca", "gl", "ro", "pl", "cs", "sk", "sv", "da",
                   "nb", "fi", "tr", "hu", "hr", "sl", "et", "lv", "lt", "id", "eu")


@functools.cache
def _month_names(language: str) -> dict[str, int]:
    """Month names and abbreviations of one language (CLDR, through babel), casefolded, no dots."""
    from babel import Locale, UnknownLocaleError
    from babel.dates import get_month_names

    try:
        locale = Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return {}
    names: dict[str, int] = {}
    for width in ("wide", "abbreviated"):
        for context in ("format", "stand-alone"):
            for month, name in get_month_names(width, context, locale).items():
                names[name.casefold().rstrip(".")] = month
    return names


@functools.cache
def _unambiguous_month_names() -> dict[str, int]:
    seen: dict[str, set[int]] = {}
    for language in _DATE_LANGUAGES:
        for name, month in _month_names(language).items():
            seen.setdefault(name, set()).add(month)
    return {name: months.pop() for name, months in seen.items() if len(months) == 1}


def localised_date(value: Any, language: str | None = None) -> str | None:
    """`Seg, 24 Set 2018 19:42:40 -0300` -> `2018-09-24T22:42:40Z`: an RFC 822 date in another
    language, read with the month names of the feed's language (else of the common ones)."""
    if not isinstance(value, str):
        return None
    match = _LOCAL_RFC822.match(value)
    if not match:
        return None
    day, month_name, year, hour, minute, second, zone = match.groups()
    key = month_name.casefold()
    month = (_month_names(language).get(key) if language else None) or _unambiguous_month_names().get(key)
    if month is None:
        return None
    offset = 0
    if zone and zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        offset = (1 if zone[0] == "+" else -1) * (int(digits[:2]) * 60 + int(digits[2:]))
    try:
        local = datetime(int(year), month, int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=UTC)
        # the offset may carry 1 January of year 1 (or 31 December 9999) out of range: no date then
        return _iso(local - timedelta(minutes=offset))
    except (ValueError, OverflowError):
        return None


def _str_or_none(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _absolute(link: str | None, feed_url: str) -> str | None:
    """A relative entry link resolved against the feed's URL (feedparser resolves against the
    location it is given, which a saved file does not have)."""
    if link is None or "://" in link or not feed_url.startswith(("http://", "https://")):
        return link
    return urljoin(feed_url, link)


def entry_payload(entry: Mapping[str, Any], group: str, feed_url: str, language: str | None = None) -> dict[str, Any]:
    """`language` is the feed's own (`<language>pt-BR</language>`), for dates in that language."""
    # dict.get, not FeedParserDict.get: the latter answers `updated` with `published` when an entry
    # has no update date of its own
    def get(key: str) -> Any:
        return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)

    return {
        "group": group,
        "feed_url": feed_url,
        "entry": {
            "id": _str_or_none(get("id")),
            "link": _absolute(_str_or_none(get("link")), feed_url),
            "title": _plain_text(get("title_detail"), get("title")),
            "published": _iso_utc(get("published_parsed")) or localised_date(get("published"), language),
            "updated": _iso_utc(get("updated_parsed")) or localised_date(get("updated"), language),
            "summary": get("summary") if isinstance(get("summary"), str) else None,
        },
    }


@dataclass
class _Parsed:
    records: list[RawRecord]
    rejects: list[Reject]
    problem: str | None  # the document as a whole is unusable


def feedparse(body: bytes, base_url: str | None = None, content_type: str | None = None) -> Any:
    """feedparser's result for feed bytes; `base_url` (the feed's location) resolves relative links."""
    response_headers = {"content-location": base_url or ""}
    if content_type:
        response_headers["content-type"] = content_type
    # a file-like object: feedparser reads it and never treats the input as a URL or a path
    return feedparser.parse(io.BytesIO(body), response_headers=response_headers)


def feed_entries(parsed: Any, *, group: str, feed_url: str, locator: str, index_locators: bool) -> _Parsed:
    """Entry records of a parsed feed; `index_locators` names each entry `locator[i]` (files)."""
    entries = list(parsed.get("entries") or [])
    usable = [e for e in entries if _str_or_none(e.get("id")) or _str_or_none(e.get("link"))]
    if not usable:
        if not parsed.get("version"):
            detail = f": {parsed.get('bozo_exception')}" if parsed.get("bozo") else ""
            return _Parsed([], [], f"not an RSS or Atom feed (no <rss>, <feed> or RDF root element){detail}")
        if parsed.get("bozo"):
            return _Parsed([], [], f"not a readable RSS or Atom feed: {parsed.get('bozo_exception')}")
    elif parsed.get("bozo"):
        log.warning("%s: feed parsed with errors (%s); keeping %d entries", locator,
                    parsed.get("bozo_exception"), len(usable))
    records: list[RawRecord] = []
    rejects: list[Reject] = []
    language = _str_or_none((parsed.get("feed") or {}).get("language"))
    undated: list[str] = []  # entries that give a date no parser could read
    for index, entry in enumerate(entries):
        where = f"{locator}[{index}]" if index_locators else locator
        payload = entry_payload(entry, group, feed_url, language)
        if not (payload["entry"]["published"] or payload["entry"]["updated"]):
            written = _str_or_none(dict.get(entry, "published")) or _str_or_none(dict.get(entry, "updated"))
            if written:
                undated.append(written)
        record_id = payload["entry"]["id"] or payload["entry"]["link"]
        if record_id is None:
            rejects.append(Reject(f"{locator}[{index}]", f"entry {index} of feed {feed_url} has neither id nor link",
                                  str(payload["entry"])[:2000]))
            continue
        records.append(RawRecord.from_json("entry", record_id, payload, feed_url, where))
    if undated:
        # the articles still land, without a publication date: say so once, with a count
        log.warning("%s: %d of %d entries have a date that cannot be read (e.g. %r); their published_at "
                    "is empty", locator, len(undated), len(entries), undated[0][:80])
    return _Parsed(records, rejects, None)


def self_link(parsed: Any) -> str | None:
    """The feed's own URL as it declares it (Atom or atom:link rel="self"): the origin of a saved file."""
    for link in parsed.get("feed", {}).get("links", []) or []:
        href = link.get("href")
        if link.get("rel") == "self" and isinstance(href, str) and href.startswith(("http://", "https://")):
            return href
    return None


# ---- the connector ----------------------------------------------------------------------------------


class RssConnector(Connector):
    platform: ClassVar[str] = "rss"
    mapping_file: ClassVar[Path] = Path(__file__).with_name("mapping.sql")
    Options: ClassVar[type[BaseModel]] = RssOptions

    def http_client_options(self, source: Source, secrets: SecretLookup = ENVIRONMENT) -> dict[str, Any]:
        return {"headers": {"Accept": ACCEPT}, "rate_limit_parser": feed_rate_limit}

    # ---- API collection -----------------------------------------------------------------------------
    def collect(self, source: Source, cursor: dict[str, Any] | None, http: HttpClient,
                secrets: SecretLookup = ENVIRONMENT) -> Iterator[Page]:
        options: RssOptions = self.options(source)
        if not options.feeds:
            raise ValueError(f"source {source.name!r}: an rss source needs options.feeds to collect")
        feeds: dict[str, dict[str, Any]] = copy.deepcopy((cursor or {}).get("feeds", {}))

        def snapshot() -> dict[str, Any]:
            return {"feeds": copy.deepcopy(feeds)}

        for url in feed_urls(source, options):
            state = feeds.get(url, {})
            headers = {}
            if state.get("etag"):
                headers["If-None-Match"] = state["etag"]
            if state.get("last_modified"):
                headers["If-Modified-Since"] = state["last_modified"]
            try:
                response = http.get_response(url, headers=headers)
            except BudgetExhausted:
                raise
            except HttpError as exc:
                # one feed gone or failing must not stop the organisation's other feeds
                yield Page(rejects=[Reject(redact_url(url), f"feed {redact_url(url)} could not be fetched: {exc}")],
                           cursor=snapshot())
                continue
            if response.status_code == 304:
                yield Page(cursor=snapshot())
                continue
            body = response.content
            digest = hashlib.sha256(body).hexdigest()
            fresh = {
                "etag": response.headers.get("ETag"),
                "last_modified": response.headers.get("Last-Modified"),
                "sha256": digest,
            }
            if digest == state.get("sha256"):
                feeds[url] = fresh
                yield Page(cursor=snapshot())
                continue
            locator = redact_url(response.request.url)
            document = feedparse(body, str(response.url), response.headers.get("Content-Type"))
            parsed = feed_entries(document, group=options.group, feed_url=url, locator=locator,
                                  index_locators=False)
            if parsed.problem:
                # the validators are not kept: the next run fetches the feed again in full
                yield Page(rejects=[Reject(locator, f"feed {locator}: {parsed.problem}",
                                           body[:2000].decode("utf-8", "replace"))], cursor=snapshot())
                continue
            feeds[url] = fresh
            yield Page(records=parsed.records, rejects=parsed.rejects, cursor=snapshot())

    # ---- export import ------------------------------------------------------------------------------
    def read_export(self, path: Path, source: Source | None) -> Iterator[Page]:
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in FEED_SUFFIXES)
            if not files:
                raise ImportFormatError(f"{path}: no .xml, .rss or .atom feed files in this folder")
            _import_group(source, str(path))
            for file in files:
                yield from self._read_member(lambda f=file: _read_file(f), str(file), file.resolve().as_uri(), source)
        elif zipfile.is_zipfile(path):
            yield from self._read_zip(path, source)
        elif path.is_file():
            yield from self._read_one(_read_file(path), str(path), path.resolve().as_uri(), source)
        else:
            raise ImportFormatError(f"{path}: no such file")

    def _read_zip(self, path: Path, source: Source | None) -> Iterator[Page]:
        _import_group(source, str(path))
        found = False
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = PurePosixPath(info.filename)
                if info.is_dir() or name.suffix.lower() not in FEED_SUFFIXES:
                    continue
                if name.is_absolute() or ".." in name.parts:
                    yield Page(rejects=[Reject(f"{path}!{info.filename}", "unsafe path inside the zip; skipped")])
                    continue
                if info.file_size > MAX_FEED_BYTES:
                    yield Page(rejects=[Reject(f"{path}!{info.filename}",
                                               f"{info.file_size} bytes: too large for a feed; skipped")])
                    continue
                found = True

                def body(info: zipfile.ZipInfo = info) -> bytes:
                    with archive.open(info) as member:
                        return member.read(MAX_FEED_BYTES + 1)

                uri = f"{path.resolve().as_uri()}!{info.filename}"
                yield from self._read_member(body, f"{path}!{info.filename}", uri, source)
        if not found:
            raise ImportFormatError(f"{path}: the zip holds no .xml, .rss or .atom feed files")

    def _read_member(self, body: Callable[[], bytes], where: str, file_uri: str,
                     source: Source | None) -> Iterator[Page]:
        """One feed of a folder or zip: one that is not a feed is a Reject; the others still land."""
        try:
            pages = list(self._read_one(body(), where, file_uri, source))
        except ImportFormatError as exc:
            pages = [Page(rejects=[Reject(where, str(exc).removeprefix(f"{where}: "))])]
        yield from pages

    def _read_one(self, body: bytes, where: str, file_uri: str, source: Source | None) -> Iterator[Page]:
        first = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        if not first:
            raise ImportFormatError(f"{where}: the file is empty")
        if first != b"<":
            shown = first.decode("utf-8", "replace")
            raise ImportFormatError(f"{where}: not an RSS or Atom feed (an XML document starts with '<', "
                                    f"this one with {shown!r})")
        group = _import_group(source, where)
        # a saved file has no HTTP headers: let the XML declaration give the encoding
        document = feedparse(body, content_type="application/xml")
        feed_url = self_link(document) or file_uri
        parsed = feed_entries(document, group=group, feed_url=feed_url, locator=where, index_locators=True)
        if parsed.problem:
            raise ImportFormatError(f"{where}: {parsed.problem}")
        yield from paged([*parsed.rejects, *parsed.records])


def _import_group(source: Source | None, where: str) -> str:
    """The group a saved feed belongs to: a feed names its publisher, not the group in our config."""
    if source is None:
        raise ImportFormatError(
            f"{where}: a saved feed does not say which group published it; import it through an rss "
            "source whose options name the group, e.g. options = {group = \"org_a\"}"
        )
    try:
        options: RssOptions = RssConnector().options(source)
        return options.group
    except ValueError as exc:
        raise ImportFormatError(f"{where}: {exc}") from None


def _read_file(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FEED_BYTES:
            raise ImportFormatError(f"{path}: {size} bytes is too large for a feed file")
        return path.read_bytes()
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read: {exc}") from None
