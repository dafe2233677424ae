"""Helpers for the DAG tests: configs pointing at loopback servers, and the contract fake APIs
with their rate-limit reset moved onto the real clock."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.local_server import Reply, Request

FAKE_EPOCH = 1_800_000_000.0  # the contract fakes' clock (2027-01-15T08:00Z)
GROUPS = """
[[groups]]
id = "org_a"
name = "Org A"
aliases = ["Org A", "Contract"]
leaders = ["Jane Leader"]
domains = ["org-a.example"]
"""


def _toml_value(value: Any) -> str:
    return json.dumps(value)  # JSON strings, lists and numbers are valid TOML here


def write_config(
    folder: Path,
    sources: list[dict[str, Any]],
    warehouse: str = "wh",
    members: list[str] | None = None,
    top_level: dict[str, Any] | None = None,
) -> Path:
    """A config of `sources`; `top_level` adds keys such as local_dir or storage_conn_id."""
    members = members or ["mastodon:@alice@social.example", "bluesky:alice.bsky.social"]
    lines = [f"warehouse_dir = {_toml_value(warehouse)}"]
    lines.extend(f"{key} = {_toml_value(value)}" for key, value in (top_level or {}).items())
    lines.append(GROUPS + f"members = {_toml_value(members)}\n")
    for source in sources:
        lines.append("[[sources]]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in source.items())
        lines.append("")
    path = folder / f"dissentry-{re.sub(r'[^A-Za-z0-9_]+', '-', warehouse)}.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def realtime_rate_limits(handler: Callable[[Request], Reply], seen: list[dict[str, str]] | None = None) -> Callable:
    """Shift the fakes' rate-limit resets from their fake clock to just before the real now.

    The contract fakes announce "0 requests left until FAKE_EPOCH + 30"; FAKE_EPOCH is in 2027,
    so with a real clock the client would wait its maximum (15 minutes). Moved to one second ago,
    with the fresh window's whole budget, the answer must cost no wait at all, which the tests check
    in the run summaries.
    """

    def handle(request: Request) -> Reply:
        reply = handler(request)
        shift = time.time() - FAKE_EPOCH - 31
        headers = dict(reply.headers)
        if "X-RateLimit-Reset" in headers:  # Mastodon: ISO 8601
            fake = datetime.fromisoformat(headers["X-RateLimit-Reset"].replace("Z", "+00:00")).timestamp()
            headers["X-RateLimit-Reset"] = datetime.fromtimestamp(fake + shift, UTC).isoformat()
        if "RateLimit-Reset" in headers:  # Bluesky: epoch seconds
            headers["RateLimit-Reset"] = str(int(float(headers["RateLimit-Reset"]) + shift))
        # a window that ended a second ago has been replaced by a fresh one: a real server says so
        # with its whole budget (a client rightly distrusts "0 left" beside a reset in the past)
        for limit, remaining in (("X-RateLimit-Limit", "X-RateLimit-Remaining"), ("RateLimit-Limit", "RateLimit-Remaining")):
            if remaining in headers:
                headers[remaining] = headers.get(limit, "300")
        if seen is not None:
            seen.append(headers)
        reply.headers = headers
        return reply

    return handle
