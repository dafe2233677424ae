"""`dissentry sql` with no query: the interactive shell, driven as a user would, in a subprocess.

From a pipe it runs a script statement by statement; the one-shot command's sandbox holds for
every statement (COPY, SET, ATTACH, reading a file outside the warehouse are refused), an error or
a refusal does not end the session, and the exit code is the worst statement's. On a terminal (a
pty here) it prompts, continues a statement over lines and keeps the history in
$XDG_STATE_HOME/dissentry/sql_history, with prompt_toolkit and with the readline fallback.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dissentry.config import Config
from tests.support.sample_project import built_sample_project

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return built_sample_project(tmp_path_factory.mktemp("sql_shell"), seed=5, scale=0.05)


def _posts(config: Config) -> int:
    import duckdb

    con = duckdb.connect(str(config.local_path / "dissentry.duckdb"), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM posts").fetchone()[0])
    finally:
        con.close()


def _shell(config: Config, script: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dissentry", "--config", str(config.config_path), "sql", *extra],
        input=script, capture_output=True, text=True, timeout=120, cwd=config.local_path.parent,
    )


def test_a_piped_script_runs_every_statement_and_the_sandbox_holds(project: Config, tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("secret\n42\n", encoding="utf-8")
    leaked = tmp_path / "leaked.csv"
    script = "\n".join([
        ".format json",
        "SELECT count(*) AS n",
        "  FROM posts;  -- a statement over two lines, a comment after it",
        f"COPY posts TO '{leaked}';",
        f"SELECT * FROM read_csv('{outside}');",
        "SET threads = 1;",
        "ATTACH ':memory:' AS other;",
        "SELECT no_such_column FROM posts;",
        ".nonsense",
        ".tables",
        "SELECT 'still here' AS state",  # the last statement may lack its ;
    ]) + "\n"
    result = _shell(project, script)
    assert result.returncode == 2, result.stderr  # something was refused: a script must not pass
    assert not leaked.exists()
    assert "secret" not in result.stdout
    # four refusals, one failed query, one unknown shell command: each said, none ended the session
    assert result.stderr.count("error: refused:") == 4, result.stderr
    assert "COPY statement" in result.stderr and "SET statement" in result.stderr
    assert "ATTACH statement" in result.stderr
    assert "query failed" in result.stderr and "no_such_column" in result.stderr
    assert "'.nonsense': .help lists them" in result.stderr
    decoded = json.JSONDecoder()
    documents, text = [], result.stdout.strip()
    while text:
        document, end = decoded.raw_decode(text)
        documents.append(document)
        text = text[end:].strip()
    assert documents[0] == [{"n": _posts(project)}]
    tables = {row["name"] for row in documents[1]}
    assert {"posts", "dissent_frequency", "echo_chamber"} <= tables
    assert documents[2] == [{"state": "still here"}]


def test_a_clean_script_exits_0_and_unsafe_lifts_the_sandbox(project: Config, tmp_path: Path) -> None:
    assert _shell(project, "SELECT 1 AS one;\n", "--format", "csv").stdout == "one\n1\n"
    target = tmp_path / "copied.csv"
    result = _shell(project, f"COPY (SELECT 7 AS seven) TO '{target}';\n", "--unsafe")
    assert result.returncode == 0, result.stderr
    assert target.read_text(encoding="utf-8").splitlines() == ["seven", "7"]


def _drive_pty(config: Config, state: Path, preamble: str, lines: list[bytes]) -> bytes:
    """Run the shell on a pseudo-terminal; type each line after the prompt that asks for it."""
    code = ("import sys; " + preamble + "; from dissentry.cli import app; "
            f"sys.argv = ['dissentry', '--config', {str(config.config_path)!r}, 'sql']; app()")
    env = {**os.environ, "XDG_STATE_HOME": str(state), "TERM": "dumb", "PYTHONPATH": str(REPO)}
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execve(sys.executable, [sys.executable, "-c", code], env)
    seen = b""

    def until(token: bytes, after: int, timeout: float = 60.0) -> int:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while seen.find(token, after) < 0:
            assert time.monotonic() < deadline, f"no {token!r} in {seen[-500:]!r}"
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(fd, 65536)
                except OSError:  # the child closed the terminal
                    break
        return seen.find(token, after) + len(token)

    position = 0
    try:
        for line in lines:
            prompt = b"...> " if line.startswith(b"AS ") else b"dissentry> "
            position = until(prompt, position)
            os.write(fd, line + b"\r")
        deadline = time.monotonic() + 60
        while True:  # the shell must end by itself (`.quit`); a shell still waiting for input fails
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                raise AssertionError(f"the shell did not end: {seen[-800:]!r}")
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                with contextlib.suppress(OSError):  # the child closed the terminal
                    seen += os.read(fd, 65536)
        assert os.waitstatus_to_exitcode(status) == 0, seen[-800:]
    finally:
        os.close(fd)
    return seen


@pytest.mark.parametrize("editor", ["prompt_toolkit", "readline"])
def test_on_a_terminal_it_prompts_continues_and_keeps_history(project: Config, tmp_path: Path, editor: str) -> None:
    pytest.importorskip(editor)
    # the readline fallback is what a machine without prompt_toolkit gets
    preamble = "sys.modules['prompt_toolkit'] = None" if editor == "readline" else "pass"
    state = tmp_path / "state"
    seen = _drive_pty(project, state, preamble, [b"SELECT 40 + 2", b"AS answer;", b"COPY posts TO 'x.csv';", b".quit"])
    assert b"sandboxed: queries only" in seen
    assert b"42" in seen
    assert b"refused: COPY statement" in seen
    history = (state / "dissentry" / "sql_history").read_text(encoding="utf-8")
    assert "SELECT 40 + 2" in history and "AS answer;" in history
    # a second session finds the first one's history: the up arrow recalls `.quit`, which ends it
    # (without the history the line would be empty, and the shell would wait for more)
    _drive_pty(project, state, preamble, [b"\x1b[A"])
