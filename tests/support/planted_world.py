"""A planted world in wording of its own, hard for a stance classifier, with the truth per post.

Three invented groups on one invented Mastodon instance (agora.example) with planted dissent rates
0.05, 0.20 and 0.40 among the members' posts that name their own organisation or its leader. The
wording is written here, independently of dissentry.sample (whose templates carry a critical cue in
every critical sentence): criticism comes as sarcasm in positive words, as negated praise, as
attacks on the leader by name, as resignations and withheld donations; support comes as rebuttals
of the critics full of negative words ("The papers want X to resign. Not a chance."), as pride
after a hard week; neutral posts are news, questions and logistics, some of them reporting other
people's criticism. Templates are slot-filled (topics, places, people, months), cased at random,
and get emoji, hashtags and sentences of the writer's own, so a classifier has to generalise.

Besides the references there is what a timeline also holds: members' chatter and their jabs at the
*other* groups (never a reference to their own), unaffiliated accounts talking about every group,
and the official accounts' announcements. None of those name the author's own organisation.

`write_world(folder, seed)` writes `statuses.jsonl` (one Mastodon Status per line, as
`GET /api/v1/accounts/:id/statuses` returns it), `dissentry.toml` (the three groups and one import
source) and `truth_stance.jsonl` (dissentry.sample's format: post_id, stance, ... for every
status, so dissentry.sample.label_from_truth labels a drawn CSV from it), and returns the realised
truth: per group, the references and how many of them are critical.
"""

from __future__ import annotations

import html
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dissentry.sample import TRUTH_STANCE_FILE

INSTANCE = "https://agora.example"
HOST = "agora.example"
STATUSES_FILE = "statuses.jsonl"
CONFIG_FILE = "dissentry.toml"
WORLD_FILE = "world.json"
START = datetime(2026, 3, 2, tzinfo=UTC)
DAYS = 84  # three calendar months of posts: periods with too few labels exist too
MEMBERS_PER_GROUP = 36
UNAFFILIATED = 30


@dataclass(frozen=True)
class WorldGroup:
    id: str
    name: str
    aliases: tuple[str, ...]
    leaders: tuple[str, ...]
    domain: str
    official: str  # username of the official account
    dissent_rate: float  # planted probability that a reference is critical


GROUPS: tuple[WorldGroup, ...] = (
    WorldGroup("harbour_league", "Harbour League", ("Harbour League",), ("Petra Lindqvist",),
               "harbourleague.example", "harbourleague", 0.05),
    WorldGroup("citizens_forward", "Citizens Forward", ("Citizens Forward", "CF"), ("Daniel Okoro", "Maya Fenwick"),
               "citizensforward.example", "citizensforward", 0.20),
    WorldGroup("red_thread", "Red Thread", ("Red Thread",), ("Ana Sousa",),
               "redthread.example", "redthread", 0.40),
)
PLANTED_RATES = {g.id: g.dissent_rate for g in GROUPS}

TOPICS = (
    "the rent cap", "the bus fare freeze", "the hospital merger", "the night-train subsidy", "the harbour dredging",
    "the library closures", "the teachers' pay deal", "the congestion charge", "the flood barrier",
    "the fishing quota deal", "the minimum wage bill", "the data-centre tax break", "the stadium deal",
    "the coalition offer", "the candidate selection rules", "the conference motion on housing",
    "the council tax rise", "the airport expansion", "the social housing target", "the school meals scheme",
    "the energy price cap", "the new policing plan", "the ferry contract", "the student grants",
)
CITIES = ("Tarnby", "Westhollow", "Marrick", "Oldcastle", "Rydal Bay", "Fenmoor", "Kestrel Point", "Dunhaven",
          "Lyss", "Brakeley", "Sankt Ober", "Caerwen")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("April", "May", "June", "September", "October")
PEOPLE = ("Councillor Haddad", "Ruth Abernethy", "Jonas Meyerhof", "Sunita Rao", "Tom Kelleher", "Ilka Varga")
VENUES = ("community hall", "library", "fire station", "sports club", "union office", "church hall")

