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

The package: `world.py` (the groups, the accounts and the truth counters), `texts.py` (what they
say), `drafts.py` (what each account posts, platform-neutral), `writers.py` (one writer per
platform export format, and the truth files), `annotator.py` (labels from the truth); this module
writes a sample and its configuration, as `dissentry sample` does.

Generation is deterministic (`random.Random(seed)`, a fixed base date, no wall clock) and streams:
a day of posts is generated, sorted by time and written before the next day starts, and only a
few recent posts per account are kept as reply/repost/quote targets, so `scale` may be large.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from dissentry.sample.annotator import TruthLabelError, label_from_truth, labelled_path, read_stance_truth
from dissentry.sample.drafts import Card, Draft, Generator, Published, Segment, day_events
from dissentry.sample.texts import (
    CHATTER_TEMPLATES,
    CITIES,
    COMMENT_TEMPLATES,
    CRITICAL_LEADER_TEMPLATES,
    CRITICAL_TEMPLATES,
    CROSS_GROUP_TEMPLATES,
    NEUTRAL_TEMPLATES,
    NEWS_DOMAINS,
    NEWS_TITLES,
    OFFICIAL_TEMPLATES,
    OWN_TITLES,
    PERSONAL_TEMPLATES,
    PLACES,
    QUOTE_TEMPLATES,
    REPLY_TEMPLATES,
    SLOGANS,
    SUPPORTIVE_TEMPLATES,
    TOPIC_TAGS,
    TOPICS,
    WEEKDAYS,
)
from dissentry.sample.world import (
    APPVIEW_HANDLE_SUFFIX,
    BASE_DATE,
    DAYS,
    GROUPS,
    GROUPS_BY_ID,
    INSTANCE,
    INSTANCE_HOST,
    REMOTE_HOST,
    SHARED_PERSON,
    Actor,
    GroupSpec,
    GroupTruth,
    SampleTruth,
    build_roster,
    expected_posts,
)
from dissentry.sample.writers import (
    FEED_PAGE_SIZE,
    FEEDS_FILE,
    STATUSES_FILE,
    TRUTH_FILE,
    TRUTH_STANCE_FILE,
    BlueskyWriter,
    MastodonWriter,
    bluesky_basic,
    bluesky_profile,
    mastodon_account,
    write_stance_truth,
    write_truth,
)

CONFIG_FILE = "dissentry.toml"  # the demo configuration, written beside the data (`write_config`)

__all__ = [
    "APPVIEW_HANDLE_SUFFIX", "BASE_DATE", "CHATTER_TEMPLATES", "CITIES", "COMMENT_TEMPLATES", "CONFIG_FILE",
    "CRITICAL_LEADER_TEMPLATES", "CRITICAL_TEMPLATES", "CROSS_GROUP_TEMPLATES", "DAYS", "FEEDS_FILE",
    "FEED_PAGE_SIZE", "GROUPS", "GROUPS_BY_ID", "INSTANCE", "INSTANCE_HOST", "NEUTRAL_TEMPLATES", "NEWS_DOMAINS",
    "NEWS_TITLES", "OFFICIAL_TEMPLATES", "OWN_TITLES", "PERSONAL_TEMPLATES", "PLACES", "QUOTE_TEMPLATES",
    "REMOTE_HOST", "REPLY_TEMPLATES", "SHARED_PERSON", "SLOGANS", "STATUSES_FILE", "SUPPORTIVE_TEMPLATES",
    "TOPICS", "TOPIC_TAGS", "TRUTH_FILE", "TRUTH_STANCE_FILE", "WEEKDAYS", "Actor", "BlueskyWriter", "Card",
    "Draft", "GroupSpec", "GroupTruth", "MastodonWriter", "Published", "SampleTruth", "Segment",
    "TruthLabelError", "bluesky_basic", "bluesky_profile", "build_roster", "demo_config_text", "expected_posts",
    "generate_sample", "label_from_truth", "labelled_path", "mastodon_account", "read_stance_truth",
    "write_config", "write_stance_truth", "write_truth",
]


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
    gen = Generator(rng, roster, truth)
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
            for when, index in day_events(rng, roster, day, scale):
                actor = by_index[index]
                if actor.platform == "mastodon" and mastodon.full:
                    continue
                draft = gen.draft(actor, when)
                writer: MastodonWriter | BlueskyWriter = mastodon if actor.platform == "mastodon" else bluesky
                published = writer.emit(draft)
                write_stance_truth(tfh, draft, published)
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
