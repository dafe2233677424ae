"""The synthetic sample: deterministic, in the platforms' documented shapes, matching the demo config.

The planted truth is checked against an independent recount from the written files (not from the
generator's own counters), so `truth.json` is known to describe the data.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from dissentry import sample
from dissentry.config import StanceSettings, load_config, parse_account_ref

REPO = Path(__file__).resolve().parents[1]
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
AT_POST = re.compile(r"^at://(did:plc:[a-z2-7]{24})/app\.bsky\.feed\.post/([2-7a-z]{13})$")
AT_REPOST = re.compile(r"^at://(did:plc:[a-z2-7]{24})/app\.bsky\.feed\.repost/([2-7a-z]{13})$")
CID = re.compile(r"^bafyrei[a-z2-7]{52}$")
CUES = tuple(StanceSettings().critical_cues)


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    sample.generate_sample(out, seed=7, scale=1.0)
    return out


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def _statuses(sample_dir: Path) -> list[dict[str, Any]]:
    return list(_lines(sample_dir / sample.STATUSES_FILE))


def _bluesky(sample_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    profiles, pages = [], []
    for value in _lines(sample_dir / sample.FEEDS_FILE):
        (pages if "feed" in value else profiles).append(value)
    return profiles, pages


def _plain(content: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", content))


# ---- determinism ----------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    sample.generate_sample(a, seed=11, scale=0.3)
    sample.generate_sample(b, seed=11, scale=0.3)
    sample.generate_sample(c, seed=12, scale=0.3)
    for name in (sample.STATUSES_FILE, sample.FEEDS_FILE, sample.TRUTH_FILE, sample.TRUTH_STANCE_FILE):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
        assert (a / name).read_bytes() != (c / name).read_bytes(), name


def test_scale_multiplies_posts_and_the_cap_is_exact(tmp_path: Path) -> None:
    small = sample.generate_sample(tmp_path / "s", seed=3, scale=0.5)
    large = sample.generate_sample(tmp_path / "l", seed=3, scale=2.0)
    ratio = large.mastodon_statuses / small.mastodon_statuses
    assert 3.5 < ratio < 4.5
    capped = sample.generate_sample(tmp_path / "c", seed=3, scale=0.5, platforms=("mastodon",),
                                    max_mastodon_statuses=300)
    assert capped.mastodon_statuses == 300
    assert sum(1 for _ in _lines(tmp_path / "c" / sample.STATUSES_FILE)) == 300
    assert (tmp_path / "c" / sample.FEEDS_FILE).stat().st_size == 0


def test_default_sample_is_a_few_thousand_posts(sample_dir: Path) -> None:
    truth = json.loads((sample_dir / sample.TRUTH_FILE).read_text(encoding="utf-8"))
    assert 2500 <= truth["mastodon_statuses"] + truth["bluesky_feed_items"] <= 6000
    assert set(truth["groups"]) == {"vanguard", "centre_party", "green_alliance"}


# ---- Mastodon shapes ------------------------------------------------------------------------------

STATUS_KEYS = {
    "id": str, "created_at": str, "sensitive": bool, "spoiler_text": str, "visibility": str, "uri": str,
    "replies_count": int, "reblogs_count": int, "favourites_count": int, "content": str,
    "account": dict, "media_attachments": list, "mentions": list, "tags": list, "emojis": list,
}
NULLABLE_KEYS = ("in_reply_to_id", "in_reply_to_account_id", "language", "url", "edited_at", "reblog", "card",
                 "quote", "poll", "application")
ACCOUNT_KEYS = {
    "id": str, "username": str, "acct": str, "display_name": str, "locked": bool, "bot": bool,
    "created_at": str, "note": str, "url": str, "uri": str, "avatar": str, "header": str,
    "followers_count": int, "following_count": int, "statuses_count": int, "emojis": list, "fields": list,
}


def _check_status(status: dict[str, Any], *, in_reblog: bool = False, in_quote: bool = False) -> None:
    for key, kind in STATUS_KEYS.items():
        assert isinstance(status[key], kind), (key, status["id"])
    for key in NULLABLE_KEYS:
        assert key in status, key
    assert status["id"].isdigit() and int(status["id"]) > 1 << 40  # snowflake-like
    assert ISO_Z.match(status["created_at"])
    assert status["visibility"] == "public" and status["edited_at"] is None
    assert status["media_attachments"] == [] and status["emojis"] == []
    account = status["account"]
    for key, kind in ACCOUNT_KEYS.items():
        assert isinstance(account[key], kind), key
    assert account["note"].startswith("<p>")
    host = account["acct"].partition("@")[2] or sample.INSTANCE_HOST
    assert account["url"] == f"https://{host}/@{account['username']}"
    if status["reblog"] is not None:
        assert not (in_reblog or in_quote)
        assert status["content"] == "" and status["mentions"] == [] and status["card"] is None
        assert status["uri"].endswith("/activity")
        _check_status(status["reblog"], in_reblog=True)
        return
    assert status["content"].startswith("<p>") and status["content"].endswith("</p>")
    assert status["language"] == "en"
    for mention in status["mentions"]:
        assert set(mention) == {"id", "username", "url", "acct"}
        markup = f'<a href="{mention["url"]}" class="u-url mention">@<span>{mention["username"]}</span></a>'
        assert f'<span class="h-card" translate="no">{markup}</span>' in status["content"]
    for tag in status["tags"]:
        assert set(tag) == {"name", "url"} and tag["url"] == f"{sample.INSTANCE}/tags/{tag['name']}"
        assert (f'<a href="{tag["url"]}" class="mention hashtag" rel="tag">#<span>{tag["name"]}</span></a>'
                in status["content"])
    if status["card"] is not None:
        card = status["card"]
        assert card["type"] == "link" and card["title"] and isinstance(card["description"], str)
        assert f'<a href="{html.escape(card["url"])}" target="_blank"' in status["content"]
        # the visible text of the link markup is the URL itself
        assert card["url"] in _plain(status["content"])
    if status["in_reply_to_id"] is not None:
        # a reply mentions the account it replies to, which is how its acct can be known
        assert status["in_reply_to_account_id"] in {m["id"] for m in status["mentions"]}
    if status["quote"] is not None:
        quote = status["quote"]
        assert quote["state"] == "accepted"
        if in_quote:  # past one level Mastodon shows a ShallowQuote: the id only
            assert set(quote) == {"state", "quoted_status_id"} and quote["quoted_status_id"].isdigit()
        else:
            _check_status(quote["quoted_status"], in_quote=True)


def test_mastodon_statuses_have_the_documented_shape(sample_dir: Path) -> None:
    statuses = _statuses(sample_dir)
    kinds: Counter[str] = Counter()
    for status in statuses:
        _check_status(status)
        kinds["reblog" if status["reblog"] else "quote" if status["quote"] else
              "reply" if status["in_reply_to_id"] else "card" if status["card"] else "other"] += 1
    assert all(kinds[k] > 20 for k in ("reblog", "quote", "reply", "card", "other")), kinds
    ids = [s["id"] for s in statuses]
    assert len(ids) == len(set(ids))
    assert ids == sorted(ids, key=int)  # snowflakes grow with time, and the file runs forward in time
    accts = {s["account"]["acct"] for s in statuses}
    assert "jonas_h@other.example" in accts and "samrivera" in accts  # remote and local accounts
    # one account, one id: the same entity is embedded in every status
    by_acct: dict[str, set[str]] = defaultdict(set)
    for s in statuses:
        by_acct[s["account"]["acct"]].add(s["account"]["id"])
    assert all(len(v) == 1 for v in by_acct.values())


# ---- Bluesky shapes -------------------------------------------------------------------------------


def _check_post_view(view: dict[str, Any], handles: dict[str, str]) -> None:
    match = AT_POST.match(view["uri"])
    assert match, view["uri"]
    assert CID.match(view["cid"])
    author = view["author"]
    assert {"did", "handle", "displayName"} <= set(author) and author["did"] == match.group(1)
    assert handles[author["did"]] == author["handle"]
    record = view["record"]
    assert record["$type"] == "app.bsky.feed.post" and isinstance(record["text"], str)
    assert ISO_Z.match(record["createdAt"]) and record["langs"] == ["en"]
    for key in ("replyCount", "repostCount", "likeCount", "quoteCount"):
        assert isinstance(view[key], int)
    assert ISO_Z.match(view["indexedAt"])
    encoded = record["text"].encode("utf-8")
    for facet in record.get("facets", []):
        start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        piece = encoded[start:end].decode("utf-8")  # offsets must fall on character boundaries
        (feature,) = facet["features"]
        if feature["$type"] == "app.bsky.richtext.facet#mention":
            assert piece == "@" + handles[feature["did"]]
        elif feature["$type"] == "app.bsky.richtext.facet#tag":
            assert piece == "#" + feature["tag"]
        else:
            assert feature["$type"] == "app.bsky.richtext.facet#link"
            shown = piece.removesuffix("...")
            assert feature["uri"].split("://", 1)[1].startswith(shown) and len(shown) >= 10
    if "reply" in record:
        for ref in ("root", "parent"):
            assert AT_POST.match(record["reply"][ref]["uri"]) and CID.match(record["reply"][ref]["cid"])
    if "embed" in record:
        embed, shown_embed = record["embed"], view["embed"]
        if embed["$type"] == "app.bsky.embed.external":
            assert set(embed["external"]) >= {"uri", "title", "description"}
            assert shown_embed["$type"] == "app.bsky.embed.external#view"
            assert shown_embed["external"]["uri"] == embed["external"]["uri"]
        else:
            assert embed["$type"] == "app.bsky.embed.record"
            assert shown_embed["$type"] == "app.bsky.embed.record#view"
            shown_record = shown_embed["record"]
            assert shown_record["$type"] == "app.bsky.embed.record#viewRecord"
            assert shown_record["uri"] == embed["record"]["uri"] and shown_record["cid"] == embed["record"]["cid"]
            assert shown_record["value"]["$type"] == "app.bsky.feed.post"


def test_bluesky_lines_have_the_documented_shape(sample_dir: Path) -> None:
    profiles, pages = _bluesky(sample_dir)
    handles = {p["did"]: p["handle"] for p in profiles}
    for profile in profiles:
        for key, kind in (("did", str), ("handle", str), ("displayName", str), ("description", str),
                          ("followersCount", int), ("followsCount", int), ("postsCount", int),
                          ("createdAt", str), ("indexedAt", str)):
            assert isinstance(profile[key], kind), key
        assert profile["handle"].endswith(".bsky.social") and profile["did"].startswith("did:plc:")
    kinds: Counter[str] = Counter()
    non_ascii_facet = False
    for page in pages:
        assert set(page) <= {"feed", "cursor"} and page["feed"]
        for item in page["feed"]:
            assert set(item) <= {"post", "reply", "reason"}
            _check_post_view(item["post"], handles)
            if "reason" in item:
                reason = item["reason"]
                assert reason["$type"] == "app.bsky.feed.defs#reasonRepost"
                assert set(reason["by"]) >= {"did", "handle", "displayName"}
                assert ISO_Z.match(reason["indexedAt"]) and AT_REPOST.match(reason["uri"])
                assert reason["by"]["did"] != item["post"]["author"]["did"]
                kinds["repost"] += 1
            record = item["post"]["record"]
            if "reply" in item:
                assert "reply" in record and "reason" not in item
                assert item["reply"]["parent"]["uri"] == record["reply"]["parent"]["uri"]
                assert item["reply"]["root"]["uri"] == record["reply"]["root"]["uri"]
                kinds["reply"] += 1
            if "embed" in record and "reason" not in item:
                kinds[record["embed"]["$type"]] += 1
            for facet in record.get("facets", []):
                kinds[facet["features"][0]["$type"]] += 1
                start = facet["index"]["byteStart"]
                if len(record["text"].encode("utf-8")[:start].decode("utf-8")) != start:
                    non_ascii_facet = True
    for kind in ("repost", "reply", "app.bsky.embed.external", "app.bsky.embed.record",
                 "app.bsky.richtext.facet#link", "app.bsky.richtext.facet#mention", "app.bsky.richtext.facet#tag"):
        assert kinds[kind] > 10, kinds
    # byte offsets differ from character offsets somewhere, so the slicing above proves something
    assert non_ascii_facet


def test_bluesky_pages_follow_get_author_feed_paging(sample_dir: Path) -> None:
    _, pages = _bluesky(sample_dir)
    per_author: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for page in pages:
        owners = {item["reason"]["by"]["did"] if "reason" in item else item["post"]["author"]["did"]
                  for item in page["feed"]}
        assert len(owners) == 1  # an author feed holds one actor's posts and reposts
        per_author[owners.pop()].append(page)

    def stamp(item: dict[str, Any]) -> str:
        return item["reason"]["indexedAt"] if "reason" in item else item["post"]["record"]["createdAt"]

    for author_pages in per_author.values():
        traversal = list(reversed(author_pages))  # the file holds each author's oldest page first
        assert [("cursor" in p) for p in traversal] == [True] * (len(traversal) - 1) + [False]
        stamps = [stamp(item) for page in traversal for item in page["feed"]]
        assert stamps == sorted(stamps, reverse=True)  # newest first across the whole traversal
        for page in traversal[:-1]:
            assert page["cursor"] == stamp(page["feed"][-1])


# ---- the configuration and the data agree -------------------------------------------------------


def test_demo_config_loads_and_every_configured_account_is_in_the_data(sample_dir: Path) -> None:
    config = load_config(REPO / "dissentry.toml")
    assert {s.name for s in config.sources} == {"sample-mastodon", "sample-bluesky"}
    for source in config.sources:
        assert source.is_import
        assert all(config.resolve(f) == REPO / "data" / "sample" / Path(f).name for f in source.files)
    mastodon_handles = set()
    for status in _statuses(sample_dir):
        acct = status["account"]["acct"]
        mastodon_handles.add(acct if "@" in acct else f"{acct}@{sample.INSTANCE_HOST}")
    profiles, _ = _bluesky(sample_dir)
    present = {("mastodon", h) for h in mastodon_handles} | {("bluesky", p["handle"]) for p in profiles}
    people = 0
    for group in config.groups:
        refs = list(group.accounts)
        for _, accounts in group.people():
            refs.extend(accounts)
            people += len(accounts) > 1
        for ref in refs:
            assert parse_account_ref(ref) in present, ref
    assert people == 1  # one person with accounts on both platforms


def test_demo_config_matches_the_generator(sample_dir: Path) -> None:
    config = load_config(REPO / "dissentry.toml")
    roster = sample.build_roster()
    assert [g.id for g in config.groups] == [g.id for g in sample.GROUPS]
    for group, spec in zip(config.groups, sample.GROUPS, strict=True):
        assert (group.name, tuple(group.aliases), tuple(group.leaders)) == (spec.name, spec.aliases, spec.leaders)
        assert (tuple(group.domains), tuple(group.bio_markers), tuple(group.jargon)) == (
            spec.domains, spec.bio_markers, spec.jargon)
        officials = {a.ref for a in roster if a.group == spec.id and a.role == "official"}
        assert {parse_account_ref(r) for r in group.accounts} == {parse_account_ref(r) for r in officials}
        listed = {parse_account_ref(r) for _, refs in group.people() for r in refs}
        for actor in roster:
            if actor.group == spec.id and actor.role == "member":
                # every member is findable: listed, or carrying one of the group's bio markers
                assert parse_account_ref(actor.ref) in listed or any(m in actor.bio for m in spec.bio_markers)
            if actor.group != spec.id:
                assert parse_account_ref(actor.ref) not in listed
                assert not any(m.lower() in actor.bio.lower() for m in spec.bio_markers), actor.ref


# ---- the planted stance is visible to a transparent classifier ----------------------------------

NEGATIONS = re.compile(r"\b(not|no|never|n't|nothing|nobody|hardly)\b", re.IGNORECASE)


def _rendered(templates: tuple[str, ...], org: str) -> list[str]:
    return [t.format(org=org, topic=topic, city=city) for t in templates for topic in sample.TOPICS
            for city in sample.CITIES[:2]]


def test_stance_templates_are_classifiable() -> None:
    vader = SentimentIntensityAnalyzer()
    for template in sample.CRITICAL_TEMPLATES + sample.CRITICAL_LEADER_TEMPLATES:
        assert any(cue in template.lower() for cue in CUES), template
        assert not NEGATIONS.search(template), template
    # the organisation's name is masked so the score is about what is said of it
    for sentence in _rendered(sample.SUPPORTIVE_TEMPLATES, "Org"):
        assert not any(cue in sentence.lower() for cue in CUES) and not NEGATIONS.search(sentence)
        assert vader.polarity_scores(sentence)["compound"] >= 0.05, sentence
    for sentence in _rendered(sample.NEUTRAL_TEMPLATES, "Org"):
        assert not any(cue in sentence.lower() for cue in CUES) and not NEGATIONS.search(sentence)
        assert abs(vader.polarity_scores(sentence)["compound"]) < 0.05, sentence
    # words added to any post (a personal sentence, a slogan) name no group and carry no stance
    names = [term for g in sample.GROUPS for term in g.aliases + g.leaders]
    added = [t.format(city=c, n=7, place=p, weekday="Monday") for t in sample.PERSONAL_TEMPLATES
             for c in sample.CITIES for p in sample.PLACES] + list(sample.SLOGANS)
    for sentence in added:
        assert not any(cue in sentence.lower() for cue in CUES) and not NEGATIONS.search(sentence)
        assert not any(_mentions_org(sentence, g) for g in sample.GROUPS), sentence
        assert names and not any(name.lower() in sentence.lower() for name in names), sentence


# ---- the truth describes the files ----------------------------------------------------------------


def _mentions_org(text: str, spec: sample.GroupSpec) -> bool:
    """Names an alias or leader in the added text (a URL like vanguard-movement.example names nothing)."""
    text = re.sub(r"(https?://)?[\w-]+(\.[\w-]+)*\.[a-z]{2,}\S*", " ", text)
    return any(re.search(rf"\b{re.escape(term)}\b", text, re.IGNORECASE) for term in spec.aliases + spec.leaders)


def _recount(sample_dir: Path) -> dict[str, Counter[str]]:
    """Count what METRICS.md measures straight from the files, without the generator's bookkeeping."""
    roster = sample.build_roster()
    group_of = {("mastodon", a.acct): a.group for a in roster if a.platform == "mastodon"}
    group_of |= {("bluesky", a.did): a.group for a in roster if a.platform == "bluesky"}
    role_of = {("mastodon", a.acct): a.role for a in roster if a.platform == "mastodon"}
    role_of |= {("bluesky", a.did): a.role for a in roster if a.platform == "bluesky"}
    mastodon_acct_by_id = {a.mastodon_id: a.acct for a in roster if a.platform == "mastodon"}
    counts: dict[str, Counter[str]] = defaultdict(Counter)

    def tally(key: tuple[str, str], text: str | None, targets: list[tuple[str, str]],
              official_targets: list[tuple[str, str]], links: list[str]) -> None:
        if role_of[key] != "member":
            return
        gid = group_of[key]
        spec = sample.GROUPS_BY_ID[gid]
        c = counts[gid]
        c["member_posts"] += 1
        for target in targets:
            c["in_group_ties" if group_of.get(target) == gid else "out_group_ties"] += 1
        if text is None:  # a repost
            return
        for url in links:
            c["links"] += 1
            host = url.split("/")[2].removeprefix("www.")
            c["own_source_links"] += host in spec.domains
        refers = _mentions_org(text, spec) or any(group_of.get(t) == gid for t in official_targets)
        if refers:
            c["org_reference_posts"] += 1
            c["critical_posts"] += any(cue in text.lower() for cue in CUES)

    for status in _statuses(sample_dir):
        key = ("mastodon", status["account"]["acct"])
        if status["reblog"]:
            tally(key, None, [("mastodon", status["reblog"]["account"]["acct"])], [], [])
            continue
        targets = [("mastodon", m["acct"]) for m in status["mentions"]]
        direct = []
        if status["in_reply_to_account_id"]:
            direct.append(("mastodon", mastodon_acct_by_id[status["in_reply_to_account_id"]]))
        if status["quote"]:
            direct.append(("mastodon", status["quote"]["quoted_status"]["account"]["acct"]))
        officials = [t for t in direct + targets if role_of.get(t) == "official"]
        links = re.findall(r'<a href="([^"]+)" target="_blank"', status["content"])
        tally(key, _plain(status["content"]), direct + targets, officials, [html.unescape(u) for u in links])
    _, pages = _bluesky(sample_dir)
    for page in pages:
        for item in page["feed"]:
            post = item["post"]
            if "reason" in item:
                tally(("bluesky", item["reason"]["by"]["did"]), None, [("bluesky", post["author"]["did"])], [], [])
                continue
            record = post["record"]
            direct = []
            if "reply" in record:
                direct.append(("bluesky", AT_POST.match(record["reply"]["parent"]["uri"]).group(1)))
            embed = record.get("embed", {})
            if embed.get("$type") == "app.bsky.embed.record":
                direct.append(("bluesky", AT_POST.match(embed["record"]["uri"]).group(1)))
            features = [f for facet in record.get("facets", []) for f in facet["features"]]
            targets = [("bluesky", f["did"]) for f in features if f["$type"].endswith("#mention")]
            links = sorted({f["uri"] for f in features if f["$type"].endswith("#link")}
                           | ({embed["external"]["uri"]} if "external" in embed else set()))
            officials = [t for t in direct + targets if role_of.get(t) == "official"]
            tally(("bluesky", post["author"]["did"]), record["text"], direct + targets, officials, links)
    return counts


