"""People's labels: draw a random sample of references to label, and import the labels people gave.

A classifier's dissent rate is only as good as the classifier, so the measure is validated on a
simple random sample of each group's own-organisation references labelled by people:

    sample_references(...)   `dissentry labels sample`: draws, per group, a simple random sample
                             without replacement of the references not drawn before; writes a CSV
                             (or Label Studio tasks and their labelling config) and records the
                             draw (seed, frame per group and scope, the ids) in `label_draws`, so
                             the estimator knows the design and a new draw never repeats a post.
    import_labels(...)       `dissentry labels import`: reads a labelled CSV or a Label Studio JSON
                             export; good rows land append-only in `labels`, bad rows are named
                             (file:line and why) and quarantined, and every import is recorded in
                             `label_imports`. The latest label per (post, annotator) counts.
    forget_labelled_posts    `dissentry forget`: registers sha256 of the erased account's post ids
                             and purges them from labels, draws and label quarantine, so neither
                             an old file nor a later import brings them back.

Labels are stored without a group: a label says what one post says. A draw therefore samples a
post for at most one group, and a post drawn once is never drawn again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import secrets
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from dissentry.config import Config
from dissentry.warehouse import schema
from dissentry.warehouse.catalog import connect, create_lake_views
from dissentry.warehouse.lake import Lake, atomic_path, new_run_id, quarantine_writer
from dissentry.warehouse.lock import exclusive
from dissentry.warehouse.sql import literal_list, quote_literal

LABEL_VALUES = ("critical", "supportive", "neutral")
CSV_COLUMNS = ("post_id", "group_id", "period", "reference_kind", "target", "text", "url", "label", "note")
TASK_FIELDS = ("post_id", "group_id", "period", "target", "text", "url")
LABELS_PLATFORM = "labels"  # quarantine rows of label files carry this platform
STANCE_FIELD = "stance"  # the Choices name of the Label Studio config, read back on import
MAX_FILE_BYTES = 256 << 20  # a labelled sample is thousands of rows, never gigabytes
LOCK = "labels"  # sample, import and forget's purge: one at a time, so a purge never misses a write
LOCK_WAIT_SECONDS = 60.0  # imports take seconds: forget waits for one rather than fail half-done

RUN_FIRST = "no org_references yet: run `dissentry run` (or `dissentry transform`) first"


class LabelsError(Exception):
    """A file-level problem a user can fix; the message is one line naming the file."""


def post_key(post_id: str) -> str:
    """How the erased-posts register names a post: its id never stays in the lake."""
    return hashlib.sha256(post_id.encode()).hexdigest()


@contextmanager
def _lake_connection(lake: Lake, views: list[str]) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory connection with views over the lake: works for a remote lake too, and never
    opens dissentry.duckdb (a transform may be writing it)."""
    con = connect(lake=lake)
    try:
        create_lake_views(con, lake, views)
        yield con
    finally:
        con.close()


def _references_sql(lake: Lake) -> str:
    """org_references (the mart's Parquet copy) with each post's text and url."""
    mart = lake.mart_path("org_references")
    if not lake.exists(mart):
        raise LabelsError(RUN_FIRST)
    return f"""
        SELECT r.post_id, r.group_id, r.period, r.reference_kind, r.matched_terms, r.official_accounts,
               coalesce(p.text, '') AS text, p.url
        FROM read_parquet({quote_literal(mart)}) AS r
        JOIN (SELECT post_id, text, url FROM posts
              QUALIFY row_number() OVER (PARTITION BY post_id ORDER BY fetched_at DESC NULLS LAST) = 1) AS p
            USING (post_id)
    """


# ---- drawing a sample ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stratum:
    group_id: str
    frame_size: int  # references of the group (in scope) not drawn before
    sample_size: int
    requested: int


@dataclass
class DrawResult:
    draw_id: str
    seed: int
    scope: str
    strata: list[Stratum]
    files: list[Path] = field(default_factory=list)

    @property
    def drawn(self) -> int:
        return sum(s.sample_size for s in self.strata)


def _target(matched_terms: Sequence[str] | None, official_accounts: Sequence[str] | None) -> str:
    """What the post references, as a person reads it: the names, then the official accounts."""
    names = [*(matched_terms or []), *(official_accounts or [])]
    return "; ".join(dict.fromkeys(n for n in names if n))


