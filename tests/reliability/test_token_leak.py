"""The API token never reaches anything a run writes or prints, however hard the platform echoes it.

A loopback Mastodon echoes the request's token everywhere it can: in 401/403/422/429 and 500
bodies (as text and as JSON fields), in response headers on every answer, in `Link` URLs, and in a
redirect `Location`. A real `dissentry -v collect` runs in a subprocess with the token in the
environment. Then every byte written under the warehouse is scanned, Parquet both as stored bytes
and decoded column by column (a compressed page would hide a string from a byte scan), together
with everything printed (stdout, stderr, where the log records go): zero hits.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from tests.reliability.fault_server import ROOT, build_catalogue
from tests.support.local_server import Reply, Request, serve

TOKEN = "qZ7-leak-41c9e2b0d8-Tk"  # URL-safe, so its encoded forms are itself
TOKEN_ENV = "DISSENTRY_LEAK_TEST_TOKEN"
ACCOUNTS = {"echo_ok": 200, "echo_401": 401, "echo_403": 403, "echo_422": 422}


class EchoingMastodon:
    def __init__(self) -> None:
        cat = build_catalogue(mastodon=[90], bluesky=[], reddit_users=[], reddit_subs=[])
        self.account, feed = next(iter(cat.mastodon.values()))
        self.statuses = feed.items
        self.echoes = 0  # answers that carried the token back
        self.failed_once: set[str] = set()

    def _echo(self, request: Request) -> dict[str, str]:
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        if token:
            self.echoes += 1
        return {"X-Echo-Authorization": auth, "X-Debug-Token": token,
                "X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "250"}

    def __call__(self, request: Request) -> Reply:
        headers = self._echo(request)
        token = headers["X-Debug-Token"]
        body = {"error": f"token {token} rejected", "access_token": token, "Authorization": f"Bearer {token}"}
        if request.path == "/api/v1/accounts/lookup":
            acct = request.param("acct") or ""
            status = ACCOUNTS.get(acct, 404)
            if status != 200:
                return Reply(status, body, headers=headers)
            if "429" not in self.failed_once:  # one 429 with the token in its body, then the answer
                self.failed_once.add("429")
                return Reply(429, body, headers={**headers, "Retry-After": "0"})
            account = {**copy.deepcopy(self.account), "username": acct, "acct": acct}
            return Reply(200, account, headers=headers)
        if request.path.endswith("/statuses"):
            if request.param("page") is None and request.param("max_id") is None:
                # the first page: redirected to a URL carrying the token
                location = f"{request.path}?limit=40&page=1&echo={token}&access_token={token}"
                return Reply(302, b"", headers={**headers, "Location": location})
            if "500" not in self.failed_once:  # one 500 with the token in its body
                self.failed_once.add("500")
                return Reply(500, f"<html>internal error for {request.headers.get('Authorization')}</html>",
                             headers={**headers, "Content-Type": "text/html"})
            start = 0
            max_id = request.param("max_id")
            if max_id:
                start = next((i for i, s in enumerate(self.statuses) if int(s["id"]) < int(max_id)), len(self.statuses))
            page = self.statuses[start:start + 40]
            if start + 40 < len(self.statuses):
                host = request.headers.get("Host", "")
                headers["Link"] = (f'<http://{host}{request.path}?limit=40&max_id={page[-1]["id"]}&echo={token}>; '
                                   f'rel="next", <http://{host}/prev?token={token}>; rel="prev"')
            return Reply(200, page, headers=headers)
        return Reply(404, body, headers=headers)


def _hits(data: bytes) -> int:
    return data.count(TOKEN.encode())


def _parquet_text(path: Path) -> str:
    table = pq.read_table(path)
    return json.dumps(table.to_pylist(), default=str, ensure_ascii=False)


def test_the_token_reaches_no_byte_written_or_printed(tmp_path: Path) -> None:
    handler = EchoingMastodon()
    warehouse = tmp_path / "wh"
    with serve(handler) as server:
        lines = [f"warehouse_dir = {json.dumps(str(warehouse))}", ""]
        for acct in ACCOUNTS:
            lines += ["[[sources]]", f'name = "leak-{acct}"', 'platform = "mastodon"',
                      f"instance = {json.dumps(server.url)}", f'accounts = ["{acct}"]', f'token_env = "{TOKEN_ENV}"', ""]
        config = tmp_path / "dissentry.toml"
        config.write_text("\n".join(lines), encoding="utf-8")
        env = {**os.environ, TOKEN_ENV: TOKEN, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
        proc = subprocess.run([sys.executable, "-m", "dissentry", "-v", "--config", str(config), "collect"],
                              cwd=ROOT, env=env, capture_output=True, timeout=120)
        requests = server.requests

    # the platform really did get the token, and echoed it on every answer
    assert all(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in requests)
    assert handler.echoes == len(requests) >= 10
    assert {"429", "500"} <= handler.failed_once
    # the runs happened: the good source landed its posts, the others failed on their 4xx
    assert proc.returncode == 1, proc.stderr.decode()[-2000:]
    runs = [pq.read_table(p).to_pylist()[0] for p in warehouse.glob("collection_runs/*.parquet")]
    by_source = {r["source"]: r for r in runs}
    assert by_source["leak-echo_ok"]["status"] == "ok" and by_source["leak-echo_ok"]["records_seen"] == 91
    for acct, status in ACCOUNTS.items():
        if status != 200:
            errors = json.loads(by_source[f"leak-{acct}"]["errors"])
            assert by_source[f"leak-{acct}"]["status"] == "failed"
            assert any(f"answered {status}" in e for e in errors), errors
            assert any("***" in e for e in errors), errors  # the excerpt is kept, redacted

    printed = proc.stdout + proc.stderr
    assert b"answered 403 Forbidden" in printed  # the errors were printed, so the scan below means something
    assert _hits(printed) == 0, [line for line in printed.splitlines() if TOKEN.encode() in line][:5]

    files = [p for p in warehouse.rglob("*") if p.is_file()]
    scanned = 0
    leaks: list[str] = []
    for path in files:
        data = path.read_bytes()
        scanned += len(data)
        if _hits(data):
            leaks.append(str(path))
        if path.suffix == ".parquet" and TOKEN in _parquet_text(path):
            leaks.append(f"{path} (decoded)")
    assert len(files) >= 6 and scanned > 10_000
    assert not leaks, leaks
    # and the locators of landed records are the redirected URL, redacted
    raw = [r for p in warehouse.glob("raw/**/*.parquet") for r in pq.read_table(p).to_pylist()]
    locators: set[Any] = {r["locator"] for r in raw}
    assert any("echo=%2A%2A%2A" in str(loc) or "echo=***" in str(loc) for loc in locators), sorted(locators)[:3]
