"""`dissentry report --html`: one self-contained HTML file; `--format png|svg`: the figures as files.

The page loads nothing: its style is in a <style> element, its figures are inline SVG (drawn by
dissentry.figures), it has no script and no web font (the reader's own sans-serif). It is built
from a Jinja2 template with autoescaping, so post text, handles, group names and file names are
data in the page, never markup: a post reading `<script>alert(1)</script>` shows as those words.

The warehouse is read through one read-only connection that is closed before anything is drawn
(dissentry.duckdb is published by rename, so an open reader never holds up a transform; closing
early keeps the report's snapshot one consistent generation). With `settings.pseudonymise` the
report shows only what the marts show: no post text, no handle, no quarantine reason.
"""

from __future__ import annotations

import html
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dissentry.config import Config
from dissentry.figures import (
    MAX_DRAWN_NODES,
    SQL_AGREEMENT,
    SQL_CLASSIFIERS,
    SQL_EXAMPLES,
    SQL_MEMBERS,
    SQL_QUARANTINE,
    SQL_QUARANTINE_BY_SOURCE,
    SQL_RATES,
    SQL_RUNS,
    Panel,
    ReportData,
    all_panels,
    coverage_gaps,
    load,
    pct,
)

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE = "report.html.j2"
METRICS_DOC = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"
FIGURE_FORMATS = ("svg", "png", "pdf")


class ReportError(RuntimeError):
    """The report cannot be made (no warehouse yet); the message says what to run."""


def default_html_path(config: Config) -> Path:
    """<local warehouse folder>/report/index.html (for a lake in object storage: local_dir)."""
    return config.local_path / "report" / "index.html"


def dissentry_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dissentry")
    except PackageNotFoundError:  # a source checkout that was never installed
        import dissentry

        return dissentry.__version__


# ---- reading -------------------------------------------------------------------------------------------
def read_warehouse(config: Config, *, max_nodes: int = MAX_DRAWN_NODES) -> ReportData:
    """Every row the report needs, through one short-lived read-only connection."""
    from dissentry.pipeline import lake_for
    from dissentry.warehouse.catalog import connect

    lake = lake_for(config)
    db = lake.duckdb_path
    if not db.exists():
        raise ReportError(f"{db} does not exist yet: run `dissentry run` (or `dissentry transform`) first")
    con = connect(db, read_only=True, lake=lake)
    try:
        return load(con, [g.id for g in config.groups], pseudonymised=config.settings.pseudonymise,
                    max_nodes=max_nodes)
    finally:
        con.close()


