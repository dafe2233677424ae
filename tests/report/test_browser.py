"""The HTML report in a real browser: headless Chromium opens each file from disk, offline.

For every report: nothing but the file is requested, the console logs no error and no script runs,
every figure with data is a non-empty SVG with as many marks as the marts say it must draw, every
figure without is a "not enough data" panel, and a full-page screenshot is taken. A post reading
`<script>alert(1)</script>` shows as text (and raises no dialog).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.report import browser
from tests.report.conftest import Built, expected_marks
from tests.report.worlds import SCRIPT_POST

pytestmark = pytest.mark.skipif(browser.available() is not None, reason=str(browser.available()))


@pytest.fixture(scope="module")
def context() -> Iterator[Any]:
    with browser.browser_context() as ctx:
        yield ctx


def _check_page(context: Any, built: Built, tmp_path: Path) -> browser.PageVisit:
    shot = tmp_path / "page.png"
    seen = browser.visit(context, built.html, screenshot=shot)
    assert seen.requests == [built.html.absolute().as_uri()], "the page loaded something besides itself"
    assert [m for m in seen.console if m[0] in ("error", "warning")] == []
    assert seen.page_errors == []
    assert seen.dialogs == []
    assert seen.scripts == 0
    assert shot.stat().st_size > 20_000  # a full page, not a blank one
    with shot.open("rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    expected = expected_marks(built.db)
    assert set(seen.figures) == set(expected)
    for key, figure in seen.figures.items():
        if expected[key]:
            assert figure["state"] == "drawn", (key, figure)
            assert figure["marks"] == expected[key], (key, figure, expected[key])
            assert figure["declared"] == expected[key]
            assert figure["svg_children"] > figure["marks"] and figure["width"] > 200 and figure["height"] > 100
        else:
            assert figure["state"] == "empty", (key, figure)
            assert figure["not_enough"].startswith("Not enough data"), (key, figure)
            assert figure["svg_children"] == 0
    return seen


def test_labelled_sample_report_renders_every_figure(context: Any, labelled: tuple[Built, Built],
                                                     tmp_path: Path) -> None:
    seen = _check_page(context, labelled[1], tmp_path)
    assert all(f["state"] == "drawn" for f in seen.figures.values()), seen.figures
    assert "corrected with" in seen.text  # the plain-words sentences read the corrected rates


def test_unlabelled_report_shows_the_unvalidated_warning_and_no_confusion_matrix(
        context: Any, labelled: tuple[Built, Built], tmp_path: Path) -> None:
    seen = _check_page(context, labelled[0], tmp_path)
    assert seen.figures["classifier_confusion"]["state"] == "empty"
    assert "Unvalidated" in seen.text
    assert "unvalidated: the classifier's labels" in seen.text


def test_one_group_report_says_there_is_nothing_to_compare(context: Any, one_group: Built, tmp_path: Path) -> None:
    seen = _check_page(context, one_group, tmp_path)
    assert "Not enough data: one group only" in seen.text
    assert seen.figures["answer_rates"]["state"] == "drawn"


def test_one_period_report_has_no_trend(context: Any, one_period: Built, tmp_path: Path) -> None:
    seen = _check_page(context, one_period, tmp_path)
    assert seen.figures["timeline"]["state"] == "empty"
    assert "a trend needs two or more" in seen.figures["timeline"]["not_enough"]
    assert seen.figures["network_graph"]["state"] == "drawn"


def test_tiny_report_without_network_or_labels_and_a_script_post_shown_as_text(
        context: Any, tiny: Built, tmp_path: Path) -> None:
    seen = _check_page(context, tiny, tmp_path)
    for key in ("timeline", "network_mixing", "network_graph", "network_stats", "classifier_confusion"):
        assert seen.figures[key]["state"] == "empty", key
    assert SCRIPT_POST in seen.text  # the characters, as written, on the page
    assert "Solo <b>Org</b> & $5 club" in seen.text  # a group name is data too
    assert "forum-<i>dump</i>" in seen.text
