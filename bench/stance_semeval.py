"""Score the stance classifiers on SemEval-2016 Task 6 (TweetEval split): pooled F_avg on test.

    .venv/bin/python bench/stance_semeval.py [--data ../shared/data/semeval2016-stance] [--cv]

Each classifier that can be built is scored on the 1,249 test tweets of the five targets pooled:
`vader_rules` as it is (it learns nothing), `trained` after fitting on train+val (2,900 tweets).
Labels map against -> critical, favor -> supportive, none -> neutral, and
F_avg = (F1(favor) + F1(against)) / 2 over the pooled test set, the task's own metric (the data's
README), computed with scikit-learn's f1_score. Prints one line per classifier, exactly
`F_avg NAME NN.NN`, then F_avg per target.

`--cv` also prints the 5-fold cross-validated F_avg on train+val (never test): the figure the
trained classifier's hyper-parameters were chosen by.

The data is read where it lies and never copied into the repository; without it, the script says
so in one line and exits 0.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

DEFAULT_DATA = REPO.parent / "shared" / "data" / "semeval2016-stance"

# folder -> the names the target goes by (the task's own wording first). They are what a
# dissentry group's aliases are: the names the classifier masks before it reads a tweet.
TARGET_NAMES: dict[str, list[str]] = {
    "abortion": ["Legalization of Abortion", "abortion", "abortions"],
    "atheism": ["Atheism", "atheist", "atheists"],
    "climate": ["Climate Change", "global warming"],
    "feminist": ["Feminist Movement", "feminism", "feminist", "feminists"],
    "hillary": ["Hillary Clinton", "Hillary", "Clinton", "HillaryClinton"],
}
# mapping.txt: 0 none, 1 against, 2 favor
LABEL_OF = {"0": "neutral", "1": "critical", "2": "supportive"}


@dataclass
class Split:
    texts: list[str]
    targets: list[list[str]]
    labels: list[str]
    folders: list[str]

    def __add__(self, other: Split) -> Split:
        return Split(
            self.texts + other.texts,
            self.targets + other.targets,
            self.labels + other.labels,
            self.folders + other.folders,
        )


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def load_split(data: Path, split: str) -> Split:
    """Every target folder's `<split>_text.txt` and `<split>_labels.txt`, in folder order."""
    out = Split([], [], [], [])
    for folder in sorted(p.name for p in data.iterdir() if p.is_dir()):
        texts = _lines(data / folder / f"{split}_text.txt")
        labels = _lines(data / folder / f"{split}_labels.txt")
        if len(texts) != len(labels):
            raise ValueError(f"{folder}/{split}: {len(texts)} texts but {len(labels)} labels")
        names = TARGET_NAMES.get(folder, [folder])
        out.texts += texts
        out.targets += [names] * len(texts)
        out.labels += [LABEL_OF[label.strip()] for label in labels]
        out.folders += [folder] * len(texts)
    return out


def f_avg(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """(F1(favor) + F1(against)) / 2, in percent: the task's metric."""
    from sklearn.metrics import f1_score

    scores = f1_score(list(gold), list(predicted), labels=["supportive", "critical"], average=None, zero_division=0)
    return 100.0 * float(scores.mean())


def per_target(split: Split, predicted: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for folder in sorted(set(split.folders)):
        idx = [i for i, f in enumerate(split.folders) if f == folder]
        out[folder] = f_avg([split.labels[i] for i in idx], [predicted[i] for i in idx])
    return out


def score(data: Path) -> dict[str, tuple[float, dict[str, float]]]:
    """classifier name -> (pooled test F_avg, F_avg per target)."""
    from dissentry.transforms.stance import TrainedStanceClassifier, VaderRulesClassifier

    train = load_split(data, "train") + load_split(data, "val")
    test = load_split(data, "test")
    results: dict[str, tuple[float, dict[str, float]]] = {}
    builders: list[tuple[str, Callable[[], list[str]]]] = []

    def rules() -> list[str]:
        return VaderRulesClassifier().classify(test.texts, test.targets)

    def trained() -> list[str]:
        classifier = TrainedStanceClassifier()
        classifier.fit(train.texts, train.targets, train.labels)
        return classifier.classify(test.texts, test.targets)

    builders = [("vader_rules", rules), ("trained", trained)]
    for name, predict in builders:
        predicted = predict()
        results[name] = (f_avg(test.labels, predicted), per_target(test, predicted))
    return results


def cross_validated(data: Path, folds: int = 5, seed: int = 0, **params: object) -> float:
    """Pooled out-of-fold F_avg of `trained` (with `params` overriding its constants) on train+val."""
    from dissentry.transforms.stance import TrainedStanceClassifier, cross_fit_predict

    train = load_split(data, "train") + load_split(data, "val")
    predicted = cross_fit_predict(
        lambda: TrainedStanceClassifier(**params),  # type: ignore[arg-type]
        train.texts,
        train.targets,
        train.labels,
        folds=folds,
        seed=seed,
    )
    return f_avg(train.labels, predicted)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the semeval2016-stance folder")
    parser.add_argument("--cv", action="store_true", help="also print the 5-fold CV F_avg on train+val")
    args = parser.parse_args(argv)
    data: Path = args.data
    if not (data / "mapping.txt").exists() and not any(data.glob("*/test_text.txt")):
        print(f"SemEval-2016 stance data not found at {data}: nothing to benchmark")
        return 0
    started = time.perf_counter()
    results = score(data)
    for name, (pooled, _) in results.items():
        print(f"F_avg {name} {pooled:.2f}")
    folders = sorted({f for _, targets in results.values() for f in targets})
    print()
    print(f"{'target':<10}" + "".join(f"{name:>13}" for name in results))
    for folder in folders:
        print(f"{folder:<10}" + "".join(f"{targets[folder]:>13.2f}" for _, targets in results.values()))
    if args.cv:
        print(f"\ncv5 trained (train+val) {cross_validated(data):.2f}")
    print(f"\n({time.perf_counter() - started:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
