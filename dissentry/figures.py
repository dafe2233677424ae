"""The report's figures: each one a query on the warehouse and a matplotlib drawing of its rows.

Why matplotlib: it renders offline with nothing but its own wheel (fonts included), it writes SVG,
PNG and PDF from one drawing (the HTML inlines the SVG; `dissentry report --format png|svg` writes
the same figures as files for a paper), it draws the intervals this project is about (error bars,
bands) without a JavaScript runtime in the page, and it has been maintained for twenty years.
Vega-Lite would need its JavaScript inlined into the page (or the vl-convert binary) and a browser
runtime for every figure. Only the object-oriented API is used (`matplotlib.figure.Figure`, never
pyplot), so no GUI backend is chosen and a notebook's own backend is left alone.

Every figure is a `Panel`: its title, the SQL that reproduces its data (shown in the report), the
drawing, and the number of data marks it drew (the browser test counts them in the page). A
figure without the data it needs is a panel with a `not_enough` reason instead of an empty chart.
Marks carry SVG ids `<key>-mark-<n>`; nodes of the network drawing are `<key>-nodes-<n>` groups.
"""

from __future__ import annotations

import io
import json
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import duckdb
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

# the network drawing keeps at most this many accounts (the ones with most ties): a drawing of
# thousands of nodes is a hairball and its layout takes minutes
MAX_DRAWN_NODES = 300
# and at most this many lines between them: 300 hubs can share 50,000 ties, which drew a 9 MiB SVG
# in 3 s that shows a grey disc; the layout still uses every tie
MAX_DRAWN_TIES = 3000
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]
UNVALIDATED = "unvalidated"
Z95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval


def plain(text: Any) -> str:
    """Text for matplotlib as written: a '$' in a group name or handle must not start mathtext."""
    return str(text).replace("\\", "\\\\").replace("$", r"\$")


