"""The loopback HTTP server the tests use: published as `dissentry.testing` (see dissentry/testing/server.py)
so connectors' contract fakes and the benchmarks need nothing from tests/; re-exported here so the
tests import it as before."""

from dissentry.testing.server import Handler, Reply, Request, RunningServer, serve

__all__ = ["Handler", "Reply", "Request", "RunningServer", "serve"]
