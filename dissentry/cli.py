"""The `dissentry` command line. Every command is a thin wrapper over dissentry.pipeline."""

from __future__ import annotations

import csv
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from dissentry import pipeline
from dissentry.config import Config, ConfigError, load_config, parse_account_ref
from dissentry.connectors.base import ImportFormatError
from dissentry.connectors.registry import UnknownPlatformError, platforms
from dissentry.progress_bars import bars
from dissentry.scaffold import ScaffoldError
from dissentry.transforms.runner import ModelError
from dissentry.warehouse.lake import DiskFull, LakeUnavailable
from dissentry.warehouse.lock import WarehouseBusy

if TYPE_CHECKING:
    from dissentry.health import Health

app = typer.Typer(
    help="Collect public posts of political communities and measure dissent and echo chambers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# a pipe or CI log is no reason to squeeze the tables into 80 columns
out = Console() if sys.stdout.isatty() else Console(width=200)
err = Console(stderr=True)

DEFAULT_CONFIG = "dissentry.toml"


class _State:
    config_path: Path = Path(DEFAULT_CONFIG)
    verbose: bool = False


state = _State()


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _traceback_if_verbose() -> None:
    """--verbose: the traceback behind a one-line error, for a bug report (call inside `except`)."""
    if state.verbose:
        err.print_exception()


@contextmanager
def user_errors() -> Iterator[None]:
    """Errors a user can act on become one clear line and exit code 2 (3: busy), not a traceback.

    File-system problems (the warehouse path is a file, permission denied, a read-only or full
    disk) name the path and the problem; --verbose adds the traceback."""
    import duckdb

    from dissentry.health import describe_os_error

    try:
        yield
    except WarehouseBusy as exc:
        _traceback_if_verbose()
        raise fail(str(exc), code=3) from None
    except (ConfigError, UnknownPlatformError, ImportFormatError, ScaffoldError, LakeUnavailable, DiskFull) as exc:
        _traceback_if_verbose()
        raise fail(str(exc)) from None
    except ModelError as exc:  # e.g. a stance classifier that cannot be loaded, or learns with no labels
        _traceback_if_verbose()
        raise fail(str(exc)) from None
    except OSError as exc:
        line = describe_os_error(exc)
        if line is None:
            raise
        _traceback_if_verbose()
        raise fail(line) from None
    except duckdb.IOException as exc:  # DuckDB's own file errors: "Cannot open file ...: Permission denied"
        first = str(exc).splitlines()[0]
        if not any(k in first for k in ("Permission denied", "Read-only file system", "Not a directory")):
            raise
        _traceback_if_verbose()
        raise fail(first.removeprefix("IO Error: ")) from None


def _config() -> Config:
    """The configuration, reading its secrets (tokens, the pseudonym key) from the environment."""
    from dissentry.secrets import ENVIRONMENT

    try:
        return load_config(state.config_path).with_secrets(ENVIRONMENT)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def _print_version(value: bool) -> None:
    if value:
        from dissentry import __version__  # the one place the version is written (pyproject reads it)

        out.print(f"dissentry {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    config: Annotated[
        Path,
        typer.Option("--config", "-c", help="Configuration file.", envvar="DISSENTRY_CONFIG", show_default=True),
    ] = Path(DEFAULT_CONFIG),
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log every request and retry; show tracebacks behind errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=_print_version),
    ] = False,
) -> None:
    state.config_path = config
    state.verbose = verbose
    # one plain line per message: a quarantined record's file:line and reason stay greppable
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # without a TTY (a scheduled run, CI), imports and collections say how far they are every 10 s
    logging.getLogger("dissentry.progress").setLevel(logging.INFO)


def _print_runs(rows: list[dict[str, Any]]) -> None:
    """The runs table; what went wrong in them is named once, in the health block."""
    from dissentry.report import runs_table

    out.print(runs_table(rows))


_LEVELS = {"error": "[bold red]✗[/bold red]", "warning": "[yellow]![/yellow]", "note": "[dim]·[/dim]"}


