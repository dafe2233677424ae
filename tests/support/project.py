"""The small projects the config, CLI and pipeline tests write: one builder instead of a TOML string
copied to the top of each suite.

`config_toml(group(...), source(...))` writes the same `dissentry.toml` a test once spelled out by
hand, one `key = value` line per field in the order given, so a test may still `.replace()` a line
of it (`'accounts = ["@alice"]'`) to make one variant. The blocks that several suites share are
named here: `ALICE`, the member most of them list, and the two Mastodon sources (`MEMBERS`, collected
from the API; `SAVED`, imported from `in/*.jsonl`).
"""

from __future__ import annotations

import json
from pathlib import Path

TomlValue = str | int | float | bool | list["TomlValue"] | dict[str, "TomlValue"]

ALICE = "mastodon:@alice@social.example"
INSTANCE = "https://social.example"


def toml_value(value: TomlValue) -> str:
    """A TOML value on one line: JSON's string escapes are TOML's basic-string escapes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"


def table(header: str, **fields: TomlValue) -> str:
    """`[header]` (or `[[header]]` when the header is written so) and one line per field."""
    return "\n".join([header, *(f"{key} = {toml_value(value)}" for key, value in fields.items())])


def group(id: str, name: str, **fields: TomlValue) -> str:
    return table("[[groups]]", id=id, name=name, **fields)


def source(name: str, platform: str, **fields: TomlValue) -> str:
    return table("[[sources]]", name=name, platform=platform, **fields)


def config_toml(*blocks: str, warehouse_dir: str = "wh") -> str:
    """A whole `dissentry.toml`: the warehouse line, then the blocks, a blank line between each."""
    return "\n" + "\n\n".join([f"warehouse_dir = {toml_value(warehouse_dir)}", *blocks]) + "\n"


def extended(text: str, *blocks: str) -> str:
    """`text` (a whole config) with more blocks after it, each after a blank line."""
    return text + "".join(f"\n{block}\n" for block in blocks)


# the Mastodon account most suites collect, and the import most pipeline suites run
MEMBERS = source("members", "mastodon", instance=INSTANCE, accounts=["@alice"])
SAVED = source("saved", "mastodon", instance=INSTANCE, files=["in/*.jsonl"])


def write_config(folder: Path, text: str, name: str = "dissentry.toml") -> Path:
    """`folder/dissentry.toml` holding `text`; its path."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
