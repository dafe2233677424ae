"""docs/connectors.md holds one table of how to write an account, with a row for every platform."""

from __future__ import annotations

import re
from pathlib import Path

from dissentry.config import parse_account_ref
from dissentry.connectors.registry import platforms

DOC = Path(__file__).resolve().parents[2] / "docs" / "connectors.md"


def test_every_registered_platform_has_a_row_and_its_examples_parse() -> None:
    rows = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("| `")]
    named = {p for row in rows for p in re.findall(r"`([a-z]+)`", row.split("|")[1])}
    assert named == set(platforms())
    for row in rows:
        examples = row.split("|")[4]
        for ref in re.findall(r"`([a-z]+:[^`]+)`", examples):
            if not ref.startswith(("csv:", "forum:")):  # labels are checked with their source's options
                parse_account_ref(ref)