def test_truth_matches_an_independent_recount_of_the_files(sample_dir: Path) -> None:
    truth = json.loads((sample_dir / sample.TRUTH_FILE).read_text(encoding="utf-8"))
    recount = _recount(sample_dir)
    for gid, planted in truth["groups"].items():
        for key in ("member_posts", "org_reference_posts", "critical_posts", "in_group_ties", "out_group_ties",
                    "links", "own_source_links"):
            assert recount[gid][key] == planted[key], (gid, key)
    vanguard, centre, green = (truth["groups"][g] for g in ("vanguard", "centre_party", "green_alliance"))
    assert vanguard["critical_posts"] == 0 and vanguard["org_reference_posts"] > 50
    assert centre["critical_posts"] > 10 and green["critical_posts"] > 10
    # the insular group is planted as more inward-looking and more self-sourced than the others
    assert vanguard["in_group_share"] > max(centre["in_group_share"], green["in_group_share"]) + 0.2
    assert vanguard["own_source_share"] > max(centre["own_source_share"], green["own_source_share"]) + 0.4


# ---- the planted stance of every post, and the simulated annotator ---------------------------------


def _written_posts(sample_dir: Path) -> list[dict[str, Any]]:
    """Every post the files hold, keyed as the connectors' mappings key them, derived from the files.

    Mastodon: 'mastodon:<instance host>:<status id>' (a boost is a post of its own; a boosted or
    quoted status is also a line of its own, so it is not counted twice). Bluesky: 'bluesky:<at-uri>'
    of the post, or of the repost record for a repost.
    """
    roster = sample.build_roster()
    group_of = {("mastodon", a.acct): a.group for a in roster if a.platform == "mastodon"}
    group_of |= {("bluesky", a.did): a.group for a in roster if a.platform == "bluesky"}
    role_of = {("mastodon", a.acct): a.role for a in roster if a.platform == "mastodon"}
    role_of |= {("bluesky", a.did): a.role for a in roster if a.platform == "bluesky"}
    acct_by_id = {a.mastodon_id: a.acct for a in roster if a.platform == "mastodon"}
    posts: list[dict[str, Any]] = []

    def add(post_id: str, url: str | None, key: tuple[str, str], text: str | None, official: list[tuple[str, str]]) -> None:
        gid = group_of[key]
        refers = (text is not None and role_of[key] == "member"
                  and (_mentions_org(text, sample.GROUPS_BY_ID[gid])
                       or any(group_of.get(t) == gid and role_of.get(t) == "official" for t in official)))
        posts.append({"post_id": post_id, "url": url, "group_id": gid, "role": role_of[key], "text": text,
                      "refers": refers})

    for status in _statuses(sample_dir):
        post_id = f"mastodon:{sample.INSTANCE_HOST}:{status['id']}"
        key = ("mastodon", status["account"]["acct"])
        if status["reblog"]:
            add(post_id, status["url"], key, None, [])
            continue
        targets = [("mastodon", m["acct"]) for m in status["mentions"]]
        if status["in_reply_to_account_id"]:
            targets.append(("mastodon", acct_by_id[status["in_reply_to_account_id"]]))
        if status["quote"]:
            targets.append(("mastodon", status["quote"]["quoted_status"]["account"]["acct"]))
        add(post_id, status["url"], key, _plain(status["content"]), targets)
    for page in _bluesky(sample_dir)[1]:
        for item in page["feed"]:
            post = item["post"]
            if "reason" in item:
                add(f"bluesky:{item['reason']['uri']}", None, ("bluesky", item["reason"]["by"]["did"]), None, [])
                continue
            record = post["record"]
            targets = []
            if "reply" in record:
                targets.append(("bluesky", AT_POST.match(record["reply"]["parent"]["uri"]).group(1)))
            embed = record.get("embed", {})
            if embed.get("$type") == "app.bsky.embed.record":
                targets.append(("bluesky", AT_POST.match(embed["record"]["uri"]).group(1)))
            targets += [("bluesky", f["did"]) for facet in record.get("facets", []) for f in facet["features"]
                        if f["$type"].endswith("#mention")]
            did, rkey = AT_POST.match(post["uri"]).groups()
            add(f"bluesky:{post['uri']}", f"https://bsky.app/profile/{did}/post/{rkey}", ("bluesky", did),
                record["text"], targets)
    return posts


