"""Incremental normalise equals a full rebuild, table by table (issue 12 §1).

One project goes through a sequence of steps, each followed by the default (incremental)
`normalise`: more exports, re-imports of changed records (same ids, edited text and names), the
same export imported again, `forget`, raw retention, and imports after it. After every step a copy
of the warehouse is rebuilt with `normalise --full`, and every normalised table must hold exactly
the same rows; at the end the marts built on each must be equal too. The manifest must also show
that the increments were increments: Bluesky (a per-record mapping) extended, a platform with
nothing new kept with its very files.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dissentry import normalise, pipeline
from dissentry.cli import app
from dissentry.config import Config, load_config
from dissentry.forget import forget_account
from dissentry.retention import apply_retention
from dissentry.sample import FEEDS_FILE, STATUSES_FILE, generate_sample
from dissentry.warehouse import schema
from dissentry.warehouse.lake import Lake
from tests.support.sample_project import sample_project


def _tables(config: Config) -> dict[str, list[str]]:
    """Every published normalised table, all platforms, as sorted rows (what readers see)."""
    lake = Lake(config.warehouse_path)
    manifest = lake.normalised_manifest()
    out: dict[str, list[str]] = {}
    for table in schema.NORMALISED:
        rows = [json.dumps(r, sort_keys=True, default=str)
                for f in lake.normalised_files(table, manifest=manifest) for r in pq.read_table(f).to_pylist()]
        out[table] = sorted(rows)
    return out


def _marts(config: Config) -> dict[str, list[str]]:
    return {p.name: sorted(json.dumps(r, sort_keys=True, default=str) for r in pq.read_table(p).to_pylist())
            for p in sorted((config.warehouse_path / "marts").glob("*.parquet"))}


def _built(config: Config) -> dict[str, str]:
    manifest = Lake(config.warehouse_path).normalised_manifest()
    assert manifest is not None
    return {p: e["state"]["built"] for p, e in manifest["platforms"].items()}


def _files(config: Config, platform: str) -> dict[str, Any]:
    manifest = Lake(config.warehouse_path).normalised_manifest()
    assert manifest is not None
    return manifest["platforms"][platform]["tables"]


def _full_copy(project: Path, target: Path) -> Config:
    """A copy of the project, normalised from scratch with `dissentry normalise --full`."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(project, target)
    config = load_config(target / "dissentry.toml")
    result = CliRunner().invoke(app, ["--config", str(target / "dissentry.toml"), "normalise", "--full"])
    assert result.exit_code == 0, result.output
    assert set(_built(config).values()) == {"full"}
    return config


def _edited(source: Path, target: Path, edit: Any, every: int = 4) -> Path:
    """Every `every`-th record of an export, changed by `edit` (same ids): a later fetch of them."""
    lines = source.read_text(encoding="utf-8").splitlines()
    out = []
    for n, line in enumerate(lines):
        record = json.loads(line)
        if n % every == 0 and edit(record):
            out.append(json.dumps(record, ensure_ascii=False))
    assert out
    target.write_text("\n".join(out) + "\n", encoding="utf-8")
    return target


def _edit_bluesky(record: dict[str, Any]) -> bool:
    if isinstance(record.get("feed"), list):  # a getAuthorFeed page: its posts' texts were edited
        for item in record["feed"]:
            item["post"]["record"]["text"] = item["post"]["record"].get("text", "") + " (edited)"
        return True
    if "did" in record:  # a profile: renamed
        record["displayName"] = f"{record.get('displayName') or ''} (renamed)"
        return True
    return False


def _edit_mastodon(record: dict[str, Any]) -> bool:
    record["content"] = (record.get("content") or "") + "<p>edited</p>"
    record["favourites_count"] = int(record.get("favourites_count") or 0) + 1
    return True


