"""Run the SQL models in dependency order, materialise them as tables, then run their data tests.

A model is one file under staging/, intermediate/ or marts/, named after the table it makes:
- `name.sql`: a single SELECT, materialised with `CREATE OR REPLACE TABLE name AS <select>`;
- `name.py`: defines `build(con, config) -> pyarrow.Table`, materialised the same way.

A model depends on another when its text names the other as an identifier (SQL comments are
ignored; a Python model's whole source counts). Macros (macros.sql) are loaded first and the
configuration tables are (re)loaded from `config` before any model runs.

Data tests are declared in a model's comments, one kind per line (`--` in SQL, `#` in Python):

    -- grain: group_id, period          the columns together are unique
    -- not_null: group_id, period       no NULL in each column
    -- range: rate 0 1; ratio 0 inf     non-NULL values within [lo, hi] (1e-9 slack for rounding)
    -- accepted: kind post reply        non-NULL values are among the listed words
    -- check: a <= b                    a SQL condition true (or NULL) on every row
    -- rows_match: other_model          same number of rows as another table
"""

from __future__ import annotations

import graphlib
import importlib.util
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from dissentry.config import Config
from transforms.config_tables import load_config_tables

TRANSFORMS_DIR = Path(__file__).resolve().parent
MACROS_FILE = TRANSFORMS_DIR / "macros.sql"
LAYERS = ("staging", "intermediate", "marts")
MART_NAMES: tuple[str, ...] = (
    "group_members",
    "org_references",
    "reference_stance",
    "stance_evaluation",
    "label_agreement",
    "dissent_frequency",
    "echo_chamber",
    "network_mixing",
)
"""The marts to export and print, in reading order."""

RANGE_SLACK = 1e-9
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TEST_LINE = re.compile(r"^\s*(?:--|#)\s*(grain|not_null|range|accepted|check|rows_match):\s*(.*?)\s*$")
_SQL_COMMENT = re.compile(r"--[^\n]*")


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
        t = _quote(self.table)
        if self.kind == "grain":
            cols = ", ".join(_quote(c) for c in self.columns)
            return f"SELECT count(*) FROM (SELECT {cols} FROM {t} GROUP BY {cols} HAVING count(*) > 1)", []
        if self.kind == "not_null":
            return f"SELECT count(*) FROM {t} WHERE {_quote(self.columns[0])} IS NULL", []
        if self.kind == "range":
            col = _quote(self.columns[0])
            return (
                f"SELECT count(*) FROM {t} WHERE {col} < ?::DOUBLE - {RANGE_SLACK}"
                f" OR {col} > ?::DOUBLE + {RANGE_SLACK} OR isnan({col}::DOUBLE)",
                [self.low, self.high],
            )
        if self.kind == "accepted":
            col = _quote(self.columns[0])
            marks = ", ".join("?" for _ in self.values)
            return f"SELECT count(*) FROM {t} WHERE {col} IS NOT NULL AND {col} NOT IN ({marks})", list(self.values)
        if self.kind == "check":
            return f"SELECT count(*) FROM {t} WHERE NOT coalesce(({self.expression}), true)", []
        if self.kind == "rows_match":
            other = _quote(self.values[0])
            return f"SELECT abs((SELECT count(*) FROM {t}) - (SELECT count(*) FROM {other}))", []
        raise ValueError(f"unknown data test kind {self.kind!r}")


@dataclass(frozen=True)
class Model:
    name: str
    layer: str
    path: Path
    source: str
    tests: tuple[DataTest, ...] = field(default=())

    @property
    def is_python(self) -> bool:
        return self.path.suffix == ".py"

    def searchable_text(self) -> str:
        """The text in which dependencies are looked for (SQL comments removed)."""
        return self.source if self.is_python else _SQL_COMMENT.sub(" ", self.source)


