"""A real HTTP server on 127.0.0.1 for connector tests, in the style of httpx's own test servers.

Published as `dissentry.testing` for anyone writing a connector: fake the platform's API with a
handler and point the connector's `HttpClient` at `RunningServer.url`. No mocks: the client opens a
real socket, sends real headers and reads a real (or deliberately broken) HTTP answer.

Tests give it a handler `handle(request) -> Reply`; the server runs it on a real socket in a
thread, records every request (path, query, headers), and can misbehave on purpose: a delay
before answering (slow responses), a body cut short of its Content-Length (truncation), a
connection closed without an answer (reset).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    truncate_to: int | None = None  # send only this many body bytes (Content-Length stays full)
    reset: bool = False  # close the connection without answering

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


Handler = Callable[[Request], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that timed out and hung up (a slow-response test) is expected, not an error
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms Nagle stall

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
        with self.server.lock:
            self.server.requests.append(request)
        reply = self.server.handler(request)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.reset:
            self.close_connection = True
            self.connection.close()
            return
        payload = reply.encoded()
        # the stock send_response adds a Date from the real clock; a handler on an injected clock
        # sends its own (a rate-limit test measures clock skew from it), so only one goes out
        self.send_response_only(reply.status)
        self.send_header("Server", self.version_string())
        headers = {"Content-Type": "application/json; charset=utf-8", "Date": self.date_time_string(), **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if reply.truncate_to is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        if reply.truncate_to is not None:
            self.wfile.write(payload[: reply.truncate_to])
            self.wfile.flush()
            self.close_connection = True
            self.connection.close()
            return
        self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve


@dataclass
class RunningServer:
    url: str
    server: _Server

    @property
    def requests(self) -> list[Request]:
        with self.server.lock:
            return list(self.server.requests)


@contextmanager
def serve(handler: Handler) -> Iterator[RunningServer]:
    """Start a server on a free loopback port; stop it (and its threads) on exit."""
    server = _Server(handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield RunningServer(f"http://{host}:{port}", server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
