"""The pools the DAGs of a configuration use, as the commands that create them.

    python -m dissentry.orchestration pools [CONFIG]    # prints the `airflow pools set` commands
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dissentry.config import load_config
from dissentry.orchestration.assets import pool_commands
from dissentry.orchestration.discovery import config_path


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "pools":
        print((__doc__ or "").strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    path = argv[1] if len(argv) > 1 else config_path(None, os.environ, Path.cwd() / "dags")
    for line in pool_commands(load_config(path)):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
