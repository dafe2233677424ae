"""The sample's writers: one per platform export format, and the files of the planted truth.

- `MastodonWriter`: one Mastodon `Status` per line, as `GET /api/v1/accounts/:id/statuses` returns it.
- `BlueskyWriter`: `app.bsky.actor.getProfile` responses, then `app.bsky.feed.getAuthorFeed` pages.
- `write_truth` and `write_stance_truth`: `truth.json` and `truth_stance.jsonl`.

A writer renders a platform-neutral `Draft` (drafts.py) and returns it `Published`: the post as a
later reply, repost or quote points at it, with the `post_id` the connector's mapping will give it.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from dissentry.sample.drafts import Draft, Published, Segment
from dissentry.sample.world import BASE_DATE, DAYS, INSTANCE, INSTANCE_HOST, Actor, SampleTruth, b32

STATUSES_FILE = "mastodon.jsonl"  # Mastodon statuses, one per line
FEEDS_FILE = "bluesky.jsonl"  # Bluesky author-feed pages and profiles
TRUTH_FILE = "truth.json"
TRUTH_STANCE_FILE = "truth_stance.jsonl"  # the planted stance of every post, by post_id
FEED_PAGE_SIZE = 50


def _cid(seed: str) -> str:
    """A CIDv1 (dag-cbor, sha256) lookalike: 'bafyrei' + 52 base32 characters."""
    return "bafyrei" + b32(hashlib.sha256(seed.encode()).digest())[:52]


_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def _tid(when: datetime, clock_id: int) -> str:
    """An atproto TID (record key): microseconds since the epoch and a clock id, base32-sortable."""
    micros = int(when.timestamp()) * 1_000_000 + when.microsecond
    value = (micros << 10) | (clock_id & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _iso_ms(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


# ---- Mastodon rendering ------------------------------------------------------------------------


def mastodon_account(actor: Actor) -> dict[str, Any]:
    """A full Account entity, as embedded in every Status."""
    note = "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in actor.bio.split("\n"))
    expected_statuses = max(1, round(actor.posts_per_day * DAYS))
    return {
        "id": actor.mastodon_id,
        "username": actor.username,
        "acct": actor.acct,
        "display_name": actor.display_name,
        "locked": False,
        "bot": False,
        "discoverable": True,
        "indexable": True,
        "group": False,
        "created_at": _iso_ms(actor.created_at),
        "note": note,
        "url": actor.profile_url,
        "uri": f"https://{actor.host}/users/{actor.username}",
        "avatar": f"https://{INSTANCE_HOST}/avatars/original/missing.png",
        "avatar_static": f"https://{INSTANCE_HOST}/avatars/original/missing.png",
        "header": f"https://{INSTANCE_HOST}/headers/original/missing.png",
        "header_static": f"https://{INSTANCE_HOST}/headers/original/missing.png",
        "followers_count": actor.followers,
        "following_count": actor.following,
        "statuses_count": expected_statuses,
        "last_status_at": (BASE_DATE + timedelta(days=DAYS - 1)).strftime("%Y-%m-%d"),
        "hide_collections": False,
        "noindex": False,
        "emojis": [],
        "roles": [],
        "fields": [],
    }


def _mastodon_link_html(url: str) -> str:
    """Mastodon's markup for a plain link: scheme hidden, long URLs ellipsised after 30 chars."""
    scheme, _, rest = url.partition("://")
    shown, hidden = rest[:30], rest[30:]
    cls = "ellipsis" if hidden else ""
    return (
        f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
        f'<span class="invisible">{scheme}://</span><span class="{cls}">{html.escape(shown)}</span>'
        f'<span class="invisible">{html.escape(hidden)}</span></a>'
    )


def _mastodon_content(segments: list[Segment]) -> str:
    if not segments:
        return ""
    out = []
    for seg in segments:
        if seg.kind == "mention" and seg.actor is not None:
            out.append(
                f'<span class="h-card" translate="no"><a href="{seg.actor.profile_url}" class="u-url mention">'
                f"@<span>{seg.actor.username}</span></a></span>"
            )
        elif seg.kind == "tag":
            out.append(
                f'<a href="{INSTANCE}/tags/{seg.value}" class="mention hashtag" rel="tag">#<span>{seg.value}</span></a>'
            )
        elif seg.kind == "link":
            out.append(_mastodon_link_html(seg.value))
        else:
            out.append(html.escape(seg.value, quote=False))
    return "<p>" + "".join(out) + "</p>"


