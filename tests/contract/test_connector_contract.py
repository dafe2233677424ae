"""The connector contract: one suite every registered platform must pass.

A connector gets these tests by being listed in `connectors/registry.py`; its material lives in
`connectors/<folder>/fixtures/contract/contract.toml` (see docs/adding-a-connector.md). A new,
unfilled connector fails here until it yields records in the canonical shape.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import tomllib
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from dissentry import pipeline
from dissentry.config import Config, Source
from dissentry.connectors.base import Connector, ImportFormatError
from dissentry.connectors.registry import CONNECTORS, get_connector, platforms
from dissentry.normalise import map_records, read_mapping
from dissentry.warehouse import schema
from dissentry.warehouse.lake import Lake
from tests.support.fake_time import FakeTime
from tests.support.layers import published_files
from tests.support.local_server import serve


def contract_dir(connector: Connector) -> Path:
    return Path(inspect.getfile(type(connector))).parent / "fixtures" / "contract"


def load_contract(platform: str) -> tuple[Connector, Path, dict[str, Any]]:
    connector = get_connector(platform)
    folder = contract_dir(connector)
    path = folder / "contract.toml"
    assert path.is_file(), f"{platform}: add {path} (docs/adding-a-connector.md) to run the contract suite"
    contract = tomllib.loads(path.read_text(encoding="utf-8"))
    # one folder may serve several platforms (csv and jsonl): a table named after the platform overrides
    return connector, folder, {**contract, **contract.get(platform, {})}


def make_config(tmp_path: Path, platform: str, **source: Any) -> Config:
    sources = [Source(name=f"contract-{platform}", platform=platform, **source)] if source else []
    return Config(warehouse_dir=str(tmp_path / "wh"), sources=sources, config_path=tmp_path / "dissentry.toml")


def normalised_rows(config: Config, table: str) -> list[dict[str, Any]]:
    files = published_files(config.warehouse_path, table)
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def import_source(config: Config, platform: str, files: list[Path]) -> dict[str, Any]:
    return pipeline.import_export(config, platform, files, f"contract-{platform}")


@pytest.fixture(params=platforms())
def platform(request: pytest.FixtureRequest) -> str:
    return request.param


def _declared_kind(platform: str) -> str | None:
    try:
        return load_contract(platform)[2].get("kind")
    except (AssertionError, ImportError, AttributeError):
        return None  # reported by the tests above, not at collection


API_PLATFORMS = [p for p in platforms() if _declared_kind(p) == "api"]


def test_registered_connector_loads_and_its_mapping_yields_the_canonical_schema(platform: str) -> None:
    connector = get_connector(platform)
    assert connector.platform == platform
    assert CONNECTORS[platform].startswith("dissentry.connectors.")
    assert read_mapping(connector.mapping_file)
    tables = map_records(platform, [])  # the SQL must bind even on no data
    for name, table_schema in schema.NORMALISED.items():
        assert tables[name].schema.equals(table_schema), name


def test_sample_export_round_trip_is_idempotent(platform: str, tmp_path: Path) -> None:
    _connector, folder, contract = load_contract(platform)
    if "sample" not in contract:
        pytest.skip(f"{platform} has no import path")  # API-only connectors
    config = make_config(tmp_path, platform, **contract.get("import_source", {}))
    first = import_source(config, platform, [folder / contract["sample"]])
    assert first["status"] == "ok", first["errors"]
    pipeline.normalise(config)
    posts = normalised_rows(config, "posts")
    assert len(posts) == contract["sample_posts"]
    for post in posts:
        assert post["platform"] == platform
        assert post["post_id"].startswith(f"{platform}:")
        assert post["kind"] in {"post", "reply", "repost", "quote"}
        assert post["created_at"] is not None
    if "sample_org_articles" in contract:
        assert len(normalised_rows(config, "org_articles")) == contract["sample_org_articles"]
    before = {t: normalised_rows(config, t) for t in schema.NORMALISED}

    second = import_source(config, platform, [folder / contract["sample"]])
    pipeline.normalise(config)
    assert second["records_new"] == 0
    assert {t: normalised_rows(config, t) for t in schema.NORMALISED} == before


def test_bad_record_is_quarantined_and_good_ones_land(platform: str, tmp_path: Path) -> None:
    _connector, folder, contract = load_contract(platform)
    if "bad" not in contract:
        pytest.skip(f"{platform} has no import path")
    config = make_config(tmp_path, platform, **contract.get("import_source", {}))
    bad_file = folder / contract["bad"]
    row = import_source(config, platform, [bad_file])
    assert row["records_quarantined"] == 1
    quarantined = [r for f in (config.warehouse_path / "quarantine").rglob("*.parquet")
                   for r in pq.read_table(f).to_pylist()]
    assert len(quarantined) == 1 and bad_file.name in quarantined[0]["locator"] and quarantined[0]["reason"]
    pipeline.normalise(config)
    assert len(normalised_rows(config, "posts")) == contract["bad_good_posts"]
    if "bad_good_org_articles" in contract:
        assert len(normalised_rows(config, "org_articles")) == contract["bad_good_org_articles"]


def test_other_platforms_and_empty_files_are_refused_by_name(platform: str, tmp_path: Path) -> None:
    connector, folder, contract = load_contract(platform)
    if "wrong_platform" not in contract:
        pytest.skip(f"{platform} has no import path")
    wrong = folder / contract["wrong_platform"]
    empty = tmp_path / f"empty{wrong.suffix}"
    empty.write_bytes(b"")
    for path in (wrong, empty):
        with pytest.raises(ImportFormatError) as info:
            for _ in connector.read_export(path, None):
                pass
        assert str(path) in str(info.value)


def _load_fake_api(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"contract_fake_{path.parent.parent.parent.name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("api_platform", API_PLATFORMS)
def test_api_collection_pages_waits_for_rate_limit_and_resumes(
    api_platform: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = api_platform
    _connector, folder, contract = load_contract(platform)
    for name, value in contract.get("env", {}).items():  # credentials: environment only, like production
        monkeypatch.setenv(name, value)
    fake = _load_fake_api(folder / contract["fake_api"])
    time = FakeTime()
    with serve(fake.make_handler()) as server:
        source = {**contract["source"], "instance": server.url}
        config = make_config(tmp_path, platform, **source)
        overrides = {"sleep": time.sleep, "clock": time.clock}
        (first,) = pipeline.collect(config, http_overrides=overrides)
        assert first["status"] == "ok", first["errors"]
        assert first["pages"] >= 2
        assert first["rate_limit_waits"] >= 1 and any(25 <= s <= 35 for s in time.sleeps), time.sleeps
        cursor = Lake(config.warehouse_path).load_cursor(platform, f"contract-{platform}")
        assert cursor is not None and json.loads(json.dumps(cursor)) == cursor
        pipeline.normalise(config)
        assert len(normalised_rows(config, "posts")) == contract["api_posts"]
        if "api_org_articles" in contract:
            assert len(normalised_rows(config, "org_articles")) == contract["api_org_articles"]

        (second,) = pipeline.collect(config, http_overrides=overrides)
        assert second["status"] == "ok", second["errors"]
        assert second["records_new"] == 0
        assert json.loads(second["cursor_before"]) == cursor


def test_every_api_connector_runs_the_collection_contract() -> None:
    assert {"mastodon", "bluesky", "reddit", "rss"} <= set(API_PLATFORMS)
