"""Shared fixtures. Tests never reach the network beyond loopback."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse any connection that is not to loopback, so a test cannot quietly use the internet."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        remote = isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1"))
        if remote and self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError(f"tests may not reach the network: {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
