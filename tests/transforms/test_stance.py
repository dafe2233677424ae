"""The default stance classifier on example sentences, and the reference_stance model's plumbing."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pytest

from dissentry.config import StanceSettings
from dissentry.transforms.marts import reference_stance
from dissentry.transforms.stance import StanceClassifier, VaderRulesClassifier, make_classifier
from tests.transforms import hand_dataset as hd
from tests.transforms.builders import build, rows

TARGETS = ["Org A", "Jane Leader"]


@pytest.fixture(scope="module")
def vader() -> VaderRulesClassifier:
    return VaderRulesClassifier()


@pytest.fixture(scope="module")
def cues_only() -> VaderRulesClassifier:
    """Thresholds VADER's compound (in [-1, 1]) can never reach: only cues decide 'critical'."""
    return VaderRulesClassifier(StanceSettings(negative_threshold=-2.0, positive_threshold=2.0))


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Org A was wrong about the coalition.", "critical"),  # cue
        ("Org A made mistakes again", "critical"),  # cue inflected: mistake -> mistakes
        ("Jane Leader must step down", "critical"),  # multi-word cue, VADER neutral (0.0)
        ("I can't support Org A anymore", "critical"),  # cue that contains a negation itself
        ("Org A is not good.", "critical"),  # no cue: VADER's own negation makes it negative
        ("Org A is not wrong about this.", "supportive"),  # negated cue, VADER positive
        ("I don't disagree with Org A.", "supportive"),
        ("I don’t disagree with Org A.", "supportive"),  # typographic apostrophe
        ("Org A did great work today!", "supportive"),
        ("Org A meets on Tuesday.", "neutral"),
    ],
)
def test_default_classifier_examples(vader: VaderRulesClassifier, text: str, label: str) -> None:
    assert vader.classify([text], [TARGETS]) == [label]


@pytest.mark.parametrize(
    ("text", "critical"),
    [
        ("I disagree with Org A.", True),
        ("I don't disagree with Org A.", False),
        ("I do not really disagree with Org A.", False),  # negator within three words
        ("Not that I would ever say it, but I disagree with Org A.", True),  # negator too far back
        ("Org A never failed us.", False),
        ("Make no mistake: Org A will win.", False),
        ("Org A failed. They did not listen.", True),  # the negation is in another sentence
        ("Jane Leader resigned from the board of Org A.", True),  # resign -> resigned
        ("Org A defends the resignation law", True),  # documented over-reach of inflections
        ("Org A re-signed the treaty", False),  # 're-signed' is not 'resign'
    ],
)
def test_cues_and_negation(cues_only: VaderRulesClassifier, text: str, critical: bool) -> None:
    judgement = cues_only.judge_one(text, TARGETS)
    assert (judgement.label == "critical") is critical, judgement


def test_only_the_sentences_naming_the_target_are_read(vader: VaderRulesClassifier) -> None:
    # The storm is horrible, not the organisation: the sentence about Org A has no valence.
    text = "What a horrible, awful storm today. Org A is organising shelters."
    judgement = vader.judge_one(text, TARGETS)
    assert judgement.read == "Org A is organising shelters."
    assert judgement.label == "neutral"
    # and a cheerful opening does not hide criticism of the leader
    assert vader.judge_one("I love this sunny day! Jane Leader should resign.", TARGETS).label == "critical"


def test_whole_text_when_the_reference_is_a_mention_or_reply(vader: VaderRulesClassifier) -> None:
    judgement = vader.judge_one("@orga@s.example You failed us. https://x.example/a", TARGETS)
    assert judgement.read == "You failed us."
    assert judgement.label == "critical"


def test_version_names_the_rules_and_the_settings() -> None:
    default = VaderRulesClassifier()
    assert default.name == "vader_rules"
    assert default.version == VaderRulesClassifier().version
    changed = VaderRulesClassifier(StanceSettings(critical_cues=["disagree"]))
    assert changed.version != default.version
    assert isinstance(make_classifier(StanceSettings()), StanceClassifier)


