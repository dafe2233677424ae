"""The Parquet lake: paths, atomic writes, cursor state. Nothing else builds a path into the lake.

Layout under the lake's root, a local folder or an object-store URL (`s3://bucket/prefix`):

    raw/P/S/YYYY-MM-DD/<run_id>-<n>.parquet                           append-only, one file per batch
    quarantine/P/S/YYYY-MM-DD/<run_id>-<n>.parquet                    (older lakes: platform=P/source=S/date=D/)
    collection_runs/<run_id>.parquet                                  one row per run
    normalised/_manifest.json                                         the published generation (see below)
    normalised/<generation>/<table>/P/data.parquet                    written by `normalise`
    frozen/_manifest.json, frozen/<generation>/<table>/P/data.parquet rows of expired raw (retention)
    marts/<table>.parquet                                             copies of the marts
    erasures/<stamp>.parquet, state/erased_accounts.json              `dissentry forget`
    labels/<import_id>.parquet, label_imports/<import_id>.parquet     `dissentry labels import`
    label_draws/<draw_id>.parquet                                     `dissentry labels sample`
    state/erased_posts.json                                           sha256 of erased post ids
    state/cursors/platform=P/source=S.json                            resume points

and, always on local disk (`local_dir`: the lake's own folder when the lake is local):

    dissentry.duckdb, .locks/, .spill/, .staging/                     serving layer and scratch

A normalise writes every table of every platform into a new generation folder, then publishes
them together by replacing `normalised/_manifest.json` (one rename, or one PUT): it names the
generation, each table's files and rows, and the raw and frozen files the generation covers,
with the state an incremental normalise extends (`normalised/<generation>/_state/P/`:
known raw versions, each account's best mapped row; see dissentry/normalise.py). A platform with
nothing new keeps its files from an older generation folder, which stays while it is named.
Readers follow the manifest (`Lake.normalised_files`, the catalog's views), so a normalise killed
half-way leaves the previous generation visible, whole. The previous generation's files are kept
until the next publish, for readers that hold a snapshot built on it (a notebook's open
dissentry.duckdb); older ones, and unpublished folders of killed runs, are deleted.

Every file appears whole or not at all. On local disk it is written beside its final name and
renamed into place (rename is atomic on POSIX), so a killed process never leaves a half file
visible. On an object store it is written to local scratch and uploaded with one PUT, or a
multipart upload that is aborted on error: an object store never shows part of an object.
Partition values come from user data (source names), so they are percent-encoded and can never
escape the lake (`../../etc` becomes `..%2F..%2Fetc`, and a name of only dots is encoded too).

Every folder of a Parquet layer is a plain name, never a hive `key=value` partition (see
`platform_folder`), so pandas, polars and Spark read any layer folder as it is (`pd.read_parquet(
"<lake>/raw")`, `pl.read_parquet("<lake>/quarantine")`) and see each column once, from the files.
Lakes written before keep their hive folders (`raw/platform=P/source=S/date=D/`): every reader
here lists both (`Lake.partition_files`, `batch_day`), and DuckDB reads them all with
hive_partitioning = false (pandas still refuses a layer folder that holds old hive folders; they
are not moved, as the manifests record raw files by path). The cursors
(`state/cursors/platform=P/source=S.json`) keep their names: they are JSON that only dissentry
reads, and a new name would lose every resume point.

Paths are strings: plain paths for a local lake, URLs (`s3://bucket/key`) for a remote one. Both
are what DuckDB's `read_parquet` takes, once `Lake.attach` has registered the file system.
"""

from __future__ import annotations

import array
import contextlib
import errno
import itertools
import json
import os
import re
import secrets
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from dissentry.warehouse import schema

DUCKDB_FILE = "dissentry.duckdb"
NORMALISED_MANIFEST = "_manifest.json"
FROZEN_MANIFEST = "_manifest.json"
# stores whose listings fsspec would otherwise cache for the life of the process; another
# machine's writes must show up in the next listing
_LISTING_CACHE_PROTOCOLS = {"s3", "s3a", "gs", "gcs", "abfs", "az", "adl"}


