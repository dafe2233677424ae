"""scripts/airflow_smoke.py end to end: a real `airflow standalone`, its scheduler and its pools.

dag.test() (tests/dags/run_dag.py) runs tasks one after the other and ignores pools, so only a real
scheduler can show that collect_mastodon's mapped instances are held to the one-slot pool. The script
runs in a subprocess: it starts Airflow in a process group of its own and must leave nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "airflow_smoke.py"
STEP_TIMEOUT = 240  # seconds the script waits for each step (API up, DAG parsed, run finished, ...)
OVERALL_TIMEOUT = 900  # the whole script; a loaded 2-core machine can take several minutes
STOP_GRACE = 90  # after SIGTERM the script still stops Airflow (up to 30 s) and reports


def _script_env() -> dict[str, str]:
    """This process's environment without Airflow's or dissentry's settings: the script sets its own
    AIRFLOW_HOME, DAGs folder and config, and nothing from the caller may point it elsewhere."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW") and k != "DISSENTRY_CONFIG"}


def _group_of(output: str) -> int | None:
    match = re.search(r"(?m)^process group: (\d+)$", output)
    return int(match.group(1)) if match else None


def _run_script(home: Path) -> tuple[int, str]:
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--timeout", str(STEP_TIMEOUT), "--home", str(home)],
        env=_script_env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        output, _ = process.communicate(timeout=OVERALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        # SIGTERM lets the script stop Airflow itself; SIGKILL would orphan the standalone group
        process.terminate()
        try:
            output, _ = process.communicate(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        pgid = _group_of(output)
        if pgid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        pytest.fail(f"airflow_smoke.py took over {OVERALL_TIMEOUT}s:\n{output[-6000:]}")
    return process.returncode, output


def _explain(output: str, home: Path) -> str:
    log = home / "standalone.log"
    tail = log.read_text(encoding="utf-8", errors="replace")[-6000:] if log.exists() else "(no standalone.log)"
    return f"--- script output ---\n{output[-8000:]}\n--- standalone.log (tail) ---\n{tail}"


@pytest.mark.slow
def test_airflow_standalone_smoke(tmp_path: Path) -> None:
    home = tmp_path / "smoke"
    code, output = _run_script(home)
    why = _explain(output, home)

    assert code == 0, why
    assert re.search(r"(?m)^result: OK\b", output), why

    # the one-slot pool held the three mapped Mastodon imports to one at a time
    pool = re.search(r"(?m)^pool dissentry_mastodon \(1 slot\): 3 mapped tasks ran one at a time: (.+)$", output)
    assert pool, why
    intervals = re.findall(r"(sample-mastodon-\d) \[([\d:.]+)-([\d:.]+)\]", pool.group(1))
    assert sorted(name for name, _, _ in intervals) == [f"sample-mastodon-{i}" for i in (1, 2, 3)], pool.group(0)
    # ...and that means something only because the same executor ran them side by side when the pool let it
    # (the last control line: a control run the executor happened to serialise is tried once more)
    controls = re.findall(r"(?m)^control: pool dissentry_mastodon \(3 slots\): 3 mapped tasks ran up to (\d) at once", output)
    assert controls and int(controls[-1]) >= 2, why
    executor = re.search(r"(?m)^executor (\S+), core\.parallelism (\d+)", output)
    assert executor and executor.group(1).endswith("LocalExecutor") and int(executor.group(2)) >= 3, why

    # the asset-triggered transform run succeeded
    assert re.search(r"(?m)^dissentry_collect_daily manual__\S+: success$", output), why
    assert re.search(r"(?m)^dissentry_transform asset_triggered__\S+: success$", output), why

    # nothing the script started is left: its process group is gone (the script also looked for strays
    # outside the group, e.g. task runners, which Airflow puts in groups of their own)
    pgid = _group_of(output)
    assert pgid is not None, why
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
    assert re.search(rf"(?m)^process group {pgid}: no process left\b", output), why