def test_mismatched_lengths_are_refused(vader: VaderRulesClassifier) -> None:
    with pytest.raises(ValueError, match="2 texts but 1 target"):
        vader.classify(["a", "b"], [TARGETS])


class ShoutingClassifier:
    """A stand-in classifier: critical when the text has an exclamation mark."""

    name = "shouting"
    version = "0.1"

    def classify(self, texts: Sequence[str], targets: Sequence[Sequence[str]]) -> list[str]:
        return ["critical" if "!" in t else "neutral" for t in texts]


@pytest.fixture(scope="module")
def hand_con() -> duckdb.DuckDBPyConnection:
    return build(hd.CONFIG, **hd.inputs())


def test_reference_stance_in_small_batches_matches_one_pass(
    hand_con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reference_stance, "BATCH_SIZE", 2)
    table = reference_stance.build(hand_con, hd.CONFIG).read_all()  # the model streams: read it whole here
    batched = sorted(zip(*(table.column(c).to_pylist() for c in ("post_id", "group_id", "stance")), strict=True))
    stored = [
        (r["post_id"], r["group_id"], r["stance"])
        for r in rows(hand_con, "SELECT post_id, group_id, stance FROM reference_stance ORDER BY post_id, group_id")
    ]
    assert len(stored) == 9
    assert batched == stored


def test_a_pluggable_classifier_is_recorded_on_every_row(hand_con: duckdb.DuckDBPyConnection) -> None:
    table = reference_stance.build(hand_con, hd.CONFIG, classifier=ShoutingClassifier()).read_all()
    data = table.to_pydict()
    assert set(data["classifier"]) == {"shouting"} and set(data["classifier_version"]) == {"0.1"}
    assert set(data["compound"]) == {None}  # no explanation from this classifier
    labels = dict(zip(data["post_id"], data["stance"], strict=True))
    assert labels["p02"] == "critical" and labels["p01"] == "neutral"  # only p02 has a '!'


def test_the_targets_own_name_carries_no_valence(vader: VaderRulesClassifier) -> None:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    text = "Centre Party announced its conference dates."
    # unmasked, VADER reads "Party" as positive: a factual sentence would count as support
    assert SentimentIntensityAnalyzer().polarity_scores(text)["compound"] > 0.05
    judgement = vader.judge_one(text, ["Centre Party"])
    assert judgement.label == "neutral" and judgement.compound == 0.0
    assert vader.judge_one("Centre Party is doing great work, proud of them!", ["Centre Party"]).label == "supportive"


# ---- one registry of classifiers (issue 14 §3) ---------------------------------------------------------
def test_config_accepts_exactly_the_classifiers_stance_builds() -> None:
    """dissentry.config.BUILTIN_CLASSIFIERS is the one list of names: config validates against it
    without importing transforms, and stance registers one class under each name, in its order."""
    from pydantic import ValidationError

    from dissentry.config import BUILTIN_CLASSIFIERS
    from dissentry.transforms.stance import BUILTIN

    assert tuple(BUILTIN) == BUILTIN_CLASSIFIERS == ("vader_rules", "trained")
    for name in ("auto", *BUILTIN_CLASSIFIERS):
        settings = StanceSettings(classifier=name)
        assert make_classifier(settings, n_labels=1000).name == ("trained" if name == "auto" else name)
    with pytest.raises(ValidationError, match="use one of auto, vader_rules, trained"):
        StanceSettings(classifier="bert")


def test_a_class_without_a_name_in_the_registry_stops_the_import() -> None:
    from dissentry.transforms.stance import TrainedStanceClassifier, _register

    class Unlisted(VaderRulesClassifier):
        name = "unlisted"

    assert _register(VaderRulesClassifier, TrainedStanceClassifier) == {
        "vader_rules": VaderRulesClassifier, "trained": TrainedStanceClassifier}
    with pytest.raises(ImportError, match=r"do not match dissentry\.config\.BUILTIN_CLASSIFIERS"):
        _register(VaderRulesClassifier, TrainedStanceClassifier, Unlisted)  # type: ignore[arg-type]
    with pytest.raises(ImportError, match="do not match"):
        _register(VaderRulesClassifier)
