"""A lower layer never imports a higher one, and no module imports itself round a circle (issue 14 §1).

Every module of dissentry/, connectors/, transforms/ and warehouse/ is parsed with `ast` (nothing
is imported, so a broken import cannot hide another), and every import in it counts: at the top,
inside a function (a lazy import) or under `if TYPE_CHECKING:` (a type-only one is still a
dependency, and the issue's circle runs through one). `importlib.import_module` by a string (the
connector registry, a configured classifier) is not seen.

LAYERS below says, bottom first, which layer each module belongs to, by the longest matching
prefix. A module may import its own layer and any layer of a lower rank; never a higher rank, and
never a peer (another layer of its rank). Today's code breaks that in the places KNOWN_VIOLATIONS
lists, each with its reason: the tests pass with them, fail on any new upward or circular import or
misplaced module, and fail too when a listed one is gone, so that the list shrinks as the code is
fixed. docs/architecture.md ("Layers, as built") draws the same table.
"""

from __future__ import annotations

import ast
import fnmatch
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROOTS = ("dissentry", "connectors", "transforms", "warehouse")

# (layer, rank, module patterns, the import roots its modules should live under), bottom first
LAYERS: list[tuple[str, int, tuple[str, ...], tuple[str, ...]]] = [
    # what every layer may use: build progress, how a term matches text, the secrets lookup
    ("core", 0, ("dissentry.build_progress", "dissentry.terms", "dissentry.secrets"), ("dissentry",)),
    # the platforms, the one HTTP client, the registry, and what identifies an account (identity)
    ("connectors", 1, ("dissentry.connectors",), ("connectors",)),
    ("warehouse", 1, ("dissentry.warehouse",), ("warehouse",)),  # the lake's folders, schemas, catalog, lock
    # the configuration and what it decides: it validates a source's options with its connector, so it
    # sits above the connectors; privacy (the pseudonymiser a config names) and DuckDB's resources
    ("settings", 2, ("dissentry.config", "dissentry.privacy", "dissentry.resources"), ("dissentry",)),
    # raw -> normalised, and the steps that rewrite those layers (erasure, retention)
    ("normalise", 3, ("dissentry.normalise", "dissentry.erasure", "dissentry.retention"), ("dissentry",)),
    ("transforms", 3, ("dissentry.transforms",), ("transforms",)),  # the models runner and its Python models
    # CLI, pipeline steps, ingestion (it runs the erasure guard), the CLI's progress bars,
    # orchestration, API, report, labels, export, sample, health
    ("application", 4, ("dissentry", "dissentry.ingest", "dissentry.progress_bars", "dissentry.orchestration"),
     ("dissentry",)),
    # the published fake platforms, and the contract fakes of each connector that use them
    ("testing", 5, ("dissentry.testing", "dissentry.connectors.*.fixtures"), ("dissentry", "connectors")),
]

KNOWN_VIOLATIONS: dict[str, str] = {}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (for `from m import name`, m.name when that is a module, else m)
    where: str  # file:line, from the repository's root
    how: str  # "top", "lazy" (inside a function) or "type-only" (under `if TYPE_CHECKING:`)

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.where}, {self.how})"


def modules(root: Path) -> dict[str, Path]:
    """Every module below the import roots, by dotted name: connectors/, transforms/ and warehouse/
    are imported as dissentry.connectors and so on (dissentry/ holds a symlink to each)."""
    found: dict[str, Path] = {}
    for top in ROOTS:
        for path in sorted((root / top).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if top == "dissentry" and len(parts) > 1 and parts[1] in ROOTS:
                continue  # the symlinked folder, walked under its own name
            if top != "dissentry":
                parts.insert(0, "dissentry")
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name | ast.Attribute) and ast.unparse(node.test).endswith("TYPE_CHECKING")


