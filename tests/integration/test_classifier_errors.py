"""A stance classifier that cannot work is one clear line and exit 2, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dissentry.cli import app
from tests.hostile.corpus import mastodon_status as status
from tests.support.project import ALICE, SAVED, config_toml, group, table

runner = CliRunner()

CONFIG = config_toml(table("[settings.stance]", classifier="{classifier}"), group("org_a", "Org A", members=[ALICE]), SAVED)


@pytest.mark.parametrize(
    ("classifier", "message"),
    [
        ("trained", "learns from people's labels"),  # nothing labelled yet
        ("no_such_package.stance:Classifier", "module 'no_such_package.stance' not found"),
    ],
)
def test_a_classifier_that_cannot_work_is_one_line(tmp_path: Path, classifier: str, message: str) -> None:
    (tmp_path / "in").mkdir()
    lines = [json.dumps(status(i, text=f"Org A did something {i}")) for i in range(3)]
    (tmp_path / "in" / "s.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "dissentry.toml").write_text(CONFIG.format(classifier=classifier), encoding="utf-8")
    result = runner.invoke(app, ["--config", str(tmp_path / "dissentry.toml"), "run"])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
