"""`python -m dissentry ...`: the same CLI as the `dissentry` console script (pyproject's [project.scripts])."""

from dissentry.cli import app

if __name__ == "__main__":
    app(prog_name="dissentry")