def pct(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{100 * value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


# ---- the queries (each shown in the report beside its figure) --------------------------------------
SQL_RATES = """\
SELECT group_id, measure, org_reference_posts, critical_posts, labelled_refs,
       dissent_rate, dissent_rate_lo, dissent_rate_hi,
       dissent_rate_corrected, dissent_rate_corrected_lo, dissent_rate_corrected_hi,
       others_org_reference_posts, others_critical_posts, others_dissent_rate, others_dissent_rate_corrected,
       rate_ratio_vs_others, rate_ratio_p_value,
       dissent_diff_vs_others_corrected, dissent_diff_vs_others_corrected_lo,
       dissent_diff_vs_others_corrected_hi, dissent_diff_p_value_corrected,
       members_active, posts, dissenters
FROM dissent_frequency
WHERE period = 'all'
ORDER BY group_id"""

SQL_TIMELINE = """\
SELECT group_id, period, period_start, measure, posts, org_reference_posts, critical_posts,
       dissent_rate, dissent_rate_lo, dissent_rate_hi,
       dissent_rate_corrected, dissent_rate_corrected_lo, dissent_rate_corrected_hi
FROM dissent_frequency
WHERE period <> 'all'
ORDER BY period_start, group_id"""

ECHO_METRICS: list[tuple[str, str, str]] = [
    # (column, title, how its interval is had)
    ("own_source_share", "own-source link share", "wilson"),
    ("official_repost_share", "official-repost share", "wilson"),
    ("uncritical_share_rate", "uncritical share of own shares", "wilson"),
    ("in_group_share", "in-group tie share", "wilson"),
    ("ei_index", "E-I index (−1 closed … +1 open)", "ei"),
    ("identity_marker_share", "identity-marker share", "wilson"),
    ("jargon_per_1k_tokens", "jargon per 1,000 tokens", "poisson"),
    ("boilerplate_share", "boilerplate share", "wilson"),
]

SQL_ECHO = """\
SELECT group_id,
       own_source_share, own_source_share_lo, own_source_share_hi, links,
       official_repost_share, official_repost_share_lo, official_repost_share_hi, reposts,
       uncritical_share_rate, uncritical_share_rate_lo, uncritical_share_rate_hi, own_shares,
       in_group_share, in_group_share_lo, in_group_share_hi, in_group_ties, out_group_ties,
       ei_index,
       identity_marker_share, identity_marker_share_lo, identity_marker_share_hi, members_active,
       jargon_per_1k_tokens, jargon_occurrences, tokens,
       boilerplate_share, boilerplate_share_lo, boilerplate_share_hi, text_posts
FROM echo_chamber
WHERE period = 'all'
ORDER BY group_id"""

# the mixing matrix: the ties network_mixing counts for kind 'all' over the whole range (distinct
# directed account pairs between accounts of one known group, self-loops excluded)
SQL_MIXING = """\
WITH edges AS (
    SELECT DISTINCT i.source_id, i.target_id, s.group_id AS source_group, t.group_id AS target_group
    FROM int_interactions AS i
    JOIN int_node_groups AS s ON s.account_id = i.source_id
    JOIN int_node_groups AS t ON t.account_id = i.target_id
)
SELECT source_group, target_group, count(*) AS ties
FROM edges
GROUP BY source_group, target_group
ORDER BY source_group, target_group"""

SQL_NETWORK_NODES = """\
WITH edges AS (
    SELECT DISTINCT i.source_id, i.target_id
    FROM int_interactions AS i
    JOIN int_node_groups AS s ON s.account_id = i.source_id
    JOIN int_node_groups AS t ON t.account_id = i.target_id
),
degree AS (
    SELECT node, count(*) AS ties
    FROM (SELECT source_id AS node FROM edges UNION ALL SELECT target_id FROM edges)
    GROUP BY node
)
SELECT d.node AS account_id, g.group_id, d.ties, count(*) OVER () AS all_nodes
FROM degree AS d
JOIN int_node_groups AS g ON g.account_id = d.node
ORDER BY d.ties DESC, d.node
LIMIT {limit}  -- the accounts with most ties; ties broken by id, so the same every time"""

# the ties among the drawn accounts, as the page shows the query (it reproduces the figure)
SQL_NETWORK_EDGES = """\
WITH drawn AS (
{nodes}
)
SELECT DISTINCT i.source_id, i.target_id
FROM int_interactions AS i
JOIN drawn AS s ON s.account_id = i.source_id
JOIN drawn AS t ON t.account_id = i.target_id
ORDER BY i.source_id, i.target_id"""

# the same ties, as the report runs it: the drawn ids are bound, so the degree ranking is not
# computed twice and a large network's millions of ties never cross into Python (on 9.4M ties:
# 0.2-0.3 s, where streaming them all to filter in Python took 6-17 s, the query above 4.4 s)
SQL_NETWORK_EDGES_AMONG = """\
SELECT DISTINCT source_id, target_id
FROM int_interactions
WHERE source_id IN (SELECT unnest($drawn)) AND target_id IN (SELECT unnest($drawn))
ORDER BY source_id, target_id"""

SQL_NETWORK_STATS = """\
SELECT interaction_kind, nodes, edges, groups, in_group_edges, in_group_edge_share, modularity, assortativity
FROM network_mixing
WHERE period = 'all'
ORDER BY CASE interaction_kind WHEN 'all' THEN 0 WHEN 'reply' THEN 1 WHEN 'repost' THEN 2
                               WHEN 'quote' THEN 3 ELSE 4 END"""

SQL_COVERAGE = """\
SELECT source, platform, CAST(created_at AS DATE) AS day, count(DISTINCT post_id) AS posts
FROM posts
GROUP BY source, platform, day
ORDER BY source, day"""

SQL_RUNS = """\
SELECT source, platform, mode, count(*) AS runs,
       count(*) FILTER (WHERE status = 'ok') AS ok,
       count(*) FILTER (WHERE status = 'partial') AS partial,
       count(*) FILTER (WHERE status NOT IN ('ok', 'partial')) AS failed,
       count(*) FILTER (WHERE cap_hit) AS caps_hit,
       sum(pages) AS pages, sum(records_seen) AS records_seen, sum(records_new) AS records_new,
       sum(records_quarantined) AS quarantined,
       sum(rate_limit_waits) AS rate_limit_waits, sum(rate_limit_wait_seconds) AS rate_limit_wait_seconds,
       min(started_at) AS first_run, max(finished_at) AS last_run
FROM collection_runs
GROUP BY source, platform, mode
ORDER BY source, mode"""

SQL_QUARANTINE = """\
SELECT source, platform, reason, count(*) AS records
FROM quarantine
GROUP BY source, platform, reason
ORDER BY records DESC, source, reason
LIMIT 50"""

SQL_QUARANTINE_BY_SOURCE = """\
SELECT source, platform, count(*) AS records
FROM quarantine
GROUP BY source, platform
ORDER BY records DESC, source"""

SQL_EVALUATION = """\
SELECT classifier, classifier_version, is_configured, prediction, scope, n, accuracy,
       precision_critical, recall_critical, f1_critical, macro_f1, confusion
FROM stance_evaluation
ORDER BY is_configured DESC, classifier, scope = 'all' DESC, scope"""

SQL_CLASSIFIERS = """\
SELECT classifier, classifier_version, prediction, count(*) AS references_labelled,
       count(*) FILTER (WHERE gold_label IS NOT NULL) AS with_gold_label,
       count(*) FILTER (WHERE in_draw) AS in_draw
FROM reference_stance
GROUP BY classifier, classifier_version, prediction
ORDER BY classifier, prediction"""

SQL_AGREEMENT = """\
SELECT annotator_a, annotator_b, n, percent_agreement, cohen_kappa, krippendorff_alpha
FROM label_agreement
ORDER BY annotator_a = '*' DESC, annotator_a, annotator_b"""

SQL_MEMBERS = """\
SELECT group_id, evidence, count(DISTINCT person_id) AS people, count(*) AS accounts
FROM group_members
GROUP BY group_id, evidence
ORDER BY group_id, evidence"""

# examples of references and their labels, for a reader to judge the classifier; never shown
# when the configuration pseudonymises (the marts then carry no text and no handle)
SQL_EXAMPLES = """\
SELECT r.group_id, s.stance, s.gold_label, p.text, coalesce(a.handle, r.author_id) AS author, r.created_at
FROM reference_stance AS s
JOIN org_references AS r ON r.post_id = s.post_id AND r.group_id = s.group_id
JOIN stg_posts AS p ON p.post_id = s.post_id
LEFT JOIN (SELECT account_id, min(handle) AS handle FROM stg_accounts GROUP BY account_id) AS a
    ON a.account_id = r.author_id
QUALIFY row_number() OVER (PARTITION BY r.group_id, s.stance ORDER BY md5(s.post_id)) <= 2
ORDER BY r.group_id, s.stance, md5(s.post_id)"""


# ---- the data, read once through one short-lived connection -------------------------------------
@dataclass
class ReportData:
    """Everything the report shows, as plain rows; the connection is closed before drawing."""

    group_order: list[str]
    max_nodes: int = MAX_DRAWN_NODES
    rates: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    echo: list[dict[str, Any]] = field(default_factory=list)
    mixing: list[dict[str, Any]] = field(default_factory=list)
    network_nodes: list[dict[str, Any]] = field(default_factory=list)
    network_edges: list[dict[str, Any]] = field(default_factory=list)
    network_stats: list[dict[str, Any]] = field(default_factory=list)
    coverage: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    evaluation: list[dict[str, Any]] = field(default_factory=list)
    classifiers: list[dict[str, Any]] = field(default_factory=list)
    agreement: list[dict[str, Any]] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # relations this warehouse does not have

    def groups(self) -> list[str]:
        """Groups in the configuration's order (then any other group the marts name)."""
        seen = [g for g in self.group_order if any(r["group_id"] == g for r in self.rates)]
        return seen + sorted({r["group_id"] for r in self.rates} - set(seen))

    def colour(self, group_id: str) -> str:
        order = self.group_order + sorted(set(self.groups()) - set(self.group_order))
        index = order.index(group_id) if group_id in order else len(order)
        return PALETTE[index % len(PALETTE)]


def _relations(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
    return {r[0] for r in rows.fetchall()}


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


QUERIES: dict[str, tuple[str, tuple[str, ...]]] = {
    # ReportData field: (SQL, relations it needs)
    "rates": (SQL_RATES, ("dissent_frequency",)),
    "timeline": (SQL_TIMELINE, ("dissent_frequency",)),
    "echo": (SQL_ECHO, ("echo_chamber",)),
    "mixing": (SQL_MIXING, ("int_interactions", "int_node_groups")),
    "network_stats": (SQL_NETWORK_STATS, ("network_mixing",)),
    "coverage": (SQL_COVERAGE, ("posts",)),
    "runs": (SQL_RUNS, ("collection_runs",)),
    "evaluation": (SQL_EVALUATION, ("stance_evaluation",)),
    "classifiers": (SQL_CLASSIFIERS, ("reference_stance",)),
    "agreement": (SQL_AGREEMENT, ("label_agreement",)),
    "members": (SQL_MEMBERS, ("group_members",)),
}


def network_nodes_sql(limit: int = MAX_DRAWN_NODES) -> str:
    return SQL_NETWORK_NODES.replace("{limit}", str(int(limit)))


def network_edges_sql(limit: int = MAX_DRAWN_NODES) -> str:
    return SQL_NETWORK_EDGES.replace("{nodes}", network_nodes_sql(limit))


def load(con: duckdb.DuckDBPyConnection, group_order: Sequence[str], *, pseudonymised: bool,
         max_nodes: int = MAX_DRAWN_NODES) -> ReportData:
    """Run every figure's query on an open (read-only) connection."""
    data = ReportData(group_order=list(group_order), max_nodes=max_nodes)
    have = _relations(con)
    if {"int_interactions", "int_node_groups"} <= have:
        data.network_nodes = _rows(con, network_nodes_sql(max_nodes))
    for name, (sql, needs) in QUERIES.items():
        absent = [n for n in needs if n not in have]
        if absent:
            data.missing.extend(a for a in absent if a not in data.missing)
            continue
        setattr(data, name, _rows(con, sql))
    if data.network_nodes:
        drawn = [n["account_id"] for n in data.network_nodes]
        rows = con.execute(SQL_NETWORK_EDGES_AMONG, {"drawn": drawn}).fetchall()
        data.network_edges = [{"source_id": s, "target_id": t} for s, t in rows]
    if "quarantine" in have:
        # reasons can quote the records they refuse: with pseudonymised data only counts are shown
        data.quarantine = _rows(con, SQL_QUARANTINE_BY_SOURCE if pseudonymised else SQL_QUARANTINE)
    else:
        data.missing.append("quarantine")
    if not pseudonymised and {"reference_stance", "org_references", "stg_posts", "stg_accounts"} <= have:
        data.examples = _rows(con, SQL_EXAMPLES)
    return data


# ---- panels -------------------------------------------------------------------------------------------
@dataclass
class Panel:
    key: str
    title: str
    section: str
    sql: str
    caption: str = ""
    figure: Figure | None = None
    not_enough: str | None = None
    marks: int = 0
    notes: list[str] = field(default_factory=list)

    def render(self, fmt: str) -> bytes:
        """The figure as svg, png or pdf bytes (deterministic: no date, ids salted by the figure)."""
        if self.figure is None:
            raise ValueError(f"{self.key}: no figure ({self.not_enough})")
        buffer = io.BytesIO()
        metadata: dict[str, Any] = {"Date": None} if fmt in ("svg", "pdf") else {"Software": None}
        with rc_context(_RC | {"svg.hashsalt": self.key}):
            # no bbox_inches="tight": the constrained layout already fits the figure, and "tight" draws it twice
            self.figure.savefig(buffer, format=fmt, metadata=metadata, dpi=150 if fmt == "png" else 100)
        return buffer.getvalue()

    def svg_inline(self) -> str:
        """The SVG element alone, for inlining in HTML (no XML declaration or DOCTYPE)."""
        text = self.render("svg").decode("utf-8")
        start = text.find("<svg")
        svg = text[start:]
        # scale with the page: the width/height matplotlib writes are in pt
        return svg.replace("<svg ", f'<svg role="img" aria-label="{_attr(self.title)}" class="figure" ', 1)


def _attr(text: str) -> str:
    return (text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;"))


_RC: dict[str, Any] = {
    "svg.fonttype": "none",  # text stays text: smaller, searchable; the browser's own sans-serif draws it
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 9,
    "axes.titleweight": "bold",
}


def _figure(width: float, height: float) -> Figure:
    with rc_context(_RC):
        return Figure(figsize=(width, height), layout="constrained")


def _rate_of(row: dict[str, Any]) -> tuple[float | None, float | None, float | None, bool]:
    """(rate, lo, hi, corrected?): the corrected rate where labels allow one, else the raw one."""
    if row.get("measure") == "corrected" and row.get("dissent_rate_corrected") is not None:
        return row["dissent_rate_corrected"], row["dissent_rate_corrected_lo"], row["dissent_rate_corrected_hi"], True
    return row.get("dissent_rate"), row.get("dissent_rate_lo"), row.get("dissent_rate_hi"), False


def _percent_axis(axis: Any) -> None:
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))


def answer_panel(data: ReportData) -> Panel:
    panel = Panel("answer_rates", "Dissent rate per group, with its 95% interval", "answer", SQL_RATES)
    groups = data.groups()
    rows = {r["group_id"]: r for r in data.rates}
    if not any(rows[g]["org_reference_posts"] for g in groups):
        panel.not_enough = "Not enough data: no member post references its own organisation yet."
        return panel
    with rc_context(_RC):
        fig = _figure(7.0, 0.6 + 0.55 * len(groups))
        ax = fig.add_subplot()
        labels = []
        for y, group in enumerate(reversed(groups)):
            row = rows[group]
            rate, lo, hi, corrected = _rate_of(row)
            tag = "corrected" if corrected else UNVALIDATED
            labels.append(f"{plain(group)}\n({tag})" if rate is not None else f"{plain(group)}\n(no references)")
            if rate is None:
                continue
            colour = data.colour(group)
            (line,) = ax.plot([lo, hi], [y, y], color=colour, linewidth=2, solid_capstyle="butt")
            line.set_gid(f"{panel.key}-mark-{panel.marks}")
            ax.plot([rate], [y], marker="o", markersize=8, color=colour, zorder=3,
                    markerfacecolor=colour if corrected else "white", markeredgewidth=2, linestyle="none")
            others = row.get("others_dissent_rate_corrected") if corrected else row.get("others_dissent_rate")
            if others is not None and len(groups) > 1:
                ax.plot([others], [y], marker="D", markersize=5, color="#555555", linestyle="none", zorder=1)
            ax.annotate(f"{pct(rate)} [{pct(lo)}–{pct(hi)}]", (hi, y), xytext=(6, 0), textcoords="offset points",
                        va="center", fontsize=8)
            panel.marks += 1
        ax.set_yticks(range(len(groups)), labels)
        ax.set_ylim(-0.6, len(groups) - 0.4)
        ax.set_xlim(0, 1.08 * max(1e-9, *(_rate_of(rows[g])[2] or 0 for g in groups)) + 0.05)
        _percent_axis(ax.xaxis)
        ax.set_xlabel("critical share of members' references to their own organisation")
        ax.grid(axis="x", alpha=0.3)
    panel.figure = fig
    panel.caption = ("Filled dot: rate corrected for the classifier's error with people's labels. Open dot: the raw "
                     "classifier rate, unvalidated (its interval covers sampling error only). Grey diamond: "
                     "the other groups pooled.")
    return panel


def timeline_panel(data: ReportData) -> Panel:
    panel = Panel("timeline", "Dissent rate per period, posts and references underneath", "time", SQL_TIMELINE)
    periods = sorted({(r["period_start"], r["period"]) for r in data.timeline}, key=lambda p: (p[0] is None, p))
    if len(periods) < 2:
        panel.not_enough = (f"Not enough data: {len(periods)} period{'s' if len(periods) != 1 else ''} in the "
                            "warehouse; a trend needs two or more (settings.period sets their length).")
        return panel
    index = {p[1]: i for i, p in enumerate(periods)}
    groups = data.groups()
    with rc_context(_RC):
        fig = _figure(7.5, 5.2)
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
        width = 0.8 / max(1, len(groups))
        for g_index, group in enumerate(groups):
            colour = data.colour(group)
            rows = [r for r in data.timeline if r["group_id"] == group]
            xs, ys, los, his, filled = [], [], [], [], []
            for r in rows:
                rate, lo, hi, corrected = _rate_of(r)
                if rate is None:
                    continue
                xs.append(index[r["period"]])
                ys.append(rate)
                los.append(lo)
                his.append(hi)
                filled.append(corrected)
            if xs:
                top.fill_between(xs, los, his, color=colour, alpha=0.15, linewidth=0)
                top.plot(xs, ys, color=colour, linewidth=1.5, label=plain(group))
                for x, y, f in zip(xs, ys, filled, strict=True):
                    (dot,) = top.plot([x], [y], marker="o", markersize=5, color=colour, linestyle="none",
                                      markerfacecolor=colour if f else "white")
                    dot.set_gid(f"{panel.key}-mark-{panel.marks}")
                    panel.marks += 1
            offset = (g_index - (len(groups) - 1) / 2) * width
            posts = [(index[r["period"]] + offset, r["posts"]) for r in rows]
            refs = [(index[r["period"]] + offset, r["org_reference_posts"]) for r in rows]
            bottom.bar([p[0] for p in posts], [p[1] for p in posts], width=width, color=colour, alpha=0.35)
            bottom.bar([p[0] for p in refs], [p[1] for p in refs], width=width, color=colour)
        top.set_ylim(bottom=0)
        _percent_axis(top.yaxis)
        top.set_ylabel("dissent rate")
        top.legend(loc="upper left", fontsize=8, frameon=False, ncols=min(4, len(groups)))
        top.grid(axis="y", alpha=0.3)
        bottom.set_ylabel("posts (light)\nreferences (dark)")
        bottom.set_xticks(range(len(periods)), [plain(p[1]) for p in periods],
                          rotation=45 if len(periods) > 8 else 0, ha="right" if len(periods) > 8 else "center")
        bottom.grid(axis="y", alpha=0.3)
    panel.figure = fig
    panel.caption = ("Bands: 95% intervals. Filled dots are corrected rates; open dots raw, unvalidated rates. "
                     "A period with no references has no dot: see the bars below for where data is thin.")
    return panel


def poisson_interval(count: int, exposure: float, z: float = Z95) -> tuple[float, float]:
    """Score interval of a Poisson rate count/exposure (the Wilson interval's Poisson analogue)."""
    if exposure <= 0:
        return (math.nan, math.nan)
    centre = count + z * z / 2
    half = z * math.sqrt(count + z * z / 4)
    return (max(0.0, centre - half) / exposure, (centre + half) / exposure)


def _echo_value(row: dict[str, Any], column: str, how: str) -> tuple[float | None, float | None, float | None]:
    value = row.get(column)
    if value is None:
        return None, None, None
    if how == "wilson":
        return value, row.get(f"{column}_lo"), row.get(f"{column}_hi")
    if how == "ei":
        # E-I = 1 - 2 * in-group share: the share's Wilson interval maps onto it exactly
        lo_share, hi_share = row.get("in_group_share_lo"), row.get("in_group_share_hi")
        if lo_share is None or hi_share is None:
            return value, None, None
        return value, 1 - 2 * hi_share, 1 - 2 * lo_share
    lo, hi = poisson_interval(int(row.get("jargon_occurrences") or 0), (row.get("tokens") or 0) / 1000)
    return value, lo, hi


def echo_panel(data: ReportData) -> Panel:
    panel = Panel("echo_profile", "Echo-chamber profile: each measure compared across the groups", "echo", SQL_ECHO)
    groups = [g for g in data.groups() if any(r["group_id"] == g for r in data.echo)]
    rows = {r["group_id"]: r for r in data.echo}
    if not groups or all(_echo_value(rows[g], c, h)[0] is None for g in groups for c, _, h in ECHO_METRICS):
        panel.not_enough = "Not enough data: the groups' members have no posts yet."
        return panel
    with rc_context(_RC):
        fig = _figure(8.0, 1.2 + 0.5 * len(groups) * 2)
        axes = fig.subplots(2, 4, sharey=True).flatten()
        for ax, (column, title, how) in zip(axes, ECHO_METRICS, strict=True):
            ax.set_title(title, fontsize=8)
            for y, group in enumerate(reversed(groups)):
                value, lo, hi = _echo_value(rows[group], column, how)
                if value is None:
                    ax.text(0.02, y, "no data", va="center", fontsize=7, color="#777777",
                            transform=ax.get_yaxis_transform())
                    continue
                colour = data.colour(group)
                if lo is not None and hi is not None:
                    ax.plot([lo, hi], [y, y], color=colour, linewidth=2)
                (dot,) = ax.plot([value], [y], marker="o", markersize=6, color=colour, linestyle="none")
                dot.set_gid(f"{panel.key}-mark-{panel.marks}")
                panel.marks += 1
            if how in ("wilson",):
                ax.set_xlim(-0.02, 1.02)
                _percent_axis(ax.xaxis)
            elif how == "ei":
                ax.set_xlim(-1.05, 1.05)
                ax.axvline(0, color="#999999", linewidth=0.8)
            else:
                ax.set_xlim(left=0)
            ax.grid(axis="x", alpha=0.3)
            ax.tick_params(axis="x", labelsize=7)
        axes[0].set_yticks(range(len(groups)), [plain(g) for g in reversed(groups)])
        axes[4].set_yticks(range(len(groups)), [plain(g) for g in reversed(groups)])
        axes[0].set_ylim(-0.6, len(groups) - 0.4)
    panel.figure = fig
    panel.caption = ("Whole range (period 'all'). Lines: 95% intervals (Wilson for shares; for E-I the in-group "
                     "share's interval mapped through E-I = 1 − 2·share; a Poisson score interval for jargon).")
    return panel


def _heatmap(panel: Panel, counts: list[list[int]], totals: list[int], *, ticks: list[str], colours: str,
             floor: float, figsize: tuple[float, float], cell_text: Callable[[int, float], str], fontsize: int,
             xlabel: str, ylabel: str, **xtick_style: Any) -> Figure:
    """A square matrix of counts, row i of `counts` drawn top down: each cell shaded by its share of
    its row's total (`totals[i]`) and labelled `cell_text(n, share)`, each cell one mark of the panel
    (the SVG ids the report's hover text uses)."""
    size = len(ticks)
    with rc_context(_RC):
        from matplotlib import colormaps

        cmap = colormaps[colours]
        fig = _figure(*figsize)
        ax = fig.add_subplot()
        for i, (row, total) in enumerate(zip(counts, totals, strict=True)):
            for j, n in enumerate(row):
                share = n / total if total else 0.0
                cell = Rectangle((j, size - 1 - i), 1, 1, facecolor=cmap(floor + 0.85 * share), edgecolor="white")
                cell.set_gid(f"{panel.key}-mark-{panel.marks}")
                ax.add_patch(cell)
                panel.marks += 1
                ax.text(j + 0.5, size - 0.5 - i, cell_text(n, share), ha="center", va="center", fontsize=fontsize,
                        color="white" if share > 0.55 else "black")
        ax.set_xlim(0, size)
        ax.set_ylim(0, size)
        ax.set_xticks([j + 0.5 for j in range(size)], ticks, **xtick_style)
        ax.set_yticks([size - 0.5 - i for i in range(size)], ticks)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_aspect("equal")
        for spine in ax.spines.values():
            spine.set_visible(False)
    return fig


def mixing_panel(data: ReportData) -> Panel:
    panel = Panel("network_mixing", "Who interacts with whom: ties between groups", "network", SQL_MIXING)
    if not data.mixing:
        panel.not_enough = ("Not enough data: no reply, repost, quote or mention links two accounts of known groups, "
                            "so there is no network to draw.")
        return panel
    groups = [g for g in data.groups() if any(g in (r["source_group"], r["target_group"]) for r in data.mixing)]
    named = {r["source_group"] for r in data.mixing} | {r["target_group"] for r in data.mixing}
    groups += sorted(named - set(groups))
    counts = {(r["source_group"], r["target_group"]): r["ties"] for r in data.mixing}
    matrix = [[counts.get((source, target), 0) for target in groups] for source in groups]
    size = len(groups)
    fig = _heatmap(panel, matrix, [sum(row) for row in matrix], ticks=[plain(g) for g in groups], colours="Blues",
                   floor=0.08, figsize=(1.8 + 1.1 * size, 1.2 + 0.9 * size),
                   cell_text=lambda n, share: f"{n:,}\n{pct(share, 0)}", fontsize=8,
                   xlabel="to (target's group)", ylabel="from (author's group)", rotation=30, ha="right")
    panel.figure = fig
    panel.caption = ("Ties of any kind (reply, repost, quote, mention) over the whole range: distinct directed "
                     "account pairs, as network_mixing counts them. Each cell: ties, and their share of the row.")
    return panel


def layout_positions(nodes: Sequence[dict[str, Any]], edges: Sequence[dict[str, Any]],
                     groups: Sequence[str]) -> dict[str, tuple[float, float]]:
    """A deterministic force-directed layout: groups start on a circle, then networkx's spring
    layout (fixed seed, nodes in a fixed order) settles them; the same data gives the same drawing."""
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(n["account_id"] for n in nodes)
    graph.add_edges_from((e["source_id"], e["target_id"]) for e in edges)
    start: dict[str, tuple[float, float]] = {}
    members: dict[str, list[str]] = defaultdict(list)
    for n in nodes:
        members[n["group_id"]].append(n["account_id"])
    for g_index, group in enumerate(groups):
        angle = 2 * math.pi * g_index / max(1, len(groups))
        centre = (math.cos(angle), math.sin(angle))
        ring = members.get(group, [])
        for k, node in enumerate(ring):
            a = 2 * math.pi * k / max(1, len(ring))
            start[node] = (centre[0] + 0.35 * math.cos(a), centre[1] + 0.35 * math.sin(a))
    pos = nx.spring_layout(graph, pos=start, seed=0, iterations=60, k=1.5 / math.sqrt(max(1, len(nodes))))
    return {node: (float(xy[0]), float(xy[1])) for node, xy in pos.items()}


def tie_pairs(edges: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """The account pairs the ties join, one per pair whichever way the ties go (a line has no direction)."""
    return sorted({(min(e["source_id"], e["target_id"]), max(e["source_id"], e["target_id"])) for e in edges})


def drawn_ties(edges: Sequence[dict[str, Any]], limit: int = MAX_DRAWN_TIES) -> list[tuple[str, str]]:
    """The account pairs drawn as lines: all of them up to `limit`, past it the `limit` pairs whose
    md5 is lowest: a sample that does not depend on the order the rows came in."""
    import hashlib

    pairs = tie_pairs(edges)
    if len(pairs) <= limit:
        return pairs
    return sorted(sorted(pairs, key=lambda p: hashlib.md5(f"{p[0]}\x1f{p[1]}".encode()).digest())[:limit])


def graph_panel(data: ReportData, all_nodes: int) -> Panel:
    panel = Panel("network_graph", "The interaction network, coloured by group", "network",
                  network_nodes_sql(data.max_nodes) + ";\n\n" + network_edges_sql(data.max_nodes))
    nodes = data.network_nodes
    if not nodes:
        panel.not_enough = "Not enough data: no interaction links two accounts of known groups."
        return panel
    groups = [g for g in data.groups() if any(n["group_id"] == g for n in nodes)]
    groups += sorted({n["group_id"] for n in nodes} - set(groups))
    pos = layout_positions(nodes, data.network_edges, groups)
    with rc_context(_RC):
        from matplotlib.collections import LineCollection

        fig = _figure(7.0, 6.0)
        ax = fig.add_subplot()
        lines = drawn_ties(data.network_edges)
        segments = [(pos[a], pos[b]) for a, b in lines]
        ax.add_collection(LineCollection(segments, colors="#999999", linewidths=0.4, alpha=0.5))
        biggest = max(n["ties"] for n in nodes)
        for g_index, group in enumerate(groups):
            mine = [n for n in nodes if n["group_id"] == group]
            dots = ax.scatter([pos[n["account_id"]][0] for n in mine], [pos[n["account_id"]][1] for n in mine],
                              s=[12 + 60 * n["ties"] / biggest for n in mine], color=data.colour(group),
                              edgecolors="white", linewidths=0.5, label=f"{plain(group)} ({len(mine)})", zorder=3)
            dots.set_gid(f"{panel.key}-nodes-{g_index}")
            panel.marks += len(mine)
        ax.legend(loc="upper left", fontsize=8, frameon=False, markerscale=0.8)
        ax.set_axis_off()
        ax.set_aspect("equal", adjustable="datalim")
    panel.figure = fig
    shown = len(nodes)
    if all_nodes > shown:
        panel.notes.append(f"Sampled: the network has {all_nodes:,} accounts; the drawing shows the {shown:,} with "
                           f"the most ties (ties broken by account id, so the same every time) and the "
                           f"{len(data.network_edges):,} ties among them.")
    pairs = len(tie_pairs(data.network_edges))
    if len(lines) < pairs:
        panel.notes.append(f"Sampled: {len(lines):,} of the {pairs:,} linked account pairs are drawn as lines "
                           "(chosen by a hash of the pair, so the same every time); the layout uses every tie.")
    panel.caption = (f"{shown:,} accounts and {len(data.network_edges):,} ties (any kind, whole range; dot size: "
                     "ties). Laid out offline by a seeded force-directed layout: the same data, the same picture.")
    return panel


def network_stats_panel(data: ReportData) -> Panel:
    panel = Panel("network_stats", "Modularity and assortativity by group, per interaction kind", "network",
                  SQL_NETWORK_STATS)
    rows = [r for r in data.network_stats if r["edges"]]
    if not rows:
        panel.not_enough = "Not enough data: no interaction of any kind between accounts of known groups."
        return panel
    with rc_context(_RC):
        fig = _figure(6.0, 0.8 + 0.45 * len(rows))
        ax = fig.add_subplot()
        for y, r in enumerate(reversed(rows)):
            for column, marker, colour in (("modularity", "o", "#1f77b4"), ("assortativity", "s", "#d62728")):
                if r[column] is None:
                    continue
                (dot,) = ax.plot([r[column]], [y], marker=marker, color=colour, linestyle="none", markersize=7,
                                 label=column if y == 0 else None)
                dot.set_gid(f"{panel.key}-mark-{panel.marks}")
                panel.marks += 1
        ax.set_yticks(range(len(rows)), [f"{plain(r['interaction_kind'])} ({r['edges']:,} ties)"
                                         for r in reversed(rows)])
        ax.set_xlim(-1.05, 1.05)
        ax.axvline(0, color="#999999", linewidth=0.8)
        ax.grid(axis="x", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), fontsize=8, frameon=False, ncols=2)
    panel.figure = fig
    panel.caption = ("Modularity Q of the partition by group and attribute assortativity r (1: ties only inside "
                     "groups; 0: as mixed as chance). Whole range.")
    return panel


def coverage_gaps(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per source: its first and last day with posts, days without posts in between, the longest gap."""
    by_source: dict[str, set[date]] = defaultdict(set)
    platforms: dict[str, str] = {}
    for r in rows:
        by_source[r["source"]].add(r["day"])
        platforms[r["source"]] = r["platform"]
    out = []
    for source, days in sorted(by_source.items()):
        first, last = min(days), max(days)
        span = (last - first).days + 1
        longest, run, start_of_longest = 0, 0, None
        day = first
        while day <= last:
            if day in days:
                run = 0
            else:
                run += 1
                if run > longest:
                    longest, start_of_longest = run, day - timedelta(days=run - 1)
            day += timedelta(days=1)
        out.append({"source": source, "platform": platforms[source], "first_day": first, "last_day": last,
                    "days": span, "days_without_posts": span - len(days), "longest_gap_days": longest,
                    "longest_gap_from": start_of_longest})
    return out


def coverage_panel(data: ReportData) -> Panel:
    panel = Panel("coverage", "Posts per source per day", "coverage", SQL_COVERAGE)
    if not data.coverage:
        panel.not_enough = "Not enough data: the warehouse holds no posts yet."
        return panel
    sources = sorted({r["source"] for r in data.coverage})
    with rc_context(_RC):
        fig = _figure(7.5, 2.8)
        ax = fig.add_subplot()
        for index, source in enumerate(sources):
            days = {r["day"]: r["posts"] for r in data.coverage if r["source"] == source}
            first, last = min(days), max(days)
            xs, ys = [], []
            day = first
            while day <= last:  # days without posts are drawn as zeros: a gap shows as a gap
                xs.append(day)
                ys.append(days.get(day, 0))
                day += timedelta(days=1)
            (line,) = ax.plot(xs, ys, color=PALETTE[index % len(PALETTE)], linewidth=1, label=plain(source),
                              drawstyle="steps-mid")
            line.set_gid(f"{panel.key}-mark-{panel.marks}")
            panel.marks += 1
        ax.set_ylabel("posts per day")
        ax.set_ylim(bottom=0)
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), fontsize=8, frameon=False, ncols=min(4, len(sources)))
        ax.grid(axis="y", alpha=0.3)
        fig.autofmt_xdate()
    panel.figure = fig
    panel.caption = "By the posts' own timestamps (UTC), every source that delivered posts; a day at zero got none."
    return panel


def confusion_panel(data: ReportData) -> Panel:
    panel = Panel("classifier_confusion", "Confusion matrix of the configured classifier on people's labels",
                  "classifier", SQL_EVALUATION)
    row = next((r for r in data.evaluation if r["is_configured"] and r["scope"] == "all"), None)
    if row is None:
        panel.not_enough = ("Not enough data: no reference carries a person's label, so the classifier is "
                            "unvalidated and there is no confusion matrix. Draw a sample with "
                            "`dissentry labels sample`, label it, and `dissentry labels import` it.")
        return panel
    confusion: dict[str, dict[str, int]] = json.loads(row["confusion"])
    labels = ["critical", "supportive", "neutral"]
    labels += sorted(set(confusion) - set(labels))
    matrix = [[confusion.get(truth, {}).get(predicted, 0) for predicted in labels] for truth in labels]
    # a row's share is of every label of that truth, also a predicted label no row carries
    totals = [sum(confusion.get(truth, {}).values()) for truth in labels]
    fig = _heatmap(panel, matrix, totals, ticks=labels, colours="Greens", floor=0.05, figsize=(4.8, 4.0),
                   cell_text=lambda n, _share: f"{n:,}", fontsize=9,
                   xlabel=f"predicted by {plain(row['classifier'])}", ylabel="people's label")
    panel.figure = fig
    how = "cross-fitted: no label grades a model fitted on it" if row["prediction"] == "cross_fitted" else "rules"
    panel.caption = f"{row['n']:,} labelled references; rows: people's label, columns: the classifier's ({how})."
    return panel


PanelBuilder = Callable[[ReportData], Panel]


def all_panels(data: ReportData) -> list[Panel]:
    """Every figure of the report, in reading order."""
    all_nodes = int(data.network_nodes[0]["all_nodes"]) if data.network_nodes else 0
    return [
        answer_panel(data),
        timeline_panel(data),
        echo_panel(data),
        mixing_panel(data),
        graph_panel(data, all_nodes),
        network_stats_panel(data),
        coverage_panel(data),
        confusion_panel(data),
    ]
