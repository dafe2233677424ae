"""Which configuration file the DAGs build from: the Airflow Variable, the environment, the repo."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

CONFIG_VARIABLE = "dissentry_config"
"""Airflow Variable naming the configuration file."""
CONFIG_ENV = "DISSENTRY_CONFIG"
"""Environment variable naming the configuration file (used when the Variable is unset)."""


def config_path(variable: str | None, environ: Mapping[str, str], dags_folder: Path) -> Path:
    """The Airflow Variable if set, else $DISSENTRY_CONFIG, else dissentry.toml beside dags/."""
    for candidate in (variable, environ.get(CONFIG_ENV)):
        if candidate and candidate.strip():
            return Path(candidate.strip()).expanduser().resolve()
    return (dags_folder.parent / "dissentry.toml").resolve()