def _health(config: Config, stage: str, runs: list[dict[str, Any]] | None = None) -> Health:
    """Check the warehouse after `stage` and print the health block (on stdout, after the tables)."""
    from dissentry.health import check

    with user_errors():
        health = check(config, pipeline.lake_for(config), stage=stage, runs=runs)
    lines = health.lines()
    out.print("\n[bold]Health[/bold]" + (": everything asked for happened" if not lines else ""))
    for level, text in lines:
        out.print(f"  {_LEVELS[level]} {escape(text)}", highlight=False, soft_wrap=True)
    return health


def _exit_for(rows: list[dict[str, Any]]) -> None:
    """Exit code 1 when a source failed or was partial (the tables are still built)."""
    if any(r["status"] != "ok" for r in rows):
        raise typer.Exit(1)


@app.command()
def run(
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    full: Annotated[bool, typer.Option("--full", help="Rebuild from scratch instead of incrementally.")] = False,
) -> None:
    """Collect and import every source, normalise, transform, and print the headline tables."""
    from dissentry.report import print_headlines

    config = _config()
    with user_errors(), bars(progress and sys.stderr.isatty()) as on_progress:
        result = pipeline.run(config, on_progress=on_progress, full=full)
    _print_runs(result.runs)
    print_headlines(config, out)
    out.print(f"\nWarehouse: [bold]{result.warehouse}[/bold]")
    out.print('Query it: dissentry sql "SELECT * FROM dissent_frequency"', highlight=False)
    _health(config, "run", result.runs)
    _exit_for(result.runs)


@app.command()
def collect(
    source: Annotated[str | None, typer.Option("--source", "-s", help="Only this source.")] = None,
) -> None:
    """Fetch new posts from the platforms' APIs for every source (or one)."""
    config = _config()
    with user_errors(), bars(sys.stderr.isatty()) as on_progress:
        rows = pipeline.collect(config, source, on_progress=on_progress)
    _print_runs(rows)
    _health(config, "collect", rows)
    _exit_for(rows)


@app.command("import")
def import_(
    platform: Annotated[str, typer.Argument(help=f"One of: {', '.join(platforms())}.")],
    files: Annotated[list[Path], typer.Argument(help="Export files or folders (JSON, JSONL, .gz).")],
    source: Annotated[str | None, typer.Option("--source", "-s", help="Source name to file them under.")] = None,
) -> None:
    """Import saved API JSON / export files into the lake."""
    config = _config()
    with user_errors(), bars(sys.stderr.isatty()) as on_progress:
        row = pipeline.import_export(config, platform, files, source, on_progress=on_progress)
    _print_runs([row])
    _health(config, "import", [row])
    _exit_for([row])


@app.command()
def normalise(
    full: Annotated[bool, typer.Option("--full", help="Rebuild from scratch instead of incrementally.")] = False,
) -> None:
    """Bring the canonical tables (posts, accounts, links, mentions, hashtags) up to date with raw."""
    config = _config()
    with user_errors():
        counts = pipeline.normalise(config, full=full)
    out.print(", ".join(f"{name}: {n:,}" for name, n in counts.items()))
    _health(config, "normalise")


@app.command()
def transform(
    full: Annotated[bool, typer.Option("--full", help="Rebuild from scratch instead of incrementally.")] = False,
) -> None:
    """Materialise the SQL models and marts into <warehouse_dir>/dissentry.duckdb: incrementally
    (only what changed posts touch) unless --full, or unless settings, code or other data changed."""
    config = _config()
    with user_errors(), bars(sys.stderr.isatty()) as on_progress:
        tables = pipeline.transform(config, full=full, on_progress=on_progress)
    out.print(f"{len(tables)} tables built")
    _health(config, "transform")  # names raw records no normalise has covered, and the command to run


def _refuse_an_empty_warehouse(config: Config) -> None:
    """A report of an unbuilt warehouse, or of one built over no posts, is a table of zeros that
    could be published: exit 2 (as `sql` does) and name the command that fills it."""
    from dissentry.warehouse.catalog import connect

    db = pipeline.lake_for(config).duckdb_path
    if not db.exists():
        raise fail(f"{db} does not exist yet: run `dissentry run` or `dissentry transform` first")
    con = connect(db, read_only=True, lake=pipeline.lake_for(config))
    try:
        posts = con.execute("SELECT count(*) FROM posts").fetchone()[0]
    finally:
        con.close()
    if not posts:
        raise fail(f"{db} holds no posts: import or collect some, then `dissentry run` "
                   "(or `dissentry normalise` and `dissentry transform`)")


