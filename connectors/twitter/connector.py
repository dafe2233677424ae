"""X/Twitter: import only. Reads the account archive people download from X, and twarc2 output.

Two kinds of input, told apart by their content:

1. The account archive ("Download an archive of your data"), as a zip, the unzipped folder, or one
   of its files. Tweets sit in `data/tweets.js` (older archives: `data/tweet.js`; large archives
   add `tweets-part1.js`, `tweets-part2.js`, ...), a JavaScript file
   `window.YTD.tweets.part0 = [ {"tweet": {...}}, ... ]` whose array is streamed element by element.
   Tweets are v1.1-like objects without an author: the archive owner comes from `data/account.js`
   (`window.YTD.account.part0 = [{"account": {...}}]`), or, for a lone tweets file, from the source's
   `options.username` (and `options.account_id` when known).
   -> record_type "archive_tweet", payload {"tweet": <the archive's tweet>, "account": <owner>}
   -> record_type "account" for account.js itself.
   Only the public fields of account.js are kept (accountId, username, accountDisplayName,
   createdAt): it also holds the owner's e-mail address and sign-up client, which never enter the lake.
   Other archive files (likes, DMs, followers, media) are not read.

2. twarc2 output: JSON Lines with one API v2 response page per line
   (`{"data": [...], "includes": {"users", "tweets"}, "meta", "__twarc"}`), a single saved page,
   or `twarc2 flatten` output (one tweet per line with its expansions inline).
   -> record_type "tweet", one per tweet in `data`, the payload being the tweet *flattened the way
   twarc's `expansions.flatten` does it*: `author` and `in_reply_to_user` from includes.users,
   `entities.mentions` merged with their users, each `referenced_tweets` item merged with the
   included tweet (itself carrying its `author`), and the page's `__twarc`. Each record thus holds
   everything its mapping needs, so records map one by one whatever page they came from, and
   twarc2 pages and `twarc2 flatten` files give the same records.

Ids: post_id `twitter:<tweet id>`, account ids `twitter:<numeric user id>`. Where only a handle is
known (a lone tweets file imported with `options.username` only) the id is `twitter:<handle>`
(lower case), the form configuration's `twitter:<handle>` falls back to when data never resolves it.

collect() is refused: X's API is paid and its terms bar redistribution, so dissentry does not call it.
"""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from dissentry.connectors.base import IMPORT_PAGE_SIZE as IMPORT_PAGE_SIZE  # re-exported: callers import it from here
from dissentry.connectors.base import (
    Connector,
    ImportFormatError,
    Page,
    RawRecord,
    Reject,
    json_excerpt,
    json_type_name,
    paged,
)
from dissentry.connectors.exports import TextWindow, iter_json_values, zip_member_problem

if TYPE_CHECKING:
    from dissentry.connectors.base import Source

log = logging.getLogger(__name__)

ORIGIN = "https://x.com"  # tweet and user ids are global on X
ARCHIVE_DATE_FORMAT = "%a %b %d %H:%M:%S %z %Y"  # "Wed Oct 10 20:19:24 +0000 2018"
ACCOUNT_PUBLIC_KEYS = ("accountId", "username", "accountDisplayName", "createdAt")

_CHUNK = 1 << 20
_MAX_VALUE_CHARS = 64 << 20  # one element larger than this is quarantined, not buffered forever
_YTD_PREFIX = re.compile(r"^\s*window\.YTD\.([A-Za-z0-9_]+)\.part(\d+)\s*=\s*$")
_TWEETS_FILE = re.compile(r"^tweets?(?:-part(\d+))?\.js$")
_TWEETS_YTD = frozenset({"tweets", "tweet"})
_JSON_SUFFIXES = frozenset({".json", ".jsonl", ".ndjson", ".gz"})
_decoder = json.JSONDecoder()

Json = dict[str, Any]


class TwitterOptions(BaseModel):
    """`options` of a twitter source: who wrote the tweets of a tweets.js read without account.js."""

    model_config = ConfigDict(extra="forbid")
    username: str | None = Field(default=None, pattern=r"^@?[A-Za-z0-9_]{1,15}$")
    account_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")


