"""The stance classifier's judgements, kept across builds so a build classifies only what is new.

A built-in classifier's judgement of a reference (its label, and VADER's compound score and cue)
is a pure function of the post's text, the target's names, and the classifier: its class, its
settings, its code, the libraries it scores with and, when it learns, the fitted model. So each
build writes what it judged to `state/stance_judgements.parquet` in the lake, keyed by
sha256(text) and sha256 of the target's names, and the next build classifies only the references
whose key is not there. The file records the classifier's fingerprint (`fingerprint`, covering
all of the above) in its Parquet metadata; a file with any other fingerprint is ignored, so a
change of classifier, settings, code, library or fitted model reclassifies everything.

It holds no text: a key is a hash of a post's text, never the text, and the labels and cues are
the classifier's own words. Each build rewrites it with the keys of that build's references only,
so it never keeps a key for longer than a post exists: `dissentry forget` ends with a transform,
which drops the erased posts' keys (and the keys of other people's texts as they were before the
erased account's name was redacted from them). It lives in the lake, not in dissentry.duckdb, so
it survives a rebuilt serving file, and is written whole or not at all (`Lake.staged`): a killed
build leaves the previous file, whose every entry is still true.

A user's own classifier (`package.module:ClassName`) is never cached: nothing says what its
labels depend on.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from dissentry.config import Config
from dissentry.transforms import stance
from dissentry.warehouse.lake import Lake
from dissentry.warehouse.sql import quote_literal

CACHE_PARTS = ("state", "stance_judgements.parquet")
FINGERPRINT_KEY = b"dissentry.stance_fingerprint"

log = logging.getLogger("dissentry.transforms.reference_stance")

SCHEMA = pa.schema(
    [
        ("text_key", pa.string()),  # sha256 of the post's text (hex), as DuckDB's sha256() gives it
        ("targets_key", pa.string()),  # `targets_key` of the target's names
        ("stance", pa.string()),
        ("compound", pa.float64()),
        ("cue", pa.string()),
    ]
)

def is_cacheable(classifier: object) -> bool:
    """True for the built-in classifiers (exactly their classes: a subclass may label otherwise)."""
    return type(classifier) in stance.BUILTIN.values()


def targets_key(targets: list[str]) -> str:
    """One key per list of names, in their order (the classifier's patterns follow the order)."""
    return hashlib.sha256(json.dumps(targets, ensure_ascii=False).encode("utf-8")).hexdigest()


@functools.cache
def _code_digest() -> str:
    """The classifiers' code and the term matcher they use: an edit to either may change a label."""
    import dissentry.terms

    digest = hashlib.sha256()
    for path in (Path(stance.__file__), Path(dissentry.terms.__file__)):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def fingerprint(classifier: stance.StanceClassifier) -> str:
    """Everything besides the text and the target that decides a built-in classifier's judgement."""
    settings = getattr(classifier, "settings", None)
    to_bytes = getattr(classifier, "to_bytes", None)
    parts = {
        "class": f"{type(classifier).__module__}.{type(classifier).__qualname__}",
        "name": classifier.name,
        "version": classifier.version,
        "settings": settings.model_dump(mode="json") if settings is not None else None,
        "code": _code_digest(),
        "python": list(sys.version_info[:2]),  # `re` and `str.lower` are the interpreter's
        "vader": importlib.metadata.version("vaderSentiment"),
        "model": hashlib.sha256(to_bytes()).hexdigest() if callable(to_bytes) and stance.is_trainable(classifier)
        else None,
    }
    if stance.is_trainable(classifier):
        parts["sklearn"] = importlib.metadata.version("scikit-learn")
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()


class JudgementCache:
    """The judgements file of one lake (None: a configuration built in code keeps none)."""

    def __init__(self, lake: Lake | None, fingerprint: str) -> None:
        self.lake = lake
        self.fingerprint = fingerprint
        self.path = lake.path(*CACHE_PARTS) if lake is not None else None

    @classmethod
    def for_config(cls, config: Config, classifier: stance.StanceClassifier) -> JudgementCache:
        # as for the fitted model (reference_stance._store_model): a configuration built in code
        # (a notebook, a test) names no warehouse of its own, so nothing is kept for it
        lake = (Lake(config.warehouse_location, local_dir=config.local_path,
                     storage_options=config.lake_storage_options)
                if config.config_path is not None else None)
        return cls(lake, fingerprint(classifier))

    def usable(self) -> bool:
        """True when the file exists, has the expected columns and this classifier's fingerprint."""
        if self.lake is None or self.path is None or not self.lake.exists(self.path):
            return False
        try:
            with self.lake.fs.open(self.path, "rb") as fh:
                schema = pq.read_schema(fh)
        except (OSError, pa.ArrowException) as exc:  # judged afresh, and rewritten whole
            log.warning("%s: unreadable (%s): every reference is classified again", self.path, exc)
            return False
        metadata = schema.metadata or {}
        return metadata.get(FINGERPRINT_KEY) == self.fingerprint.encode() and schema.names == SCHEMA.names

    def relation(self, con: duckdb.DuckDBPyConnection) -> str:
        """SQL for the stored judgements, one row per key (a build writes a key once per reference)."""
        if not self.usable():
            return ("SELECT NULL::VARCHAR AS text_key, NULL::VARCHAR AS targets_key, NULL::VARCHAR AS stance, "
                    "NULL::DOUBLE AS compound, NULL::VARCHAR AS cue WHERE false")
        assert self.lake is not None and self.path is not None
        self.lake.attach(con)
        return (f"SELECT text_key, targets_key, any_value(stance) AS stance, any_value(compound) AS compound, "
                f"any_value(cue) AS cue FROM read_parquet({quote_literal(self.path)}) GROUP BY text_key, targets_key")

    @contextlib.contextmanager
    def writer(self) -> Iterator[pq.ParquetWriter | None]:
        """A writer for this build's judgements; the file replaces the old one when the block ends
        without error (and not at all otherwise)."""
        if self.lake is None or self.path is None:
            yield None
            return
        schema = SCHEMA.with_metadata({FINGERPRINT_KEY: self.fingerprint.encode()})
        with self.lake.staged(self.path) as tmp:
            out = pq.ParquetWriter(tmp, schema, compression="zstd")
            try:
                yield out
            finally:
                out.close()
