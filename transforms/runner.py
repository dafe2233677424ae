"""Run the models in dependency order, materialise them as tables, then run their data tests.

A model is one file under staging/, intermediate/ or marts/, named after the table it makes:
- `name.sql`: a single SELECT, materialised with `CREATE OR REPLACE TABLE name AS <select>`;
- `name.py`: defines `build(con, config)` returning a `pyarrow.RecordBatchReader` (streamed into
  the table batch by batch, so no model's output is held whole in memory) or a `pyarrow.Table`
  (for a small result), and declares `DEPENDS_ON`, the tables it reads.

What a model reads is explicit, as dbt's `ref()` makes it. A SQL model's inputs are the tables its
SELECT names, found by DuckDB's own parser (`json_serialize_sql`: every FROM/JOIN table outside the
CTEs the query defines), so a column, an alias or a comment never counts. A Python model lists
them in `DEPENDS_ON = ("stg_posts", ...)`, read from its source without importing it. An input
that is another model orders the two; any other must exist in the database before the first model
runs (a lake view, a cfg_ table), or the build stops naming the model and the table. Macros
(macros.sql) are loaded first and the configuration tables are (re)loaded from `config`, once.

The marts are the models under marts/ (`mart_names()`): a new file there is built and exported.

Data tests are declared in a model's comments, one kind per line (`--` in SQL, `#` in Python):

    -- grain: group_id, period          the columns together are unique
    -- not_null: group_id, period       no NULL in each column
    -- range: rate 0 1; ratio 0 inf     non-NULL values within [lo, hi] (1e-9 slack for rounding)
    -- accepted: kind post reply        non-NULL values are among the listed words
    -- check: a <= b                    a SQL condition true (or NULL) on every row
    -- rows_match: other_model          same number of rows as another table
"""

from __future__ import annotations

import ast
import graphlib
import importlib.util
import json
import math
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from dissentry.config import Config
from dissentry.transforms.config_tables import load_config_tables
from dissentry.warehouse.catalog import has_relation
from dissentry.warehouse.sql import quote_identifier

TRANSFORMS_DIR = Path(__file__).resolve().parent
MACROS_FILE = TRANSFORMS_DIR / "macros.sql"
LAYERS = ("staging", "intermediate", "marts")
DEPENDS_ON = "DEPENDS_ON"
"""The module-level name under which a Python model lists the tables it reads."""

RANGE_SLACK = 1e-9
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TEST_LINE = re.compile(r"^\s*(?:--|#)\s*(grain|not_null|range|accepted|check|rows_match):\s*(.*?)\s*$")

PythonModelResult = pa.Table | pa.RecordBatchReader


class ModelError(RuntimeError):
    """A model could not be built; the message names the model and its file."""


class DataTestError(RuntimeError):
    """Some data tests failed after the models ran."""

    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        super().__init__(f"{len(failures)} data test(s) failed:\n  " + "\n  ".join(failures))


@dataclass(frozen=True)
class DataTest:
    table: str
    kind: str
    columns: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    low: float = -math.inf
    high: float = math.inf
    expression: str = ""

    def describe(self) -> str:
        if self.kind == "grain":
            return f"grain ({', '.join(self.columns)})"
        if self.kind == "range":
            return f"range {self.columns[0]} in [{self.low}, {self.high}]"
        if self.kind == "accepted":
            return f"accepted {self.columns[0]} in {{{', '.join(self.values)}}}"
        if self.kind == "check":
            return f"check {self.expression}"
        if self.kind == "rows_match":
            return f"rows_match {self.values[0]}"
        return f"{self.kind} {self.columns[0]}"

    def query(self) -> tuple[str, list[object]]:
        """SQL returning the number of offending rows (or keys), and its parameters."""
        q = quote_identifier
        t = q(self.table)
        if self.kind == "grain":
            cols = ", ".join(q(c) for c in self.columns)
            return f"SELECT count(*) FROM (SELECT {cols} FROM {t} GROUP BY {cols} HAVING count(*) > 1)", []
        if self.kind == "not_null":
            return f"SELECT count(*) FROM {t} WHERE {q(self.columns[0])} IS NULL", []
        if self.kind == "range":
            col = q(self.columns[0])
            return (
                f"SELECT count(*) FROM {t} WHERE {col} < ?::DOUBLE - {RANGE_SLACK}"
                f" OR {col} > ?::DOUBLE + {RANGE_SLACK} OR isnan({col}::DOUBLE)",
                [self.low, self.high],
            )
        if self.kind == "accepted":
            col = q(self.columns[0])
            marks = ", ".join("?" for _ in self.values)
            return f"SELECT count(*) FROM {t} WHERE {col} IS NOT NULL AND {col} NOT IN ({marks})", list(self.values)
        if self.kind == "check":
            return f"SELECT count(*) FROM {t} WHERE NOT coalesce(({self.expression}), true)", []
        if self.kind == "rows_match":
            other = q(self.values[0])
            return f"SELECT abs((SELECT count(*) FROM {t}) - (SELECT count(*) FROM {other}))", []
        raise ValueError(f"unknown data test kind {self.kind!r}")


