"""Every platform dissentry knows: one line each. Adding a platform adds one line here."""

from __future__ import annotations

import importlib
from functools import cache

from connectors.base import Connector

CONNECTORS: dict[str, str] = {
    "mastodon": "connectors.mastodon.connector:MastodonConnector",
    "bluesky": "connectors.bluesky.connector:BlueskyConnector",
    "reddit": "connectors.reddit.connector:RedditConnector",
    "rss": "connectors.rss.connector:RssConnector",
    "telegram": "connectors.telegram.connector:TelegramConnector",
    "twitter": "connectors.twitter.connector:TwitterConnector",
    "facebook": "connectors.facebook.connector:FacebookConnector",
    "csv": "connectors.tabular.connector:CsvConnector",
    "jsonl": "connectors.tabular.connector:JsonlConnector",
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
