"""`dissentry labels sample | import` and `dissentry evaluate` on a real warehouse, through the CLI.

The warehouse is built once per module from a Mastodon import (normalise + transform), then each
test works on its own copy: two groups, references in two months, one member to forget.
"""

from __future__ import annotations

import csv
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from dissentry import pipeline
from dissentry.cli import app
from dissentry.config import load_config
from dissentry.labels import CSV_COLUMNS, latest_labels
from dissentry.warehouse.lake import Lake
from tests.hostile.corpus import mastodon_status
from tests.support.project import ALICE, SAVED, config_toml, group
from tests.support.s3_server import Bucket

runner = CliRunner()

CONFIG = config_toml(
    group("org_a", "Org A", aliases=["Org A"], leaders=["Jane Leader"], accounts=["mastodon:@orga@social.example"],
          members=[ALICE, "mastodon:@carol@social.example", "mastodon:@dave@social.example"]),
    group("org_b", "Org B", aliases=["Org B"], members=["mastodon:@bob@social.example"]),
    SAVED,
)

# (status numbers, account, text, month): which posts reference which group, and when
POSTS = [
    (range(1, 13), "alice", "Org A did well today, post", "2026-02"),
    (range(13, 21), "carol", "Jane Leader spoke for Org A again,", "2026-03"),
    (range(21, 31), "bob", "Org B has a new plan, number", "2026-02"),
    (range(31, 37), "dave", "I am not sure Org A is right about this, take", "2026-02"),
    (range(37, 41), "alice", "lunch was nice, nothing else", "2026-02"),  # no reference
]
FRAME = {"org_a": 26, "org_b": 10}  # references per group: 12 + 8 + 6 and 10
DAVE = "mastodon:@dave@social.example"


def post_id(n: int) -> str:
    return f"mastodon:social.example:{110_000_000_000_000_000 + n}"


DAVE_POSTS = {post_id(n) for n in range(31, 37)}
BOB_POSTS = {post_id(n) for n in range(21, 31)}


def _statuses() -> list[dict]:
    statuses = []
    for numbers, account, text, month in POSTS:
        for n in numbers:
            day = 1 + n % 27
            statuses.append(mastodon_status(n, text, account=account,
                                            created_at=f"{month}-{day:02d}T10:00:00.000Z"))
    return statuses


def build_warehouse(root: Path, warehouse_dir: str = 'warehouse_dir = "wh"') -> Path:
    """Import the statuses, normalise and transform: a warehouse with org_references."""
    (root / "in").mkdir()
    (root / "in" / "statuses.jsonl").write_text("\n".join(json.dumps(s) for s in _statuses()) + "\n",
                                                encoding="utf-8")
    (root / "dissentry.toml").write_text(CONFIG.replace('warehouse_dir = "wh"', warehouse_dir), encoding="utf-8")
    pipeline.run(load_config(root / "dissentry.toml"))
    return root


def copy_project(built: Path, tmp_path: Path) -> Path:
    """A private copy of the built warehouse (tests write draws and labels into it)."""
    copy = tmp_path / "project"
    shutil.copytree(built, copy, ignore=shutil.ignore_patterns(".locks"))
    return copy


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("labels-warehouse"))


@pytest.fixture()
def project(built: Path, tmp_path: Path) -> Path:
    return copy_project(built, tmp_path)


def cli(project: Path, *args: str) -> Result:
    return runner.invoke(app, ["--config", str(project / "dissentry.toml"), *args])


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_csv(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = CSV_COLUMNS,
              encoding: str = "utf-8") -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def layer(project: Path, name: str) -> list[dict]:
    return [row for f in sorted((project / "wh" / name).rglob("*.parquet")) for row in pq.read_table(f).to_pylist()]


def label_quarantine(project: Path) -> list[dict]:
    return [r for r in layer(project, "quarantine") if r["platform"] == "labels"]


def lake_of(project: Path) -> Lake:
    return Lake(project / "wh")


def draw(project: Path, out: Path, *args: str) -> Result:
    result = cli(project, "labels", "sample", "--out", str(out), *args)
    assert result.exit_code == 0, result.output
    return result


def labelled(rows: list[dict[str, str]], label_of: dict[str, str] | None = None) -> list[dict[str, str]]:
    """The rows with a label each: from label_of, else by the post's group (a deterministic rule)."""
    out = []
    for row in rows:
        default = "critical" if row["group_id"] == "org_a" else "supportive"
        out.append({**row, "label": (label_of or {}).get(row["post_id"], default)})
    return out


