"""`dissentry new-connector NAME`: a connector folder the contract suite runs against at once.

The new connector fails the contract suite until it is filled in; the failing tests are the to-do
list. It touches only `connectors/<name>/`, `tests/connectors/test_<name>.py` and one line of
`connectors/registry.py`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

TEMPLATES = Path(__file__).parent
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")


class ScaffoldError(ValueError):
    pass


def _render(template: str, name: str) -> str:
    title = name.replace("_", " ").title()
    class_name = "".join(part.title() for part in name.split("_")) + "Connector"
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    return text.replace("{name}", name).replace("{title}", title).replace("{class_name}", class_name)


def new_connector(name: str, root: Path) -> list[Path]:
    """Create the connector folder under `root` (the repository); return the files written."""
    if not _NAME.match(name):
        raise ScaffoldError(
            f"connector name {name!r}: use 2-31 lower-case letters, digits or '_', starting with a letter"
        )
    registry = root / "connectors" / "registry.py"
    if not registry.is_file():
        raise ScaffoldError(f"{registry} not found: run this from the dissentry repository (or pass --root)")
    folder = root / "connectors" / name
    if folder.exists():
        raise ScaffoldError(f"{folder} already exists")
    registry_text = registry.read_text(encoding="utf-8")
    if f'"{name}":' in registry_text:
        raise ScaffoldError(f"{registry} already lists {name!r}")

    class_name = "".join(part.title() for part in name.split("_")) + "Connector"
    contract = folder / "fixtures" / "contract"
    contract.mkdir(parents=True)
    sample = [{"id": str(n), "text": f"example post {n}"} for n in range(1, 4)]
    cut_off = '{"id": "2", "text": "cu'
    files = {
        folder / "__init__.py": "",
        folder / "connector.py": _render("connector.py.tmpl", name),
        folder / "mapping.sql": _render("mapping.sql.tmpl", name),
        contract / "contract.toml": _render("contract.toml.tmpl", name),
        contract / "sample.jsonl": "".join(json.dumps(r) + "\n" for r in sample),
        contract / "bad.jsonl": "\n".join([json.dumps(sample[0]), cut_off, json.dumps(sample[2]), ""]),
        contract / "other.json": json.dumps([{"post": {"uri": "at://did:plc:x/app.bsky.feed.post/1"}}]),
        root / "tests" / "connectors" / f"test_{name}.py": _render("test_connector.py.tmpl", name),
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    line = f'    "{name}": "dissentry.connectors.{name}.connector:{class_name}",\n'
    closing = registry_text.index("\n}", registry_text.index("CONNECTORS"))
    registry.write_text(registry_text[: closing + 1] + line + registry_text[closing + 1 :], encoding="utf-8")
    return [*files, registry]
