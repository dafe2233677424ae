"""The trained stance classifier, cross-fitting, pluggable classifiers and the SemEval bench.

The labelled sets here are written by the tests: phrasings with an obvious stance (a word of
criticism, of praise, or a plain fact) about several invented organisations, so what the model
should learn is known without reading its weights.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import ValidationError

from dissentry.config import StanceSettings
from dissentry.transforms.stance import (
    LABELS,
    MASK_TARGET,
    MASK_URL,
    MASK_USER,
    TrainedStanceClassifier,
    VaderRulesClassifier,
    cross_fit_predict,
    is_trainable,
    make_classifier,
    mask_targets,
    resolve_classifier_name,
)

REPO = Path(__file__).resolve().parents[2]
SEMEVAL = REPO.parent / "shared" / "data" / "semeval2016-stance"
HERE = "tests.transforms.test_stance_trained"

GROUPS = {
    "alpha": ["Org Alpha", "Ann Chair"],
    "beta": ["Beta Party", "Bob Boss"],
    "gamma": ["Gamma Union"],
}
CRITICAL = [
    "{t} betrayed us again, a disgrace",
    "shameful decision by {t}, a disgrace",
    "{t} betrayed every member, shameful",
    "what a disgrace {t} has become",
]
SUPPORTIVE = [
    "proud of {t}, thank you for the great work",
    "thank you {t}, proud to stand with you",
    "great work by {t} today, so proud",
    "{t} keeps doing great work, thank you",
]
NEUTRAL = [
    "{t} meets on Tuesday at the town hall",
    "the agenda of {t} is published on Tuesday",
    "{t} holds its meeting at the town hall",
    "{t} publishes the meeting agenda",
]


def labelled_set(groups: dict[str, list[str]]) -> tuple[list[str], list[list[str]], list[str]]:
    texts: list[str] = []
    targets: list[list[str]] = []
    labels: list[str] = []
    for names in groups.values():
        for name in names:
            for label, templates in (("critical", CRITICAL), ("supportive", SUPPORTIVE), ("neutral", NEUTRAL)):
                for template in templates:
                    texts.append(template.format(t=name))
                    targets.append(names)
                    labels.append(label)
    return texts, targets, labels


@pytest.fixture(scope="module")
def fitted() -> TrainedStanceClassifier:
    classifier = TrainedStanceClassifier()
    classifier.fit(*labelled_set(GROUPS))
    return classifier


# ---- masking -------------------------------------------------------------------------------------


def test_masking_replaces_whole_names_in_any_case() -> None:
    targets = ["Org Alpha", "Ann Chair"]
    text = "ORG ALPHA and org  alpha's chair Ann Chair, but not Org Alphabet or AnnChair"
    assert mask_targets(text, targets) == (
        f"{MASK_TARGET} and {MASK_TARGET}'s chair {MASK_TARGET}, but not Org Alphabet or AnnChair"
    )
    # a name inside a hashtag word is not the name; the hashtag of the name is
    assert mask_targets("#OrgAlpha #Alpha", ["Alpha"]) == f"#OrgAlpha #{MASK_TARGET}"


def test_masking_replaces_urls_and_handles_first() -> None:
    text = "@orgalpha@social.example see https://orgalpha.example/Org-Alpha about Org Alpha"
    assert mask_targets(text, ["Org Alpha"]) == f"{MASK_USER} see {MASK_URL} about {MASK_TARGET}"
    assert mask_targets("no names here", []) == "no names here"


def test_masking_makes_the_name_invisible_to_the_model(fitted: TrainedStanceClassifier) -> None:
    # the same words about two organisations read identically once masked
    a = mask_targets("Org Alpha betrayed us", GROUPS["alpha"])
    b = mask_targets("Beta Party betrayed us", GROUPS["beta"])
    assert a == b == f"{MASK_TARGET} betrayed us"


# ---- fit, classify, version, storage -------------------------------------------------------------


def test_learns_the_obvious_patterns_and_generalises_to_a_new_group(fitted: TrainedStanceClassifier) -> None:
    new = ["Delta League", "Dee Head"]  # never seen in training: only the shared features apply
    texts = [
        "Delta League betrayed its voters, a disgrace",
        "so proud of Dee Head, thank you",
        "Delta League meets on Tuesday at the town hall",
    ]
    assert fitted.classify(texts, [new] * 3) == ["critical", "supportive", "neutral"]
    # and on a group seen in training, in new combinations of its words
    seen = ["a disgrace, Bob Boss betrayed us", "thank you Beta Party for the great work"]
    assert fitted.classify(seen, [GROUPS["beta"]] * 2) == ["critical", "supportive"]
    assert set(fitted.classify(*labelled_set(GROUPS)[:2])) <= set(LABELS)


def test_version_is_the_content_hash_and_deterministic(fitted: TrainedStanceClassifier) -> None:
    assert re.fullmatch(r"trained-[0-9a-f]{12}\+sklearn[\w.]+", fitted.version)
    again = TrainedStanceClassifier()
    again.fit(*labelled_set(GROUPS))
    assert again.version == fitted.version and again.to_bytes() == fitted.to_bytes()
    texts, targets, labels = labelled_set(GROUPS)
    labels[0] = "neutral"  # one label changed: another model, another version
    changed = TrainedStanceClassifier()
    changed.fit(texts, targets, labels)
    assert changed.version != fitted.version


def test_version_does_not_depend_on_the_process(fitted: TrainedStanceClassifier) -> None:
    # string hashing is randomised per process: a set or dict order leaking into the model would show
    code = (
        "from tests.transforms.test_stance_trained import GROUPS, labelled_set\n"
        "from dissentry.transforms.stance import TrainedStanceClassifier\n"
        "c = TrainedStanceClassifier(); c.fit(*labelled_set(GROUPS)); print(c.version)\n"
    )
    versions = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
        versions.add(out.stdout.strip())
    assert versions == {fitted.version}


def test_round_trip_through_bytes(fitted: TrainedStanceClassifier) -> None:
    restored = TrainedStanceClassifier.from_bytes(fitted.to_bytes())
    texts, targets, _ = labelled_set({"delta": ["Delta League"], **GROUPS})
    assert restored.classify(texts, targets) == fitted.classify(texts, targets)
    assert restored.version == fitted.version and restored.name == "trained"


def test_refusals() -> None:
    classifier = TrainedStanceClassifier()
    with pytest.raises(ValueError, match="not been fitted"):
        classifier.classify(["x"], [["Org Alpha"]])
    with pytest.raises(ValueError, match="not been fitted"):
        classifier.to_bytes()
    with pytest.raises(ValueError, match=r"1 distinct class\(es\) \(critical\): at least 2"):
        classifier.fit(["a", "b", "c"], [["Org Alpha"]] * 3, ["critical"] * 3)
    with pytest.raises(ValueError, match=r"unknown stance labels \['against'\]"):
        classifier.fit(["a", "b"], [["Org Alpha"]] * 2, ["critical", "against"])
    with pytest.raises(ValueError, match="2 texts but 1 labels"):
        classifier.fit(["a", "b"], [["Org Alpha"]] * 2, ["critical"])
    assert classifier.version == TrainedStanceClassifier.UNFITTED


# ---- cross-fitting -------------------------------------------------------------------------------


class Memoriser:
    """Remembers every training label exactly; says 'neutral' about anything it never saw."""

    name = "memoriser"
    version = "1"
    fits: list[set[str]] = []  # noqa: RUF012 (a record of what each instance was trained on)

    def fit(self, texts: Sequence[str], targets: Sequence[Sequence[str]], labels: Sequence[str]) -> None:
        self.seen = dict(zip(texts, labels, strict=True))
        Memoriser.fits.append(set(texts))

    def classify(self, texts: Sequence[str], targets: Sequence[Sequence[str]]) -> list[str]:
        return [self.seen.get(t, "neutral") for t in texts]


def test_cross_fitting_never_grades_a_prediction_by_its_own_label() -> None:
    texts = [f"post {i}" for i in range(40)]
    labels = ["critical" if i % 3 else "supportive" for i in range(40)]  # no 'neutral' among the labels
    Memoriser.fits = []
    predicted = cross_fit_predict(Memoriser, texts, [["Org"]] * 40, labels, folds=5, seed=3)
    # fitted on the same data, the memoriser would be perfect; out of fold it has never seen any item
    assert predicted == ["neutral"] * 40
    assert len(Memoriser.fits) == 5
    # every item was held out exactly once, and trained on in the other four folds
    for text in texts:
        assert sum(text in seen for seen in Memoriser.fits) == 4


def test_cross_fitting_uses_fewer_folds_for_a_rare_class() -> None:
    texts = [f"post {i}" for i in range(20)]
    labels = ["critical"] * 17 + ["supportive"] * 3
    Memoriser.fits = []
    assert cross_fit_predict(Memoriser, texts, [["Org"]] * 20, labels, folds=5) == ["neutral"] * 20
    assert len(Memoriser.fits) == 3  # the rarest class has 3 members
    # a class of one: two folds; the training part without it holds critical alone, so its held-out
    # half (the neutral post among them) is predicted critical without fitting anything
    Memoriser.fits = []
    predicted = cross_fit_predict(Memoriser, texts[:6], [["Org"]] * 6, ["critical"] * 5 + ["neutral"], folds=5)
    assert len(Memoriser.fits) == 1 and predicted[5] == "critical"
    assert set(predicted) == {"critical", "neutral"}  # the memoriser never saw the other half


def test_cross_fitting_the_trained_classifier_is_reproducible() -> None:
    texts, targets, labels = labelled_set(GROUPS)
    first = cross_fit_predict(TrainedStanceClassifier, texts, targets, labels, folds=4, seed=1)
    assert first == cross_fit_predict(TrainedStanceClassifier, texts, targets, labels, folds=4, seed=1)
    # the patterns are plain, so even out of fold the model is mostly right
    assert sum(p == g for p, g in zip(first, labels, strict=True)) / len(labels) > 0.8
    with pytest.raises(ValueError, match="at least 2 labelled texts"):
        cross_fit_predict(TrainedStanceClassifier, ["a"], [["Org"]], ["critical"])


# ---- choosing and plugging in a classifier -------------------------------------------------------


class KeywordClassifier:
    """A user's own rules: critical when the text says 'bad'. Takes no arguments."""

    name = "keyword"
    version = "k1"

    def classify(self, texts: Sequence[str], targets: Sequence[Sequence[str]]) -> list[str]:
        return ["critical" if "bad" in t.lower() else "neutral" for t in texts]


