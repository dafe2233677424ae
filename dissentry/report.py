"""Rich tables for the terminal: the headline marts, collection runs, query results."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dissentry.config import Config
from dissentry.warehouse.sql import quote_identifier

# (column, header) pairs; a proportion column `x` is shown with its Wilson bounds `x_lo`/`x_hi`
DISSENT_COLUMNS = [
    ("group_id", "group"),
    ("members_active", "members active"),
    ("posts", "posts"),
    ("org_reference_posts", "own-org refs"),
    ("critical_posts", "critical"),
    ("dissent_rate", "dissent rate (raw)"),
    ("labelled_refs", "labelled"),
    ("dissent_rate_corrected", "dissent rate (corrected)"),
    ("dissent_diff_vs_others_corrected", "corrected − others"),
    ("dissenter_share", "dissenter share"),
    ("rate_ratio_vs_others", "ratio vs others"),
    ("rate_ratio_p_value", "p (Fisher)"),
]
ECHO_COLUMNS = [
    ("group_id", "group"),
    ("own_source_share", "own-source links"),
    ("official_repost_share", "reposts of officials"),
    ("uncritical_share_rate", "uncritical shares"),
    ("in_group_share", "in-group ties"),
    ("ei_index", "E-I index"),
    ("identity_marker_share", "identity markers"),
    ("jargon_per_1k_tokens", "jargon /1k tokens"),
    ("domain_entropy_norm", "domain entropy (norm.)"),
]


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if value != 0 and abs(value) < 0.001:
            return f"{value:.1e}"
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def rows_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> Table:
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        # data is never markup: '[bold]' in a post prints as written
        table.add_row(*(Text(_fmt(v)) for v in row))
    return table


def _headline_table(con: Any, mart: str, spec: list[tuple[str, str]], title: str) -> Table:
    available = {r[0] for r in con.execute(f"DESCRIBE {quote_identifier(mart)}").fetchall()}
    cursor = con.execute(f"SELECT * FROM {quote_identifier(mart)} WHERE period = 'all' ORDER BY group_id")
    names = [d[0] for d in cursor.description]
    table = Table(title=title, header_style="bold", title_justify="left")
    shown = [(c, h) for c, h in spec if c in available]
    for _, header in shown:
        if header == "group":
            table.add_column(header, justify="left", no_wrap=True)
        else:
            table.add_column(header, justify="right")
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        cells = []
        for column, _ in shown:
            text = _fmt(row.get(column))
            lo, hi = row.get(f"{column}_lo"), row.get(f"{column}_hi")
            if lo is not None and hi is not None:
                text += f"\n[dim]{lo:.3f}–{hi:.3f}[/dim]"
            cells.append(text)
        table.add_row(*cells)
    return table


def print_headlines(config: Config, console: Console) -> None:
    from dissentry.pipeline import lake_for
    from dissentry.warehouse.catalog import connect

    lake = lake_for(config)
    db = lake.duckdb_path
    if not db.exists():
        console.print(f"[red]{db} does not exist yet: run `dissentry run` first[/red]")
        return
    con = connect(db, read_only=True, lake=lake)
    try:
        console.print(_headline_table(con, "dissent_frequency", DISSENT_COLUMNS,
                                      "Dissent frequency (members' posts about their own organisation, all periods)"))
        for line in validation_lines(con):
            console.print(line, highlight=False, soft_wrap=True)
        console.print(_headline_table(con, "echo_chamber", ECHO_COLUMNS, "Echo chamber (all periods)"))
        console.print("[dim]Second line of a cell: 95% interval (Wilson for raw shares; for the corrected rate "
                      "it includes the classifier's error). Per-month rows and every column: "
                      "dissentry sql \"SELECT * FROM dissent_frequency\"[/dim]")
    finally:
        con.close()


def _relation_exists(con: Any, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchone()[0])


def validation_lines(con: Any) -> list[str]:
    """Plain words on what the dissent rates rest on: the classifier, its evaluation, the labels."""
    if not _relation_exists(con, "reference_stance"):
        return []
    used = con.execute("SELECT DISTINCT classifier, classifier_version FROM reference_stance").fetchall()
    name = ", ".join(f"{n} ({v})" for n, v in used) or "none (no references yet)"
    lines = [f"Stance classifier: {escape(name)}"]
    evaluation = None
    if _relation_exists(con, "stance_evaluation"):
        evaluation = con.execute(
            "SELECT n, f1_critical, macro_f1, prediction FROM stance_evaluation WHERE is_configured AND scope = 'all'"
        ).fetchone()
    measures = dict(con.execute("SELECT group_id, measure FROM dissent_frequency WHERE period = 'all'").fetchall())
    if evaluation is None:
        lines.append(
            "[bold yellow]Unvalidated:[/bold yellow] no reference carries a person's label, so these dissent rates "
            "are the classifier's alone and their intervals leave out its error (they cover sampling error only). "
            "Validate them: dissentry labels sample --per-group 100 --seed 1 --out to_label.csv, label the file, "
            "dissentry labels import to_label.csv, dissentry evaluate (README: Validating the measure)."
        )
        return lines
    n, f1, macro, prediction = evaluation
    how = "cross-fitted, " if prediction == "cross_fitted" else ""
    lines.append(f"Evaluated on {n:,} labelled references ({how}docs/metrics.md): F1 of critical "
                 f"{_fmt(f1)}, macro-F1 {_fmt(macro)}. Details: dissentry evaluate")
    short = sorted(g for g, m in measures.items() if m in ("too_few_labels", "unvalidated"))
    if short:
        lines.append(
            f"[bold yellow]Too few labels[/bold yellow] for a corrected rate in {escape(', '.join(short))}: their raw "
            "rates are unvalidated and their intervals leave out the classifier's error; draw more with "
            "dissentry labels sample."
        )
    return lines


def runs_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Collection runs", header_style="bold", title_justify="left")
    for header in ("source", "platform", "mode", "status", "pages", "records", "new", "quarantined", "waits"):
        table.add_column(header, justify="left" if header in ("source", "platform", "mode", "status") else "right")
    for r in rows:
        colour = {"ok": "green", "partial": "yellow", "failed": "red"}.get(r["status"], "white")
        table.add_row(
            Text(r["source"]), Text(r["platform"]), Text(r["mode"]), Text(r["status"], style=colour),
            _fmt(r["pages"]), _fmt(r["records_seen"]), _fmt(r["records_new"]),
            _fmt(r["records_quarantined"]), _fmt(r["rate_limit_waits"]),
        )
    return table
