"""The connector contract v2 (issue 11 §1): every connector declares its `Options` and whether it
can collect; the base class owns the options check, the import pages, rejects and the one
import-only error."""

from __future__ import annotations

import importlib
import inspect

import pytest
from pydantic import BaseModel

from dissentry.config import Source
from dissentry.connectors import base
from dissentry.connectors.base import (
    IMPORT_PAGE_SIZE,
    Batcher,
    ImportOnlyError,
    OptionsError,
    RawRecord,
    Reject,
    paged,
    reject,
)
from dissentry.connectors.registry import CONNECTORS, get_connector, platforms

IMPORT_ONLY = {"csv", "facebook", "jsonl", "telegram", "twitter"}


def test_every_connector_declares_its_options_and_whether_it_collects() -> None:
    for platform in platforms():
        connector = get_connector(platform)
        assert issubclass(connector.Options, BaseModel), platform
        assert connector.Options.model_config.get("extra") == "forbid", platform  # a typo is never ignored
        assert isinstance(connector.can_collect, bool), platform
    assert {p for p in platforms() if not get_connector(p).can_collect} == IMPORT_ONLY


@pytest.mark.parametrize("platform", sorted(IMPORT_ONLY))
def test_import_only_platforms_refuse_collection_with_the_one_error(platform: str) -> None:
    connector = get_connector(platform)
    source = Source(name="s", platform=platform, files=["x"])
    with pytest.raises(ImportOnlyError) as info:
        next(iter(connector.collect(source, None, None)))  # type: ignore[arg-type]
    assert type(info.value) is base.ImportOnlyError
    message = str(info.value)
    assert message.startswith(f"{platform} is import-only in dissentry (")
    assert message.endswith(f"give the source `files = [...]` instead of accounts, hashtags or query, "
                            f"or run `dissentry import {platform} <file>`")


def test_import_only_error_is_defined_once() -> None:
    for module in ("dissentry.connectors.tabular.connector", "dissentry.connectors.facebook.connector"):
        assert importlib.import_module(module).ImportOnlyError is base.ImportOnlyError


def test_no_connector_writes_its_own_options_parser_or_page_size() -> None:
    for platform, target in CONNECTORS.items():
        source = inspect.getsource(importlib.import_module(target.partition(":")[0]))
        assert "IMPORT_PAGE_SIZE = " not in source, platform
        assert "class ImportOnlyError" not in source, platform
        assert ">= IMPORT_PAGE_SIZE" not in source, platform  # pages are cut by the base's Batcher
        assert ".model_validate(source.options)" not in source, platform  # Connector.options does it


@pytest.mark.parametrize("platform", platforms())
def test_an_unknown_option_has_one_wording_everywhere(platform: str) -> None:
    connector = get_connector(platform)
    required = {"group": "org_a"} if platform == "rss" else {}  # rss needs its group, not this key
    source = Source(name="s", platform=platform, files=["x"], options={**required, "bogus_key": 1})
    with pytest.raises(OptionsError) as info:
        connector.options(source)
    known = ", ".join(connector.Options.model_fields) or "none"
    assert str(info.value).startswith(f"source 's' ({platform}): options.bogus_key: unknown option")
    assert str(info.value).endswith(f"(known options: {known})")


def test_options_without_a_source_are_the_defaults() -> None:
    options = get_connector("csv").options(None)
    assert options.columns == {} and options.platform_label is None
    assert get_connector("csv").options(Source(name="s", platform="csv", files=["x"],
                                               options={"platform_label": "forum"})).platform_label == "forum"


def _record(n: int) -> RawRecord:
    return RawRecord("post", str(n), "{}", "origin", f"file:{n}")


def test_paged_cuts_records_and_rejects_into_import_pages() -> None:
    items: list[RawRecord | Reject] = [_record(n) for n in range(2 * IMPORT_PAGE_SIZE)]
    items[5] = Reject("file:5", "bad")
    items.append(Reject("file:last", "bad too"))
    pages = list(paged(items))
    assert [len(p.records) + len(p.rejects) for p in pages] == [IMPORT_PAGE_SIZE, IMPORT_PAGE_SIZE, 1]
    assert [len(p.rejects) for p in pages] == [1, 0, 1]
    assert [r.record_id for p in pages for r in p.records] == [str(n) for n in range(2 * IMPORT_PAGE_SIZE) if n != 5]
    assert list(paged([])) == []
    assert [len(p.records) for p in paged((_record(n) for n in range(5)), size=2)] == [2, 2, 1]


def test_batcher_yields_full_pages_where_the_reader_asks() -> None:
    batch = Batcher(size=3)
    out = []
    for n in range(7):
        batch.add(_record(n))
        out += list(batch.full())
    out += list(batch.rest())
    assert [len(p.records) for p in out] == [3, 3, 1]
    assert list(batch.rest()) == []


def test_reject_keeps_the_reason_and_json_content() -> None:
    assert reject("f:3", "no id", {"a": "é"}) == Reject("f:3", "no id", '{"a":"é"}')
    assert reject("f:4", "not UTF-8") == Reject("f:4", "not UTF-8", "")
