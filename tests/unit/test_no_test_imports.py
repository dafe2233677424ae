"""Nothing outside tests/ imports `tests`: the product, the connectors' contract fakes, the DAGs and the
benchmarks take what they need from `dissentry.testing` (issue 14, item 5).

Every `.py` under the folders below is parsed with `ast` (never imported), so a lazy import inside a
function counts as much as one at the top, and so does `importlib.import_module("tests...")`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("dissentry", "connectors", "transforms", "warehouse", "bench", "dags")


def _is_tests(module: str | None) -> bool:
    return module is not None and (module == "tests" or module.startswith("tests."))


def imports_of_tests(source: str, filename: str = "<string>") -> list[tuple[int, str]]:
    """(line, what) of every import of `tests` or a module under it in `source`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names if _is_tests(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_tests(node.module):
            found.append((node.lineno, f"from {node.module} import ..."))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str) \
                    and _is_tests(node.args[0].value):
                found.append((node.lineno, f"{name}({node.args[0].value!r})"))
    return found


def test_the_checker_finds_every_form_of_import() -> None:
    source = (
        "import json\n"
        "import tests.support.local_server\n"  # 2
        "from tests.reliability import harness\n"  # 3
        "from tests import conftest\n"  # 4
        "from .tests import x\n"  # relative: a sibling package named tests, not the suite
        "import testsuite, tests_helpers\n"  # names that only start with 'tests'
        "def f():\n"
        "    from tests.support.fake_time import FakeTime\n"  # 8: a lazy import
        "    importlib.import_module('tests.support.layers')\n"  # 9
        "    __import__('tests')\n"  # 10
        "    importlib.import_module(name)\n"  # not a constant: cannot be judged, not flagged
    )
    assert [line for line, _ in imports_of_tests(source)] == [2, 3, 4, 8, 9, 10]


def _product_files() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def test_the_walk_covers_the_folders_and_the_contract_fakes() -> None:
    files = {p.relative_to(ROOT).as_posix() for p in _product_files()}
    for folder in FOLDERS:
        assert any(f.startswith(f"{folder}/") for f in files), folder
    assert "connectors/mastodon/fixtures/contract/fake_api.py" in files
    assert "bench/faults.py" in files and "dissentry/testing/server.py" in files


@pytest.mark.parametrize("path", _product_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_file_outside_tests_imports_tests(path: Path) -> None:
    found = imports_of_tests(path.read_text(encoding="utf-8"), str(path))
    assert not found, f"{path.relative_to(ROOT)} imports the test suite: {found}"
