"""The pipeline steps as plain functions. The CLI and the Airflow DAGs both call these.

collect(config, source)        API sources -> raw Parquet (+ cursor, + collection_runs row)
import_export(config, ...)     export files -> raw Parquet (+ quarantine, + collection_runs row)
normalise(config)              raw -> canonical tables
transform(config)              canonical tables -> marts in dissentry.duckdb and marts/*.parquet
run(config)                    all of the above for every configured source

Nothing here prints. Each step takes `on_progress`, a callback given a `ProgressEvent` (counts and
names, dissentry/ingest.py) as the step goes; without one, progress goes to the
`dissentry.progress` logger, one line every PROGRESS_LOG_SECONDS, which the CLI shows at INFO and
a scheduler keeps in its task log. The CLI's bars (dissentry/progress_bars.py) are one such callback.
Secrets come from the configuration's lookup (`Config.with_secrets`, dissentry/secrets.py).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import duckdb
import pyarrow.parquet as pq

from dissentry import build_progress, resources
from dissentry.config import CollectionSettings, Config, Source
from dissentry.connectors.base import ImportFormatError, Page
from dissentry.connectors.http import HttpClient
from dissentry.connectors.registry import get_connector
from dissentry.erasure import without_erased_accounts
from dissentry.ingest import EventKind, Ingestion, OnProgress, ProgressEvent, ingest
from dissentry.normalise import normalise_lake
from dissentry.privacy import pseudonymiser_for
from dissentry.retention import apply_retention
from dissentry.secrets import ENVIRONMENT, SecretLookup
from dissentry.warehouse.catalog import (
    building_path,
    connect,
    create_lake_views,
    publish_serving_file,
    sweep_building_files,
    wal_path,
)
from dissentry.warehouse.lake import (
    Lake,
    disk_full_error,
    is_disk_full,
    new_run_id,
)
from dissentry.warehouse.lock import exclusive, shared

__all__ = ["Interrupted", "OnProgress", "ProgressEvent", "RunResult", "collect", "http_client_for",
           "import_export", "lake_for", "normalise", "run", "transform"]

log = logging.getLogger(__name__)
PROGRESS_LOG_SECONDS = 10.0  # without an on_progress callback: one log line this often
# progress lines without a callback: the CLI shows this logger at INFO, a scheduler's log keeps them
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
    """The configured lake; a remote one is checked to be reachable before any work starts. Its
    store's credentials come from the config's secrets lookup when that carries them."""
    lake = Lake(config.warehouse_location, local_dir=config.local_path, storage_options=config.lake_storage_options)
    lake.check_reachable()
    return lake


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


def _ingestion_log_lines() -> OnProgress:
    """Without a callback: a collection's or an import's pages as a log line every
    PROGRESS_LOG_SECONDS (read when each page lands, so a test may set it to 0)."""
    last: dict[str, float] = {}

    def emit(event: ProgressEvent) -> None:
        now = time.monotonic()
        if event.kind == "started":
            last[event.name] = now
        elif event.kind == "page" and now - last.get(event.name, now) >= PROGRESS_LOG_SECONDS:
            last[event.name] = now
            progress_log.info("%s", page_line(event))

    return emit


def page_line(event: ProgressEvent) -> str:
    """`import posts: 3,000 records, 612.3 KB of 801.0 KB (76%), about 0:00:01 left`."""
    text = f"{event.name}: {event.records or 0:,} records"
    if event.read and event.read[0]:
        done, total = event.read
        left = event.elapsed * (total - done) / done
        text += (f", {_size(done)} of {_size(total)} ({done / total:.0%}), "
                 f"about {timedelta(seconds=round(left))} left")
    return text


# ---- ingestion: the one loop that lands pages in the lake (dissentry/ingest.py) ------------------------
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
    on_progress: OnProgress | None = None,
    description: str = "",
    extra_errors: list[str] | None = None,
    measure: _ImportBytes | None = None,
    expect_records: str | None = None,
) -> dict[str, Any]:
    """Land pages with an `Ingestion` and return the run's row, telling `on_progress` (or the log)
    what it does. `measure`: (bytes read, bytes in all) of an import's files, for a total and an ETA."""
    name = description or f"{mode} {source_name}"
    listener = on_progress or _ingestion_log_lines()
    started = time.monotonic()
    records = 0

    def event(kind: EventKind, **fields: Any) -> ProgressEvent:
        return ProgressEvent(step=mode, name=name, kind=kind, platform=platform,
                             elapsed=time.monotonic() - started, **fields)

    listener(event("started", records=0))
    ingestion = Ingestion(lake, platform=platform, source_name=source_name, mode=mode, cursor_before=cursor_before,
                          max_pages=max_pages, http=http, errors=extra_errors, expect_records=expect_records)

    def on_page(page: Page) -> None:
        nonlocal records
        records += len(page.records)
        listener(event("page", records=records, read=measure() if measure else None))

    row = ingest(ingestion, pages, on_page)
    listener(event("finished", records=row["records_seen"], read=measure() if measure else None,
                   status=row["status"]))
    return row


