"""`dissentry labels import` against hostile files: wrong encodings, a missing label column, bad
rows beside good ones, and labels of posts whose account was erased with `dissentry forget`."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.integration.test_labels import (  # the same small warehouse and its helpers
    DAVE,
    DAVE_POSTS,
    build_warehouse,
    cli,
    copy_project,
    draw,
    label_quarantine,
    labelled,
    layer,
    post_id,
    read_csv,
    write_csv,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("labels-hostile-warehouse"))


@pytest.fixture()
def project(built: Path, tmp_path: Path) -> Path:
    return copy_project(built, tmp_path)

HEADER = "post_id,group_id,label,note\n"


def nothing_landed(project: Path) -> bool:
    return not layer(project, "labels") and not layer(project, "label_imports") and not label_quarantine(project)


def one_line_error(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


# ---- encodings ---------------------------------------------------------------------------------------
def test_latin1_file_is_refused_naming_the_file_and_the_byte(project: Path) -> None:
    body = HEADER + f"{post_id(1)},org_a,critical,très critique\n"
    path = project / "latin1.csv"
    path.write_bytes(body.encode("latin-1"))
    result = cli(project, "labels", "import", str(path))
    assert result.exit_code == 2
    line = one_line_error(result.output)
    offset = body.encode("latin-1").index("è".encode("latin-1"))
    assert "latin1.csv" in line and f"byte offset {offset}" in line and "UTF-8" in line
    assert nothing_landed(project)


def test_utf16_without_bom_is_refused_naming_the_file_and_the_byte(project: Path) -> None:
    path = project / "utf16le.csv"
    path.write_bytes((HEADER + f"{post_id(1)},org_a,critical,\n").encode("utf-16-le"))
    result = cli(project, "labels", "import", str(path))
    assert result.exit_code == 2
    line = one_line_error(result.output)
    assert "utf16le.csv" in line and "byte offset 1" in line and "UTF-16 without a byte-order mark" in line
    assert nothing_landed(project)


def test_utf16_with_bom_and_utf8_with_bom_are_accepted(project: Path) -> None:
    text = HEADER + f"{post_id(1)},org_a,Critical,très bien\n{post_id(21)},org_b,supportive,\n"
    for name, data in [("le.csv", codecs.BOM_UTF16_LE + text.encode("utf-16-le")),
                       ("be.csv", codecs.BOM_UTF16_BE + text.encode("utf-16-be")),
                       ("bom8.csv", codecs.BOM_UTF8 + text.replace("\n", "\r\n").encode("utf-8"))]:
        path = project / name
        path.write_bytes(data)
        result = cli(project, "labels", "import", str(path))
        assert result.exit_code == 0, (name, result.output)
        assert "2 labels landed" in result.output
    stored = layer(project, "labels")
    assert {(s["annotator"], s["post_id"], s["label"]) for s in stored} == {
        (who, pid, label) for who in ("le", "be", "bom8")
        for pid, label in ((post_id(1), "critical"), (post_id(21), "supportive"))}


def test_utf32_and_a_truncated_utf8_sequence_are_refused(project: Path) -> None:
    path = project / "u32.csv"
    path.write_bytes(codecs.BOM_UTF32_LE + HEADER.encode("utf-32-le"))
    result = cli(project, "labels", "import", str(path))
    assert result.exit_code == 2 and "UTF-32" in one_line_error(result.output)
    cut = project / "cut.csv"
    data = (HEADER + f"{post_id(1)},org_a,critical,é").encode("utf-8")[:-1]
    cut.write_bytes(data)
    result = cli(project, "labels", "import", str(cut))
    assert result.exit_code == 2 and f"byte offset {len(data) - 1}" in one_line_error(result.output)
    assert nothing_landed(project)


# ---- the file's shape --------------------------------------------------------------------------------
def test_a_missing_label_column_lands_nothing(project: Path) -> None:
    path = project / "nolabel.csv"
    path.write_text(f"post_id,group_id,stance\n{post_id(1)},org_a,critical\n", encoding="utf-8")
    result = cli(project, "labels", "import", str(path))
    assert result.exit_code == 2
    line = one_line_error(result.output)
    assert "nolabel.csv" in line and "'label'" in line and "nothing was imported" in line
    missing_id = project / "noid.csv"
    missing_id.write_text("id,label\n1,critical\n", encoding="utf-8")
    result = cli(project, "labels", "import", str(missing_id))
    assert result.exit_code == 2 and "'post_id'" in one_line_error(result.output)
    empty = project / "empty.csv"
    empty.write_bytes(b"")
    assert cli(project, "labels", "import", str(empty)).exit_code == 2
    assert cli(project, "labels", "import", str(project / "absent.csv")).exit_code == 2
    broken = project / "broken.json"
    broken.write_text('[{"data": {"post_id": "x"}', encoding="utf-8")
    result = cli(project, "labels", "import", str(broken))
    assert result.exit_code == 2 and "not valid JSON" in one_line_error(result.output)
    assert nothing_landed(project)


def test_a_semicolon_separated_excel_file_is_read(project: Path) -> None:
    path = project / "excel.csv"
    path.write_text(f"post_id;label;note\n{post_id(2)};neutral;ok, fine\n", encoding="utf-8")
    result = cli(project, "labels", "import", str(path))
    assert result.exit_code == 0, result.output
    assert [(s["post_id"], s["label"]) for s in layer(project, "labels")] == [(post_id(2), "neutral")]


def test_bad_rows_are_named_and_quarantined_while_good_rows_land(project: Path) -> None:
    rows = [
        f"{post_id(1)},org_a,critical,",  # line 2: good
        "mastodon:social.example:999,org_a,critical,",  # 3: unknown post id
        f"{post_id(2)},org_a,sarcastic,",  # 4: unknown label
        f"{post_id(3)},org_a,supportive,",  # 5: good
        f"{post_id(1)},org_a,neutral,",  # 6: duplicate of line 2 (same annotator)
        f"{post_id(21)},org_a,neutral,",  # 7: a reference of org_b, not of org_a
        f"{post_id(38)},,neutral,",  # 8: a post that references no group at all
        f"{post_id(4)},org_a,,",  # 9: not labelled yet: skipped, counted, no error
        f'{post_id(5)},org_a,"  NEUTRAL\t",',  # 10: good
    ]
    path = project / "mixed.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    result = cli(project, "labels", "import", str(path), "--annotator", "kim")
    assert result.exit_code == 1, result.output
    for line, reason in [(3, "unknown post id"), (4, "unknown label 'sarcastic'"), (6, "duplicate"),
                         (7, "not a reference to its group 'org_a'"), (8, "references no group")]:
        assert f"mixed.csv:{line}: " in result.output and reason in result.output, (line, reason)
    assert "mixed.csv:9" not in result.output and "1 not labelled yet" in result.output
    assert "3 labels landed" in result.output and "5 rejected" in result.output
    assert {(s["post_id"], s["label"]) for s in layer(project, "labels")} == {
        (post_id(1), "critical"), (post_id(3), "supportive"), (post_id(5), "neutral")}
    quarantined = label_quarantine(project)
    assert sorted(q["locator"] for q in quarantined) == [f"mixed.csv:{n}" for n in (3, 4, 6, 7, 8)]
    assert all(q["source"] == "mixed.csv" and q["reason"] for q in quarantined)
    sarcastic = next(q for q in quarantined if q["locator"] == "mixed.csv:4")
    assert sarcastic["content"] == f"{post_id(2)},org_a,sarcastic,"
    (record,) = layer(project, "label_imports")
    assert (record["rows_read"], record["labels_landed"], record["rows_rejected"]) == (9, 3, 5)


def test_label_studio_export_with_bad_annotations(project: Path) -> None:
    export = [
        {"id": 1, "data": {"post_id": post_id(1), "group_id": "org_a"}, "annotations": [
            {"completed_by": 1, "result": [{"from_name": "stance", "value": {"choices": ["critical"]}}]},
            {"completed_by": {"id": 2}, "result": [{"from_name": "stance", "value": {"choices": ["angry"]}}]},
            {"result": [{"from_name": "stance", "value": {"choices": ["neutral"]}}]},  # no completed_by
        ]},
        {"id": 2, "data": {"text": "no id"}, "annotations": []},
        {"id": 3, "data": {"post_id": post_id(2), "group_id": "org_a"}, "annotations": []},  # not labelled
    ]
    path = project / "ls.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    result = cli(project, "labels", "import", str(path))
    assert result.exit_code == 1, result.output
    assert "ls.json[0].annotations[1]: unknown label 'angry'" in result.output
    assert "ls.json[0].annotations[2]: annotation has no completed_by" in result.output
    assert "ls.json[1]: task has no data.post_id" in result.output
    assert [(s["annotator"], s["label"]) for s in layer(project, "labels")] == [("labelstudio:1", "critical")]

    renamed = project / "renamed.json"
    renamed.write_text(json.dumps([{"data": {"post_id": post_id(1)}, "annotations": [
        {"completed_by": 1, "result": [{"from_name": "sentiment", "value": {"choices": ["critical"]}}]}]}]),
        encoding="utf-8")
    result = cli(project, "labels", "import", str(renamed))
    assert result.exit_code == 2 and "'stance'" in one_line_error(result.output)


# ---- erased accounts -----------------------------------------------------------------------------------
def _lake_strings(project: Path) -> str:
    """Every value of every Parquet file in the lake, and every other lake file's bytes, as text.

    Parquet pages are compressed, so the files are decoded rather than grepped."""
    parts: list[str] = []
    for path in sorted((project / "wh").rglob("*")):
        if not path.is_file() or path.name.startswith(".") or ".locks" in path.parts:
            continue
        if path.suffix == ".parquet":
            parts.append(json.dumps(pq.read_table(path).to_pylist(), default=str))
        elif path.suffix in (".json", ".jsonl", ".txt"):
            parts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(parts)


def test_forget_purges_labels_and_draws_and_later_labels_are_dropped(project: Path) -> None:
    out = project / "coder.csv"
    draw(project, out, "--per-group", "30", "--seed", "1")  # every reference, dave's six among them
    rows = labelled(read_csv(out))
    assert {r["post_id"] for r in rows} >= DAVE_POSTS
    typo = next(r for r in rows if r["post_id"] in DAVE_POSTS)
    typo["label"] = "critcal"  # a rejected label row of dave's: quarantine holds his post's id and text
    write_csv(out, rows)
    result = cli(project, "labels", "import", str(out))
    assert result.exit_code == 1, result.output
    lake_text = _lake_strings(project)
    assert all(pid in lake_text for pid in DAVE_POSTS)

    result = cli(project, "forget", DAVE, "--yes")
    assert result.exit_code == 0, result.output

    lake_text = _lake_strings(project)
    for pid in DAVE_POSTS:
        assert pid not in lake_text, pid
    assert not {r["post_id"] for r in layer(project, "labels")} & DAVE_POSTS
    assert not {r["post_id"] for r in layer(project, "label_draws")} & DAVE_POSTS
    assert len(layer(project, "labels")) == 30  # 35 landed, then dave's 5 purged (his sixth was rejected)
    register = json.loads((project / "wh" / "state" / "erased_posts.json").read_text(encoding="utf-8"))
    assert len(register) == 6 and all(len(k) == 64 for k in register)

    # the same file again: dave's labels are dropped before anything is written, and only counted
    rows[rows.index(typo)]["label"] = "critical"
    write_csv(out, rows)
    result = cli(project, "labels", "import", str(out))
    assert result.exit_code == 0, result.output
    assert "6 dropped (posts of erased accounts)" in result.output
    for pid in DAVE_POSTS:
        assert pid not in result.output
        assert pid not in _lake_strings(project)
    last = max(layer(project, "label_imports"), key=lambda r: r["imported_at"])
    assert (last["rows_read"], last["labels_landed"], last["rows_rejected"], last["rows_dropped_erased"]) == (
        36, 30, 0, 6)
    assert not label_quarantine(project)


def test_forget_finds_labelled_posts_by_their_pseudonyms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With pseudonymisation the labels hold pseudonymous post ids: forget must still reach them."""
    monkeypatch.setenv("DISSENTRY_PSEUDONYM_KEY", "a-test-key-of-sufficient-length")
    root = tmp_path / "pseudo"
    root.mkdir()
    build_warehouse(root, warehouse_dir='warehouse_dir = "wh"\n\n[settings]\npseudonymise = true\n')
    out = root / "p.csv"
    draw(root, out, "--per-group", "30", "--seed", "1")
    rows = labelled(read_csv(out))
    assert len(rows) == 36 and not {r["post_id"] for r in rows} & DAVE_POSTS  # pseudonyms, not the real ids
    write_csv(out, rows)
    assert cli(root, "labels", "import", str(out)).exit_code == 0
    before = {r["post_id"] for r in layer(root, "labels")}

    result = cli(root, "forget", DAVE, "--yes")
    assert result.exit_code == 0, result.output
    after = {r["post_id"] for r in layer(root, "labels")}
    assert len(before - after) == 6 and after < before
    assert len({r["post_id"] for r in layer(root, "label_draws")}) == 30
    result = cli(root, "labels", "import", str(out))
    assert result.exit_code == 0 and "6 dropped (posts of erased accounts)" in result.output