def _stance_truth(sample_dir: Path) -> list[dict[str, Any]]:
    return list(_lines(sample_dir / sample.TRUTH_STANCE_FILE))


def test_stance_truth_covers_every_post_once_and_agrees_with_the_files(sample_dir: Path) -> None:
    written = _written_posts(sample_dir)
    lines = _stance_truth(sample_dir)
    assert len(lines) == len(written) == len({p["post_id"] for p in written})
    truth = {line["post_id"]: line for line in lines}
    assert set(truth) == {p["post_id"] for p in written}
    assert {line["stance"] for line in lines} == {"critical", "supportive", "neutral"}
    planted = json.loads((sample_dir / sample.TRUTH_FILE).read_text(encoding="utf-8"))["groups"]
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for post in written:
        line = truth[post["post_id"]]
        assert line["url"] == post["url"] and line["group_id"] == post["group_id"] and line["role"] == post["role"]
        if not post["refers"]:
            # no stance sentence about the author's own organisation (cross-group jabs included)
            assert line["stance"] == "neutral", post
            continue
        # every critical sentence carries a cue and no other does (test_stance_templates_are_classifiable)
        assert (line["stance"] == "critical") == any(cue in post["text"].lower() for cue in CUES), post
        counts[post["group_id"]][line["stance"]] += 1
    for gid, group in planted.items():
        assert counts[gid]["critical"] == group["critical_posts"], gid
        assert counts[gid]["supportive"] == group["supportive_posts"], gid
        assert counts[gid]["neutral"] == group["neutral_posts"], gid
        assert sum(counts[gid].values()) == group["org_reference_posts"], gid