def sanitise_partition_value(value: str) -> str:
    """Make a user-supplied name safe as one path component (reversible with urllib's unquote)."""
    if not value:
        raise ValueError("a partition value may not be empty")
    encoded = quote(value, safe="-_.@+")
    if set(encoded) <= {"."}:  # ".", "..": never a directory reference
        encoded = encoded.replace(".", "%2E")
    return encoded


def platform_folder(platform: str) -> str:
    """The folder of one platform's files (raw, quarantine, a normalised or frozen generation):
    the bare name, not `platform=P`. Those files carry a `platform` column; a hive-style
    `platform=` folder as well made pandas (pyarrow) refuse the folder ("Field platform has
    incompatible types: string vs dictionary") and gave polars and Spark the column twice.

    Chosen over keeping hive folders and leaving the column out of the files: the files stay
    self-describing (a raw file copied out of the lake still says its platform and source), no
    DuckDB reader changes (all read with hive_partitioning = false, old files and new alike),
    and the old and new folders cannot be confused (an encoded name never holds `=`). So raw
    and quarantine are `<layer>/P/S/YYYY-MM-DD/`: the day folder is a plain name too (a lone
    `date=` below plain folders is a partition Spark refuses, its base paths differing).
    Folders written before keep their paths: `Lake.partition_files` lists both layouts, and a
    generation's manifest records every file."""
    return sanitise_partition_value(platform)


def _day_folder(day: str) -> str:
    if not _DAY_NAME.match(day):
        raise ValueError(f"a day folder is YYYY-MM-DD, not {day!r}")
    return day


_DAY_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DAY_FOLDER = re.compile(r"^(?:date=)?(\d{4}-\d{2}-\d{2})$")


def batch_day(path: str) -> str | None:
    """The day (YYYY-MM-DD) of a raw or quarantine batch file, from its folder in either layout
    (`.../2026-11-01/r-00000.parquet`, or an older lake's `.../date=2026-11-01/...`)."""
    parts = path.rsplit("/", 2)
    match = _DAY_FOLDER.match(parts[-2]) if len(parts) == 3 else None
    return match.group(1) if match else None


def new_run_id(now: datetime | None = None) -> str:
    """Sortable by time, unique across processes: 20261124T120000Z-3f9a1c2b."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def is_remote(location: str | os.PathLike[str]) -> bool:
    """True for a URL of a remote file system (s3://, gs://, memory://), false for a local path."""
    text = str(location)
    return "://" in text and not text.startswith("file://")


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system allows opening a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside `final`; on success fsync and rename it into place.

    The temporary name starts with a dot and ends in `.tmp`, so lake globs (`*.parquet`) never
    see it. On failure the temporary file is removed and `final` is untouched.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        _fsync_dir(final.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_parquet_atomic(table: pa.Table, final: Path) -> Path:
    with atomic_path(final) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return final


def write_json_atomic(data: Any, final: Path) -> Path:
    with atomic_path(final) as tmp:
        tmp.write_text(json.dumps(data, sort_keys=True, ensure_ascii=False), encoding="utf-8")
    return final


class LakeUnavailable(OSError):
    """The lake's store cannot be reached or written; the message names the URL."""


class DiskFull(OSError):
    """A write failed for want of space; the message names the folder and its free space."""


# how a full disk shows: errno from Python and pyarrow, text from DuckDB (a full spill folder is
# DuckDB's "failed to offload ... max_temp_directory_size", reported as Out of Memory)
_DISK_FULL_TEXT = ("No space left on device", "Disk quota exceeded", "max_temp_directory_size")


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, DiskFull) or (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)):
        return True
    return any(text in str(exc) for text in _DISK_FULL_TEXT)


def _free_bytes(folder: Path) -> int | None:
    path = folder
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def _size(n: int | None) -> str:
    if n is None:
        return "unknown"
    value, unit = float(n), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"


def disk_full_error(folders: list[Path], note: str = "", advice: str = "free some space and run again") -> DiskFull:
    """One line: the fullest of `folders` (where the failed write went), what is free there, and what to do."""
    free = {folder: _free_bytes(folder) for folder in folders}
    folder = min(free, key=lambda f: free[f] if free[f] is not None else 2**63)
    error = DiskFull(f"disk full: {folder} has {_size(free[folder])} free; {advice}{note}")
    error.errno = errno.ENOSPC
    return error


