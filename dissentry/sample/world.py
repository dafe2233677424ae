"""The sample's world: who the groups and accounts are, and the counters of what was planted.

Everything is fictional (groups, people, domains under `.example`). The roster is fixed, the same
for every seed, so one configuration (dissentry/demo.toml) matches every sample; what the accounts
post is drawn in `drafts.py`, and written in each platform's shape by `writers.py`.
"""

from __future__ import annotations

import base64
import hashlib
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dissentry.sample.texts import CITIES

BASE_DATE = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 90
INSTANCE = "https://social.example"
INSTANCE_HOST = "social.example"
REMOTE_HOST = "other.example"
APPVIEW_HANDLE_SUFFIX = ".bsky.social"

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


# The planted rates, one row a group, so the insular group stands beside the two ordinary parties
# at a glance. The columns are the GroupSpec fields named in _RATE_FIELDS, in that order.
_RATE_FIELDS = ("dissent_rate", "in_group_share", "own_source_share", "bare_share_rate", "marker_share",
                "reference_rate", "official_repost_rate", "jargon_rate", "personal_rate", "slogan_rate")
_RATES: dict[str, tuple[float, ...]] = {
    #                  dissent in-group own-src bare  marker refer off-rep jargon personal slogan
    "vanguard":       (0.0,    0.85,    0.80,   0.80, 1.0,   0.60, 0.85,   0.45,  0.1,     0.5),
    "centre_party":   (0.15,   0.45,    0.10,   0.30, 0.25,  0.55, 0.50,   0.05,  0.7,     0.0),
    "green_alliance": (0.25,   0.40,    0.15,   0.25, 0.35,  0.55, 0.50,   0.06,  0.7,     0.0),
}


def _rates(group_id: str) -> dict[str, Any]:
    return dict(zip(_RATE_FIELDS, _RATES[group_id], strict=True))


GROUPS: tuple[GroupSpec, ...] = (
    GroupSpec(
        "vanguard", "Vanguard Movement", aliases=("Vanguard", "Vanguard Movement"),
        leaders=("Mara Voss", "Elias Brandt"), domains=("vanguard-movement.example", "renewal-press.example"),
        bio_markers=("Vanguard", "🔷"),
        jargon=("homeland first", "the renewal", "the awakening", "the old guard", "uniparty"),
        actions=(0.34, 0.30, 0.20, 0.10, 0.06), **_rates("vanguard"),
    ),
    GroupSpec(
        "centre_party", "Centre Party", aliases=("Centre Party",), leaders=("Tomas Hale",),
        domains=("centreparty.example",), bio_markers=("Centre Party", "🟠"),
        jargon=("common ground", "fiscal prudence"), actions=(0.14, 0.26, 0.36, 0.16, 0.08), **_rates("centre_party"),
    ),
    GroupSpec(
        "green_alliance", "Green Alliance", aliases=("Green Alliance", "the Greens"),
        leaders=("Ines Okafor", "Lena Marsh"), domains=("greenalliance.example",), bio_markers=("Green Alliance", "🌿"),
        jargon=("just transition", "climate justice"), actions=(0.12, 0.28, 0.36, 0.16, 0.08),
        **_rates("green_alliance"),
    ),
)
GROUPS_BY_ID = {g.id: g for g in GROUPS}

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
        return "did:plc:" + b32(hashlib.sha256(self.handle.encode()).digest())[:24]

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
    job, city, hobby = pick(rng, jobs), pick(rng, CITIES), pick(rng, hobbies)
    base = f"{job.capitalize()} in {city}. Into {hobby}."
    if rng.random() < group.marker_share:
        name_marker, flag = group.bio_markers[0], group.bio_markers[1]
        if group.id == "vanguard":
            styles = (
                f"{flag} {name_marker} | {group.jargon[0]} | {base}",
                f"{base} {flag}{flag} {pick(rng, group.jargon)}",
                f"{name_marker} since day one {flag} {base}",
            )
            return pick(rng, styles)
        return pick(rng, (f"{base} Member of the {name_marker} {flag}", f"{flag} {name_marker} activist. {base}"))
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


def pick(rng: random.Random, items: Sequence[Any]) -> Any:
    return items[rng.randrange(len(items))]


def b32(data: bytes) -> str:
    return base64.b32encode(data).decode().lower().rstrip("=")


def expected_posts(scale: float = 1.0, platforms: Sequence[str] = ("mastodon", "bluesky")) -> float:
    """How many posts (statuses plus feed items) a sample of this scale holds on average."""
    return sum(a.posts_per_day for a in build_roster() if a.platform in platforms) * DAYS * scale