@app.command()
def report(
    html_path: Annotated[
        Path | None,
        typer.Argument(help="With --html: the file to write (default <warehouse>/report/index.html).",
                       metavar="[PATH]", show_default=False),
    ] = None,
    html: Annotated[bool, typer.Option("--html", help="Write the report as one self-contained HTML file.")] = False,
    figure_format: Annotated[
        str | None, typer.Option("--format", "-f", help="Write the report's figures as png, svg or pdf files.")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="With --format: the folder for the figures.")] = None,
) -> None:
    """Print the headline tables; --html PATH writes the whole report as a web page, --format png|svg the figures."""
    from dissentry.report import print_headlines

    config = _config()
    if html_path is not None and not html:
        raise fail(f"a PATH ({html_path}) is only read with --html: dissentry report --html {html_path}")
    if out_dir is not None and figure_format is None:
        raise fail("--out names the folder for --format png|svg|pdf")
    with user_errors():
        _refuse_an_empty_warehouse(config)
    if not html and figure_format is None:
        with user_errors():
            print_headlines(config, out)
        return
    from dissentry.report_html import FIGURE_FORMATS, ReportError, write_figures, write_html

    if figure_format is not None and figure_format not in FIGURE_FORMATS:
        raise fail(f"unknown figure format {figure_format!r}: use {', '.join(FIGURE_FORMATS)}")
    with user_errors():
        try:
            if html:
                path, built = write_html(config, html_path)
                for panel in built.panels:
                    if panel.not_enough:
                        err.print(f"[yellow]note:[/yellow] {escape(panel.title)}: {escape(panel.not_enough)}",
                                  highlight=False, soft_wrap=True)
                out.print(f"Report: {path}", highlight=False, soft_wrap=True)
            if figure_format is not None:
                folder = out_dir or config.local_path / "report" / "figures"
                written, skipped = write_figures(config, folder, figure_format)
                for panel in skipped:
                    err.print(f"[yellow]skipped[/yellow] {escape(panel.key)}: {escape(panel.not_enough or '')}",
                              highlight=False, soft_wrap=True)
                out.print(f"{len(written)} figures written to {folder}", highlight=False, soft_wrap=True)
        except ReportError as exc:
            raise fail(str(exc)) from None


SQL_FORMATS = ("table", "csv", "json")