def _is_numeric_id(value: Any) -> bool:
    return isinstance(value, str) and value.isascii() and value.isdigit()


# ---- validation of the platform's shapes -------------------------------------------------------------
def _entities_problem(entities: Any, lists: tuple[str, ...]) -> str | None:
    if entities is None:
        return None
    if not isinstance(entities, dict):
        return f"entities is {json_type_name(entities)}, not an object"
    for key in lists:
        value = entities.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
            return f"entities.{key} is not an array of objects"
    return None


def archive_tweet_problem(item: Any) -> str | None:
    """Why an element of tweets.js is not a usable tweet, or None."""
    if not isinstance(item, dict) or not isinstance(item.get("tweet"), dict):
        return "the element has no tweet object"
    tweet = item["tweet"]
    if not _is_numeric_id(tweet.get("id_str")):
        return "tweet.id_str is missing or not numeric"
    created = tweet.get("created_at")
    if not isinstance(created, str):
        return "tweet.created_at is missing"
    try:
        datetime.strptime(created, ARCHIVE_DATE_FORMAT)
    except ValueError:
        return f"tweet.created_at {created[:40]!r} is not a date like 'Wed Oct 10 20:19:24 +0000 2018'"
    text = tweet.get("full_text", tweet.get("text"))
    if not isinstance(text, str):
        return "tweet.full_text is missing or not a string"
    return _entities_problem(tweet.get("entities"), ("urls", "user_mentions", "hashtags", "media"))


def v2_tweet_problem(tweet: Any) -> str | None:
    """Why an API v2 tweet cannot be used, or None."""
    if not isinstance(tweet, dict):
        return f"the tweet is {json_type_name(tweet)}, not an object"
    if not _is_numeric_id(tweet.get("id")):
        return "id is missing or not numeric"
    if not _is_numeric_id(tweet.get("author_id")):
        return "author_id is missing (twarc2 requests it; was the data saved with expansions?)"
    created = tweet.get("created_at")
    try:
        datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    except ValueError:
        return "created_at is missing or not an ISO 8601 date (tweet.fields must include created_at)"
    if not isinstance(tweet.get("text"), str):
        return "text is missing or not a string"
    problem = _refs_problem(tweet.get("referenced_tweets"), "referenced_tweets")
    if problem:
        return problem
    # a flattened record carries its referenced tweets whole, and the mapping reads their own
    # references too (a quoted tweet that quotes): their ids are checked alike
    for i, ref in enumerate(tweet.get("referenced_tweets") or []):
        problem = _refs_problem(ref.get("referenced_tweets"), f"referenced_tweets[{i}].referenced_tweets")
        if problem:
            return problem
    return _entities_problem(tweet.get("entities"), ("urls", "mentions", "hashtags"))


def _refs_problem(refs: Any, where: str) -> str | None:
    """Why a `referenced_tweets` value is unusable, naming the entry and its id, or None.

    An id must be digits: the mapping makes post ids of it and finds the quoted tweet's link by it."""
    if refs is None:
        return None
    if not isinstance(refs, list):
        return f"{where} is {json_type_name(refs)}, not an array of {{type, id}}"
    for i, ref in enumerate(refs):
        if not isinstance(ref, dict):
            return f"{where}[{i}] is {json_type_name(ref)}, not a {{type, id}} object"
        if not _is_numeric_id(ref.get("id")):
            return f"{where}[{i}].id {json_excerpt(ref.get('id'))[:40]} is not a numeric tweet id"
    return None


# ---- twarc2: API v2 pages flattened like twarc's expansions.flatten ---------------------------------------
def _index(items: Any, key: str) -> dict[str, Json]:
    if not isinstance(items, list):
        return {}
    return {str(i[key]): i for i in items if isinstance(i, dict) and isinstance(i.get(key), str | int)}