CSV_COLUMNS = ["post_id", "group_id", "period", "reference_kind", "target", "text", "url", "label", "note"]


def _draw_csv(path: Path, posts: list[dict[str, Any]], *, bom: bool = False) -> None:
    """A CSV shaped like `dissentry labels sample` writes it (labels empty), texts quoted as needed."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for post in posts:
        writer.writerow({"post_id": post["post_id"], "group_id": post["group_id"], "period": "2026-01",
                         "reference_kind": "alias", "target": "X", "text": post["text"], "url": post["url"] or "",
                         "label": "", "note": post.get("note", "")})
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8"))


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_label_from_truth_fills_every_row_of_a_drawn_csv(sample_dir: Path, tmp_path: Path) -> None:
    written = [p for p in _written_posts(sample_dir) if p["refers"]]
    drawn = written[::7][:60]
    # a text with a comma, quotes and a line break: the row must survive the round trip whole
    drawn[0] = {**drawn[0], "text": 'first line, "quoted"\nsecond line', "note": "tricky, row"}
    source = tmp_path / "to_label.csv"
    _draw_csv(source, drawn, bom=True)
    target = tmp_path / "to_label.labelled.csv"
    assert sample.labelled_path(source) == target
    assert sample.label_from_truth(source, sample_dir, target) == len(drawn)
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")  # a spreadsheet's BOM is kept
    rows = _read_csv(target)
    assert len(rows) == len(drawn) and list(rows[0]) == CSV_COLUMNS
    planted = {line["post_id"]: line["stance"] for line in _stance_truth(sample_dir)}
    for row, before, post in zip(rows, _read_csv(source), drawn, strict=True):
        assert row["label"] == planted[post["post_id"]]
        # critical exactly when the text carries a cue: the label is the post's, not a neighbour's
        if post is not drawn[0]:
            assert (row["label"] == "critical") == any(cue in post["text"].lower() for cue in CUES)
        assert {**row, "label": ""} == before  # every other column as drawn
    assert rows[0]["text"] == 'first line, "quoted"\nsecond line' and rows[0]["note"] == "tricky, row"
    assert {r["label"] for r in rows} >= {"critical", "supportive", "neutral"}


def test_label_from_truth_refuses_a_post_that_is_not_in_the_sample(sample_dir: Path, tmp_path: Path) -> None:
    written = [p for p in _written_posts(sample_dir) if p["refers"]][:3]
    stranger = {"post_id": "mastodon:social.example:1", "group_id": "vanguard", "text": "not ours", "url": ""}
    source = tmp_path / "to_label.csv"
    # row 1 spans lines 2-3 (a line break in its text), so the stranger in row 3 starts on line 5
    _draw_csv(source, [{**written[0], "text": "two\nlines"}, written[1], stranger, written[2]])
    target = tmp_path / "out.csv"
    with pytest.raises(sample.TruthLabelError, match=r"to_label\.csv:5: post 'mastodon:social\.example:1'"):
        sample.label_from_truth(source, sample_dir, target)
    assert not target.exists()  # nothing half-labelled is left behind
    with pytest.raises(sample.TruthLabelError, match=r"truth_stance\.jsonl does not exist"):
        sample.label_from_truth(source, tmp_path / "elsewhere", target)


def test_sample_cli_labels_a_csv_from_truth_and_still_writes_samples(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dissentry.cli import app

    runner = CliRunner()
    out = tmp_path / "sample"
    result = runner.invoke(app, ["sample", "--out", str(out), "--seed", "5", "--scale", "0.2"])
    assert result.exit_code == 0, result.output
    assert (out / sample.TRUTH_STANCE_FILE).exists() and (out / sample.STATUSES_FILE).exists()
    before = (out / sample.STATUSES_FILE).read_bytes()
    posts = [p for p in _written_posts(out) if p["refers"]][:10]
    source = tmp_path / "to_label.csv"
    _draw_csv(source, posts)
    result = runner.invoke(app, ["sample", "--out", str(out), "--label-from-truth", str(source)])
    assert result.exit_code == 0, result.output
    assert "labelled 10 rows" in result.output
    assert [r["label"] for r in _read_csv(tmp_path / "to_label.labelled.csv")] == [
        line["stance"] for p in posts for line in _stance_truth(out) if line["post_id"] == p["post_id"]]
    assert (out / sample.STATUSES_FILE).read_bytes() == before  # labelling leaves the sample alone
    _draw_csv(source, [*posts, {"post_id": "bluesky:at://nobody", "group_id": "x", "text": "", "url": ""}])
    result = runner.invoke(app, ["sample", "--out", str(out), "--label-from-truth", str(source)])
    assert result.exit_code == 2
    assert "to_label.csv:12: post 'bluesky:at://nobody'" in result.output