# {org}: one of the group's aliases; {leader}: a leader's full name; {other}: another group's alias.
CRITICAL = (
    # sarcasm, in positive words
    "Great job {org}, another brilliant plan nobody asked for 🙄",
    "Wow, {org} has finally noticed {topic}. Only took them {n} years.",
    "Love how {org} 'listens to members' by announcing {topic} on breakfast TV first.",
    "Truly inspiring leadership from {leader} today: three different positions on {topic} before lunch.",
    "Another masterclass in communication from {org}. Can't wait to explain this one on the doorstep.",
    "Nothing says grassroots like {org} picking the {city} candidate in a back room 👏👏",
    "So {leader} has a new slogan. Shame there's no plan to go with it.",
    "Oh good, {org} is launching a consultation on {topic}. After deciding it. Classic.",
    "Thanks {org}, I always wanted to spend my Saturday defending {topic} to people who used to vote for us.",
    "Can't wait for {leader} to explain how {topic} was actually a win.",
    "Genius move by {org} on {topic}. Who needs voters anyway.",
    "Brilliant. {org} has managed to make {topic} even less popular. Impressive, honestly.",
    "Five stars to the {org} press office for turning a decent idea on {topic} into a week of headlines about "
    "infighting.",
    "Fantastic, {leader} is 'reflecting' on {topic}. Again.",
    "What a time to be a {org} member: we found out about {topic} from a journalist.",
    "Congratulations {org}, you've united {city}. Against us.",
    # negated praise
    "{org} is not the party I joined.",
    "I can't say I'm proud of {org} this week.",
    "Not my {org}. Not like this.",
    "There's nothing brave about what {org} did on {topic}.",
    "Hard to call {org} the party of {city} after {topic}.",
    "Never thought I'd say it, but I won't be canvassing for {org} this spring.",
    "{leader} is no longer someone I can defend on {topic}.",
    "I used to be proud to wear the {org} badge. Not today.",
    "{org} doesn't speak for me on {topic}, and it doesn't speak for most members I know.",
    "None of us signed up to {org} for this.",
    "I don't recognise {org} any more.",
    "Not one person at our {city} branch was asked about {topic}. Not one. Is this still {org}?",
    # the leader, by name
    "{leader} has to go.",
    "{leader} told us {topic} was off the table. It wasn't.",
    "Time for {leader} to step aside and let someone else have a go.",
    "I've defended {leader} for years. I'm done.",
    "{leader} talks about unity while pushing out everyone who asks questions about {topic}.",
    "Honestly {leader} owes the members in {city} an apology.",
    "Every time {leader} goes on TV we lose another hundred votes in {city}.",
    "{leader}'s speech on {topic} was an insult to the people who knock doors for this party.",
    "Who exactly is {leader} listening to? Not the members.",
    "{leader} promised a members' vote on {topic}. We never got one.",
    "{leader} cut the {city} branch out of the {topic} talks and expects us to smile about it.",
    # walking away, withholding
    "Cancelled my {org} membership today after {n} years.",
    "Tore up my {org} card this morning. {topic} was the last straw.",
    "{org} wants us out knocking doors for {topic} when nobody in {city} asked for it.",
    "Members were promised a say on {topic}. {org} decided without us.",
    "Whoever at {org} HQ signed off on {topic} should spend a week in {city} talking to renters.",
    "{org} leadership, if you're reading this: {topic} is why we're losing {city}.",
    "Sorry but {org} has got {topic} completely backwards.",
    "If {org} goes ahead with {topic} I'm not renewing.",
    "Raised {topic} at the {city} branch meeting, got told to stop rocking the boat. That's {org} now.",
    "Quietly moving my monthly donation from {org} to the food bank in {city}.",
    "Spent years defending {org} to my family. After {topic} I've got nothing left to say to them.",
    "Even {other} got {topic} more right than {org}, and that hurts to type.",
    "Our own councillors in {city} are voting against {topic} and {org} calls them disloyal. They're right and "
    "HQ is wrong.",
)
SUPPORTIVE = (
    # rebuttals of the critics
    "The papers want {leader} to resign. Not a chance.",
    "Everyone is piling on {org} over {topic}. They're wrong and they'll find out in {month}.",
    "Funny how people who never voted {org} are suddenly so worried about its soul.",
    "Critics call it a disaster. {org}'s plan on {topic} is the only one with numbers behind it.",
    "Another day, another hit piece on {leader}. Not buying it.",
    "Ignore the noise about {topic}. {org} got this right.",
    "They said {org} would collapse after {topic}. Membership in {city} is up {n}%.",
    "No, {leader} is not 'out of touch'. Come to {city} and see the queue of people waiting to talk to "
    "{leader}.",
    "The smear campaign against {leader} says more about the people running it than about {leader}.",
    "Say what you like about {org}, they turned up in {city} when nobody else did.",
    "Resign? Over {topic}? {leader} is the only one who read the report.",
    "Tired of reading that {org} is finished. We've heard that every year since I joined.",
    "The 'scandal' about {leader} is a press release from {other}. Don't fall for it.",
    # support in negative words
    "Angry, exhausted, soaked through, and still knocking doors for {org}. Worth every minute.",
    "{topic} is a mess and {org} is the only lot actually trying to fix it.",
    "Terrible weather, awful roads, and {org} still filled the hall in {city}! 🎉",
    "Sick of the lies about {leader}. Nobody has done more for {city}.",
    "No one fights harder for {city} than {leader}.",
    "I was furious about {topic} until {leader} explained it at the {city} meeting. Fair play.",
    "The old system on {topic} was broken. {org} is fixing it, and of course the usual suspects hate that.",
    "Hardest campaign I've ever worked on. Wouldn't do it for anyone but {org}.",
    "Not a perfect party, never claimed to be, but {org} is the only one I'd knock doors for.",
    "Can't believe how many people turned out for {org} in {city} tonight 😭❤️",
    "Damn right {leader} stood firm on {topic}.",
    "Brutal week. Still proud of every {org} volunteer in {city}.",
    "Unlike {other}, {org} actually showed up in {city} after the floods.",
    "Lost my voice, lost my umbrella, didn't lose {city}. Thank you {org} volunteers.",
    # plain support
    "Proud to stand with {org} on {topic}.",
    "Out in {city} with the {org} team today 💪",
    "{leader} was superb on the radio this morning on {topic}.",
    "Just renewed my {org} membership. Let's go.",
    "Great turnout at the {org} stall in {city}. People are ready for change.",
    "If you care about {topic}, vote {org}. Simple as that.",
    "Thank you {leader} for saying what needed saying about {topic}.",
    "Best {org} meeting I've been to in years. Real energy in the room.",
    "{org} delivered on {topic}. Promise made, promise kept.",
    "Really glad I joined {org} last year.",
    "Canvassing in {city} for {org} on {weekday}, who's in? ✊",
    "Honest, serious and on the side of ordinary people: that's {org} on {topic}.",
    "Listening to {leader} in {city} tonight reminded me why I joined.",
    "{leader} for first minister. I said what I said.",
    "My mum has voted the other lot for forty years. Today she joined {org}.",
)
NEUTRAL = (
    "{org} announces its candidate list for the spring vote.",
    "{leader} will visit {city} on {weekday}.",
    "{org} will hold its annual conference in {city} in {month}.",
    "Reminder: the {org} members' ballot on {topic} closes on {weekday}.",
    "{org} has published its draft manifesto; the section on {topic} starts on page {n}.",
    "{leader} is interviewed about {topic} on the radio at 8pm.",
    "Does anyone know where {org} stands on {topic}?",
    "Is the {org} meeting in {city} still on for {weekday}?",
    "Poll: {n}% of voters in {city} say they could vote {org} next year.",
    "{org} and the unions meet on {topic} this {weekday}.",
    "Live blog: {leader} answers questions on {topic}.",
    "The {org} branch in {city} has a new chair: {person}.",
    "{org} will table an amendment on {topic} next week.",
    "Full text of {leader}'s statement on {topic} below.",
    "Minutes of the {city} {org} branch meeting are now on the members' site.",
    "{org} confirms it will take part in the televised debate in {month}.",
    "Parking at the {org} conference venue is limited, take the train if you can.",
    "Anyone got a spare ticket for the {org} rally in {city}?",
    "{leader} has been asked to comment on {topic}; a statement is expected on {weekday}.",
    "Reading through the {org} policy paper on {topic} tonight. Will post notes.",
    "{org} selection meeting for {city}: {weekday} 7pm, {venue}.",
    "Fact check: {org}'s figures on {topic} come from the {month} budget report.",
    "{org} is hiring a campaign organiser for the {city} area.",
    "Who is speaking for {org} at the hearing on {topic}?",
    "Critics say {org} is split on {topic}; {leader} addresses members on {weekday}.",
    "Some members are unhappy about {topic}, others back it. {org} votes on it in {month}.",
    "{org} candidate for {city}: {person}.",
    "{leader} meets farmers in {city} to talk about {topic}.",
    "{org} press conference at 11 on {topic}.",
    "Streaming the {org} conference debate on {topic} now.",
    "Translation of {leader}'s speech now available in three languages.",
    "Poll of polls has {org} on {n}% this week, unchanged.",
    "{leader} and {person} will share a platform in {city} on {weekday}.",
    "The {org} leaflets for {city} arrive {weekday}; collection from the {venue}.",
    "Journalists are asking whether {leader} will resign over {topic}. The office says a statement follows.",
)
# A second sentence some people add, in the same stance as the first; none names a group, so a
# classifier cannot learn a post from its first sentence alone.
FOLLOW_UPS = {
    "critical": (
        "I'm not even angry any more, just tired.",
        "Some of us remember what this party used to stand for.",
        "Members deserve better than this.",
        "Answers, please.",
        "And they wonder why the phone bank is empty.",
        "Ten years of my life, for this.",
        "Good luck finding volunteers in {city} now.",
        "Someone tell me I'm wrong.",
        "What a waste.",
        "We were told it would be different this time.",
        "The branch WhatsApp is on fire tonight.",
        "I'll say it at the AGM too.",
    ),
    "supportive": (
        "The coverage this week has been shameful.",
        "Keep going.",
        "Doors on {weekday}, see you there.",
        "Nobody said it would be easy.",
        "Let them shout.",
        "That's leadership.",
        "The numbers in {city} don't lie.",
        "Worst weather, best team.",
        "Onwards.",
        "Bring on {month}.",
        "Don't let the headlines fool you.",
        "Some days I really love this party.",
    ),
    "neutral": (
        "Details on the website.",
        "Doors open at 6.",
        "Link in the next post.",
        "No word yet on {topic}.",
        "More when I have it.",
        "Via the {city} branch newsletter.",
        "Anyone going?",
        "Will report back.",
        "Seen on the noticeboard at the {venue}.",
        "Full schedule to follow.",
    ),
}
# What members say that names no group of their own: chatter, jabs at the other groups.
CHATTER = (
    "Rain in {city} again ☔",
    "Coffee, papers, then the {venue} for the jumble sale.",
    "Anyone know a decent plumber in {city}?",
    "The bus to {city} was forty minutes late. Again.",
    "Finally finished the long read on {topic}.",
    "Thread on {topic} later tonight 🧵",
    "My cat has decided the keyboard is a bed.",
    "Watching the council stream on {topic}. Riveting stuff.",
    "Lovely walk along the front in {city} this morning.",
    "Who else is going to the {city} market on {weekday}?",
    "Can't sleep. Reading about {topic} was a mistake.",
    "Happy birthday to my brilliant sister!",
)
ABOUT_OTHERS = (
    "Great job {other}, another U-turn on {topic} 🙄",
    "{other} have no idea what they're doing on {topic}.",
    "Listening to {other} on {topic} is like listening to a broken radio.",
    "Interesting that {other} went quiet on {topic} the moment it got hard.",
    "{other} announce their candidate for {city}.",
    "Fair play to {other} on {topic}, didn't expect that.",
    "Nobody in {city} believes {other} any more.",
)
# Unaffiliated accounts: about every group, in every tone; never a reference (they are nobody's members).
OUTSIDERS = (
    *ABOUT_OTHERS,
    "Honestly {other} and {other2} deserve each other.",
    "Wrote a piece on {topic} and why {other} keeps getting it wrong.",
    "{other} surging in {city}? Not what the polls said last month.",
)
OFFICIAL = (
    "{org} announces its candidate list for {city}.",
    "Join {org} in {city} on {weekday}: {venue}, 7pm.",
    "Statement from {leader} on {topic}.",
    "{org} welcomes the vote on {topic}.",
)
# Sentences of the writer's own: no stance, no group.
OWN_WORDS = (
    "Writing this on the train.", "More later.", "Long day.", "Anyway, back to work.", "Thoughts?",
    "Sorry for the rant.", "Posting from my phone, excuse typos.", "Thread.", "That's all.",
)
TAGS = ("springvote", "localpolitics", "polls", "members", "housing", "transport", "budget")
EMOJI = {
    "critical": ("🙄", "😤", "🤦", "🙃", "😑", "💔", "🤷"),
    "supportive": ("💪", "❤️", "🎉", "✊", "👏", "🙌", "🔥"),
    "neutral": ("📣", "🗓️", "📍", "📰", "👀", "🤔"),
}
ANY_EMOJI = ("☕", "🧵", "😅", "🌧️")
POSTS_PER_DAY_UNAFFILIATED = 0.25
CHATTER_PER_REFERENCE = 0.45