# ---- sample ----------------------------------------------------------------------------------------
def test_sample_writes_the_csv_columns_and_sizes_and_records_the_draw(project: Path) -> None:
    out = project / "draw.csv"
    result = draw(project, out, "--per-group", "5", "--seed", "11")

    rows = read_csv(out)
    with open(out, encoding="utf-8", newline="") as fh:
        assert next(csv.reader(fh)) == list(CSV_COLUMNS)
    assert {g: sum(r["group_id"] == g for r in rows) for g in FRAME} == {"org_a": 5, "org_b": 5}
    assert len({r["post_id"] for r in rows}) == 10
    assert all(r["label"] == "" and r["note"] == "" for r in rows)
    by_number = {post_id(n): (account, text, month) for numbers, account, text, month in POSTS for n in numbers}
    for r in rows:
        account, text, month = by_number[r["post_id"]]
        n = int(r["post_id"].rsplit(":", 1)[1]) - 110_000_000_000_000_000
        assert r["text"] == f"{text} {n}"
        assert r["url"] == f"https://social.example/@{account}/{n}"
        assert r["period"] == month
        assert r["reference_kind"] in ("alias", "leader")
        expected_target = "Jane Leader; Org A" if account == "carol" else ("Org B" if account == "bob" else "Org A")
        assert r["target"] == expected_target, r
    assert "org_a: drew 5 of 26" in result.output and "org_b: drew 5 of 10" in result.output

    draws = layer(project, "label_draws")
    assert len(draws) == 10
    assert {d["post_id"] for d in draws} == {r["post_id"] for r in rows}
    assert {(d["group_id"], d["frame_size"], d["sample_size"], d["scope"], d["seed"]) for d in draws} == {
        ("org_a", 26, 5, "all", 11), ("org_b", 10, 5, "all", 11)}
    assert sorted(d["position"] for d in draws if d["group_id"] == "org_b") == [0, 1, 2, 3, 4]
    assert len({d["draw_id"] for d in draws}) == 1


def test_the_same_seed_gives_the_same_sample_and_a_new_draw_never_repeats(project: Path) -> None:
    first = project / "first.csv"
    draw(project, first, "--per-group", "4", "--seed", "3")
    shutil.rmtree(project / "wh" / "label_draws")  # the same lake state again
    again = project / "again.csv"
    draw(project, again, "--per-group", "4", "--seed", "3")
    assert read_csv(first) == read_csv(again)

    other = project / "other.csv"
    draw(project, other, "--per-group", "4", "--seed", "4")
    drawn = {r["post_id"] for r in read_csv(again)}
    assert not drawn & {r["post_id"] for r in read_csv(other)}

    # a draw larger than what is left takes it all and says so; frames shrink by what was drawn
    rest = project / "rest.csv"
    result = draw(project, rest, "--per-group", "50", "--seed", "5")
    assert "warning" in result.output and "org_b has only 2 references left" in result.output
    all_drawn = [r["post_id"] for f in (again, other, rest) for r in read_csv(f)]
    assert len(all_drawn) == len(set(all_drawn)) == sum(FRAME.values())
    frames = {(d["draw_id"], d["group_id"]): d["frame_size"] for d in layer(project, "label_draws")}
    # the draw deleted above is no longer on record: three draws, each frame what the earlier left
    assert sorted(frames.values()) == [2, 6, 10, 18, 22, 26]

    nothing = cli(project, "labels", "sample", "--per-group", "1", "--seed", "6", "--out", str(project / "none.csv"))
    assert nothing.exit_code == 1 and "nothing was drawn" in nothing.output
    assert not (project / "none.csv").exists()


