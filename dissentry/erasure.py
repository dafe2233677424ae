"""What `dissentry forget` leaves behind so an erased account stays erased: hashed identifiers, a
stable erasure token per account, and the guard every ingestion path runs before writing.

An erased account is named in other people's data too: replies carry its id, mentions its handle,
text its display name. Those records are theirs and stay, but every identifier of the erased
account in them is replaced by one *erasure token* per account (`erased-<random hex>`), so a
reply to it is still a reply, to the same node, and network measures keep their shape.

The identifiers are never stored in the clear. `state/erased_identities.json` keeps, per erased
account, its token, the sha256 keys of its canonical ids (as `state/erased_accounts.json`) and its
*needles*: for each identifier (canonical id, handle, bare username, platform ids, display name)
its length, sha256 and the CRC-32 of its first word, and what replaces it. Text is scanned word by
word: a word whose CRC-32 is a needle's first word is checked against the sha256 of the candidate
span. (Hashes of names can be confirmed by whoever guesses the name, like the account keys
already were: the register is pseudonymous, not anonymous. It holds no identifier as text.)

`IngestGuard` runs in `dissentry.ingest.Ingestion.land`, so import, collect and the Airflow tasks (which call the
same functions) all drop an erased account's own records — the ones the platform's mapping
attributes to it, including boosts and quotes that embed its posts — and redact it in everyone
else's, before anything reaches raw or quarantine. The run row counts what was dropped.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa

from dissentry.connectors.base import RawRecord, Reject
from dissentry.connectors.identity import canonical_handle, canonical_host, clean_text
from dissentry.warehouse import schema
from dissentry.warehouse.lake import Lake

_WORD = re.compile(r"\w+")
# the first identity key of a JSON object names its author (Mastodon puts `reblog` and `account`
# before `mentions`; Bluesky, X and the tables name the author first too)
_FIRST_IDENTITY = re.compile(r'"(?:acct|handle|screen_name|username|author)"\s*:\s*"([^"\\]{1,200})"')
# ... or, when that handle is missing (why the record was quarantined), the id of its author object
_FIRST_AUTHOR_ID = re.compile(
    r'"(?:account|author|user|actor|from)"\s*:\s*\{\s*"(?:id|id_str|did)"\s*:\s*"?([^",}\\]{1,200})')
TOKEN_PREFIX = "erased-"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def account_key(account_id: str) -> str:
    """sha256 of a canonical account id: the erased register's key for it."""
    return sha256_hex(account_id)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_hex(6)


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


@dataclass(frozen=True)
class Needle:
    """One identifier, hashed. kind: 'text' (a span between word boundaries), 'bare' (a username
    that must not be followed by '@': `alice@other.example` is someone else), 'value' (a whole JSON
    string value or column value: platform ids, which are too short to match inside text)."""

    kind: str
    length: int
    digest: str
    first_crc: int
    ends_word: bool
    to: str

    @staticmethod
    def of(kind: str, text: str, to: str) -> Needle | None:
        low = clean_text(text).strip().lower()
        start = _WORD.search(low)
        if start is None:
            return None
        low = low[start.start():].rstrip()
        first = _WORD.match(low)
        assert first is not None
        return Needle(kind, len(low), sha256_hex(low), zlib.crc32(first.group().encode()), _is_word(low[-1]), to)

    def to_json(self) -> list[Any]:
        return [self.kind, self.length, self.digest, self.first_crc, self.ends_word, self.to]

    @staticmethod
    def from_json(row: list[Any]) -> Needle:
        return Needle(str(row[0]), int(row[1]), str(row[2]), int(row[3]), bool(row[4]), str(row[5]))