class ConfiguredMajority:
    """A user's trainable class that reads the settings: predicts the most common training label."""

    name = "majority"

    def __init__(self, settings: StanceSettings) -> None:
        self.settings = settings
        self.version = "unfitted"

    def fit(self, texts: Sequence[str], targets: Sequence[Sequence[str]], labels: Sequence[str]) -> None:
        self.label = max(sorted(set(labels)), key=list(labels).count)
        self.version = f"majority-{self.label}-seed{self.settings.seed}"

    def classify(self, texts: Sequence[str], targets: Sequence[Sequence[str]]) -> list[str]:
        return [self.label] * len(texts)


class NoClassify:
    name = "broken"
    version = "0"


def not_a_class() -> None:
    """A function, where a class is expected."""


def test_auto_resolves_by_the_number_of_labels() -> None:
    settings = StanceSettings(min_training_labels=100)
    assert resolve_classifier_name(settings, 99) == "vader_rules"
    assert resolve_classifier_name(settings, 100) == "trained"
    assert isinstance(make_classifier(settings), VaderRulesClassifier)
    trained = make_classifier(settings, n_labels=150)
    assert isinstance(trained, TrainedStanceClassifier) and trained.version == TrainedStanceClassifier.UNFITTED
    for name in ("vader_rules", "trained", f"{HERE}:KeywordClassifier"):
        assert resolve_classifier_name(StanceSettings(classifier=name), 0) == name
        assert resolve_classifier_name(StanceSettings(classifier=name), 10_000) == name
    assert is_trainable(trained) and not is_trainable(make_classifier(settings))


