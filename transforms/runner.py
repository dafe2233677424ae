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

A model may declare how it is brought up to date incrementally (issue 12 §1),
one line in the same comments: `-- incremental: post_id` (every row belongs to one post, and is a
function of that post's rows in its post-level inputs and of global tables) or
`-- incremental: period` (rows keyed by a calendar `period`, a period's rows a function of the
post-level inputs' rows of that period). `run_models(..., delta=Delta(...))` then updates such a
model in the database it finds (the previous build): it deletes the changed posts' (or touched
periods') rows and inserts the model's SELECT evaluated over its inputs restricted to them, by
views of the same names in a schema `delta` found first on the search path. Every other model is
rebuilt whole; when one that an incremental model reads changes outside the delta, that model
(and what reads it) is rebuilt whole too, so an increment always equals a full build.
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
from dataclasses import dataclass, field, replace
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
_INCREMENTAL_LINE = re.compile(r"^\s*(?:--|#)\s*incremental:\s*(\S+)\s*$")
INCREMENTAL_KINDS = ("post_id", "period")
DELTA_SCHEMA = "delta"
POST_RELATIONS = ("posts", "post_links", "post_mentions", "post_hashtags")
"""The lake's post-level relations: one or more rows per post, keyed by post_id."""
PERIOD_SOURCE = "stg_posts"
"""The model that gives each post its calendar period (touched periods are read from it)."""
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
    incremental: str | None = None
    """'post_id' or 'period' (its `incremental:` line), None when it is rebuilt whole every run."""
    update: frozenset[str] | None = None
    """Set for one incremental run: build by delete and insert, reading these inputs' deltas."""
    columns_read: tuple[tuple[str, frozenset[str] | None], ...] = ()
    """An incremental SQL model's inputs and the columns it may read of each (None: every one)."""

    def columns_of(self, table: str) -> frozenset[str] | None:
        """The columns the model may read of `table` (None: all, or unknown, as for Python)."""
        return dict(self.columns_read).get(table)

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


def parse_incremental(source: str, where: Path | str = "") -> str | None:
    """The kind a model's `incremental:` line declares, or None."""
    kinds = [m.group(1) for line in source.splitlines() if (m := _INCREMENTAL_LINE.match(line))]
    if not kinds:
        return None
    if len(kinds) > 1 or kinds[0] not in INCREMENTAL_KINDS:
        raise ModelError(f"{where}: bad incremental declaration {kinds!r}: one line, "
                         f"one of {', '.join(INCREMENTAL_KINDS)}")
    return kinds[0]


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
def _base_tables(node: Any, ctes: frozenset[str]) -> Iterator[dict[str, Any]]:
    """The base-table nodes of a serialised query, outside the CTEs in scope.

    A query node's `cte_map` holds the CTEs it defines; their names shadow tables in the node's
    whole subtree (its own CTE bodies included, for WITH RECURSIVE and for a CTE that reads an
    earlier one)."""
    if isinstance(node, list):
        for item in node:
            yield from _base_tables(item, ctes)
        return
    if not isinstance(node, dict):
        return
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict) and cte_map.get("map"):
        ctes = ctes | {entry["key"] for entry in cte_map["map"]}
    if node.get("type") == "BASE_TABLE" and isinstance(node.get("table_name"), str) \
            and node["table_name"] not in ctes:
        yield node
    for value in node.values():
        if isinstance(value, dict | list):
            yield from _base_tables(value, ctes)


def sql_reads(parser: duckdb.DuckDBPyConnection, sql: str, where: str) -> frozenset[str]:
    """The tables a single SELECT reads, by DuckDB's parser (the SQL is parsed, never run)."""
    tree = json.loads(parser.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])
    if tree.get("error"):
        raise ModelError(f"{where} failed: its SELECT does not parse: {tree.get('error_message', tree)}")
    statements = tree.get("statements", [])
    if len(statements) != 1:
        raise ModelError(f"{where} failed: a SQL model is a single SELECT, found {len(statements)} statements")
    # a name with a schema or catalog other than main's is no model: it is left out
    return frozenset(t["table_name"] for t in _base_tables(statements[0], frozenset())
                     if t.get("catalog_name", "") == "" and t.get("schema_name", "") in ("", "main"))