class Redactor:
    """Replaces every needle in text, JSON payloads and column values."""

    def __init__(self, needles: Iterable[Needle]) -> None:
        self._by_first: dict[int, list[Needle]] = {}
        self._digests: dict[tuple[int, str], Needle] = {}
        for needle in needles:
            self._by_first.setdefault(needle.first_crc, []).append(needle)
            self._digests[(needle.length, needle.digest)] = needle
        for group in self._by_first.values():
            group.sort(key=lambda n: -n.length)  # the longest identifier first: the full handle before the username
        self._firsts = frozenset(self._by_first)

    def __bool__(self) -> bool:
        return bool(self._digests)

    def _match(self, text: str, low: str, start: int, quoted: bool) -> Needle | None:
        word = _WORD.match(low, start)
        assert word is not None
        candidates = self._by_first.get(zlib.crc32(word.group().encode()))
        if not candidates:
            return None
        for needle in candidates:
            end = start + needle.length
            if end > len(low):
                continue
            if needle.ends_word and end < len(low) and _is_word(low[end]):
                continue
            if needle.kind == "bare" and low[end:end + 1] == "@":
                continue
            if needle.kind == "value" and not (quoted and start > 0 and text[start - 1] == '"'
                                               and text[end:end + 1] == '"'):
                continue
            if sha256_hex(low[start:end]) == needle.digest:
                return needle
        return None

    def text(self, value: str | None, *, quoted: bool = True) -> str | None:
        """`value` with every identifier replaced; `quoted`: JSON text, where ids are whole strings."""
        if not value or not self._digests:
            return value
        low = value.lower()
        if len(low) != len(value):  # a character whose lower case is longer ('İ'): compare as written
            low = value
        # most text names no erased account: one pass over its distinct words says so
        if self._firsts.isdisjoint(zlib.crc32(w.encode()) for w in set(_WORD.findall(low))):
            return value
        out: list[str] = []
        last = 0
        for word in _WORD.finditer(low):
            if word.start() < last:
                continue
            needle = self._match(value, low, word.start(), quoted)
            if needle is not None:
                out.append(value[last:word.start()])
                out.append(needle.to)
                last = word.start() + needle.length
        if not out:
            return value
        out.append(value[last:])
        return "".join(out)

    def value(self, value: str | None) -> str | None:
        """A column value: a platform id equal to a needle as a whole, else the text with needles replaced."""
        if not value or not self._digests:
            return value
        low = value.strip().lower()
        needle = self._digests.get((len(low), sha256_hex(low)))
        if needle is not None and needle.kind == "value":
            return needle.to
        return self.text(value)  # it may hold JSON (a quarantined record), where ids are quoted strings

    def payload(self, payload: str) -> str:
        """A raw payload (JSON text) with the needles replaced; still valid JSON."""
        redacted = self.text(payload)
        if redacted is payload or redacted == payload:
            return payload
        try:
            json.loads(redacted)
            return redacted
        except (ValueError, RecursionError):
            pass
        try:  # a needle spanned JSON syntax (a name with an escaped quote): redact value by value
            return json.dumps(self._walk(json.loads(payload)), ensure_ascii=False, separators=(",", ":"))
        except (ValueError, RecursionError):
            return redacted

    def _walk(self, node: Any) -> Any:
        if isinstance(node, str):
            return self.value(node)
        if isinstance(node, list):
            return [self._walk(v) for v in node]
        if isinstance(node, dict):
            return {self.value(k) or k: self._walk(v) for k, v in node.items()}
        return node

    def owns(self, content: str | None, kinds: tuple[str, ...] = ("text", "bare")) -> bool:
        """Whether the first identity in `content` (a quarantined record) is an erased account."""
        if not content:
            return False
        for pattern, wanted in ((_FIRST_IDENTITY, kinds), (_FIRST_AUTHOR_ID, ("value", "text"))):
            match = pattern.search(content)
            if match:
                low = clean_text(match.group(1)).strip().lstrip("@").lower()
                needle = self._digests.get((len(low), sha256_hex(low)))
                if needle is not None and needle.kind in wanted:
                    return True
        return False


# ---- the register -------------------------------------------------------------------------------------
def identities_path(lake: Lake) -> str:
    return lake.path("state", "erased_identities.json")


def load_identities(lake: Lake) -> list[dict[str, Any]]:
    path = identities_path(lake)
    if not lake.exists(path):
        return []
    data = lake.read_json(path)
    return list(data.get("accounts", [])) if isinstance(data, dict) else []


def save_identities(lake: Lake, accounts: list[dict[str, Any]]) -> None:
    lake.write_json({"accounts": accounts}, identities_path(lake))


def redactor_for(lake: Lake) -> Redactor:
    return Redactor(Needle.from_json(n) for a in load_identities(lake) for n in a.get("needles", []))


