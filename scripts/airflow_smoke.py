"""Smoke test of dissentry on a real local Airflow 3: `airflow standalone`, REST API, then stop.

    .venv/bin/python scripts/airflow_smoke.py [--home DIR] [--timeout SECONDS] [--keep]

What it does:
1. writes the synthetic sample and a copy of dissentry.toml (warehouse in the temp dir) to a
   temporary folder, so the repository's data/ is not touched;
2. starts `airflow standalone` (api-server, scheduler, dag-processor, triggerer) in its own process
   group, AIRFLOW_HOME in the temp folder, the repository's dags/ as DAGs folder, examples off;
3. logs in through the simple auth manager (its generated password file), creates the pools,
   unpauses the DAGs, triggers dissentry_collect_daily through /api/v2 and waits for it and for
   the dissentry_transform run its Assets trigger;
4. stops every process it started (SIGTERM to the group, SIGKILL after a grace period) and prints
   the URL, the timings and the result. Exit status 0 only if both runs succeeded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COLLECT_DAG = "dissentry_collect_daily"
TRANSFORM_DAG = "dissentry_transform"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_project(folder: Path) -> Path:
    """The sample data and a config reading it, with the warehouse inside `folder`."""
    subprocess.run([str(BIN / "dissentry"), "sample", "--out", str(folder / "data" / "sample")], check=True,
                   capture_output=True)
    text = (REPO / "dissentry.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^warehouse_dir = ".*"$', 'warehouse_dir = "warehouse"', text)
    config = folder / "dissentry.toml"
    config.write_text(text, encoding="utf-8")
    return config


def airflow_env(home: Path, port: int, config: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",  # find the DAGs folder's files quickly
        "DISSENTRY_CONFIG": str(config),
    }


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except (httpx.HTTPError, OSError, ValueError, KeyError) as exc:
            last_error = exc
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_error})")


def stop(process: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    """SIGTERM to the whole group (standalone and the components it spawned), then SIGKILL."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):  # anything in the group still alive
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.client = httpx.Client(base_url=f"{base}/api/v2", headers={"Authorization": f"Bearer {token}"},
                                   timeout=30)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.client.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None


def login(base: str, home: Path, timeout: float) -> str:
    password_file = home / "simple_auth_manager_passwords.json.generated"
    passwords = wait_for("the generated admin password", lambda: json.loads(password_file.read_text()), timeout)
    password = passwords["admin"]
    response = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=30)
    response.raise_for_status()
    return response.json()["access_token"]


def finished_run(api: Api, dag_id: str, run_id: str) -> dict[str, Any] | None:
    run = api.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
    return run if run["state"] in ("success", "failed") else None


def task_results(api: Api, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    out = []
    for ti in api.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]:
        entry = {"task": ti["task_id"], "map_index": ti["map_index"], "state": ti["state"], "pool": ti["pool"]}
        if ti["state"] == "success":
            xcom = api.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/xcomEntries/"
                            f"return_value", params={"map_index": ti["map_index"], "deserialize": True})
            entry["returned"] = xcom.get("value")
        out.append(entry)
    return out


def smoke(home: Path, timeout: float) -> int:
    from dissentry.config import load_config
    from dissentry.orchestration import pools

    config = prepare_project(home / "project")
    airflow_home = home / "airflow"
    airflow_home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = home / "standalone.log"
    timings: dict[str, float] = {}
    started = time.monotonic()
    print(f"AIRFLOW_HOME={airflow_home}\nDAGs folder={REPO / 'dags'}\nconfig={config}\nlog={log_path}", flush=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen([str(BIN / "airflow"), "standalone"], env=airflow_env(airflow_home, port, config),
                                   cwd=home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    ok = False
    try:
        wait_for("the API server", lambda: httpx.get(f"{base}/api/v2/monitor/health", timeout=5).is_success,
                 timeout)
        timings["api server up"] = time.monotonic() - started
        print(f"Airflow UI and API: {base}", flush=True)
        api = Api(base, login(base, airflow_home, timeout))
        print(f"login: admin, password in {airflow_home / 'simple_auth_manager_passwords.json.generated'}", flush=True)
        for name, slots in pools(load_config(config)).items():
            api.call("POST", "/pools", json={"name": name, "slots": slots, "description": "dissentry"})
        for dag_id in (COLLECT_DAG, TRANSFORM_DAG):
            wait_for(f"{dag_id} to be parsed", lambda d=dag_id: api.call("GET", f"/dags/{d}"), timeout)
            api.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        timings["DAGs parsed"] = time.monotonic() - started

        t0 = time.monotonic()
        run = api.call("POST", f"/dags/{COLLECT_DAG}/dagRuns",
                       json={"logical_date": datetime.now(UTC).isoformat(), "note": "airflow_smoke.py"})
        collected = wait_for(f"{COLLECT_DAG} run", lambda: finished_run(api, COLLECT_DAG, run["dag_run_id"]),
                             timeout, every=2)
        collect_state = collected["state"]
        timings[f"{COLLECT_DAG} run"] = time.monotonic() - t0
        print(f"{COLLECT_DAG} {run['dag_run_id']}: {collect_state}", flush=True)
        for row in task_results(api, COLLECT_DAG, run["dag_run_id"]):
            print("  ", json.dumps(row), flush=True)

        t0 = time.monotonic()

        # unpausing also starts the latest scheduled run, whose assets trigger a transform run of their
        # own: wait for one triggered by the asset events of *our* run, i.e. queued after it started
        # (max_active_runs=1, so our run starts only once the scheduled run has ended)
        ours_started = datetime.fromisoformat(collected["start_date"])

        def transform_done() -> tuple[str, str] | None:
            runs = api.call("GET", f"/dags/{TRANSFORM_DAG}/dagRuns", params={"order_by": "-run_after"})["dag_runs"]
            finished = [r for r in runs if r["state"] in ("success", "failed")
                        and datetime.fromisoformat(r["run_after"]) >= ours_started]
            return (finished[0]["dag_run_id"], finished[0]["state"]) if finished else None

        transform_run, transform_state = wait_for(f"the {TRANSFORM_DAG} run its Assets trigger", transform_done,
                                                  timeout, every=2)
        timings[f"{TRANSFORM_DAG} run (asset-triggered)"] = time.monotonic() - t0
        print(f"{TRANSFORM_DAG} {transform_run}: {transform_state}", flush=True)
        for row in task_results(api, TRANSFORM_DAG, transform_run):
            returned = row.pop("returned", None)
            if isinstance(returned, dict) and "tables" in returned:
                marts = ("dissent_frequency", "echo_chamber", "network_mixing")
                row["marts_rows"] = {k: v for k, v in returned["tables"].items() if k in marts}
            elif returned is not None:
                row["returned"] = returned
            print("  ", json.dumps(row), flush=True)
        ok = collect_state == "success" and transform_state == "success"
    finally:
        t0 = time.monotonic()
        stop(process)
        timings["shutdown"] = time.monotonic() - t0
        timings["total"] = time.monotonic() - started
    print("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    print(f"result: {'OK' if ok else 'FAILED'} (log: {log_path})")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="working folder (default: a new temporary folder)")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for each step")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder after a success")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="dissentry-airflow-"))
    home.mkdir(parents=True, exist_ok=True)
    code = smoke(home.resolve(), args.timeout)
    if args.home is None and not args.keep and code == 0:  # a failed run keeps its logs
        shutil.rmtree(home, ignore_errors=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