def _direct_tables(node: Any, ctes: frozenset[str]) -> set[str]:
    """The base tables a FROM clause names itself (through joins, not inside subqueries)."""
    if not isinstance(node, dict):
        return set()
    if node.get("type") == "BASE_TABLE":
        name = node.get("table_name")
        return {name} if isinstance(name, str) and name not in ctes else set()
    if node.get("type") == "JOIN":
        return _direct_tables(node.get("left"), ctes) | _direct_tables(node.get("right"), ctes)
    return set()


def _column_use(node: Any, ctes: frozenset[str], scope: set[str], aliases: dict[str, set[str]],
                names: set[str], whole: set[str]) -> None:
    """Collect the column names a query mentions (`names`) and the tables it reads every column
    of (`whole`: a star on them, a star over a FROM that names them, a natural join)."""
    if isinstance(node, list):
        for item in node:
            _column_use(item, ctes, scope, aliases, names, whole)
        return
    if not isinstance(node, dict):
        return
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict) and cte_map.get("map"):
        ctes = ctes | {entry["key"] for entry in cte_map["map"]}
    if node.get("type") == "SELECT_NODE":
        scope = _direct_tables(node.get("from_table"), ctes)
    kind = node.get("class") or node.get("type")
    if kind == "COLUMN_REF" and node.get("column_names"):
        names.add(str(node["column_names"][-1]))
    elif kind == "STAR":
        relation = node.get("relation_name") or ""
        whole.update(aliases.get(relation, set()) if relation else scope)
    elif node.get("type") == "JOIN":
        names.update(str(c) for c in node.get("using_columns") or [])
        if node.get("ref_type") == "NATURAL":
            whole.update(_direct_tables(node, ctes))
    for value in node.values():
        if isinstance(value, dict | list):
            _column_use(value, ctes, scope, aliases, names, whole)


def sql_columns(parser: duckdb.DuckDBPyConnection, sql: str) -> dict[str, frozenset[str] | None]:
    """For each table a SELECT reads, the column names it may read (None: all of them).

    Conservative: a column counts for every table that has a column of that name, whatever its
    qualifier; a star counts for every table it could expand. What an incremental run compares
    of a rebuilt input, so a change to a column the model never reads rebuilds nothing."""
    tree = json.loads(parser.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])
    statement = tree["statements"][0]
    aliases: dict[str, set[str]] = {}  # every name a base table is known by (its alias, else its name)
    for table in _base_tables(statement, frozenset()):
        aliases.setdefault(table.get("alias") or table["table_name"], set()).add(table["table_name"])
    names: set[str] = set()
    whole: set[str] = set()
    _column_use(statement, frozenset(), set(), aliases, names, whole)
    tables = set().union(*aliases.values()) if aliases else set()
    return {t: None if t in whole else frozenset(names) for t in tables}


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


_PARSED: dict[tuple[str, str, str], Model] = {}
"""Models already parsed, by (layer, path, source): a build discovers them more than once (its
fingerprint, then the run), and each discovery would otherwise parse every SELECT again."""


def _parse_model(parser: Callable[[], duckdb.DuckDBPyConnection], name: str, layer: str, path: Path,
                 source: str) -> Model:
    key = (layer, str(path), source)
    if key in _PARSED:
        return _PARSED[key]
    where = f"model {name} ({path})"
    reads = (python_reads(source, str(path)) if path.suffix == ".py"
             else sql_reads(parser(), _select(source), where))
    incremental = parse_incremental(source, path)
    columns = (tuple(sorted(sql_columns(parser(), _select(source)).items(), key=lambda kv: kv[0]))
               if incremental and path.suffix == ".sql" else ())
    model = Model(name, layer, path, source, parse_tests(name, source, path), reads, incremental,
                  columns_read=columns)
    if len(_PARSED) > 10_000:  # test suites write many model folders: never an unbounded cache
        _PARSED.clear()
    _PARSED[key] = model
    return model


