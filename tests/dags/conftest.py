"""Airflow for the DAG tests: a migrated SQLite metadata DB per test, all state under tmp_path.

Airflow runs in child processes (tests/dags/run_dag.py): it reads AIRFLOW_HOME once, at import,
and configures logging process-wide, so importing it into the pytest process would tie every test
to the first AIRFLOW_HOME and change logging for the rest of the suite.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
AIRFLOW_TIMEOUT = 180  # seconds; a hung run fails the test instead of the suite


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without the `airflow` extra these tests cannot run: say so instead of failing."""
    if importlib.util.find_spec("airflow") is not None:
        return
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason="Apache Airflow is not installed (pip install -e '.[airflow]')")
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(skip)


def _airflow_env(home: Path) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
    }


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`airflow db migrate` once; each test gets a copy of the result."""
    home = tmp_path_factory.mktemp("airflow-template")
    env = {**os.environ, **_airflow_env(home)}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        env=env, cwd=home, capture_output=True, text=True, timeout=AIRFLOW_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return home / "airflow.db"


@pytest.fixture
def airflow_home(tmp_path: Path, migrated_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "airflow"
    home.mkdir()
    shutil.copy(migrated_db, home / "airflow.db")
    for name, value in _airflow_env(home).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DISSENTRY_CONFIG", raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_DISSENTRY_CONFIG", raising=False)
    return home


AirflowRun = Callable[..., tuple[dict[str, Any], str]]


@pytest.fixture
def airflow_run(airflow_home: Path) -> AirflowRun:
    """Run tests/dags/run_dag.py with the current environment; return (its result, its output)."""

    def run(*args: str, expect_ok: bool = True) -> tuple[dict[str, Any], str]:
        done = subprocess.run(
            [sys.executable, "-m", "tests.dags.run_dag", *args],
            env=dict(os.environ), cwd=REPO, capture_output=True, text=True, timeout=AIRFLOW_TIMEOUT,
        )
        output = done.stdout + done.stderr
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        assert lines, output[-5000:]
        result = json.loads(lines[-1].removeprefix("RESULT "))
        if expect_ok:
            assert done.returncode == 0, output[-5000:]
        return result, output

    return run
