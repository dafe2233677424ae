"""`dissentry transform` over the models folder: its marts/ folder is what is exported, and the
configuration tables are loaded once per build (issue 14 §3)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dissentry import pipeline
from dissentry.config import Config, load_config, parse_account_ref
from dissentry.transforms import runner
from tests.support.project import ALICE, config_toml, group, write_config


def _project(folder: Path) -> Config:
    write_config(folder, config_toml(group("g", "G", members=[ALICE])))
    return load_config(folder / "dissentry.toml")


def test_a_mart_file_dropped_into_the_models_folder_is_built_and_exported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    (models / "marts").mkdir(parents=True)
    (models / "marts" / "brand_new.sql").write_text("-- grain: group_id\nSELECT group_id, name FROM cfg_groups\n")
    (models / "intermediate").mkdir()
    (models / "intermediate" / "int_helper.sql").write_text("SELECT 1 AS x\n")  # built, not a mart
    # the folder the runner reads its models from, as a project with its own models would set it
    monkeypatch.setattr(runner, "TRANSFORMS_DIR", models)
    config = _project(tmp_path)

    tables = pipeline.transform(config)

    assert tables == {"int_helper": 1, "brand_new": 1}
    marts = config.warehouse_path / "marts"
    assert sorted(p.name for p in marts.glob("*.parquet")) == ["brand_new.parquet"]
    assert pq.read_table(marts / "brand_new.parquet").to_pylist() == [{"group_id": "g", "name": "G"}]


def test_transform_loads_the_configuration_tables_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Each load of the cfg_ tables reads the lake's erasure register and warns once about an erased
    account the configuration still lists: one build, one warning."""
    config = _project(tmp_path)
    lake = pipeline.lake_for(config)
    platform, handle = parse_account_ref(ALICE)
    lake.write_json([hashlib.sha256(f"{platform}:{handle}".encode()).hexdigest()], lake.erased_register_path)

    with caplog.at_level(logging.WARNING, logger="dissentry.transforms.config_tables"):
        tables = pipeline.transform(config)

    warnings = [r.getMessage() for r in caplog.records if "erased" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert ALICE in warnings[0]
    assert tables["group_members"] == 0  # and the erased member builds no row
