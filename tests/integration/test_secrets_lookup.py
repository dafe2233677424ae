"""Issue 14 §4: secrets travel by a lookup handed over on the configuration, never by changing
`os.environ`; what the lookup gives reaches the platform and nothing else.

A real collection against the Mastodon contract fake on loopback, with the token only in the
lookup; a pseudonymised build whose key is only in the lookup; and a walk of the product's code
for any write to the process environment."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from dissentry import pipeline
from dissentry.config import ConfigError, load_config
from dissentry.connectors.mastodon.fixtures.contract import fake_api as mastodon_api
from dissentry.privacy import pseudonymiser_for
from dissentry.secrets import ENVIRONMENT, Secrets
from tests.dags.support import realtime_rate_limits, write_config
from tests.support.local_server import serve

REPO = Path(__file__).resolve().parents[2]
TOKEN = "tok-Lookup-4711-never-written"
TOKEN_ENV = "DISSENTRY_TEST_LOOKUP_TOKEN"


def test_a_lookup_answers_by_name_and_never_shows_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = Secrets.of({"A": "value-aaaaaa"}, store={"key": "AKIA", "secret": "store-secret",
                                                       "client_kwargs": {"region_name": "x"}})
    assert secrets("A") == "value-aaaaaa" and secrets("B") == "" and secrets("") == ""
    assert "value-aaaaaa" not in repr(secrets) and "store-secret" not in repr(secrets)
    options = secrets.store_options()
    options["client_kwargs"]["region_name"] = "changed"  # a copy: the lookup's own stay as they were
    assert secrets.store_options()["client_kwargs"] == {"region_name": "x"}

    monkeypatch.setenv("DISSENTRY_TEST_LATE", "set-after-import")
    assert ENVIRONMENT("DISSENTRY_TEST_LATE") == "set-after-import"  # read at each lookup, never a copy
    monkeypatch.delenv("DISSENTRY_TEST_LATE")
    assert ENVIRONMENT("DISSENTRY_TEST_LATE") == ""


def test_a_collection_sends_the_lookups_token_and_writes_it_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    before = dict(os.environ)
    with serve(realtime_rate_limits(mastodon_api.make_handler())) as server:
        path = write_config(tmp_path, [{"name": "m", "platform": "mastodon", "instance": server.url,
                                        "accounts": ["@alice"], "token_env": TOKEN_ENV}])
        config = load_config(path).with_secrets(Secrets.of({TOKEN_ENV: TOKEN}, where="a test's values"))
        (row,) = pipeline.collect(config, "m")
        assert row["status"] == "ok" and row["records_seen"] > 0
        assert {r.headers.get("Authorization") for r in server.requests} == {f"Bearer {TOKEN}"}

        # the command line's lookup (the environment, here without the token) sends none
        sent_before = len(server.requests)
        (plain,) = pipeline.collect(load_config(path), "m")
        assert plain["status"] == "ok" and len(server.requests) > sent_before
        assert all("Authorization" not in r.headers for r in server.requests[sent_before:])
    assert dict(os.environ) == before  # nothing was put in the process environment
    assert TOKEN not in repr(config) and TOKEN not in config.model_dump_json()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in written)
    assert not [p for p in written if TOKEN.encode() in p.read_bytes()]  # lake, cursors, run rows


def test_the_pseudonym_key_comes_from_the_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISSENTRY_PSEUDONYM_KEY", raising=False)
    path = tmp_path / "dissentry.toml"
    path.write_text('warehouse_dir = "wh"\n[settings]\npseudonymise = true\n', encoding="utf-8")
    config = load_config(path)
    with pytest.raises(ConfigError, match="the environment variable DISSENTRY_PSEUDONYM_KEY does not hold a key"):
        pseudonymiser_for(config)
    handed = config.with_secrets(Secrets.of({"DISSENTRY_PSEUDONYM_KEY": "k" * 32}, where="a vault"))
    pseudonymiser = pseudonymiser_for(handed)
    assert pseudonymiser is not None and pseudonymiser.handle("alice") != "alice"
    with pytest.raises(ConfigError, match=r"the secret DISSENTRY_PSEUDONYM_KEY \(a vault\) does not hold a key"):
        pseudonymiser_for(config.with_secrets(Secrets.of({}, where="a vault")))
    assert "k" * 32 not in repr(handed) and "DISSENTRY_PSEUDONYM_KEY" not in os.environ


def _writes_to_the_environment(tree: ast.AST) -> list[int]:
    """Lines that change os.environ: an item set or deleted, a mutating method, putenv/unsetenv."""
    def is_environ(node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "environ"

    lines: list[int] = []
    for node in ast.walk(tree):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign | ast.AugAssign | ast.Delete):
            targets = list(node.targets) if isinstance(node, ast.Assign | ast.Delete) else [node.target]
        if any(isinstance(t, ast.Subscript) and is_environ(t.value) for t in targets):
            lines.append(node.lineno)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            func = node.func
            if is_environ(func.value) and func.attr in ("update", "pop", "setdefault", "clear", "popitem"):
                lines.append(node.lineno)
            if func.attr in ("putenv", "unsetenv"):
                lines.append(node.lineno)
    return lines


def test_no_product_code_writes_the_process_environment() -> None:
    files = [p for top in ("dissentry", "connectors", "warehouse", "transforms", "dags") for p in (REPO / top).rglob("*.py")
             # the published fake platforms are test tooling: they may set a test's environment
             if "testing" not in p.relative_to(REPO).parts and "fixtures" not in p.relative_to(REPO).parts]
    assert len(files) > 50
    found = {str(p.relative_to(REPO)): lines for p in files
             if (lines := _writes_to_the_environment(ast.parse(p.read_text(encoding="utf-8"))))}
    assert not found, found
    # the walk sees a write when there is one
    assert _writes_to_the_environment(ast.parse("import os\nos.environ['X'] = '1'\nos.environ.update(a=1)\n")) == [2, 3]
