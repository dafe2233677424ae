"""`dissentry forget` maps raw as normalise does, a piece at a time, and finds the same rows (issue 12).

Forget traces every raw row the mapping attributes to the account: it runs the platform's mapping
over every raw row (each with a unique fetched_at that leads back to its file and row), through
normalise.MappingRun, so at 1M statuses it holds one piece of raw, not every payload. Mapped in
pieces (here one raw file each), it must find exactly what one pass finds: the same ids, raw rows,
names and payloads, including records whose lookups are in other pieces, a boost and a quote that
embed the account's statuses, and a status of it fetched twice. Then forget, in pieces, leaves
no byte of the account in any layer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dissentry import forget, normalise, pipeline
from dissentry.config import parse_account_ref
from dissentry.warehouse.lake import Lake
from tests.integration.test_erasure_scan import scan
from tests.integration.test_normalise_pieces import _build, _files

ALICE = "mastodon:alice@social.example"
NEEDLES = ("alice", "hello", "to carol")  # her handle and name; words only her statuses hold


def _traced_pieces(lake: Lake) -> int:
    con = normalise.new_connection(lake=lake)
    try:
        run = normalise.MappingRun(con, "mastodon")
        run.load_traced(lake.raw_files("mastodon"))
        return len(run.pieces)
    finally:
        con.close()


def test_forget_in_pieces_finds_what_one_pass_finds_and_erases_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = _files()
    config = _build(tmp_path, "lake", records)
    pipeline.normalise(config)
    lake = Lake(config.warehouse_path)
    platform, handle = parse_account_ref(ALICE)
    assert _traced_pieces(lake) == 1
    one = forget._rows_of_account(lake, platform, handle)

    monkeypatch.setattr(normalise, "_MIN_CHUNK_BYTES", 1)
    monkeypatch.setattr(normalise, "_CHUNK_MEMORY_SHARE", 1 << 40)
    assert _traced_pieces(lake) == len(records)  # one raw file each
    pieces = forget._rows_of_account(lake, platform, handle)
    assert pieces.ids == one.ids
    assert pieces.located == one.located
    assert pieces.names == one.names
    assert sorted(pieces.payloads) == sorted(one.payloads)

    # what was found: her statuses 1 and 2 (file 0), 4 and bob's boost of her status 1 (file 1), her
    # 15 fillers (file 3), status 1 fetched again (file 4); file 2 holds bob's and dave's only
    assert one.ids == {ALICE}
    assert one.names == {"Alice"}
    assert sum(map(len, one.located.values())) == 2 + 2 + 15 + 1
    assert len(one.located) == 4

    before, _ = scan(config.warehouse_path, tmp_path / "scratch", NEEDLES)
    assert all(before[n] for n in NEEDLES), before
    result = forget.forget_account(config, ALICE)
    assert result["raw_records_removed"] == sum(map(len, one.located.values()))
    assert result["raw_files_rewritten"] == len(one.located)
    after, _ = scan(config.warehouse_path, tmp_path / "scratch", NEEDLES)
    assert after == {n: [] for n in NEEDLES}, after
    # everyone else's own records stay: carol's 100, bob's 50 and 15 fillers, dave's 3 and 7 (bob's
    # boost of her status and his status 60, embedded in her quote, went with those records)
    assert result["posts_after"] == 1 + 1 + 15 + 2
