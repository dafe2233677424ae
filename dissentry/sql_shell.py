"""`dissentry sql` with no query: an interactive SQL shell on the warehouse, with history.

Why our own shell and not the `duckdb` CLI: the CLI on the package registry lags DuckDB's file
format (it cannot open what DuckDB 2.0 writes), and it would not apply the sandbox. Every
statement goes through the same function as `dissentry sql "..."` (`execute`), on a fresh
read-only connection, so the sandbox, the messages and the exit codes are the one-shot command's,
and a `dissentry transform` run meanwhile is seen by the next statement.

Input: a statement ends with `;` at the end of a line (it may span lines); a line starting with
`.` is a shell command (`.help`). On a terminal the line editor is prompt_toolkit when installed
(history search, SQL highlighting), else readline; both keep the history in
`$XDG_STATE_HOME/dissentry/sql_history` (default `~/.local/state/...`). From a pipe or a file the
lines are read as they come, with no prompt and no history: `dissentry sql < queries.sql` runs a
script and exits with the highest code of its statements (0, 2 refused or failed, 3 busy).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import click
import typer
from rich.console import Console
from rich.markup import escape

from dissentry.warehouse.sql import quote_identifier

PROMPT = "dissentry> "
CONTINUATION = "      ...> "
FORMATS = ("table", "csv", "json")
HISTORY_LENGTH = 2000
HELP = """\
  SQL ending in ;    run it (it may span lines)    e.g. SELECT * FROM dissent_frequency WHERE period = 'all';
  .tables            the tables and marts
  .describe NAME     the columns of one table
  .format FORMAT     table, csv or json (now: {format})
  .help              this list
  .quit              leave (Ctrl-D too); Ctrl-C drops the statement being typed"""


def history_path(environ: dict[str, str] | None = None) -> Path:
    """Where the shell keeps its history (XDG base directories: state, not config)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / "dissentry" / "sql_history"


def _statement_complete(buffer: str) -> bool:
    last = buffer.rstrip().rsplit("\n", 1)[-1]
    if "--" in last and "'" not in last:  # a trailing comment after the ; (no string literal to confuse)
        last = last.split("--", 1)[0]
    return last.rstrip().endswith(";")


def _piped_lines(stream: TextIO) -> Iterator[str]:
    for line in stream:
        yield line.rstrip("\n")


class _Readline:
    """The standard library's line editor, history in `path`."""

    def __init__(self, path: Path) -> None:
        import readline  # only on a terminal: imported on a pipe it may write escape codes to stdout

        self.readline = readline
        self.path = path
        readline.set_history_length(HISTORY_LENGTH)
        if path.exists():
            with contextlib.suppress(OSError):  # an unreadable history is no reason to refuse a shell
                readline.read_history_file(str(path))

    def read(self, prompt: str) -> str:
        line = input(prompt)
        self.save()  # after every line: a killed terminal keeps what was typed
        return line

    def save(self) -> None:
        with contextlib.suppress(OSError):  # a read-only home loses the history, not the shell
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.readline.write_history_file(str(self.path))


class _PromptToolkit:
    """prompt_toolkit's editor: history search (Ctrl-R), SQL highlighting, the same history file."""

    def __init__(self, path: Path) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory

        path.parent.mkdir(parents=True, exist_ok=True)
        lexer: Any = None
        try:
            from prompt_toolkit.lexers import PygmentsLexer
            from pygments.lexers.sql import SqlLexer

            lexer = PygmentsLexer(SqlLexer)
        except ImportError:  # highlighting is a nicety
            pass
        self.session: Any = PromptSession(history=FileHistory(str(path)), lexer=lexer)

    def read(self, prompt: str) -> str:
        return str(self.session.prompt(prompt))


def _editor(path: Path) -> _Readline | _PromptToolkit:
    try:
        return _PromptToolkit(path)
    except ImportError:
        return _Readline(path)


def run_shell(
    execute: Callable[[str, str], None],
    *,
    db: Path,
    format: str,
    unsafe: bool,
    out: Console,
    err: Console,
    stdin: TextIO | None = None,
    history: Path | None = None,
) -> int:
    """Read statements until `.quit` or end of input; run each with `execute(sql, format)`, which
    prints the result or raises typer's Exit (with the one-shot command's message already said).
    Returns the exit code: 0, or on piped input the highest code of a failed statement."""
    stream = sys.stdin if stdin is None else stdin
    interactive = stream.isatty() and sys.stdout.isatty()
    worst = 0
    buffer: list[str] = []  # the lines of the statement being typed
    if interactive:
        editor = _editor(history or history_path())
        sandbox = "full DuckDB (--unsafe)" if unsafe else "sandboxed: queries only"
        err.print(f"dissentry sql on {escape(str(db))} ({sandbox}). End a statement with ;  .help  .quit",
                  highlight=False, soft_wrap=True)

        def lines() -> Iterator[str]:
            while True:
                try:
                    yield editor.read(CONTINUATION if buffer else PROMPT)
                except KeyboardInterrupt:  # drop the statement being typed, keep the shell
                    yield "\x03"
                except EOFError:
                    return

        source = lines()
    else:
        source = _piped_lines(stream)

    def run(statement: str) -> None:
        nonlocal worst
        try:
            execute(statement, format)
        except (typer.Exit, click.exceptions.Exit) as exc:  # refused, failed or busy: said; the shell goes on
            worst = max(worst, int(getattr(exc, "exit_code", 1) or 0))

    for line in source:
        if line == "\x03":
            buffer.clear()
            continue
        if not buffer and line.strip().startswith("."):
            command, _, argument = line.strip().partition(" ")
            command, argument = command.lower(), argument.strip().rstrip(";").strip()
            if command in (".quit", ".exit", ".q"):
                break
            if command == ".help":
                out.print(escape(HELP.format(format=format)), highlight=False)
            elif command == ".tables":
                run("SELECT table_name AS name, lower(table_type) AS kind FROM information_schema.tables "
                    "WHERE table_schema = 'main' ORDER BY table_name")
            elif command == ".describe" and argument:
                run(f"DESCRIBE {quote_identifier(argument)}")
            elif command == ".format" and argument in FORMATS:
                format = argument
            else:
                hint = "use table, csv or json" if command == ".format" else ".help lists them"
                err.print(f"[bold red]error:[/bold red] {escape(line.strip())!r}: {hint}",
                          highlight=False, soft_wrap=True)
                worst = max(worst, 2)
            continue
        if not buffer and not line.strip():
            continue
        buffer.append(line)
        text = "\n".join(buffer)
        if _statement_complete(text):
            buffer.clear()
            run(text)
    if buffer and "\n".join(buffer).strip():  # the last statement of a file may lack its ;
        run("\n".join(buffer))
    return 0 if interactive else worst