def discover_models(models_dir: Path | None = None) -> list[Model]:
    """Every model file under <models_dir>/{staging,intermediate,marts}, with what it reads."""
    root = models_dir or TRANSFORMS_DIR
    models: list[Model] = []
    seen: dict[str, Path] = {}
    connections: list[duckdb.DuckDBPyConnection] = []

    def parser() -> duckdb.DuckDBPyConnection:
        if not connections:
            connections.append(duckdb.connect())  # parses only: no database, no file, nothing run
        return connections[0]

    try:
        for layer in LAYERS:
            for path in _model_files(root, layer):
                name = path.stem
                if not _IDENT.match(name):
                    raise ModelError(f"{path}: a model's file name must be a plain identifier")
                if name in seen:
                    raise ModelError(f"model {name!r} defined twice: {seen[name]} and {path}")
                seen[name] = path
                models.append(_parse_model(parser, name, layer, path, path.read_text(encoding="utf-8")))
    finally:
        for con in connections:
            con.close()
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


def _materialise_python(con: duckdb.DuckDBPyConnection, model: Model, config: Config,
                         insert_where: str | None = None, search_path: str | None = None) -> None:
    table = quote_identifier(model.name)
    view = f"_model_arrow_{model.name}"
    reading = _reading_connection(con)
    try:
        if search_path is not None:  # a session setting: the reading cursor needs its own
            reading.execute("SET search_path = ?", [search_path])
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
            if insert_where is None:
                con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {quote_identifier(view)}")
            else:
                con.execute(f"INSERT INTO main.{table} BY NAME SELECT * FROM {quote_identifier(view)} "
                            f"WHERE {insert_where}")
        except duckdb.Error:
            if pull is not None and pull.error is not None:
                raise pull.error from None
            raise
        finally:
            con.unregister(view)
    finally:
        reading.close()


def _materialise(con: duckdb.DuckDBPyConnection, model: Model, config: Config) -> int:
    """Build one model (whole, or by its increment when `model.update` says so); its row count."""
    if model.update is not None:
        return _update(con, model, config, set(model.update))
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
    return _count(con, model.name)


def _count(con: duckdb.DuckDBPyConnection, name: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM main.{quote_identifier(name)}").fetchall()[0][0])


# ---- incremental builds ------------------------------------------------------------------------------
@dataclass
class Delta:
    """What an incremental run did. Before it, the caller fills the table `CHANGED_POSTS` with the
    post_id of every post added, changed or removed since the build the database holds (removed
    ones matter: their rows must go). The runner fills `updated` (models brought up to date by
    delete and insert), `rebuilt` (models built whole) and, for each incremental model it had to
    rebuild, the reason in `reasons`."""

    updated: list[str] = field(default_factory=list)
    rebuilt: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)


CHANGED_POSTS = _CHANGED = f"{DELTA_SCHEMA}._changed_posts"
_TOUCHED = f"{DELTA_SCHEMA}._touched_periods"


