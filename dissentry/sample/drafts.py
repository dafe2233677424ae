"""What the sample's accounts post: a platform-neutral draft of each post, drawn day by day.

`Generator.draft` plants each member post from its group's rates (`world.GroupSpec`) and counts
what it planted in the group's `GroupTruth`; the writers (`writers.py`) then render a draft in the
shape of its platform's API. Only a few recent posts per account are kept as reply, repost and
quote targets, so the generation streams at any scale.
"""

from __future__ import annotations

import random
import unicodedata
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dissentry.sample import texts
from dissentry.sample.world import BASE_DATE, GROUPS, GROUPS_BY_ID, Actor, GroupSpec, SampleTruth, pick

_TARGET_WINDOW = 6  # recent posts per account that others may reply to, repost or quote


@dataclass
class Segment:
    kind: str  # text | mention | tag | link
    value: str  # text, tag name or URL
    actor: Actor | None = None  # for mentions


@dataclass
class Card:
    url: str
    title: str
    description: str


@dataclass
class Published:
    """A post already written, kept for a while as a reply/repost/quote target."""

    actor: Actor
    created_at: datetime
    mastodon: dict[str, Any] | None = None  # the Status
    bsky_view: dict[str, Any] | None = None  # the PostView
    bsky_root: dict[str, Any] | None = None  # the PostView of its thread root
    post_id: str = ""  # the canonical post_id the connector's mapping gives this post
    url: str | None = None  # its page, as `posts.url` carries it


@dataclass
class Draft:
    actor: Actor
    created_at: datetime
    kind: str = "post"  # post | reply | quote | repost
    segments: list[Segment] = field(default_factory=list)
    card: Card | None = None
    target: Published | None = None
    stance: str | None = None  # the planted stance towards the author's own organisation, if any


