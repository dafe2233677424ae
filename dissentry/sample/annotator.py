"""A simulated annotator: labels a CSV drawn by `dissentry labels sample` from the sample's planted truth.

Every row gets the stance the generator planted for its post (`truth_stance.jsonl`), as if a
researcher had read and labelled it, so the measurement's whole loop runs on the sample.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from dissentry.sample.writers import TRUTH_STANCE_FILE


class TruthLabelError(ValueError):
    """A CSV row that the planted truth cannot label (its post is not in this sample)."""


def read_stance_truth(sample_dir: Path) -> dict[str, str]:
    """post_id -> planted stance ('critical' | 'supportive' | 'neutral'), from `truth_stance.jsonl`."""
    path = Path(sample_dir) / TRUTH_STANCE_FILE
    if not path.exists():
        raise TruthLabelError(f"{path} does not exist: write the sample first (dissentry sample --out {sample_dir})")
    truth: dict[str, str] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            truth[row["post_id"]] = row["stance"]
    return truth


def labelled_path(csv_in: Path) -> Path:
    """Where `dissentry sample --label-from-truth FILE.csv` writes: FILE.labelled.csv beside it."""
    csv_in = Path(csv_in)
    return csv_in.with_name(csv_in.stem + ".labelled" + (csv_in.suffix or ".csv"))


def label_from_truth(csv_in: Path, sample_dir: Path, csv_out: Path) -> int:
    """Fill the `label` column of a CSV drawn by `dissentry labels sample` from the planted truth.

    A simulated annotator: every row gets the stance the generator planted for its post, as if a
    researcher had read and labelled it; the other columns are copied unchanged. A row whose
    `post_id` is not in the sample (or is empty) is refused with its file and line, and nothing is
    written, so a half-labelled file never stands in for a labelled draw. Returns the rows labelled.
    """
    csv_in, csv_out = Path(csv_in), Path(csv_out)
    truth = read_stance_truth(sample_dir)
    raw = csv_in.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")  # kept: a spreadsheet-friendly CSV stays one
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TruthLabelError(f"{csv_in}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return _fill_from_truth(reader, truth, csv_in, Path(sample_dir), csv_out, bom)
    except csv.Error as exc:
        raise TruthLabelError(f"{csv_in}:{reader.line_num}: not a readable CSV ({exc})") from None


def _fill_from_truth(reader: csv.DictReader[str], truth: dict[str, str], csv_in: Path, sample_dir: Path,
                     csv_out: Path, bom: bool) -> int:
    fields = list(reader.fieldnames or [])
    if "post_id" not in fields:
        raise TruthLabelError(f"{csv_in}: no post_id column (columns: {', '.join(fields) or 'none'})")
    if "label" not in fields:
        fields.append("label")
    rows: list[dict[str, Any]] = []
    unknown: list[str] = []
    start = 2  # the line a row starts on (the header is line 1; a quoted text may span lines)
    for row in reader:
        post_id = (row.get("post_id") or "").strip()
        if post_id not in truth:
            unknown.append(f"{csv_in.name}:{start}: post {post_id!r}")
        row["label"] = truth.get(post_id, "")
        rows.append(row)
        start = reader.line_num + 1
    if unknown:
        more = f" (and {len(unknown) - 3} more)" if len(unknown) > 3 else ""
        raise TruthLabelError(
            f"{len(unknown)} row(s) name a post that is not in the sample in {sample_dir}: "
            f"{'; '.join(unknown[:3])}{more}. Was the CSV drawn from a warehouse built from another sample?")
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    csv_out.parent.mkdir(parents=True, exist_ok=True)
    csv_out.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8"))
    return len(rows)