def stage_changed_posts(con: duckdb.DuckDBPyConnection, select: str) -> int:
    """Before an incremental run: the changed posts (`select` gives their post_id); their count."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {DELTA_SCHEMA}")
    con.execute(f"CREATE OR REPLACE TABLE {CHANGED_POSTS} AS SELECT DISTINCT post_id FROM ({select})")
    return int(con.execute(f"SELECT count(*) FROM {CHANGED_POSTS}").fetchall()[0][0])


def drop_delta(con: duckdb.DuckDBPyConnection) -> None:
    """After it: nothing of the increment stays in the database."""
    con.execute(f"DROP SCHEMA IF EXISTS {DELTA_SCHEMA} CASCADE")


def _columns(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' "
                       "AND table_name = ? ORDER BY ordinal_position", [name]).fetchall()
    return [r[0] for r in rows]


def _in_changed(column: str = "post_id") -> str:
    return f"{quote_identifier(column)} IN (SELECT post_id FROM {_CHANGED})"


def _in_touched() -> str:
    return f"period IN (SELECT period FROM {_TOUCHED})"


def _of_touched_periods() -> str:
    """Posts of a touched period, as the build sees them now, and every changed post (a removed
    one has no period any more; its old period is touched all the same)."""
    return (f"(post_id IN (SELECT post_id FROM main.{PERIOD_SOURCE} WHERE {_in_touched()}) "
            f"OR {_in_changed()})")


def _restriction(kind: str, columns: list[str]) -> str | None:
    """The WHERE that keeps an input's rows an increment of this kind reads (None: a global table)."""
    if kind == "post_id":
        return _in_changed() if "post_id" in columns else None
    if "period" in columns:
        return _in_touched()
    return _of_touched_periods() if "post_id" in columns else None


def _uncovered(con: duckdb.DuckDBPyConnection, name: str, previous: str, kind: str,
               read: frozenset[str] | None) -> bool:
    """True when a rebuilt table differs from its previous contents in a row an increment of
    `kind` would not read, in the columns `read` (None: all) its readers of that kind may read:
    then such a reader must be rebuilt whole."""
    columns = _columns(con, name)
    cols = ", ".join(quote_identifier(c) for c in columns if read is None or c in read) or "1"
    outside = _restriction(kind, columns)
    keep = f"WHERE NOT coalesce({outside}, false)" if outside else ""
    t, p = f"main.{quote_identifier(name)}", f"main.{quote_identifier(previous)}"
    new, old = f"SELECT {cols} FROM {t} {keep}", f"SELECT {cols} FROM {p} {keep}"
    sql = f"SELECT EXISTS (({new} EXCEPT ALL {old}) UNION ALL ({old} EXCEPT ALL {new}))"
    return bool(con.execute(sql).fetchall()[0][0])


def _update(con: duckdb.DuckDBPyConnection, model: Model, config: Config, inputs: set[str]) -> int:
    """Delete the model's rows of the delta; insert its SELECT over the delta's inputs."""
    assert model.incremental is not None
    key = "post_id" if model.incremental == "post_id" else "period"
    where = _in_changed() if key == "post_id" else _in_touched()
    views: list[str] = []
    try:
        for name in sorted(inputs):
            restriction = _restriction(model.incremental, _columns(con, name))
            if restriction is None:
                continue
            view = f"{DELTA_SCHEMA}.{quote_identifier(name)}"
            con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM main.{quote_identifier(name)} "
                        f"WHERE {restriction}")
            views.append(view)
        table = f"main.{quote_identifier(model.name)}"
        con.execute(f"DELETE FROM {table} WHERE {where}")
        search_path = f"{DELTA_SCHEMA},main"
        if model.is_python:
            _materialise_python(con, model, config, insert_where=where, search_path=search_path)
        else:
            con.execute("SET search_path = ?", [search_path])
            try:
                # the filter keeps a model honest to its header: a row outside the delta (a
                # spine of every period) would otherwise be inserted a second time
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM (\n{_select(model.source)}\n) "
                            f"AS _increment WHERE {where}")
            finally:
                con.execute("RESET search_path")
    except duckdb.Error as exc:
        raise ModelError(f"{model.describe()} failed (incremental): {exc}") from exc
    except ValueError as exc:
        raise ModelError(f"model {model.name}: {exc}") from exc
    finally:
        for view in views:
            con.execute(f"DROP VIEW IF EXISTS {view}")
    return _count(con, model.name)


