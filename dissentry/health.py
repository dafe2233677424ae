"""The truth at the end of a command: what failed, what matched nothing, what waits.

`dissentry run` (and import, collect, normalise, transform) ends with a short block built here
from the lake itself (real DuckDB over the Parquet files, never from what the command believes it
did), so the silent cases are said out loud:
- sources whose run failed or was partial, and why;
- listed members and official accounts that matched no post and no account, each by name, with
  the closest handle the data does hold (a typo in the config is the usual cause);
- groups with no active member (no member, listed or inferred, wrote a post);
- raw records that no normalise has covered yet (the tables leave them out);
- records quarantined, as one line per source with the three most frequent reasons.

`describe_os_error` turns a file-system error into one line naming the path and the problem.
"""

from __future__ import annotations

import difflib
import errno
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dissentry.config import Config, parse_account_ref
from dissentry.privacy import pseudonymiser_for
from dissentry.warehouse.catalog import connect, create_lake_views
from dissentry.warehouse.lake import Lake

MAX_ERRORS_SHOWN = 3  # per source: a folder of 500 bad files must not bury the rest of the block
CLOSEST_CUTOFF = 0.6  # similarity of the differing parts of two handles (see _similarity)
NORMALISE_HINT = "run `dissentry normalise` then `dissentry transform` (or `dissentry run`)"


@dataclass(frozen=True)
class SourceProblem:
    source: str
    platform: str
    status: str  # partial, failed, interrupted, never run
    errors: list[str]
    started_at: Any = None
    this_run: bool = True  # False: the last run of the source, seen by normalise or transform


@dataclass(frozen=True)
class Unmatched:
    group_id: str
    kind: str  # member, official account
    ref: str  # as written in the configuration
    closest: str | None  # 'platform:handle' of the nearest handle the data holds


@dataclass(frozen=True)
class QuarantineSummary:
    source: str
    count: int
    top: list[tuple[int, str]]  # (records, an example reason), most frequent first
    kinds: int  # how many kinds of reason in all


@dataclass
class Health:
    sources: list[SourceProblem] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)
    inactive_groups: list[str] = field(default_factory=list)
    raw_pending_records: int = 0
    raw_pending_files: int = 0
    quarantine: list[QuarantineSummary] = field(default_factory=list)
    checked_members: bool = False
    checked_groups: bool = False
    stage: str = "run"

    @property
    def source_failed(self) -> bool:
        """A source of this command failed or was partial: exit code 1."""
        return any(p.this_run for p in self.sources)

    @property
    def clean(self) -> bool:
        return not (self.sources or self.unmatched or self.inactive_groups or self.quarantine
                    or (self.raw_pending_records and self.stage in ("normalise", "transform", "run")))

    def lines(self) -> list[tuple[str, str]]:
        """(level, text) per line; level is error, warning or note. Plain text, never markup."""
        out: list[tuple[str, str]] = []
        for p in self.sources:
            when = "" if p.this_run else (f" (its last run, {p.started_at:%Y-%m-%d %H:%M} UTC)"
                                          if p.started_at is not None else "")
            shown = p.errors[:MAX_ERRORS_SHOWN]
            more = f" (+{len(p.errors) - len(shown)} more)" if len(p.errors) > len(shown) else ""
            why = ": " + "; ".join(shown) + more if shown else ""
            level = "error" if p.this_run else "warning"
            out.append((level, f"source {p.source} ({p.platform}) {p.status}{when}{why}"))
        for q in self.quarantine:
            reasons = "; ".join(f"{n:,}× {reason}" for n, reason in q.top)
            rest = f" (and {q.kinds - len(q.top)} other kinds)" if q.kinds > len(q.top) else ""
            out.append(("warning", f"source {q.source}: {_n(q.count, 'record')} quarantined: {reasons}{rest}"))
        out += _unmatched_lines(self.unmatched)
        for group_id in self.inactive_groups:
            out.append(("warning", f"group {group_id} has no active members: no member, listed or inferred, "
                                   "wrote a post (its figures are empty)"))
        if self.raw_pending_records or self.raw_pending_files:
            records = f"{_n(self.raw_pending_records, 'raw record')} ({_n(self.raw_pending_files, 'file')})"
            if self.stage in ("import", "collect"):
                out.append(("note", f"{records} wait for normalise: {NORMALISE_HINT}"))
            else:
                out.append(("warning", f"{records} not normalised yet, so the tables leave them out (members and "
                                       f"groups are checked once they are in): {NORMALISE_HINT}"))
        return out