class _Includes:
    def __init__(self, page: Json, locator: str = "") -> None:
        includes = page.get("includes") if isinstance(page.get("includes"), dict) else {}
        self.users = _index(includes.get("users"), "id")
        self.users_by_name = {name.lower(): u for name, u in _index(includes.get("users"), "username").items()}
        # an included tweet becomes a post of its own, its references read like a tweet's: one with a
        # reference that is not a tweet id is quarantined and left out (the tweets that reference it
        # still land, their reference not expanded)
        self.rejects: list[Reject] = []
        tweets = includes.get("tweets")
        usable: list[Any] = []
        for i, tweet in enumerate(tweets if isinstance(tweets, list) else []):
            refs = tweet.get("referenced_tweets") if isinstance(tweet, dict) else None
            problem = _refs_problem(refs, "referenced_tweets")
            if problem:
                self.rejects.append(Reject(f"{locator}.includes.tweets[{i}]",
                                           f"twitter included tweet rejected: {problem}", json_excerpt(tweet)))
            else:
                usable.append(tweet)
        self.tweets = _index(usable, "id")


def _expand(tweet: Json, inc: _Includes, depth: int = 0) -> Json:
    """The tweet with its expansions inline; keys already present (flattened input) are kept."""
    out = dict(tweet)
    author = inc.users.get(str(tweet.get("author_id")))
    if author is not None and "author" not in out:
        out["author"] = author
    reply_user = inc.users.get(str(tweet.get("in_reply_to_user_id")))
    if reply_user is not None and "in_reply_to_user" not in out:
        out["in_reply_to_user"] = reply_user
    entities = tweet.get("entities")
    if isinstance(entities, dict) and isinstance(entities.get("mentions"), list):
        mentions = [
            {**m, **inc.users_by_name.get(str(m.get("username", "")).lower(), {})} if isinstance(m, dict) else m
            for m in entities["mentions"]
        ]
        out["entities"] = {**entities, "mentions": mentions}
    refs = tweet.get("referenced_tweets")
    if isinstance(refs, list) and depth == 0:
        out["referenced_tweets"] = [
            {**ref, **_expand(inc.tweets[str(ref.get("id"))], inc, depth + 1)}
            if isinstance(ref, dict) and str(ref.get("id")) in inc.tweets
            else ref
            for ref in refs
        ]
    return out


def _is_v2_page(value: Any) -> bool:
    return isinstance(value, dict) and "data" in value and ("includes" in value or "meta" in value
                                                             or "__twarc" in value or isinstance(value["data"], list))


def _is_empty_v2_page(value: Any) -> bool:
    return (isinstance(value, dict) and "data" not in value and isinstance(value.get("meta"), dict)
            and ("__twarc" in value or "result_count" in value["meta"]))


def _is_v2_tweet(value: Any) -> bool:
    return isinstance(value, dict) and "text" in value and ("author_id" in value or "edit_history_tweet_ids" in value)


def _v2_records(locator: str, value: Any) -> Iterator[RawRecord | Reject]:
    """Records from one top-level JSON value of a twarc2 file: a response page, or a flattened tweet."""
    if _is_v2_tweet(value):
        items: list[tuple[str, Any]] = [(locator, value)]
        inc = _Includes({})
        twarc_meta = None
    else:
        data = value.get("data")
        inc = _Includes(value, locator)
        yield from inc.rejects
        twarc_meta = value.get("__twarc")
        if isinstance(data, dict):
            data = [data]  # a single-tweet lookup
        if not isinstance(data, list):
            yield Reject(locator, f"twarc2 page: data is {json_type_name(data)}, not an array of tweets",
                         json_excerpt(value))
            return
        items = [(f"{locator}.data[{i}]", t) for i, t in enumerate(data)]
    for item_locator, tweet in items:
        problem = v2_tweet_problem(tweet)
        if problem:
            yield Reject(item_locator, f"twitter tweet rejected: {problem}", json_excerpt(tweet))
            continue
        flat = _expand(tweet, inc)
        if twarc_meta is not None and "__twarc" not in flat:
            flat["__twarc"] = twarc_meta
        yield RawRecord.from_json("tweet", str(tweet["id"]), flat, ORIGIN, item_locator)


# ---- the archive ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Member:
    """One file of an archive: on disk or inside a zip, opened only when read."""

    label: str  # locator prefix: the file path, or zip!member
    name: str  # the file name, e.g. tweets-part1.js
    open: Callable[[], IO[bytes]]


def _file_member(path: Path) -> _Member:
    return _Member(str(path), path.name, lambda: open(path, "rb"))


