"""The HTML report and the figure files, read as files (the browser test opens them in Chromium)."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from dissentry.cli import app
from dissentry.figures import (
    Panel,
    ReportData,
    all_panels,
    coverage_gaps,
    coverage_panel,
    poisson_interval,
)
from dissentry.report_html import build_report, default_html_path, group_sentence, read_warehouse, render_html
from tests.report.conftest import Built, expected_marks
from tests.report.worlds import SCRIPT_POST

runner = CliRunner()
SVG = "{http://www.w3.org/2000/svg}"


def _html(built: Built) -> str:
    return built.html.read_text(encoding="utf-8")


def _rows(db: Path, sql: str) -> list[dict[str, object]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    finally:
        con.close()


def test_the_page_is_self_contained(labelled: tuple[Built, Built], tiny: Built) -> None:
    for built in (*labelled, tiny):
        page = _html(built)
        assert "<script" not in page.lower()
        assert "@import" not in page and "@font-face" not in page
        assert "<img" not in page.lower() and "<iframe" not in page.lower() and "<object" not in page.lower()
        # every reference is to a place in the page (#...) or inline data (data:...)
        references = re.findall(r"""(?:href|src|xlink:href)\s*=\s*["']([^"']*)["']""", page)
        assert references and all(r.startswith(("#", "data:")) for r in references), set(references)
        assert all(u.startswith("#") for u in re.findall(r"url\(\s*([^)]*)\)", page))


def test_one_sentence_per_group_from_the_numbers(labelled: tuple[Built, Built]) -> None:
    unlabelled, corrected = labelled
    rows = _rows(unlabelled.db, "SELECT * FROM dissent_frequency WHERE period = 'all' ORDER BY group_id")
    page = _html(unlabelled)
    vanguard = next(r for r in rows if r["group_id"] == "vanguard")
    # the sample plants a movement whose members never criticise it
    assert vanguard["critical_posts"] == 0
    upper = f"{100 * vanguard['dissent_rate_hi']:.1f}".rstrip("0").rstrip(".")
    assert (f"vanguard: 0 critical posts in {vanguard['org_reference_posts']:,} references to its own organisation "
            f"(95% interval 0%–{upper}%; unvalidated") in page
    rows = _rows(corrected.db, "SELECT * FROM dissent_frequency WHERE period = 'all' ORDER BY group_id")
    page = _html(corrected)
    assert {r["measure"] for r in rows} == {"corrected"}
    for r in rows:
        lo = f"{100 * r['dissent_rate_corrected_lo']:.1f}".rstrip("0").rstrip(".")
        hi = f"{100 * r['dissent_rate_corrected_hi']:.1f}".rstrip("0").rstrip(".")
        assert f"{r['group_id']}: an estimated " in page
        assert f"(95% interval {lo}%–{hi}%, corrected with {r['labelled_refs']:,} people&#39;s labels" in page


def test_sentence_worked_by_hand() -> None:
    # 0 of 164: the Wilson upper bound is z^2 / (n + z^2) = 3.8415 / 167.8415 = 2.29%
    z2 = 1.959963984540054 ** 2
    row = {"group_id": "vanguard", "org_reference_posts": 164, "critical_posts": 0, "posts": 900,
           "measure": "unvalidated", "labelled_refs": 0, "dissent_rate": 0.0, "dissent_rate_lo": 0.0,
           "dissent_rate_hi": z2 / (164 + z2), "others_dissent_rate": 0.23, "rate_ratio_vs_others": 0.0,
           "rate_ratio_p_value": 2e-9}
    assert group_sentence(row, 3) == (
        "vanguard: 0 critical posts in 164 references to its own organisation (95% interval 0%–2.3%; unvalidated: "
        "the classifier's labels, not checked against people's); the other groups: 23% (ratio 0.00, Fisher "
        "p < 0.001).")
    assert group_sentence({**row, "org_reference_posts": 0}, 1).startswith(
        "vanguard: no member post referenced its own organisation (900 member posts)")


def test_poisson_score_interval_solves_its_equation() -> None:
    # the score interval's ends are the rates lambda with (x - lambda T)^2 = z^2 lambda T
    z = 1.959963984540054
    for count, exposure in ((0, 10.0), (3, 2.5), (250, 40.0)):
        lo, hi = poisson_interval(count, exposure)
        for rate in (lo, hi):
            mean = rate * exposure
            assert math.isclose((count - mean) ** 2, z * z * mean, rel_tol=1e-9, abs_tol=1e-9)
        assert lo <= count / exposure <= hi
    assert poisson_interval(0, 10.0)[0] == 0.0


def test_not_enough_data_panels_name_their_reason(labelled: tuple[Built, Built], one_group: Built,
                                                  one_period: Built, tiny: Built) -> None:
    def states(built: Built) -> dict[str, str]:
        page = _html(built)
        return dict(re.findall(r'data-figure="([a-z_]+)"\s+data-marks="\d+" data-state="(\w+)"', page))

    assert set(states(labelled[1]).values()) == {"drawn"}
    assert states(labelled[0])["classifier_confusion"] == "empty"
    assert "Not enough data: one group only" in _html(one_group)
    assert states(one_period)["timeline"] == "empty"
    tiny_states = states(tiny)
    assert [k for k, v in tiny_states.items() if v == "empty"] == [
        "timeline", "network_mixing", "network_graph", "network_stats", "classifier_confusion"]
    assert "Not enough data: no network." in _html(tiny)


def test_user_data_is_text_never_markup(tiny: Built) -> None:
    page = _html(tiny)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Solo Org is wrong" in page
    assert SCRIPT_POST not in page
    assert "Solo &lt;b&gt;Org&lt;/b&gt; &amp; $5 club" in page
    assert "<b>Org</b>" not in page and "<i>dump</i>" not in page


def test_pseudonymised_report_shows_only_what_the_marts_show(tiny_pseudonymised: Built) -> None:
    page = _html(tiny_pseudonymised)
    for private in ("alert(1)", "manifesto", "alice", "bob"):
        assert private not in page, private
    assert "Not shown: pseudonymise = true" in page
    assert "Pseudonymised: this page shows only what the marts show" in page


def test_the_network_drawing_is_sampled_deterministically_and_says_so(labelled: tuple[Built, Built]) -> None:
    built = labelled[1]
    data = read_warehouse(built.config, max_nodes=12)
    graph = next(p for p in all_panels(data) if p.key == "network_graph")
    total = _rows(built.db, "SELECT nodes FROM network_mixing WHERE period = 'all' AND interaction_kind = 'all'")
    assert graph.marks == 12
    assert graph.notes == [f"Sampled: the network has {total[0]['nodes']:,} accounts; the drawing shows the 12 with "
                           "the most ties (ties broken by account id, so the same every time) and the "
                           f"{len(data.network_edges):,} ties among them."]
    drawn = {n["account_id"] for n in data.network_nodes}
    assert all(e["source_id"] in drawn and e["target_id"] in drawn for e in data.network_edges)
    again = next(p for p in all_panels(read_warehouse(built.config, max_nodes=12)) if p.key == "network_graph")
    assert graph.render("svg") == again.render("svg")


def test_the_same_warehouse_gives_the_same_figures(one_period: Built) -> None:
    first = build_report(one_period.config)
    second = build_report(one_period.config)
    assert [p.render("svg") for p in first.panels if p.figure] == [p.render("svg") for p in second.panels if p.figure]
    page = render_html(first)
    assert page.count("<svg ") == sum(1 for p in first.panels if p.figure)


def test_text_in_figures_is_drawn_as_written() -> None:
    # a '$' would start matplotlib's mathtext; a '<' must be escaped in the SVG
    from datetime import date

    rows = [{"source": "a$x$<b>", "platform": "csv", "day": date(2026, 1, d), "posts": d} for d in (1, 2, 5)]
    panel = coverage_panel(ReportData(group_order=[], coverage=rows))
    svg = panel.render("svg").decode("utf-8")
    assert "a$x$&lt;b&gt;" in svg
    assert coverage_gaps(rows) == [{"source": "a$x$<b>", "platform": "csv", "first_day": date(2026, 1, 1),
                                    "last_day": date(2026, 1, 5), "days": 5, "days_without_posts": 2,
                                    "longest_gap_days": 2, "longest_gap_from": date(2026, 1, 3)}]


def _marks_in_svg(path: Path, key: str) -> int:
    root = ET.parse(path).getroot()
    marks = sum(1 for el in root.iter() if el.get("id", "").startswith(f"{key}-mark-"))
    for group in root.iter(f"{SVG}g"):
        if group.get("id", "").startswith(f"{key}-nodes-"):
            marks += sum(1 for el in group.iter() if el.tag in (f"{SVG}path", f"{SVG}use"))
    return marks


def test_cli_writes_the_page_the_figures_and_still_prints_the_tables(labelled: tuple[Built, Built],
                                                                     tmp_path: Path) -> None:
    built = labelled[1]
    config = str(built.config.config_path)
    result = runner.invoke(app, ["--config", config, "report"])
    assert result.exit_code == 0, result.output
    assert "Dissent frequency" in result.output and "Echo chamber" in result.output
    result = runner.invoke(app, ["--config", config, "report", "--html"])
    assert result.exit_code == 0, result.output
    assert f"Report: {default_html_path(built.config)}" in result.output.replace("\n", "")
    target = tmp_path / "elsewhere" / "r.html"
    result = runner.invoke(app, ["--config", config, "report", "--html", str(target)])
    assert result.exit_code == 0 and target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    result = runner.invoke(app, ["--config", config, "report", str(target)])
    assert result.exit_code == 2 and "only read with --html" in result.output
    expected = expected_marks(built.db)
    result = runner.invoke(app, ["--config", config, "report", "--format", "svg", "--out", str(tmp_path / "svg")])
    assert result.exit_code == 0, result.output
    for key, marks in expected.items():
        assert _marks_in_svg(tmp_path / "svg" / f"{key}.svg", key) == marks, key
    result = runner.invoke(app, ["--config", config, "report", "--format", "png", "--out", str(tmp_path / "png")])
    assert result.exit_code == 0, result.output
    pngs = sorted((tmp_path / "png").glob("*.png"))
    assert [p.stem for p in pngs] == sorted(expected)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    result = runner.invoke(app, ["--config", config, "report", "--format", "gif", "--out", str(tmp_path / "g")])
    assert result.exit_code == 2 and "unknown figure format 'gif'" in result.output


def test_figure_files_skip_what_has_no_data(tiny: Built, tmp_path: Path) -> None:
    result = runner.invoke(app, ["--config", str(tiny.config.config_path), "report", "--format", "svg",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.stem for p in tmp_path.glob("*.svg")) == ["answer_rates", "coverage", "echo_profile"]
    assert "skipped network_graph" in result.output


def test_panel_without_figure_cannot_render() -> None:
    panel = Panel("x", "X", "answer", "SELECT 1", not_enough="Not enough data: none.")
    try:
        panel.render("svg")
    except ValueError as exc:
        assert "Not enough data" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("rendered a panel without a figure")