MAX_NAMES_IN_LINE = 10


def _unmatched_lines(unmatched: list[Unmatched]) -> list[tuple[str, str]]:
    """A likely typo (a close handle exists) gets a line of its own; the other accounts of a group
    that matched nothing share one line, so a source that is missing whole stays readable."""
    out: list[tuple[str, str]] = []
    by_group: dict[str, list[Unmatched]] = {}
    for u in unmatched:
        if u.closest or sum(1 for v in unmatched if v.group_id == u.group_id and not v.closest) <= 2:
            hint = f"; closest handle in the data: {u.closest}" if u.closest else ""
            out.append(("warning", f"group {u.group_id}: {u.kind} {u.ref} matched no post or account{hint}"))
        else:
            by_group.setdefault(u.group_id, []).append(u)
    for group_id, rest in by_group.items():
        kinds = [_n(sum(1 for u in rest if u.kind == kind), kind) for kind in ("member", "official account")
                 if any(u.kind == kind for u in rest)]
        names = ", ".join(u.ref for u in rest[:MAX_NAMES_IN_LINE])
        more = f" (+{len(rest) - MAX_NAMES_IN_LINE} more)" if len(rest) > MAX_NAMES_IN_LINE else ""
        out.append(("warning", f"group {group_id}: {' and '.join(kinds)} matched no post or account: {names}{more}"))
    return out


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


# ---- the checks --------------------------------------------------------------------------------------
def check(config: Config, lake: Lake, *, stage: str, runs: list[dict[str, Any]] | None = None) -> Health:
    """The health of the warehouse after `stage` (run, import, collect, normalise or transform).

    `runs`: the collection_runs rows of this command; without them (normalise, transform) the last
    run of each configured source is looked at. Members are checked once normalise has run, groups
    once transform has (before, the tables they read are older than the data)."""
    health = Health(stage=stage)
    health.raw_pending_records, health.raw_pending_files = raw_not_normalised(lake)
    # members and groups are read from the normalised layer and the marts: with raw records
    # waiting, those are older than the data, and the pending line says what to run
    pending = bool(health.raw_pending_files)
    con = connect(lake=lake)
    try:
        create_lake_views(con, lake, ["posts", "accounts", "post_mentions", "quarantine", "collection_runs"])
        if runs is None:
            runs = _last_runs(con, config)
            health.sources = [_problem(r, this_run=False) for r in runs if r["status"] != "ok"]
            health.sources += [SourceProblem(s.name, s.platform, "never run", [], this_run=False)
                               for s in config.sources if s.name not in {r["source"] for r in runs}]
        else:
            health.sources = [_problem(r, this_run=True) for r in runs if r["status"] != "ok"]
        health.quarantine = _quarantine(con, runs)
        if stage in ("normalise", "transform", "run") and not pending:
            health.unmatched = _unmatched(con, config, lake)
            health.checked_members = True
        if stage in ("transform", "run") and not pending:
            health.inactive_groups = _inactive_groups(con, config, lake)
            health.checked_groups = True
    finally:
        con.close()
    return health


def _problem(row: dict[str, Any], *, this_run: bool) -> SourceProblem:
    errors = json.loads(row.get("errors") or "[]")
    return SourceProblem(row["source"], row["platform"], row["status"], errors, row.get("started_at"), this_run)


