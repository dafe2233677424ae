"""Canonical input tables for transform tests, built from plain rows with the warehouse schemas."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from dissentry.config import Config
from dissentry.transforms.runner import run_models
from dissentry.warehouse import catalog, schema

FETCHED = datetime(2026, 5, 1, tzinfo=UTC)


def ts(day: str) -> datetime:
    """'2026-03-05' or '2026-03-05T10:00' as a UTC datetime."""
    value = datetime.fromisoformat(day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def post(
    post_id: str,
    author_id: str,
    day: str,
    text: str = "",
    *,
    kind: str = "post",
    reply_to: str | None = None,
    repost_of: str | None = None,
    quote_of: str | None = None,
    link_title: str | None = None,
) -> dict[str, Any]:
    return {
        "post_id": post_id,
        "platform": author_id.split(":", 1)[0],
        "author_id": author_id,
        "created_at": ts(day),
        "text": text,
        "lang": "en",
        "url": f"https://example.invalid/{post_id}",
        "kind": kind,
        "reply_to_post_id": f"{reply_to}/post" if reply_to else None,
        "reply_to_author_id": reply_to,
        "repost_of_post_id": f"{repost_of}/post" if repost_of else None,
        "repost_of_author_id": repost_of,
        "quote_of_post_id": f"{quote_of}/post" if quote_of else None,
        "quote_of_author_id": quote_of,
        "link_title": link_title,
        "like_count": 0,
        "repost_count": 0,
        "reply_count": 0,
        "source": "test",
        "fetched_at": FETCHED,
        "run_id": "run-1",
    }


def account(account_id: str, handle: str, bio: str = "", display_name: str = "") -> dict[str, Any]:
    return {
        "account_id": account_id,
        "platform": account_id.split(":", 1)[0],
        "handle": handle,
        "display_name": display_name,
        "bio": bio,
        "followers": 0,
        "following": 0,
        "created_at": ts("2020-01-01"),
        "fetched_at": FETCHED,
    }


def load_inputs(
    con: duckdb.DuckDBPyConnection,
    *,
    posts: Iterable[dict[str, Any]] = (),
    accounts: Iterable[dict[str, Any]] = (),
    links: Iterable[tuple[str, str, str]] = (),
    mentions: Iterable[tuple[str, str, str]] = (),
    hashtags: Iterable[tuple[str, str]] = (),
) -> None:
    """Create the canonical tables in `con` from rows (links: post_id, url, domain; mentions:
    post_id, account_id, handle; hashtags: post_id, tag)."""
    tables = {
        "posts": pa.Table.from_pylist(list(posts), schema=schema.POSTS),
        "accounts": pa.Table.from_pylist(list(accounts), schema=schema.ACCOUNTS),
        "post_links": pa.Table.from_pylist(
            [{"post_id": p, "url": u, "domain": d} for p, u, d in links], schema=schema.POST_LINKS
        ),
        "post_mentions": pa.Table.from_pylist(
            [{"post_id": p, "account_id": a, "handle": h} for p, a, h in mentions], schema=schema.POST_MENTIONS
        ),
        "post_hashtags": pa.Table.from_pylist(
            [{"post_id": p, "tag": t} for p, t in hashtags], schema=schema.POST_HASHTAGS
        ),
    }
    for name, table in tables.items():
        con.register("_input", table)
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _input")
        con.unregister("_input")


def build(config: Config, **inputs: Any) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory warehouse with the inputs loaded and every model run (data tests on)."""
    con = catalog.connect()
    load_inputs(con, **inputs)
    run_models(con, config)
    return con


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    result = con.execute(sql, params or [])
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def config(groups: list[dict[str, Any]], **settings: Any) -> Config:
    return Config.model_validate({"groups": groups, "settings": settings})