def _is_temp_name(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.startswith(".") or name.endswith(".tmp")


def _generations_of(manifest: dict[str, Any]) -> set[str]:
    """The generation folders a manifest's files live in (a platform not rebuilt keeps older ones)."""
    found = {manifest["generation"]}
    for entry in manifest["platforms"].values():
        for table in entry["tables"].values():
            found |= {rel.split("/")[1] for rel in table["files"] if rel.startswith("normalised/")}
        # an incremental normalise's state (dissentry/normalise.py) lives in a generation folder too
        for value in entry.get("state", {}).get("files", {}).values():
            for rel in [value] if isinstance(value, str) else value:  # a state may be kept in parts
                if rel.startswith("normalised/"):
                    found.add(rel.split("/")[1])
    return found


class Lake:
    """The lake at `location`: a local folder, or any fsspec URL (`s3://bucket/prefix`).

    `local_dir` holds what cannot live in an object store (the DuckDB file, locks, spill and
    staging files); it defaults to the lake's own folder and is required for a remote lake.
    `storage_options` go to fsspec (an `endpoint_url`, a region); credentials come from the
    environment, the way boto and every other client of the store reads them.
    """

    def __init__(
        self,
        location: str | os.PathLike[str],
        *,
        local_dir: str | os.PathLike[str] | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.remote = is_remote(location)
        if self.remote:
            protocol = str(location).split("://", 1)[0]
            options = dict(storage_options or {})
            if protocol in _LISTING_CACHE_PROTOCOLS:
                options.setdefault("use_listings_cache", False)
            self.fs, path = fsspec.url_to_fs(str(location), **options)
            self.root = self.fs.unstrip_protocol(path.rstrip("/"))
            if local_dir is None:
                raise ValueError(f"a lake at {self.root} needs a local_dir for the DuckDB file, locks and scratch")
            self.local_dir = Path(local_dir).absolute()
        else:
            text = str(location).removeprefix("file://")
            self.fs = LocalFileSystem()
            self.root = str(Path(text).expanduser().absolute())
            self.local_dir = Path(local_dir).absolute() if local_dir is not None else Path(self.root)

    def __repr__(self) -> str:
        return f"Lake({self.root!r})"

    def check_reachable(self) -> None:
        """Fail early, naming the URL, when a remote lake's bucket is missing or the store is down."""
        if not self.remote:
            return
        protocol, _, rest = self.root.partition("://")
        container = f"{protocol}://{rest.split('/', 1)[0]}"
        try:
            found = self.fs.exists(self.root) or self.fs.exists(container)
        except Exception as exc:  # botocore's connection errors are not OSErrors
            problem = f"the lake's store cannot be reached: {type(exc).__name__}: {exc}"
            raise LakeUnavailable(f"{self.root}: {problem}") from exc
        if not found:
            problem = f"{container} does not exist (create the bucket, or fix warehouse_dir)"
            raise LakeUnavailable(f"{self.root}: {problem}")

    # ---- paths ----------------------------------------------------------------------------------
    def path(self, *parts: str) -> str:
        """The lake path (or URL) of `parts` under the root; parts are trusted, already safe names."""
        return "/".join([self.root, *parts])

    def _partitioned(self, layer: str, platform: str, source: str, day: str) -> str:
        """`<layer>/P/S/YYYY-MM-DD`: plain folders (`platform_folder`), never `key=value`."""
        return self.path(layer, platform_folder(platform), sanitise_partition_value(source), _day_folder(day))

    def raw_batch_path(self, platform: str, source: str, day: str, run_id: str, n: int) -> str:
        return f"{self._partitioned('raw', platform, source, day)}/{run_id}-{n:05d}.parquet"

    def quarantine_batch_path(self, platform: str, source: str, day: str, run_id: str, n: int) -> str:
        return f"{self._partitioned('quarantine', platform, source, day)}/{run_id}-{n:05d}.parquet"

    def collection_run_path(self, run_id: str) -> str:
        return self.path("collection_runs", f"{run_id}.parquet")

    def normalised_path(self, table: str, platform: str, generation: str, part: str = "data") -> str:
        """A table's file in one (perhaps not yet published) generation of the normalised layer.

        A table built whole is one file, `data.parquet`; an incremental normalise adds a part
        (`part-<generation>.parquet`) and links the parts it keeps into the new generation."""
        return self.path("normalised", generation, table, platform_folder(platform), f"{part}.parquet")

    def normalised_state_path(self, platform: str, generation: str, name: str) -> str:
        """Incremental normalisation's state of one platform (never a table readers see)."""
        return self.path("normalised", generation, "_state", platform_folder(platform), f"{name}.parquet")

    @property
    def normalised_manifest_path(self) -> str:
        return self.path("normalised", NORMALISED_MANIFEST)

    def frozen_path(self, table: str, platform: str, generation: str | None = None) -> str:
        """Normalised rows kept after their raw files expired (raw retention): the published file
        (it may not exist), or with `generation` the file in that, perhaps unpublished, generation.

        A retention writes every frozen table into a new generation and publishes it by replacing
        `frozen/_manifest.json` (dissentry/retention.py), as normalise publishes its layer."""
        partition = platform_folder(platform)
        if generation is not None:
            return self.path("frozen", generation, table, partition, "data.parquet")
        manifest = self.frozen_manifest()
        if manifest is None:  # a lake frozen before generations existed: one file per table
            return self.path("frozen", table, f"platform={sanitise_partition_value(platform)}", "data.parquet")
        rel = manifest["platforms"].get(platform, {}).get("tables", {}).get(table, {}).get("file")
        return self.path(rel) if rel else self.path("frozen", manifest["generation"], table, partition, "data.parquet")

    def frozen_files(self, table: str) -> list[str]:
        """The published frozen files of one table, every platform."""
        manifest = self.frozen_manifest()
        if manifest is None:
            return self.files("frozen", table)
        return sorted(self.path(entry["tables"][table]["file"]) for entry in manifest["platforms"].values()
                      if table in entry["tables"])

    @property
    def frozen_manifest_path(self) -> str:
        return self.path("frozen", FROZEN_MANIFEST)

    def frozen_manifest(self) -> dict[str, Any] | None:
        """The published frozen generation (None before the first retention of this layout)."""
        path = self.frozen_manifest_path
        return self.read_json(path) if self.exists(path) else None

    def mart_path(self, table: str) -> str:
        return self.path("marts", f"{table}.parquet")

    def erasure_path(self, stamp: str) -> str:
        return self.path("erasures", f"{stamp}.parquet")

    @property
    def erased_register_path(self) -> str:
        """sha256 of every erased account id: normalisation keeps them out of later collections."""
        return self.path("state", "erased_accounts.json")

    def label_path(self, import_id: str) -> str:
        """People's labels landed by one `labels import` (append-only)."""
        return self.path("labels", f"{import_id}.parquet")

    def label_draw_path(self, draw_id: str) -> str:
        """One `labels sample` draw: its design (seed, frames) and the sampled ids."""
        return self.path("label_draws", f"{draw_id}.parquet")

    def label_import_path(self, import_id: str) -> str:
        return self.path("label_imports", f"{import_id}.parquet")

    @property
    def erased_posts_register_path(self) -> str:
        """sha256 of every erased post id: `labels import` drops labels of erased accounts' posts."""
        return self.path("state", "erased_posts.json")

    def cursor_path(self, platform: str, source: str) -> str:
        return self.path(
            "state",
            "cursors",
            f"platform={sanitise_partition_value(platform)}",
            f"source={sanitise_partition_value(source)}.json",
        )

    @property
    def duckdb_path(self) -> Path:
        return self.local_dir / DUCKDB_FILE

    @property
    def spill_dir(self) -> Path:
        """Where DuckDB spills what does not fit in its memory limit."""
        return self.local_dir / ".spill"

    @property
    def locks_dir(self) -> Path:
        return self.local_dir / ".locks"

    @property
    def write_folder(self) -> Path:
        """The local folder lake writes land in first: the lake itself, or staging for a remote one."""
        return self.local_dir / ".staging" if self.remote else Path(self.root)

    # ---- reading the file system ----------------------------------------------------------------
    def _url(self, fs_path: str) -> str:
        """fsspec listings drop the protocol; put it back so DuckDB and later calls see a URL."""
        return self.fs.unstrip_protocol(fs_path) if self.remote else fs_path

    def exists(self, path: str) -> bool:
        return bool(self.fs.isfile(path))

    def files(self, *parts: str, suffix: str = ".parquet") -> list[str]:
        """Every finished file under `parts` (temporary files of writers in progress excluded)."""
        # one listing: find() of a prefix that does not exist is empty, locally and in a bucket
        found = self.fs.find(self.path(*parts))
        return sorted(self._url(p) for p in found if p.endswith(suffix) and not _is_temp_name(p))

    def has_files(self, layer: str, table: str | None = None) -> bool:
        return bool(self.files(layer, table) if table else self.files(layer))

    def partition_files(self, layer: str, platform: str | None = None, source: str | None = None) -> list[str]:
        """The files of raw or quarantine (of one platform, and one source of it), in the plain
        folders written now and in the hive folders (`platform=P/source=S/`) of older lakes."""
        if platform is None:
            return self.files(layer)
        plain = [platform_folder(platform)]
        hive = [f"platform={sanitise_partition_value(platform)}"]
        if source is not None:
            plain.append(sanitise_partition_value(source))
            hive.append(f"source={sanitise_partition_value(source)}")
        return sorted({*self.files(layer, *plain), *self.files(layer, *hive)})

    def raw_files(self, platform: str | None = None) -> list[str]:
        return self.partition_files("raw", platform)

    def glob(self, layer: str, table: str | None = None) -> str:
        """A glob over every file of a layer (raw, quarantine, collection_runs, normalised/<table>)."""
        if layer == "normalised":
            assert table is not None
            return self.path("normalised", table, "*", "*.parquet")
        if layer in ("collection_runs", "erasures", "labels", "label_draws", "label_imports"):
            return self.path(layer, "*.parquet")
        return self.path(layer, "**", "*.parquet")

    def read_table(self, path: str) -> pa.Table:
        with self.fs.open(path, "rb") as fh:
            return pq.read_table(fh)

    def num_rows(self, path: str) -> int:
        with self.fs.open(path, "rb") as fh:
            return pq.ParquetFile(fh).metadata.num_rows

    def read_json(self, path: str) -> Any:
        with self.fs.open(path, "rb") as fh:
            return json.loads(fh.read().decode("utf-8"))

    # ---- the normalised layer's published generation ----------------------------------------------
    def relative(self, path: str) -> str:
        """A lake path relative to the root, as manifests record it (the lake may move)."""
        prefix = self.root + "/"
        if not path.startswith(prefix):
            raise ValueError(f"{path} is not inside the lake {self.root}")
        return path[len(prefix):]

    def normalised_manifest(self) -> dict[str, Any] | None:
        """The published generation's manifest; None before the first normalise of this layout."""
        path = self.normalised_manifest_path
        return self.read_json(path) if self.exists(path) else None

    def normalised_files(
        self, table: str, platform: str | None = None, manifest: dict[str, Any] | None = None
    ) -> list[str]:
        """The published files of one normalised table (of one platform, or all).

        Pass `manifest` when reading several tables, so they all come from one generation."""
        manifest = manifest if manifest is not None else self.normalised_manifest()
        if manifest is None:  # a lake last normalised before generations existed: one file per table
            prefix = f"/platform={sanitise_partition_value(platform)}/" if platform else "/"
            return [f for f in self.files("normalised", table) if prefix in f]
        return [
            self.path(rel)
            for name, entry in sorted(manifest["platforms"].items())
            if platform in (None, name)
            for rel in entry["tables"].get(table, {}).get("files", [])
        ]

    def publish_normalised(self, manifest: dict[str, Any], *, keep_previous: bool = True) -> None:
        """Publish a written generation (the one atomic step), then delete what no reader needs.

        `keep_previous=False` (forget, a change of pseudonymisation) deletes the previous
        generation too: its files may hold what must no longer exist anywhere."""
        previous = self.normalised_manifest()
        manifest = {**manifest, "previous": previous["generation"] if previous else None}
        self.write_json(manifest, self.normalised_manifest_path)
        keep = _generations_of(manifest)
        if previous is not None and keep_previous:
            keep |= _generations_of(previous)
        base = self.path("normalised")
        for entry in self.fs.ls(base, detail=False):
            name = str(entry).rstrip("/").rsplit("/", 1)[-1]
            if name == NORMALISED_MANIFEST or name in keep or _is_temp_name(name):
                continue
            # unpublished folders of killed runs, generations no reader needs, the old one-file layout
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(self._url(str(entry)) if self.remote else str(entry), recursive=True)

    def attach(self, con: Any) -> None:
        """Let a DuckDB connection read this lake's paths (registers the fsspec file system)."""
        if self.remote and not any(self.fs.protocol == p or p in self.fs.protocol for p in con.list_filesystems()):
            con.register_filesystem(self.fs)

    # ---- writing ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def staged(self, final: str) -> Iterator[Path]:
        """Yield a local path to write; on success the file appears at `final`, whole.

        A full local disk raises DiskFull, naming the folder and what is free there."""
        try:
            with self._staged(final) as tmp:
                yield tmp
        except OSError as exc:
            if isinstance(exc, DiskFull) or not is_disk_full(exc):
                raise
            raise disk_full_error([self.write_folder if self.remote else Path(final).parent]) from exc

    @contextlib.contextmanager
    def _staged(self, final: str) -> Iterator[Path]:
        if not self.remote:
            with atomic_path(Path(final)) as tmp:
                yield tmp
            return
        staging = self.local_dir / ".staging"
        staging.mkdir(parents=True, exist_ok=True)
        tmp = staging / f".{uuid.uuid4().hex}.tmp"
        try:
            yield tmp
            try:
                self.fs.put_file(str(tmp), final)
            except Exception as exc:  # botocore's connection errors are not OSErrors
                raise LakeUnavailable(f"{final}: could not write to the lake: {type(exc).__name__}: {exc}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def write_parquet(self, table: pa.Table, final: str) -> str:
        with self.staged(final) as tmp:
            pq.write_table(table, tmp, compression="zstd")
        return final

    def link(self, source: str, final: str) -> str:
        """Give the finished file `source` a second name, `final` (a hard link; a copy in a bucket).

        How an incremental normalise keeps a part unchanged in the new generation without writing
        its bytes again: the folder of a generation still holds each table whole. The bytes go
        when the last generation naming them is deleted."""
        if self.remote:
            self.fs.copy(source, final)
            return final
        Path(final).parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, final)
        except OSError as exc:  # a file system without hard links: a copy, staged like any write
            if is_disk_full(exc):
                raise disk_full_error([Path(final).parent]) from exc
            with self.staged(final) as tmp:
                shutil.copyfile(source, tmp)
        return final

    def write_json(self, data: Any, final: str) -> str:
        with self.staged(final) as tmp:
            tmp.write_text(json.dumps(data, sort_keys=True, ensure_ascii=False), encoding="utf-8")
        return final

    def delete(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(path)

    def sweep_stale_temp_files(self, older_than_seconds: float = 3600.0, layers: tuple[str, ...] | None = None) -> int:
        """Remove temporary files a killed writer left behind (readers never saw them).

        A remote lake never holds one (uploads are whole); its local staging folder may.
        `layers`: only these layers' folders (a step that holds the lock on what it writes there
        may sweep them at any age: `transform` and marts/)."""
        cutoff = time.time() - older_than_seconds
        folders = [self.local_dir / ".staging"] if layers is None else []
        if not self.remote:
            folders += [Path(self.root) / layer for layer in layers or
                        ("raw", "quarantine", "collection_runs", "normalised", "frozen", "marts", "erasures", "state",
                         "labels", "label_draws", "label_imports")]
        removed = 0
        for base in folders:
            if not base.is_dir():
                continue
            for path in base.rglob(".*.tmp"):
                with contextlib.suppress(FileNotFoundError):
                    if path.is_file() and path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
        return removed

    # ---- state ------------------------------------------------------------------------------------
    def erased_account_keys(self) -> list[str]:
        path = self.erased_register_path
        return sorted(self.read_json(path)) if self.exists(path) else []

    def erased_post_keys(self) -> list[str]:
        path = self.erased_posts_register_path
        return sorted(self.read_json(path)) if self.exists(path) else []

    def load_cursor(self, platform: str, source: str) -> dict[str, Any] | None:
        path = self.cursor_path(platform, source)
        return self.read_json(path) if self.exists(path) else None

    def save_cursor(self, platform: str, source: str, cursor: dict[str, Any] | None) -> None:
        """Only call after the data the cursor covers is durable in the lake."""
        if cursor is not None:
            self.write_json(cursor, self.cursor_path(platform, source))


class BatchWriter:
    """Buffers rows of one schema and writes them as numbered, atomic Parquet files.

    Used for raw and quarantine batches of one run: memory stays bounded by `batch_rows`
    whatever the size of the export or collection.
    """

    def __init__(
        self, lake: Lake, path_for_batch: Callable[[int], str], table_schema: pa.Schema, batch_rows: int = 20_000
    ) -> None:
        self._lake = lake
        self._path_for_batch = path_for_batch
        self._schema = table_schema
        self._batch_rows = batch_rows
        # the rows as given, made columns at flush: one list append per row instead of one per
        # column (an import appends millions of rows)
        self._rows: list[dict[str, Any]] = []
        self.files: list[str] = []
        self.rows_written = 0

    def append(self, row: dict[str, Any]) -> None:
        """Buffer one row (a key it lacks is null). It is read at flush: do not change it after."""
        self._rows.append(row)

    @property
    def buffered(self) -> int:
        return len(self._rows)

    def full(self) -> bool:
        return len(self._rows) >= self._batch_rows

    def discard(self) -> int:
        """Drop what is buffered (it could not be written: the disk is full); return how many rows."""
        dropped = len(self._rows)
        self._rows = []
        return dropped

    def flush(self) -> str | None:
        """Write what is buffered; return the file, or None when nothing was buffered."""
        rows = self._rows
        if not rows:
            return None
        table = pa.Table.from_arrays(
            [_column([row.get(field.name) for row in rows], field.type) for field in self._schema], schema=self._schema)
        path = self._lake.write_parquet(table, self._path_for_batch(len(self.files)))
        self.files.append(path)
        self.rows_written += len(rows)
        self._rows = []
        return path


def _column(values: list[Any], type_: pa.DataType) -> pa.Array:
    """One column of a batch. A string column given as UTF-8 bytes (an import's payloads, which
    dissentry.ingest encodes or has as read) is laid out directly: Arrow copying the values one by
    one into a builder was a tenth of an import's CPU. The bytes are UTF-8 already (they were decoded
    from it, or encoded to it), so they are not validated again."""
    if type_ == pa.string() and values and all(type(v) is bytes for v in values):
        data = b"".join(values)
        if len(data) < 1 << 31:  # 32-bit offsets, as pa.string() holds
            offsets = array.array("i", (0,))
            offsets.extend(itertools.accumulate(map(len, values)))
            return pa.StringArray.from_buffers(len(values), pa.py_buffer(offsets), pa.py_buffer(data))
    return pa.array(values, type_)


def raw_writer(lake: Lake, platform: str, source: str, day: str, run_id: str, batch_rows: int = 20_000) -> BatchWriter:
    return BatchWriter(
        lake, lambda n: lake.raw_batch_path(platform, source, day, run_id, n), schema.RAW, batch_rows=batch_rows
    )


def quarantine_writer(lake: Lake, platform: str, source: str, day: str, run_id: str) -> BatchWriter:
    def path(n: int) -> str:
        return lake.quarantine_batch_path(platform, source, day, run_id, n)

    return BatchWriter(lake, path, schema.QUARANTINE, batch_rows=5_000)


def write_collection_run(lake: Lake, row: dict[str, Any]) -> str:
    table = pa.Table.from_pylist([row], schema=schema.COLLECTION_RUNS)
    return lake.write_parquet(table, lake.collection_run_path(row["run_id"]))