def test_each_stratum_is_a_simple_random_sample_of_its_frame() -> None:
    """Over many seeds every reference is drawn with probability k/N, every pair with probability
    k(k-1)/(N(N-1)) (what a simple random sample without replacement gives), and a post named by
    two groups is drawn for at most one of them."""
    from itertools import combinations

    from dissentry.labels import draw_sample

    rows = [{"post_id": f"p{i:02d}", "group_id": "a", "period": "2026-02"} for i in range(10)]
    rows += [{"post_id": f"q{i:02d}", "group_id": "b", "period": "2026-02"} for i in range(5)]
    rows += [{"post_id": "p00", "group_id": "b", "period": "2026-02"}]  # p00 references both groups
    seeds, k = 4000, 3
    singles: dict[str, int] = {}
    pairs: dict[tuple[str, str], int] = {}
    for seed in range(seeds):
        picked, strata = draw_sample(rows, per_group=k, seed=seed, groups=["a", "b", "c"])
        assert [(s.group_id, s.sample_size) for s in strata] == [("a", 3), ("b", 3), ("c", 0)]
        ids = [r["post_id"] for r, _ in picked]
        assert len(ids) == len(set(ids)) == 6
        chosen_a = sorted(r["post_id"] for r, _ in picked if r["group_id"] == "a")
        for pid in chosen_a:
            singles[pid] = singles.get(pid, 0) + 1
        for pair in combinations(chosen_a, 2):
            pairs[pair] = pairs.get(pair, 0) + 1
        assert strata[1].frame_size == (5 if "p00" in chosen_a else 6)
    # P(one reference) = 3/10: 1200 of 4000 expected, sd 29; P(a pair) = 1/15: 267, sd 16
    assert len(singles) == 10 and all(1080 <= c <= 1320 for c in singles.values()), singles
    assert len(pairs) == 45 and all(200 <= c <= 334 for c in pairs.values()), pairs
    # the same seed, the same draw; and nothing drawn before is drawn again
    assert draw_sample(rows, per_group=k, seed=7) == draw_sample(rows, per_group=k, seed=7)
    again, _ = draw_sample(rows, per_group=20, seed=1, drawn_before={"p01", "q02"})
    assert {r["post_id"] for r, _ in again} == {r["post_id"] for r in rows} - {"p01", "q02"}


def test_period_restricts_the_frame_and_is_recorded_as_the_scope(project: Path) -> None:
    out = project / "march.csv"
    result = draw(project, out, "--per-group", "5", "--period", "2026-03", "--seed", "1")
    rows = read_csv(out)
    assert {r["period"] for r in rows} == {"2026-03"}
    assert {r["group_id"] for r in rows} == {"org_a"} and len(rows) == 5
    assert "org_b has only 0 references left" in result.output
    assert {(d["group_id"], d["scope"], d["frame_size"]) for d in layer(project, "label_draws")} == {
        ("org_a", "2026-03", 8)}

    missing = cli(project, "labels", "sample", "--per-group", "5", "--period", "1999-01", "--out",
                  str(project / "x.csv"))
    assert missing.exit_code == 2 and "no references in period '1999-01'" in missing.output
    assert "2026-02, 2026-03" in missing.output


def test_label_studio_tasks_and_labelling_config(project: Path) -> None:
    result = draw(project, project / "tasks.csv", "--per-group", "3", "--format", "labelstudio", "--seed", "2")
    tasks = json.loads((project / "tasks.json").read_text(encoding="utf-8"))
    assert len(tasks) == 6 and not (project / "tasks.csv").exists()
    assert all(set(t) == {"data"} and set(t["data"]) == {"post_id", "group_id", "period", "target", "text", "url"}
               for t in tasks)
    assert {t["data"]["post_id"] for t in tasks} == {d["post_id"] for d in layer(project, "label_draws")}
    view = ET.fromstring((project / "tasks.label_config.xml").read_text(encoding="utf-8"))
    assert view.tag == "View"
    text = view.find("Text")
    assert text is not None and text.attrib == {"name": "text", "value": "$text"}
    choices = view.find("Choices")
    assert choices is not None
    assert {k: choices.attrib[k] for k in ("name", "toName", "choice", "required")} == {
        "name": "stance", "toName": "text", "choice": "single", "required": "true"}
    assert [c.attrib["value"] for c in choices.findall("Choice")] == ["critical", "supportive", "neutral"]
    note = view.find("TextArea")
    assert note is not None and note.attrib["name"] == "note"
    assert "tasks.label_config.xml" in result.output


def test_sample_and_import_before_any_transform_say_run_first(tmp_path: Path) -> None:
    (tmp_path / "dissentry.toml").write_text(CONFIG, encoding="utf-8")
    result = cli(tmp_path, "labels", "sample", "--per-group", "5", "--out", str(tmp_path / "s.csv"))
    assert result.exit_code == 2
    assert "run `dissentry run`" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    labels = write_csv(tmp_path / "l.csv", [{"post_id": post_id(1), "label": "critical"}])
    result = cli(tmp_path, "labels", "import", str(labels))
    assert result.exit_code == 2 and "run `dissentry run`" in result.output