def _last_runs(con: Any, config: Config) -> list[dict[str, Any]]:
    """The final row of each configured source's latest run (a run writes 'running' first)."""
    cursor = con.execute(
        "SELECT * FROM collection_runs WHERE source IN (SELECT unnest(?::VARCHAR[])) "
        "QUALIFY row_number() OVER (PARTITION BY source ORDER BY started_at DESC, finished_at DESC NULLS LAST) = 1",
        [[s.name for s in config.sources]],
    )
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def _quarantine(con: Any, runs: list[dict[str, Any]]) -> list[QuarantineSummary]:
    """One summary per source: records quarantined by these runs, grouped by the kind of reason
    (numbers and quoted values aside: 'line 7' and 'line 9' are one kind), three kinds shown."""
    run_ids = [r["run_id"] for r in runs if r.get("records_quarantined")]
    if not run_ids:
        return []
    rows = con.execute(
        r"""
        WITH q AS (
            SELECT source, reason,
                   regexp_replace(regexp_replace(reason, '''[^'']*''|"[^"]*"', '…', 'g'), '[0-9]+', 'N', 'g') AS kind
            FROM quarantine WHERE run_id IN (SELECT unnest(?::VARCHAR[]))
        )
        SELECT source, kind, count(*) AS n, min(reason) AS example,
               sum(count(*)) OVER (PARTITION BY source) AS total,
               count(*) OVER (PARTITION BY source) AS kinds
        FROM q GROUP BY source, kind
        ORDER BY source, n DESC, kind
        """,
        [run_ids],
    ).fetchall()
    out: dict[str, QuarantineSummary] = {}
    for source, _kind, n, example, total, kinds in rows:
        summary = out.setdefault(source, QuarantineSummary(source, int(total), [], int(kinds)))
        if len(summary.top) < 3:
            summary.top.append((int(n), example))
    return list(out.values())


def _listed(config: Config, lake: Lake) -> list[dict[str, Any]]:
    """Every listed member and official account, with the handle the normalised layer would hold."""
    pseudonymiser = pseudonymiser_for(config)
    erased = set(lake.erased_account_keys())
    rows: list[dict[str, Any]] = []
    for group in config.groups:
        refs = [("official account", ref) for ref in group.accounts]
        refs += [("member", ref) for _, person_refs in group.people() for ref in person_refs]
        for kind, ref in refs:
            platform, handle = parse_account_ref(ref)
            if hashlib.sha256(f"{platform}:{handle}".encode()).hexdigest() in erased:
                continue  # erased on purpose: the transform already says the config still lists it
            if pseudonymiser is not None:
                handle = pseudonymiser.handle(handle) or handle
            rows.append({"group_id": group.id, "kind": kind, "ref": ref, "platform": platform, "handle": handle})
    return rows


def _unmatched(con: Any, config: Config, lake: Lake) -> list[Unmatched]:
    """Listed accounts that resolve (as int_account_handles resolves them) to no post and no account."""
    import pyarrow as pa

    listed = _listed(config, lake)
    if not listed:
        return []
    con.register("listed_refs", pa.Table.from_pylist(listed))
    con.execute(
        """
        CREATE TEMP TABLE handles AS
        SELECT DISTINCT platform, lower(ltrim(handle, '@')) AS handle, account_id FROM accounts
        WHERE handle IS NOT NULL AND handle <> ''
        UNION
        SELECT DISTINCT split_part(account_id, ':', 1), lower(ltrim(handle, '@')), account_id FROM post_mentions
        WHERE account_id IS NOT NULL AND handle IS NOT NULL AND handle <> ''
        """
    )
    rows = con.execute(
        """
        WITH resolved AS (
            SELECT l.group_id, l.kind, l.ref, l.platform, l.handle,
                   coalesce(h.account_id, l.platform || ':' || l.handle) AS account_id
            FROM listed_refs AS l LEFT JOIN handles AS h ON h.platform = l.platform AND h.handle = l.handle
        ),
        seen AS (
            SELECT DISTINCT author_id AS account_id FROM posts
            UNION SELECT DISTINCT account_id FROM accounts
        )
        SELECT group_id, kind, ref, platform, handle FROM resolved
        GROUP BY ALL
        HAVING NOT bool_or(account_id IN (SELECT account_id FROM seen))
        ORDER BY group_id, kind DESC, ref
        """
    ).fetchall()
    if not rows:
        return []
    suggest = pseudonymiser_for(config) is None  # a pseudonym is no handle anyone could recognise
    candidates: dict[str, list[str]] = {}
    if suggest:
        for platform in {r[3] for r in rows}:
            candidates[platform] = [h for (h,) in con.execute(
                "SELECT DISTINCT handle FROM handles WHERE platform = ? ORDER BY handle", [platform]).fetchall()]
    out: list[Unmatched] = []
    for group_id, kind, ref, platform, handle in rows:
        closest = closest_handle(handle, candidates.get(platform, [])) if suggest else None
        out.append(Unmatched(group_id, kind, ref, f"{platform}:{closest}" if closest else None))
    return out