def _quote(identifier: str) -> str:
    if not _IDENT.match(identifier):
        raise ValueError(f"not a plain identifier: {identifier!r}")
    return f'"{identifier}"'


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
        cols = tuple(_split_list(body))
        for c in cols:
            _quote(c)
        if not cols:
            raise ValueError("no columns")
        return [DataTest(table, "grain", columns=cols)]
    if kind == "not_null":
        cols = _split_list(body)
        for c in cols:
            _quote(c)
        return [DataTest(table, "not_null", columns=(c,)) for c in cols]
    if kind == "range":
        out = []
        for spec in body.split(";"):
            if not spec.strip():
                continue
            col, low, high = spec.split()
            _quote(col)
            out.append(DataTest(table, "range", columns=(col,), low=float(low), high=float(high)))
        return out
    if kind == "accepted":
        col, *values = body.split()
        _quote(col)
        if not values:
            raise ValueError("no accepted values")
        return [DataTest(table, "accepted", columns=(col,), values=tuple(values))]
    if kind == "check":
        if not body:
            raise ValueError("empty condition")
        return [DataTest(table, "check", expression=body)]
    if kind == "rows_match":
        _quote(body)
        return [DataTest(table, "rows_match", values=(body,))]
    raise ValueError(f"unknown kind {kind}")


def discover_models(models_dir: Path | None = None) -> list[Model]:
    """Every model file under <models_dir>/{staging,intermediate,marts}."""
    root = models_dir or TRANSFORMS_DIR
    models: list[Model] = []
    seen: dict[str, Path] = {}
    for layer in LAYERS:
        folder = root / layer
        if not folder.is_dir():
            continue
        for path in sorted([*folder.glob("*.sql"), *folder.glob("*.py")]):
            if path.name.startswith("_"):
                continue
            name = path.stem
            if not _IDENT.match(name):
                raise ModelError(f"{path}: a model's file name must be a plain identifier")
            if name in seen:
                raise ModelError(f"model {name!r} defined twice: {seen[name]} and {path}")
            seen[name] = path
            source = path.read_text(encoding="utf-8")
            models.append(Model(name, layer, path, source, parse_tests(name, source, path)))
    return models


def dependencies(models: list[Model]) -> dict[str, set[str]]:
    """For each model, the other models it names."""
    names = [m.name for m in models]
    patterns = {name: re.compile(rf"\b{re.escape(name)}\b") for name in names}
    deps: dict[str, set[str]] = {}
    for model in models:
        text = model.searchable_text()
        deps[model.name] = {n for n in names if n != model.name and patterns[n].search(text)}
    return deps


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


def load_macros(con: duckdb.DuckDBPyConnection, path: Path = MACROS_FILE) -> None:
    con.execute(path.read_text(encoding="utf-8"))


def _load_python_model(model: Model) -> Callable[[duckdb.DuckDBPyConnection, Config], pa.Table]:
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
    return build


def _materialise(con: duckdb.DuckDBPyConnection, model: Model, config: Config) -> int:
    table = _quote(model.name)
    try:
        if model.is_python:
            result = _load_python_model(model)(con, config)
            if isinstance(result, pa.RecordBatchReader):
                result = result.read_all()
            if not isinstance(result, pa.Table):
                raise ModelError(f"{model.path}: build() returned {type(result).__name__}, not a pyarrow.Table")
            view = f"_model_arrow_{model.name}"
            con.register(view, result)
            try:
                con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {_quote(view)}")
            finally:
                con.unregister(view)
        else:
            select = model.source.strip().rstrip(";")
            con.execute(f"CREATE OR REPLACE TABLE {table} AS\n{select}\n")
    except duckdb.Error as exc:
        raise ModelError(f"model {model.name} ({model.path}) failed: {exc}") from exc
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
    """Build every model (table name -> row count, in run order); raise DataTestError on failures."""
    load_macros(con)
    load_config_tables(con, config)
    models = discover_models(models_dir)
    counts: dict[str, int] = {}
    for model in execution_order(models):
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
