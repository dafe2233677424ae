"""`dissentry sql` is a sandbox by default; `--unsafe` is full DuckDB.

Every escape the issue found, and the obvious variations, must be refused with one line and exit 2,
leaving every file of the warehouse byte for byte as it was and creating nothing outside it. Normal
queries over every table and view of the warehouse still work.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner, Result

from dissentry.cli import app
from dissentry.config import Config
from tests.support.sample_project import built_sample_project

runner = CliRunner()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return built_sample_project(tmp_path_factory.mktemp("sandbox"), seed=5, scale=0.1)


def sql(config: Config, query: str, *extra: str) -> Result:
    return runner.invoke(app, ["--config", str(config.config_path), "sql", query, *extra])


def fingerprint(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".locks" not in p.parts}


def escapes(wh: Path, outside: Path) -> list[str]:
    mart = wh / "marts" / "dissent_frequency.parquet"
    return [
        f"COPY (SELECT 1) TO '{mart}'",  # overwrote a mart before
        f"COPY (SELECT 1) TO '{outside / 'copied.csv'}'",
        f"COPY dissent_frequency TO '{outside / 'copied.parquet'}' (FORMAT parquet)",
        f"SELECT 1; COPY (SELECT 1) TO '{mart}'",  # a second statement
        f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{mart}'",  # EXPLAIN ANALYZE runs what it explains
        f"EXPORT DATABASE '{outside / 'exported'}'",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_blob('/proc/self/environ')",
        f"SELECT * FROM read_text('{wh}/../../../../../../etc/passwd')",  # out through ..
        "SELECT * FROM glob('/root/**')",
        "SELECT * FROM glob('/etc/*')",
        f"ATTACH '{outside / 'other.duckdb'}' AS other",
        "ATTACH ':memory:' AS scratch",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SELECT * FROM read_parquet('http://127.0.0.1:9/x.parquet')",  # no network either
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "RESET lock_configuration",
        "SET allowed_directories = ['/']",
        "PRAGMA enable_profiling",
        "CREATE TABLE mine AS SELECT 1 AS x",
        "CREATE TEMP TABLE mine AS SELECT 1 AS x",
        "DROP TABLE dissent_frequency",
        "CHECKPOINT",
        "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
    ]


def test_every_escape_is_refused_in_one_line_and_changes_nothing(project: Config, tmp_path: Path) -> None:
    wh = project.warehouse_path
    outside = tmp_path / "outside"
    outside.mkdir()
    before = fingerprint(wh)
    probes = escapes(wh, outside)
    for query in probes:
        result = sql(project, query)
        assert result.exit_code == 2, (query, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (query, result.output)
        assert "root:" not in result.output and "Traceback" not in result.output, query
        assert fingerprint(wh) == before, query
        assert list(outside.iterdir()) == [], query
    print(f"\nsql sandbox: {len(probes)} escapes refused")


def test_queries_over_every_table_and_view_still_work(project: Config) -> None:
    db = project.warehouse_path / "dissentry.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT internal AND NOT temporary UNION "
            "SELECT view_name FROM duckdb_views() WHERE NOT internal AND NOT temporary ORDER BY 1").fetchall()]
        expected = {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        con.close()
    assert {"posts", "raw_records", "quarantine", "collection_runs", "dissent_frequency", "echo_chamber"} <= set(names)
    union = " UNION ALL ".join(f"SELECT '{n}' AS name, count(*) AS n FROM \"{n}\"" for n in names)
    result = sql(project, union, "--format", "json")
    assert result.exit_code == 0, result.output
    assert {r["name"]: r["n"] for r in json.loads(result.output)} == expected
    for query in ("DESCRIBE posts", "SHOW TABLES", "EXPLAIN SELECT count(*) FROM posts",
                  "WITH p AS (SELECT * FROM posts) SELECT count(*) FROM p", "SUMMARIZE dissent_frequency",
                  # the warehouse's own files are readable by path
                  f"SELECT count(*) FROM read_parquet('{project.warehouse_path}/marts/dissent_frequency.parquet')"):
        result = sql(project, query, "--format", "csv")
        assert result.exit_code == 0, (query, result.output)


def test_unsafe_is_full_duckdb(project: Config, tmp_path: Path) -> None:
    target = tmp_path / "mine.parquet"
    result = sql(project, f"COPY (SELECT group_id FROM dissent_frequency) TO '{target}'", "--unsafe")
    assert result.exit_code == 0, result.output
    assert target.exists()
    result = sql(project, "SELECT count(*) AS n FROM read_text('/etc/passwd')", "--unsafe", "--format", "csv")
    assert result.exit_code == 0, result.output