def _linked_files(config: Config) -> int:
    """Published table files that share their bytes with a file of an older generation: the parts
    an increment kept (hard links), not wrote again."""
    lake = Lake(config.warehouse_path)
    published = {Path(f) for table in schema.NORMALISED for f in lake.normalised_files(table)}
    others = {p.stat().st_ino for p in (config.warehouse_path / "normalised").rglob("*.parquet") if p not in published}
    return sum(p.stat().st_ino in others for p in published)


# "parts": tables of a few rows per file and state compacted after two parts, so the increments
# link kept files, rewrite the files holding replaced rows and fold state, as they do at 1M posts
@pytest.mark.parametrize(("part_rows", "max_parts"), [(normalise.PART_ROWS, normalise.MAX_PARTS), (16, 2)],
                         ids=["one-file", "parts"])
def test_incremental_normalise_equals_full_after_imports_edits_forget_and_retention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part_rows: int, max_parts: int,
) -> None:
    monkeypatch.setattr(normalise, "PART_ROWS", part_rows)
    monkeypatch.setattr(normalise, "MAX_PARTS", max_parts)
    project = tmp_path / "project"
    project.mkdir()
    config = sample_project(project, seed=21, scale=0.05)
    sample = project / "data" / "sample"
    assert pipeline.run(config).ok
    steps = 0

    def check(step: str, expect: dict[str, str] | None = None) -> Config:
        nonlocal steps
        steps += 1
        if expect is not None:
            assert _built(config) == expect, step
        reference = _full_copy(project, tmp_path / "reference")
        ours, full = _tables(config), _tables(reference)
        for table in schema.NORMALISED:
            assert ours[table] == full[table], (step, table, len(ours[table]), len(full[table]))
        assert ours["posts"], step
        return reference

    # 1. a further export of each platform: both extended (Mastodon's lookups across records merged)
    more = tmp_path / "more"
    generate_sample(more, seed=22, scale=0.05)
    pipeline.import_export(config, "bluesky", [more / FEEDS_FILE], "more-bluesky")
    pipeline.import_export(config, "mastodon", [more / STATUSES_FILE], "more-mastodon")
    pipeline.normalise(config)
    check("more exports", {"bluesky": "increment", "mastodon": "increment"})
    lake = Lake(config.warehouse_path)
    if part_rows < normalise.PART_ROWS:
        assert _linked_files(config) > 0  # kept parts were linked, not written again
        assert max(lake.num_rows(f) for t in schema.NORMALISED for f in lake.normalised_files(t)) <= part_rows

    # 2. changed records, same ids: edited posts and renamed profiles win, being fetched later;
    # Mastodon has nothing new, so it keeps its files (not even rewritten)
    mastodon_files = _files(config, "mastodon")
    edited = _edited(sample / FEEDS_FILE, tmp_path / "bluesky-edited.jsonl", _edit_bluesky)
    pipeline.import_export(config, "bluesky", [edited], "sample-bluesky")
    counts = pipeline.normalise(config)
    check("edited bluesky", {"bluesky": "increment", "mastodon": "increment"})
    assert _files(config, "mastodon") == mastodon_files
    assert any("(edited)" in r for r in _tables(config)["posts"])
    assert counts["posts"] == len(_tables(config)["posts"])

    # 3. the same export imported again: every version is known, so nothing changes
    before = _tables(config)
    pipeline.import_export(config, "bluesky", [sample / FEEDS_FILE], "sample-bluesky")
    pipeline.normalise(config)
    check("bluesky again", {"bluesky": "increment", "mastodon": "increment"})
    assert _tables(config) == before

    # 4. edited Mastodon statuses, then forget (which rebuilds in full), then more after it
    pipeline.import_export(config, "mastodon", [_edited(sample / STATUSES_FILE, tmp_path / "m.jsonl",
                                                        _edit_mastodon)], "sample-mastodon")
    pipeline.normalise(config)
    check("edited mastodon")
    forget_account(config, "mastodon:@ugozeller@social.example")
    check("forget", {"bluesky": "full", "mastodon": "full"})
    extra = tmp_path / "extra"
    generate_sample(extra, seed=23, scale=0.03)
    pipeline.import_export(config, "bluesky", [extra / FEEDS_FILE], "extra-bluesky")
    pipeline.normalise(config)
    check("after forget", {"bluesky": "increment", "mastodon": "full"})

    # 5. raw retention: every raw file expires, so the platforms are rebuilt over the frozen layer;
    # then new raw over frozen rows is an increment again (fresh rows replace frozen ones)
    assert apply_retention(lake, days=5, today=(datetime.now(UTC) + timedelta(days=10)).date()) > 0
    assert lake.raw_files() == []
    pipeline.normalise(config)
    check("retention", {"bluesky": "full", "mastodon": "full"})
    pipeline.import_export(config, "bluesky", [_edited(more / FEEDS_FILE, tmp_path / "b2.jsonl", _edit_bluesky, 3)],
                           "more-bluesky")
    pipeline.import_export(config, "bluesky", [extra / FEEDS_FILE], "extra-bluesky")
    pipeline.normalise(config)
    reference = check("after retention", {"bluesky": "increment", "mastodon": "full"})

    # and the marts built on either layer are the same, number for number
    pipeline.transform(config)
    pipeline.transform(reference)
    ours, full = _marts(config), _marts(reference)
    assert ours and ours.keys() == full.keys()
    for name in ours:
        assert ours[name] == full[name], name
    assert steps == 8