def draw_sample(
    rows: Sequence[dict[str, Any]],
    *,
    per_group: int,
    seed: int,
    period: str | None = None,
    groups: Sequence[str] = (),
    drawn_before: set[str] | frozenset[str] = frozenset(),
) -> tuple[list[tuple[dict[str, Any], int]], list[Stratum]]:
    """The draw itself, on reference rows (post_id, group_id, period, ...): ((row, position) picked,
    one Stratum per group). Groups in sorted order, each frame sorted by post_id, one Random(seed)."""
    rng = random.Random(seed)
    picked: list[tuple[dict[str, Any], int]] = []
    strata: list[Stratum] = []
    taken: set[str] = set()
    for group in sorted({*groups, *(r["group_id"] for r in rows)}):
        # a post named by two groups is drawn for one only: its label carries no group
        frame = [r for r in rows if r["group_id"] == group and (period is None or r["period"] == period)
                 and r["post_id"] not in drawn_before and r["post_id"] not in taken]
        frame.sort(key=lambda r: r["post_id"])
        chosen = rng.sample(frame, min(per_group, len(frame)))
        taken.update(r["post_id"] for r in chosen)
        picked.extend((r, i) for i, r in enumerate(chosen))
        strata.append(Stratum(group, len(frame), len(chosen), per_group))
    return picked, strata


def sample_references(
    lake: Lake,
    *,
    per_group: int,
    out: Path,
    period: str | None = None,
    seed: int | None = None,
    fmt: str = "csv",
    groups: Sequence[str] = (),
) -> DrawResult:
    """Draw min(per_group, frame) references per group at random, write the file(s), record the draw.

    The frame of a group is its org_references rows (in `period`, if given) whose post no earlier
    draw picked, sorted by post_id; one random.Random(seed) then draws from each group in group
    order, so the same lake and seed give the same sample. `groups` (the configured ones) are
    reported even when they have no reference at all.
    """
    if per_group < 1:
        raise LabelsError(f"--per-group must be at least 1, not {per_group}")
    if fmt not in ("csv", "labelstudio"):
        raise LabelsError(f"unknown format {fmt!r}: use csv or labelstudio")
    if not out.parent.is_dir():
        raise LabelsError(f"{out.parent}: no such folder for --out")
    lake.check_reachable()
    seed = secrets.randbelow(2**31) if seed is None else seed
    scope = period or "all"
    with exclusive(lake, LOCK, what="labels sample"), _lake_connection(lake, ["posts", "label_draws"]) as con:
        references = con.execute(f"SELECT * FROM ({_references_sql(lake)}) ORDER BY group_id, post_id").fetchall()
        columns = ["post_id", "group_id", "period", "reference_kind", "matched_terms", "official_accounts", "text",
                   "url"]
        rows = [dict(zip(columns, r, strict=True)) for r in references]
        drawn_before = {r[0] for r in con.execute(
            "SELECT DISTINCT post_id FROM label_draws WHERE post_id IS NOT NULL").fetchall()}
        if period is not None and not any(r["period"] == period for r in rows):
            periods = sorted({r["period"] for r in rows})
            shown = ", ".join(periods[:12]) + (" ..." if len(periods) > 12 else "")
            raise LabelsError(f"no references in period {period!r} (periods: {shown or 'none'})")

        picked, strata = draw_sample(rows, per_group=per_group, seed=seed, period=period, groups=groups,
                                     drawn_before=drawn_before)
        result = DrawResult(draw_id=new_run_id(), seed=seed, scope=scope, strata=strata)
        if not picked:
            return result
        result.files = _write_sample_files(out, fmt, [r for r, _ in picked])
        drawn_at = datetime.now(UTC)
        sizes = {s.group_id: s for s in strata}
        draw = pa.Table.from_pylist(
            [{"draw_id": result.draw_id, "seed": seed, "drawn_at": drawn_at, "group_id": r["group_id"],
              "scope": scope, "frame_size": sizes[r["group_id"]].frame_size,
              "sample_size": sizes[r["group_id"]].sample_size, "post_id": r["post_id"], "position": position}
             for r, position in picked],
            schema=schema.LABEL_DRAWS,
        )
        try:
            lake.write_parquet(draw, lake.label_draw_path(result.draw_id))
        except BaseException:
            # a sample file whose draw is not on record would be labelled as if it were random
            for path in result.files:
                path.unlink(missing_ok=True)
            raise
    return result


