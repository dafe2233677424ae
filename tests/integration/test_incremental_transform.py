"""Incremental transform equals a full rebuild, table by table (issue 12 §1).

One project goes through a sequence of steps, each followed by the default (incremental)
`normalise` and `transform`: more exports, re-imports of changed records (edited texts; dates
moved by more than a month, so posts change period), `forget` of a person, raw retention, and
imports after it. After every step a copy of the project is rebuilt with `dissentry transform
--full`, and every table of the two serving files (every model, mart and lake view, and the
build's own record of the posts it covered) must hold exactly the same rows, EXCEPT ALL both
ways; the mart copies too. The lake's transform state must show which path each build took, so
the test cannot pass by always building in full: the increments must update the post-level
models in place, and only the steps that change something global (a forget) rebuild in full.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dissentry import pipeline
from dissentry.cli import app
from dissentry.config import Config, load_config
from dissentry.forget import forget_account
from dissentry.retention import apply_retention
from dissentry.sample import FEEDS_FILE, STATUSES_FILE, generate_sample
from dissentry.transforms.runner import discover_models
from dissentry.warehouse.lake import Lake
from tests.integration.test_incremental import _edit_bluesky, _edit_mastodon, _edited
from tests.support.sample_project import sample_project

POST_MODELS = {m.name for m in discover_models() if m.incremental == "post_id"}


def _state(config: Config) -> dict[str, Any]:
    state = pipeline.transform_state(Lake(config.warehouse_path))
    assert state is not None
    return state


def _relations(con: duckdb.DuckDBPyConnection, catalog: str) -> set[str]:
    rows = con.execute("SELECT table_name FROM information_schema.tables WHERE table_catalog = ? "
                       "AND table_schema = 'main'", [catalog]).fetchall()
    return {r[0] for r in rows}


def _differences(ours: Path, full: Path) -> dict[str, tuple[int, int]]:
    """Every table and view of two serving files: (rows only in ours, rows only in full), where
    they differ. The build's id (the `_build_state` view) is the one thing two builds never share."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{ours}' AS ours (READ_ONLY)")
        con.execute(f"ATTACH '{full}' AS ref (READ_ONLY)")
        names = _relations(con, "ours")
        assert names == _relations(con, "ref")
        # the lake views of the two copies read each copy's own files
        con.execute(f"SET file_search_path = '{ours.parent},{full.parent}'")
        out: dict[str, tuple[int, int]] = {}
        for name in sorted(names - {"_build_state"}):
            a, b = f'ours.main."{name}"', f'ref.main."{name}"'
            only_ours = con.execute(f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})").fetchone()
            only_full = con.execute(f"SELECT count(*) FROM (SELECT * FROM {b} EXCEPT ALL SELECT * FROM {a})").fetchone()
            assert only_ours is not None and only_full is not None
            if only_ours[0] or only_full[0]:
                out[name] = (only_ours[0], only_full[0])
        return out
    finally:
        con.close()


def _marts(config: Config) -> dict[str, list[str]]:
    return {p.name: sorted(json.dumps(r, sort_keys=True, default=str) for r in pq.read_table(p).to_pylist())
            for p in sorted((config.warehouse_path / "marts").glob("*.parquet"))}


def _moved(source: Path, target: Path, days: int, every: int = 3) -> Path:
    """Every `every`-th Mastodon status again, dated `days` earlier (same ids): a later fetch
    saying the post was written in another month."""
    out = []
    for n, line in enumerate(source.read_text(encoding="utf-8").splitlines()):
        record = json.loads(line)
        if n % every or not record.get("created_at"):
            continue
        when = datetime.fromisoformat(record["created_at"].replace("Z", "+00:00")) - timedelta(days=days)
        record["created_at"] = when.isoformat().replace("+00:00", "Z")
        out.append(json.dumps(record, ensure_ascii=False))
    assert out
    target.write_text("\n".join(out) + "\n", encoding="utf-8")
    return target


def _periods(config: Config) -> dict[str, str]:
    con = duckdb.connect(str(config.warehouse_path / "dissentry.duckdb"), read_only=True)
    try:
        return dict(con.execute("SELECT post_id, period FROM stg_posts").fetchall())
    finally:
        con.close()