@dataclass(frozen=True)
class Model:
    name: str
    layer: str
    path: Path
    source: str
    tests: tuple[DataTest, ...] = field(default=())
    reads: frozenset[str] = field(default=frozenset())
    """Every table the model reads: other models, and tables that exist before any model runs."""

    @property
    def is_python(self) -> bool:
        return self.path.suffix == ".py"

    def describe(self) -> str:
        return f"model {self.name} ({self.path})"


def _plain(identifier: str) -> str:
    """`identifier` when it is a plain one; a data test or a model's name may be nothing else."""
    if not _IDENT.match(identifier):
        raise ValueError(f"not a plain identifier: {identifier!r}")
    return identifier


def _split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_tests(table: str, source: str, where: Path | str = "") -> tuple[DataTest, ...]:
    """The data tests declared in a model's comment lines."""
    tests: list[DataTest] = []
    for line in source.splitlines():
        match = _TEST_LINE.match(line)
        if not match:
            continue
        kind, body = match.groups()
        try:
            tests.extend(_parse_test(table, kind, body))
        except (ValueError, IndexError) as exc:
            raise ModelError(f"{where}: bad data test declaration {line.strip()!r}: {exc}") from None
    return tuple(tests)


def _parse_test(table: str, kind: str, body: str) -> list[DataTest]:
    if kind == "grain":
        cols = tuple(_plain(c) for c in _split_list(body))
        if not cols:
            raise ValueError("no columns")
        return [DataTest(table, "grain", columns=cols)]
    if kind == "not_null":
        return [DataTest(table, "not_null", columns=(_plain(c),)) for c in _split_list(body)]
    if kind == "range":
        out = []
        for spec in body.split(";"):
            if not spec.strip():
                continue
            col, low, high = spec.split()
            out.append(DataTest(table, "range", columns=(_plain(col),), low=float(low), high=float(high)))
        return out
    if kind == "accepted":
        col, *values = body.split()
        if not values:
            raise ValueError("no accepted values")
        return [DataTest(table, "accepted", columns=(_plain(col),), values=tuple(values))]
    if kind == "check":
        if not body:
            raise ValueError("empty condition")
        return [DataTest(table, "check", expression=body)]
    if kind == "rows_match":
        return [DataTest(table, "rows_match", values=(_plain(body),))]
    raise ValueError(f"unknown kind {kind}")


# ---- what a model reads ------------------------------------------------------------------------------
def _tables_in(node: Any, ctes: frozenset[str], out: set[str]) -> None:
    """Collect the unqualified base tables a serialised query names, outside the CTEs in scope.

    A query node's `cte_map` holds the CTEs it defines; their names shadow tables in the node's
    whole subtree (its own CTE bodies included, for WITH RECURSIVE and for a CTE that reads an
    earlier one). A name with a schema or catalog other than main's is no model: it is left out."""
    if isinstance(node, list):
        for item in node:
            _tables_in(item, ctes, out)
        return
    if not isinstance(node, dict):
        return
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict) and cte_map.get("map"):
        ctes = ctes | {entry["key"] for entry in cte_map["map"]}
    if node.get("type") == "BASE_TABLE" and isinstance(node.get("table_name"), str):
        name = node["table_name"]
        if node.get("catalog_name", "") == "" and node.get("schema_name", "") in ("", "main") and name not in ctes:
            out.add(name)
    for value in node.values():
        if isinstance(value, dict | list):
            _tables_in(value, ctes, out)


def sql_reads(parser: duckdb.DuckDBPyConnection, sql: str, where: str) -> frozenset[str]:
    """The tables a single SELECT reads, by DuckDB's parser (the SQL is parsed, never run)."""
    tree = json.loads(parser.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])
    if tree.get("error"):
        raise ModelError(f"{where} failed: its SELECT does not parse: {tree.get('error_message', tree)}")
    statements = tree.get("statements", [])
    if len(statements) != 1:
        raise ModelError(f"{where} failed: a SQL model is a single SELECT, found {len(statements)} statements")
    found: set[str] = set()
    _tables_in(statements[0], frozenset(), found)
    return frozenset(found)