def test_a_plugin_without_arguments() -> None:
    classifier = make_classifier(StanceSettings(classifier=f"{HERE}:KeywordClassifier"))
    assert type(classifier).__name__ == "KeywordClassifier" and not is_trainable(classifier)
    assert classifier.classify(["Org is bad", "Org is here"], [["Org"]] * 2) == ["critical", "neutral"]


def test_a_trainable_plugin_gets_the_settings_and_is_cross_fitted() -> None:
    settings = StanceSettings(classifier=f"{HERE}:ConfiguredMajority", seed=7)
    classifier = make_classifier(settings)
    assert is_trainable(classifier) and classifier.settings is settings  # type: ignore[attr-defined]
    labels = ["critical"] * 6 + ["neutral"] * 4
    texts = [f"t{i}" for i in range(10)]
    predicted = cross_fit_predict(lambda: make_classifier(settings), texts, [["Org"]] * 10, labels, folds=2)
    assert predicted == ["critical"] * 10  # each half's majority is critical
    classifier.fit(texts, [["Org"]] * 10, labels)  # type: ignore[attr-defined]
    assert classifier.version == "majority-critical-seed7"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_h2:Thing", "module 'no_such_module_h2' not found"),
        (f"{HERE}:Missing", f"module '{HERE}' has no attribute 'Missing'"),
        (f"{HERE}:NoClassify", "NoClassify is not a stance classifier: it lacks a classify"),
        (f"{HERE}:not_a_class", "'not_a_class' is a function, not a class"),
    ],
)
def test_plugin_errors_are_one_clear_line(spec: str, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        make_classifier(StanceSettings(classifier=spec))
    text = str(excinfo.value)
    assert text.startswith(f"settings.stance.classifier = {spec!r}: ") and message in text
    assert "\n" not in text


@pytest.mark.parametrize("value", ["bert", "pkg.module:", ":Class", "pkg module:Class", "pkg.mod:Cls:x"])
def test_the_setting_refuses_unknown_forms(value: str) -> None:
    with pytest.raises(ValidationError, match=r"auto, vader_rules, trained or 'package\.module:ClassName'"):
        StanceSettings(classifier=value)


def test_the_setting_accepts_the_known_forms_and_bounds() -> None:
    for value in ("auto", "vader_rules", "trained", "my_pkg.models:Bert", "single:Cls"):
        assert StanceSettings(classifier=value).classifier == value
    assert StanceSettings().classifier == "auto"
    with pytest.raises(ValidationError):
        StanceSettings(min_training_labels=9)
    with pytest.raises(ValidationError):
        StanceSettings(cross_fit_folds=1)
    with pytest.raises(ValidationError):
        StanceSettings(cross_fit_folds=21)


# ---- the SemEval bench ---------------------------------------------------------------------------


def bench() -> ModuleType:
    """bench/stance_semeval.py, imported from its file (bench/ is scripts, not a package)."""
    if "stance_semeval" not in sys.modules:
        spec = importlib.util.spec_from_file_location("stance_semeval", REPO / "bench" / "stance_semeval.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["stance_semeval"] = module  # its dataclass looks its module up there
        spec.loader.exec_module(module)
    return sys.modules["stance_semeval"]


def test_f_avg_by_hand() -> None:
    gold = ["critical", "critical", "supportive", "neutral", "neutral"]
    predicted = ["critical", "supportive", "supportive", "neutral", "critical"]
    # against: tp 1, fp 1, fn 1 -> F1 1/2; favor: tp 1, fp 1, fn 0 -> F1 2/3; F_avg = 7/12
    assert bench().f_avg(gold, predicted) == pytest.approx(100 * 7 / 12)


def write_dataset(root: Path) -> None:
    """Two targets in the SemEval folder layout (0 none, 1 against, 2 favor)."""
    texts = {
        "against": ["{t} betrayed us, a disgrace", "shameful work by {t}", "{t} is a disgrace"],
        "favor": ["proud of {t}, thank you", "thank you {t}, great work", "great work {t}, proud"],
        "none": ["{t} meets on Tuesday", "the agenda of {t} is out", "{t} holds its meeting"],
    }
    codes = {"none": "0", "against": "1", "favor": "2"}
    (root / "mapping.txt").write_text("0\tnone\n1\tagainst\n2\tfavor\n", encoding="utf-8")
    for folder, name in (("hillary", "Hillary Clinton"), ("atheism", "Atheism")):
        (root / folder).mkdir(parents=True)
        for split, picks in (("train", (0, 1)), ("val", (2,)), ("test", (0, 2))):
            lines = [(texts[k][i].format(t=name), codes[k]) for k in texts for i in picks]
            (root / folder / f"{split}_text.txt").write_text("".join(t + "\n" for t, _ in lines), encoding="utf-8")
            (root / folder / f"{split}_labels.txt").write_text("".join(c + "\n" for _, c in lines), encoding="utf-8")


def test_bench_on_a_tiny_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_dataset(tmp_path)
    module = bench()
    train = module.load_split(tmp_path, "train") + module.load_split(tmp_path, "val")
    assert len(train.texts) == 18 and set(train.labels) == set(LABELS)
    assert train.targets[0] == module.TARGET_NAMES["atheism"]  # folders in sorted order
    results = module.score(tmp_path)
    assert set(results) == {"vader_rules", "trained"}
    pooled, by_target = results["trained"]
    assert set(by_target) == {"atheism", "hillary"} and 0 <= pooled <= 100
    assert module.main(["--data", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines[:2]] == ["vader_rules", "trained"]
    assert all(re.fullmatch(r"F_avg \w+ \d{1,3}\.\d\d", line) for line in lines[:2])


def test_bench_without_data_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench().main(["--data", str(tmp_path / "absent")]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "not found" in out


@pytest.mark.slow
@pytest.mark.skipif(not SEMEVAL.exists(), reason="SemEval-2016 stance data not in ../shared/data")
def test_bench_on_semeval() -> None:
    # the format and the ordering only: the >= 68 goal is a recorded figure (bench/README.md), not
    # an assertion on data outside the repository
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "stance_semeval.py"), "--data", str(SEMEVAL)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    scores = {}
    for line in out[:2]:
        match = re.fullmatch(r"F_avg (\w+) (\d{1,3}\.\d\d)", line)
        assert match, line
        scores[match[1]] = float(match[2])
    assert set(scores) == {"vader_rules", "trained"}
    assert scores["trained"] > scores["vader_rules"]
    table = out[out.index("") + 1 :]
    assert table[0].split() == ["target", "vader_rules", "trained"]
    assert [row.split()[0] for row in table[1:6]] == ["abortion", "atheism", "climate", "feminist", "hillary"]