def needles_for(platform: str, token: str, *, ids: Iterable[str], handles: Iterable[str], platform_ids: Iterable[str],
                names: Iterable[str]) -> list[Needle]:
    """The needles of one account: its canonical ids, handles (and the username of a
    `user@host` handle), the platform's own ids of it, and its display names."""
    out: list[Needle | None] = []
    for account_id in ids:
        rest = account_id.split(":", 1)[1] if ":" in account_id else account_id
        host = rest.rpartition("@")[2] if "@" in rest else ""
        out.append(Needle.of("text", account_id, f"{platform}:{token}@{host}" if host else f"{platform}:{token}"))
    for handle in handles:
        user, at, host = handle.rpartition("@")
        if at:
            out.append(Needle.of("text", handle, f"{token}@{host}"))
            if len(user) >= 3:
                out.append(Needle.of("bare", user, token))
        elif len(handle) >= 3:
            out.append(Needle.of("text", handle, token))
    for value in platform_ids:
        # a long id (a snowflake, a DID) is distinctive enough to be found inside text too: a
        # Bluesky reply names its parent's author only inside the parent's at:// URI
        if len(value) >= 12:
            out.append(Needle.of("text", value, token))
        elif len(value) >= 3:
            out.append(Needle.of("value", value, token))
    for name in names:
        cleaned = clean_text(name).strip()
        # a name of a letter or two, or of symbols only, would erase other people's words
        if sum(ch.isalpha() for ch in cleaned) >= 4:
            out.append(Needle.of("text", cleaned, token))
    unique: dict[tuple[int, str], Needle] = {}
    for needle in out:
        if needle is not None:
            unique.setdefault((needle.length, needle.digest), needle)
    return list(unique.values())


# ---- the guard on every ingestion path ---------------------------------------------------------------
class IngestGuard:
    """Drops an erased account's records and redacts it in the rest, before they are written."""

    def __init__(self, lake: Lake, platform: str, keys: list[str], redactor: Redactor) -> None:
        self.lake = lake
        self.platform = platform
        self.keys = keys
        self.redactor = redactor
        self.records_dropped = 0
        self.rejects_dropped = 0
        self.redacted = 0
        self._con: Any = None
        self._mapping: dict[str, str] | None = None

    @staticmethod
    def for_lake(lake: Lake, platform: str) -> IngestGuard | None:
        keys = lake.erased_account_keys()
        if not keys:
            return None
        return IngestGuard(lake, platform, keys, redactor_for(lake))

    def _connection(self) -> Any:
        if self._con is None:
            from dissentry.connectors.registry import get_connector
            from dissentry.normalise import new_connection, read_mapping, use_erased_keys

            self._mapping = read_mapping(get_connector(self.platform).mapping_file)
            self._con = new_connection()
            use_erased_keys(self._con, self.keys)
        return self._con

    def _erased_positions(self, records: list[RawRecord]) -> set[int]:
        """Positions of records the platform's mapping attributes (in whole or in part) to an
        erased account: its profile, its posts, and boosts and quotes that embed them."""
        con = self._connection()
        assert self._mapping is not None
        base = datetime(2000, 1, 1, tzinfo=UTC)
        rows = {name: [] for name in schema.RAW.names}
        for i, r in enumerate(records):
            for name, value in (("platform", self.platform), ("source", "guard"), ("record_type", r.record_type),
                                ("record_id", r.record_id), ("origin", r.origin), ("payload", r.payload),
                                ("locator", r.locator), ("fetched_at", base + timedelta(microseconds=i)),
                                ("run_id", "guard")):
                rows[name].append(value)
        con.register("guard_input", pa.table(rows, schema=schema.RAW))
        con.execute("CREATE OR REPLACE TEMP TABLE raw AS SELECT * FROM guard_input")
        traces: set[Any] = set()
        erased = "coalesce(sha256({col}), '') IN (SELECT key FROM erased_keys)"
        if "accounts" in self._mapping:
            traces |= {r[0] for r in con.execute(
                f"SELECT fetched_at FROM ({self._mapping['accounts']}) WHERE {erased.format(col='account_id')}"
            ).fetchall()}
        if "posts" in self._mapping:
            traces |= {r[0] for r in con.execute(
                f"SELECT fetched_at FROM ({self._mapping['posts']}) WHERE {erased.format(col='author_id')}"
            ).fetchall()}
        con.unregister("guard_input")
        return {int((t - base) / timedelta(microseconds=1)) for t in traces}

    def records(self, records: list[RawRecord]) -> list[RawRecord]:
        if not records:
            return records
        gone = self._erased_positions(records)
        self.records_dropped += len(gone)
        kept: list[RawRecord] = []
        for i, record in enumerate(records):
            if i in gone:
                continue
            payload = self.redactor.payload(record.payload)
            locator = self.redactor.text(record.locator, quoted=False) or record.locator
            if payload is not record.payload or locator != record.locator:
                self.redacted += payload != record.payload or locator != record.locator
                record = replace(record, payload=payload, locator=locator)
            kept.append(record)
        return kept

    def rejects(self, rejects: list[Reject]) -> list[Reject]:
        kept: list[Reject] = []
        for reject in rejects:
            if self.redactor.owns(reject.content):
                self.rejects_dropped += 1
                continue
            redacted = Reject(self.redactor.text(reject.locator, quoted=False) or "",
                              self.redactor.text(reject.reason, quoted=False) or "",
                              self.redactor.text(reject.content) or "")
            self.redacted += redacted != reject
            kept.append(redacted)
        return kept

    def note(self) -> str | None:
        """The run row's record of what was dropped: counts, never ids."""
        if not (self.records_dropped or self.rejects_dropped or self.redacted):
            return None
        return (f"erased accounts (dissentry forget): {self.records_dropped} records and {self.rejects_dropped} "
                f"rejected inputs of theirs dropped before landing; {self.redacted} other records redacted")

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


