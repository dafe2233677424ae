"""People's data: pseudonymised ids that keep every measure, and secrets that never land anywhere."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dissentry import pipeline
from dissentry.config import ConfigError, Source, load_config
from dissentry.privacy import Pseudonymiser
from dissentry.sample import generate_sample
from tests.support.local_server import serve

REPO = Path(__file__).resolve().parents[2]
KEY = "test-key-of-at-least-sixteen-chars"


def project(tmp_path: Path, name: str, pseudonymise: bool) -> Path:
    root = tmp_path / name
    generate_sample(root / "data" / "sample", seed=11, scale=0.3)
    text = (REPO / "dissentry.toml").read_text(encoding="utf-8")
    if pseudonymise:
        text = text.replace("[[groups]]", "[settings]\npseudonymise = true\n\n[[groups]]", 1)
    (root / "dissentry.toml").write_text(text, encoding="utf-8")
    return root / "dissentry.toml"


def query(config_path: Path, sql: str) -> list[tuple]:
    config = load_config(config_path)
    con = duckdb.connect(str(config.warehouse_path / "dissentry.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def same_rows(a: list[tuple], b: list[tuple]) -> bool:
    """Equal, but for the last bits of floats summed in another order (ids sort differently)."""
    if len(a) != len(b):
        return False
    for row_a, row_b in zip(a, b, strict=True):
        for x, y in zip(row_a, row_b, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                if x != pytest.approx(y, rel=1e-12, abs=1e-15):
                    return False
            elif x != y:
                return False
    return True


def strings_in(path: Path) -> set[str]:
    table = pq.read_table(path)
    out: set[str] = set()
    for column in table.columns:
        if pa.types.is_string(column.type):
            out.update(v for v in column.to_pylist() if v)
    return out


def test_pseudonymised_marts_equal_the_plain_ones_and_hold_no_handle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISSENTRY_PSEUDONYM_KEY", KEY)
    plain, hidden = project(tmp_path, "plain", False), project(tmp_path, "hidden", True)
    pipeline.run(load_config(plain))
    pipeline.run(load_config(hidden))

    # every group-level measure is unchanged: pseudonyms join exactly as the ids did
    for table, order in (("dissent_frequency", "group_id, period"), ("echo_chamber", "group_id, period"),
                         ("network_mixing", "period, interaction_kind")):
        sql = f"SELECT * FROM {table} ORDER BY {order}"
        assert same_rows(query(plain, sql), query(hidden, sql)), table
    members = "SELECT group_id, evidence, count(*), count(DISTINCT person_id) FROM group_members GROUP BY ALL ORDER BY 1, 2"
    assert query(plain, members) == query(hidden, members)

    handles = {h for (h,) in query(plain, "SELECT handle FROM accounts") if h and len(h) > 6}
    assert len(handles) > 50
    hidden_root = load_config(hidden).warehouse_path
    for layer in ("normalised", "marts"):
        for f in hidden_root.joinpath(layer).rglob("*.parquet"):
            leaked = {h for h in handles for s in strings_in(f) if h in s.lower()}
            assert not leaked, (f, sorted(leaked)[:5])
    # the pseudonyms are the keyed hashes of the handles: reproducible by the key holder only
    p = Pseudonymiser(KEY.encode())
    some = sorted(handles)[0]
    assert p.handle(some) in {h for (h,) in query(hidden, "SELECT handle FROM accounts")}


def test_pseudonymising_without_a_key_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISSENTRY_PSEUDONYM_KEY", raising=False)
    config = load_config(project(tmp_path, "nokey", True))
    pipeline.collect(config)
    with pytest.raises(ConfigError, match="DISSENTRY_PSEUDONYM_KEY"):
        pipeline.normalise(config)
    assert not (config.warehouse_path / "normalised").exists()  # nothing rewritten half-way


def _fake_mastodon() -> object:
    path = REPO / "connectors" / "mastodon" / "fixtures" / "contract" / "fake_api.py"
    spec = importlib.util.spec_from_file_location("privacy_fake_mastodon", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_token_never_reaches_the_lake_the_duckdb_file_or_the_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    token = "SECRET-token-7f3a9c1e5b"
    monkeypatch.setenv("MASTODON_TOKEN", token)
    fake = _fake_mastodon()
    caplog.set_level(logging.DEBUG)
    with serve(fake.make_handler()) as server:
        config = load_config(project(tmp_path, "secrets", False))
        source = Source(name="members", platform="mastodon", instance=server.url, accounts=["@alice"],
                        token_env="MASTODON_TOKEN")
        config = config.model_copy(update={"sources": [source]})
        (row,) = pipeline.collect(config, http_overrides={"sleep": lambda s: None})
        pipeline.normalise(config)
        pipeline.transform(config)
    assert row["status"] == "ok" and row["records_seen"] > 0
    assert all(r.headers.get("Authorization") == f"Bearer {token}" for r in server.requests)
    files = [f for f in config.warehouse_path.rglob("*") if f.is_file()]
    assert any(f.suffix == ".duckdb" for f in files) and any(f.suffix == ".parquet" for f in files)
    for f in files:
        assert token.encode() not in f.read_bytes(), f
    assert token not in caplog.text
    assert token not in str(row)


@pytest.mark.parametrize(("url", "handle"), [
    ("http://localhost:3000/@alice", "alice@localhost:3000"),
    ("https://social.example:443/@alice/1234", "alice@social.example"),  # the default port is no namespace
    ("https://social.example:8443/users/alice", "alice@social.example:8443"),
])
def test_a_profile_link_on_an_instance_with_a_port_gets_the_pseudonym_of_that_account(url: str, handle: str) -> None:
    """The mappings keep a non-default port in the handle (alice@localhost:3000): the link to the
    profile must carry the same pseudonym as the account's own rows, or the person is split in two."""
    p = Pseudonymiser(KEY.encode())
    digest = p.handle(handle)
    assert digest is not None
    assert digest in (p.url(url) or "")
    assert "alice" not in (p.url(url) or "")