class Generator:
    def __init__(self, rng: random.Random, roster: list[Actor], truth: SampleTruth) -> None:
        self.rng = rng
        self.roster = roster
        self.truth = truth
        self.recent: dict[int, deque[Published]] = {a.index: deque(maxlen=_TARGET_WINDOW) for a in roster}
        self.by_platform: dict[str, list[Actor]] = {}
        for actor in roster:
            self.by_platform.setdefault(actor.platform, []).append(actor)
        self._article_seq = 0

    # -- choosing targets

    def _candidates(self, actor: Actor, in_group: bool, *, officials: bool, other_officials: bool) -> list[Actor]:
        out = []
        for other in self.by_platform[actor.platform]:
            if other.index == actor.index:
                continue
            same = actor.group is not None and other.group == actor.group
            if same != in_group:
                continue
            if other.role == "official":
                if same and not officials:
                    continue
                if not same and not other_officials:
                    continue
            out.append(other)
        return out

    def _target_post(self, candidates: list[Actor]) -> Published | None:
        """A recent post by one of the candidates (tried in random order)."""
        order = list(candidates)
        self.rng.shuffle(order)
        for other in order[:8]:
            window = self.recent[other.index]
            if window:
                return window[self.rng.randrange(len(window))]
        return None

    def _official_post(self, actor: Actor) -> Published | None:
        officials = [a for a in self.by_platform[actor.platform] if a.group == actor.group and a.role == "official"]
        return self._target_post(officials)

    # -- text pieces

    def _topic(self) -> str:
        return pick(self.rng, texts.TOPICS)

    def _fill(self, template: str, **extra: str) -> str:
        values = {"topic": self._topic(), "city": pick(self.rng, texts.CITIES)}
        values.update(extra)
        return template.format(**values)

    def _cap_fill(self, template: str, **extra: str) -> str:
        return _capitalise(self._fill(template, **extra))

    def _article(self, group: GroupSpec | None, when: datetime) -> Card:
        self._article_seq += 1
        topic = self._topic()
        city = pick(self.rng, texts.CITIES)
        published = when - timedelta(hours=self.rng.randint(0, 30))
        if group is not None:
            domain = pick(self.rng, group.domains)
            title = pick(self.rng, texts.OWN_TITLES[group.id]).format(topic=topic, city=city)
            title = title[0].upper() + title[1:]
            url = f"https://{domain}/news/{published:%Y/%m/%d}/{_slug(title)}-{self._article_seq}"
        else:
            domain = pick(self.rng, texts.NEWS_DOMAINS)
            title = pick(self.rng, texts.NEWS_TITLES).format(topic=topic, city=city)
            title = title[0].upper() + title[1:]
            host = ("www." + domain) if self._article_seq % 3 == 0 else domain
            url = f"https://{host}/{published:%Y/%m/%d}/{_slug(title)}"
            if self._article_seq % 5 == 0:
                url += "?utm_source=mastodon&utm_medium=social"
        return Card(url=url, title=title, description=f"{title}. Read the full story.")

    def _stance_sentence(self, group: GroupSpec, stance: str) -> str:
        use_leader = self.rng.random() < 0.35
        org = pick(self.rng, group.leaders if use_leader else group.aliases)
        if stance == "critical":
            pool = texts.CRITICAL_TEMPLATES + (texts.CRITICAL_LEADER_TEMPLATES if use_leader else ())
        elif stance == "supportive":
            pool = texts.SUPPORTIVE_TEMPLATES
        else:
            pool = texts.NEUTRAL_TEMPLATES
        return _capitalise(self._fill(pick(self.rng, pool), org=org))

    def _personal(self) -> str:
        return pick(self.rng, texts.PERSONAL_TEMPLATES).format(
            city=pick(self.rng, texts.CITIES), n=self.rng.randint(1, 90), place=pick(self.rng, texts.PLACES),
            weekday=pick(self.rng, texts.WEEKDAYS))

    @staticmethod
    def _text_end(segments: list[Segment]) -> int:
        """Where added words go: before a trailing link (after 'comment '), as people write 'comment URL'."""
        return len(segments) - 1 if segments[-1].kind == "link" and len(segments) > 1 else len(segments)

    def _jargon(self, group: GroupSpec) -> str:
        term = pick(self.rng, group.jargon)
        return pick(self.rng, (" Time for {j}.", " We stand for {j}.", " {J} is coming.")).format(
            j=term, J=term[0].upper() + term[1:])

    # -- drafting

    def draft(self, actor: Actor, when: datetime) -> Draft:
        if actor.role == "member":
            return self._member_draft(actor, when)
        if actor.role == "official":
            return self._official_draft(actor, when)
        return self._unaffiliated_draft(actor, when)

    def _member_draft(self, actor: Actor, when: datetime) -> Draft:
        group = GROUPS_BY_ID[actor.group or ""]
        rng = self.rng
        action = rng.choices(("repost", "link", "post", "reply", "quote"), weights=group.actions)[0]
        draft = Draft(actor, when)
        in_group = rng.random() < group.in_group_share
        if action in ("repost", "reply", "quote"):
            target = self._member_target(actor, group, action, in_group)
            if target is None:  # nothing to answer yet (the first hours): say something instead
                action = "post"
            else:
                draft.kind, draft.target = action, target
        stance: str | None = None
        keep_as_is = False  # a bare share or a slogan is posted word for word
        if action == "repost":
            self._count_repost(draft, group)
            keep_as_is = True
        elif action in ("reply", "quote"):
            stance = self._write_response(draft, group)
        elif action == "link":
            keep_as_is = self._write_link_share(draft, group)
        else:
            stance, keep_as_is = self._write_original(draft, group)
        if not keep_as_is:
            self._embellish(draft, group)
        self._count_member_post(draft, group, stance)
        draft.stance = stance
        return draft

    def _count_repost(self, draft: Draft, group: GroupSpec) -> None:
        assert draft.target is not None
        truth = self.truth.groups[group.id]
        truth.reposts += 1
        if draft.target.actor.role == "official":
            truth.official_reposts += 1
            truth.own_content_shares += 1
            truth.uncritical_own_shares += 1

    def _write_response(self, draft: Draft, group: GroupSpec) -> str | None:
        """Text of a reply or quote; returns the stance when it answers the group's own official."""
        assert draft.target is not None
        rng = self.rng
        target = draft.target.actor
        if target.role == "official" and target.group == group.id:
            stance = self._draw_stance(group)
            draft.segments = [Segment("text", self._stance_sentence(group, stance))]
            return stance
        if target.role == "official":  # another group's official: talk across groups
            other = GROUPS_BY_ID[target.group or ""]
            text = self._cap_fill(pick(rng, texts.CROSS_GROUP_TEMPLATES), org=pick(rng, other.aliases))
        else:
            text = self._fill(pick(rng, texts.REPLY_TEMPLATES if draft.kind == "reply" else texts.QUOTE_TEMPLATES))
        draft.segments = [Segment("text", text)]
        return None

    def _write_link_share(self, draft: Draft, group: GroupSpec) -> bool:
        """A link to the group's own site or to the news; returns whether it is a bare share."""
        rng = self.rng
        truth = self.truth.groups[group.id]
        own = rng.random() < group.own_source_share
        draft.card = self._article(group if own else None, draft.created_at)
        bare = rng.random() < group.bare_share_rate
        draft.segments = self._link_segments(draft.card, bare, draft.actor)
        truth.link_posts += 1
        truth.links += 1
        if own:
            truth.own_source_links += 1
            truth.own_content_shares += 1
            truth.uncritical_own_shares += int(bare)
        return bare

    def _write_original(self, draft: Draft, group: GroupSpec) -> tuple[str | None, bool]:
        """An original post: about the organisation, a slogan, about another group, or chatter."""
        rng = self.rng
        stance = None
        slogan = False
        if rng.random() < group.reference_rate:
            stance = self._draw_stance(group)
            draft.segments = [Segment("text", self._stance_sentence(group, stance))]
        elif rng.random() < group.slogan_rate:
            draft.segments = [Segment("text", pick(rng, texts.SLOGANS))]
            slogan = True
        elif rng.random() < 0.35:
            other = pick(rng, [g for g in GROUPS if g.id != group.id])
            text = self._cap_fill(pick(rng, texts.CROSS_GROUP_TEMPLATES), org=pick(rng, other.aliases))
            draft.segments = [Segment("text", text)]
        else:
            draft.segments = [Segment("text", self._fill(pick(rng, texts.CHATTER_TEMPLATES)))]
        if rng.random() < 0.3:
            draft.segments += [Segment("text", " "), Segment("tag", pick(rng, texts.TOPIC_TAGS))]
        return stance, slogan

    def _embellish(self, draft: Draft, group: GroupSpec) -> None:
        """A sentence of one's own, the group's jargon, a mention: each at the group's rate."""
        rng = self.rng
        if not draft.segments:
            return
        if rng.random() < group.personal_rate:
            at = self._text_end(draft.segments)
            words = self._personal() + " " if at < len(draft.segments) else " " + self._personal()
            draft.segments.insert(at, Segment("text", words))
        if rng.random() < group.jargon_rate:
            draft.segments.append(Segment("text", self._jargon(group)))
        if rng.random() < 0.2:
            self._add_mention(draft, group)

    def _draw_stance(self, group: GroupSpec) -> str:
        if self.rng.random() < group.dissent_rate:
            return "critical"
        return "supportive" if self.rng.random() < 0.55 else "neutral"

    def _member_target(self, actor: Actor, group: GroupSpec, action: str, in_group: bool) -> Published | None:
        if in_group:
            official_rate = {"repost": group.official_repost_rate, "reply": 0.35, "quote": 0.5}[action]
            if self.rng.random() < official_rate:
                return self._official_post(actor)
            return self._target_post(self._candidates(actor, True, officials=False, other_officials=False))
        # other groups' official accounts are replied to, never boosted or quoted: amplifying them
        # would make the author look like one of their members
        if action == "reply" and self.rng.random() < 0.15:
            return self._target_post([a for a in self.by_platform[actor.platform]
                                      if a.role == "official" and a.group not in (None, group.id)])
        return self._target_post(self._candidates(actor, False, officials=False, other_officials=False))

    def _add_mention(self, draft: Draft, group: GroupSpec) -> None:
        """Mention one more account, in-group with the group's planted probability."""
        in_group = self.rng.random() < group.in_group_share
        pool = self._candidates(draft.actor, in_group, officials=False, other_officials=False)
        if draft.target is not None:
            pool = [a for a in pool if a.index != draft.target.actor.index]
        if pool:
            draft.segments += [Segment("text", " cc "), Segment("mention", "", pick(self.rng, pool))]

    def _link_segments(self, card: Card, bare: bool, actor: Actor) -> list[Segment]:
        if bare:
            style = self.rng.randrange(3)
            if style == 0:  # just the link (Bluesky: empty text with the link card)
                return [] if actor.platform == "bluesky" else [Segment("link", card.url)]
            if style == 1:  # the title, then the link
                return [Segment("text", card.title + " "), Segment("link", card.url)]
            return [Segment("text", card.title)] if actor.platform == "bluesky" else [
                Segment("text", card.title + " "), Segment("link", card.url)]
        comment = self._fill(pick(self.rng, texts.COMMENT_TEMPLATES))
        return [Segment("text", comment + " "), Segment("link", card.url)]

    def _count_member_post(self, draft: Draft, group: GroupSpec, stance: str | None) -> None:
        truth = self.truth.groups[group.id]
        truth.member_posts += 1
        if stance is not None:
            truth.org_reference_posts += 1
            setattr(truth, f"{stance}_posts", getattr(truth, f"{stance}_posts") + 1)
        targets: list[Actor] = []
        if draft.target is not None:
            targets.append(draft.target.actor)
        mentioned = [s.actor for s in draft.segments if s.kind == "mention" and s.actor is not None]
        if draft.kind == "reply" and draft.target is not None and draft.actor.platform == "mastodon":
            mentioned.insert(0, draft.target.actor)  # the reply's own mention (see MastodonWriter.emit)
        for other in targets + mentioned:
            if other.group == group.id:
                truth.in_group_ties += 1
            else:
                truth.out_group_ties += 1

    def _official_draft(self, actor: Actor, when: datetime) -> Draft:
        group = GROUPS_BY_ID[actor.group or ""]
        rng = self.rng
        draft = Draft(actor, when)
        roll = rng.random()
        if roll < 0.15:
            target = self._target_post(self._candidates(actor, True, officials=True, other_officials=False))
            if target is not None:
                draft.kind, draft.target = "repost", target
                return draft
        if roll < 0.25:
            target = self._target_post(self._candidates(actor, True, officials=False, other_officials=False))
            if target is not None:
                draft.kind, draft.target = "reply", target
                draft.segments = [Segment("text", "Thank you for your support!")]
                return draft
        if roll < 0.85:
            draft.card = self._article(group, when)
            template = pick(rng, texts.OFFICIAL_TEMPLATES[:2])
            draft.segments = [Segment("text", template.format(title=draft.card.title) + " "),
                              Segment("link", draft.card.url)]
        else:
            draft.segments = [Segment("text", self._fill(texts.OFFICIAL_TEMPLATES[2]) + " "),
                              Segment("tag", _slug(group.name).replace("-", ""))]
        return draft

    def _unaffiliated_draft(self, actor: Actor, when: datetime) -> Draft:
        rng = self.rng
        draft = Draft(actor, when)
        roll = rng.random()
        if roll < 0.3:
            others = [a for a in self.by_platform[actor.platform] if a.role != "official" and a.index != actor.index]
            target = self._target_post(others)
            if target is not None:
                draft.kind, draft.target = ("reply" if roll < 0.2 else "repost"), target
                if draft.kind == "reply":
                    draft.segments = [Segment("text", self._fill(pick(rng, texts.REPLY_TEMPLATES)))]
                return draft
        if roll < 0.6:
            draft.card = self._article(None, when)
            draft.segments = self._link_segments(draft.card, rng.random() < 0.2, actor)
        elif roll < 0.75:
            group = pick(rng, GROUPS)
            draft.segments = [Segment("text", self._cap_fill(pick(rng, texts.CROSS_GROUP_TEMPLATES),
                                                         org=pick(rng, group.aliases)))]
        else:
            draft.segments = [Segment("text", self._fill(pick(rng, texts.CHATTER_TEMPLATES)))]
        return draft


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _slug(text: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in _ascii_keep_spaces(text)).split())


def _ascii_keep_spaces(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def day_events(rng: random.Random, roster: list[Actor], day: int, scale: float) -> list[tuple[datetime, int]]:
    """(time, roster index) for every post of one day, in time order."""
    start = BASE_DATE + timedelta(days=day)
    events = []
    for actor in roster:
        expected = actor.posts_per_day * scale * rng.uniform(0.4, 1.6)
        count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
        for _ in range(count):
            offset = timedelta(seconds=rng.randrange(6 * 3600, 24 * 3600), microseconds=rng.randrange(1_000_000))
            events.append((start + offset, actor.index))
    events.sort()
    return events
