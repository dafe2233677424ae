"""Every platform dissentry knows: one line each. Adding a platform adds one line here."""

from __future__ import annotations

import importlib
from functools import cache

from dissentry.connectors.base import Connector

CONNECTORS: dict[str, str] = {
    "mastodon": "dissentry.connectors.mastodon.connector:MastodonConnector",
    "bluesky": "dissentry.connectors.bluesky.connector:BlueskyConnector",
    "reddit": "dissentry.connectors.reddit.connector:RedditConnector",
    "rss": "dissentry.connectors.rss.connector:RssConnector",
    "telegram": "dissentry.connectors.telegram.connector:TelegramConnector",
    "twitter": "dissentry.connectors.twitter.connector:TwitterConnector",
    "facebook": "dissentry.connectors.facebook.connector:FacebookConnector",
    "csv": "dissentry.connectors.tabular.connector:CsvConnector",
    "jsonl": "dissentry.connectors.tabular.connector:JsonlConnector",
}


class UnknownPlatformError(ValueError):
    pass


def platforms() -> list[str]:
    return sorted(CONNECTORS)


@cache
def get_connector(platform: str) -> Connector:
    """The connector for a platform; imported on first use so the CLI and DAGs start fast."""
    try:
        target = CONNECTORS[platform]
    except KeyError:
        raise UnknownPlatformError(
            f"unknown platform {platform!r} (known: {', '.join(platforms())})"
        ) from None
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)()