def test_incremental_transform_equals_full_after_imports_edits_moves_forget_and_retention(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    config = sample_project(project, seed=31, scale=0.05)
    sample = project / "data" / "sample"
    assert pipeline.run(config).ok
    assert _state(config)["mode"] == "full" and _state(config)["why_full"] == "no previous build"
    steps: list[str] = []

    def check(step: str, mode: str, *, changes: bool = True, changes_from: str = "normalise") -> Config:
        """Normalise and transform (incrementally, by default), then compare with --full.

        `changes_from`: where an incremental build must have taken its changed posts from: the
        record of the one normalise since it ("normalise"), or a diff of every post ("diff")."""
        pipeline.normalise(config)
        pipeline.transform(config)
        state = _state(config)
        assert state["mode"] == mode, (step, state)
        if mode == "incremental":
            assert state["changes_from"] == changes_from, (step, state)
        if mode == "incremental":
            assert (state["changed_posts"] > 0) == changes, step
            # the post-level models were updated in place, not rebuilt
            assert POST_MODELS and set(state["updated"]) >= {"stg_posts", "stg_post_links", "int_interactions"}, \
                (step, state)
        reference = tmp_path / "reference"
        shutil.rmtree(reference, ignore_errors=True)
        shutil.copytree(project, reference)
        ref_config = load_config(reference / "dissentry.toml")
        result = CliRunner().invoke(app, ["--config", str(reference / "dissentry.toml"), "transform", "--full"])
        assert result.exit_code == 0, result.output
        assert _state(ref_config)["mode"] == "full" and _state(ref_config)["why_full"] == "--full"
        assert _differences(config.warehouse_path / "dissentry.duckdb",
                            ref_config.warehouse_path / "dissentry.duckdb") == {}, step
        assert _marts(config) == _marts(ref_config), step
        steps.append(step)
        return ref_config

    # 1. a further export of each platform: new posts, new people, new periods
    more = tmp_path / "more"
    generate_sample(more, seed=32, scale=0.05)
    pipeline.import_export(config, "bluesky", [more / FEEDS_FILE], "more-bluesky")
    pipeline.import_export(config, "mastodon", [more / STATUSES_FILE], "more-mastodon")
    check("more exports", "incremental")

    # 2. nothing new: still incremental, nothing changed
    pipeline.transform(config)
    assert _state(config)["mode"] == "incremental" and _state(config)["changed_posts"] == 0

    # 3. changed records, same ids: edited texts (Bluesky), edited texts and counts (Mastodon)
    pipeline.import_export(config, "bluesky", [_edited(sample / FEEDS_FILE, tmp_path / "b.jsonl", _edit_bluesky)],
                           "sample-bluesky")
    pipeline.import_export(config, "mastodon", [_edited(sample / STATUSES_FILE, tmp_path / "m.jsonl",
                                                        _edit_mastodon)], "sample-mastodon")
    check("edited records", "incremental")

    # 4. dates moved back 40 days: those posts leave their month for an earlier one
    before = _periods(config)
    pipeline.import_export(config, "mastodon", [_moved(more / STATUSES_FILE, tmp_path / "moved.jsonl", 40)],
                           "more-mastodon")
    check("moved dates", "incremental")
    after = _periods(config)
    assert sum(before[p] != after[p] for p in before.keys() & after.keys()) > 0

    # 5. forget a person: the serving file is deleted and rebuilt whole (no forgotten byte survives)
    forget_account(config, "mastodon:@ugozeller@social.example")
    assert _state(config)["mode"] == "full" and _state(config)["why_full"] == "no previous build"
    extra = tmp_path / "extra"
    generate_sample(extra, seed=33, scale=0.03)
    pipeline.import_export(config, "bluesky", [extra / FEEDS_FILE], "extra-bluesky")
    check("after forget", "incremental")

    # 6. raw retention: every raw file expires; the normalised rows stay (frozen), then more
    lake = Lake(config.warehouse_path)
    assert apply_retention(lake, days=5, today=(datetime.now(UTC) + timedelta(days=10)).date()) > 0
    assert lake.raw_files() == []
    check("retention", "incremental", changes=False, changes_from="diff")  # rebuilt: the same rows
    pipeline.import_export(config, "bluesky", [_edited(more / FEEDS_FILE, tmp_path / "b2.jsonl", _edit_bluesky, 3)],
                           "more-bluesky")
    pipeline.import_export(config, "mastodon", [extra / STATUSES_FILE], "extra-mastodon")
    check("after retention", "incremental")

    # 7. two normalises between transforms: the record covers only the last, so every post is diffed
    pipeline.import_export(config, "mastodon", [_edited(extra / STATUSES_FILE, tmp_path / "m2.jsonl",
                                                        _edit_mastodon, 2)], "extra-mastodon")
    pipeline.normalise(config)
    pipeline.import_export(config, "bluesky", [_edited(extra / FEEDS_FILE, tmp_path / "b3.jsonl", _edit_bluesky, 2)],
                           "extra-bluesky")
    check("two normalises", "incremental", changes_from="diff")

    # 8. one platform extended, the other kept as it was: the record of the one extended suffices
    pipeline.import_export(config, "bluesky", [_edited(more / FEEDS_FILE, tmp_path / "b4.jsonl", _edit_bluesky, 5)],
                           "more-bluesky")
    check("one platform kept", "incremental")
    assert len(steps) == 8


def test_a_change_of_settings_or_a_missing_state_rebuilds_in_full(tmp_path: Path) -> None:
    config = sample_project(tmp_path, seed=34, scale=0.03)
    assert pipeline.run(config).ok
    pipeline.transform(config)
    assert _state(config)["mode"] == "incremental"
    # a group's names: every reference may change, so the build starts from nothing
    toml = tmp_path / "dissentry.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text.replace("aliases = [", 'aliases = ["Zeta Alias", ', 1), encoding="utf-8")
    changed = load_config(toml)
    assert changed.groups != config.groups
    pipeline.transform(changed)
    assert _state(changed)["mode"] == "full" and "changed" in _state(changed)["why_full"]
    # the lake's state lost: full again, then incremental
    Lake(config.warehouse_path).delete(str(config.warehouse_path / "state" / "transform.json"))
    pipeline.transform(changed)
    assert _state(changed)["why_full"] == "no previous build"
    db = config.warehouse_path / "dissentry.duckdb"
    older = shutil.copy(db, tmp_path / "older.duckdb")
    pipeline.transform(changed)
    assert _state(changed)["mode"] == "incremental"
    # a serving file other than the one the state names (an older one put back): full
    shutil.copy(older, db)
    pipeline.transform(changed)
    assert _state(changed)["why_full"] == "the serving file is not the one the lake's transform state names"


def test_a_new_pseudonym_key_gives_a_fresh_file_without_the_old_pseudonyms(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new key renames every post and person: the reused file would be a delta of everything, and
    would keep the old pseudonyms in its free blocks, so the build is full, into a new file."""
    from tests.integration.test_privacy import KEY
    from tests.integration.test_privacy import project as pseudonymised_project

    config_path = pseudonymised_project(tmp_path, "p", pseudonymise=True)
    monkeypatch.setenv("DISSENTRY_PSEUDONYM_KEY", KEY)
    config = load_config(config_path)
    assert pipeline.run(config).ok
    pipeline.normalise(config)
    pipeline.transform(config)
    assert _state(config)["mode"] == "incremental" and _state(config)["changed_posts"] == 0  # same key
    db = config.warehouse_path / "dissentry.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    try:
        old_ids = {r[0] for r in con.execute("SELECT DISTINCT author_id FROM stg_posts").fetchall()}
    finally:
        con.close()
    assert old_ids and all(i.split(":", 1)[1].startswith("p") for i in old_ids)  # platform:pseudonym
    monkeypatch.setenv("DISSENTRY_PSEUDONYM_KEY", KEY[::-1] + "-rotated")
    config = load_config(config_path)
    pipeline.normalise(config)
    pipeline.transform(config)
    state = _state(config)
    assert state["mode"] == "full" and state["why_full"].startswith("most posts changed or went"), state
    data = db.read_bytes()
    assert not [i for i in old_ids if i.encode() in data]