@app.command()
def sql(
    query: Annotated[
        str | None,
        typer.Argument(help="SQL to run against the warehouse (queries only, sandboxed). Without it: an "
                       "interactive shell with history (.help lists its commands).", show_default=False),
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table, csv or json")] = "table",
    unsafe: Annotated[
        bool,
        typer.Option("--unsafe", help="Full DuckDB: any file, COPY, ATTACH, INSTALL/LOAD, SET (your own machine)."),
    ] = False,
) -> None:
    """Query the warehouse: every table and mart by name; with no query, an interactive shell.

    A sandbox by default: SELECT (DESCRIBE, SHOW, EXPLAIN) only, files only in the warehouse's
    own folders, no extension installed or loaded, settings locked. `--unsafe` lifts all that; the
    serving file is still opened read-only (every transform replaces it). The shell runs each
    statement exactly as `dissentry sql "..."` would, so the same sandbox holds there."""
    config = _config()
    with user_errors():
        lake = pipeline.lake_for(config)
    db = lake.duckdb_path
    if not db.exists():
        raise fail(f"{db} does not exist yet: run `dissentry run` or `dissentry transform` first")
    if format not in SQL_FORMATS:
        raise fail(f"unknown format {format!r}: use table, csv or json")
    if query is None:
        from dissentry.sql_shell import run_shell

        def execute(statement: str, fmt: str) -> None:
            _run_query(lake, db, statement, fmt, unsafe)

        raise typer.Exit(run_shell(execute, db=db, format=format, unsafe=unsafe, out=out, err=err))
    _run_query(lake, db, query, format, unsafe)


def _run_query(lake: Any, db: Path, query: str, format: str, unsafe: bool) -> None:
    """One query on a fresh read-only connection (it sees the newest transform), printed; a refusal
    or an error raises typer.Exit through `fail` (2; 3 when busy)."""
    import duckdb

    from dissentry.warehouse.catalog import connect, lock_down

    try:
        con = connect(db, read_only=True, lake=lake)
    except duckdb.IOException as exc:  # a writer of another kind (an --unsafe or older process) holds it
        raise fail(f"warehouse busy: {db} cannot be opened now ({str(exc).splitlines()[0]})", code=3) from None
    try:
        if not unsafe:
            lock_down(con, [lake.root, str(lake.local_dir)])
            refused = _refused_statement(con, query)
            if refused:
                raise fail(f"refused: {refused} (the sql shell runs queries only; --unsafe gives full DuckDB)")
        cursor = con.execute(query)
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall()
    except duckdb.PermissionException as exc:
        raise fail(f"refused: {str(exc).splitlines()[0]} (--unsafe gives full DuckDB)") from None
    except duckdb.Error as exc:
        if "configuration has been locked" in str(exc):
            raise fail(f"refused: {str(exc).splitlines()[0]} (--unsafe gives full DuckDB)") from None
        raise fail(f"query failed: {exc}") from None
    finally:
        con.close()
    if format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
        sys.stdout.flush()
    elif format == "json":
        sys.stdout.write(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str, indent=2) + "\n")
        sys.stdout.flush()
    else:
        from dissentry.report import rows_table

        out.print(rows_table(columns, rows))


_EXPLAIN = re.compile(r"^\s*explain(\s+analy[sz]e)?\s+(?P<inner>.*)$", re.IGNORECASE | re.DOTALL)


def _refused_statement(con: Any, query: str) -> str | None:
    """The first statement that is not a query (COPY, ATTACH, INSTALL, SET, CREATE...), or None.

    DuckDB parses; nothing runs. EXPLAIN ANALYZE runs what it explains, so that must be a query too."""
    import duckdb

    try:
        statements = con.extract_statements(query)
    except duckdb.Error:
        return None  # a syntax error: executing it reports it the usual way
    for statement in statements:
        kind = statement.type
        if kind == duckdb.StatementType.EXPLAIN:
            match = _EXPLAIN.match(statement.query)
            inner = _refused_statement(con, match.group("inner")) if match else "EXPLAIN"
            if inner:
                return inner
        elif kind != duckdb.StatementType.SELECT:
            return "INSTALL/LOAD statement" if kind == duckdb.StatementType.LOAD else f"{kind.name} statement"
    return None


@app.command()
def sample(
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write the sample files.")] = Path("data/sample"),
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 7,
    scale: Annotated[float, typer.Option(help="Multiply the number of posts.")] = 1.0,
    label_from_truth: Annotated[
        Path | None,
        typer.Option(
            "--label-from-truth",
            help="Instead of writing the sample: fill the label column of FILE.csv (drawn by `dissentry labels "
            "sample` from a warehouse built on the sample in --out) from the sample's planted truth, and write "
            "FILE.labelled.csv beside it, for `dissentry labels import`.",
            metavar="FILE.csv",
        ),
    ] = None,
) -> None:
    """Write the synthetic sample data (Mastodon and Bluesky API shapes) that `make run` imports.

    With --label-from-truth, act as a simulated annotator instead: label a drawn CSV from the stance the
    generator planted for each post (truth_stance.jsonl in --out), as if a researcher had labelled it.
    """
    from dissentry import sample as synthetic

    if label_from_truth is not None:
        target = synthetic.labelled_path(label_from_truth)
        try:
            count = synthetic.label_from_truth(label_from_truth, out_dir, target)
        except (OSError, synthetic.TruthLabelError) as exc:
            raise fail(str(exc)) from None
        out.print(f"labelled {count} rows from the planted truth in {out_dir}: {target}")
        return
    synthetic.generate_sample(out_dir, seed=seed, scale=scale)
    out.print(f"sample written to {out_dir}", highlight=False)
    config_path, written = synthetic.write_config(out_dir)
    # the sample's own configuration, beside it, so the demo runs from any folder
    out.print(f"{'configuration written to' if written else 'kept the existing'} {config_path}; "
              f"run it: dissentry --config {config_path} run", highlight=False, soft_wrap=True)


