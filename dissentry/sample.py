"""Synthetic sample data in the exact API shapes of Mastodon and Bluesky, with planted truth.

Everything here is fictional: groups, people, domains (all under `.example`) and posts. The sample
exists so `make run` works offline and so tests can check that the marts recover what was planted.

Two data files are written, in the shapes the import connectors read (and, by `write_config`, a
`dissentry.toml` that reads them, so `dissentry --config DIR/dissentry.toml run` works anywhere):
- `mastodon.jsonl`: one Mastodon `Status` per line, as `GET /api/v1/accounts/:id/statuses` returns it
  (HTML content with mention/hashtag/link markup, full `account`, `mentions`, `tags`, `card`,
  `reblog` for boosts, Mastodon 4.4 `quote`), statuses of the instance https://social.example.
- `bluesky.jsonl`: `app.bsky.actor.getProfile` responses (ProfileViewDetailed) followed by
  `app.bsky.feed.getAuthorFeed` pages (`{"feed": [FeedViewPost...], "cursor": ...}`), each author's
  pages newest first as the API pages them, the last page of each author without a cursor.

Planting: each member post is drawn from per-group rates (`GroupSpec`). An org-referencing post
names the group's alias or leader in the sentence that carries its stance, and a critical one
always carries a configured critical cue, so a transparent classifier can see it. Interaction
targets are drawn in-group with the same probability for every kind of interaction (reply, repost,
quote, mention), so the in-group share does not depend on how a transform weighs the kinds. The
realised counts are returned as `SampleTruth` and written to `truth.json`.

The planted stance of every post written (towards its author's own organisation: 'neutral' for a
post with no stance sentence, a repost, an official's or an unaffiliated account's post) goes to
`truth_stance.jsonl`, one line per post keyed by its canonical `post_id` (as the connectors'
mappings build it). `label_from_truth` fills the `label` column of a CSV drawn by
`dissentry labels sample` from it: a simulated annotator, as if a researcher had labelled the draw.

Generation is deterministic (`random.Random(seed)`, a fixed base date, no wall clock) and streams:
a day of posts is generated, sorted by time and written before the next day starts, and only a
few recent posts per account are kept as reply/repost/quote targets, so `scale` may be large.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import html
import io
import json
import random
import unicodedata
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

BASE_DATE = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 90
INSTANCE = "https://social.example"
INSTANCE_HOST = "social.example"
REMOTE_HOST = "other.example"
APPVIEW_HANDLE_SUFFIX = ".bsky.social"
FEED_PAGE_SIZE = 50
STATUSES_FILE = "mastodon.jsonl"  # Mastodon statuses, one per line
FEEDS_FILE = "bluesky.jsonl"  # Bluesky author-feed pages and profiles
TRUTH_FILE = "truth.json"
TRUTH_STANCE_FILE = "truth_stance.jsonl"  # the planted stance of every post, by post_id
CONFIG_FILE = "dissentry.toml"  # the demo configuration, written beside the data (`write_config`)
_TARGET_WINDOW = 6  # recent posts per account that others may reply to, repost or quote

# ---- groups and their planted behaviour --------------------------------------------------------


@dataclass(frozen=True)
class GroupSpec:
    """A group as configured in dissentry.toml, plus the rates the generator plants for it."""

    id: str
    name: str
    aliases: tuple[str, ...]
    leaders: tuple[str, ...]
    domains: tuple[str, ...]
    bio_markers: tuple[str, ...]
    jargon: tuple[str, ...]
    dissent_rate: float  # share of org-referencing member posts that are critical
    in_group_share: float  # probability that an interaction target belongs to the group
    own_source_share: float  # probability that a member's link goes to the group's own domains
    bare_share_rate: float  # probability that a member's link share adds no commentary
    marker_share: float  # share of members whose bio carries a group marker
    # weights of member actions: repost, link, original post, reply, quote
    actions: tuple[float, float, float, float, float]
    reference_rate: float  # share of a member's original posts that name the organisation
    official_repost_rate: float  # share of in-group reposts that boost an official account
    jargon_rate: float  # probability that a member post carries a jargon phrase
    personal_rate: float  # probability that a member adds a sentence of their own (not copy-paste)
    slogan_rate: float  # share of non-reference original posts that are the group's stock slogans


GROUPS: tuple[GroupSpec, ...] = (
    GroupSpec(
        id="vanguard",
        name="Vanguard Movement",
        aliases=("Vanguard", "Vanguard Movement"),
        leaders=("Mara Voss", "Elias Brandt"),
        domains=("vanguard-movement.example", "renewal-press.example"),
        bio_markers=("Vanguard", "🔷"),
        jargon=("homeland first", "the renewal", "the awakening", "the old guard", "uniparty"),
        dissent_rate=0.0,
        in_group_share=0.85,
        own_source_share=0.80,
        bare_share_rate=0.80,
        marker_share=1.0,
        actions=(0.34, 0.30, 0.20, 0.10, 0.06),
        reference_rate=0.60,
        official_repost_rate=0.85,
        jargon_rate=0.45,
        personal_rate=0.1,
        slogan_rate=0.5,
    ),
    GroupSpec(
        id="centre_party",
        name="Centre Party",
        aliases=("Centre Party",),
        leaders=("Tomas Hale",),
        domains=("centreparty.example",),
        bio_markers=("Centre Party", "🟠"),
        jargon=("common ground", "fiscal prudence"),
        dissent_rate=0.15,
        in_group_share=0.45,
        own_source_share=0.10,
        bare_share_rate=0.30,
        marker_share=0.25,
        actions=(0.14, 0.26, 0.36, 0.16, 0.08),
        reference_rate=0.55,
        official_repost_rate=0.50,
        jargon_rate=0.05,
        personal_rate=0.7,
        slogan_rate=0.0,
    ),
    GroupSpec(
        id="green_alliance",
        name="Green Alliance",
        aliases=("Green Alliance", "the Greens"),
        leaders=("Ines Okafor", "Lena Marsh"),
        domains=("greenalliance.example",),
        bio_markers=("Green Alliance", "🌿"),
        jargon=("just transition", "climate justice"),
        dissent_rate=0.25,
        in_group_share=0.40,
        own_source_share=0.15,
        bare_share_rate=0.25,
        marker_share=0.35,
        actions=(0.12, 0.28, 0.36, 0.16, 0.08),
        reference_rate=0.55,
        official_repost_rate=0.50,
        jargon_rate=0.06,
        personal_rate=0.7,
        slogan_rate=0.0,
    ),
)
GROUPS_BY_ID = {g.id: g for g in GROUPS}

NEWS_DOMAINS = (
    "dailyledger.example",
    "northtimes.example",
    "civicwire.example",
    "harbourpost.example",
    "metrobulletin.example",
    "lowlandsreview.example",
    "thefactdesk.example",
    "valleyradio.example",
)
CITIES = ("Harbourtown", "Eastmere", "Brookfield", "Kellsby", "Norwick", "Ashford Vale", "Lövstad", "Søndermark")
TOPICS = (
    "the housing plan",
    "the budget",
    "the transit bill",
    "the wind farm permits",
    "the school reform",
    "the pension proposal",
    "the farm subsidies",
    "the coalition talks",
    "the water rates",
    "the rail timetable",
    "the childcare scheme",
    "the digital ID proposal",
    "the café licence rules",
)
TOPIC_TAGS = ("housing", "budget", "transit", "energy", "schools", "pensions", "farming", "localpolitics")

# Stance templates. `{org}` is an alias or a leader's name. Critical ones each carry a configured
# critical cue (dissentry.config.StanceSettings.critical_cues); the others carry no cue, no
# negation and no negative word, so the stance is visible to a transparent classifier.
CRITICAL_TEMPLATES = (
    "{org} is wrong about {topic}.",
    "I disagree with {org} on {topic}.",
    "{org} made a mistake on {topic}.",
    "{org} failed us on {topic}.",
    "Honestly disappointed in {org} over {topic}.",
    "The way {org} pushed through {topic} was undemocratic.",
    "{org} is out of touch on {topic}.",
    "The {topic} U-turn shows {org} is incompetent.",
    "{org} betrayed its own voters with {topic}.",
)
CRITICAL_LEADER_TEMPLATES = (
    "{org} should resign over {topic}.",
    "{org} should step down after {topic}.",
)
SUPPORTIVE_TEMPLATES = (
    "Proud of {org} for {topic}!",
    "Great work by {org} on {topic}.",
    "Love what {org} is doing on {topic}.",
    "Thank you {org} for standing up for {topic}.",
    "Excellent speech by {org} on {topic} today.",
    "So glad {org} is leading on {topic}.",
)
NEUTRAL_TEMPLATES = (
    "{org} publishes its position on {topic} this week.",
    "{org} will speak about {topic} on Thursday.",
    "Reading the {org} paper on {topic} tonight.",
    "{org} answered questions on {topic} at the town hall.",
    "{org} has a members' meeting on {topic} in {city}.",
)
# Said about another group (criticism across groups): never a reference to the author's own group.
CROSS_GROUP_TEMPLATES = (
    "{org} is wrong about {topic}, as usual.",
    "{org} has been a failure on {topic}.",
    "I disagree with {org} on {topic}.",
    "Typical {org} hypocrisy on {topic}.",
)
# Stock lines members of the insular group post word for word (boilerplate).
SLOGANS = (
    "Homeland first! 🔷",
    "The renewal is coming. 🔷",
    "Stand with the awakening.",
    "The old guard is finished. Homeland first!",
    "One people, one homeland. 🔷",
)
# A sentence of one's own: neutral, names no group, makes a post unlike anyone else's.
PERSONAL_TEMPLATES = (
    "Writing this on the train to {city}.",
    "Day {n} of the campaign.",
    "Back from the {place} in {city}.",
    "Thinking about this since {weekday}.",
    "Said the same at the {place} on {weekday}.",
)
PLACES = ("library", "market", "school gate", "bus stop", "allotment", "town hall", "cafe", "station")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CHATTER_TEMPLATES = (
    "Long day at work, looking forward to the weekend.",
    "Anyone going to the market in {city} on Saturday?",
    "Rain again in {city}.",
    "☕ Coffee first, then the papers.",
    "Door-knocking in {city} this afternoon 🚪",
    "Watching the council stream on {topic}.",
    "Thread on {topic} coming later.",
    "Finally finished reading about {topic}.",
)
REPLY_TEMPLATES = (
    "Good point about {topic}.",
    "What do you think about {topic}?",
    "Agreed, {topic} matters a lot here.",
    "Source for that?",
    "Interesting, I read it differently.",
    "Thanks for sharing.",
)
QUOTE_TEMPLATES = (
    "Worth reading on {topic}.",
    "This.",
    "More on {topic} here.",
    "Important thread.",
)
COMMENT_TEMPLATES = (
    "Interesting piece on {topic}.",
    "Worth a read.",
    "Long read on {topic}.",
    "Here is what it means for {city}.",
    "Useful explainer on {topic}.",
)
NEWS_TITLES = (
    "{city} council debates {topic}",
    "What {topic} means for renters in {city}",
    "Explainer: the numbers behind {topic}",
    "Five questions about {topic}",
    "Residents of {city} weigh in on {topic}",
    "Analysis: where {topic} goes next",
)
OWN_TITLES: dict[str, tuple[str, ...]] = {
    "vanguard": (
        "Homeland first: our answer on {topic}",
        "The renewal of {city} begins now",
        "Why the old guard fears the awakening",
        "The uniparty and {topic}",
        "Ten points for the renewal",
    ),
    "centre_party": (
        "Our plan for {topic}",
        "Common ground on {topic}",
        "Fiscal prudence and {topic}",
        "Q&A: {topic}",
    ),
    "green_alliance": (
        "A just transition for {topic}",
        "Climate justice and {topic}",
        "Our proposal on {topic}",
        "Report: {topic} and {city}",
    ),
}
OFFICIAL_TEMPLATES = (
    "New on our site: {title}",
    "Read our statement: {title}",
    "Join us in {city} on Saturday.",
)

# ---- the roster (fixed: the same for every seed, so one configuration matches every sample) ---

_FIRST = (
    "Alma", "Bruno", "Chiara", "Dario", "Elif", "Felix", "Greta", "Hugo", "Ilse", "Jonas",
    "Katrin", "Luca", "Maren", "Nils", "Olga", "Pavel", "Quinn", "Rosa", "Stefan", "Tilde",
    "Ugo", "Vera", "Wim", "Xenia", "Yara", "Zoë", "Anouk", "Björn", "Cleo", "Dirk",
)
_LAST = (
    "Aalto", "Berger", "Castell", "Dekker", "Engel", "Falk", "Gruber", "Hollis", "Iversen", "Jansen",
    "Kovač", "Lind", "Moreau", "Novak", "Ortega", "Petersen", "Quist", "Ruiz", "Sauer", "Thorne",
    "Ulrich", "Varga", "Weller", "Yilmaz", "Zeller", "Ahlberg", "Brandão", "Carrow",
)
_MEMBERS_PER_PLATFORM = {"mastodon": 12, "bluesky": 8}
_UNAFFILIATED_PER_PLATFORM = {"mastodon": 14, "bluesky": 10}
_REMOTE_UNAFFILIATED = 3  # mastodon accounts on other.example
SHARED_PERSON = "Sam Rivera"  # a green_alliance member with an account on each platform
_SHARED_USERNAME = "samrivera"
_REMOTE_MEMBER = ("green_alliance", "jonas_h")  # a member whose home server is other.example

_OFFICIALS: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    # group -> platform -> (username or handle stem, display name)
    "vanguard": {
        "mastodon": (("vanguard", "Vanguard Movement 🔷"), ("maravoss", "Mara Voss 🔷")),
        "bluesky": (("vanguard", "Vanguard Movement 🔷"),),
    },
    "centre_party": {
        "mastodon": (("centreparty", "Centre Party"),),
        "bluesky": (("centreparty", "Centre Party"),),
    },
    "green_alliance": {
        "mastodon": (("greenalliance", "Green Alliance"),),
        "bluesky": (("greenalliance", "Green Alliance 🌿"),),
    },
}


@dataclass(frozen=True)
class Actor:
    platform: str  # mastodon | bluesky
    username: str  # mastodon username, or bluesky handle without the suffix
    host: str  # mastodon server; bluesky: "bsky.social"
    display_name: str
    group: str | None
    role: str  # official | member | unaffiliated
    bio: str
    followers: int
    following: int
    created_at: datetime
    posts_per_day: float
    person: str | None = None  # name of a person with accounts on several platforms
    index: int = 0

    @property
    def handle(self) -> str:
        """Mastodon `user@host`; Bluesky `name.bsky.social` (lower case, no `@`)."""
        if self.platform == "mastodon":
            return f"{self.username}@{self.host}"
        return f"{self.username}{APPVIEW_HANDLE_SUFFIX}"

    @property
    def ref(self) -> str:
        """The account as written in dissentry.toml."""
        if self.platform == "mastodon":
            return f"mastodon:@{self.username}@{self.host}"
        return f"bluesky:{self.handle}"

    @property
    def acct(self) -> str:
        """Mastodon's `acct`: the bare username for local accounts, `user@host` for remote ones."""
        return self.username if self.host == INSTANCE_HOST else f"{self.username}@{self.host}"

    @property
    def profile_url(self) -> str:
        return f"https://{self.host}/@{self.username}"

    @property
    def did(self) -> str:
        return "did:plc:" + _b32(hashlib.sha256(self.handle.encode()).digest())[:24]

    @property
    def mastodon_id(self) -> str:
        ms = int(self.created_at.timestamp() * 1000)
        return str((ms << 16) | (self.index & 0xFFFF))


