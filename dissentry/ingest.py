"""Landing pages in the lake: one collection or import run, as a small object.

    ingestion = Ingestion(lake, platform="mastodon", source_name="m", mode="collect", cursor_before=cursor)
    ingestion.land(page)          # records to raw, rejects to quarantine; commits when a batch is full
    ingestion.commit()            # flush both writers, then save the newest cursor they cover
    row = ingestion.finish()      # the last commit, the run's status, its row in collection_runs

`ingest(ingestion, pages)` is the loop the pipeline runs over a connector's pages: the page cap,
the faults that end a run (what landed is kept with its cursor) and an interruption.

The cursor commit policy, on which a killed or failed run's resumption rests: a page's cursor is
only ever saved by `commit()`, after the raw and quarantine writers have flushed everything read
up to that page, so a saved cursor never covers data that is not durable; a full disk drops the
batch that could not land together with its cursor, so the next run fetches it again. The run's
row is written first, as 'running' (a run killed outright is then accounted for by the next run of
the source, `reconcile_killed_runs`), and again, whole, by `finish()`.

Nothing here prints: progress goes to the caller's `on_page` (dissentry.pipeline turns it into
`ProgressEvent`s for the CLI's bars, a scheduler's log or a test).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import duckdb

from dissentry.connectors.base import ImportFormatError, Page, RawRecord, Reject
from dissentry.connectors.http import HttpClient, HttpError
from dissentry.erasure import IngestGuard
from dissentry.warehouse import schema
from dissentry.warehouse.catalog import connect
from dissentry.warehouse.lake import (
    Lake,
    disk_full_error,
    is_disk_full,
    new_run_id,
    quarantine_writer,
    raw_writer,
    write_collection_run,
)
from dissentry.warehouse.sql import quote_literal

log = logging.getLogger("dissentry.pipeline")  # the pipeline's logger, as before the move
COMMIT_EVERY_SECONDS = 30.0
KEYS_PER_PASS = 1_000_000
"""Record keys an import's count of new records holds at once (count_new_records)."""


EventKind = Literal["started", "page", "finished", "step", "running"]


@dataclass(frozen=True)
class ProgressEvent:
    """What a step is doing, for whoever shows it: the CLI's bars (dissentry/progress_bars.py), a
    log line, a test. Counts and names only, never a record or a secret.

    Collections and imports (`step` "collect" or "import") send "started", then "page" after each
    page landed, then "finished" (when the run ended without a fault or an interruption); normalise
    and transform send "step" for each step they report (a table written, a model built: `rows`
    None while it starts) and "running" when one statement has run a while without a new step."""

    step: str  # "collect", "import", "normalise", "transform"
    name: str  # what: "import posts", "collect m"; for a build step the table or model
    kind: EventKind
    records: int | None = None  # records read so far (ingestion), or the step's rows
    read: tuple[int, int] | None = None  # an import's (bytes read, bytes in all), when it can tell
    platform: str | None = None
    status: str | None = None  # "finished": the run's status
    elapsed: float = 0.0  # seconds since the step started
    statement_done: float | None = None  # "running": the share of the DuckDB statement done, 0..1


OnProgress = Callable[[ProgressEvent], None]