def redact_table(table: pa.Table, redactor: Redactor, columns: Iterable[str] | None = None) -> tuple[pa.Table, int]:
    """Every string column (or `columns`) of `table` redacted; (table, rows changed)."""
    changed_rows: set[int] = set()
    arrays = []
    for name in table.column_names:
        column = table.column(name)
        if not pa.types.is_string(column.type) or (columns is not None and name not in columns):
            arrays.append(column)
            continue
        values = column.to_pylist()
        out = []
        for i, v in enumerate(values):
            new = redactor.payload(v) if name == "payload" and v else redactor.value(v)
            if new != v:
                changed_rows.add(i)
            out.append(new)
        arrays.append(pa.array(out, type=column.type))
    if not changed_rows:
        return table, 0
    return pa.Table.from_arrays(arrays, schema=table.schema), len(changed_rows)


# ---- sources that still list an erased account ----------------------------------------------------
def _source_account_ids(platform: str, account: str, instance: str | None) -> set[str]:
    """The canonical ids a source's account entry can be registered under (`dissentry forget`
    registers `platform:handle` however the mapping spells the account's id)."""
    handle = canonical_handle(account)
    if platform == "reddit":
        for prefix in ("/", "u/", "user/"):
            handle = handle.removeprefix(prefix)
        handle = handle.rstrip("/")
    ids = {f"{platform}:{handle}"}
    if platform == "mastodon" and "@" not in handle and instance:
        # a local account of the source's instance: `alice` on https://social.example
        parts = urlsplit(instance if "://" in instance else f"https://{instance}")
        host = parts.hostname
        if host:
            ids.add(f"{platform}:{handle}@{canonical_host(host)}")
            try:
                port = parts.port
            except ValueError:
                port = None
            if port and port != (80 if parts.scheme == "http" else 443):
                # the mapping keeps an instance's port in the namespace: `alice@localhost:3000`
                ids.add(f"{platform}:{handle}@{canonical_host(host)}:{port}")
    return ids


def without_erased_accounts(lake: Lake, source: Any) -> tuple[Any, list[str]]:
    """`source` without the accounts `dissentry forget` erased, and one warning per account left
    out, naming it by its erasure token only: the run then never asks for it, so its handle
    reaches no cursor, run row, log line or error."""
    keys = set(lake.erased_account_keys())
    if not keys or not source.accounts:
        return source, []
    tokens = {k: str(a.get("token")) for a in load_identities(lake) for k in a.get("keys", [])}
    kept: list[str] = []
    warnings: list[str] = []
    for account in source.accounts:
        erased = sorted(account_key(i) for i in _source_account_ids(source.platform, account, source.instance)
                        if account_key(i) in keys)
        if not erased:
            kept.append(account)
            continue
        token = tokens.get(erased[0], TOKEN_PREFIX + "account")
        warnings.append(f"source {source.name!r}: skipped the account erased by `dissentry forget` ({token}); "
                        "remove it from the configuration")
    if not warnings:
        return source, []
    return source.model_copy(update={"accounts": kept}), warnings


def iter_erased_config_refs(config: Any, keys: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(group id, account ref) of every configured account that was erased."""
    from dissentry.config import parse_account_ref

    erased = set(keys)
    if not erased:
        return
    for group in config.groups:
        refs = [*group.accounts, *(a for _, accounts in group.people() for a in accounts)]
        for ref in refs:
            platform, handle = parse_account_ref(ref)
            if account_key(f"{platform}:{handle}") in erased:
                yield group.id, ref
