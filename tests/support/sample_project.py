"""A project folder holding the synthetic sample and a copy of the demo configuration."""

from __future__ import annotations

from pathlib import Path

from dissentry import pipeline
from dissentry.config import Config, load_config
from dissentry.sample import generate_sample

REPO = Path(__file__).resolve().parents[2]


def sample_project(folder: Path, *, seed: int, scale: float, raw_retention_days: int | None = None) -> Config:
    """Write the sample under `folder/data/sample` and `folder/dissentry.toml`; return the config."""
    generate_sample(folder / "data" / "sample", seed=seed, scale=scale)
    text = (REPO / "dissentry.toml").read_text(encoding="utf-8")
    if raw_retention_days is not None:
        text = text.replace("[[groups]]", f"[settings]\nraw_retention_days = {raw_retention_days}\n\n[[groups]]", 1)
    (folder / "dissentry.toml").write_text(text, encoding="utf-8")
    return load_config(folder / "dissentry.toml")


def built_sample_project(folder: Path, *, seed: int, scale: float) -> Config:
    """`sample_project`, then one whole `dissentry run` over it, which must end ok."""
    config = sample_project(folder, seed=seed, scale=scale)
    assert pipeline.run(config).ok
    return config
