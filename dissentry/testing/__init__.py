"""Fake platforms on loopback, for testing a connector the way dissentry tests its own.

    from dissentry.testing import Reply, Request, FakeTime, serve

    def handle(request: Request) -> Reply:
        if request.path == "/api/v1/accounts/lookup":
            return Reply(200, {"id": "1", "acct": "alice"})
        return Reply(404, {"error": "Record not found"})

    with serve(handle) as server:          # a real HTTP server on 127.0.0.1, a free port
        ...                                # point the connector at server.url
        assert server.requests[0].param("acct") == "alice"

- `serve(handler)`, `Request`, `Reply`, `RunningServer`: the server; a `Reply` can also be slow,
  cut short of its Content-Length, or a reset connection.
- `FakeTime`: an injected clock and sleep for `HttpClient`, so rate-limit waits take no time.
- `dissentry.testing.faults`: a fake Mastodon/Bluesky/reddit API over a known set of posts that
  injects 429s, 5xx, resets, timeouts, truncated and invalid bodies on a seeded schedule.
- `dissentry.testing.rate_limits`: the same platform enforcing a real rate limit, with honest or
  wrong headers and clocks.
- `dissentry.testing.harness`: collect until a run ends ok, and check the layers hold exactly the
  server's posts.

dissentry's own tests (tests/) and benchmarks (bench/) use these; nothing in the product imports
`tests`.
"""

from dissentry.testing.clock import FAKE_EPOCH, FakeTime
from dissentry.testing.server import Handler, Reply, Request, RunningServer, serve

__all__ = ["FAKE_EPOCH", "FakeTime", "Handler", "Reply", "Request", "RunningServer", "serve"]