def _text(member: _Member) -> io.TextIOWrapper:
    return io.TextIOWrapper(member.open(), encoding="utf-8-sig", errors="strict", newline="")


def _read_prefix(fh: IO[str], limit: int = 200) -> str | None:
    """The text before the array's '[' (consumed), or None when there is no '[' near the start."""
    chars: list[str] = []
    while len(chars) < limit:
        char = fh.read(1)
        if char in ("", "["):
            return "".join(chars) if char == "[" else None
        chars.append(char)
    return None


def _ytd_name(member: _Member) -> str | None:
    """`tweets` for a file starting `window.YTD.tweets.part0 = [`; None when it is no YTD file."""
    try:
        with _text(member) as fh:
            prefix = _read_prefix(fh)
    except (UnicodeDecodeError, OSError, zipfile.BadZipFile):
        return None
    match = _YTD_PREFIX.match(prefix or "x")
    return match.group(1) if match else None


def iter_array_tail(fh: IO[str], label: str) -> Iterator[tuple[str, Any]]:
    """Elements of a JSON array whose '[' was already read, decoded one at a time from a sliding
    buffer: `(label[index], value)`, or a Reject when the array is cut short or an element is not
    JSON (decoding stops there: an array has no line breaks to resynchronise on). A local twin of
    connectors.exports' array reader, which takes a path and so cannot start after a JS prefix."""
    window = TextWindow(fh, _CHUNK)
    index = 0
    try:
        while True:
            nxt = window.skip_chars(" \t\r\n,")
            locator = f"{label}[{index}]"
            if nxt == "":
                yield locator, Reject(locator, "file is truncated: the array is not closed with ']'")
                return
            if nxt == "]":
                return
            while True:
                try:
                    value, end = _decoder.raw_decode(window.buf, window.pos)
                    break
                except json.JSONDecodeError as exc:
                    if len(window.buf) - window.pos > _MAX_VALUE_CHARS or not window.fill():
                        reason = f"file is truncated inside element {index}" if window.eof else (
                            f"invalid JSON in element {index}: {exc.msg}")
                        yield locator, Reject(locator, reason, window.buf[window.pos : window.pos + 2000])
                        return
            yield locator, value
            index += 1
            window.pos = end
    except UnicodeDecodeError as exc:
        yield f"{label}[{index}]", Reject(f"{label}[{index}]", f"not UTF-8 text: {exc.reason}")
    except (EOFError, OSError, zipfile.BadZipFile) as exc:
        yield f"{label}[{index}]", Reject(f"{label}[{index}]", f"file is truncated: {exc}")


def _iter_ytd(member: _Member) -> Iterator[tuple[str, Any]]:
    with _text(member) as fh:
        if _read_prefix(fh) is None:
            raise ImportFormatError(f"{member.label}: not a Twitter archive file (no 'window.YTD.<name>.partN = [')")
        yield from iter_array_tail(fh, member.label)


def _read_account(member: _Member) -> tuple[Json | None, list[Reject]]:
    """The public fields of the owner's account from account.js."""
    rejects: list[Reject] = []
    for locator, value in _iter_ytd(member):
        if isinstance(value, Reject):
            rejects.append(value)
            continue
        account = value.get("account") if isinstance(value, dict) else None
        if isinstance(account, dict) and (_is_numeric_id(account.get("accountId")) or account.get("username")):
            return {k: account[k] for k in ACCOUNT_PUBLIC_KEYS if k in account}, rejects
        rejects.append(Reject(locator, "account.js element has no account with accountId or username", ""))
    return None, rejects


def _account_record(account: Json, locator: str) -> RawRecord:
    record_id = account.get("accountId") or str(account.get("username", "")).lower()
    return RawRecord.from_json("account", str(record_id), account, ORIGIN, locator)


def _owner_from_options(options: TwitterOptions) -> Json | None:
    if not options.username:
        return None
    owner: Json = {"username": options.username.lstrip("@")}
    if options.account_id:
        owner["accountId"] = options.account_id
    return owner


def _tweets_part(name: str) -> int:
    match = _TWEETS_FILE.match(name)
    return int(match.group(1) or 0) if match else -1


