from __future__ import annotations

from pathlib import Path

import pytest

from dissentry.config import KNOWN_PLATFORMS, ConfigError, load_config, parse_account_ref
from dissentry.connectors.registry import platforms
from tests.support.project import ALICE, MEMBERS, config_toml, group
from tests.support.project import write_config as write

GOOD = config_toml(
    group("org_a", "Org A", aliases=["Org A"], accounts=["mastodon:@orga@social.example", "bluesky:orga.bsky.social"],
          members=[ALICE, {"name": "Bob", "accounts": ["mastodon:@bob@social.example", "bluesky:bob.bsky.social"]}]),
    MEMBERS,
)


def test_good_config_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.warehouse_path == tmp_path / "wh"
    people = config.groups[0].people()
    assert people[0] == ("mastodon:alice@social.example", ["mastodon:@alice@social.example"])
    assert people[1][0] == "person:Bob" and len(people[1][1]) == 2
    assert not config.sources[0].is_import


def test_known_platforms_match_the_registry() -> None:
    assert sorted(KNOWN_PLATFORMS) == platforms()


def test_account_refs_are_normalised() -> None:
    assert parse_account_ref("mastodon:@Alice@Social.Example") == ("mastodon", "alice@social.example")
    assert parse_account_ref("bluesky:OrgA.bsky.social") == ("bluesky", "orga.bsky.social")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace('platform = "mastodon"', 'platform = "myspace"'), "sources[0] (members).platform: unknown platform 'myspace'"),
        (GOOD.replace('"mastodon:@orga@social.example"', '"orga"'), "groups[0] (org_a).accounts"),
        (GOOD.replace('id = "org_a"', 'id = "Org A!"'), "groups[0] (Org A!).id: group id 'Org A!' must be"),
        (GOOD + '\n[[sources]]\nname = "members"\nplatform = "bluesky"\naccounts = ["x"]\n', "duplicate sources: members"),
        (GOOD.replace('accounts = ["@alice"]', ""), "a source needs accounts, hashtags, query, files or options"),
        (GOOD + "\nsurprise = 1\n", "surprise: Extra inputs are not permitted"),
        (GOOD.replace("[[groups]]", "[[groups]"), "not valid TOML"),
    ],
)
def test_invalid_config_names_the_file_and_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message
    assert "Traceback" not in message and "\n" not in message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.toml")