class Ingestion:
    """One run landing pages of one source: its writers, its cursor, its counts and its row.

    Creating it sweeps stale temporary files, marks killed runs of the source 'interrupted' and
    writes this run's row as 'running'. `errors` is the caller's list when it has one (an import's
    reader appends to it while pages are read). `expect_records`: what was read (an import's files);
    reading no record at all from it is no success, so the run is partial and says so."""

    def __init__(
        self,
        lake: Lake,
        *,
        platform: str,
        source_name: str,
        mode: str,
        cursor_before: dict[str, Any] | None,
        max_pages: int | None = None,
        http: HttpClient | None = None,
        errors: list[str] | None = None,
        expect_records: str | None = None,
    ) -> None:
        self.lake, self.platform, self.source_name, self.mode = lake, platform, source_name, mode
        self.cursor_before, self.max_pages, self.http = cursor_before, max_pages, http
        self.expect_records = expect_records
        self.started = datetime.now(UTC)
        self.run_id = new_run_id(self.started)
        day = self.started.strftime("%Y-%m-%d")
        self.raw = raw_writer(lake, platform, source_name, day, self.run_id)
        self.bad = quarantine_writer(lake, platform, source_name, day, self.run_id)
        self.errors: list[str] = errors if errors is not None else []
        self.pending_cursor: dict[str, Any] | None = None
        self.committed_cursor = cursor_before
        self.pages = 0
        self.records_read = 0  # as the pages had them, before erased accounts are dropped
        self.cap_hit = False
        self.status = "ok"
        self._seq = 0
        self._released = False
        self._last_commit = time.monotonic()
        lake.sweep_stale_temp_files()
        # accounts erased by `dissentry forget`: dropped, and redacted in other people's records,
        # before anything is written (dissentry/erasure.py); None when nothing was ever erased
        self.guard = IngestGuard.for_lake(lake, platform)
        # the run's row comes first, as 'running': a run killed outright (SIGKILL, power loss) then
        # leaves no raw batch that no run row accounts for; the next run of the source, holding its
        # lock, knows that run is dead and marks it 'interrupted' with what it had landed
        reconcile_killed_runs(lake, platform, source_name)
        write_collection_run(lake, {
            "run_id": self.run_id, "source": source_name, "platform": platform, "mode": mode,
            "started_at": self.started, "status": "running", "pages": 0, "records_seen": 0, "records_new": 0,
            "records_quarantined": 0, "cursor_before": _json_or_none(cursor_before), "errors": "[]", "cap_hit": False,
        })

    # ---- while pages arrive ---------------------------------------------------------------------------
    def wants_more(self) -> bool:
        """False once `max_pages` pages landed: the run stops before asking for another page."""
        if self.max_pages is not None and self.pages >= self.max_pages:
            self.cap_hit = True
            self.errors.append(f"stopped at max_pages={self.max_pages}: older data was not collected")
            return False
        return True

    def land(self, page: Page) -> None:
        """Write a page's records and rejects; its cursor waits for the next commit."""
        self.pages += 1
        self.records_read += len(page.records)
        self.cap_hit = self.cap_hit or page.cap_hit
        now = datetime.now(UTC)
        guard = self.guard
        append = self.raw.append
        platform, source, run_id = self.platform, self.source_name, self.run_id
        unstorable: list[Reject] = []
        for record in guard.records(page.records) if guard else page.records:
            # the payload goes to Arrow as UTF-8 bytes: Arrow converts a str that is not ASCII several
            # times slower than str.encode does (a fifth of an import's CPU); a compact JSON line
            # comes as the bytes it was read from (connectors.base.ReadRecord), never decoded
            payload = getattr(record, "utf8", None)
            key_text = record.record_id + (record.origin or "")
            try:
                if payload is None:
                    payload = record.payload.encode("utf-8")
                if not key_text.isascii():  # isascii is O(1); nearly every key is ASCII
                    key_text.encode("utf-8")
            except UnicodeEncodeError as exc:  # found here, before it fails the whole batch
                unstorable.append(_unstorable(record, exc))
                continue
            locator = record.locator
            if not locator.isascii():  # a file name with bytes UTF-8 cannot hold: kept as its escape
                locator = _storable(locator)
            # a microsecond apart, in input order: of two versions of one record in one run,
            # the later one is the newer, as "latest fetch wins" expects
            self._seq += 1
            append({
                "platform": platform,
                "source": source,
                "record_type": record.record_type,
                "record_id": record.record_id,
                "origin": record.origin,
                "payload": payload,
                "locator": locator,
                "fetched_at": now + timedelta(microseconds=self._seq),
                "run_id": run_id,
            })
        # one summary line per source at the end (dissentry.health), not one line per record
        rejects = guard.rejects(page.rejects) if guard else page.rejects
        for reject in (*rejects, *unstorable) if unstorable else rejects:
            self.bad.append({
                "platform": platform,
                "source": source,
                "locator": _storable(reject.locator),
                "reason": _storable(reject.reason),
                "content": _storable((reject.content or "")[: schema.QUARANTINE_CONTENT_LIMIT]),
                "quarantined_at": now,
                "run_id": run_id,
            })
        if page.cursor is not None:
            self.pending_cursor = page.cursor
        # land what we have every half minute too: a killed run then refetches little
        if self.raw.full() or self.bad.full() or time.monotonic() - self._last_commit > COMMIT_EVERY_SECONDS:
            self.commit()

    def commit(self) -> None:
        """Make what was landed durable, then save the cursor that covers it (never before)."""
        self._last_commit = time.monotonic()
        self.raw.flush()
        self.bad.flush()
        if self.pending_cursor is not None and self.pending_cursor != self.committed_cursor:
            self.lake.save_cursor(self.platform, self.source_name, self.pending_cursor)
            self.committed_cursor = self.pending_cursor

    # ---- how the run ends -----------------------------------------------------------------------------
    def failed(self, exc: Exception) -> None:
        """A fault ends the run: what was fetched before it is kept, and so is the cursor covering it."""
        problem: Exception = exc
        if is_disk_full(exc):
            # what could not land is dropped with its cursor: the next run fetches it again
            problem = disk_full_error([self.lake.write_folder])
            self.raw.discard()
            self.bad.discard()
            self.pending_cursor = self.committed_cursor
        self.errors.append(str(problem))
        self.status = "failed"
        log.error("%s %s: %s", self.mode, self.source_name, problem)

    def interrupted(self, exc: KeyboardInterrupt) -> None:
        """SIGINT, or SIGTERM through the pipeline's handler: as for a failure, what landed is kept
        with its cursor, and the run says it was stopped."""
        self.errors.append(f"interrupted by {getattr(exc, 'signal_name', 'SIGINT')}: the next run resumes "
                           f"from the last committed page")
        self.status = "interrupted"
        log.error("%s %s: interrupted", self.mode, self.source_name)

    def release(self) -> None:
        """Close the erasure guard's connection (once): no page lands after this."""
        if self.guard and not self._released:
            self.guard.close()
        self._released = True

    def finish(self) -> dict[str, Any]:
        """The last commit, the run's status, and its row written to collection_runs (returned)."""
        self.release()
        if self.status == "ok" and (self.errors or self.cap_hit):
            self.status = "partial"
        try:
            self.commit()
        except OSError as exc:  # the last batch: the disk filled up as the run ended
            if not is_disk_full(exc):
                raise
            self.raw.discard()
            self.bad.discard()
            self.errors.append(str(disk_full_error([self.lake.write_folder])))
            self.status = "failed"
        if self.bad.rows_written and self.status == "ok":
            self.status = "partial"
        guard = self.guard
        dropped_erased = bool(guard and guard.note())
        if (self.expect_records is not None and self.status == "ok" and self.raw.rows_written == 0
                and not dropped_erased):
            self.errors.append(f"no records read from {self.expect_records}")
            self.status = "partial"
        if guard and (note := guard.note()):
            self.errors.append(note)  # a count, never an id; keeping erased accounts out is no fault of the run
        http = self.http
        row = {
            "run_id": self.run_id,
            "source": self.source_name,
            "platform": self.platform,
            "mode": self.mode,
            "started_at": self.started,
            "finished_at": datetime.now(UTC),
            "status": self.status,
            "pages": self.pages,
            "records_seen": self.raw.rows_written,
            "records_new": count_new_records(self.lake, self.platform, self.run_id, self.raw.files),
            "records_quarantined": self.bad.rows_written,
            "cursor_before": _json_or_none(self.cursor_before),
            "cursor_after": _json_or_none(self.committed_cursor),
            "rate_limit_waits": http.rate_limit_waits if http else 0,
            "rate_limit_wait_seconds": http.rate_limit_wait_seconds if http else 0.0,
            "requests": http.requests if http else 0,
            "errors": json.dumps(self.errors, ensure_ascii=False),
            "cap_hit": self.cap_hit,
            "responses_429": http.responses_429 if http else 0,
            "waits": json.dumps(http.wait_summary() if http else {}, sort_keys=True),
            "clock_skew_seconds": http.clock_skew_seconds if http else None,
        }
        try:
            write_collection_run(self.lake, row)
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            raise disk_full_error([self.lake.write_folder], note=" (the run's row could not be written: the next run "
                                  "of this source records it as interrupted)") from None
        return row


