"""The command line's progress bars: rich, drawn from the pipeline's `ProgressEvent`s.

Only the CLI imports this. The pipeline steps print nothing; they tell an `on_progress` callback
what they do (dissentry/ingest.py), and `bars()` is the callback that draws it on a terminal:

    with bars(sys.stderr.isatty()) as on_progress:
        pipeline.import_export(config, "mastodon", files, on_progress=on_progress)

Without a terminal `bars` gives None, and the pipeline writes its log lines instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from dissentry.ingest import OnProgress, ProgressEvent

_INGESTION = ("collect", "import")


class _RecordsColumn(ProgressColumn):
    """Records landed so far, for the tasks that count them (an import, a collection)."""

    def render(self, task: Task) -> Text:
        records = task.fields.get("records")
        return Text("" if records is None else f"{records:>9,} records", style="progress.download")


@contextmanager
def bars(enabled: bool, console: Console | None = None) -> Iterator[OnProgress | None]:
    """A callback drawing events as bars on `console` (stderr by default) while inside; None when
    not `enabled` (no terminal, `--no-progress`)."""
    if not enabled:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        # an import's total is the files' bytes, so the percentage and the ETA are of bytes read
        TaskProgressColumn(),
        _RecordsColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        transient=False,
    ) as progress:
        yield _Bars(progress)


class _Bars:
    """One bar per collection or import (by its name), one per build stage (normalise, transform)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, event: ProgressEvent) -> None:
        if event.step in _INGESTION:
            self._ingestion(event)
        else:
            self._build(event)

    def _task(self, key: str, description: str, **fields: object) -> TaskID:
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(description, total=None, **fields)
        return self.tasks[key]

    def _ingestion(self, event: ProgressEvent) -> None:
        task = self._task(event.name, event.name, records=0)
        records = event.records or 0
        if event.kind == "page":
            if event.read:
                self.progress.update(task, completed=event.read[0], total=event.read[1], records=records)
            else:
                self.progress.update(task, records=records)
        elif event.kind == "finished":
            total = event.read[1] if event.read else max(records, 1)
            self.progress.update(task, total=total, completed=total, records=records)

    def _build(self, event: ProgressEvent) -> None:
        task = self._task(event.step, event.step)
        where = f"{event.platform} " if event.platform else ""
        if event.kind == "running":
            share = "" if event.statement_done is None else f", {event.statement_done:.0%} of its statement"
            self.progress.update(task, description=f"{event.step}: {where}{event.name}: still running{share}")
        elif event.records is None:
            self.progress.update(task, description=f"{event.step}: {where}{event.name}")
        else:
            self.progress.update(task, advance=1,
                                 description=f"{event.step}: {where}{event.name} ({event.records:,} rows)")