# ---- import ----------------------------------------------------------------------------------------
def test_import_round_trip_and_a_corrected_reimport_supersedes(project: Path) -> None:
    out = project / "coder1.csv"
    draw(project, out, "--per-group", "4", "--seed", "9")
    rows = labelled(read_csv(out))
    rows[0]["label"] = "  Neutral "  # case and spaces are forgiven
    rows[1]["label"] = ""  # not labelled yet: skipped and counted, not an error
    write_csv(out, rows)

    result = cli(project, "labels", "import", str(out))
    assert result.exit_code == 0, result.output
    assert "annotator: 'coder1'" in result.output  # the file's stem, and the user is told
    assert "7 labels landed" in result.output and "1 not labelled yet" in result.output
    stored = layer(project, "labels")
    assert len(stored) == 7 and {s["annotator"] for s in stored} == {"coder1"}
    assert {s["post_id"]: s["label"] for s in stored}[rows[0]["post_id"]] == "neutral"
    assert {s["locator"] for s in stored} >= {"coder1.csv:2", "coder1.csv:9"}
    (record,) = layer(project, "label_imports")
    assert {k: record[k] for k in ("file", "annotator", "format", "rows_read", "labels_landed", "rows_rejected",
                                   "rows_dropped_erased")} == {
        "file": "coder1.csv", "annotator": "coder1", "format": "csv", "rows_read": 8, "labels_landed": 7,
        "rows_rejected": 0, "rows_dropped_erased": 0}

    # a corrected file, imported later, supersedes; other columns are ignored, order does not matter
    corrected = [{"Label": "supportive", "POST_ID": rows[2]["post_id"], "whatever": "x"},
                 {"Label": "critical", "POST_ID": rows[1]["post_id"], "whatever": "y"}]
    fixed = write_csv(project / "fixed.csv", corrected, columns=("Label", "whatever", "POST_ID"))
    result = cli(project, "labels", "import", str(fixed), "--annotator", "coder1")
    assert result.exit_code == 0, result.output
    latest = latest_labels(lake_of(project))
    assert latest[rows[2]["post_id"]] == {"coder1": "supportive"}
    assert latest[rows[1]["post_id"]] == {"coder1": "critical"}
    assert latest[rows[0]["post_id"]] == {"coder1": "neutral"}
    assert len(layer(project, "labels")) == 9  # append-only: the superseded label is still on record
    assert len(layer(project, "label_imports")) == 2


def _label_studio_export(tasks: list[dict], labels: dict[str, list[tuple[object, str, bool]]]) -> list[dict]:
    """What Label Studio exports (JSON): each task with its annotations."""
    export = []
    for i, task in enumerate(tasks):
        annotations = []
        for j, (who, label, cancelled) in enumerate(labels.get(task["data"]["post_id"], [])):
            annotations.append({
                "id": 100 * i + j, "completed_by": who, "was_cancelled": cancelled, "ground_truth": False,
                "created_at": "2026-03-01T10:00:00.000000Z", "updated_at": f"2026-03-0{1 + j}T11:00:00.123456Z",
                "lead_time": 12.5, "result": [] if cancelled else [
                    {"id": "r1", "from_name": "stance", "to_name": "text", "type": "choices",
                     "value": {"choices": [label]}},
                    {"id": "r2", "from_name": "note", "to_name": "text", "type": "textarea",
                     "value": {"text": ["a note"]}}]})
        export.append({"id": i + 1, "data": task["data"], "annotations": annotations, "predictions": [],
                       "project": 1, "created_at": "2026-03-01T09:00:00Z"})
    return export


