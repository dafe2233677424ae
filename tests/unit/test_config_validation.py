"""Mistakes are caught when the config loads (issue 11 §1): options through the connectors'
`Options`, schedules, account namespaces of csv/jsonl labels, and `[settings.collection]`, from
which the HTTP client (real loopback server) and the collection runs are built."""

from __future__ import annotations

from pathlib import Path

import pytest

from dissentry import pipeline
from dissentry.config import CollectionSettings, ConfigError, load_config
from dissentry.connectors.http import BudgetExhausted, HttpError
from tests.support.fake_time import FakeTime
from tests.support.local_server import Reply, Request, serve
from tests.support.project import ALICE, MEMBERS, config_toml, extended, group, source
from tests.support.project import write_config as write

BASE = config_toml(group("org_a", "Org A", members=[ALICE]), MEMBERS)


def refused(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message and "Traceback" not in message
    return message


# ---- options, through the registry ---------------------------------------------------------------
def test_a_misspelt_option_fails_at_load_naming_file_source_key_and_the_right_key(tmp_path: Path) -> None:
    message = refused(tmp_path, BASE + """
[[sources]]
name = "forum-export"
platform = "csv"
files = ["forum.csv"]
options = {timestamp_fmt = "%d/%m/%Y %H:%M"}
""")
    assert ("source 'forum-export' (csv): options.timestamp_fmt: unknown option, did you mean 'timestamp_format'?"
            in message)
    assert "known options: columns, platform_label, timestamp_format, delimiter" in message
    assert message.count("timestamp_fmt") == 1  # said once, not three times


def test_a_misspelt_rss_option_fails_at_load(tmp_path: Path) -> None:
    message = refused(tmp_path, BASE + """
[[sources]]
name = "org-a-site"
platform = "rss"
options = {group = "org_a", feedz = ["https://org-a.example/feed.xml"]}
""")
    assert "source 'org-a-site' (rss): options.feedz: unknown option, did you mean 'feeds'?" in message


def test_options_of_a_connector_without_options_are_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, BASE.replace('accounts = ["@alice"]', 'accounts = ["@alice"]\noptions = {limit = 5}'))
    assert "source 'members' (mastodon): options.limit: unknown option (known options: none)" in message


def test_a_bad_option_value_and_a_secret_are_refused_by_key(tmp_path: Path) -> None:
    message = refused(tmp_path, extended(
        BASE, source("saved", "jsonl", files=["x.jsonl"], options={"delimiter": ";"}),
        source("r", "reddit", accounts=["someone"], options={"client_secret": "s3cr3t-value"})))
    assert "source 'saved' (jsonl): options.delimiter: delimiter is for CSV files only" in message
    assert "source 'r' (reddit): options.client_secret: credentials do not belong in the config file" in message
    assert "s3cr3t-value" not in message


def test_api_collection_of_an_import_only_platform_is_refused_at_load(tmp_path: Path) -> None:
    message = refused(tmp_path, BASE + '\n[[sources]]\nname = "tw"\nplatform = "twitter"\naccounts = ["someone"]\n')
    assert "source 'tw': twitter is import-only in dissentry" in message
    assert "dissentry import twitter <file>" in message


# ---- schedules ----------------------------------------------------------------------------------
def test_a_schedule_in_words_is_refused_with_the_accepted_forms(tmp_path: Path) -> None:
    message = refused(tmp_path, BASE.replace('accounts = ["@alice"]', 'accounts = ["@alice"]\nschedule = "every hour"'))
    assert "sources[0] (members).schedule: schedule 'every hour' is not a schedule" in message
    for form in ("@hourly", "@daily", "@weekly", "@monthly", "'0 6 * * *'", "five fields"):
        assert form in message


@pytest.mark.parametrize("schedule", ["@hourly", "@daily", "*/15 * * * *", "0 9 * * 1-5", "0 6 * * mon-fri"])
def test_presets_and_cron_expressions_are_accepted(tmp_path: Path, schedule: str) -> None:
    text = BASE.replace('accounts = ["@alice"]', f'accounts = ["@alice"]\nschedule = "{schedule}"')
    assert load_config(write(tmp_path, text)).sources[0].schedule == schedule


@pytest.mark.parametrize("schedule", ["0 25 * * *", "* * * *", "hourly"])
def test_impossible_crons_are_refused(tmp_path: Path, schedule: str) -> None:
    text = BASE.replace('accounts = ["@alice"]', f'accounts = ["@alice"]\nschedule = "{schedule}"')
    assert "is not a schedule" in refused(tmp_path, text)


# ---- account namespaces of csv/jsonl labels ------------------------------------------------------
LABELLED = extended(BASE, source("forum", "csv", files=["forum.csv"], options={"platform_label": "forum"}),
                    source("board", "jsonl", files=["board.jsonl"], options={"platform_label": "board"}))


def test_a_platform_label_is_a_namespace_for_members_and_accounts(tmp_path: Path) -> None:
    text = LABELLED.replace('members = ["mastodon:@alice@social.example"]',
                            'accounts = ["forum:OrgA"]\nmembers = ["forum:@Alice", {name = "Bob", '
                            'accounts = ["board:bob", "mastodon:@bob@social.example"]}]')
    config = load_config(write(tmp_path, text))
    people = config.groups[0].people()
    assert people[0] == ("forum:alice", ["forum:@Alice"])  # as the csv connector stores authors: 'forum:alice'
    assert people[1] == ("person:Bob", ["board:bob", "mastodon:@bob@social.example"])


