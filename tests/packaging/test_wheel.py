"""The wheel works outside the repository: built, installed into a fresh virtualenv, it writes the
sample with its configuration and runs the whole demo from a folder that is not the checkout.

No network: the wheel is built with the backend installed in the project's venv
(`--no-isolation`), installed with `--no-deps --no-index`, and the fresh venv is given the
*declared* runtime dependencies only: a folder of links to exactly the distributions that the
wheel's Requires-Dist needs (followed transitively through the project venv's metadata), named
in a .pth file. A path listed in a .pth is added to sys.path without its own .pth files being run,
and the project's editable install is not among the links, so `import dissentry` can only find
the installed wheel, and an undeclared import (pandas, scipy once, Airflow, moto) fails as it would
for a user.
"""

from __future__ import annotations

import email.parser
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
# what the sdist-less build needs from the checkout: the packages, the DAG file, the metadata files
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "dissentry", "connectors", "transforms", "warehouse", "dags")
TOP_LEVEL = {"dissentry"}  # one import root (issue 14 §1)
# where each folder of the checkout lands in the wheel: connectors/ is dissentry/connectors/, and so on
IN_WHEEL = {"dissentry": "dissentry", "connectors": "dissentry/connectors", "transforms": "dissentry/transforms",
            "warehouse": "dissentry/warehouse"}


def _build_wheel(tmp: Path) -> Path:
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    dist = tmp / "dist"
    # a copy, so the build's build/ and egg-info never touch the checkout other processes use
    done = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(src)],
                          capture_output=True, text=True, timeout=600, cwd=tmp)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = dist.glob("dissentry-*.whl")
    return wheel


def _wheel_metadata(wheel: Path) -> tuple[email.message.Message, list[str]]:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(zf.read(meta).decode("utf-8")), names


def _closure(requirements: list[str]) -> list[metadata.Distribution]:
    """The distributions of the project venv that these requirements need, transitively (no extras
    unless a requirement names them), markers evaluated for this interpreter."""
    found: dict[str, metadata.Distribution] = {}
    todo = [(Requirement(r), "") for r in requirements]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        dist = metadata.distribution(req.name)  # missing: the venv lacks a declared dependency (fails here)
        first = name not in found
        found[name] = dist
        for wanted_extra in [""] * first + sorted(req.extras):
            for sub in dist.requires or []:
                todo.append((Requirement(sub), wanted_extra))
    return list(found.values())


def _link_dependencies(dists: list[metadata.Distribution], folder: Path) -> None:
    folder.mkdir()
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    for dist in dists:
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            source = site / top
            if top.endswith(".pth") or not source.exists() or (folder / top).exists():
                continue
            (folder / top).symlink_to(source)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("wheel")
    wheel = _build_wheel(tmp)
    fresh = tmp / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True, timeout=120)
    python = fresh / "bin" / "python"
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                          "--quiet", str(wheel)], capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr
    message, _ = _wheel_metadata(wheel)
    runtime = [r for r in message.get_all("Requires-Dist") or [] if "extra ==" not in r]
    deps = tmp / "deps"
    _link_dependencies(_closure(runtime), deps)
    fresh_site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                     capture_output=True, text=True, check=True).stdout.strip())
    (fresh_site / "_dissentry_test_deps.pth").write_text(f"{deps}\n", encoding="utf-8")
    work = tmp / "elsewhere"  # neither the checkout nor its parent: nothing found by accident
    work.mkdir()
    return {"wheel": wheel, "fresh": fresh, "python": python, "bin": fresh / "bin", "work": work,
            "site": fresh_site}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DISSENTRY_CONFIG", "VIRTUAL_ENV")}
    env["PATH"] = os.defpath
    return env


def _run(installed: dict[str, Path], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(installed["bin"] / "dissentry"), *args], capture_output=True, text=True,
                          cwd=installed["work"], env=_env(), timeout=timeout)


def test_the_wheel_declares_its_licence_and_ships_what_runs(installed: dict[str, Path]) -> None:
    message, names = _wheel_metadata(installed["wheel"])
    assert message["License-Expression"] == "MIT"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "Programming Language :: Python :: 3.11" in (message.get_all("Classifier") or [])
    tops = {n.split("/", 1)[0] for n in names if "/" in n and ".dist-info" not in n and ".data" not in n}
    assert tops == TOP_LEVEL
    # every SQL model, mapping, template and the demo configuration are package data
    repo_data = {f"{home}/{p.relative_to(REPO / top)}" for pattern in ("**/*.sql", "**/*.j2", "**/*.tmpl")
                 for top, home in IN_WHEEL.items() for p in (REPO / top).glob(pattern)
                 if not (top == "dissentry" and p.relative_to(REPO / top).parts[0] in IN_WHEEL)}
    assert repo_data and repo_data <= set(names)
    assert "dissentry/demo.toml" in names
    # the Airflow DAG file, installed where docs/airflow.md says
    dag = installed["fresh"] / "share" / "dissentry" / "dags" / "dissentry_dags.py"
    assert dag.read_text(encoding="utf-8") == (REPO / "dags" / "dissentry_dags.py").read_text(encoding="utf-8")


def test_the_fresh_venv_sees_the_wheel_not_the_checkout(installed: dict[str, Path]) -> None:
    probe = subprocess.run(
        [str(installed["python"]), "-c",
         "import importlib.util as u, dissentry, dissentry.connectors, dissentry.transforms, dissentry.warehouse\n"
         "print(dissentry.__file__); print(dissentry.warehouse.__file__)\n"
         "print([m for m in ('pandas', 'airflow', 'moto', 'pytest', 'polars') if u.find_spec(m)])"],
        capture_output=True, text=True, cwd=installed["work"], env=_env(), timeout=120)
    assert probe.returncode == 0, probe.stderr
    first, second, undeclared = probe.stdout.splitlines()
    assert first.startswith(str(installed["site"])) and second.startswith(str(installed["site"]))
    assert undeclared == "[]"  # only the declared runtime dependencies are importable


def test_sample_then_run_outside_the_repository(installed: dict[str, Path]) -> None:
    version = _run(installed, "--version")
    assert version.returncode == 0
    assert re.fullmatch(r"dissentry \d+\.\d+\.\d+\S*\n", version.stdout), version.stdout
    sample = _run(installed, "sample", "--out", "demo")
    assert sample.returncode == 0, sample.stderr
    config = installed["work"] / "demo" / "dissentry.toml"
    assert config.is_file()
    assert f"run it: dissentry --config {Path('demo') / 'dissentry.toml'} run" in " ".join(sample.stdout.split())
    run = _run(installed, "--config", str(config), "run")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Dissent frequency" in run.stdout and "Echo chamber" in run.stdout
    assert (installed["work"] / "demo" / "warehouse" / "dissentry.duckdb").is_file()
    groups = _run(installed, "--config", str(config), "sql", "--format", "csv",
                  "SELECT group_id FROM dissent_frequency WHERE period = 'all' ORDER BY 1")
    assert groups.returncode == 0, groups.stderr
    assert groups.stdout.split() == ["group_id", "centre_party", "green_alliance", "vanguard"]