def test_label_studio_export_with_two_annotators(project: Path) -> None:
    draw(project, project / "ls.csv", "--per-group", "3", "--format", "labelstudio", "--seed", "8")
    tasks = json.loads((project / "ls.json").read_text(encoding="utf-8"))
    ids = [t["data"]["post_id"] for t in tasks]
    ann = {"id": 7, "email": "ann@uni.example", "first_name": "Ann"}
    labels: dict[str, list[tuple[object, str, bool]]] = {}
    for k, pid in enumerate(ids):
        mine = "critical" if k % 2 else "neutral"
        theirs = mine if k < 4 else "supportive"
        labels[pid] = [(3, mine, False), (ann, theirs, False)]
    labels[ids[0]].append((5, "critical", True))  # a cancelled annotation is skipped
    export = project / "project-1-at-2026-03-02.json"
    export.write_text(json.dumps(_label_studio_export(tasks, labels)), encoding="utf-8")

    result = cli(project, "labels", "import", str(export))
    assert result.exit_code == 0, result.output
    assert "12 labels landed" in result.output and "1 cancelled" in result.output
    stored = layer(project, "labels")
    assert {s["annotator"] for s in stored} == {"labelstudio:3", "labelstudio:ann@uni.example"}
    assert {s["labelled_at"].isoformat() for s in stored} == {"2026-03-01T11:00:00.123456+00:00",
                                                              "2026-03-02T11:00:00.123456+00:00"}
    assert all(s["locator"].startswith("project-1-at-2026-03-02.json[") for s in stored)
    (record,) = layer(project, "label_imports")
    assert record["format"] == "labelstudio" and record["annotator"] is None and record["rows_read"] == 13

    # two annotators labelled the same posts: their agreement is printed (transforms.evaluation)
    try:
        import dissentry.transforms.evaluation  # noqa: F401
    except ImportError:
        pytest.skip("dissentry.transforms.evaluation is not there yet: agreement printing untested")
    assert "Agreement between annotators" in result.output
    assert "labelstudio:3" in result.output and "labelstudio:ann@uni.example" in result.output
    # 4 of 6 posts agree
    assert "0.667" in result.output


# ---- evaluate ----------------------------------------------------------------------------------------
def test_evaluate_without_labels_says_the_classifier_is_unvalidated(project: Path) -> None:
    result = cli(project, "evaluate")
    assert result.exit_code == 0, result.output
    assert "unvalidated" in result.output and "dissentry labels sample" in result.output


def test_evaluate_prints_the_evaluation_once_labels_exist(project: Path) -> None:
    out = project / "coder.csv"
    draw(project, out, "--per-group", "10", "--seed", "1")
    rows = labelled(read_csv(out))
    write_csv(out, rows)
    assert cli(project, "labels", "import", str(out)).exit_code == 0
    result = cli(project, "evaluate")
    assert result.exit_code == 0, result.output
    assert "20 labels of 20 posts" in result.output
    assert "unvalidated" not in result.output
    if "stance_evaluation has not been built" not in result.output:
        assert "macro-F1" in result.output and "Confusion matrix" in result.output


# ---- a lake on object storage ------------------------------------------------------------------------
@pytest.mark.slow
def test_sample_import_and_forget_on_an_object_store_lake(s3_bucket: Bucket, tmp_path: Path) -> None:
    """The lake in a bucket (moto on loopback): draws, labels and imports land there, and only there."""
    root = tmp_path / "remote"
    root.mkdir()
    build_warehouse(root, warehouse_dir=f'warehouse_dir = "{s3_bucket.url("lake")}"\nlocal_dir = "serving"')
    out = root / "s3.csv"
    draw(root, out, "--per-group", "30", "--seed", "2")
    rows = labelled(read_csv(out))
    write_csv(out, rows)
    result = cli(root, "labels", "import", str(out), "--annotator", "ann")
    assert result.exit_code == 0, result.output
    assert f"{len(rows)} labels landed" in result.output

    layers = {k.split("/")[1] for k in s3_bucket.object_keys("lake")}
    assert {"labels", "label_draws", "label_imports"} <= layers
    assert not [p for p in (root / "serving").rglob("*.parquet")]
    lake = Lake(s3_bucket.url("lake"), local_dir=root / "serving")
    latest = latest_labels(lake)
    assert len(latest) == len(rows) and all(by == {"ann": "critical" if pid not in BOB_POSTS else "supportive"}
                                            for pid, by in latest.items())

    result = cli(root, "forget", DAVE, "--yes")
    assert result.exit_code == 0, result.output
    assert not set(latest_labels(lake)) & DAVE_POSTS
    assert len(lake.erased_post_keys()) == len(DAVE_POSTS)
    result = cli(root, "evaluate")
    assert result.exit_code == 0, result.output
    assert f"{len(rows) - len(DAVE_POSTS)} labels of" in result.output