def _similarity(a: str, b: str) -> float:
    """difflib's ratio of the parts that differ: a shared '@social.example' or '.bsky.social' says
    nothing about two handles being one typed twice, so the common ending is set aside first."""
    common = 0
    while common < min(len(a), len(b)) and a[-1 - common] == b[-1 - common]:
        common += 1
    head_a, head_b = a[: len(a) - common], b[: len(b) - common]
    if not head_a or not head_b:  # one is the other with a prefix: compare them whole
        return difflib.SequenceMatcher(None, a, b).ratio()
    return difflib.SequenceMatcher(None, head_a, head_b).ratio()


def closest_handle(handle: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like `handle` (at least CLOSEST_CUTOFF similar), or None."""
    best, best_score = None, CLOSEST_CUTOFF
    for candidate in candidates:
        if candidate == handle:
            continue
        # cheap bounds first, as difflib.get_close_matches does: most candidates stop here
        if difflib.SequenceMatcher(None, handle, candidate).real_quick_ratio() < 0.3:
            continue
        score = _similarity(handle, candidate)
        if score > best_score or (score == best_score and best is not None and candidate < best):
            best, best_score = candidate, score
    return best


def _inactive_groups(con: Any, config: Config, lake: Lake) -> list[str]:
    """Configured groups none of whose members (the group_members mart: listed and inferred) posted."""
    mart = lake.mart_path("group_members")
    if not lake.exists(mart):
        return [g.id for g in config.groups]
    active = {g for (g,) in con.execute(
        "SELECT DISTINCT m.group_id FROM read_parquet(?) AS m "
        "WHERE m.account_id IN (SELECT DISTINCT author_id FROM posts)", [mart]).fetchall()}
    return [g.id for g in config.groups if g.id not in active]


def raw_not_normalised(lake: Lake) -> tuple[int, int]:
    """(records, files) of raw batches the published normalised generation does not cover."""
    manifest = lake.normalised_manifest()
    covered = {rel for entry in (manifest or {}).get("platforms", {}).values() for rel in entry.get("raw_files", [])}
    pending = [f for f in lake.raw_files() if lake.relative(f) not in covered]
    return sum(lake.num_rows(f) for f in pending), len(pending)


# ---- file-system errors as one line -----------------------------------------------------------------
_PROBLEMS = {
    errno.EACCES: "permission denied (check the folder's owner and mode, or set warehouse_dir to a folder you "
                  "can write)",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "the file system is read-only (mount it read-write, or set warehouse_dir elsewhere)",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EISDIR: "is a folder, not a file",
}


def describe_os_error(exc: OSError) -> str | None:
    """One line naming the path and the problem, for the errors a user can fix; None for others."""
    path = exc.filename
    if path is None or exc.errno is None:
        return None
    if exc.errno == errno.ENOTDIR:
        # the path runs through a file: name that file, not the folder that could not be made
        for parent in [Path(path), *Path(path).parents]:
            if parent.exists() and not parent.is_dir():
                return f"{parent} is a file, not a folder (warehouse_dir must name a folder)"
        return f"{path}: a part of the path is a file, not a folder"
    if exc.errno == errno.ENOENT:
        return f"{path}: no such file or folder"
    problem = _PROBLEMS.get(exc.errno)
    return f"{path}: {problem}" if problem else None