def ingest(ingestion: Ingestion, pages: Iterable[Page],
           on_page: Callable[[Page], None] | None = None) -> dict[str, Any]:
    """Land `pages` until they end, the page cap stops them, or a fault or an interruption does;
    then finish the run and return its row. An interruption is raised again once the row is written
    (the CLI then exits non-zero; Airflow's own SIGTERM handler runs)."""
    iterator = iter(pages)
    interrupted: KeyboardInterrupt | None = None
    try:
        while ingestion.wants_more():
            try:
                page = next(iterator)
            except StopIteration:
                break
            ingestion.land(page)
            if on_page is not None:
                on_page(page)
    except (HttpError, ImportFormatError, OSError, ValueError) as exc:
        ingestion.failed(exc)
    except KeyboardInterrupt as exc:  # SIGINT, and SIGTERM through the pipeline's _interruptible()
        interrupted = exc
        ingestion.interrupted(exc)
    finally:
        close = getattr(iterator, "close", None)
        if close:
            close()
        ingestion.release()  # also when an unexpected error goes on up, without a row
    row = ingestion.finish()
    if interrupted is not None:
        raise interrupted  # the row is written; the caller still stops
    return row


def _storable(text: str) -> str:
    """`text` as UTF-8 can hold it: a lone surrogate (half of a UTF-16 pair, which a JSON `\\ud800`
    escape or an undecodable file name gives Python) written as its escape, so a quarantine row that
    shows such input never fails the batch it is in."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _unstorable(record: RawRecord, exc: UnicodeEncodeError) -> Reject:
    """The reject of a record whose text holds a lone surrogate: no Parquet string (UTF-8) can hold it,
    and written as the escape it came from it would no longer be the platform's JSON as read."""
    char = exc.object[exc.start : exc.start + 1].encode("utf-8", "backslashreplace").decode("ascii")
    where = _storable(record.locator)
    return Reject(where, f"{where}: the {record.record_type} holds a lone UTF-16 surrogate ({char}, half of a "
                         "character pair, as a JSON \\u escape can write it), which UTF-8 text cannot hold: "
                         "the record was not imported", _storable(record.payload))


