"""`dissentry new-connector`: the scaffold is registered and the contract suite fails until it is filled in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dissentry.cli import app

REPO = Path(__file__).resolve().parents[2]


def copy_repo(dest: Path) -> Path:
    for part in ("connectors", "dissentry", "warehouse", "transforms", "tests", "pyproject.toml"):
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dest / part, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dest / part)
    return dest


def test_new_connector_is_registered_and_fails_the_contract_until_filled_in(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    result = CliRunner().invoke(app, ["new-connector", "myforum", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert (root / "connectors" / "myforum" / "mapping.sql").is_file()
    assert '"myforum": "dissentry.connectors.myforum.connector:MyforumConnector"' in (root / "connectors" / "registry.py").read_text()

    env = {**os.environ, "PYTHONPATH": str(root)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/contract", "-k", "myforum"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )
    summary = run.stdout.strip().splitlines()[-1]
    assert run.returncode == 1, run.stdout[-3000:]
    assert "failed" in summary and "passed" in summary  # it loads and binds; the unfilled parts fail
    # the suite ran the copy, not the installed tree: the copy's interpreter setup resolves it there
    where = subprocess.run(
        [sys.executable, "-c", "import dissentry.connectors.myforum.connector as m, dissentry.connectors.registry as r; "
         "print(m.__file__); print(r.__file__)"],
        cwd=root, env=env, capture_output=True, text=True, timeout=60,
    )
    assert where.returncode == 0, where.stderr[-2000:]
    assert all(line.startswith(str(root)) for line in where.stdout.split()), where.stdout


@pytest.mark.parametrize(("name", "message"), [("Bad-Name", "use 2-31 lower-case"), ("mastodon", "already exists")])
def test_new_connector_refuses_bad_or_taken_names(tmp_path: Path, name: str, message: str) -> None:
    root = copy_repo(tmp_path / "repo")
    result = CliRunner().invoke(app, ["new-connector", name, "--root", str(root)])
    assert result.exit_code == 2
    assert message in result.output