def test_the_platform_name_of_a_labelled_source_is_refused_with_the_label(tmp_path: Path) -> None:
    text = LABELLED.replace('members = ["mastodon:@alice@social.example"]', 'members = ["jsonl:bob"]')
    message = refused(tmp_path, text)
    assert ("groups[0] (org_a).members[0]: account 'jsonl:bob' matches no data: every jsonl source stores its "
            "posts under its platform_label (board); write 'board:' instead") in message


def test_a_label_no_source_uses_is_an_unknown_platform(tmp_path: Path) -> None:
    text = BASE.replace('members = ["mastodon:@alice@social.example"]', 'members = ["forum:alice", "mastodn:@a@b.c"]')
    message = refused(tmp_path, text)
    assert "account 'forum:alice' names unknown platform 'forum'" in message
    assert "account 'mastodn:@a@b.c' names unknown platform 'mastodn'" in message and "did you mean 'mastodon:'" in message


def test_csv_without_a_labelled_source_stays_a_namespace(tmp_path: Path) -> None:
    # `dissentry import csv FILE` without a source stores its posts under 'csv:'
    text = BASE.replace('members = ["mastodon:@alice@social.example"]', 'members = ["csv:alice"]')
    assert load_config(write(tmp_path, text)).groups[0].people()[0][0] == "csv:alice"


# ---- [settings.collection] ------------------------------------------------------------------------
COLLECTION = BASE + """
[settings.collection]
retry_attempts = 3
backoff_seconds = 0.25
backoff_max_seconds = 2
max_wait_seconds = 100
max_requests = 50
max_pages = 20
task_retries = 5
task_timeout_minutes = 45

[[sources]]
name = "feeds"
platform = "rss"
options = {group = "org_a", feeds = ["https://org-a.example/feed.xml"]}
collection = {max_requests = 2, retry_attempts = 2}
"""


def test_collection_settings_are_typed_and_merged_per_source(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, COLLECTION))
    members, feeds = config.collection_for("members"), config.collection_for("feeds")
    assert (members.retry_attempts, members.max_requests, members.max_pages, members.task_retries) == (3, 50, 20, 5)
    assert (feeds.retry_attempts, feeds.max_requests, feeds.max_pages, feeds.backoff_seconds) == (2, 2, 20, 0.25)
    assert feeds.http_client_options() == {"max_attempts": 2, "backoff_seconds": 0.25, "backoff_max_seconds": 2.0,
                                           "max_wait_seconds": 100.0, "timeout": 30.0, "max_requests": 2}
    assert CollectionSettings().max_pages == 1000 and CollectionSettings().max_requests is None


def test_a_misspelt_collection_setting_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, COLLECTION.replace("max_requests = 50", "max_request = 50"))
    assert "settings.collection.max_request: Extra inputs are not permitted" in message
    message = refused(tmp_path, COLLECTION.replace("retry_attempts = 2}", "retry_attempts = 0}"))
    assert "sources[1] (feeds).collection.retry_attempts" in message


def test_the_http_client_retries_and_backs_off_as_configured(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, COLLECTION))
    t = FakeTime()
    with serve(lambda request: Reply(503)) as server, pipeline.http_client_for(
            config.source("members"), config.collection_for("members"), sleep=t.sleep, clock=t.clock) as http:
        with pytest.raises(HttpError, match="failed after 3 attempts"):
            http.get_json(f"{server.url}/x")
        assert len(server.requests) == 3
    # retry n pauses at most backoff_seconds * 2**n, capped at backoff_max_seconds
    assert len(t.sleeps) == 2 and t.sleeps[0] <= 0.5 and t.sleeps[1] <= 1.0


FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Org A</title><link>https://org-a.example/</link>
<item><title>One</title><link>https://org-a.example/{n}</link><pubDate>Mon, 06 Jan 2025 10:00:00 +0000</pubDate></item>
</channel></rss>"""


def test_the_request_budget_of_a_source_holds_in_a_collection_run(tmp_path: Path) -> None:
    seen: list[Request] = []

    def handle(request: Request) -> Reply:
        seen.append(request)
        return Reply(200, FEED.format(n=len(seen)), {"Content-Type": "application/rss+xml"})

    with serve(handle) as server:
        feeds = [f"{server.url}/feed{n}.xml" for n in range(4)]
        text = COLLECTION.replace('feeds = ["https://org-a.example/feed.xml"]', f"feeds = {feeds!r}".replace("'", '"'))
        config = load_config(write(tmp_path, text))
        t = FakeTime()
        (row,) = pipeline.collect(config, "feeds", http_overrides={"sleep": t.sleep, "clock": t.clock})
    assert len(seen) == 2  # the source's own budget (2), not the settings' (50) or none
    assert "request budget of 2 spent" in row["errors"]
    assert issubclass(BudgetExhausted, HttpError)


def test_the_page_cap_comes_from_the_settings(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, COLLECTION.replace("max_pages = 20", "max_pages = 7")))
    assert config.collection_for("members").max_pages == 7
    legacy = load_config(write(tmp_path, COLLECTION.replace('accounts = ["@alice"]', 'accounts = ["@alice"]\nmax_pages = 3')))
    assert legacy.collection_for("members").max_pages == 3  # a source's own max_pages still wins