def _inside_archive(path: Path) -> bool:
    """Whether a file sits in an unzipped archive (a folder whose data/ holds manifest.js or account.js)."""
    for folder in list(path.parents)[:4]:
        if (folder / "data" / "manifest.js").is_file() or (folder / "data" / "account.js").is_file():
            return True
    return False


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return not (path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", name))


class TwitterConnector(Connector):
    platform: ClassVar[str] = "twitter"
    mapping_file: ClassVar[Path] = Path(__file__).with_name("mapping.sql")
    reads_folders: ClassVar[bool] = True
    Options: ClassVar[type[BaseModel]] = TwitterOptions
    can_collect: ClassVar[bool] = False
    import_only_reason: ClassVar[str] = ("X's API is paid and its terms bar sharing what it returns; "
                                         "import the account archive (zip or folder) or twarc2 JSONL files")

    def read_export(self, path: Path, source: Source | None) -> Iterator[Page]:
        path = Path(path)
        options: TwitterOptions = self.options(source)
        if path.is_dir():
            yield from self._read_folder(path, options)
        elif not path.is_file():
            raise ImportFormatError(f"{path}: no such file")
        elif zipfile.is_zipfile(path):
            yield from self._read_zip(path, options)
        else:
            member = _file_member(path)
            name = _ytd_name(member)
            if name is None and _inside_archive(path) and path.suffix.lower() not in _JSON_SUFFIXES:
                # media, the HTML viewer and its assets, when a folder is imported file by file
                log.info("%s: part of a Twitter archive but not data: skipped", path)
            elif name is None:
                yield from paged(self._read_twarc(path))
            elif name in _TWEETS_YTD:
                sibling = path.with_name("account.js")
                account = _file_member(sibling) if sibling.is_file() else None
                yield from paged(self._read_archive([member], account, options, str(path), own_account=False))
            elif name == "account":
                account_json, rejects = _read_account(member)
                records = [_account_record(account_json, f"{path}[0]")] if account_json else []
                yield Page(records=records, rejects=rejects)
            else:
                # quiet inside an archive imported file by file: it holds dozens of such files
                level = logging.INFO if _inside_archive(path) else logging.WARNING
                log.log(level, "%s: a Twitter archive file of %r, not tweets: nothing imported from it", path, name)

    # ---- containers ----------------------------------------------------------------------------------
    def _read_folder(self, path: Path, options: TwitterOptions) -> Iterator[Page]:
        data = path / "data" if (path / "data").is_dir() else path
        tweet_files = sorted((f for f in data.iterdir() if f.is_file() and _TWEETS_FILE.match(f.name)),
                             key=lambda f: _tweets_part(f.name))
        if not tweet_files:
            raise ImportFormatError(f"{path}: not a Twitter archive folder (no data/tweets.js or data/tweet.js)")
        members = [_file_member(f) for f in tweet_files]
        account = _file_member(data / "account.js") if (data / "account.js").is_file() else None
        yield from paged(self._read_archive(members, account, options, str(path), own_account=True))

    def _read_zip(self, path: Path, options: TwitterOptions) -> Iterator[Page]:
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ImportFormatError(f"{path}: cannot read the zip: {exc}") from None
        with archive:
            unsafe = [Reject(f"{path}!{n}", "zip member with an absolute path or '..': not read")
                      for n in archive.namelist() if not _safe_member(n)]
            names = [n for n in archive.namelist() if _safe_member(n) and not n.endswith("/")]
            tweet_names = [n for n in names if _TWEETS_FILE.match(PurePosixPath(n).name)
                           and PurePosixPath(n).parent.name == "data"]
            if not tweet_names:
                if any(PurePosixPath(n).suffix in (".json", ".jsonl") for n in names):
                    hint = " (a zip of twarc2 files? unzip it and import the .jsonl files)"
                else:
                    hint = ""
                raise ImportFormatError(f"{path}: not a Twitter archive: the zip has no data/tweets.js{hint}")
            folder = PurePosixPath(tweet_names[0]).parent
            tweet_names = sorted((n for n in tweet_names if PurePosixPath(n).parent == folder),
                                 key=lambda n: _tweets_part(PurePosixPath(n).name))
            bombs = {n: problem for n in names if (problem := zip_member_problem(archive.getinfo(n)))}
            unsafe += [Reject(f"{path}!{n}", problem) for n, problem in bombs.items()
                       if n in tweet_names or n == str(folder / "account.js")]
            tweet_names = [n for n in tweet_names if n not in bombs]
            names = [n for n in names if n not in bombs]

            def member(name: str) -> _Member:
                return _Member(f"{path}!{name}", PurePosixPath(name).name, lambda: archive.open(name))

            account_name = str(folder / "account.js")
            account = member(account_name) if account_name in names else None
            if unsafe:
                yield Page(rejects=unsafe)
            yield from paged(self._read_archive([member(n) for n in tweet_names], account, options, str(path),
                                                 own_account=True))

    # ---- readers ---------------------------------------------------------------------------------------
    def _read_archive(self, tweet_files: list[_Member], account_file: _Member | None, options: TwitterOptions,
                      where: str, own_account: bool) -> Iterator[RawRecord | Reject]:
        owner: Json | None = None
        if account_file is not None:
            owner, rejects = _read_account(account_file)
            yield from rejects
            if owner is not None and own_account:
                yield _account_record(owner, f"{account_file.label}[0]")
        owner = owner or _owner_from_options(options)
        if owner is None:
            raise ImportFormatError(
                f"{where}: the archive's tweets do not name their author and no account.js was found beside "
                "them; import the whole archive (zip or folder), or set the source's options.username "
                "(and options.account_id, the numeric id in account.js) to the archive owner"
            )
        for member in tweet_files:
            name = _ytd_name(member)
            if name not in _TWEETS_YTD:
                raise ImportFormatError(
                    f"{member.label}: not a tweets file of a Twitter archive (expected 'window.YTD.tweets.partN = [')"
                )
            for locator, item in _iter_ytd(member):
                if isinstance(item, Reject):
                    yield item
                    continue
                problem = archive_tweet_problem(item)
                if problem:
                    yield Reject(locator, f"twitter archive tweet rejected: {problem}", json_excerpt(item))
                    continue
                payload = {"tweet": item["tweet"], "account": owner}
                yield RawRecord.from_json("archive_tweet", item["tweet"]["id_str"], payload, ORIGIN, locator)

    def _read_twarc(self, path: Path) -> Iterator[RawRecord | Reject]:
        seen_twitter = False
        for locator, value in iter_json_values(path):
            if isinstance(value, Reject):
                yield value
                continue
            values = value if isinstance(value, list) else [value]
            for i, item in enumerate(values):
                item_locator = f"{locator}[{i}]" if isinstance(value, list) else locator
                if _is_v2_page(item) or _is_v2_tweet(item):
                    seen_twitter = True
                    yield from _v2_records(item_locator, item)
                elif _is_empty_v2_page(item):
                    seen_twitter = True  # a search that found nothing in one time window
                elif isinstance(item, dict) and isinstance(item.get("tweet"), dict):
                    raise ImportFormatError(
                        f"{path}: holds archive tweets without the archive around them; import the archive's "
                        "data/tweets.js (with account.js beside it), its folder or its zip"
                    )
                elif not seen_twitter:
                    raise ImportFormatError(_not_twitter_message(path, item))
                else:
                    yield Reject(item_locator, "not a twarc2 page or an API v2 tweet", json_excerpt(item))


def _not_twitter_message(path: Path, obj: Any) -> str:
    if isinstance(obj, dict) and "content" in obj and "account" in obj:
        return f"{path}: not a Twitter export: its first record looks like a Mastodon status (import it as mastodon)"
    if isinstance(obj, dict) and (isinstance(obj.get("post"), dict) or isinstance(obj.get("feed"), list)
                                  or str(obj.get("uri", "")).startswith("at://")):
        return f"{path}: not a Twitter export: its first record looks like Bluesky data (import it as bluesky)"
    if isinstance(obj, dict):
        keys = ", ".join(sorted(obj)[:8])
        return (f"{path}: not a Twitter export: its first record is neither a twarc2 page nor an API v2 tweet "
                f"(keys: {keys})")
    return f"{path}: not a Twitter export: its first record is {json_type_name(obj)}, not an object"
