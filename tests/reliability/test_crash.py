"""A collector killed at random moments loses nothing, duplicates nothing, and never shows a
reader half a file.

`dissentry collect` runs in a subprocess against the fault server in this process (slow answers and
the odd page served twice, so runs are long and some fail); it is SIGKILLed at 20 seeded random
moments. After every kill each `*.parquet` in the warehouse must open whole and no temporary file
may be visible under a Parquet name. Then it runs to completion, and its normalised posts must equal
those of an uninterrupted in-process collection of the same server, and be exactly the server's.
A heavier run with more kills is `python bench/faults.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reliability.fault_server import FaultServer, build_catalogue, expected_ids, serve_faults
from tests.reliability.harness import assert_exactly, crash_and_reference, normalised_posts


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    cat = build_catalogue(mastodon=[300, 300], bluesky=[300, 300], reddit_users=[(150, 150)], reddit_subs=[300])
    handler = FaultServer(cat, page_size=10, window_requests=1_000_000)
    with serve_faults(handler) as running:
        run = crash_and_reference(handler, running, cat, tmp_path, kills=20, seed=5, schedule_seed=11,
                                  delay=(0.7, 1.8))
        figures, crashed, reference, sources = run.figures, run.crashed, run.reference, run.sources
        rows = run.reference_rows
        assert [r["status"] for r in rows] == ["ok"] * len(sources)

    print(f"\ncrash and resume: {json.dumps(figures, sort_keys=True)}")
    assert figures["kills"] == 20
    # kills must land while the collector is talking to the server, and some after it committed
    # files, or the test proved little (startup takes ~0.6 s; how many depends on the machine's load)
    assert figures["kills_while_requesting"] >= 5
    assert figures["kills_after_new_files"] >= 1
    assert normalised_posts(crashed) == normalised_posts(reference)
    assert_exactly(crashed, *expected_ids(cat, sources))