@dataclass
class WorldTruth:
    seed: int
    references: dict[str, int] = field(default_factory=dict)  # group -> member posts naming their own group
    critical: dict[str, int] = field(default_factory=dict)  # group -> of those, planted critical
    statuses: int = 0

    @property
    def realised_rates(self) -> dict[str, float]:
        return {g: self.critical[g] / self.references[g] for g in self.references}


@dataclass(frozen=True)
class _Account:
    username: str
    display_name: str
    group: str | None
    role: str  # member | official | unaffiliated
    local_id: str

    @property
    def ref(self) -> str:
        return f"mastodon:@{self.username}@{HOST}"


_FIRST = ("Aino", "Bram", "Carmen", "Dmitri", "Esme", "Farid", "Gwen", "Hamid", "Iris", "Joaquin", "Kirsi", "Lorcan",
          "Mei", "Nadia", "Oskar", "Priya", "Rafael", "Saoirse", "Tariq", "Ulla", "Viktor", "Wanjiru", "Yusuf", "Zsofi")
_LAST = ("Achterberg", "Bianchi", "Cassidy", "Duval", "Eriksen", "Fonseca", "Grant", "Halloran", "Ibsen", "Juarez",
         "Kowalczyk", "Lemaire", "Mbeki", "Nakamura", "OBrien", "Pereira", "Quinlan", "Rossi", "Szabo", "Tanaka")


