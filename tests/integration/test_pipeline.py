"""The whole pipeline on real files: bad input, idempotency, the CLI, the DuckDB file."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dissentry import pipeline
from dissentry.cli import app
from dissentry.config import load_config
from dissentry.sample import generate_sample
from tests.hostile.corpus import mastodon_status as status  # one Status shape for every suite
from tests.support.layers import published_normalised
from tests.support.project import ALICE, SAVED, config_toml, group

runner = CliRunner()


CONFIG = config_toml(
    group("org_a", "Org A", aliases=["Org A"], domains=["org-a.example"], accounts=["mastodon:@orga@social.example"],
          members=[ALICE]),
    SAVED,
)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "in").mkdir()
    (tmp_path / "dissentry.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def read_quarantine(root: Path) -> list[dict]:
    files = sorted((root / "wh" / "quarantine").rglob("*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def test_bad_records_are_quarantined_and_good_ones_land(project: Path) -> None:
    lines = [
        json.dumps(status(1)),
        '{"id": "2", "content": "<p>cut',  # malformed JSON
        json.dumps({"id": "3", "note": "an object that is no status"}),
        json.dumps(status(4)),
    ]
    bad_file = project / "in" / "statuses.jsonl"
    bad_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = load_config(project / "dissentry.toml")

    row = pipeline.import_export(config, "mastodon", [bad_file], "saved")

    assert row["records_seen"] == 2
    assert row["records_quarantined"] == 2
    assert row["status"] == "partial"
    quarantined = read_quarantine(project)
    assert sorted(q["locator"] for q in quarantined) == [f"{bad_file}:2", f"{bad_file}:3"]
    assert all(q["reason"] for q in quarantined)
    assert "invalid JSON on line 2" in next(q["reason"] for q in quarantined if q["locator"].endswith(":2"))

    counts = pipeline.normalise(config)
    assert counts["posts"] == 2


def test_truncated_json_array_keeps_the_elements_before_the_cut(project: Path) -> None:
    text = json.dumps([status(i) for i in range(1, 6)])
    cut = project / "in" / "page.json"
    cut.write_text(text[: text.rindex('{"id"') + 40], encoding="utf-8")
    config = load_config(project / "dissentry.toml")

    row = pipeline.import_export(config, "mastodon", [cut], "saved")

    assert row["records_seen"] == 4
    (reason,) = [q["reason"] for q in read_quarantine(project)]
    assert "truncated" in reason


def test_cli_unknown_platform_and_invalid_config_fail_with_one_clear_line(project: Path) -> None:
    good = project / "in" / "ok.jsonl"
    good.write_text(json.dumps(status(1)) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["--config", str(project / "dissentry.toml"), "import", "myspace", str(good)])
    assert result.exit_code == 2
    assert "unknown platform 'myspace'" in result.output

    broken = project / "broken.toml"
    broken.write_text(CONFIG.replace('platform = "mastodon"', 'platform = "myspace"'), encoding="utf-8")
    result = runner.invoke(app, ["--config", str(broken), "run"])
    assert result.exit_code == 2
    assert str(broken) in result.output and "sources[0] (saved).platform" in result.output
    assert "Traceback" not in result.output


def test_wrong_platform_file_is_reported_by_name_and_the_rest_still_lands(project: Path) -> None:
    good = project / "in" / "good.jsonl"
    good.write_text(json.dumps(status(1)) + "\n", encoding="utf-8")
    bluesky = project / "in" / "zz-bluesky.jsonl"
    bluesky.write_text(json.dumps({"post": {"uri": "at://did:plc:x/app.bsky.feed.post/1"}}) + "\n", encoding="utf-8")
    config = load_config(project / "dissentry.toml")

    row = pipeline.import_export(config, "mastodon", ["in/*.jsonl"], "saved")

    assert row["records_seen"] == 1
    assert str(bluesky) in json.loads(row["errors"])[0]
    assert [q["locator"] for q in read_quarantine(project)] == [str(bluesky)]


def _snapshot(root: Path) -> dict[str, list[dict]]:
    """Every normalised table and mart, as sorted rows."""
    out: dict[str, list[dict]] = {}
    files = {f"normalised/{name}": f for name, f in published_normalised(root).items()}
    files |= {str(f.relative_to(root)): f for f in sorted((root / "marts").rglob("*.parquet"))}
    for name, f in files.items():
        rows = pq.read_table(f).to_pylist()
        out[name] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))
    return out


def test_running_the_same_import_twice_changes_nothing_downstream(tmp_path: Path) -> None:
    generate_sample(tmp_path / "data" / "sample", seed=3, scale=0.2)
    repo_config = Path(__file__).resolve().parents[2] / "dissentry.toml"
    (tmp_path / "dissentry.toml").write_text(repo_config.read_text(encoding="utf-8"), encoding="utf-8")
    config = load_config(tmp_path / "dissentry.toml")

    first = pipeline.run(config)
    before = _snapshot(config.warehouse_path)
    second = pipeline.run(config)
    after = _snapshot(config.warehouse_path)

    assert first.ok and second.ok
    assert sum(r["records_new"] for r in first.runs) > 0
    assert sum(r["records_new"] for r in second.runs) == 0
    assert before.keys() == after.keys() and len(before) >= 10
    for name in before:
        assert before[name] == after[name], name

    # every table is queryable by name from the DuckDB file with plain duckdb
    con = duckdb.connect(str(config.warehouse_path / "dissentry.duckdb"), read_only=True)
    try:
        for table in ("posts", "accounts", "group_members", "dissent_frequency", "echo_chamber",
                      "network_mixing", "collection_runs", "quarantine"):
            con.execute(f"SELECT count(*) FROM {table}").fetchone()
        runs = con.execute("SELECT count(*) FROM collection_runs").fetchone()[0]
    finally:
        con.close()
    assert runs == 4  # two sources, two runs

    result = runner.invoke(app, ["--config", str(tmp_path / "dissentry.toml"), "sql",
                                 "SELECT count(*) AS n FROM posts", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["n"] == after_posts(after)


def after_posts(snapshot: dict[str, list[dict]]) -> int:
    return sum(len(rows) for name, rows in snapshot.items() if name.startswith("normalised/posts/"))