def _json_or_none(cursor: dict[str, Any] | None) -> str | None:
    return json.dumps(cursor, sort_keys=True) if cursor is not None else None


def reconcile_killed_runs(lake: Lake, platform: str, source_name: str) -> None:
    """Rows still 'running' of this source, seen while holding its lock: their process died."""
    if not lake.has_files("collection_runs"):
        return
    con = connect(lake=lake)
    try:
        cursor = con.execute(
            f"SELECT * FROM read_parquet({quote_literal(lake.glob('collection_runs'))}, union_by_name = true, "
            "hive_partitioning = false) "
            "WHERE status = 'running' AND platform = ? AND source = ?", [platform, source_name]
        )
        names = [d[0] for d in cursor.description or []]
        killed = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    finally:
        con.close()
    for row in killed:
        def landed(layer: str, run_id: str = row["run_id"]) -> int:
            return sum(lake.num_rows(f) for f in lake.partition_files(layer, platform, source_name)
                       if f.rsplit("/", 1)[-1].startswith(run_id + "-"))

        row.update(status="interrupted", records_seen=landed("raw"), records_quarantined=landed("quarantine"),
                   errors=json.dumps(["killed before it finished: the batches it had landed are kept, and the "
                                      "next run resumed from the last committed cursor"]))
        write_collection_run(lake, {k: v for k, v in row.items() if k in schema.COLLECTION_RUNS.names})


