"""Warehouses for the report tests, built by the real pipeline on small generated data.

- `sample_world`: dissentry.sample (the `make run` data) at a small scale, optionally with one
  group only or one period (settings.period = "year": the sample spans three months of one year).
- `label_world`: the same, then the `make run` validation workflow: a random draw per group,
  labelled from the sample's planted truth, imported, transformed (corrected rates, an evaluation).
- `tiny_world`: a CSV import of a dozen posts by two members of one group within one month, with
  no reply, repost, quote or mention (so no network), no labels, and hostile text: a post reading
  `<script>alert(1)</script>`, a group name with markup, a '$' that matplotlib would read as maths.
"""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path
from typing import Any

from dissentry import pipeline
from dissentry.config import Config, load_config
from dissentry.labels import import_labels, sample_references
from dissentry.sample import generate_sample, label_from_truth, labelled_path

REPO = Path(__file__).resolve().parents[2]
SCRIPT_POST = "<script>alert(1)</script> Solo Org is wrong about the budget"
TINY_GROUP_NAME = "Solo <b>Org</b> & $5 club"


def _config(folder: Path, data: dict[str, Any]) -> Config:
    return Config.model_validate({**data, "config_path": (folder / "dissentry.toml").resolve()})


def sample_world(folder: Path, *, scale: float = 0.1, seed: int = 7, groups: list[str] | None = None,
                 period: str | None = None) -> Config:
    generate_sample(folder / "data" / "sample", seed=seed, scale=scale)
    data = tomllib.loads((REPO / "dissentry.toml").read_text(encoding="utf-8"))
    if groups is not None:
        data["groups"] = [g for g in data["groups"] if g["id"] in groups]
    if period is not None:
        data.setdefault("settings", {})["period"] = period
    if groups is None and period is None:  # the demo configuration as it is: a file the CLI can read
        (folder / "dissentry.toml").write_text((REPO / "dissentry.toml").read_text(encoding="utf-8"), encoding="utf-8")
    config = _config(folder, data)
    pipeline.run(config)
    return config


def label_world(config: Config, *, per_group: int) -> int:
    """Draw, label from the planted truth, import and transform; return the labels landed."""
    lake = pipeline.lake_for(config)
    sample_dir = config.base_dir / "data" / "sample"
    drawn = sample_dir / "to_label.csv"
    sample_references(lake, per_group=per_group, out=drawn, period=None, seed=1, fmt="csv",
                      groups=[g.id for g in config.groups])
    label_from_truth(drawn, sample_dir, labelled_path(drawn))
    result = import_labels(lake, labelled_path(drawn), annotator="planted-truth")
    pipeline.transform(config)
    return result.landed


def tiny_world(folder: Path, *, pseudonymise: bool = False) -> Config:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        ("p1", "alice", "2026-03-02T10:00:00Z", SCRIPT_POST),
        ("p2", "alice", "2026-03-03T10:00:00Z", "Solo Org did well on housing, proud of us"),
        ("p3", "bob", "2026-03-04T11:00:00Z", "Solo Org made a mistake and should resign"),
        ("p4", "bob", "2026-03-05T12:00:00Z", "Lovely weather at the market today"),
        ("p5", "alice", "2026-03-06T09:30:00Z", "Reading the Solo Org manifesto this evening"),
        ("p6", "bob", "2026-03-09T08:00:00Z", "Solo Org is right about transport"),
        ("p7", "alice", "2026-03-10T08:00:00Z", "Coffee first. $5 well spent"),
        ("p8", "bob", "2026-03-12T17:00:00Z", "I disagree with Solo Org on taxes"),
    ]
    with (folder / "posts.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["post_id", "author", "created_at", "text"])
        writer.writerows(rows)
    text = TINY_CONFIG + ("\n[settings]\npseudonymise = true\n" if pseudonymise else "")
    (folder / "dissentry.toml").write_text(text, encoding="utf-8")
    config = load_config(folder / "dissentry.toml")
    pipeline.run(config)
    return config


TINY_CONFIG = f"""\
warehouse_dir = "data"

[[groups]]
id = "solo"
name = "{TINY_GROUP_NAME}"
aliases = ["Solo Org"]
members = ["csv:alice", "csv:bob"]

[[sources]]
name = "forum-<i>dump</i>"
platform = "csv"
files = ["posts.csv"]
"""