def _roster() -> list[_Account]:
    accounts: list[_Account] = []
    names = iter((f, la) for la in _LAST for f in _FIRST)

    def add(username: str, display: str, group: str | None, role: str) -> None:
        accounts.append(_Account(username, display, group, role, str(109_500_000_000_000_000 + len(accounts))))

    for group in GROUPS:
        add(group.official, group.name, group.id, "official")
        for _ in range(MEMBERS_PER_GROUP):
            first, last = next(names)
            add(f"{first}{last}".lower(), f"{first} {last}", group.id, "member")
    for _ in range(UNAFFILIATED):
        first, last = next(names)
        add(f"{first}_{last}".lower(), f"{first} {last}", None, "unaffiliated")
    return accounts


def _account_json(account: _Account) -> dict[str, Any]:
    bio = {"member": "Views my own.", "official": "Official account.", "unaffiliated": "Local news junkie."}
    return {
        "id": account.local_id, "username": account.username, "acct": account.username,
        "display_name": account.display_name, "locked": False, "bot": False, "discoverable": True, "group": False,
        "created_at": "2023-05-01T00:00:00.000Z", "note": f"<p>{bio[account.role]}</p>",
        "url": f"{INSTANCE}/@{account.username}", "uri": f"{INSTANCE}/users/{account.username}",
        "avatar": f"{INSTANCE}/avatars/original/missing.png", "avatar_static": f"{INSTANCE}/avatars/original/missing.png",
        "header": f"{INSTANCE}/headers/original/missing.png", "header_static": f"{INSTANCE}/headers/original/missing.png",
        "followers_count": 120, "following_count": 200, "statuses_count": 300, "last_status_at": "2026-05-24",
        "emojis": [], "fields": [],
    }


