"""The `dissentry` command line. Every command is a thin wrapper over dissentry.pipeline."""

from __future__ import annotations

import csv
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from connectors.base import ImportFormatError
from connectors.registry import UnknownPlatformError, platforms
from dissentry import pipeline
from dissentry.config import Config, ConfigError, load_config, parse_account_ref
from dissentry.scaffold import ScaffoldError
from warehouse.lake import LakeUnavailable
from warehouse.lock import WarehouseBusy

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


state = _State()


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Errors a user can act on become one clear line and exit code 2 (3: busy), not a traceback."""
    try:
        yield
    except WarehouseBusy as exc:
        raise fail(str(exc), code=3) from None
    except (ConfigError, UnknownPlatformError, ImportFormatError, ScaffoldError, LakeUnavailable) as exc:
        raise fail(str(exc)) from None


def _config() -> Config:
    try:
        return load_config(state.config_path)
    except ConfigError as exc:
        raise fail(str(exc)) from None


@app.callback()
def main(
    config: Annotated[
        Path,
        typer.Option("--config", "-c", help="Configuration file.", envvar="DISSENTRY_CONFIG", show_default=True),
    ] = Path(DEFAULT_CONFIG),
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every request and retry.")] = False,
) -> None:
    state.config_path = config
    # one plain line per message: a quarantined record's file:line and reason stay greppable
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _print_runs(rows: list[dict[str, Any]]) -> None:
    from dissentry.report import runs_table

    out.print(runs_table(rows))
    for row in rows:
        for problem in json.loads(row["errors"] or "[]"):
            err.print(f"[yellow]{escape(row['source'])}:[/yellow] {escape(problem)}", highlight=False, soft_wrap=True)


def _exit_for(rows: list[dict[str, Any]]) -> None:
    if any(r["status"] == "failed" for r in rows):
        raise typer.Exit(1)


@app.command()
def run(progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True) -> None:
    """Collect and import every source, normalise, transform, and print the headline tables."""
    from dissentry.report import print_headlines

    config = _config()
    with user_errors():
        result = pipeline.run(config, progress=progress and sys.stderr.isatty())
    _print_runs(result.runs)
    print_headlines(config, out)
    out.print(f"\nWarehouse: [bold]{result.warehouse}[/bold]")
    out.print('Query it: dissentry sql "SELECT * FROM dissent_frequency"', highlight=False)
    _exit_for(result.runs)


@app.command()
def collect(
    source: Annotated[str | None, typer.Option("--source", "-s", help="Only this source.")] = None,
) -> None:
    """Fetch new posts from the platforms' APIs for every source (or one)."""
    config = _config()
    with user_errors():
        rows = pipeline.collect(config, source, progress=sys.stderr.isatty())
    _print_runs(rows)
    _exit_for(rows)


@app.command("import")
def import_(
    platform: Annotated[str, typer.Argument(help=f"One of: {', '.join(platforms())}.")],
    files: Annotated[list[Path], typer.Argument(help="Export files or folders (JSON, JSONL, .gz).")],
    source: Annotated[str | None, typer.Option("--source", "-s", help="Source name to file them under.")] = None,
) -> None:
    """Import saved API JSON / export files into the lake."""
    config = _config()
    with user_errors():
        row = pipeline.import_export(config, platform, files, source, progress=sys.stderr.isatty())
    _print_runs([row])
    if json.loads(row["errors"] or "[]") and row["records_seen"] == 0:
        raise typer.Exit(1)
    _exit_for([row])


@app.command()
def normalise() -> None:
    """Rebuild the canonical tables (posts, accounts, links, mentions, hashtags) from raw."""
    config = _config()
    with user_errors():
        counts = pipeline.normalise(config)
    out.print(", ".join(f"{name}: {n:,}" for name, n in counts.items()))


@app.command()
def transform() -> None:
    """Materialise the SQL models and marts into <warehouse_dir>/dissentry.duckdb."""
    config = _config()
    with user_errors():
        tables = pipeline.transform(config, progress=sys.stderr.isatty())
    out.print(f"{len(tables)} tables built")


@app.command()
def report() -> None:
    """Print the headline tables from the warehouse."""
    from dissentry.report import print_headlines

    config = _config()
    with user_errors():
        print_headlines(config, out)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="SQL to run against the warehouse (read-only).")],
    format: Annotated[str, typer.Option("--format", "-f", help="table, csv or json")] = "table",
) -> None:
    """Query the warehouse: every table and mart by name."""
    import duckdb

    from warehouse.catalog import connect

    config = _config()
    with user_errors():
        lake = pipeline.lake_for(config)
    db = lake.duckdb_path
    if not db.exists():
        raise fail(f"{db} does not exist yet: run `dissentry run` or `dissentry transform` first")
    con = connect(db, read_only=True, lake=lake)
    try:
        cursor = con.execute(query)
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall()
    except duckdb.Error as exc:
        raise fail(f"query failed: {exc}") from None
    finally:
        con.close()
    if format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif format == "json":
        sys.stdout.write(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str, indent=2) + "\n")
    elif format == "table":
        from dissentry.report import rows_table

        out.print(rows_table(columns, rows))
    else:
        raise fail(f"unknown format {format!r}: use table, csv or json")


@app.command()
def sample(
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write the sample files.")] = Path("data/sample"),
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 7,
    scale: Annotated[float, typer.Option(help="Multiply the number of posts.")] = 1.0,
) -> None:
    """Write the synthetic sample data (Mastodon and Bluesky API shapes) that `make run` imports."""
    from dissentry.sample import generate_sample

    generate_sample(out_dir, seed=seed, scale=scale)
    out.print(f"sample written to {out_dir}")


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
        "the normalised layer and marts were rebuilt; the erasure is recorded in the `erasures` table"
    )
    target = parse_account_ref(account)
    listed = [g.id for g in config.groups for ref in [*g.accounts, *(a for _, refs in g.people() for a in refs)]
              if parse_account_ref(ref) == target]
    if listed:
        err.print(f"[yellow]note:[/yellow] {escape(str(config.config_path))} still lists {escape(account)} "
                  f"(groups: {', '.join(sorted(set(listed)))}): remove it there too", highlight=False, soft_wrap=True)


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


def entrypoint() -> None:  # pragma: no cover - console script wrapper
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