def _write_sample_files(out: Path, fmt: str, rows: list[dict[str, Any]]) -> list[Path]:
    if fmt == "csv":
        with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(CSV_COLUMNS)
            for r in rows:
                writer.writerow([r["post_id"], r["group_id"], r["period"], r["reference_kind"],
                                 _target(r["matched_terms"], r["official_accounts"]), r["text"], r["url"] or "",
                                 "", ""])
        return [out]
    tasks_path = out if out.suffix.lower() == ".json" else out.with_suffix(".json")
    config_path = tasks_path.with_name(tasks_path.stem + ".label_config.xml")
    tasks = [{"data": {"post_id": r["post_id"], "group_id": r["group_id"], "period": r["period"],
                       "target": _target(r["matched_terms"], r["official_accounts"]), "text": r["text"],
                       "url": r["url"] or ""}} for r in rows]
    with atomic_path(tasks_path) as tmp:
        tmp.write_text(json.dumps(tasks, ensure_ascii=False, indent=1), encoding="utf-8")
    with atomic_path(config_path) as tmp:
        tmp.write_text(label_studio_config(), encoding="utf-8")
    return [tasks_path, config_path]


def label_studio_config() -> str:
    """The labelling interface: the post, what it references, one stance, an optional note."""
    view = ET.Element("View")
    ET.SubElement(view, "Header", value="Stance of this post towards: $target")
    ET.SubElement(view, "Text", name="text", value="$text")
    choices = ET.SubElement(view, "Choices", name=STANCE_FIELD, toName="text", choice="single", required="true")
    for value in LABEL_VALUES:
        ET.SubElement(choices, "Choice", value=value)
    ET.SubElement(view, "TextArea", name="note", toName="text", placeholder="note (optional)", maxSubmissions="1",
                  editable="true")
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