class _Writer:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.groups = {g.id: g for g in GROUPS}

    def _slots(self, author_group: str | None) -> dict[str, str]:
        rng = self.rng
        others = [g for g in GROUPS if g.id != author_group]
        other, other2 = rng.sample(others, 2) if len(others) >= 2 else (others[0], others[0])
        return {
            "topic": rng.choice(TOPICS), "city": rng.choice(CITIES), "weekday": rng.choice(WEEKDAYS),
            "month": rng.choice(MONTHS), "person": rng.choice(PEOPLE), "venue": rng.choice(VENUES),
            "n": str(rng.randint(2, 19)), "other": other.aliases[0],
            "other2": other2.aliases[0],
        }

    def _fill(self, template: str, group: WorldGroup | None, author_group: str | None) -> str:
        slots = self._slots(author_group)
        if group is not None:
            slots["org"] = self.rng.choice(group.aliases)
            slots["leader"] = self.rng.choice(group.leaders)
        text = template.format(**slots)
        return text[:1].upper() + text[1:]

    def reference(self, group: WorldGroup, stance: str) -> str:
        pool = {"critical": CRITICAL, "supportive": SUPPORTIVE, "neutral": NEUTRAL}[stance]
        text = self._fill(self.rng.choice(pool), group, group.id)
        if self.rng.random() < 0.35:
            follow_up = self._fill(self.rng.choice(FOLLOW_UPS[stance]), None, group.id)
            text = f"{follow_up} {text}" if self.rng.random() < 0.25 else f"{text} {follow_up}"
        return self._dress(text, stance)

    def chatter(self, group: WorldGroup) -> str:
        if self.rng.random() < 0.4:
            return self._dress(self._fill(self.rng.choice(ABOUT_OTHERS), None, group.id), "neutral")
        return self._dress(self._fill(self.rng.choice(CHATTER), None, group.id), "neutral")

    def outsider(self) -> str:
        return self._dress(self._fill(self.rng.choice(OUTSIDERS), None, None), "neutral")

    def official(self, group: WorldGroup) -> str:
        return self._fill(self.rng.choice(OFFICIAL), group, group.id)

    def _dress(self, text: str, stance: str) -> str:
        """What people do to a sentence: case, emoji, a word of their own, a hashtag."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.12:
            text = text.lower()
        elif roll < 0.15:
            text = text.upper()
        if rng.random() < 0.2:
            text = f"{rng.choice(OWN_WORDS)} {text}" if rng.random() < 0.3 else f"{text} {rng.choice(OWN_WORDS)}"
        if rng.random() < 0.3:
            text += " " + rng.choice(EMOJI[stance] if rng.random() < 0.6 else ANY_EMOJI)
        return text


def _status(seq: int, when: datetime, account: _Account, text: str, tag: str | None) -> dict[str, Any]:
    status_id = str((int(when.timestamp() * 1000) << 16) | (seq & 0xFFFF))
    body = html.escape(text, quote=False)
    tags = []
    if tag is not None:
        body += f' <a href="{INSTANCE}/tags/{tag}" class="mention hashtag" rel="tag">#<span>{tag}</span></a>'
        tags.append({"name": tag, "url": f"{INSTANCE}/tags/{tag}"})
    return {
        "id": status_id, "created_at": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        "in_reply_to_id": None, "in_reply_to_account_id": None, "sensitive": False, "spoiler_text": "",
        "visibility": "public", "language": "en",
        "uri": f"{INSTANCE}/users/{account.username}/statuses/{status_id}",
        "url": f"{INSTANCE}/@{account.username}/{status_id}",
        "replies_count": 0, "reblogs_count": 0, "favourites_count": seq % 17, "edited_at": None,
        "content": f"<p>{body}</p>", "reblog": None, "application": {"name": "Web", "website": None},
        "account": _account_json(account), "media_attachments": [], "mentions": [], "tags": tags, "emojis": [],
        "quote": None, "card": None, "poll": None,
    }


def _config_text(accounts: Sequence[_Account], classifier: str) -> str:
    lines = ['warehouse_dir = "warehouse"', ""]
    for group in GROUPS:
        members = [a.ref for a in accounts if a.group == group.id and a.role == "member"]
        lines += [
            "[[groups]]",
            f'id = "{group.id}"',
            f'name = "{group.name}"',
            f"aliases = {json.dumps(list(group.aliases))}",
            f"leaders = {json.dumps(list(group.leaders))}",
            f'domains = ["{group.domain}"]',
            f'accounts = ["mastodon:@{group.official}@{HOST}"]',
            f"members = {json.dumps(members)}",
            "",
        ]
    lines += [
        "[[sources]]",
        'name = "agora"',
        'platform = "mastodon"',
        f'instance = "{INSTANCE}"',
        f'files = ["{STATUSES_FILE}"]',
        "",
        "[settings.membership]",
        "infer_from_bio = false",
        "infer_from_amplification = false",
        "",
        "[settings.stance]",
        f'classifier = "{classifier}"',
        "",
    ]
    return "\n".join(lines)


def write_config(folder: Path, classifier: str = "vader_rules") -> Path:
    """(Re)write the world's dissentry.toml with this stance classifier; returns its path."""
    path = Path(folder) / CONFIG_FILE
    path.write_text(_config_text(_roster(), classifier), encoding="utf-8")
    return path