# ---- the steps -------------------------------------------------------------------------------------
def http_client_for(source: Source, settings: CollectionSettings | None = None, *,
                    secrets: SecretLookup = ENVIRONMENT, **overrides: Any) -> HttpClient:
    """The source's HTTP client: retries, waits and request budget from `[settings.collection]`
    (`Config.collection_for(source)`), the platform's headers and limits from its connector (its
    tokens from `secrets`); `overrides` are for tests (a fake clock, a transport)."""
    options = {**(settings or CollectionSettings()).http_client_options(),
               **get_connector(source.platform).http_client_options(source, secrets), **overrides}
    return HttpClient(source.platform, **options)


def collect(
    config: Config,
    source_name: str | None = None,
    *,
    on_progress: OnProgress | None = None,
    http_overrides: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Collect every API source (or one by name); import sources are imported from their files."""
    sources = [config.source(source_name)] if source_name else list(config.sources)
    lake = lake_for(config)
    rows: list[dict[str, Any]] = []
    for source in sources:
        if source.is_import:
            rows.append(_import_source(config, source, lake, on_progress))
            continue
        connector = get_connector(source.platform)
        # accounts erased by `dissentry forget` are never asked for: named by token, never handle
        source, skipped = without_erased_accounts(lake, source)
        for warning in skipped:
            log.warning("%s", warning)
        emptied = bool(skipped) and not (source.accounts or source.hashtags or source.query or source.options)
        with _source_lock(lake, source.platform, source.name, "collect"), \
                http_client_for(source, config.collection_for(source), secrets=config.secrets,
                                **(http_overrides or {})) as http, \
                _interruptible():
            cursor = lake.load_cursor(source.platform, source.name)
            rows.append(
                _ingest(
                    lake,
                    platform=source.platform,
                    source_name=source.name,
                    mode="collect",
                    pages=iter(()) if emptied else _pages_of(connector.collect, source, cursor, http, config.secrets),
                    cursor_before=cursor,
                    max_pages=config.collection_for(source).max_pages,
                    http=http,
                    on_progress=on_progress,
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
    health block names it once). `read` follows the bytes read, for the progress events."""
    from dissentry.connectors.base import Reject

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


def _import_source(config: Config, source: Source, lake: Lake, on_progress: OnProgress | None) -> dict[str, Any]:
    return import_export(config, source.platform, source.files, source.name, on_progress=on_progress, _lake=lake)


def import_export(
    config: Config,
    platform: str,
    paths: Iterable[str | Path],
    source_name: str | None = None,
    *,
    on_progress: OnProgress | None = None,
    _lake: Lake | None = None,
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
    with _source_lock(lake, platform, name, "import"), _interruptible():
        return _ingest(
            lake,
            platform=platform,
            source_name=name,
            mode="import",
            pages=_import_pages(connector, files, source, errors, read),
            cursor_before=None,
            on_progress=on_progress,
            description=f"import {name}",
            extra_errors=errors,
            measure=read,
            expect_records=_named(files),
        )


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or SIGINT) during a collection or import: `ingest` writes the run row, then it stops."""

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


def _step_lines(on_progress: OnProgress | None = None) -> AbstractContextManager[None]:
    """Normalise's and transform's steps: to `on_progress` as events, or without it as log lines,
    one every PROGRESS_LOG_SECONDS at most; and a heartbeat as often while one statement runs
    longer than that."""
    if on_progress is None:
        return build_progress.reporting(build_progress.log_lines(every_seconds=PROGRESS_LOG_SECONDS),
                                        heartbeat_seconds=PROGRESS_LOG_SECONDS)

    def emit(step: build_progress.Step) -> None:
        on_progress(ProgressEvent(step=step.stage, name=step.table, kind="running" if step.running else "step",
                                  records=step.rows, platform=step.platform, elapsed=step.elapsed,
                                  statement_done=step.statement_done))

    return build_progress.reporting(emit, heartbeat_seconds=PROGRESS_LOG_SECONDS)


def normalise(config: Config, *, keep_previous: bool = True, full: bool = False,
              on_progress: OnProgress | None = None) -> dict[str, int]:
    """Bring the normalised layer up to date, incrementally unless `full`; published whole
    (`keep_previous=False`, which also rebuilds in full: see normalise_lake)."""
    lake = lake_for(config)
    pseudonymiser = pseudonymiser_for(config)  # checked before anything is rewritten
    with exclusive(lake, "build", what="normalise"), _disk_full_is_one_line(lake.write_folder, spill=lake.spill_dir), \
            resources.configured(config.settings.resources), _step_lines(on_progress):
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
        if isinstance(exc, duckdb.OutOfMemoryException):
            # the disk, or the cap on spill dissentry sets (which leaves the disk with room): say both
            raise disk_full_error(
                [spill, *folders], note=" (DuckDB had no room left to spill)",
                advice="free some space, or raise [settings.resources] max_spill (the spill cap: by default 3x "
                       "the raw layer's size) or memory_limit, and run again") from None
        raise disk_full_error([spill, *folders]) from None


def transform(config: Config, *, full: bool = False, on_progress: OnProgress | None = None) -> dict[str, int]:
    """Build dissentry.duckdb: views over the lake, config tables, models, marts exported to Parquet.

    Incremental unless `full` (or unless something global changed: `_transform`). Each model
    built is a step for `on_progress` (or a log line without it)."""
    lake = lake_for(config)
    with exclusive(lake, "build", what="transform"), _disk_full_is_one_line(lake.write_folder, spill=lake.local_dir), \
            resources.configured(config.settings.resources), _step_lines(on_progress):
        return _transform(config, lake, full=full)  # its models report through build_progress


# ---- incremental transform: what the serving file was built from --------------------------------------
TRANSFORM_STATE = ("state", "transform.json")
"""The lake's record of the published serving file: its build id, what it covers, how it was built."""
BUILD_STATE_VIEW = "_build_state"  # in the serving file: the id the lake's state must name
BUILD_POSTS_TABLE = "_build_posts"  # in the serving file: (post_id, row_hash) of every post it covers
ALWAYS_FINGERPRINTED = ("erasures",)
"""Lake relations whose every change rebuilds in full: an erasure (a forget deletes the serving
file too; this holds even if something else put one back). Others that no incremental model reads
directly (accounts, labels, org_articles) need nothing here: the runner compares the models built
from them with their previous contents, and rebuilds whole what reads a changed one."""
_POST_ROWS_WHERE = """
SELECT post_id, sum(h) AS row_hash FROM (
    SELECT post_id, hash(t)::HUGEINT AS h FROM posts AS t WHERE {where}
    UNION ALL SELECT post_id, hash(t)::HUGEINT FROM post_links AS t WHERE {where}
    UNION ALL SELECT post_id, hash(t)::HUGEINT FROM post_mentions AS t WHERE {where}
    UNION ALL SELECT post_id, hash(t)::HUGEINT FROM post_hashtags AS t WHERE {where}
) WHERE post_id IS NOT NULL GROUP BY post_id
"""
_POST_ROWS = _POST_ROWS_WHERE.format(where="true")


def transform_state(lake: Lake) -> dict[str, Any] | None:
    """What the last published transform recorded (None before the first, or if unreadable)."""
    path = lake.path(*TRANSFORM_STATE)
    try:
        state = lake.read_json(path) if lake.exists(path) else None
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


@functools.cache
def _code_digest() -> str:
    """The transforms' code (models, macros, runner, classifiers) and the modules that decide what
    the serving file holds: an edit to any of them rebuilds in full."""
    from dissentry import terms
    from dissentry.transforms import runner
    from dissentry.warehouse import catalog

    digest = hashlib.sha256()
    root = Path(runner.__file__).resolve().parent
    files = sorted(p for p in root.rglob("*") if p.suffix in (".py", ".sql") and "__pycache__" not in p.parts)
    for path in [*files, Path(terms.__file__), Path(catalog.__file__), Path(__file__)]:
        digest.update(str(path.relative_to(path.parents[1])).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _fingerprint(con: duckdb.DuckDBPyConnection, config: Config, lake: Lake) -> str:
    """Everything global the serving file's tables depend on, besides the posts: code, versions,
    groups and settings, the lake's relations not keyed by post, the erasure register. Only a
    build with the same fingerprint may be brought up to date by its changed posts."""
    from dissentry.transforms.runner import POST_RELATIONS, discover_models
    from dissentry.warehouse.sql import quote_identifier

    models = discover_models()
    names = {m.name for m in models}
    # a lake relation an incremental model reads directly (not through a model): no comparison
    # sees its changes, so the fingerprint must
    direct = {r for m in models if m.incremental for r in m.reads
              if r not in names and r not in POST_RELATIONS and not r.startswith("cfg_")}
    relations = {}
    for name in sorted({*ALWAYS_FINGERPRINTED, *direct}):
        count, total = con.execute(f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0)::VARCHAR "
                                   f"FROM {quote_identifier(name)} AS t").fetchall()[0]
        relations[name] = [count, total]
    settings = config.settings.model_dump(mode="json", exclude={"resources", "collection"})
    parts = {
        "code": _code_digest(),
        "duckdb": duckdb.__version__,
        "python": list(sys.version_info[:2]),
        "groups": [g.model_dump(mode="json") for g in config.groups],
        "settings": settings,
        "relations": relations,
        "erased": hashlib.sha256(json.dumps(lake.erased_account_keys()).encode()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _previous_build_id(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        rows = con.execute(f"SELECT build_id FROM {BUILD_STATE_VIEW}").fetchall()
    except duckdb.Error:  # a file built before incremental transforms, or not by one
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def _why_full(con: duckdb.DuckDBPyConnection, state: dict[str, Any], fingerprint: str) -> str | None:
    """Why the copied previous file cannot be brought up to date (None: it can)."""
    if _previous_build_id(con) != state.get("build_id"):
        return "the serving file is not the one the lake's transform state names"
    if state.get("fingerprint") != fingerprint:
        return "code, settings, groups or erasures changed since the last build"
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main'",
                       [BUILD_POSTS_TABLE]).fetchall()[0][0]:
        return "the serving file records no posts"
    return None


def _normalised_read(manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    """What of the normalised layer a build read: its generation and platforms (the state keeps it)."""
    return None if manifest is None else {"generation": manifest["generation"],
                                          "platforms": sorted(manifest["platforms"])}


def _normalise_changes(lake: Lake, state: dict[str, Any], manifest: dict[str, Any] | None) -> list[str] | None:
    """The `changed_posts` files of the normalise that published since the serving file was built,
    when that provably says every post that changed; None when it may not (posts are then diffed
    by the hash of every row, `_changed_posts`).

    Provable: the generation the build read is this one (nothing changed), or it is this one's
    `previous` (exactly one normalise since) with the same platforms, each of them kept as it was
    (no file of this generation) or extended by an increment, which wrote its changed posts into
    this generation. A full rebuild of any platform (retention, forget, an upgrade, `--full`), two
    normalises since, or a build that recorded nothing is diffed by hash."""
    built_from = state.get("normalised")
    if manifest is None or not isinstance(built_from, dict) \
            or built_from.get("platforms") != sorted(manifest["platforms"]):
        return None
    generation = manifest["generation"]
    if built_from.get("generation") == generation:
        return []
    if manifest.get("previous") != built_from.get("generation"):
        return None
    files: list[str] = []
    for entry in manifest["platforms"].values():
        written = [rel for table in entry["tables"].values() for rel in table["files"]]
        if not any(rel.split("/")[1] == generation for rel in written if rel.startswith("normalised/")):
            continue  # kept: the entry of the generation the build read
        platform_state = entry.get("state", {})
        changed = platform_state.get("files", {}).get("changed_posts")
        if platform_state.get("built") != "increment" or not isinstance(changed, str) \
                or changed.split("/")[1] != generation:
            return None
        files.append(lake.path(changed))
    return files


def _open_build(config: Config, lake: Lake, final: Path, building: Path, full: bool
                ) -> tuple[duckdb.DuckDBPyConnection, str, str, str, int, dict[str, Any] | None, bool]:
    """A connection to the file to build, with the lake views, and (mode, why, fingerprint, the
    number of changed posts: -1 when full, the normalised generation read, whether the changed
    posts came from normalise's own record of them rather than a diff of every post).

    Incremental: the published file copied to `building`, to be updated in place (the published
    one stays as it is for its readers until the swap). Full: a new, empty file, as always; also
    whenever the published file may hold what a full build would not (a forget deletes it)."""
    state = None if full else transform_state(lake)
    manifest = lake.normalised_manifest()  # every view, and the record of what was read, from one generation
    read = _normalised_read(manifest)
    reason = ("--full" if full else "no previous build" if state is None or not final.exists()
              # a writer killed inside the published file: its contents are not the build's
              else "the serving file has a write-ahead log" if wal_path(final).exists() else None)

    def fresh() -> duckdb.DuckDBPyConnection:
        for path in (building, wal_path(building)):
            path.unlink(missing_ok=True)
        con = connect(building, lake=lake)
        resources.apply(con, spill_dir=None, lake=lake)  # DuckDB spills beside the file it builds
        create_lake_views(con, lake, manifest=manifest)  # the cfg_ tables: run_models loads them, once
        return con

    if reason is not None:
        con = fresh()
        return con, "full", reason, _fingerprint(con, config, lake), -1, read, False
    assert state is not None
    shutil.copyfile(final, building)
    try:
        con = connect(building, lake=lake)
    except duckdb.Error as exc:  # a file this DuckDB cannot open as it is: built again, whole
        con, reason = fresh(), f"the serving file could not be opened ({str(exc).splitlines()[0]})"
        return con, "full", reason, _fingerprint(con, config, lake), -1, read, False
    resources.apply(con, spill_dir=None, lake=lake)
    create_lake_views(con, lake, manifest=manifest)
    fingerprint = _fingerprint(con, config, lake)
    reason = _why_full(con, state, fingerprint)
    changed, recorded = -1, None
    from dissentry.transforms.runner import CHANGED_POSTS
    if reason is None:
        recorded = _normalise_changes(lake, state, manifest)
        if recorded is not None:  # what normalise wrote: no hash of every post's rows
            changed = _recorded_changed_posts(con, recorded)
            replaced_sql = (f"SELECT count(*) FROM {BUILD_POSTS_TABLE} SEMI JOIN {CHANGED_POSTS} USING (post_id)")
        else:
            changed = _changed_posts(con)
            replaced_sql = (f"SELECT count(*) FILTER (WHERE n.row_hash IS DISTINCT FROM o.row_hash) "
                            f"FROM {BUILD_POSTS_TABLE} AS o LEFT JOIN _build_posts_next AS n USING (post_id)")
        # most posts changed (a new pseudonym key renames every one): a fresh build costs less than
        # the delta, and the copy would keep the old rows' pages in its free blocks
        before = con.execute(f"SELECT count(*) FROM {BUILD_POSTS_TABLE}").fetchall()[0][0]
        replaced = con.execute(replaced_sql).fetchall()[0][0]
        if before and 2 * replaced > before:  # changed or removed, not added: what leaves old pages
            reason = f"most posts changed or went ({replaced:,} of {before:,})"
    if reason is not None:  # a fresh file: the copy may hold pages a full build would not
        con.close()
        con, changed, recorded = fresh(), -1, None
    return con, ("full" if reason else "incremental"), reason or "", fingerprint, changed, read, recorded is not None


def _recorded_changed_posts(con: duckdb.DuckDBPyConnection, files: list[str]) -> int:
    """Fill the runner's table of changed posts from normalise's `changed_posts` files. Their count."""
    from dissentry.transforms.runner import stage_changed_posts
    from dissentry.warehouse.sql import literal_list

    if not files:
        return stage_changed_posts(con, "SELECT NULL::VARCHAR AS post_id WHERE false")
    return stage_changed_posts(con, f"SELECT post_id FROM read_parquet({literal_list(files)}, "
                                    "hive_partitioning = false) WHERE post_id IS NOT NULL")


def _changed_posts(con: duckdb.DuckDBPyConnection) -> int:
    """Fill the runner's table of changed posts: added, changed (any row of the post in posts,
    links, mentions or hashtags) or removed since the previous build. Their count."""
    from dissentry.transforms.runner import stage_changed_posts

    con.execute(f"CREATE OR REPLACE TABLE _build_posts_next AS {_POST_ROWS}")
    return stage_changed_posts(con, f"SELECT post_id FROM _build_posts_next AS n FULL JOIN {BUILD_POSTS_TABLE} AS o "
                                    "USING (post_id) WHERE n.row_hash IS DISTINCT FROM o.row_hash")


def _record_build(con: duckdb.DuckDBPyConnection, build_id: str, fingerprint: str, mode: str,
                  patch: bool = False) -> None:
    """What the file covers, inside it: the posts seen (the next build's diff) and the build id
    (a view, so no table of it differs between two builds of the same data). `patch`: the changed
    posts came from normalise's record, so only their rows are hashed again."""
    from dissentry.transforms.runner import CHANGED_POSTS, drop_delta
    from dissentry.warehouse.sql import quote_literal

    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_build_posts_next'").fetchall()[0][0]:
        con.execute(f"DROP TABLE IF EXISTS {BUILD_POSTS_TABLE}")
        con.execute(f"ALTER TABLE _build_posts_next RENAME TO {BUILD_POSTS_TABLE}")
    elif patch:  # the changed posts came from normalise: only their hashes are new
        changed = f"post_id IN (SELECT post_id FROM {CHANGED_POSTS})"
        con.execute(f"DELETE FROM {BUILD_POSTS_TABLE} WHERE {changed}")
        con.execute(f"INSERT INTO {BUILD_POSTS_TABLE} {_POST_ROWS_WHERE.format(where=changed)}")
    else:
        con.execute(f"CREATE OR REPLACE TABLE {BUILD_POSTS_TABLE} AS {_POST_ROWS}")
    drop_delta(con)
    con.execute(f"CREATE OR REPLACE VIEW {BUILD_STATE_VIEW} AS SELECT {quote_literal(build_id)} AS build_id, "
                f"{quote_literal(fingerprint)} AS fingerprint, {quote_literal(mode)} AS mode")


def _transform(config: Config, lake: Lake, *, full: bool = False) -> dict[str, int]:
    """Build the serving file beside the old one and swap it in; then publish the mart copies.

    Incremental (the default): the published file is copied beside it and brought up to date with
    the posts added, changed or removed since it was built (transforms/runner.py, `Delta`); in
    full when `full`, when there is no previous build, or when anything but posts changed
    (`_fingerprint`), always into a new file. Either way the result is the same, table by table.
    The lake's transform state (`state/transform.json`) names the published file's build id and
    is written only after that file is published, as cursors are.

    A kill at any point before the swap leaves the old file and the old mart copies as they were
    (the half-built file is swept by the next transform); the copies are staged while the file is
    built and renamed into place right after it, from the file they were exported from. The marts
    are the models under transforms/marts/ (`mart_names()`), so a new mart file is exported too."""
    from dissentry.transforms.runner import Delta, mart_names, run_models
    from dissentry.warehouse.sql import quote_identifier

    final = lake.duckdb_path
    sweep_building_files(final)  # under the build lock: whatever is there, a killed transform left
    lake.sweep_stale_temp_files(older_than_seconds=0, layers=("marts",))
    building = building_path(final)
    build_id = new_run_id()
    try:
        with ExitStack() as mart_copies:
            con, mode, reason, fingerprint, changed, read, recorded = _open_build(config, lake, final, building, full)
            try:
                mart_copies.enter_context(build_progress.watching(con))  # heartbeats tell a long model's share
                delta = None
                if mode == "incremental":
                    delta = Delta()
                    log.info("transform: incremental, %d posts added, changed or removed (%s)", changed,
                             "as normalise recorded them" if recorded else "by a diff of every post")
                else:
                    log.info("transform: full (%s)", reason)
                tables = run_models(con, config, delta=delta, on_model=lambda name, rows: build_progress.report(
                    "transform", None, name, rows))  # to on_progress or a log line, by _step_lines
                if delta is not None and delta.reasons:
                    log.info("transform: rebuilt whole: %s",
                             "; ".join(f"{name} ({why})" for name, why in delta.reasons.items()))
                _record_build(con, build_id, fingerprint, mode, patch=recorded)
                for mart in mart_names():
                    staged = mart_copies.enter_context(lake.staged(lake.mart_path(mart)))
                    table = con.sql(f"SELECT * FROM {quote_identifier(mart)}").to_arrow_table()
                    pq.write_table(table, staged, compression="zstd")
                con.execute("CHECKPOINT")
            finally:
                con.close()
            publish_serving_file(building, final)
            # the cursor rule: the state names the file only once that file is published
            lake.write_json({"build_id": build_id, "fingerprint": fingerprint, "mode": mode, "why_full": reason,
                             "changed_posts": changed, "normalised": read,
                             "changes_from": ("normalise" if recorded else "diff") if mode == "incremental" else None,
                             "updated": delta.updated if delta is not None else [],
                             "rebuilt_whole": delta.reasons if delta is not None else {},
                             "built_at": datetime.now(UTC).isoformat()}, lake.path(*TRANSFORM_STATE))
            # leaving the stack renames (or uploads) the staged mart copies into place
    finally:
        sweep_building_files(final)  # nothing once published; a failed build's file otherwise
    return tables


def run(config: Config, *, on_progress: OnProgress | None = None, full: bool = False) -> RunResult:
    """Collect/import every source, normalise, transform."""
    result = RunResult(warehouse=lake_for(config).root)
    result.runs = collect(config, on_progress=on_progress)
    result.normalised = normalise(config, full=full, on_progress=on_progress)
    result.tables = transform(config, full=full, on_progress=on_progress)
    return result
