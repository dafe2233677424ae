"""Issue 14 §2: the pipeline steps tell an `on_progress` callback what they do and print nothing;
the bars are the CLI's (dissentry/progress_bars.py); ingestion is `Ingestion` (dissentry/ingest.py).

Real export files imported into a real lake, through the function the CLI's `import` calls and
through the CLI itself."""

from __future__ import annotations

import io
import itertools
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dissentry import pipeline
from dissentry.cli import app
from dissentry.config import load_config
from dissentry.connectors.base import Page, RawRecord
from dissentry.ingest import Ingestion, ProgressEvent, ingest
from dissentry.progress_bars import bars
from tests.hostile.corpus import mastodon_status as status
from tests.support.project import ALICE, SAVED, config_toml, group

FIXTURE = Path(__file__).resolve().parents[2] / "connectors" / "mastodon" / "fixtures" / "account_statuses_page.json"
STATUSES = 2_500  # three import pages of 1,000


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "export.jsonl").write_text(
        "".join(json.dumps(status(n)) + "\n" for n in range(1, STATUSES + 1)), encoding="utf-8")
    (tmp_path / "dissentry.toml").write_text(
        config_toml(group("org_a", "Org A", aliases=["Org A"], members=[ALICE]), SAVED), encoding="utf-8")
    return tmp_path


def test_an_import_tells_its_callback_each_page_and_prints_nothing(
    project: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pipeline, "PROGRESS_LOG_SECONDS", 0.0)  # a log line for every page, were any written
    config = load_config(project / "dissentry.toml")
    export = project / "in" / "export.jsonl"
    events: list[ProgressEvent] = []

    with caplog.at_level(logging.INFO, logger="dissentry.progress"):
        row = pipeline.import_export(config, "mastodon", [export], "saved", on_progress=events.append)

    assert row["status"] == "ok" and row["records_seen"] == STATUSES and row["pages"] == 3
    assert [e.kind for e in events] == ["started", "page", "page", "page", "finished"]
    assert {(e.step, e.name, e.platform) for e in events} == {("import", "import saved", "mastodon")}
    pages = [e for e in events if e.kind == "page"]
    assert [e.records for e in pages] == [1_000, 2_000, 2_500]
    size = export.stat().st_size
    read = [e.read for e in pages]
    assert all(r is not None and r[1] == size for r in read), read
    done = [r[0] for r in read if r is not None]
    # bytes read rise with the pages (the reader buffers ahead, so the first is past 1,000/2,500);
    # the file counts as read whole once its reader is done with it, which the finished event says
    assert done == sorted(done) and 0 < done[0] < size and done[-1] <= size
    assert events[-1].status == "ok" and events[-1].records == STATUSES and events[-1].read == (size, size)
    assert all(a.elapsed <= b.elapsed for a, b in itertools.pairwise(events))

    # a callback replaces the log lines; nothing at all reaches the terminal
    assert not [r for r in caplog.records if r.name == "dissentry.progress"]
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == ""

    # the same import again, with no callback: log lines (a scheduler's task log), still no output
    with caplog.at_level(logging.INFO, logger="dissentry.progress"):
        again = pipeline.import_export(config, "mastodon", [FIXTURE], "saved")
    assert again["status"] == "ok" and again["records_seen"] > 0
    lines = [r.getMessage() for r in caplog.records if r.name == "dissentry.progress"]
    assert lines and all(line.startswith("import saved: ") for line in lines), lines
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == ""


def test_normalise_and_transform_tell_the_callback_each_step(project: Path) -> None:
    config = load_config(project / "dissentry.toml")
    pipeline.import_export(config, "mastodon", [project / "in" / "export.jsonl"], "saved")
    events: list[ProgressEvent] = []

    counts = pipeline.normalise(config, on_progress=events.append)
    tables = pipeline.transform(config, on_progress=events.append)

    assert counts["posts"] == STATUSES
    written = [e for e in events if e.step == "normalise" and e.kind == "step" and e.name == "posts written"]
    assert [(e.platform, e.records) for e in written] == [("mastodon", STATUSES)]
    models = {e.name: e.records for e in events if e.step == "transform" and e.kind == "step"
              and e.records is not None}
    assert models["stg_posts"] == tables["stg_posts"] == STATUSES
    assert set(tables) <= set(models)


def test_the_cli_draws_no_bar_without_a_terminal_and_the_bars_draw_the_events(project: Path) -> None:
    result = CliRunner().invoke(app, ["--config", str(project / "dissentry.toml"), "import", "mastodon",
                                      str(project / "in" / "export.jsonl"), "--source", "saved"])
    assert result.exit_code == 0, result.output
    # no terminal, no bar: the runs table is the first thing printed, and no bar's line ("import saved
    # ... records") is anywhere
    assert result.output.startswith("Collection runs"), result.output
    assert "import saved" not in result.output and " records\n" not in result.output

    with bars(False) as none:
        assert none is None
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=140, color_system=None)
    config = load_config(project / "dissentry.toml")
    with bars(True, console=console) as on_progress:
        assert on_progress is not None
        row = pipeline.import_export(config, "mastodon", [FIXTURE], "fixture", on_progress=on_progress)
    drawn = screen.getvalue()
    assert "import fixture" in drawn and f"{row['records_seen']:>9,} records" in drawn and "100%" in drawn


def test_an_ingestion_commits_a_cursor_only_once_the_data_it_covers_is_durable(project: Path) -> None:
    lake = pipeline.lake_for(load_config(project / "dissentry.toml"))
    ingestion = Ingestion(lake, platform="mastodon", source_name="m", mode="collect", cursor_before=None)
    record = RawRecord.from_json("status", "1", status(1), "https://social.example", "test:1")

    ingestion.land(Page(records=[record], cursor={"at": 1}))
    assert lake.load_cursor("mastodon", "m") is None  # landed in memory, not yet durable
    assert not lake.raw_files("mastodon")
    ingestion.commit()
    assert lake.load_cursor("mastodon", "m") == {"at": 1} and len(lake.raw_files("mastodon")) == 1

    ingestion.land(Page(records=[], cursor={"at": 2}))
    row = ingestion.finish()  # the last commit
    assert lake.load_cursor("mastodon", "m") == {"at": 2}
    assert (row["status"], row["pages"], row["records_seen"], row["records_new"]) == ("ok", 2, 1, 1)
    assert json.loads(row["cursor_after"]) == {"at": 2}


def test_the_page_cap_stops_before_the_next_page_is_asked_for(project: Path) -> None:
    lake = pipeline.lake_for(load_config(project / "dissentry.toml"))
    asked: list[int] = []

    def pages() -> Iterator[Page]:
        for n in range(1, 10):
            asked.append(n)
            yield Page(records=[RawRecord.from_json("status", str(n), status(n), "https://social.example",
                                                    f"test:{n}")], cursor={"at": n})

    ingestion = Ingestion(lake, platform="mastodon", source_name="capped", mode="collect", cursor_before=None,
                          max_pages=2)
    row = ingest(ingestion, pages())
    assert asked == [1, 2] and row["status"] == "partial" and row["cap_hit"] is True
    assert json.loads(row["errors"]) == ["stopped at max_pages=2: older data was not collected"]
    assert lake.load_cursor("mastodon", "capped") == {"at": 2}