def _imports_in(nodes: list[ast.AST], how: str) -> list[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement below `nodes`, with how it runs: inside a function it is lazy; under
    `if TYPE_CHECKING:` it never runs (type-only); anywhere else (a class body, a `try`) it is top."""
    out: list[tuple[ast.Import | ast.ImportFrom, str]] = []
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.append((node, how))
        elif isinstance(node, ast.If) and _type_checking(node):
            out += _imports_in(list(node.body), "type-only") + _imports_in(list(node.orelse), how)
        else:
            lazy = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            out += _imports_in(list(ast.iter_child_nodes(node)), "lazy" if lazy else how)
    return out


def imports(root: Path) -> list[Import]:
    """Every import from one module of the roots to another (not counting the parent packages an
    import runs on the way: their `__init__` files are empty or lazy)."""
    known = modules(root)
    found: list[Import] = []
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node, how in _imports_in(list(tree.body), "top"):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                    module = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    module = node.module or ""
                targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
            for target in dict.fromkeys(targets):
                while target not in known and "." in target:  # `import a.b.c` of a name: its module
                    target = target.rsplit(".", 1)[0]
                if target in known and target != name:
                    found.append(Import(name, target, f"{path.relative_to(root)}:{node.lineno}", how))
    return found


def layer_of(module: str) -> tuple[str, int, tuple[str, ...]]:
    """The layer whose most specific pattern matches the module."""
    best: tuple[int, tuple[str, int, tuple[str, ...]]] | None = None
    for layer, rank, patterns, homes in LAYERS:
        for pattern in patterns:
            if fnmatch.fnmatchcase(module, pattern) or fnmatch.fnmatchcase(module, pattern + ".*"):
                specificity = pattern.count(".") + 1
                if best is None or specificity > best[0]:
                    best = (specificity, (layer, rank, homes))
    assert best is not None, f"{module} has no layer in LAYERS"
    return best[1]


def upward(found: list[Import]) -> dict[str, Import]:
    out: dict[str, Import] = {}
    for imp in found:
        (src_layer, src_rank, _), (dst_layer, dst_rank, _) = layer_of(imp.source), layer_of(imp.target)
        if dst_layer != src_layer and dst_rank >= src_rank:
            out.setdefault(f"upward: {imp.source} -> {imp.target}", imp)
    return out


def circular(found: list[Import]) -> dict[str, Import]:
    """Every import that lies on a circle: both ends in one strongly connected component (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for imp in found:
        graph.setdefault(imp.source, set()).add(imp.target)
        graph.setdefault(imp.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    component: dict[str, int] = {}

    def visit(node: str) -> None:  # recursion depth is bounded by the ~80 modules
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt not in component:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            while True:
                member = stack.pop()
                component[member] = index[node]
                if member == node:
                    break

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return {f"circular: {imp.source} -> {imp.target}": imp for imp in found
            if component[imp.source] == component[imp.target]}


def misplaced(root: Path) -> set[str]:
    # the folder a module's file is in, at the top of the repository, against its layer's folders
    return {f"misplaced: {m}" for m, path in modules(root).items()
            if path.relative_to(root).parts[0] not in layer_of(m)[2]}


def violations(root: Path) -> tuple[dict[str, Import], set[str]]:
    found = imports(root)
    return {**upward(found), **circular(found)}, misplaced(root)


def _new(root: Path, kind: str) -> list[str]:
    edges, moved = violations(root)
    return sorted([str(imp) for key, imp in edges.items() if key.startswith(kind) and key not in KNOWN_VIOLATIONS]
                  + [key for key in moved if key.startswith(kind) and key not in KNOWN_VIOLATIONS])


# ---- the code as it is -------------------------------------------------------------------------------
def test_the_walk_sees_the_imports_it_should() -> None:
    found = {(i.source, i.target, i.how) for i in imports(REPO)}
    assert ("dissentry.pipeline", "dissentry.warehouse.lake", "top") in found
    assert ("dissentry.pipeline", "dissentry.transforms.runner", "lazy") in found  # inside a function
    assert ("dissentry.connectors.base", "dissentry.connectors.http", "type-only") in found
    assert ("dissentry.connectors.registry", "dissentry.connectors.base", "top") in found
    assert len(found) > 150
    for module in modules(REPO):
        layer_of(module)  # every module has a layer


def test_no_new_upward_import() -> None:
    new = _new(REPO, "upward")
    assert not new, "an import from a lower layer to a higher one (or to a peer), see LAYERS:\n" + "\n".join(new)


def test_no_new_circular_import() -> None:
    new = _new(REPO, "circular")
    assert not new, "an import on a circle of imports:\n" + "\n".join(new)


def test_no_new_module_outside_its_layers_folder() -> None:
    new = _new(REPO, "misplaced")
    assert not new, "a module of a layer that lives under another import root, see LAYERS:\n" + "\n".join(new)


def test_every_known_violation_is_still_there() -> None:
    edges, moved = violations(REPO)
    gone = sorted(set(KNOWN_VIOLATIONS) - set(edges) - moved)
    assert not gone, "fixed, so take it out of KNOWN_VIOLATIONS (and docs/architecture.md):\n" + "\n".join(gone)


# ---- the walk itself can fail --------------------------------------------------------------------------
def test_an_upward_a_circular_and_a_misplaced_module_are_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no module is misplaced today: say identity were core, as it once was, though it lives in connectors/
    core = ("core", 0, (*LAYERS[0][2], "dissentry.connectors.identity"), LAYERS[0][3])
    monkeypatch.setattr(__name__ + ".LAYERS", [core, *LAYERS[1:]])
    files = {
        "dissentry/__init__.py": "",
        "dissentry/config.py": "def load():\n    from dissentry.cli import app  # lazy, and upward\n    return app\n",
        "dissentry/cli.py": "from dissentry.config import load\napp = load\n",
        "warehouse/__init__.py": "",
        "warehouse/lake.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import schema\n",
        "warehouse/schema.py": "from dissentry.warehouse.lake import *\n",
        "connectors/__init__.py": "",
        "connectors/identity.py": "",
        "transforms/__init__.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    edges, moved = violations(tmp_path)
    assert set(edges) == {
        "upward: dissentry.config -> dissentry.cli",
        "circular: dissentry.config -> dissentry.cli", "circular: dissentry.cli -> dissentry.config",
        "circular: dissentry.warehouse.lake -> dissentry.warehouse.schema", "circular: dissentry.warehouse.schema -> dissentry.warehouse.lake",
    }
    assert edges["upward: dissentry.config -> dissentry.cli"].how == "lazy"
    assert edges["circular: dissentry.warehouse.lake -> dissentry.warehouse.schema"].how == "type-only"  # a relative import, too
    assert moved == {"misplaced: dissentry.connectors.identity"}


def test_one_import_root() -> None:
    """connectors/, transforms/ and warehouse/ are imported as dissentry.connectors and so on, never by
    their folder's bare name: the same file imported under two names is two modules (two registries, two
    exception classes that do not catch each other)."""
    bare = ("connectors", "transforms", "warehouse")
    found = []
    for top in ("dissentry", *bare, "tests", "bench", "dags", "scripts"):
        for path in sorted((REPO / top).rglob("*.py")):
            if top == "dissentry" and path.relative_to(REPO / top).parts[0] in bare:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
                found += [f"{path.relative_to(REPO)}:{node.lineno} {n}" for n in names if n.split(".")[0] in bare]
    assert not found, "import these as dissentry.<name>:\n" + "\n".join(found)