def test_nothing_new_publishes_nothing_and_full_rebuilds(tmp_path: Path) -> None:
    config = sample_project(tmp_path, seed=24, scale=0.03)
    assert pipeline.run(config).ok
    lake = Lake(config.warehouse_path)
    manifest, tables = lake.normalised_manifest(), _tables(config)
    pipeline.normalise(config)
    assert lake.normalised_manifest() == manifest  # nothing new: the published generation stands
    pipeline.normalise(config, full=True)
    rebuilt = lake.normalised_manifest()
    assert rebuilt is not None and manifest is not None
    assert rebuilt["generation"] != manifest["generation"] and set(_built(config).values()) == {"full"}
    assert _tables(config) == tables


def test_incremental_org_articles_equal_full(tmp_path: Path) -> None:
    """RSS (org_articles, keyed by group and normalised URL): a retitled article and a new one."""
    feeds = Path(__file__).resolve().parents[2] / "connectors" / "rss" / "fixtures"

    def config_at(warehouse: Path) -> Config:
        return Config.model_validate({
            "warehouse_dir": str(warehouse), "groups": [{"id": "org_a", "name": "Org A"}],
            "sources": [{"name": "orga-feed", "platform": "rss", "files": [str(feeds / "rss2_feed.xml")],
                         "options": {"group": "org_a"}}],
        })

    config = config_at(tmp_path / "data")
    pipeline.import_export(config, "rss", [feeds / "rss2_feed.xml"], "orga-feed")
    pipeline.normalise(config)
    text = (feeds / "rss2_feed.xml").read_text(encoding="utf-8")
    retitled = text.replace("Statement on the budget", "Statement on the budget (corrected)", 1).replace(
        "<item>", "<item>\n      <title>A new article</title>\n      <link>https://org-a.example/news/new</link>"
        "\n    </item>\n    <item>", 1)
    assert retitled.count("<item>") == text.count("<item>") + 1
    (tmp_path / "later.xml").write_text(retitled, encoding="utf-8")
    pipeline.import_export(config, "rss", [tmp_path / "later.xml"], "orga-feed")
    pipeline.normalise(config)
    assert _built(config) == {"rss": "increment"}
    shutil.copytree(tmp_path / "data", tmp_path / "reference")
    reference = config_at(tmp_path / "reference")
    pipeline.normalise(reference, full=True)
    ours = _tables(config)
    assert ours == _tables(reference)
    titles = [json.loads(r)["title"] for r in ours["org_articles"]]
    assert "Statement on the budget (corrected)" in titles and "Statement on the budget" not in titles
    assert "A new article" in titles