# ---- reading a labelled file -----------------------------------------------------------------------
def decode_text(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with a BOM; anything else is refused, naming the byte.

    A file without a BOM is read as UTF-8 only: Latin-1 and UTF-16 without BOM cannot be told from
    each other by their bytes, and a guess would land mangled text under a person's label.
    """
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        raise LabelsError(f"{name}: UTF-32 (byte-order mark at byte offset 0) is not accepted: save it as UTF-8")
    if data.startswith(b"\xef\xbb\xbf"):
        encoding, skip, what = "utf-8", 3, "UTF-8"
    elif data.startswith(b"\xff\xfe"):
        encoding, skip, what = "utf-16-le", 2, "UTF-16"
    elif data.startswith(b"\xfe\xff"):
        encoding, skip, what = "utf-16-be", 2, "UTF-16"
    else:
        encoding, skip, what = "utf-8", 0, "UTF-8"
    try:
        text = data[skip:].decode(encoding)
    except UnicodeDecodeError as exc:
        offset = skip + exc.start
        raise LabelsError(
            f"{name}: not valid {what}: byte 0x{data[offset]:02x} at byte offset {offset} cannot be decoded "
            "(save the file as UTF-8; Latin-1 and Windows-1252 are not accepted)"
        ) from None
    nul = text.find("\x00")
    if nul >= 0:
        offset = skip + len(text[:nul].encode(encoding))
        hint = " (it looks like UTF-16 without a byte-order mark)" if what == "UTF-8" else ""
        raise LabelsError(f"{name}: NUL byte at byte offset {offset}{hint}: save the file as UTF-8")
    return text


@dataclass
class Candidate:
    """One label as the file gives it, before it is checked."""

    locator: str
    post_id: str
    group_id: str | None
    label: str
    annotator: str
    labelled_at: datetime | None
    content: str


@dataclass
class ParsedFile:
    fmt: str
    candidates: list[Candidate]
    rows_read: int
    unlabelled: int = 0
    cancelled: int = 0
    rejects: list[tuple[str, str, str]] = field(default_factory=list)  # locator, reason, content


def _sniff_delimiter(first_line: str) -> str:
    """Excel in many locales saves ';'-separated CSV: take the delimiter the header is split by."""
    for delimiter in (",", ";", "\t"):
        names = {c.strip().lower() for c in next(csv.reader([first_line], delimiter=delimiter), [])}
        if {"post_id", "label"} <= names:
            return delimiter
    return ","


def parse_csv(text: str, name: str, annotator: str) -> ParsedFile:
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(first_line))
    header: list[str] | None = None
    parsed = ParsedFile("csv", [], 0)
    line_end = 0
    try:
        for fields in reader:
            start, line_end = line_end + 1, reader.line_num
            if not any(f.strip() for f in fields):
                continue  # blank lines between rows are no rows
            if header is None:
                header = [f.strip().lower() for f in fields]
                missing = [c for c in ("post_id", "label") if c not in header]
                if missing:
                    extra = ""
                    if "label" in missing and "stance" in header:
                        extra = " (a Label Studio CSV export calls it 'stance': import its JSON export instead)"
                    raise LabelsError(f"{name}: no {' or '.join(repr(c) for c in missing)} column in the header "
                                      f"on line {start}{extra}; nothing was imported")
                continue
            row = {h: (fields[i] if i < len(fields) else "") for i, h in enumerate(header) if h}
            buffer = io.StringIO()
            csv.writer(buffer).writerow(fields)
            parsed.rows_read += 1
            parsed.candidates.append(Candidate(
                locator=f"{name}:{start}", post_id=row["post_id"].strip(), group_id=row.get("group_id", "").strip()
                or None, label=row["label"], annotator=annotator, labelled_at=None,
                content=buffer.getvalue().rstrip("\r\n")))
    except csv.Error as exc:
        raise LabelsError(f"{name}: unreadable CSV on line {reader.line_num}: {exc}; nothing was imported") from None
    if header is None:
        raise LabelsError(f"{name}: the file is empty (a header with post_id and label is needed)")
    return parsed


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _annotator_of(completed_by: Any) -> str | None:
    """Label Studio names the annotator by user id, or (in a full export) a user object."""
    if isinstance(completed_by, bool):
        return None
    if isinstance(completed_by, int | str) and str(completed_by).strip():
        return f"labelstudio:{str(completed_by).strip()}"
    if isinstance(completed_by, dict):
        who = completed_by.get("email") or completed_by.get("id")
        if who is not None and not isinstance(who, bool) and str(who).strip():
            return f"labelstudio:{str(who).strip()}"
    return None


def _stance_of(annotation: dict[str, Any]) -> tuple[str | None, bool]:
    """(label, whether any result was named 'stance') of one Label Studio annotation."""
    for item in annotation.get("result") or []:
        if not isinstance(item, dict) or item.get("from_name") != STANCE_FIELD:
            continue
        choices = (item.get("value") or {}).get("choices") if isinstance(item.get("value"), dict) else None
        if isinstance(choices, list) and choices:
            return str(choices[0]), True
        return "", True
    return None, False


def parse_label_studio(data: Any, name: str) -> ParsedFile:
    if not isinstance(data, list):
        raise LabelsError(f"{name}: not a Label Studio JSON export (a list of tasks); nothing was imported")
    parsed = ParsedFile("labelstudio", [], 0)
    with_post_id = 0
    results_seen: set[str] = set()
    stance_seen = False
    for t, task in enumerate(data):
        where = f"{name}[{t}]"
        task_data = task.get("data") if isinstance(task, dict) else None
        post_id = task_data.get("post_id") if isinstance(task_data, dict) else None
        annotations = [a for a in (task.get("annotations") or []) if isinstance(a, dict)] \
            if isinstance(task, dict) else []
        if not isinstance(post_id, str) or not post_id.strip():
            parsed.rows_read += max(1, len(annotations))
            parsed.rejects.append((where, "task has no data.post_id", json.dumps(task, ensure_ascii=False)[:2000]))
            continue
        with_post_id += 1
        group = task_data.get("group_id") if isinstance(task_data.get("group_id"), str) else None
        if not annotations:
            parsed.rows_read += 1
            parsed.unlabelled += 1
            continue
        for a, annotation in enumerate(annotations):
            locator = f"{where}.annotations[{a}]"
            parsed.rows_read += 1
            results_seen.update(str(i.get("from_name")) for i in annotation.get("result") or [] if isinstance(i, dict))
            if annotation.get("was_cancelled"):
                parsed.cancelled += 1
                continue
            label, named = _stance_of(annotation)
            stance_seen = stance_seen or named
            content = json.dumps({"data": {"post_id": post_id, "group_id": group}, "annotation": annotation},
                                 ensure_ascii=False, default=str)
            annotator = _annotator_of(annotation.get("completed_by"))
            if annotator is None:
                parsed.rejects.append((locator, "annotation has no completed_by (who labelled it?)", content))
                continue
            if not label:
                parsed.unlabelled += 1
                continue
            when = _parse_time(annotation.get("updated_at")) or _parse_time(annotation.get("created_at"))
            parsed.candidates.append(Candidate(locator, post_id.strip(), group.strip() if group else None, label,
                                               annotator, when, content))
    if data and not with_post_id:
        raise LabelsError(f"{name}: no task has data.post_id (tasks must come from `dissentry labels sample "
                          "--format labelstudio`, exported as JSON, not JSON-MIN); nothing was imported")
    if results_seen and not stance_seen:
        raise LabelsError(f"{name}: no annotation result is named {STANCE_FIELD!r} (found: "
                          f"{', '.join(sorted(results_seen))}): label with the config `labels sample` wrote; "
                          "nothing was imported")
    return parsed


def read_label_file(path: Path, annotator: str) -> ParsedFile:
    name = path.name
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise LabelsError(f"{path}: {size:,} bytes is not a label file (at most {MAX_FILE_BYTES:,})")
        data = path.read_bytes()
    except IsADirectoryError:
        raise LabelsError(f"{path}: is a folder, not a label file") from None
    except FileNotFoundError:
        raise LabelsError(f"{path}: no such file") from None
    except OSError as exc:
        raise LabelsError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    text = decode_text(data, str(path))
    if path.suffix.lower() == ".json" or text.lstrip().startswith("["):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LabelsError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                              "nothing was imported") from None
        return parse_label_studio(document, name)
    return parse_csv(text, name, annotator)


# ---- importing -------------------------------------------------------------------------------------
@dataclass
class ImportResult:
    import_id: str
    file: str
    fmt: str
    annotator: str | None  # the CSV's annotator; None for Label Studio
    rows_read: int
    landed: int
    rejected: int
    dropped_erased: int
    unlabelled: int
    cancelled: int
    problems: list[tuple[str, str]]  # (locator, reason) of every rejected row
    annotators: list[str]
    agreement: list[dict[str, Any]] | None = None  # None: fewer than two annotators share a post
    agreement_error: str | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.rejected else 0


def _known(con: duckdb.DuckDBPyConnection, lake: Lake, ids: list[str]) -> tuple[set[str], dict[str, set[str]]]:
    """(the candidates' ids found in posts, post_id -> groups it is a reference of)."""
    con.register("wanted", pa.table({"post_id": pa.array(sorted(set(ids)), type=pa.string())}))
    in_posts = {r[0] for r in con.execute(
        "SELECT DISTINCT post_id FROM posts WHERE post_id IN (SELECT post_id FROM wanted)").fetchall()}
    mart = quote_literal(lake.mart_path("org_references"))
    groups: dict[str, set[str]] = defaultdict(set)
    for post_id, group in con.execute(
        f"SELECT post_id, group_id FROM read_parquet({mart}) WHERE post_id IN (SELECT post_id FROM wanted)"
    ).fetchall():
        groups[post_id].add(group)
    return in_posts, groups


def import_labels(lake: Lake, path: Path, *, annotator: str | None = None,
                  warn: Callable[[str, str], None] | None = None) -> ImportResult:
    """Check and land one labelled file; `warn(locator, reason)` hears of each rejected row."""
    lake.check_reachable()
    if not lake.exists(lake.mart_path("org_references")):
        raise LabelsError(RUN_FIRST)
    csv_annotator = (annotator or "").strip() or path.stem.strip() or path.name
    parsed = read_label_file(path, csv_annotator)
    imported_at = datetime.now(UTC)
    import_id = new_run_id(imported_at)
    with exclusive(lake, LOCK, what=f"labels import {path.name}"), _lake_connection(lake, ["posts"]) as con:
        # read under the lock: a forget that finished a moment ago has registered its posts
        erased = set(lake.erased_post_keys())
        in_posts, groups_of = _known(con, lake, [c.post_id for c in parsed.candidates])
        rejects = list(parsed.rejects)
        landed: list[dict[str, Any]] = []
        first_seen: dict[tuple[str, str], str] = {}
        dropped = unlabelled = 0
        for c in parsed.candidates:
            label = c.label.strip().lower()
            if not label:
                unlabelled += 1
                continue
            if c.post_id and post_key(c.post_id) in erased:
                dropped += 1  # the count is the record; the id goes nowhere, not even quarantine
                continue
            reason = None
            if not c.post_id:
                reason = "no post_id"
            elif label not in LABEL_VALUES:
                reason = f"unknown label {c.label.strip()!r} (use critical, supportive or neutral)"
            elif c.post_id not in in_posts:
                reason = f"unknown post id {c.post_id!r} (not in posts)"
            elif c.group_id is not None and c.group_id not in groups_of.get(c.post_id, set()):
                reason = f"post {c.post_id!r} is not a reference to its group {c.group_id!r} (not in org_references)"
            elif c.group_id is None and not groups_of.get(c.post_id):
                reason = f"post {c.post_id!r} references no group's organisation (not in org_references)"
            elif (c.post_id, c.annotator) in first_seen:
                earlier = first_seen[c.post_id, c.annotator]
                reason = f"duplicate: {c.annotator} labelled {c.post_id!r} already at {earlier}"
            if reason is not None:
                rejects.append((c.locator, reason, c.content))
                continue
            first_seen[c.post_id, c.annotator] = c.locator
            landed.append({"post_id": c.post_id, "label": label, "annotator": c.annotator,
                           "labelled_at": c.labelled_at or imported_at, "imported_at": imported_at,
                           "import_id": import_id, "locator": c.locator})
        if landed:
            lake.write_parquet(pa.Table.from_pylist(landed, schema=schema.LABELS), lake.label_path(import_id))
        if rejects:
            bad = quarantine_writer(lake, LABELS_PLATFORM, path.name, f"{imported_at:%Y-%m-%d}", import_id)
            for locator, reason, content in rejects:
                if warn is not None:
                    warn(locator, reason)
                bad.append({"platform": LABELS_PLATFORM, "source": path.name, "locator": locator, "reason": reason,
                            "content": content[: schema.QUARANTINE_CONTENT_LIMIT], "quarantined_at": imported_at,
                            "run_id": import_id})
            bad.flush()
        record = {"import_id": import_id, "imported_at": imported_at, "file": path.name,
                  "annotator": csv_annotator if parsed.fmt == "csv" else None, "format": parsed.fmt,
                  "rows_read": parsed.rows_read, "labels_landed": len(landed), "rows_rejected": len(rejects),
                  "rows_dropped_erased": dropped}
        lake.write_parquet(pa.Table.from_pylist([record], schema=schema.LABEL_IMPORTS),
                           lake.label_import_path(import_id))
    result = ImportResult(
        import_id=import_id, file=path.name, fmt=parsed.fmt, annotator=record["annotator"],
        rows_read=parsed.rows_read, landed=len(landed), rejected=len(rejects), dropped_erased=dropped,
        unlabelled=parsed.unlabelled + unlabelled, cancelled=parsed.cancelled,
        problems=[(locator, reason) for locator, reason, _ in rejects],
        annotators=sorted({row["annotator"] for row in landed}),
    )
    _add_agreement(lake, result)
    return result


def latest_labels(lake: Lake) -> dict[str, dict[str, str]]:
    """post_id -> annotator -> label: each annotator's latest label, by labelled_at then imported_at."""
    with _lake_connection(lake, ["labels"]) as con:
        rows = con.execute(
            """
            SELECT post_id, annotator, label FROM labels
            WHERE post_id IS NOT NULL AND annotator IS NOT NULL AND label IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY post_id, annotator
                                       ORDER BY labelled_at DESC NULLS LAST, imported_at DESC NULLS LAST,
                                                import_id DESC) = 1
            """
        ).fetchall()
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for post_id, who, label in rows:
        out[post_id][who] = label
    return dict(out)


def _add_agreement(lake: Lake, result: ImportResult) -> None:
    labels = latest_labels(lake)
    if not any(len(by) >= 2 for by in labels.values()):
        return
    try:
        from dissentry.transforms.evaluation import agreement
    except ImportError as exc:  # the evaluation module arrives with the measurement marts
        result.agreement_error = f"agreement not computed: {exc}"
        return
    result.agreement = agreement(labels)


# ---- erasure ---------------------------------------------------------------------------------------
def account_post_ids(lake: Lake, config: Config, account_ids: Iterable[str]) -> set[str]:
    """The post ids, as the normalised layer (and so the labels) spell them, of these accounts."""
    from dissentry.privacy import pseudonymiser_for

    authors = set(account_ids)
    pseudonymiser = pseudonymiser_for(config)
    if pseudonymiser is not None:
        authors |= {a for a in (pseudonymiser.account_id(i) for i in list(authors)) if a}
    files = lake.normalised_files("posts") + lake.frozen_files("posts")  # the published generations
    if not files or not authors:
        return set()
    con = connect(lake=lake)
    try:
        con.register("erased_authors", pa.table({"author_id": pa.array(sorted(authors), type=pa.string())}))
        listing = literal_list(files)
        return {r[0] for r in con.execute(
            f"SELECT DISTINCT post_id FROM read_parquet({listing}, hive_partitioning = false, union_by_name = true) "
            "WHERE author_id IN (SELECT author_id FROM erased_authors) AND post_id IS NOT NULL").fetchall()}
    finally:
        con.close()


def register_erased_posts(lake: Lake, post_ids: Iterable[str]) -> int:
    """Add sha256 of each post id to state/erased_posts.json; return how many keys were new."""
    known = set(lake.erased_post_keys())
    keys = known | {post_key(p) for p in post_ids}
    if keys != known:
        lake.write_json(sorted(keys), lake.erased_posts_register_path)
    return len(keys) - len(known)


def purge_labels(lake: Lake) -> dict[str, int]:
    """Remove every label, draw row and label quarantine row of a registered (erased) post.

    Driven by the register rather than by a list of ids, so running it again after a killed
    forget finishes the job."""
    erased = set(lake.erased_post_keys())
    counts = {"labels": 0, "label_draws": 0, "label_quarantine": 0}
    if not erased:
        return counts
    for layer in ("labels", "label_draws"):
        for path in lake.files(layer):
            table = lake.read_table(path)
            ids = table.column("post_id").to_pylist()
            keep = [p is None or post_key(p) not in erased for p in ids]
            if all(keep):
                continue
            counts[layer] += keep.count(False)
            remaining = table.filter(pa.array(keep))
            if remaining.num_rows:
                lake.write_parquet(remaining, path)
            else:
                lake.delete(path)
    counts["label_quarantine"] = _purge_label_quarantine(lake, erased)
    return counts


def _purge_label_quarantine(lake: Lake, erased: set[str]) -> int:
    """A rejected label row (a typo in its label, say) still holds its post's id and text."""
    removed = 0
    for path in lake.partition_files("quarantine", LABELS_PLATFORM):
        table = lake.read_table(path)
        contents = table.column("content").to_pylist()
        drop = [_names_erased_post(c or "", erased) for c in contents]
        if not any(drop):
            continue
        removed += sum(drop)
        remaining = table.filter(pc.invert(pa.array(drop)))
        if remaining.num_rows:
            lake.write_parquet(remaining, path)
        else:
            lake.delete(path)
    return removed


def _names_erased_post(content: str, erased: set[str]) -> bool:
    """Whether a quarantined label row names an erased post: its post_id field, however it was
    written (a CSV row, or the JSON of a Label Studio annotation)."""
    candidates: set[str] = set()
    try:
        document = json.loads(content)
        if isinstance(document, dict) and isinstance(document.get("data"), dict):
            candidates.add(str(document["data"].get("post_id") or ""))
    except ValueError:
        pass
    try:
        for row in csv.reader(io.StringIO(content, newline="")):
            candidates.update(f.strip() for f in row)
    except csv.Error:
        pass
    return any(c and post_key(c) in erased for c in candidates)


def forget_labelled_posts(lake: Lake, config: Config, account_ids: Iterable[str]) -> dict[str, int]:
    """`dissentry forget`'s part in the labels: register the account's posts as erased (so a later
    `labels import` drops their labels) and purge them from labels, draws and label quarantine.

    Call it before the normalised layer is rebuilt: that layer is where the posts' ids (pseudonyms,
    when pseudonymisation is on) are still found."""
    post_ids = account_post_ids(lake, config, account_ids)
    with exclusive(lake, LOCK, wait_seconds=LOCK_WAIT_SECONDS, what="forget"):
        new = register_erased_posts(lake, post_ids)
        counts = purge_labels(lake)
    return {"erased_posts_registered": new, **counts}


# ---- printing --------------------------------------------------------------------------------------
UNVALIDATED = (
    "No labels yet: the stance classifier is unvalidated, and the dissent rates' intervals leave out its "
    "error (they cover sampling error only). To validate it, draw a random sample, label it and import it:\n"
    "  dissentry labels sample --per-group 100 --seed 1 --out labels.csv\n"
    "  (fill the label column with critical, supportive or neutral)\n"
    "  dissentry labels import labels.csv --annotator YOUR_NAME\n"
    "  dissentry evaluate"
)


def _number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def agreement_table(rows: Sequence[dict[str, Any]]) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Agreement between annotators (each one's latest label)", header_style="bold",
                  title_justify="left")
    for header in ("annotator a", "annotator b", "n", "agreement", "Cohen's kappa", "Krippendorff's alpha"):
        table.add_column(header, justify="left" if header.startswith("annotator") else "right")
    for row in rows:
        both = row.get("annotator_a") == row.get("annotator_b") == "*"
        table.add_row(Text("all" if both else str(row.get("annotator_a"))), Text("" if both else str(row.get(
            "annotator_b"))), *(Text(_number(row.get(k))) for k in (
                "n", "percent_agreement", "cohen_kappa", "krippendorff_alpha")))
    return table


def _relations(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()").fetchall()}


def _confusion_table(classifier: str, confusion_json: str) -> Any:
    from rich.table import Table

    confusion = json.loads(confusion_json or "{}")
    table = Table(title=f"Confusion matrix of {classifier} (rows: people's label, columns: classifier's)",
                  header_style="bold", title_justify="left")
    table.add_column("label \\ predicted")
    for predicted in LABEL_VALUES:
        table.add_column(predicted, justify="right")
    for true in LABEL_VALUES:
        table.add_row(true, *(_number((confusion.get(true) or {}).get(p, 0)) for p in LABEL_VALUES))
    return table


def print_evaluation(con: duckdb.DuckDBPyConnection, console: Any) -> None:
    """The stance evaluation and the annotators' agreement, from the built warehouse."""
    from rich.table import Table
    from rich.text import Text

    present = _relations(con)
    n_labels = con.execute("SELECT count(*) FROM labels").fetchone()[0] if "labels" in present else 0
    if not n_labels:
        console.print(UNVALIDATED, highlight=False)
        return
    n_posts = con.execute("SELECT count(DISTINCT post_id) FROM labels").fetchone()[0]
    console.print(f"{n_labels:,} labels of {n_posts:,} posts in the lake", highlight=False)
    if "stance_evaluation" not in present:
        console.print("stance_evaluation has not been built by this version of the transforms; tables present: "
                      + ", ".join(sorted(present)), highlight=False)
    else:
        cursor = con.execute(
            "SELECT * FROM stance_evaluation ORDER BY is_configured DESC, classifier, scope <> 'all', scope")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        if not rows:
            console.print("stance_evaluation is empty: no labelled post is an own-organisation reference any more "
                          "(were the labels imported into another warehouse?)", highlight=False)
        table = Table(title="Stance classifiers against people's labels (* = configured; precision, recall and F1 "
                      "of critical)", header_style="bold", title_justify="left")
        headers = [("classifier", "classifier"), ("prediction", "prediction"), ("scope", "scope"), ("n", "n"),
                   ("accuracy", "accuracy"), ("precision_critical", "precision"), ("recall_critical", "recall"),
                   ("f1_critical", "F1"), ("macro_f1", "macro-F1")]
        for column, header in headers:
            table.add_column(header, justify="left" if column in ("classifier", "prediction", "scope") else "right")
        for row in rows:
            name = f"{row['classifier']}{' *' if row.get('is_configured') else ''}"
            table.add_row(Text(name), *(Text(_number(row.get(c))) for c, _ in headers[1:]))
        if rows:
            console.print(table)
            console.print("n: labelled references with a clear verdict (annotators who tie leave a post out); "
                          "a learning classifier is graded out of fold (cross-fitted)", highlight=False)
        configured = next((r for r in rows if r.get("is_configured") and r.get("scope") == "all"), None)
        if configured is not None:
            console.print(_confusion_table(str(configured["classifier"]), str(configured.get("confusion") or "{}")))
    if "label_agreement" in present:
        cursor = con.execute("SELECT * FROM label_agreement ORDER BY annotator_a = '*', annotator_a, annotator_b")
        names = [d[0] for d in cursor.description]
        agreement = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        if agreement:
            console.print(agreement_table(agreement))
        else:
            console.print("Agreement: no post has labels from two annotators yet (a second person labelling part "
                          "of the same sample shows how far people agree on the labels)", highlight=False)
