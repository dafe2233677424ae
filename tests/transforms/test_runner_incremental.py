"""The runner's incremental builds (`run_models(..., delta=Delta())`) equal full builds.

A small model folder has every kind: `post_id` models (one reading another), a `period` model
whose SELECT makes a row for every period of a spine (so an increment that did not keep to its
touched periods would insert rows twice), a Python `post_id` model, and models rebuilt whole,
one of them global (per author) and read by a `post_id` model. A database built in full is
changed (new posts, an edited post, a post moved to another month, a removed post, a changed
author) and brought up to date by the increment; a second database is built in full from the
same inputs; every table must then hold the same rows, both ways (EXCEPT ALL).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dissentry.config import Config
from dissentry.transforms.runner import Delta, ModelError, discover_models, drop_delta, run_models, stage_changed_posts
from dissentry.warehouse import catalog


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def models(tmp_path: Path) -> Path:
    write(tmp_path, "staging/stg_posts.sql",
          "-- incremental: post_id\n-- grain: post_id\n"
          "SELECT post_id, author_id, strftime(created_at, '%Y-%m') AS period, text FROM posts\n")
    write(tmp_path, "staging/stg_post_links.sql",
          "-- incremental: post_id\nSELECT DISTINCT post_id, url FROM post_links\n")
    write(tmp_path, "intermediate/int_authors.sql",  # global: whole every run
          "-- grain: author_id\nSELECT author_id, count(*) AS posts, max(a.tier) AS tier\n"
          "FROM stg_posts AS p LEFT JOIN author_tiers AS a USING (author_id) GROUP BY author_id\n")
    write(tmp_path, "intermediate/int_post_words.sql",
          "-- incremental: post_id\n-- grain: post_id\n"
          "SELECT p.post_id, length(p.text) AS chars, count(l.url) AS links, a.tier\n"
          "FROM stg_posts AS p LEFT JOIN stg_post_links AS l ON l.post_id = p.post_id\n"
          "JOIN int_authors AS a ON a.author_id = p.author_id GROUP BY ALL\n")
    write(tmp_path, "intermediate/int_periods.sql", "SELECT DISTINCT period FROM stg_posts\n")
    write(tmp_path, "intermediate/agg_period.sql",
          "-- incremental: period\n-- grain: period\n"
          "SELECT s.period, count(w.post_id) AS posts, coalesce(sum(w.chars), 0) AS chars\n"
          "FROM int_periods AS s LEFT JOIN stg_posts AS p ON p.period = s.period\n"
          "LEFT JOIN int_post_words AS w ON w.post_id = p.post_id GROUP BY s.period\n")
    write(tmp_path, "intermediate/int_shout.py",
          "# incremental: post_id\n# grain: post_id\nimport pyarrow as pa\n\n"
          "DEPENDS_ON = ('stg_posts',)\n\n"
          "def build(con, config):\n"
          "    rows = con.execute('SELECT post_id, upper(text) FROM stg_posts ORDER BY post_id').fetchall()\n"
          "    return pa.table({'post_id': [r[0] for r in rows], 'shout': [r[1] for r in rows]})\n")
    write(tmp_path, "marts/summary.sql",
          "SELECT 'all' AS period, sum(posts) AS posts, sum(chars) AS chars FROM agg_period\n")
    return tmp_path


def _inputs(con: duckdb.DuckDBPyConnection, posts: list[tuple[str, str, str, str]],
            links: list[tuple[str, str]], tiers: list[tuple[str, int]]) -> None:
    con.execute("CREATE OR REPLACE TABLE posts (post_id VARCHAR, author_id VARCHAR, created_at TIMESTAMP, text VARCHAR)")
    con.executemany("INSERT INTO posts VALUES (?, ?, ?::TIMESTAMP, ?)", posts)
    con.execute("CREATE OR REPLACE TABLE post_links (post_id VARCHAR, url VARCHAR)")
    if links:
        con.executemany("INSERT INTO post_links VALUES (?, ?)", links)
    con.execute("CREATE OR REPLACE TABLE author_tiers (author_id VARCHAR, tier INTEGER)")
    con.executemany("INSERT INTO author_tiers VALUES (?, ?)", tiers)


POSTS = [("p1", "a", "2026-01-05", "hello"), ("p2", "a", "2026-01-20", "world"),
         ("p3", "b", "2026-02-02", "more words"), ("p4", "b", "2026-03-02", "gone soon")]
LINKS = [("p1", "https://x.example"), ("p3", "https://y.example")]


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
                                      "ORDER BY 1").fetchall()]


def _assert_equal(ours: duckdb.DuckDBPyConnection, full: duckdb.DuckDBPyConnection) -> None:
    assert _tables(ours) == _tables(full)
    for table in _tables(ours):
        a = ours.sql(f'SELECT * FROM "{table}"').to_arrow_table()
        b = full.sql(f'SELECT * FROM "{table}"').to_arrow_table()
        probe = duckdb.connect()
        probe.register("a", a)
        probe.register("b", b)
        only = probe.execute("SELECT (SELECT count(*) FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b)), "
                             "(SELECT count(*) FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM a))").fetchall()[0]
        assert only == (0, 0), (table, only, a.to_pylist(), b.to_pylist())


def _increment(models: Path, posts: list[tuple[str, str, str, str]], links: list[tuple[str, str]],
               tiers: list[tuple[str, int]], changed: list[str]) -> tuple[Delta, duckdb.DuckDBPyConnection]:
    con = catalog.connect()
    _inputs(con, POSTS, LINKS, [("a", 1), ("b", 2)])
    run_models(con, Config(), models_dir=models)
    _inputs(con, posts, links, tiers)
    stage_changed_posts(con, "SELECT unnest(?::VARCHAR[]) AS post_id".replace("?", repr(changed)))
    delta = Delta()
    run_models(con, Config(), models_dir=models, delta=delta)
    drop_delta(con)
    full = catalog.connect()
    _inputs(full, posts, links, tiers)
    run_models(full, Config(), models_dir=models)
    _assert_equal(con, full)
    return delta, con


def test_an_increment_of_new_edited_moved_and_removed_posts_equals_a_full_build(models: Path) -> None:
    posts = [("p1", "a", "2026-01-05", "hello, edited"),  # edited
             ("p2", "a", "2026-04-20", "world"),  # moved from January to April (a new period)
             ("p3", "b", "2026-02-02", "more words"),  # unchanged, but its link is gone
             ("p5", "b", "2026-02-09", "new")]  # new; p4 removed (March empties)
    delta, con = _increment(models, posts, [("p1", "https://x.example")], [("a", 1), ("b", 2)],
                            ["p1", "p2", "p3", "p4", "p5"])
    assert set(delta.updated) == {"stg_posts", "stg_post_links", "int_post_words", "agg_period", "int_shout"}
    assert delta.reasons == {}
    periods = [r[0] for r in con.execute("SELECT period FROM agg_period ORDER BY 1").fetchall()]
    assert periods == ["2026-01", "2026-02", "2026-04"]  # March gone, April new, none twice


def test_a_global_change_an_increment_reads_rebuilds_its_readers_whole(models: Path) -> None:
    # author b's tier changes: int_post_words reads it for every post of b, not only the changed one
    posts = [*POSTS, ("p6", "a", "2026-01-30", "late")]
    delta, _ = _increment(models, posts, LINKS, [("a", 1), ("b", 3)], ["p6"])
    assert "int_post_words" in delta.reasons and "int_authors" in delta.reasons["int_post_words"]
    assert "agg_period" in delta.reasons  # it reads int_post_words, rebuilt whole
    assert "stg_posts" in delta.updated


def test_a_change_to_a_column_no_increment_reads_rebuilds_nothing(models: Path) -> None:
    # a new post of a: int_authors.posts changes for a, but int_post_words reads only tier
    posts = [*POSTS, ("p6", "a", "2026-01-30", "late")]
    delta, _ = _increment(models, posts, LINKS, [("a", 1), ("b", 2)], ["p6"])
    assert delta.reasons == {} and "int_post_words" in delta.updated


def test_a_bad_incremental_line_names_the_model(tmp_path: Path) -> None:
    write(tmp_path, "staging/bad.sql", "-- incremental: author\nSELECT 1 AS post_id\n")
    with pytest.raises(ModelError, match=r"bad\.sql"):
        discover_models(tmp_path)