@app.command()
def forget(
    account: Annotated[str, typer.Argument(help="The account, as in the config: 'mastodon:@alice@social.example'.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase an account's posts and profile from every layer, and keep it out of later collections."""
    from dissentry.forget import forget_account

    config = _config()
    if not yes and not typer.confirm(f"Erase {account} from {config.warehouse_location}? This cannot be undone"):
        raise typer.Exit(1)
    with user_errors():
        try:
            summary = forget_account(config, account)
        except ValueError as exc:
            raise fail(str(exc)) from None
    out.print(
        f"erased {summary['platform']} account: {summary['raw_records_removed']:,} raw records from "
        f"{summary['raw_files_rewritten']} files, {summary['quarantine_rows_removed']} quarantine rows; "
        f"{summary.get('other_records_redacted', 0):,} other people's records now name it by its erasure token; "
        "the normalised layer and marts were rebuilt; the erasure is recorded in the `erasures` table"
    )
    target = parse_account_ref(account)
    listed = [g.id for g in config.groups for ref in [*g.accounts, *(a for _, refs in g.people() for a in refs)]
              if parse_account_ref(ref) == target]
    if listed:
        err.print(f"[yellow]note:[/yellow] {escape(str(config.config_path))} still lists {escape(account)} "
                  f"(groups: {', '.join(sorted(set(listed)))}): remove it there too", highlight=False, soft_wrap=True)


export_app = typer.Typer(help="Write warehouse data in other tools' formats.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("network")
def export_network(
    out_file: Annotated[Path, typer.Option("--out", help="The file to write.")],
    format: Annotated[str, typer.Option("--format", "-f", help="graphml, gexf or csv (edges; nodes beside it).")],
    kind: Annotated[str, typer.Option(help="reply, repost, quote, mention or all.")] = "all",
    period: Annotated[str, typer.Option(help="A period label (e.g. 2026-02) or all.")] = "all",
) -> None:
    """The interaction graph network_mixing measures (nodes: group, role, post counts; weighted edges)."""
    from dissentry.export import ExportError
    from dissentry.export import export_network as write

    config = _config()
    with user_errors():
        try:
            network, written = write(config, out_file, fmt=format, kind=kind, period=period)
        except ExportError as exc:
            raise fail(str(exc)) from None
    out.print(f"{len(network.nodes):,} accounts, {len(network.edges):,} ties (kind {kind}, period {period}): "
              + ", ".join(str(p) for p in written), highlight=False, soft_wrap=True)


@app.command("new-connector")
def new_connector(
    name: Annotated[str, typer.Argument(help="Platform name, e.g. 'mybb' (lower case).")],
    root: Annotated[Path, typer.Option(help="The repository to add it to.")] = Path("."),
) -> None:
    """Scaffold connectors/NAME/ (code, mapping, contract fixtures, test) and register it."""
    from dissentry.scaffold import new_connector as scaffold

    with user_errors():
        written = scaffold(name, root)
    for path in written:
        out.print(f"  wrote {path}")
    out.print(f"Now run: .venv/bin/pytest tests/contract -k {name}   (it fails until the connector is filled in)")
    out.print("Guide: docs/adding-a-connector.md")


labels_app = typer.Typer(
    help="Validate the measure: draw a random sample of references to label, and import the labels.",
    no_args_is_help=True,
)
app.add_typer(labels_app, name="labels")


@labels_app.command("sample")
def labels_sample(
    per_group: Annotated[int, typer.Option("--per-group", help="References to draw per group.", min=1)],
    out_file: Annotated[Path, typer.Option("--out", help="The file to write (FILE.csv; FILE.json for Label Studio).")],
    period: Annotated[str | None, typer.Option(help="Only references of this period (e.g. 2026-02).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: a random one, printed and recorded).")] = None,
    format: Annotated[str, typer.Option("--format", help="csv, or labelstudio (tasks + labelling config).")] = "csv",
) -> None:
    """Draw a simple random sample of each group's own-organisation references for people to label."""
    from dissentry.labels import LabelsError, sample_references

    config = _config()
    with user_errors():
        lake = pipeline.lake_for(config)
        try:
            result = sample_references(lake, per_group=per_group, out=out_file, period=period, seed=seed, fmt=format,
                                       groups=[g.id for g in config.groups])
        except LabelsError as exc:
            raise fail(str(exc)) from None
    for stratum in result.strata:
        out.print(f"{stratum.group_id}: drew {stratum.sample_size} of {stratum.frame_size} references "
                  f"not drawn before (scope {result.scope})", highlight=False)
        if stratum.frame_size < per_group:
            err.print(f"[yellow]warning:[/yellow] {escape(stratum.group_id)} has only {stratum.frame_size} references "
                      f"left to draw, fewer than --per-group {per_group}", highlight=False, soft_wrap=True)
    if not result.drawn:
        raise fail("nothing was drawn: no group has a reference that no earlier draw picked", code=1)
    for path in result.files:
        out.print(f"wrote {path}", highlight=False)
    out.print(f"draw {result.draw_id}, seed {result.seed}: recorded in the lake (label_draws)", highlight=False)
    if format == "csv":
        out.print(f"Fill the `label` column with critical, supportive or neutral, then: "
                  f"dissentry labels import {result.files[0]}", highlight=False)
    else:
        out.print("Create a Label Studio project with the .label_config.xml, import the tasks, label them, export "
                  "JSON, then: dissentry labels import EXPORT.json", highlight=False)


@labels_app.command("import")
def labels_import(
    file: Annotated[Path, typer.Argument(help="A labelled CSV (post_id, label) or a Label Studio JSON export.")],
    annotator: Annotated[str | None, typer.Option(help="Who labelled a CSV (default: the file's name).")] = None,
) -> None:
    """Import people's labels: critical, supportive or neutral per post. Exit 1 when rows were rejected."""
    from dissentry.labels import LabelsError, import_labels

    config = _config()

    def warn(locator: str, reason: str) -> None:
        err.print(f"[yellow]warning:[/yellow] {escape(locator)}: {escape(reason)}", highlight=False, soft_wrap=True)

    with user_errors():
        lake = pipeline.lake_for(config)
        try:
            result = import_labels(lake, file, annotator=annotator, warn=warn)
        except LabelsError as exc:
            raise fail(str(exc)) from None
    if result.fmt == "csv" and annotator is None:
        out.print(f"annotator: {result.annotator!r} (the file's name; say who with --annotator NAME)", highlight=False)
    elif result.fmt == "labelstudio" and annotator is not None:
        err.print("[yellow]note:[/yellow] --annotator is ignored for a Label Studio export: it names its annotators",
                  highlight=False)
    parts = [f"{result.landed} labels landed", f"{result.rejected} rejected (quarantined)",
             f"{result.dropped_erased} dropped (posts of erased accounts)"]
    if result.unlabelled:
        parts.append(f"{result.unlabelled} not labelled yet")
    if result.cancelled:
        parts.append(f"{result.cancelled} cancelled in Label Studio")
    out.print(f"{result.file}: {result.rows_read} rows read: " + ", ".join(parts), highlight=False)
    if result.agreement_error:
        err.print(f"[yellow]note:[/yellow] {escape(result.agreement_error)}", highlight=False, soft_wrap=True)
    if result.agreement:
        from dissentry.labels import agreement_table

        out.print(agreement_table(result.agreement))
    raise typer.Exit(result.exit_code)


@app.command()
def evaluate() -> None:
    """Rebuild the marts and print how well each stance classifier agrees with people's labels."""
    from dissentry.labels import print_evaluation
    from dissentry.warehouse.catalog import connect

    config = _config()
    with user_errors():
        lake = pipeline.lake_for(config)
        with bars(sys.stderr.isatty()) as on_progress:
            pipeline.transform(config, on_progress=on_progress)
    con = connect(lake.duckdb_path, read_only=True, lake=lake)
    try:
        print_evaluation(con, out)
    finally:
        con.close()
