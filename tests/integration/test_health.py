"""Every command ends with the truth (issue 11, §2): the health block and the exit codes.

Each silent case of the issue (a missing file, a wrong column mapping, an empty CSV, a listed
member that matches nothing, a group with no members, transform before normalise) is run through
the real CLI on a small generated project, and must give a named line and the right exit code.
File-system problems must be one line naming the path, never a traceback.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from dissentry import pipeline
from dissentry.cli import app
from dissentry.config import load_config
from dissentry.warehouse.lock import exclusive
from tests.support.mounts import tmpfs
from tests.support.project import config_toml, group, source

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()

CONFIG = config_toml(
    group("org_a", "Org A", aliases=["Org A"], accounts=["csv:orga"], members=["csv:alice", "csv:bobby_tables"]),
    group("org_b", "Org B"),
    source("posts", "csv", files=["in/posts.csv"]),
)

ROWS = [
    ("1", "alice", "2026-01-02T10:00:00Z", "Org A is right"),
    ("2", "bobby_table", "2026-01-03T10:00:00Z", "Org A again"),
    ("3", "orga", "2026-01-03T11:00:00Z", "official word"),
]


def write_csv(path: Path, rows: list[tuple[str, ...]], header: str = "post_id,author,created_at,text") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    write_csv(tmp_path / "in" / "posts.csv", ROWS)
    (tmp_path / "dissentry.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def cli(root: Path, *args: str, config: str = "dissentry.toml") -> Result:
    return runner.invoke(app, ["--config", str(root / config), *args])


def health(result: Result) -> list[str]:
    """The lines of the health block (after the 'Health' heading), stripped."""
    lines = result.output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Health"))
    return [line.strip() for line in lines[start + 1:] if line.strip()]


def with_source(root: Path, extra: str) -> None:
    (root / "dissentry.toml").write_text(CONFIG + extra, encoding="utf-8")


# ---- the silent cases ------------------------------------------------------------------------------
def test_a_missing_source_file_is_named_and_exits_1_with_the_tables_built(project: Path) -> None:
    text = CONFIG.replace('files = ["in/posts.csv"]', 'files = ["in/posts.csv", "in/gone.csv"]')
    (project / "dissentry.toml").write_text(text, encoding="utf-8")

    result = cli(project, "run", "--no-progress")

    assert result.exit_code == 1, result.output
    assert f"✗ source posts (csv) partial: {project / 'in' / 'gone.csv'}: no such file or folder" in health(result)
    assert (project / "wh" / "dissentry.duckdb").is_file()  # the tables are still built


def test_a_glob_that_matches_no_file_is_a_partial_source(project: Path) -> None:
    with_source(project, '\n[[sources]]\nname = "later"\nplatform = "csv"\nfiles = ["in/2027-*.csv"]\n')

    result = cli(project, "run", "--no-progress")

    assert result.exit_code == 1, result.output
    (line,) = [x for x in health(result) if "source later" in x]
    assert f"{project / 'in' / '2027-*.csv'}: no file matches this pattern" in line


def test_a_wrong_column_mapping_is_named_and_exits_1(project: Path) -> None:
    with_source(project, '\n[[sources]]\nname = "mapped"\nplatform = "csv"\nfiles = ["in/posts.csv"]\n'
                         '[sources.options.columns]\ncreated_at = "time"\n')

    result = cli(project, "run", "--no-progress")

    assert result.exit_code == 1, result.output
    (line,) = [x for x in health(result) if x.startswith("✗ source mapped")]
    assert "'time'" in line and "partial" in line


def test_an_empty_csv_and_a_header_only_csv_are_partial_sources(project: Path) -> None:
    (project / "in" / "empty.csv").write_text("", encoding="utf-8")
    write_csv(project / "in" / "header.csv", [])
    with_source(project, '\n[[sources]]\nname = "empty"\nplatform = "csv"\nfiles = ["in/empty.csv"]\n'
                         '\n[[sources]]\nname = "header"\nplatform = "csv"\nfiles = ["in/header.csv"]\n')

    result = cli(project, "run", "--no-progress")

    assert result.exit_code == 1, result.output
    lines = health(result)
    assert any(x.startswith("✗ source empty (csv) partial:") and "the file is empty" in x for x in lines), lines
    assert f"✗ source header (csv) partial: no records read from {project / 'in' / 'header.csv'}" in lines


def test_a_member_matching_nothing_is_named_with_the_closest_handle(project: Path) -> None:
    result = cli(project, "run", "--no-progress")

    assert result.exit_code == 0, result.output  # every source landed: a warning, not a failure
    assert ("! group org_a: member csv:bobby_tables matched no post or account; closest handle in the data: "
            "csv:bobby_table") in health(result)
    # alice and the official account matched: they are not named
    assert not [x for x in health(result) if "csv:alice" in x or "csv:orga" in x]


def test_an_unmatched_member_with_no_handle_alike_gets_no_suggestion(project: Path) -> None:
    text = CONFIG.replace('"csv:bobby_tables"', '"csv:zzqx"')
    (project / "dissentry.toml").write_text(text, encoding="utf-8")

    result = cli(project, "run", "--no-progress")

    assert "! group org_a: member csv:zzqx matched no post or account" in health(result)


def test_many_unmatched_accounts_of_a_group_share_one_line_naming_each(project: Path) -> None:
    """A source missing whole leaves every member of a platform unmatched: one line names them all."""
    text = CONFIG.replace('"csv:bobby_tables"', '"csv:wwwwww", "csv:yyyyyy", "csv:zzzzzz"')
    (project / "dissentry.toml").write_text(text, encoding="utf-8")

    result = cli(project, "run", "--no-progress")

    assert ("! group org_a: 3 members matched no post or account: csv:wwwwww, csv:yyyyyy, csv:zzzzzz"
            in health(result))


def test_a_group_with_no_members_is_named(project: Path) -> None:
    result = cli(project, "run", "--no-progress")

    lines = health(result)
    assert any(x.startswith("! group org_b has no active members") for x in lines), lines
    assert not any(x.startswith("! group org_a has no active members") for x in lines)


def test_transform_before_normalise_warns_and_names_the_command(project: Path) -> None:
    assert cli(project, "import", "csv", str(project / "in" / "posts.csv"), "--source", "posts").exit_code == 0

    result = cli(project, "transform")

    assert result.exit_code == 0, result.output
    (line,) = [x for x in health(result) if "raw records" in x]
    assert line.startswith("! 3 raw records (1 file) not normalised yet")
    assert "run `dissentry normalise`" in line

    normalised = cli(project, "normalise")
    assert not [x for x in health(normalised) if "raw records" in x]


def test_a_clean_run_says_so_and_exits_0(project: Path) -> None:
    text = CONFIG.replace('"csv:bobby_tables"', '"csv:bobby_table"').replace(
        'name = "Org B"\n', 'name = "Org B"\nmembers = ["csv:orga"]\n')
    (project / "dissentry.toml").write_text(text.replace('accounts = ["csv:orga"]', 'accounts = []'), encoding="utf-8")

    result = cli(project, "run", "--no-progress")

    assert result.exit_code == 0, result.output
    assert "Health: everything asked for happened" in result.output


def test_quarantined_records_are_one_summary_line_per_source_not_one_per_record(project: Path) -> None:
    """50 rows in a date format nobody declared: one line with the count and the reason, and no
    line per record (the real CLI, in a process of its own, so every log line is seen)."""
    rows = [(str(i), "alice", f"{i % 28 + 1:02d}/01/2026 10:00", "Org A") for i in range(1, 51)]
    write_csv(project / "in" / "dates.csv", [*rows, ("x", "", "2026-01-01T00:00:00Z", "no author")])
    with_source(project, '\n[[sources]]\nname = "dates"\nplatform = "csv"\nfiles = ["in/dates.csv"]\n')

    proc = subprocess.run([sys.executable, "-m", "dissentry", "--config", str(project / "dissentry.toml"),
                           "import", "csv", str(project / "in" / "dates.csv"), "--source", "dates"],
                          capture_output=True, text=True, timeout=300, cwd=REPO)

    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Traceback" not in output
    lines = [x for x in output.splitlines() if "quarantined" in x and "┃" not in x]  # not the runs table
    assert len(lines) == 1, lines
    assert "source dates: 51 records quarantined: 50× " in lines[0]
    assert "cannot read '01/01/2026 10:00' as a timestamp" in lines[0]  # the first example, as it was
    assert "; 1× " in lines[0]  # the row without an author is another kind of reason


# ---- exit codes 2 and 3 ---------------------------------------------------------------------------
def test_report_on_an_empty_warehouse_exits_2_as_sql_does(project: Path) -> None:
    assert cli(project, "sql", "SELECT 1").exit_code == 2
    result = cli(project, "report")
    assert result.exit_code == 2, result.output
    assert "does not exist yet: run `dissentry run`" in result.output

    # built over no posts (transform before anything was normalised): zeros are no report either
    assert cli(project, "transform").exit_code == 0
    result = cli(project, "report")
    assert result.exit_code == 2, result.output
    assert "holds no posts" in result.output


def test_warehouse_busy_exits_3(project: Path) -> None:
    lake = pipeline.lake_for(load_config(project / "dissentry.toml"))
    with exclusive(lake, "build", what="a test holding the build"):
        result = cli(project, "normalise")
    assert result.exit_code == 3, result.output
    assert "warehouse busy" in result.output


# ---- file-system problems: one line naming the path --------------------------------------------------
def one_line_error(result: Result) -> str:
    assert "Traceback" not in result.output, result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("error:")]
    return line


def test_a_warehouse_path_that_is_a_file_is_one_line(project: Path) -> None:
    (project / "wh").write_text("not a folder", encoding="utf-8")
    for command in (["run", "--no-progress"], ["import", "csv", str(project / "in" / "posts.csv")], ["normalise"]):
        result = cli(project, *command)
        assert result.exit_code == 2, result.output
        assert one_line_error(result) == f"error: {project / 'wh'} is a file, not a folder (warehouse_dir must " \
                                         "name a folder)"


def test_verbose_keeps_the_traceback(project: Path) -> None:
    (project / "wh").write_text("not a folder", encoding="utf-8")
    result = runner.invoke(app, ["--verbose", "--config", str(project / "dissentry.toml"), "normalise"])
    assert result.exit_code == 2
    assert "Traceback" in result.output and "NotADirectoryError" in result.output


@pytest.fixture()
def read_only_mount(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "ro", "16m") as mount:
        yield mount


def test_a_read_only_warehouse_is_one_line_and_reading_it_still_works(project: Path, read_only_mount: Path) -> None:
    text = CONFIG.replace('warehouse_dir = "wh"', f'warehouse_dir = "{read_only_mount / "wh"}"')
    (project / "dissentry.toml").write_text(text, encoding="utf-8")
    assert cli(project, "run", "--no-progress").exit_code == 0
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_mount)], check=True)

    result = cli(project, "run", "--no-progress")

    assert result.exit_code == 2, result.output
    line = one_line_error(result)
    assert str(read_only_mount / "wh") in line and "the file system is read-only" in line
    assert cli(project, "report").exit_code == 0  # reading needs no write


def test_permission_denied_is_one_line(tmp_path: Path) -> None:
    """As root, permission is only ever denied without CAP_DAC_OVERRIDE: the CLI runs with it dropped."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to drop the capability that bypasses file modes")
    project = tmp_path / "p"
    write_csv(project / "in" / "posts.csv", ROWS)
    (project / "dissentry.toml").write_text(CONFIG, encoding="utf-8")
    (project / "wh").mkdir(mode=0o555)
    caps = "-dac_override,-dac_read_search"
    proc = subprocess.run(["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}", sys.executable, "-m",
                           "dissentry", "--config", str(project / "dissentry.toml"), "run", "--no-progress"],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    if "Operation not permitted" in proc.stderr and "setpriv" in proc.stderr:
        pytest.skip(f"setpriv cannot drop capabilities here: {proc.stderr.strip()}")

    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"error: {project / 'wh' / '.locks'}: permission denied (check the folder's owner " \
                                  "and mode, or set warehouse_dir to a folder you can write)"


# ---- progress without a TTY -------------------------------------------------------------------------
def test_an_import_without_a_tty_logs_its_progress_in_bytes(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    rows = [(str(i), f"user{i % 7}", "2026-01-02T10:00:00Z", "x" * 200) for i in range(1, 3501)]
    path = write_csv(project / "in" / "big.csv", rows)
    monkeypatch.setattr(pipeline, "PROGRESS_LOG_SECONDS", 0.0)  # every page, not every 10 s
    config = load_config(project / "dissentry.toml")

    with caplog.at_level(logging.INFO, logger="dissentry.progress"):
        row = pipeline.import_export(config, "csv", [path], "posts")

    assert row["records_seen"] == 3500
    lines = [r.getMessage() for r in caplog.records if r.name == "dissentry.progress"]
    assert len(lines) >= 3, lines  # pages of 1,000 rows
    size = f"{path.stat().st_size / 1024:.1f} KB"  # about 800 KB: 3,500 rows of some 230 bytes
    assert all(line.startswith("import posts: ") and f" of {size} (" in line and " left" in line for line in lines)
    shares = [int(line.split("(")[1].split("%")[0]) for line in lines]
    # bytes read over the size: after the first page of 1,000 rows about 1,000/3,500 of the file
    # (plus what the reader buffered ahead), rising to all of it
    assert shares == sorted(shares) and 25 <= shares[0] <= 40 and shares[-1] == 100, lines