def count_new_records(lake: Lake, platform: str, run_id: str, files: list[str]) -> int:
    """Records of this run whose exact content the lake did not hold before.

    Only the keys (record_type, record_id) are read first: a key this run holds once and the lake
    never held is a new record whatever its payload, which is nearly every record of a first
    import. Payloads are hashed only for the other keys (seen twice in the run, or held before):
    hashing every payload was a tenth of an import's CPU, and an import after months of collection
    hashed every payload of the lake too.

    A run of more than KEYS_PER_PASS records is counted one hash partition of its keys at a time
    (each pass reads the key columns again): holding every key at once took 1 GiB at 10M records,
    and an import's memory must stay flat in N."""
    if not files:
        return 0
    mine_files = set(files)
    earlier = [f for f in lake.raw_files(platform) if f not in mine_files]
    con = connect(lake=lake)
    try:
        con.register("mine", con.read_parquet(files))
        if earlier:
            con.register("earlier", con.read_parquet(earlier))
        rows = con.execute("SELECT count(*) FROM mine").fetchone()[0]
        passes = max(1, -(-rows // KEYS_PER_PASS))
        return sum(_count_new_in(con, f"hash(record_type, record_id) % {passes} = {part}" if passes > 1 else "true",
                                 held_before=bool(earlier))
                   for part in range(passes))
    finally:
        con.close()


def _count_new_in(con: duckdb.DuckDBPyConnection, part: str, *, held_before: bool) -> int:
    """count_new_records over the keys `part` (a predicate on record_type, record_id) selects."""
    mine, earlier = f"(SELECT * FROM mine WHERE {part})", f"(SELECT * FROM earlier WHERE {part})"
    con.execute("CREATE OR REPLACE TEMP TABLE run_keys AS "
                f"SELECT record_type, record_id, count(*) AS n FROM {mine} GROUP BY ALL")
    if held_before:
        # the run's keys the lake held before (only the key columns of earlier batches are read)
        con.execute("CREATE OR REPLACE TEMP TABLE held_keys AS SELECT DISTINCT e.record_type, e.record_id "
                    f"FROM {earlier} e "
                    "SEMI JOIN run_keys k ON e.record_type = k.record_type AND e.record_id = k.record_id")
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE held_keys (record_type VARCHAR, record_id VARCHAR)")
    # a key of several rows, or one held before, is new only for each payload the lake lacks
    con.execute("""
        CREATE OR REPLACE TEMP TABLE suspect_keys AS
        SELECT record_type, record_id FROM run_keys k
        WHERE n > 1 OR EXISTS (SELECT 1 FROM held_keys h
                               WHERE h.record_type = k.record_type AND h.record_id = k.record_id)""")
    # every other key is one new record, its payload unread
    fresh, suspects = con.execute(
        "SELECT (SELECT count(*) FROM run_keys) - count(*), count(*) FROM suspect_keys").fetchone()
    if not suspects:
        return int(fresh)
    mine_versions = f"""
        SELECT DISTINCT m.record_type, m.record_id, md5(m.payload) AS h FROM {mine} m
        SEMI JOIN suspect_keys s
          ON m.record_type IS NOT DISTINCT FROM s.record_type AND m.record_id IS NOT DISTINCT FROM s.record_id"""
    if not held_before:
        return int(fresh) + con.execute(f"SELECT count(*) FROM ({mine_versions})").fetchone()[0]
    return int(fresh) + con.execute(
        f"""
        WITH held AS (
            SELECT e.record_type, e.record_id, md5(e.payload) AS h FROM {earlier} e
            SEMI JOIN held_keys k ON e.record_type = k.record_type AND e.record_id = k.record_id)
        SELECT count(*) FROM ({mine_versions}) m
        WHERE NOT EXISTS (
            SELECT 1 FROM held e
            WHERE e.record_type = m.record_type AND e.record_id = m.record_id AND e.h = m.h)
        """
    ).fetchone()[0]
