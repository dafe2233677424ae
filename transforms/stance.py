"""Stance of a post towards the organisation it references: critical, supportive or neutral.

Classifiers are pluggable (`StanceClassifier`); every label in `reference_stance` records the
classifier's name and version, so a rate can always be traced to the rules that produced it.

The default, `VaderRulesClassifier`, is transparent and offline. It is target-aware: it reads
only the sentences that name the organisation (an alias or a leader); when none does (the
reference is a mention, reply or quote) it reads the whole post. On that text:

- critical when a critical cue appears that is not negated ("wrong about", "resign", ...) or when
  VADER's compound score is <= the negative threshold;
- otherwise supportive when the compound score is >= the positive threshold;
- otherwise neutral.

A cue is negated when a negator ("not", "never", "no", any "...n't") stands among the three words
before it in the same sentence, so "they're not wrong about this" and "I don't disagree" carry no
cue. Negated sentiment words ("not good") are VADER's own business: it flips them itself.
Single-word cues also match their common inflections (resign -> resigned, resignation).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from dissentry.config import StanceSettings
from transforms.terms import clean_term, is_word_char, python_pattern

LABELS = ("critical", "supportive", "neutral")

_URL = re.compile(r"(?:https?://|www\.)\S+")
_MENTION = re.compile(r"(?:^|(?<=\s))@\S+")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])\s+|\n+")
_WORD = re.compile(r"[\w']+")
_NEGATORS = frozenset(
    {
        "not",
        "no",
        "never",
        "none",
        "nobody",
        "nothing",
        "neither",
        "nor",
        "hardly",
        "barely",
        "without",
        "cannot",
        "dont",
        "doesnt",
        "didnt",
        "isnt",
        "wasnt",
        "arent",
        "werent",
        "cant",
        "couldnt",
        "wont",
        "wouldnt",
        "shouldnt",
        "havent",
        "hasnt",
        "hadnt",
        "aint",
    }
)
_INFLECTIONS = r"(?:s|es|d|ed|ing|ation|ations)?"
_NEGATION_WINDOW = 3


@runtime_checkable
class StanceClassifier(Protocol):
    """Labels texts by their stance towards a target named by some terms."""

    name: str
    version: str

    def classify(self, texts: Sequence[str], targets: Sequence[Sequence[str]]) -> list[str]:
        """One label from LABELS per text; `targets[i]` are the names of text i's target."""
        ...


@dataclass(frozen=True)
class Judgement:
    label: str
    compound: float  # VADER compound score of the text that was read
    cue: str | None  # the first non-negated critical cue found, if any
    read: str  # the text the rules were applied to (the target's sentences, or the whole post)


def _normalise_apostrophes(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'")


def _cue_pattern(cue: str) -> re.Pattern[str]:
    cue = _normalise_apostrophes(clean_term(cue))
    body = r"\s+".join(re.escape(part) for part in cue.split())
    left = r"(?<!\w)" if is_word_char(cue[0]) else ""
    right = (_INFLECTIONS + r"(?!\w)") if is_word_char(cue[-1]) else ""
    return re.compile(left + body + right, re.IGNORECASE)


def _is_negated(sentence: str, start: int) -> bool:
    before = _WORD.findall(sentence[:start].lower())[-_NEGATION_WINDOW:]
    return any(w in _NEGATORS or w.endswith("n't") for w in before)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_BREAK.split(text) if s.strip()]


def strip_urls_and_mentions(text: str) -> str:
    return " ".join(_MENTION.sub(" ", _URL.sub(" ", text or "")).split())


class VaderRulesClassifier:
    """VADER compound score plus critical cues with negation, on the sentences naming the target."""

    name = "vader_rules"
    _rules_version = "1.1"  # 1.1: the target's own name is masked before scoring

    def __init__(self, settings: StanceSettings | None = None) -> None:
        self.settings = settings or StanceSettings()
        self._cues = [(cue, _cue_pattern(cue)) for cue in self.settings.critical_cues if clean_term(cue)]
        self._analyzer = SentimentIntensityAnalyzer()
        self._target_patterns: dict[tuple[str, ...], re.Pattern[str] | None] = {}
        # The version changes whenever anything that can change a label changes.
        params = json.dumps(
            [self.settings.negative_threshold, self.settings.positive_threshold, self.settings.critical_cues]
        )
        digest = hashlib.sha256(params.encode()).hexdigest()[:8]
        vader = importlib.metadata.version("vaderSentiment")
        self.version = f"{self._rules_version}+vader{vader}.cfg{digest}"

    def _target_pattern(self, targets: Sequence[str]) -> re.Pattern[str] | None:
        key = tuple(targets)
        if key not in self._target_patterns:
            self._target_patterns[key] = python_pattern(list(key))
        return self._target_patterns[key]

    def target_text(self, text: str, targets: Sequence[str]) -> str:
        """The sentences naming the target; the whole text when none does."""
        parts = sentences(_normalise_apostrophes(strip_urls_and_mentions(text)))
        pattern = self._target_pattern(targets)
        naming = [s for s in parts if pattern is not None and pattern.search(s)]
        return " ".join(naming or parts)

    def _first_cue(self, read: str) -> str | None:
        for sentence in sentences(read):
            for cue, pattern in self._cues:
                for match in pattern.finditer(sentence):
                    if not _is_negated(sentence, match.start()):
                        return cue
        return None

    def judge_one(self, text: str, targets: Sequence[str]) -> Judgement:
        read = self.target_text(text, targets)
        # an organisation's name carries valence of its own in VADER's lexicon ("Centre *Party*",
        # "Green *Alliance*"): score what is said about it, not the name
        pattern = self._target_pattern(targets)
        scored = pattern.sub("org", read) if pattern is not None else read
        compound = float(self._analyzer.polarity_scores(scored)["compound"]) if scored else 0.0
        cue = self._first_cue(read)
        if cue is not None or compound <= self.settings.negative_threshold:
            label = "critical"
        elif compound >= self.settings.positive_threshold:
            label = "supportive"
        else:
            label = "neutral"
        return Judgement(label=label, compound=compound, cue=cue, read=read)

    def judge(self, texts: Sequence[str], targets: Sequence[Sequence[str]]) -> list[Judgement]:
        if len(texts) != len(targets):
            raise ValueError(f"{len(texts)} texts but {len(targets)} target lists")
        return [self.judge_one(t or "", g) for t, g in zip(texts, targets, strict=True)]

    def classify(self, texts: Sequence[str], targets: Sequence[Sequence[str]]) -> list[str]:
        return [j.label for j in self.judge(texts, targets)]


CLASSIFIERS: dict[str, type[VaderRulesClassifier]] = {"vader_rules": VaderRulesClassifier}


def make_classifier(settings: StanceSettings) -> StanceClassifier:
    """The classifier named in the settings, configured by them."""
    try:
        cls = CLASSIFIERS[settings.classifier]
    except KeyError:
        raise ValueError(f"unknown stance classifier {settings.classifier!r} (known: {sorted(CLASSIFIERS)})") from None
    return cls(settings)