def _ascii(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _member_bio(group: GroupSpec, number: int, rng: random.Random) -> str:
    """A bio; a share of members (fixed by `marker_share`) carry the group's markers."""
    jobs = ("teacher", "nurse", "carpenter", "student", "retired engineer", "shop owner", "bus driver",
            "software developer", "farmer", "parent of two")
    hobbies = ("cycling", "chess", "birdwatching", "local history", "football", "baking", "jazz")
    job, city, hobby = _pick(rng, jobs), _pick(rng, CITIES), _pick(rng, hobbies)
    base = f"{job.capitalize()} in {city}. Into {hobby}."
    if rng.random() < group.marker_share:
        name_marker, flag = group.bio_markers[0], group.bio_markers[1]
        if group.id == "vanguard":
            styles = (
                f"{flag} {name_marker} | {group.jargon[0]} | {base}",
                f"{base} {flag}{flag} {_pick(rng, group.jargon)}",
                f"{name_marker} since day one {flag} {base}",
            )
            return _pick(rng, styles)
        return _pick(rng, (f"{base} Member of the {name_marker} {flag}", f"{flag} {name_marker} activist. {base}"))
    return base


def build_roster() -> list[Actor]:
    """Every account in the sample. Independent of the seed, so dissentry.toml fits any sample."""
    rng = random.Random(20260101)  # fixed: the roster is part of the configuration, not the draw
    actors: list[Actor] = []
    used: set[str] = set()
    name_index = 0

    def next_name() -> tuple[str, str]:
        nonlocal name_index
        while True:
            first = _FIRST[name_index % len(_FIRST)]
            last = _LAST[(name_index * 11 + name_index // len(_FIRST)) % len(_LAST)]
            name_index += 1
            username = _ascii(first) + _ascii(last)
            if username not in used:
                used.add(username)
                return f"{first} {last}", username

    def add(**kwargs: Any) -> None:
        created = BASE_DATE - timedelta(days=200 + 17 * len(actors) % 900)
        actors.append(Actor(created_at=created.replace(hour=0), index=len(actors), **kwargs))

    for group in GROUPS:
        for platform in ("mastodon", "bluesky"):
            for stem, display in _OFFICIALS[group.id][platform]:
                used.add(stem)
                leader = stem != _OFFICIALS[group.id][platform][0][0]
                bio = (f"Official account of {group.leaders[0]}, leader of the {group.name}. {group.bio_markers[1]}"
                       if leader else f"Official account of the {group.name}. {group.bio_markers[1]}")
                add(platform=platform, username=stem, host=INSTANCE_HOST if platform == "mastodon" else "bsky.social",
                    display_name=display, group=group.id, role="official", bio=bio,
                    followers=rng.randint(4000, 30000), following=rng.randint(20, 300), posts_per_day=1.2)
        for platform in ("mastodon", "bluesky"):
            for number in range(_MEMBERS_PER_PLATFORM[platform]):
                person = None
                host = INSTANCE_HOST if platform == "mastodon" else "bsky.social"
                if group.id == "green_alliance" and number == 0:
                    display, username, person = SHARED_PERSON, _SHARED_USERNAME, SHARED_PERSON
                    used.add(username)
                elif platform == "mastodon" and (group.id, number) == (_REMOTE_MEMBER[0], 1):
                    display, username, host = "Jonas Hartmann", _REMOTE_MEMBER[1], REMOTE_HOST
                    used.add(username)
                else:
                    display, username = next_name()
                add(platform=platform, username=username, host=host, display_name=display, group=group.id,
                    role="member", bio=_member_bio(group, number, rng), followers=rng.randint(20, 1500),
                    following=rng.randint(50, 900), posts_per_day=rng.uniform(0.3, 0.6), person=person)
    for platform in ("mastodon", "bluesky"):
        for number in range(_UNAFFILIATED_PER_PLATFORM[platform]):
            display, username = next_name()
            host = "bsky.social"
            if platform == "mastodon":
                host = REMOTE_HOST if number < _REMOTE_UNAFFILIATED else INSTANCE_HOST
            jobs = ("Journalist", "Photographer", "Nurse", "Student", "Urban planner", "Librarian", "Cyclist")
            add(platform=platform, username=username, host=host, display_name=display, group=None,
                role="unaffiliated", bio=f"{jobs[number % len(jobs)]}. Opinions my own.",
                followers=rng.randint(10, 3000), following=rng.randint(50, 900),
                posts_per_day=rng.uniform(0.2, 0.5))
    return actors


# ---- planted truth ------------------------------------------------------------------------------


@dataclass
class GroupTruth:
    """What was planted for one group, and what the draw realised, over member posts only."""

    group_id: str
    planted_dissent_rate: float
    planted_in_group_share: float
    planted_own_source_share: float
    member_accounts: int = 0
    member_posts: int = 0  # every member post, reposts included
    org_reference_posts: int = 0
    critical_posts: int = 0
    supportive_posts: int = 0
    neutral_posts: int = 0
    # interactions counted one per (post, kind, target): a Mastodon reply counts as a reply and as
    # a mention of the same account, as the status carries both
    in_group_ties: int = 0
    out_group_ties: int = 0
    link_posts: int = 0
    links: int = 0
    own_source_links: int = 0
    reposts: int = 0
    official_reposts: int = 0
    own_content_shares: int = 0  # reposts of an official account or links to an own domain
    uncritical_own_shares: int = 0  # of those, with no added commentary

    @property
    def dissent_rate(self) -> float:
        return self.critical_posts / self.org_reference_posts if self.org_reference_posts else 0.0

    @property
    def in_group_share(self) -> float:
        total = self.in_group_ties + self.out_group_ties
        return self.in_group_ties / total if total else 0.0

    @property
    def own_source_share(self) -> float:
        return self.own_source_links / self.links if self.links else 0.0


@dataclass
class SampleTruth:
    seed: int
    scale: float
    base_date: str
    days: int
    mastodon_statuses: int = 0
    bluesky_feed_items: int = 0
    bluesky_pages: int = 0
    bluesky_profiles: int = 0
    groups: dict[str, GroupTruth] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for gid, truth in self.groups.items():
            out["groups"][gid].update(
                dissent_rate=truth.dissent_rate,
                in_group_share=truth.in_group_share,
                own_source_share=truth.own_source_share,
            )
        return out


def write_truth(truth: SampleTruth, out_dir: Path) -> Path:
    """Write the planted truth as `truth.json` beside the sample files."""
    path = Path(out_dir) / TRUTH_FILE
    path.write_text(json.dumps(truth.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# ---- content: a platform-neutral draft of one post ---------------------------------------------


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


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().lower().rstrip("=")


def _cid(seed: str) -> str:
    """A CIDv1 (dag-cbor, sha256) lookalike: 'bafyrei' + 52 base32 characters."""
    return "bafyrei" + _b32(hashlib.sha256(seed.encode()).digest())[:52]


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


# ---- the generator -----------------------------------------------------------------------------


def _pick(rng: random.Random, items: Sequence[Any]) -> Any:
    return items[rng.randrange(len(items))]


class _Generator:
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
        return _pick(self.rng, TOPICS)

    def _fill(self, template: str, **extra: str) -> str:
        values = {"topic": self._topic(), "city": _pick(self.rng, CITIES)}
        values.update(extra)
        return template.format(**values)

    def _cap_fill(self, template: str, **extra: str) -> str:
        return _capitalise(self._fill(template, **extra))

    def _article(self, group: GroupSpec | None, when: datetime) -> Card:
        self._article_seq += 1
        topic = self._topic()
        city = _pick(self.rng, CITIES)
        published = when - timedelta(hours=self.rng.randint(0, 30))
        if group is not None:
            domain = _pick(self.rng, group.domains)
            title = _pick(self.rng, OWN_TITLES[group.id]).format(topic=topic, city=city)
            title = title[0].upper() + title[1:]
            url = f"https://{domain}/news/{published:%Y/%m/%d}/{_slug(title)}-{self._article_seq}"
        else:
            domain = _pick(self.rng, NEWS_DOMAINS)
            title = _pick(self.rng, NEWS_TITLES).format(topic=topic, city=city)
            title = title[0].upper() + title[1:]
            host = ("www." + domain) if self._article_seq % 3 == 0 else domain
            url = f"https://{host}/{published:%Y/%m/%d}/{_slug(title)}"
            if self._article_seq % 5 == 0:
                url += "?utm_source=mastodon&utm_medium=social"
        return Card(url=url, title=title, description=f"{title}. Read the full story.")

    def _stance_sentence(self, group: GroupSpec, stance: str) -> str:
        use_leader = self.rng.random() < 0.35
        org = _pick(self.rng, group.leaders if use_leader else group.aliases)
        if stance == "critical":
            pool = CRITICAL_TEMPLATES + (CRITICAL_LEADER_TEMPLATES if use_leader else ())
        elif stance == "supportive":
            pool = SUPPORTIVE_TEMPLATES
        else:
            pool = NEUTRAL_TEMPLATES
        return _capitalise(self._fill(_pick(self.rng, pool), org=org))

    def _personal(self) -> str:
        return _pick(self.rng, PERSONAL_TEMPLATES).format(
            city=_pick(self.rng, CITIES), n=self.rng.randint(1, 90), place=_pick(self.rng, PLACES),
            weekday=_pick(self.rng, WEEKDAYS))

    @staticmethod
    def _text_end(segments: list[Segment]) -> int:
        """Where added words go: before a trailing link (after 'comment '), as people write 'comment URL'."""
        return len(segments) - 1 if segments[-1].kind == "link" and len(segments) > 1 else len(segments)

    def _jargon(self, group: GroupSpec) -> str:
        term = _pick(self.rng, group.jargon)
        return _pick(self.rng, (" Time for {j}.", " We stand for {j}.", " {J} is coming.")).format(
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
            text = self._cap_fill(_pick(rng, CROSS_GROUP_TEMPLATES), org=_pick(rng, other.aliases))
        else:
            text = self._fill(_pick(rng, REPLY_TEMPLATES if draft.kind == "reply" else QUOTE_TEMPLATES))
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
            draft.segments = [Segment("text", _pick(rng, SLOGANS))]
            slogan = True
        elif rng.random() < 0.35:
            other = _pick(rng, [g for g in GROUPS if g.id != group.id])
            text = self._cap_fill(_pick(rng, CROSS_GROUP_TEMPLATES), org=_pick(rng, other.aliases))
            draft.segments = [Segment("text", text)]
        else:
            draft.segments = [Segment("text", self._fill(_pick(rng, CHATTER_TEMPLATES)))]
        if rng.random() < 0.3:
            draft.segments += [Segment("text", " "), Segment("tag", _pick(rng, TOPIC_TAGS))]
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
            draft.segments += [Segment("text", " cc "), Segment("mention", "", _pick(self.rng, pool))]

    def _link_segments(self, card: Card, bare: bool, actor: Actor) -> list[Segment]:
        if bare:
            style = self.rng.randrange(3)
            if style == 0:  # just the link (Bluesky: empty text with the link card)
                return [] if actor.platform == "bluesky" else [Segment("link", card.url)]
            if style == 1:  # the title, then the link
                return [Segment("text", card.title + " "), Segment("link", card.url)]
            return [Segment("text", card.title)] if actor.platform == "bluesky" else [
                Segment("text", card.title + " "), Segment("link", card.url)]
        comment = self._fill(_pick(self.rng, COMMENT_TEMPLATES))
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
            template = _pick(rng, OFFICIAL_TEMPLATES[:2])
            draft.segments = [Segment("text", template.format(title=draft.card.title) + " "),
                              Segment("link", draft.card.url)]
        else:
            draft.segments = [Segment("text", self._fill(OFFICIAL_TEMPLATES[2]) + " "),
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
                    draft.segments = [Segment("text", self._fill(_pick(rng, REPLY_TEMPLATES)))]
                return draft
        if roll < 0.6:
            draft.card = self._article(None, when)
            draft.segments = self._link_segments(draft.card, rng.random() < 0.2, actor)
        elif roll < 0.75:
            group = _pick(rng, GROUPS)
            draft.segments = [Segment("text", self._cap_fill(_pick(rng, CROSS_GROUP_TEMPLATES),
                                                         org=_pick(rng, group.aliases)))]
        else:
            draft.segments = [Segment("text", self._fill(_pick(rng, CHATTER_TEMPLATES)))]
        return draft


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _slug(text: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in _ascii_keep_spaces(text)).split())


def _ascii_keep_spaces(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _day_events(rng: random.Random, roster: list[Actor], day: int, scale: float) -> list[tuple[datetime, int]]:
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


def expected_posts(scale: float = 1.0, platforms: Sequence[str] = ("mastodon", "bluesky")) -> float:
    """How many posts (statuses plus feed items) a sample of this scale holds on average."""
    return sum(a.posts_per_day for a in build_roster() if a.platform in platforms) * DAYS * scale


def generate_sample(
    out_dir: Path,
    seed: int = 7,
    scale: float = 1.0,
    *,
    platforms: Sequence[str] = ("mastodon", "bluesky"),
    max_mastodon_statuses: int | None = None,
) -> SampleTruth:
    """Write `mastodon.jsonl`, `bluesky.jsonl`, `truth.json` and `truth_stance.jsonl` into `out_dir`.

    Returns the truth.

    `scale` multiplies the number of posts (about 3,700 at 1.0), not the number of accounts, so the
    same configuration fits every scale. `max_mastodon_statuses` stops the Mastodon file at exactly
    that many statuses (for benchmarks); the truth then covers what was written.
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    roster = [a for a in build_roster() if a.platform in platforms]
    truth = SampleTruth(seed=seed, scale=scale, base_date=BASE_DATE.isoformat(), days=DAYS)
    for group in GROUPS:
        truth.groups[group.id] = GroupTruth(
            group_id=group.id,
            planted_dissent_rate=group.dissent_rate,
            planted_in_group_share=group.in_group_share,
            planted_own_source_share=group.own_source_share,
            member_accounts=sum(1 for a in roster if a.group == group.id and a.role == "member"),
        )
    gen = _Generator(rng, roster, truth)
    with open(out_dir / STATUSES_FILE, "w", encoding="utf-8", newline="\n") as mfh, \
         open(out_dir / FEEDS_FILE, "w", encoding="utf-8", newline="\n") as bfh, \
         open(out_dir / TRUTH_STANCE_FILE, "w", encoding="utf-8", newline="\n") as tfh:
        mastodon = MastodonWriter(mfh, random.Random(rng.random()), limit=max_mastodon_statuses)
        bluesky = BlueskyWriter(bfh, random.Random(rng.random()))
        for actor in roster:
            if actor.platform == "bluesky":
                bluesky.profile(actor)
                truth.bluesky_profiles += 1
        by_index = {a.index: a for a in roster}
        for day in range(DAYS):
            for when, index in _day_events(rng, roster, day, scale):
                actor = by_index[index]
                if actor.platform == "mastodon" and mastodon.full:
                    continue
                draft = gen.draft(actor, when)
                writer: MastodonWriter | BlueskyWriter = mastodon if actor.platform == "mastodon" else bluesky
                published = writer.emit(draft)
                _write_stance_truth(tfh, draft, published)
                if draft.kind != "repost":
                    gen.recent[actor.index].append(published)
            if mastodon.full and "bluesky" not in platforms:
                break
        bluesky.close()
    truth.mastodon_statuses = mastodon.count
    truth.bluesky_feed_items = bluesky.items
    truth.bluesky_pages = bluesky.pages
    write_truth(truth, out_dir)
    return truth


def _write_stance_truth(fh: TextIO, draft: Draft, published: Published) -> None:
    actor = draft.actor
    line = {"post_id": published.post_id, "url": published.url, "platform": actor.platform, "author": actor.ref,
            "group_id": actor.group, "role": actor.role, "kind": draft.kind,
            "stance": draft.stance or "neutral"}
    fh.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")


# ---- the configuration that reads the sample -----------------------------------------------------


def demo_config_text() -> str:
    """The demo configuration (groups, members and sources of this sample), paths relative to its
    folder. It is package data, so an installed wheel has it as well as a checkout; it is the
    repository's ./dissentry.toml with the sample's files and the lake beside it
    (tests/test_sample.py keeps the two in step)."""
    return resources.files("dissentry").joinpath("demo.toml").read_text(encoding="utf-8")


def write_config(out_dir: Path, *, overwrite: bool = False) -> tuple[Path, bool]:
    """Write `dissentry.toml` into the sample folder, so `dissentry --config DIR/dissentry.toml run`
    works from anywhere. An existing file is kept unless `overwrite` (it may be the user's edit).
    Returns the path and whether it was written."""
    path = Path(out_dir) / CONFIG_FILE
    if path.exists() and not overwrite:
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(demo_config_text(), encoding="utf-8", newline="\n")
    tmp.replace(path)  # whole or not at all: a half-written config would fail in a confusing way
    return path, True


# ---- a simulated annotator: labels from the planted truth ------------------------------------------


class TruthLabelError(ValueError):
    """A CSV row that the planted truth cannot label (its post is not in this sample)."""


def read_stance_truth(sample_dir: Path) -> dict[str, str]:
    """post_id -> planted stance ('critical' | 'supportive' | 'neutral'), from `truth_stance.jsonl`."""
    path = Path(sample_dir) / TRUTH_STANCE_FILE
    if not path.exists():
        raise TruthLabelError(f"{path} does not exist: write the sample first (dissentry sample --out {sample_dir})")
    truth: dict[str, str] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            truth[row["post_id"]] = row["stance"]
    return truth


def labelled_path(csv_in: Path) -> Path:
    """Where `dissentry sample --label-from-truth FILE.csv` writes: FILE.labelled.csv beside it."""
    csv_in = Path(csv_in)
    return csv_in.with_name(csv_in.stem + ".labelled" + (csv_in.suffix or ".csv"))


def label_from_truth(csv_in: Path, sample_dir: Path, csv_out: Path) -> int:
    """Fill the `label` column of a CSV drawn by `dissentry labels sample` from the planted truth.

    A simulated annotator: every row gets the stance the generator planted for its post, as if a
    researcher had read and labelled it; the other columns are copied unchanged. A row whose
    `post_id` is not in the sample (or is empty) is refused with its file and line, and nothing is
    written, so a half-labelled file never stands in for a labelled draw. Returns the rows labelled.
    """
    csv_in, csv_out = Path(csv_in), Path(csv_out)
    truth = read_stance_truth(sample_dir)
    raw = csv_in.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")  # kept: a spreadsheet-friendly CSV stays one
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TruthLabelError(f"{csv_in}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return _fill_from_truth(reader, truth, csv_in, Path(sample_dir), csv_out, bom)
    except csv.Error as exc:
        raise TruthLabelError(f"{csv_in}:{reader.line_num}: not a readable CSV ({exc})") from None


def _fill_from_truth(reader: csv.DictReader[str], truth: dict[str, str], csv_in: Path, sample_dir: Path,
                     csv_out: Path, bom: bool) -> int:
    fields = list(reader.fieldnames or [])
    if "post_id" not in fields:
        raise TruthLabelError(f"{csv_in}: no post_id column (columns: {', '.join(fields) or 'none'})")
    if "label" not in fields:
        fields.append("label")
    rows: list[dict[str, Any]] = []
    unknown: list[str] = []
    start = 2  # the line a row starts on (the header is line 1; a quoted text may span lines)
    for row in reader:
        post_id = (row.get("post_id") or "").strip()
        if post_id not in truth:
            unknown.append(f"{csv_in.name}:{start}: post {post_id!r}")
        row["label"] = truth.get(post_id, "")
        rows.append(row)
        start = reader.line_num + 1
    if unknown:
        more = f" (and {len(unknown) - 3} more)" if len(unknown) > 3 else ""
        raise TruthLabelError(
            f"{len(unknown)} row(s) name a post that is not in the sample in {sample_dir}: "
            f"{'; '.join(unknown[:3])}{more}. Was the CSV drawn from a warehouse built from another sample?")
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    csv_out.parent.mkdir(parents=True, exist_ok=True)
    csv_out.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8"))
    return len(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the synthetic Mastodon and Bluesky sample.")
    parser.add_argument("out_dir", type=Path, nargs="?", default=Path("data/sample"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    truth = generate_sample(args.out_dir, seed=args.seed, scale=args.scale)
    config, _ = write_config(args.out_dir)
    print(f"wrote {truth.mastodon_statuses} Mastodon statuses and {truth.bluesky_feed_items} Bluesky feed items "
          f"to {args.out_dir}; configuration: {config}")


if __name__ == "__main__":
    main()
