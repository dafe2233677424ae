"""Quoting for the SQL dissentry writes itself: the one place a value or a name becomes SQL text.

Prefer bound parameters (`con.execute("... WHERE x = ?", [value])`). These are for what DuckDB
cannot bind: a view's body (`CREATE VIEW` takes no parameters), `COPY ... TO 'path'`, and the
file lists of `read_parquet([...])` inside SQL that is stored or composed before it runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from os import PathLike


def quote_literal(value: str | PathLike[str]) -> str:
    """A SQL string literal (a single quote in `value` is doubled); a path is written as its text."""
    return "'" + os.fspath(value).replace("'", "''") + "'"


def quote_identifier(name: str) -> str:
    """A SQL identifier, whatever its characters: a double quote in `name` is doubled."""
    return '"' + name.replace('"', '""') + '"'


def literal_list(values: Iterable[str | PathLike[str]]) -> str:
    """A SQL list of string literals, as `read_parquet([...])` takes a list of files."""
    return "[" + ", ".join(quote_literal(v) for v in values) + "]"