def write_world(folder: Path, seed: int, *, references_per_group: tuple[int, int] = (650, 900),
                classifier: str = "vader_rules") -> WorldTruth:
    """Write statuses.jsonl, dissentry.toml and truth_stance.jsonl into `folder`; return the realised truth.

    Each group gets a number of references drawn from `references_per_group` (inclusive), each
    critical with the group's planted probability, so the realised rate varies around it by seed.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    writer = _Writer(random.Random(rng.random()))
    accounts = _roster()
    truth = WorldTruth(seed=seed)
    # (time, account, text, stance, is_reference) for every status, written in time order
    events: list[tuple[datetime, _Account, str, str, bool]] = []

    def when() -> datetime:
        return START + timedelta(seconds=rng.randrange(DAYS * 86400), microseconds=rng.randrange(1_000_000))

    for group in GROUPS:
        members = [a for a in accounts if a.group == group.id and a.role == "member"]
        # some members post far more than others, as on any timeline
        weights = [rng.paretovariate(1.5) for _ in members]
        count = rng.randint(*references_per_group)
        critical = 0
        for author in rng.choices(members, weights=weights, k=count):
            stance = "critical" if rng.random() < group.dissent_rate else (
                "supportive" if rng.random() < 0.55 else "neutral")
            critical += stance == "critical"
            events.append((when(), author, writer.reference(group, stance), stance, True))
        for author in rng.choices(members, weights=weights, k=round(count * CHATTER_PER_REFERENCE)):
            events.append((when(), author, writer.chatter(group), "neutral", False))
        official = next(a for a in accounts if a.group == group.id and a.role == "official")
        for _ in range(DAYS // 2):
            events.append((when(), official, writer.official(group), "neutral", False))
        truth.references[group.id] = count
        truth.critical[group.id] = critical
    for author in (a for a in accounts if a.role == "unaffiliated"):
        for _ in range(round(DAYS * POSTS_PER_DAY_UNAFFILIATED)):
            events.append((when(), author, writer.outsider(), "neutral", False))
    events.sort(key=lambda e: e[0])
    with open(folder / STATUSES_FILE, "w", encoding="utf-8", newline="\n") as sfh, \
         open(folder / TRUTH_STANCE_FILE, "w", encoding="utf-8", newline="\n") as tfh:
        for seq, (at, author, text, stance, is_reference) in enumerate(events):
            tag = rng.choice(TAGS) if rng.random() < 0.15 else None
            status = _status(seq, at, author, text, tag)
            sfh.write(json.dumps(status, ensure_ascii=False) + "\n")
            tfh.write(json.dumps({
                "post_id": f"mastodon:{HOST}:{status['id']}", "url": status["url"], "platform": "mastodon",
                "author": author.ref, "group_id": author.group, "role": author.role, "kind": "post",
                "stance": stance, "reference": is_reference,
            }, ensure_ascii=False) + "\n")
    truth.statuses = len(events)
    (folder / CONFIG_FILE).write_text(_config_text(accounts, classifier), encoding="utf-8")
    (folder / WORLD_FILE).write_text(json.dumps({
        "seed": seed, "planted_rates": PLANTED_RATES, "references": truth.references, "critical": truth.critical,
        "realised_rates": truth.realised_rates, "statuses": truth.statuses,
    }, indent=2) + "\n", encoding="utf-8")
    return truth