def _run_incremental(con: duckdb.DuckDBPyConnection, config: Config, ordered: list[Model], delta: Delta,
                     on_model: Callable[[str, int], None] | None) -> dict[str, int]:
    """Bring the previous build's tables up to date with `delta` (see the module's docstring)."""
    names = {m.name for m in ordered}
    # which kinds of increment read each model, and which of its columns (None: all): a rebuilt
    # model is compared with its previous contents only for them
    readers: dict[str, dict[str, set[str] | None]] = {}
    for m in ordered:
        if m.incremental:
            for name in m.reads & names:
                kinds = readers.setdefault(name, {})
                read = m.columns_of(name)
                if m.incremental in kinds and kinds[m.incremental] is None:
                    continue  # another reader of this kind reads every column already
                kinds[m.incremental] = None if read is None else (kinds.get(m.incremental) or set()) | read
    con.execute(f"CREATE OR REPLACE TABLE {_TOUCHED} (period VARCHAR)")
    if _table_exists(con, PERIOD_SOURCE):  # the periods the changed posts had: touched too
        con.execute(f"INSERT INTO {_TOUCHED} SELECT DISTINCT period FROM main.{PERIOD_SOURCE} "
                    f"WHERE {_in_changed()} AND period IS NOT NULL")
    # models whose contents changed beyond what an increment of each kind reads
    dirty: dict[str, set[str]] = {"post_id": set(), "period": set()}
    counts: dict[str, int] = {}
    for model in ordered:
        inputs = set(model.reads & names) | (set(model.reads) & set(POST_RELATIONS))
        kind = model.incremental
        reason = ""
        if kind is not None:
            if not _table_exists(con, model.name):
                reason = "not in the previous build"
            elif blocked := sorted(inputs & dirty[kind]):
                reason = f"{', '.join(blocked)} changed beyond the new posts"
            elif kind == "post_id" and (by_period := sorted(
                    m.name for m in ordered if m.name in inputs and m.incremental == "period")):
                # a period's figures are no input of one post's rows: nothing says which posts they move
                reason = f"it reads {', '.join(by_period)}, which is kept by period"
        if kind is not None and not reason:
            counts[model.name] = _materialise(con, replace(model, update=frozenset(inputs)), config)
            delta.updated.append(model.name)
        else:
            previous = f"_previous_{model.name}"
            compare = model.name in readers and _table_exists(con, model.name) and kind is None
            if compare:
                con.execute(f"DROP TABLE IF EXISTS main.{quote_identifier(previous)}")
                con.execute(f"ALTER TABLE main.{quote_identifier(model.name)} RENAME TO {quote_identifier(previous)}")
            counts[model.name] = _materialise(con, model, config)
            delta.rebuilt.append(model.name)
            if kind is not None:
                delta.reasons[model.name] = reason
                dirty["post_id"].add(model.name)
                dirty["period"].add(model.name)
            elif model.name in readers:
                for reader_kind, read in readers[model.name].items():
                    if not compare or _uncovered(con, model.name, previous, reader_kind,
                                                 None if read is None else frozenset(read)):
                        dirty[reader_kind].add(model.name)
            if compare:
                con.execute(f"DROP TABLE main.{quote_identifier(previous)}")
        if model.name == PERIOD_SOURCE:  # and the periods they have now
            con.execute(f"INSERT INTO {_TOUCHED} SELECT DISTINCT period FROM main.{PERIOD_SOURCE} "
                        f"WHERE {_in_changed()} AND period IS NOT NULL")
        if on_model is not None:
            on_model(model.name, counts[model.name])
    return counts


def run_models(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    *,
    on_model: Callable[[str, int], None] | None = None,
    check: bool = True,
    models_dir: Path | None = None,
    delta: Delta | None = None,
) -> dict[str, int]:
    """Build every model (table name -> row count, in run order); raise DataTestError on failures.

    With `delta`, `con` holds the previous build and the schema `delta` holds the changed posts
    (`Delta.changed`): incremental models are updated in place, the others rebuilt (module
    docstring). The configuration tables are loaded here, once per build: callers do not load them."""
    models = discover_models(models_dir)
    ordered = execution_order(models)
    load_macros(con)
    load_config_tables(con, config)
    check_inputs(con, models)
    if delta is not None:
        counts = _run_incremental(con, config, ordered, delta, on_model)
    else:
        counts = {}
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