# ---- words -----------------------------------------------------------------------------------------------
def _p(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    if value < 0.001:
        return "p < 0.001"
    return f"p = {value:.3f}"


def group_sentence(row: dict[str, Any], n_groups: int) -> str:
    """One plain sentence per group from the numbers, with the interval."""
    group = row["group_id"]
    refs, critical = row["org_reference_posts"], row["critical_posts"]
    if not refs:
        return (f"{group}: no member post referenced its own organisation "
                f"({row['posts']:,} member posts), so there is no dissent rate.")
    noun = "reference" if refs == 1 else "references"
    if row["measure"] == "corrected" and row.get("dissent_rate_corrected") is not None:
        text = (f"{group}: an estimated {pct(row['dissent_rate_corrected'])} of {refs:,} {noun} to its own "
                f"organisation are critical (95% interval {pct(row['dissent_rate_corrected_lo'])}–"
                f"{pct(row['dissent_rate_corrected_hi'])}, corrected with {row['labelled_refs']:,} people's "
                f"labels; the classifier alone called {critical:,} critical)")
        others = row.get("others_dissent_rate_corrected")
        if n_groups > 1 and others is not None:
            text += f"; the other groups: {pct(others)}"
            diff = row.get("dissent_diff_vs_others_corrected")
            if diff is not None:
                text += (f" (difference {100 * diff:+.1f} points, 95% interval "
                         f"{100 * row['dissent_diff_vs_others_corrected_lo']:+.1f} to "
                         f"{100 * row['dissent_diff_vs_others_corrected_hi']:+.1f}, "
                         f"{_p(row.get('dissent_diff_p_value_corrected'))})")
        return text + "."
    text = (f"{group}: {critical:,} critical posts in {refs:,} {noun} to its own organisation "
            f"(95% interval {pct(row['dissent_rate_lo'])}–{pct(row['dissent_rate_hi'])}; unvalidated: the "
            f"classifier's labels, not checked against people's")
    if row["measure"] == "too_few_labels":
        text += f", {row['labelled_refs']:,} labels are too few to correct them"
    text += ")"
    others = row.get("others_dissent_rate")
    if n_groups > 1 and others is not None:
        text += f"; the other groups: {pct(others)}"
        ratio = row.get("rate_ratio_vs_others")
        if ratio is not None:
            text += f" (ratio {ratio:.2f}, Fisher {_p(row.get('rate_ratio_p_value'))})"
    return text + "."


# ---- the page --------------------------------------------------------------------------------------------
@dataclass
class Table:
    """A table of the page: headers and rows of already-formatted strings (escaped by the template)."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    sql: str = ""
    empty: str = "none"
    note: str = ""


@dataclass
class Section:
    key: str
    title: str
    intro: str = ""
    panels: list[Panel] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _fmt(value: Any, kind: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kind == "pct":
        return pct(value)
    if kind == "p":
        return _p(value).removeprefix("p = ").replace("p < ", "< ")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def _answer_section(data: ReportData, panels: dict[str, Panel]) -> Section:
    groups = data.groups()
    rows = {r["group_id"]: r for r in data.rates}
    section = Section("answer", "The answer: how often members criticise their own organisation")
    section.panels.append(panels["answer_rates"])
    section.sentences = [group_sentence(rows[g], len(groups)) for g in groups]
    comparison = Table(
        "Compared with the other groups (whole range)",
        ["group", "rate", "measure", "the others' rate", "ratio", "p (Fisher)", "corrected − others",
         "95% interval", "p"],
        [],
        sql=SQL_RATES,
    )
    if len(groups) < 2:
        comparison.empty = "Not enough data: one group only, so there is no other group to compare it with."
    else:
        for g in groups:
            r = rows[g]
            corrected = r["measure"] == "corrected" and r.get("dissent_rate_corrected") is not None
            diff = r.get("dissent_diff_vs_others_corrected")
            comparison.rows.append([
                g,
                pct(r["dissent_rate_corrected"] if corrected else r["dissent_rate"]),
                "corrected" if corrected else ("no references" if not r["org_reference_posts"] else "unvalidated"),
                pct(r.get("others_dissent_rate_corrected") if corrected else r.get("others_dissent_rate")),
                _fmt(r.get("rate_ratio_vs_others")),
                _fmt(r.get("rate_ratio_p_value"), "p"),
                "–" if diff is None else f"{100 * diff:+.1f} pts",
                "–" if diff is None else (f"{100 * r['dissent_diff_vs_others_corrected_lo']:+.1f} to "
                                          f"{100 * r['dissent_diff_vs_others_corrected_hi']:+.1f}"),
                _fmt(r.get("dissent_diff_p_value_corrected"), "p"),
            ])
        comparison.note = ("Ratio and Fisher p compare the raw classifier rates; the corrected difference, its "
                           "interval and p are given where every group has enough labels.")
    section.tables.append(comparison)
    unvalidated = [g for g in groups if rows[g]["measure"] in ("unvalidated", "too_few_labels")]
    if unvalidated:
        section.warnings.append(
            f"Unvalidated: {', '.join(unvalidated)}. These rates are the stance classifier's alone; their intervals "
            "cover sampling error, not the classifier's error. Validate with `dissentry labels sample`, label the "
            "file, `dissentry labels import` (README: Validating the measure).")
    return section


def _coverage_section(data: ReportData, panels: dict[str, Panel], config: Config) -> Section:
    section = Section("coverage", "Coverage: what was collected, and what was not")
    section.panels.append(panels["coverage"])
    gaps = coverage_gaps(data.coverage)
    section.tables.append(Table(
        "Days without posts, per source",
        ["source", "platform", "first day", "last day", "days", "days without posts", "longest gap (days)", "from"],
        [[g["source"], g["platform"], str(g["first_day"]), str(g["last_day"]), _fmt(g["days"]),
          _fmt(g["days_without_posts"]), _fmt(g["longest_gap_days"]),
          str(g["longest_gap_from"]) if g["longest_gap_from"] else "–"] for g in gaps],
        empty="Not enough data: no posts.",
    ))
    section.tables.append(Table(
        "Collection and import runs",
        ["source", "platform", "mode", "runs", "ok", "partial", "failed", "caps hit", "pages", "records",
         "new", "quarantined", "rate-limit waits", "waited (s)", "first run", "last run"],
        [[r["source"], r["platform"], r["mode"], _fmt(r["runs"]), _fmt(r["ok"]), _fmt(r["partial"]),
          _fmt(r["failed"]), _fmt(r["caps_hit"]), _fmt(r["pages"]), _fmt(r["records_seen"]),
          _fmt(r["records_new"]), _fmt(r["quarantined"]), _fmt(r["rate_limit_waits"]),
          _fmt(r["rate_limit_wait_seconds"]), _fmt(r["first_run"]), _fmt(r["last_run"])] for r in data.runs],
        sql=SQL_RUNS,
        empty="No run recorded yet.",
    ))
    if any(r["caps_hit"] for r in data.runs):
        capped = sorted({r["source"] for r in data.runs if r["caps_hit"]})
        section.warnings.append(f"A page cap or the platform stopped runs of {', '.join(capped)} short: older "
                                "data was not collected (raise max_pages, or collect again).")
    if any((r["failed"] or 0) for r in data.runs):
        section.warnings.append("Some runs failed: see collection_runs.errors for what was not collected.")
    if config.settings.pseudonymise:
        section.tables.append(Table(
            "Quarantined records, per source", ["source", "platform", "records"],
            [[q["source"], q["platform"], _fmt(q["records"])] for q in data.quarantine],
            sql=SQL_QUARANTINE_BY_SOURCE, empty="Nothing quarantined.",
            note="Reasons are not shown: pseudonymise = true, and a reason can quote the record it refuses.",
        ))
    else:
        section.tables.append(Table(
            "Quarantined records, by reason", ["source", "platform", "reason", "records"],
            [[q["source"], q["platform"], q["reason"], _fmt(q["records"])] for q in data.quarantine],
            sql=SQL_QUARANTINE, empty="Nothing quarantined.",
        ))
    return section


def _classifier_section(data: ReportData, panels: dict[str, Panel], config: Config) -> Section:
    section = Section("classifier", "The classifier: who labelled the references, and how well")
    section.tables.append(Table(
        "Classifier that labelled the references",
        ["classifier", "version", "prediction", "references", "with a person's label", "in a random draw"],
        [[c["classifier"], c["classifier_version"], c["prediction"], _fmt(c["references_labelled"]),
          _fmt(c["with_gold_label"]), _fmt(c["in_draw"])] for c in data.classifiers],
        sql=SQL_CLASSIFIERS, empty="No reference yet.",
    ))
    configured = [r for r in data.evaluation if r["is_configured"] and r["scope"] == "all"]
    if not configured:
        section.warnings.append(
            "Unvalidated: no reference carries a person's label, so the dissent rates are the classifier's alone and "
            "their intervals leave out its error. Validate it on a random sample of your own data before you "
            "publish a rate.")
    section.panels.append(panels["classifier_confusion"])
    section.tables.append(Table(
        "Evaluation on the labelled references (stance_evaluation)",
        ["classifier", "configured", "prediction", "scope", "n", "accuracy", "precision (critical)",
         "recall (critical)", "F1 (critical)", "macro-F1"],
        [[r["classifier"], _fmt(r["is_configured"]), r["prediction"], r["scope"], _fmt(r["n"]),
          _fmt(r["accuracy"]), _fmt(r["precision_critical"]), _fmt(r["recall_critical"]), _fmt(r["f1_critical"]),
          _fmt(r["macro_f1"])] for r in data.evaluation],
        sql="SELECT * FROM stance_evaluation ORDER BY is_configured DESC, classifier, scope",
        empty="Not enough data: no labels, no evaluation.",
    ))
    section.tables.append(Table(
        "Agreement between annotators (label_agreement)",
        ["annotator", "annotator", "n", "agreement", "Cohen's κ", "Krippendorff's α"],
        [[a["annotator_a"], a["annotator_b"], _fmt(a["n"]), _fmt(a["percent_agreement"], "pct"),
          _fmt(a["cohen_kappa"]), _fmt(a["krippendorff_alpha"])] for a in data.agreement],
        sql=SQL_AGREEMENT, empty="No post was labelled by two annotators.",
    ))
    if config.settings.pseudonymise:
        section.tables.append(Table("Examples", [], [], empty="Not shown: pseudonymise = true (the marts carry no "
                                    "post text and no handle)."))
    else:
        section.tables.append(Table(
            "Examples of references and their labels (two per group and label, picked by hash of the post id)",
            ["group", "classifier", "person", "author", "posted", "text"],
            [[e["group_id"], e["stance"], e["gold_label"] or "–", str(e["author"]), _fmt(e["created_at"]),
              (e["text"] or "")[:400]] for e in data.examples],
            sql=SQL_EXAMPLES, empty="No reference yet.",
        ))
    return section


def _config_tables(config: Config, data: ReportData) -> list[Table]:
    members: dict[str, dict[str, int]] = defaultdict(dict)
    for m in data.members:
        members[m["group_id"]][m["evidence"]] = m["people"]
    groups = Table(
        "Groups",
        ["id", "name", "aliases", "leaders", "domains", "official accounts", "listed people", "members found",
         "by evidence"],
        [],
        sql=SQL_MEMBERS,
        note="Member handles are not listed: the report names no person who is not a public office.",
    )
    for g in config.groups:
        found = members.get(g.id, {})
        groups.rows.append([
            g.id, g.name, ", ".join(g.aliases) or "–", ", ".join(g.leaders) or "–", ", ".join(g.domains) or "–",
            _fmt(len(g.accounts)), _fmt(len(g.people())), _fmt(sum(found.values())),
            ", ".join(f"{k}: {v:,}" for k, v in sorted(found.items())) or "–",
        ])
    sources = Table("Sources", ["name", "platform", "kind", "instance", "what", "schedule", "max pages"], [])
    for s in config.sources:
        what = []
        if s.accounts:
            what.append(f"{len(s.accounts)} accounts")
        if s.hashtags:
            what.append(f"{len(s.hashtags)} hashtags")
        if s.query:
            what.append("a search query")
        if s.files:
            what.append(f"{len(s.files)} file pattern{'s' if len(s.files) != 1 else ''}")
        sources.rows.append([s.name, s.platform, "import" if s.is_import else "API", s.instance or "–",
                             ", ".join(what) or "–", "–" if s.is_import else s.schedule,
                             "–" if s.is_import else _fmt(config.collection_for(s).max_pages)])
    st = config.settings
    settings = Table("Settings", ["setting", "value"], [
        ["period", st.period],
        ["pseudonymise", _fmt(st.pseudonymise)],
        ["stance classifier", st.stance.classifier],
        ["membership from bio markers", _fmt(st.membership.infer_from_bio)],
        ["membership from amplification", f"{_fmt(st.membership.infer_from_amplification)} "
                                          f"(at least {st.membership.amplification_min_reposts} reposts)"],
        ["raw retention (days)", _fmt(st.raw_retention_days)],
    ])
    return [groups, sources, settings]


def metrics_html() -> str:
    """docs/metrics.md as HTML (markdown-it, raw HTML in the text disabled), or as preformatted text."""
    if not METRICS_DOC.exists():
        return "<p>docs/metrics.md is not part of this installation: see the dissentry repository.</p>"
    text = METRICS_DOC.read_text(encoding="utf-8")
    try:
        from markdown_it import MarkdownIt
    except ImportError:  # markdown-it-py comes with rich; a plain <pre> still reads
        return f"<pre>{html.escape(text)}</pre>"
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


@dataclass
class Report:
    title: str
    generated_at: str
    version: str
    warehouse: str
    pseudonymised: bool
    sections: list[Section]
    method: list[Table]
    metrics: str
    missing: list[str]
    panels: list[Panel]
    seconds: dict[str, float] = field(default_factory=dict)


def build_report(config: Config, data: ReportData | None = None) -> Report:
    started = time.perf_counter()
    data = data if data is not None else read_warehouse(config)
    read = time.perf_counter()
    panels = all_panels(data)
    by_key = {p.key: p for p in panels}
    sections = [
        _answer_section(data, by_key),
        Section("time", "Over time", panels=[by_key["timeline"]]),
        Section("echo", "Echo-chamber profile", panels=[by_key["echo_profile"]]),
        Section("network", "The network", panels=[by_key["network_mixing"], by_key["network_graph"],
                                                   by_key["network_stats"]]),
        _coverage_section(data, by_key, config),
        _classifier_section(data, by_key, config),
    ]
    network = sections[3]
    network.tables.append(Table(
        "Modularity and assortativity per kind (whole range)",
        ["kind", "accounts", "ties", "groups", "in-group ties", "in-group share", "modularity", "assortativity"],
        [[r["interaction_kind"], _fmt(r["nodes"]), _fmt(r["edges"]), _fmt(r["groups"]), _fmt(r["in_group_edges"]),
          _fmt(r["in_group_edge_share"], "pct"), _fmt(r["modularity"]), _fmt(r["assortativity"])]
         for r in data.network_stats if any(k["edges"] for k in data.network_stats)],
        sql=by_key["network_stats"].sql, empty="Not enough data: no network.",
    ))
    report = Report(
        title="dissentry report",
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        version=dissentry_version(),
        # as the configuration writes it: a report is shared, and an absolute path names the machine's user
        warehouse=config.warehouse_dir,
        pseudonymised=config.settings.pseudonymise,
        sections=sections,
        method=_config_tables(config, data),
        metrics=metrics_html(),
        missing=data.missing,
        panels=panels,
    )
    report.seconds = {"read": read - started, "draw": time.perf_counter() - read}
    return report


def render_html(report: Report) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from markupsafe import Markup

    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # the only markup let through unescaped: our own SVG drawings (matplotlib escapes the text in
    # them) and docs/metrics.md rendered with raw HTML disabled
    svgs = {p.key: Markup(p.svg_inline()) for p in report.panels if p.figure is not None}
    return env.get_template(TEMPLATE).render(report=report, svgs=svgs, metrics=Markup(report.metrics))


def write_html(config: Config, path: Path | None = None, *, data: ReportData | None = None) -> tuple[Path, Report]:
    """Write the report (atomically: a reader never sees half a page); return its path."""
    target = (path or default_html_path(config)).absolute()
    report = build_report(config, data)
    started = time.perf_counter()
    page = render_html(report)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(page, encoding="utf-8")
    temporary.replace(target)
    report.seconds["render"] = time.perf_counter() - started
    return target, report


def write_figures(config: Config, out_dir: Path, fmt: str) -> tuple[list[Path], list[Panel]]:
    """The report's figures as image files (`<key>.<fmt>`); also the panels skipped for want of data."""
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"unknown figure format {fmt!r}: use {', '.join(FIGURE_FORMATS)}")
    panels = all_panels(read_warehouse(config))
    out_dir.mkdir(parents=True, exist_ok=True)
    written, skipped = [], []
    for panel in panels:
        if panel.figure is None:
            skipped.append(panel)
            continue
        path = out_dir / f"{panel.key}.{fmt}"
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_bytes(panel.render(fmt))
        temporary.replace(path)
        written.append(path)
    return written, skipped
