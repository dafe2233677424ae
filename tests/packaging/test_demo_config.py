"""`dissentry sample --out DIR` writes DIR/dissentry.toml beside the data, and that configuration
is the repository's ./dissentry.toml (the one `make run` reads) with its paths relative to DIR."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from dissentry.cli import app
from dissentry.config import load_config
from dissentry.sample import CONFIG_FILE, STATUSES_FILE, demo_config_text, write_config

REPO = Path(__file__).resolve().parents[2]


def test_the_packaged_demo_config_is_the_repository_config_beside_its_data() -> None:
    repo = (REPO / "dissentry.toml").read_text(encoding="utf-8")
    relocated = repo.replace('warehouse_dir = "data"', 'warehouse_dir = "warehouse"', 1).replace('"data/sample/', '"')
    # edit ./dissentry.toml, then copy it the same way into dissentry/demo.toml
    assert demo_config_text() == relocated


def test_sample_writes_a_config_that_reads_its_own_folder(tmp_path: Path) -> None:
    out = tmp_path / "study"
    result = CliRunner().invoke(app, ["sample", "--out", str(out), "--scale", "0.02"])
    assert result.exit_code == 0, result.output
    assert "configuration written to" in result.output
    config = load_config(out / CONFIG_FILE)
    files = {config.resolve(f).resolve() for source in config.sources for f in source.files}
    assert out.resolve() / STATUSES_FILE in files
    assert all(f.exists() and f.parent == out.resolve() for f in files)
    assert config.local_path.resolve() == (out / "warehouse").resolve()
    assert {g.id for g in config.groups} == {"vanguard", "centre_party", "green_alliance"}


def test_an_existing_config_is_kept(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text("# my own edits\n", encoding="utf-8")
    path, written = write_config(tmp_path)
    assert not written and path.read_text(encoding="utf-8") == "# my own edits\n"
    result = CliRunner().invoke(app, ["sample", "--out", str(tmp_path), "--scale", "0.02"])
    assert result.exit_code == 0 and "kept the existing" in result.output
    assert (tmp_path / CONFIG_FILE).read_text(encoding="utf-8") == "# my own edits\n"
    _, written = write_config(tmp_path, overwrite=True)
    assert written and (tmp_path / CONFIG_FILE).read_text(encoding="utf-8") == demo_config_text()


def test_version_option() -> None:
    from dissentry import __version__

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"dissentry {__version__}\n"