def _shallow_quotes(status: dict[str, Any]) -> dict[str, Any]:
    """A quoted status whose own quote is shown as a ShallowQuote, as Mastodon does past one level."""
    inner = status.get("quote")
    if not inner or "quoted_status" not in inner:
        return status
    shallow = {"state": inner["state"], "quoted_status_id": inner["quoted_status"]["id"]}
    return {**status, "quote": shallow}


class MastodonWriter:
    def __init__(self, fh: TextIO, rng: random.Random, limit: int | None = None) -> None:
        self.fh = fh
        self.rng = rng
        self.limit = limit
        self.count = 0
        self._seq = 0
        self._accounts: dict[int, dict[str, Any]] = {}

    @property
    def full(self) -> bool:
        return self.limit is not None and self.count >= self.limit

    def account(self, actor: Actor) -> dict[str, Any]:
        if actor.index not in self._accounts:
            self._accounts[actor.index] = mastodon_account(actor)
        return self._accounts[actor.index]

    def _status_id(self, when: datetime) -> str:
        self._seq += 1
        return str((int(when.timestamp() * 1000) << 16) | (self._seq & 0xFFFF))

    def _urls(self, actor: Actor, status_id: str, remote_id: str) -> tuple[str, str]:
        if actor.host == INSTANCE_HOST:
            return (f"{INSTANCE}/@{actor.username}/{status_id}",
                    f"{INSTANCE}/users/{actor.username}/statuses/{status_id}")
        return (f"https://{actor.host}/@{actor.username}/{remote_id}",
                f"https://{actor.host}/users/{actor.username}/statuses/{remote_id}")

    def emit(self, draft: Draft) -> Published:
        actor = draft.actor
        status_id = self._status_id(draft.created_at)
        remote_id = str(int(status_id) + 7919)  # the id the home server gave it
        url, uri = self._urls(actor, status_id, remote_id)
        target = draft.target.mastodon if draft.target else None
        segments = list(draft.segments)
        if draft.kind == "reply" and draft.target is not None and not any(
            s.kind == "mention" and s.actor == draft.target.actor for s in segments
        ):
            # Mastodon clients prefix a reply with a mention of the account replied to
            segments.insert(0, Segment("text", " "))
            segments.insert(0, Segment("mention", "", draft.target.actor))
        mentions = []
        for seg in segments:
            if seg.kind == "mention" and seg.actor is not None:
                entry = {"id": seg.actor.mastodon_id, "username": seg.actor.username,
                         "url": seg.actor.profile_url, "acct": seg.actor.acct}
                if entry not in mentions:
                    mentions.append(entry)
        tags = [{"name": s.value, "url": f"{INSTANCE}/tags/{s.value}"} for s in segments if s.kind == "tag"]
        card = None
        if draft.card is not None:
            card = {
                "url": draft.card.url, "title": draft.card.title, "description": draft.card.description,
                "language": "en", "type": "link", "author_name": "", "author_url": "",
                "provider_name": "", "provider_url": "", "html": "", "width": 0, "height": 0,
                "image": None, "image_description": "", "embed_url": "", "blurhash": None,
                "published_at": None, "authors": [],
            }
        is_repost = draft.kind == "repost"
        status: dict[str, Any] = {
            "id": status_id,
            "created_at": _iso_ms(draft.created_at),
            "in_reply_to_id": target["id"] if draft.kind == "reply" and target else None,
            "in_reply_to_account_id": target["account"]["id"] if draft.kind == "reply" and target else None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": "public",
            "language": None if is_repost else "en",
            "uri": f"{uri}/activity" if is_repost else uri,
            "url": f"{uri}/activity" if is_repost else url,
            "replies_count": 0 if is_repost else self.rng.randint(0, 6),
            "reblogs_count": 0 if is_repost else self.rng.randint(0, 12),
            "favourites_count": 0 if is_repost else self.rng.randint(0, 40),
            "edited_at": None,
            "content": "" if is_repost else _mastodon_content(segments),
            "reblog": target if is_repost else None,
            "application": {"name": "Web", "website": None} if actor.host == INSTANCE_HOST else None,
            "account": self.account(actor),
            "media_attachments": [],
            "mentions": mentions,
            "tags": tags,
            "emojis": [],
            "quote": {"state": "accepted", "quoted_status": _shallow_quotes(target)} if draft.kind == "quote" and target
            else None,
            "card": card,
            "poll": None,
        }
        self.fh.write(json.dumps(status, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.count += 1
        # mapping.sql: 'mastodon:<host of the instance that served it>:<id>'; the sample is served
        # by social.example, remote authors' statuses included
        return Published(actor, draft.created_at, mastodon=status, post_id=f"mastodon:{INSTANCE_HOST}:{status_id}",
                         url=status["url"])


# ---- Bluesky rendering -------------------------------------------------------------------------


def bluesky_basic(actor: Actor) -> dict[str, Any]:
    """ProfileViewBasic, as embedded in posts and repost reasons."""
    return {"did": actor.did, "handle": actor.handle, "displayName": actor.display_name,
            "labels": [], "createdAt": _iso_ms(actor.created_at)}


def bluesky_profile(actor: Actor) -> dict[str, Any]:
    """An `app.bsky.actor.getProfile` response (ProfileViewDetailed)."""
    return {
        "did": actor.did,
        "handle": actor.handle,
        "displayName": actor.display_name,
        "description": actor.bio,
        "followersCount": actor.followers,
        "followsCount": actor.following,
        "postsCount": max(1, round(actor.posts_per_day * DAYS)),
        "associated": {"lists": 0, "feedgens": 0, "starterPacks": 0, "labeler": False},
        "createdAt": _iso_ms(actor.created_at),
        "indexedAt": _iso_ms(actor.created_at + timedelta(minutes=3)),
        "labels": [],
    }


def _bluesky_link_text(url: str) -> str:
    """What the Bluesky app shows for a link: no scheme, shortened with '...'."""
    rest = url.split("://", 1)[1]
    return rest if len(rest) <= 28 else rest[:25] + "..."


def _bluesky_text_and_facets(segments: list[Segment]) -> tuple[str, list[dict[str, Any]]]:
    text = ""
    facets: list[dict[str, Any]] = []
    for seg in segments:
        start = len(text.encode("utf-8"))
        if seg.kind == "mention" and seg.actor is not None:
            text += "@" + seg.actor.handle
            feature = {"$type": "app.bsky.richtext.facet#mention", "did": seg.actor.did}
        elif seg.kind == "tag":
            text += "#" + seg.value
            feature = {"$type": "app.bsky.richtext.facet#tag", "tag": seg.value}
        elif seg.kind == "link":
            text += _bluesky_link_text(seg.value)
            feature = {"$type": "app.bsky.richtext.facet#link", "uri": seg.value}
        else:
            text += seg.value
            continue
        facets.append({"index": {"byteStart": start, "byteEnd": len(text.encode("utf-8"))}, "features": [feature]})
    return text, facets


def _nested_embeds(quoted: dict[str, Any]) -> list[dict[str, Any]]:
    """The quoted post's own embed, one level deep only (as the AppView stops nesting)."""
    embed = quoted.get("embed")
    if embed is None:
        return []
    if embed["$type"] == "app.bsky.embed.record#view":
        inner = {k: v for k, v in embed["record"].items() if k != "embeds"}
        return [{"$type": embed["$type"], "record": inner}]
    return [embed]


class BlueskyWriter:
    """Buffers each author's feed items and writes getAuthorFeed pages, newest first.

    Generation runs forward in time, so the first page flushed for an author holds its oldest
    items: the end of the API's traversal, written without a cursor. Later pages get the cursor a
    client would send to fetch the page after them (the timestamp of their oldest item).
    """

    def __init__(self, fh: TextIO, rng: random.Random) -> None:
        self.fh = fh
        self.rng = rng
        self.items = 0
        self.pages = 0
        self._buffers: dict[int, list[dict[str, Any]]] = {}
        self._flushed: set[int] = set()
        self._clock = 0

    def profile(self, actor: Actor) -> None:
        self.fh.write(json.dumps(bluesky_profile(actor), ensure_ascii=False, separators=(",", ":")) + "\n")

    def _record_uri(self, actor: Actor, collection: str, when: datetime) -> str:
        self._clock += 1
        return f"at://{actor.did}/{collection}/{_tid(when, self._clock)}"

    def emit(self, draft: Draft) -> Published:
        actor = draft.actor
        target = draft.target
        if draft.kind == "repost":
            assert target is not None and target.bsky_view is not None
            uri = self._record_uri(actor, "app.bsky.feed.repost", draft.created_at)
            item = {
                "post": target.bsky_view,
                "reason": {"$type": "app.bsky.feed.defs#reasonRepost", "by": bluesky_basic(actor),
                           "uri": uri, "cid": _cid(uri), "indexedAt": _iso_ms(draft.created_at)},
            }
            self._add(actor, item)
            # mapping.sql: a repost is 'bluesky:<the repost record's at-uri>' and has no page
            return Published(actor, draft.created_at, post_id=f"bluesky:{uri}")
        uri = self._record_uri(actor, "app.bsky.feed.post", draft.created_at)
        cid = _cid(uri)
        text, facets = _bluesky_text_and_facets(draft.segments)
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": text,
                                  "createdAt": _iso_ms(draft.created_at), "langs": ["en"]}
        if facets:
            record["facets"] = facets
        view_embed = None
        root_view: dict[str, Any] | None = None
        item: dict[str, Any] = {}
        if draft.kind == "reply" and target is not None and target.bsky_view is not None:
            parent = target.bsky_view
            root_view = target.bsky_root or parent
            record["reply"] = {"root": {"uri": root_view["uri"], "cid": root_view["cid"]},
                               "parent": {"uri": parent["uri"], "cid": parent["cid"]}}
            item["reply"] = {"root": {"$type": "app.bsky.feed.defs#postView", **root_view},
                             "parent": {"$type": "app.bsky.feed.defs#postView", **parent}}
        if draft.kind == "quote" and target is not None and target.bsky_view is not None:
            quoted = target.bsky_view
            record["embed"] = {"$type": "app.bsky.embed.record", "record": {"uri": quoted["uri"], "cid": quoted["cid"]}}
            view_embed = {"$type": "app.bsky.embed.record#view", "record": {
                "$type": "app.bsky.embed.record#viewRecord", "uri": quoted["uri"], "cid": quoted["cid"],
                "author": quoted["author"], "value": quoted["record"], "labels": [],
                "likeCount": quoted["likeCount"], "replyCount": quoted["replyCount"],
                "repostCount": quoted["repostCount"], "quoteCount": quoted["quoteCount"],
                "indexedAt": quoted["indexedAt"], "embeds": _nested_embeds(quoted)}}
        if draft.card is not None:
            external = {"uri": draft.card.url, "title": draft.card.title, "description": draft.card.description}
            record["embed"] = {"$type": "app.bsky.embed.external", "external": external}
            view_embed = {"$type": "app.bsky.embed.external#view", "external": dict(external)}
        view: dict[str, Any] = {"uri": uri, "cid": cid, "author": bluesky_basic(actor), "record": record}
        if view_embed is not None:
            view["embed"] = view_embed
        view.update(replyCount=self.rng.randint(0, 6), repostCount=self.rng.randint(0, 12),
                    likeCount=self.rng.randint(0, 40), quoteCount=self.rng.randint(0, 2),
                    indexedAt=_iso_ms(draft.created_at + timedelta(milliseconds=self.rng.randint(50, 900))),
                    labels=[])
        item = {"post": view, **item}
        self._add(actor, item)
        page = f"https://bsky.app/profile/{actor.did}/post/{uri.rsplit('/', 1)[1]}"
        return Published(actor, draft.created_at, bsky_view=view, bsky_root=root_view, post_id=f"bluesky:{uri}",
                         url=page)

    def _add(self, actor: Actor, item: dict[str, Any]) -> None:
        buf = self._buffers.setdefault(actor.index, [])
        buf.append(item)
        self.items += 1
        if len(buf) >= FEED_PAGE_SIZE:
            self._flush(actor.index)

    def _flush(self, index: int) -> None:
        buf = self._buffers.pop(index, [])
        if not buf:
            return
        page: dict[str, Any] = {"feed": list(reversed(buf))}
        if index in self._flushed:
            oldest = buf[0]
            page["cursor"] = (oldest["reason"]["indexedAt"] if "reason" in oldest
                              else oldest["post"]["record"]["createdAt"])
        self._flushed.add(index)
        self.fh.write(json.dumps(page, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.pages += 1

    def close(self) -> None:
        for index in sorted(self._buffers):
            self._flush(index)


# ---- the planted truth -------------------------------------------------------------------------


def write_truth(truth: SampleTruth, out_dir: Path) -> Path:
    """Write the planted truth as `truth.json` beside the sample files."""
    path = Path(out_dir) / TRUTH_FILE
    path.write_text(json.dumps(truth.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_stance_truth(fh: TextIO, draft: Draft, published: Published) -> None:
    """One line of `truth_stance.jsonl`: the planted stance of the post just written, by its post_id."""
    actor = draft.actor
    line = {"post_id": published.post_id, "url": published.url, "platform": actor.platform, "author": actor.ref,
            "group_id": actor.group, "role": actor.role, "kind": draft.kind,
            "stance": draft.stance or "neutral"}
    fh.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
