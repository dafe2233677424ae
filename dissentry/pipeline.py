"""The pipeline steps as plain functions. The CLI and the Airflow DAGs both call these.

collect(config, source)        API sources -> raw Parquet (+ cursor, + collection_runs row)
import_export(config, ...)     export files -> raw Parquet (+ quarantine, + collection_runs row)
normalise(config)              raw -> canonical tables
transform(config)              canonical tables -> marts in dissentry.duckdb and marts/*.parquet
run(config)                    all of the above for every configured source
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import duckdb
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from connectors.base import ImportFormatError, Page
from connectors.http import HttpClient, HttpError
from connectors.registry import get_connector
from dissentry import build_progress, resources
from dissentry.config import CollectionSettings, Config, Source
from dissentry.erasure import IngestGuard, without_erased_accounts
from dissentry.normalise import normalise_lake
from dissentry.privacy import pseudonymiser_for
from dissentry.retention import apply_retention
from warehouse import schema
from warehouse.catalog import (
    building_path,
    connect,
    create_lake_views,
    publish_serving_file,
    sweep_building_files,
)
from warehouse.lake import (
    Lake,
    disk_full_error,
    is_disk_full,
    new_run_id,
    quarantine_writer,
    raw_writer,
    write_collection_run,
)
from warehouse.lock import exclusive, shared

log = logging.getLogger(__name__)
COMMIT_EVERY_SECONDS = 30.0
PROGRESS_LOG_SECONDS = 10.0  # without a progress bar (no TTY): one log line this often
console = Console(stderr=True)
# progress lines without a TTY: the CLI shows this logger at INFO, a scheduler's log keeps them
progress_log = logging.getLogger("dissentry.progress")


@dataclass
class RunResult:
    runs: list[dict[str, Any]] = field(default_factory=list)
    normalised: dict[str, int] = field(default_factory=dict)
    tables: dict[str, int] = field(default_factory=dict)
    warehouse: str | None = None

    @property
    def ok(self) -> bool:
        return all(r["status"] == "ok" for r in self.runs)


def lake_for(config: Config) -> Lake:
    """The configured lake; a remote one is checked to be reachable before any work starts."""
    lake = Lake(config.warehouse_location, local_dir=config.local_path, storage_options=config.storage_options)
    lake.check_reachable()
    return lake


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        # an import's total is the files' bytes, so the percentage and the ETA are of bytes read
        TaskProgressColumn(),
        _RecordsColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        yield progress


class _RecordsColumn(ProgressColumn):
    """Records landed so far, for the tasks that count them (an import, a collection)."""

    def render(self, task: Task) -> Text:
        records = task.fields.get("records")
        return Text("" if records is None else f"{records:>9,} records", style="progress.download")


def _read_offset(path: Path) -> int:
    """How far this process has read into `path`: the largest offset of a descriptor open on it.

    Linux's /proc/self/fdinfo; elsewhere 0 (the bar then moves file by file). Readers are the
    connectors' own, so this is the one place that sees their position without changing them."""
    target = os.path.realpath(path)
    best = 0
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return 0
    for fd in fds:
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != target:
                continue
            with open(f"/proc/self/fdinfo/{fd}", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("pos:"):
                        best = max(best, int(line.split()[1]))
        except (OSError, ValueError):
            continue
    return best


class _ImportBytes:
    """Bytes read of an import's files, over their size: None when a path is no plain file."""

    def __init__(self, files: list[Path]) -> None:
        self.sizes = {f: f.stat().st_size for f in files if f.is_file()}
        self.total = sum(self.sizes.values()) if len(self.sizes) == len(files) else 0
        self.finished = 0
        self.current: Path | None = None
        self.seen = 0  # of the current file: a reader that closed it before its last page read it all

    def start(self, path: Path) -> None:
        self.current, self.seen = path, 0

    def finish(self, path: Path) -> None:
        self.finished += self.sizes.get(path, 0)
        self.current, self.seen = None, 0

    def __call__(self) -> tuple[int, int] | None:
        if not self.total:
            return None
        if self.current is not None:
            self.seen = max(self.seen, min(_read_offset(self.current), self.sizes.get(self.current, 0)))
        return min(self.finished + self.seen, self.total), self.total


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


class _PageProgress:
    """After each page: the bar (on a TTY), or else a log line every PROGRESS_LOG_SECONDS."""

    def __init__(self, bar: Progress | None, description: str,
                 measure: Callable[[], tuple[int, int] | None] | None) -> None:
        self.bar, self.description, self.measure = bar, description, measure
        self.task = bar.add_task(description, total=None, records=0) if bar is not None else None
        self.started = self.last = time.monotonic()
        self.records = 0

    def page(self, records: int) -> None:
        self.records += records
        now = time.monotonic()
        if self.bar is not None and self.task is not None:
            measured = self.measure() if self.measure else None
            if measured:
                self.bar.update(self.task, completed=measured[0], total=measured[1], records=self.records)
            else:
                self.bar.update(self.task, records=self.records)
        elif now - self.last >= PROGRESS_LOG_SECONDS:
            self.last = now
            progress_log.info("%s", self.line(now))

    def line(self, now: float) -> str:
        text = f"{self.description}: {self.records:,} records"
        measured = self.measure() if self.measure else None
        if measured and measured[0]:
            done, total = measured
            left = (now - self.started) * (total - done) / done
            text += (f", {_size(done)} of {_size(total)} ({done / total:.0%}), "
                     f"about {timedelta(seconds=round(left))} left")
        return text

    def end(self, records: int) -> None:
        if self.bar is not None and self.task is not None:
            measured = self.measure() if self.measure else None
            total = measured[1] if measured else max(records, 1)
            self.bar.update(self.task, total=total, completed=total, records=records)


# ---- ingestion: the one loop that lands pages in the lake ----------------------------------------
def _ingest(
    lake: Lake,
    *,
    platform: str,
    source_name: str,
    mode: str,
    pages: Iterable[Page],
    cursor_before: dict[str, Any] | None,
    max_pages: int | None = None,
    http: HttpClient | None = None,
    progress: Progress | None = None,
    description: str = "",
    extra_errors: list[str] | None = None,
    measure: Callable[[], tuple[int, int] | None] | None = None,
    expect_records: str | None = None,
) -> dict[str, Any]:
    """Write pages to raw/quarantine, commit cursors after the data is durable, record the run.

    `measure`: (bytes read, bytes in all) of an import's files, for the bar's total and ETA.
    `expect_records`: what was read (an import's files); reading no record at all from it is no
    success, so the run is partial and says so (an empty CSV, a glob that matched no file)."""
    started = datetime.now(UTC)
    run_id = new_run_id(started)
    day = started.strftime("%Y-%m-%d")
    raw = raw_writer(lake, platform, source_name, day, run_id)
    bad = quarantine_writer(lake, platform, source_name, day, run_id)
    # the same list the import pages append to while they are read
    errors: list[str] = extra_errors if extra_errors is not None else []
    pending_cursor: dict[str, Any] | None = None
    committed_cursor = cursor_before
    n_pages = 0
    seq = 0
    last_commit = time.monotonic()
    lake.sweep_stale_temp_files()
    cap_hit = False
    shown = _PageProgress(progress, description or f"{mode} {source_name}", measure)
    # accounts erased by `dissentry forget`: dropped, and redacted in other people's records,
    # before anything is written (dissentry/erasure.py); None when nothing was ever erased
    guard = IngestGuard.for_lake(lake, platform)
    # the run's row comes first, as 'running': a run killed outright (SIGKILL, power loss) then
    # leaves no raw batch that no run row accounts for; the next run of the source, holding its
    # lock, knows that run is dead and marks it 'interrupted' with what it had landed
    _reconcile_killed_runs(lake, platform, source_name)
    write_collection_run(lake, {
        "run_id": run_id, "source": source_name, "platform": platform, "mode": mode, "started_at": started,
        "status": "running", "pages": 0, "records_seen": 0, "records_new": 0, "records_quarantined": 0,
        "cursor_before": json.dumps(cursor_before, sort_keys=True) if cursor_before is not None else None,
        "errors": "[]", "cap_hit": False,
    })

    def commit() -> None:
        nonlocal committed_cursor, last_commit
        last_commit = time.monotonic()
        raw.flush()
        bad.flush()
        if pending_cursor is not None and pending_cursor != committed_cursor:
            lake.save_cursor(platform, source_name, pending_cursor)
            committed_cursor = pending_cursor

    iterator = iter(pages)
    interrupted: KeyboardInterrupt | None = None
    try:
        while True:
            if max_pages is not None and n_pages >= max_pages:
                cap_hit = True
                errors.append(f"stopped at max_pages={max_pages}: older data was not collected")
                break
            try:
                page = next(iterator)
            except StopIteration:
                break
            n_pages += 1
            cap_hit = cap_hit or page.cap_hit
            now = datetime.now(UTC)
            for record in guard.records(page.records) if guard else page.records:
                # a microsecond apart, in input order: of two versions of one record in one run,
                # the later one is the newer, as "latest fetch wins" expects
                seq += 1
                raw.append(
                    {
                        "platform": platform,
                        "source": source_name,
                        "record_type": record.record_type,
                        "record_id": record.record_id,
                        "origin": record.origin,
                        "payload": record.payload,
                        "locator": record.locator,
                        "fetched_at": now + timedelta(microseconds=seq),
                        "run_id": run_id,
                    }
                )
            # one summary line per source at the end (dissentry.health), not one line per record
            for reject in guard.rejects(page.rejects) if guard else page.rejects:
                bad.append(
                    {
                        "platform": platform,
                        "source": source_name,
                        "locator": reject.locator,
                        "reason": reject.reason,
                        "content": (reject.content or "")[: schema.QUARANTINE_CONTENT_LIMIT],
                        "quarantined_at": now,
                        "run_id": run_id,
                    }
                )
            if page.cursor is not None:
                pending_cursor = page.cursor
            # land what we have every half minute too: a killed run then refetches little
            if raw.full() or bad.full() or time.monotonic() - last_commit > COMMIT_EVERY_SECONDS:
                commit()
            shown.page(len(page.records))
        status = "partial" if (errors or cap_hit) else "ok"
    except (HttpError, ImportFormatError, OSError, ValueError) as exc:
        # what was fetched before the fault is kept, and so is the cursor that covers it
        problem: Exception = exc
        if is_disk_full(exc):
            # what could not land is dropped with its cursor: the next run fetches it again
            problem = disk_full_error([lake.write_folder])
            raw.discard()
            bad.discard()
            pending_cursor = committed_cursor
        errors.append(str(problem))
        status = "failed"
        log.error("%s %s: %s", mode, source_name, problem)
    except KeyboardInterrupt as exc:  # SIGINT, and SIGTERM through _interruptible()
        # as for a failure: what landed is kept with its cursor, and the run says it was stopped
        interrupted = exc
        errors.append(f"interrupted by {getattr(exc, 'signal_name', 'SIGINT')}: the next run resumes "
                      f"from the last committed page")
        status = "interrupted"
        log.error("%s %s: interrupted", mode, source_name)
    finally:
        close = getattr(iterator, "close", None)
        if close:
            close()
        if guard:
            guard.close()
    try:
        commit()
    except OSError as exc:  # the last batch: the disk filled up as the run ended
        if not is_disk_full(exc):
            raise
        raw.discard()
        bad.discard()
        errors.append(str(disk_full_error([lake.write_folder])))
        status = "failed"
    if bad.rows_written and status == "ok":
        status = "partial"
    dropped_erased = bool(guard and guard.note())
    if expect_records is not None and status == "ok" and raw.rows_written == 0 and not dropped_erased:
        errors.append(f"no records read from {expect_records}")
        status = "partial"
    if guard and (note := guard.note()):
        errors.append(note)  # a count, never an id; keeping erased accounts out is no fault of the run
    finished = datetime.now(UTC)
    row = {
        "run_id": run_id,
        "source": source_name,
        "platform": platform,
        "mode": mode,
        "started_at": started,
        "finished_at": finished,
        "status": status,
        "pages": n_pages,
        "records_seen": raw.rows_written,
        "records_new": _count_new_records(lake, platform, run_id, raw.files),
        "records_quarantined": bad.rows_written,
        "cursor_before": json.dumps(cursor_before, sort_keys=True) if cursor_before is not None else None,
        "cursor_after": json.dumps(committed_cursor, sort_keys=True) if committed_cursor is not None else None,
        "rate_limit_waits": http.rate_limit_waits if http else 0,
        "rate_limit_wait_seconds": http.rate_limit_wait_seconds if http else 0.0,
        "requests": http.requests if http else 0,
        "errors": json.dumps(errors, ensure_ascii=False),
        "cap_hit": cap_hit,
        "responses_429": http.responses_429 if http else 0,
        "waits": json.dumps(http.wait_summary() if http else {}, sort_keys=True),
        "clock_skew_seconds": http.clock_skew_seconds if http else None,
    }
    try:
        write_collection_run(lake, row)
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        raise disk_full_error([lake.write_folder], note=" (the run's row could not be written: the next run of "
                              "this source records it as interrupted)") from None
    if interrupted is not None:
        raise interrupted  # the row is written; the caller (the CLI: a non-zero exit) still stops
    shown.end(raw.rows_written)
    return row


def _reconcile_killed_runs(lake: Lake, platform: str, source_name: str) -> None:
    """Rows still 'running' of this source, seen while holding its lock: their process died."""
    if not lake.has_files("collection_runs"):
        return
    con = connect(lake=lake)
    try:
        glob = lake.glob("collection_runs").replace("'", "''")
        cursor = con.execute(
            f"SELECT * FROM read_parquet('{glob}', union_by_name = true, hive_partitioning = false) "
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


def _count_new_records(lake: Lake, platform: str, run_id: str, files: list[str]) -> int:
    """Records of this run whose exact content the lake did not hold before."""
    if not files:
        return 0
    earlier = [f for f in lake.raw_files(platform) if f not in set(files)]
    con = connect(lake=lake)
    try:
        mine = con.read_parquet(files)
        con.register("mine", mine)
        if not earlier:
            return con.execute("SELECT count(DISTINCT (record_type, record_id, md5(payload))) FROM mine").fetchone()[0]
        con.register("earlier", con.read_parquet(earlier))
        return con.execute(
            """
            SELECT count(*) FROM (SELECT DISTINCT record_type, record_id, md5(payload) AS h FROM mine) m
            WHERE NOT EXISTS (
                SELECT 1 FROM earlier e
                WHERE e.record_type = m.record_type AND e.record_id = m.record_id AND md5(e.payload) = m.h)
            """
        ).fetchone()[0]
    finally:
        con.close()


# ---- the steps -------------------------------------------------------------------------------------
def http_client_for(source: Source, settings: CollectionSettings | None = None, **overrides: Any) -> HttpClient:
    """The source's HTTP client: retries, waits and request budget from `[settings.collection]`
    (`Config.collection_for(source)`), the platform's headers and limits from its connector;
    `overrides` are for tests (a fake clock, a transport)."""
    options = {**(settings or CollectionSettings()).http_client_options(),
               **get_connector(source.platform).http_client_options(source), **overrides}
    return HttpClient(source.platform, **options)


def collect(
    config: Config,
    source_name: str | None = None,
    *,
    progress: bool = False,
    http_overrides: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Collect every API source (or one by name); import sources are imported from their files."""
    sources = [config.source(source_name)] if source_name else list(config.sources)
    lake = lake_for(config)
    rows: list[dict[str, Any]] = []
    with _progress(progress) as bar:
        for source in sources:
            if source.is_import:
                rows.append(_import_source(config, source, lake, bar))
                continue
            connector = get_connector(source.platform)
            # accounts erased by `dissentry forget` are never asked for: named by token, never handle
            source, skipped = without_erased_accounts(lake, source)
            for warning in skipped:
                log.warning("%s", warning)
            emptied = bool(skipped) and not (source.accounts or source.hashtags or source.query or source.options)
            with _source_lock(lake, source.platform, source.name, "collect"), \
                    http_client_for(source, config.collection_for(source), **(http_overrides or {})) as http, \
                    _interruptible():
                cursor = lake.load_cursor(source.platform, source.name)
                rows.append(
                    _ingest(
                        lake,
                        platform=source.platform,
                        source_name=source.name,
                        mode="collect",
                        pages=iter(()) if emptied else _pages_of(connector.collect, source, cursor, http),
                        cursor_before=cursor,
                        max_pages=config.collection_for(source).max_pages,
                        http=http,
                        progress=bar,
                        description=f"collect {source.name}",
                    )
                )
    return rows


def _pages_of(collect: Any, *args: Any) -> Iterator[Page]:
    """Call the connector inside the iteration, so an error it raises up front (no credentials,
    an import-only platform) is recorded in the run like any other, not thrown past it."""
    yield from collect(*args)


def _expand_paths(config: Config | None, paths: Iterable[str | Path], *, keep_folders: bool = False) -> list[Path]:
    """Files (and, for connectors that read whole export folders, folders) named by the user."""
    out: list[Path] = []
    for p in paths:
        path = config.resolve(str(p)) if config else Path(p)
        if any(ch in str(p) for ch in "*?["):
            out.extend(sorted(path.parent.glob(path.name)))
        elif path.is_dir() and not keep_folders:
            out.extend(sorted(f for f in path.rglob("*") if f.is_file() and not f.name.startswith(".")))
        else:
            out.append(path)
    return out


def _import_pages(connector: Any, files: list[Path], source: Source | None, errors: list[str],
                  read: _ImportBytes | None = None) -> Iterator[Page]:
    """Pages of every file; a file that is not an export of this kind is recorded and skipped.

    Nothing is printed here: the problem lands in the run row, which the caller shows (the CLI's
    health block names it once). `read` follows the bytes read, for the progress bar."""
    from connectors.base import Reject

    for path in files:
        if read is not None:
            read.start(path)
        try:
            yield from connector.read_export(path, source)
        except ImportFormatError as exc:
            errors.append(str(exc))
            yield Page(rejects=[Reject(str(path), str(exc))])
        except Exception as exc:  # a reader's bug on one strange file must not stop the other files
            message = f"{path}: could not be read: {type(exc).__name__}: {exc}"
            log.info("import of %s failed", path, exc_info=True)  # the traceback with --verbose
            errors.append(message)
            yield Page(rejects=[Reject(str(path), message)])
        finally:
            if read is not None:
                read.finish(path)


def _named(files: list[Path]) -> str:
    """The files an import read, short enough for one line of the health block."""
    if not files:
        return "no file (none of the paths named one)"
    shown = ", ".join(str(f) for f in files[:3])
    return shown if len(files) <= 3 else f"{len(files)} files ({shown}, ...)"


def _import_source(config: Config, source: Source, lake: Lake, bar: Progress | None) -> dict[str, Any]:
    return import_export(config, source.platform, source.files, source.name, _lake=lake, _bar=bar)


def import_export(
    config: Config,
    platform: str,
    paths: Iterable[str | Path],
    source_name: str | None = None,
    *,
    progress: bool = False,
    _lake: Lake | None = None,
    _bar: Progress | None = None,
) -> dict[str, Any]:
    """Import saved export files of one platform into the raw layer."""
    connector = get_connector(platform)
    source = config.source(source_name) if source_name and any(s.name == source_name for s in config.sources) else None
    name = source_name or f"import-{platform}"
    paths = list(paths)
    files = _expand_paths(config, paths, keep_folders=connector.reads_folders)
    errors: list[str] = []
    missing = [f for f in files if not f.exists()]
    if missing:
        errors.extend(f"{f}: no such file or folder" for f in missing)
        files = [f for f in files if f.exists()]
    # a pattern that matches nothing is as missing as a file that is not there
    errors.extend(f"{config.resolve(str(p)) if config else p}: no file matches this pattern" for p in paths
                  if any(ch in str(p) for ch in "*?[") and not _expand_paths(config, [p]))
    read = _ImportBytes(files)
    lake = _lake or lake_for(config)
    with _source_lock(lake, platform, name, "import"), _progress(progress and _bar is None) as own_bar, \
            _interruptible():
        return _ingest(
            lake,
            platform=platform,
            source_name=name,
            mode="import",
            pages=_import_pages(connector, files, source, errors, read),
            cursor_before=None,
            progress=_bar or own_bar,
            description=f"import {name}",
            extra_errors=errors,
            measure=read,
            expect_records=_named(files),
        )


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or SIGINT) during a collection or import: `_ingest` writes the run row, then it stops."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(self.signal_name)


@contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM and SIGINT become `Interrupted` inside the block, once: a second signal while the
    run row is written is held back, so the row is written whole. A SIGTERM handler that was there
    before (Airflow's) is called afterwards, so its caller sees what it expects."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are delivered to the main thread only
        return
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) == 1:
            raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        if received and received[0] == signal.SIGTERM and callable(previous[signal.SIGTERM]):
            previous[signal.SIGTERM](signal.SIGTERM, None)


@contextmanager
def _source_lock(lake: Lake, platform: str, source_name: str, mode: str) -> Iterator[None]:
    """One collection or import per source at a time: its cursor and run row are its own. And none
    while `dissentry forget` registers and rewrites (warehouse/lock.py, `ingest`)."""
    with shared(lake, "ingest", what=f"{mode} {source_name}"), \
            exclusive(lake, f"source-{platform}-{source_name}", what=f"{mode} {source_name}"):
        yield


def _step_lines() -> AbstractContextManager[None]:
    """Normalise's and transform's steps as log lines, one every PROGRESS_LOG_SECONDS at most, and
    a heartbeat as often while one statement runs longer than that."""
    return build_progress.reporting(build_progress.log_lines(every_seconds=PROGRESS_LOG_SECONDS),
                                    heartbeat_seconds=PROGRESS_LOG_SECONDS)


def normalise(config: Config, *, keep_previous: bool = True, full: bool = False) -> dict[str, int]:
    """Bring the normalised layer up to date, incrementally unless `full`; published whole
    (`keep_previous=False`, which also rebuilds in full: see normalise_lake)."""
    lake = lake_for(config)
    pseudonymiser = pseudonymiser_for(config)  # checked before anything is rewritten
    with exclusive(lake, "build", what="normalise"), _disk_full_is_one_line(lake.write_folder, spill=lake.spill_dir), \
            resources.configured(config.settings.resources), _step_lines():
        # always: with no retention configured it still finishes one a kill interrupted
        apply_retention(lake, config.settings.raw_retention_days)
        return normalise_lake(lake, pseudonymiser=pseudonymiser, keep_previous=keep_previous, full=full)


@contextmanager
def _disk_full_is_one_line(*folders: Path, spill: Path) -> Iterator[None]:
    """A full disk, or a full spill folder (DuckDB: "Out of Memory: failed to offload ...
    max_temp_directory_size"), becomes DiskFull naming the fullest folder; what was published
    before stays as it was. An Out of Memory error with room left to spill stays what it is."""
    try:
        yield
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        spill_full = isinstance(exc, duckdb.OutOfMemoryException)
        raise disk_full_error([spill, *folders], note=" (DuckDB had no room left to spill)" if spill_full else ""
                              ) from None


def transform(config: Config, *, progress: bool = False) -> dict[str, int]:
    """Build dissentry.duckdb: views over the lake, config tables, models, marts exported to Parquet."""
    lake = lake_for(config)
    with exclusive(lake, "build", what="transform"), _disk_full_is_one_line(lake.write_folder, spill=lake.local_dir), \
            resources.configured(config.settings.resources), _step_lines():
        return _transform(config, lake, progress)


def _transform(config: Config, lake: Lake, progress: bool) -> dict[str, int]:
    """Build the serving file beside the old one and swap it in; then publish the mart copies.

    A kill at any point before the swap leaves the old file and the old mart copies as they were
    (the half-built file is swept by the next transform); the copies are staged while the file is
    built and renamed into place right after it, from the file they were exported from. The marts
    are the models under transforms/marts/ (`mart_names()`), so a new mart file is exported too."""
    from transforms.runner import mart_names, run_models
    from warehouse.sql import quote_identifier

    final = lake.duckdb_path
    sweep_building_files(final)  # under the build lock: whatever is there, a killed transform left
    lake.sweep_stale_temp_files(older_than_seconds=0, layers=("marts",))
    building = building_path(final)
    try:
        with ExitStack() as mart_copies:
            con = connect(building, lake=lake)
            resources.apply(con, spill_dir=None, lake=lake)  # DuckDB spills beside the file it builds
            try:
                mart_copies.enter_context(build_progress.watching(con))  # heartbeats tell a long model's share
                create_lake_views(con, lake)  # the cfg_ tables: run_models loads them, once
                with _progress(progress) as bar:
                    task = bar.add_task("transform", total=None) if bar else None

                    def on_model(name: str, rows: int) -> None:
                        if bar is not None and task is not None:
                            bar.update(task, advance=1, description=f"transform: {name} ({rows:,} rows)")
                        else:  # no bar (no TTY): a log line per model
                            build_progress.report("transform", None, name, rows)

                    tables = run_models(con, config, on_model=on_model)
                for mart in mart_names():
                    staged = mart_copies.enter_context(lake.staged(lake.mart_path(mart)))
                    table = con.sql(f"SELECT * FROM {quote_identifier(mart)}").to_arrow_table()
                    pq.write_table(table, staged, compression="zstd")
                con.execute("CHECKPOINT")
            finally:
                con.close()
            publish_serving_file(building, final)
            # leaving the stack renames (or uploads) the staged mart copies into place
    finally:
        sweep_building_files(final)  # nothing once published; a failed build's file otherwise
    return tables


def run(config: Config, *, progress: bool = False, full: bool = False) -> RunResult:
    """Collect/import every source, normalise, transform."""
    result = RunResult(warehouse=lake_for(config).root)
    result.runs = collect(config, progress=progress)
    result.normalised = normalise(config, full=full)
    result.tables = transform(config, progress=progress)
    return result