def python_reads(source: str, where: str) -> frozenset[str]:
    """A Python model's `DEPENDS_ON`, read from its source: a literal tuple or list of table names."""
    tree = ast.parse(source, where)
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == DEPENDS_ON for t in targets) and node.value is not None:
            try:
                names = ast.literal_eval(node.value)
            except ValueError:
                names = None
            if not isinstance(names, tuple | list) or not all(isinstance(n, str) for n in names):
                raise ModelError(f"{where}: {DEPENDS_ON} must be a literal tuple of table names")
            try:
                return frozenset(_plain(n) for n in names)
            except ValueError as exc:
                raise ModelError(f"{where}: {DEPENDS_ON}: {exc}") from None
    raise ModelError(f"{where}: a Python model must declare {DEPENDS_ON} = (...), the tables it reads "
                     "(an empty tuple when it reads none)")


def _select(source: str) -> str:
    return source.strip().rstrip(";")


def _model_files(root: Path, layer: str) -> list[Path]:
    folder = root / layer
    if not folder.is_dir():
        return []
    return [p for p in sorted([*folder.glob("*.sql"), *folder.glob("*.py")]) if not p.name.startswith("_")]


def discover_models(models_dir: Path | None = None) -> list[Model]:
    """Every model file under <models_dir>/{staging,intermediate,marts}, with what it reads."""
    root = models_dir or TRANSFORMS_DIR
    models: list[Model] = []
    seen: dict[str, Path] = {}
    parser = duckdb.connect()  # parses only: no database, no file, nothing run
    try:
        for layer in LAYERS:
            for path in _model_files(root, layer):
                name = path.stem
                if not _IDENT.match(name):
                    raise ModelError(f"{path}: a model's file name must be a plain identifier")
                if name in seen:
                    raise ModelError(f"model {name!r} defined twice: {seen[name]} and {path}")
                seen[name] = path
                source = path.read_text(encoding="utf-8")
                where = f"model {name} ({path})"
                reads = (python_reads(source, str(path)) if path.suffix == ".py"
                         else sql_reads(parser, _select(source), where))
                models.append(Model(name, layer, path, source, parse_tests(name, source, path), reads))
    finally:
        parser.close()
    return models


def mart_names(models_dir: Path | None = None) -> tuple[str, ...]:
    """The marts: every model file under marts/, by name (as discovery names them). These are
    exported to Parquet, so a new file there needs no list kept by hand."""
    return tuple(path.stem for path in _model_files(models_dir or TRANSFORMS_DIR, "marts"))


def __getattr__(name: str) -> tuple[str, ...]:
    """`MART_NAMES`, the project's own marts: `mart_names()`, read from the folder when asked for
    (PEP 562), so it is never a list that can fall behind the files."""
    if name == "MART_NAMES":
        return mart_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def dependencies(models: list[Model]) -> dict[str, set[str]]:
    """For each model, the other models it reads."""
    names = {m.name for m in models}
    return {m.name: set(m.reads & names) for m in models}


def execution_order(models: list[Model]) -> list[Model]:
    """Models sorted so each comes after every model it depends on (ties: layer, then name)."""
    by_name = {m.name: m for m in models}
    rank = {m.name: (LAYERS.index(m.layer), m.name) for m in models}
    sorter = graphlib.TopologicalSorter(dependencies(models))
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        raise ModelError(f"models depend on each other in a cycle: {' -> '.join(exc.args[1])}") from None
    ordered: list[Model] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=rank.__getitem__)
        for name in ready:
            ordered.append(by_name[name])
            sorter.done(name)
    return ordered


def check_inputs(con: duckdb.DuckDBPyConnection, models: list[Model]) -> None:
    """Every table a model reads is another model or is in the database already; else ModelError."""
    names = {m.name for m in models}
    for model in models:
        for table in sorted(model.reads - names):
            if not has_relation(con, table):
                raise ModelError(f"{model.describe()} failed: it reads {table!r}, which is neither a model "
                                 "nor a table or view in the database")


# ---- building ----------------------------------------------------------------------------------------
def load_macros(con: duckdb.DuckDBPyConnection, path: Path = MACROS_FILE) -> None:
    con.execute(path.read_text(encoding="utf-8"))


def _load_python_model(model: Model) -> Callable[[duckdb.DuckDBPyConnection, Config], PythonModelResult]:
    spec = importlib.util.spec_from_file_location(f"transforms_model_{model.name}", model.path)
    if spec is None or spec.loader is None:
        raise ModelError(f"{model.path}: cannot load Python model")
    module = importlib.util.module_from_spec(spec)
    # registered before it runs, as importlib's recipe does: dataclasses and pickling look it up
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    build = getattr(module, "build", None)
    if not callable(build):
        raise ModelError(f"{model.path}: a Python model must define build(con, config)")
    return build  # type: ignore[no-any-return]


def _reading_connection(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A second connection to the same database, for a Python model to read through.

    A RecordBatchReader is pulled by the CREATE TABLE that consumes it, and a query may not run
    another on its own connection; the cursor sees the same tables, views and macros. TimeZone
    is the one session setting catalog.connect() makes, so the cursor gets it too."""
    reader = con.cursor()
    reader.execute("SET TimeZone = ?", [con.execute("SELECT current_setting('TimeZone')").fetchall()[0][0]])
    return reader


class _Pull:
    """The model's batches, as DuckDB pulls them; an error raised by the model's own code is kept,
    so it surfaces as itself rather than wrapped in DuckDB's message about the stream."""

    def __init__(self, reader: pa.RecordBatchReader) -> None:
        self.error: Exception | None = None
        self.stream = pa.RecordBatchReader.from_batches(reader.schema, self._batches(reader))

    def _batches(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except Exception as exc:
            self.error = exc
            raise


def _materialise_python(con: duckdb.DuckDBPyConnection, model: Model, config: Config) -> None:
    table = quote_identifier(model.name)
    view = f"_model_arrow_{model.name}"
    reading = _reading_connection(con)
    try:
        result = _load_python_model(model)(reading, config)
        pull: _Pull | None = None
        source: PythonModelResult
        if isinstance(result, pa.RecordBatchReader):
            pull = _Pull(result)
            source = pull.stream
        elif isinstance(result, pa.Table):
            source = result
        else:
            raise ModelError(f"{model.path}: build() returned {type(result).__name__}, "
                             "not a pyarrow.RecordBatchReader or pyarrow.Table")
        con.register(view, source)
        try:
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {quote_identifier(view)}")
        except duckdb.Error:
            if pull is not None and pull.error is not None:
                raise pull.error from None
            raise
        finally:
            con.unregister(view)
    finally:
        reading.close()


def _materialise(con: duckdb.DuckDBPyConnection, model: Model, config: Config) -> int:
    table = quote_identifier(model.name)
    try:
        if model.is_python:
            _materialise_python(con, model, config)
        else:
            con.execute(f"CREATE OR REPLACE TABLE {table} AS\n{_select(model.source)}\n")
    except duckdb.Error as exc:
        raise ModelError(f"{model.describe()} failed: {exc}") from exc
    except ValueError as exc:  # a Python model refusing its input or settings says why in one line
        raise ModelError(f"model {model.name}: {exc}") from exc
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def run_models(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    *,
    on_model: Callable[[str, int], None] | None = None,
    check: bool = True,
    models_dir: Path | None = None,
) -> dict[str, int]:
    """Build every model (table name -> row count, in run order); raise DataTestError on failures.

    The configuration tables are loaded here, once per build: callers do not load them."""
    models = discover_models(models_dir)
    ordered = execution_order(models)
    load_macros(con)
    load_config_tables(con, config)
    check_inputs(con, models)
    counts: dict[str, int] = {}
    for model in ordered:
        counts[model.name] = _materialise(con, model, config)
        if on_model is not None:
            on_model(model.name, counts[model.name])
    if check:
        failures = run_data_tests(con, models=models)
        if failures:
            raise DataTestError(failures)
    return counts


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = current_schema()", [name]
    ).fetchall()
    return bool(rows[0][0])


def run_data_tests(
    con: duckdb.DuckDBPyConnection, *, models: list[Model] | None = None, models_dir: Path | None = None
) -> list[str]:
    """Run every declared data test; one message per failing test, empty when all pass."""
    failures: list[str] = []
    for model in models if models is not None else discover_models(models_dir):
        if not model.tests:
            continue
        if not _table_exists(con, model.name):
            failures.append(f"{model.name}: table does not exist (has the model run?)")
            continue
        for test in model.tests:
            sql, params = test.query()
            try:
                value = con.execute(sql, params).fetchall()[0][0]
            except duckdb.Error as exc:
                failures.append(f"{model.name}: {test.describe()}: could not run: {exc}")
                continue
            bad = int(value or 0)
            if bad:
                unit = {"grain": "duplicate keys", "rows_match": "rows differ"}.get(test.kind, "rows")
                failures.append(f"{model.name}: {test.describe()} failed: {bad} {unit}")
    return failures
