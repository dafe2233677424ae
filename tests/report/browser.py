"""Open a report in headless Chromium (Debian's `chromium`), offline, and say what the page did.

Driven by playwright's Python package against the system browser (`executable_path`), never a
browser playwright downloads. The context is offline and every request is recorded, so a test
can assert that nothing but the file itself was loaded; console messages, page errors and
dialogs (an `alert` that ran) are recorded too.

    .venv/bin/python -m tests.report.browser data/report/index.html docs/report.png

writes the small screenshot the README shows (the top of the page, scaled, palette PNG).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# per figure, the marks as the page holds them: counted in the browser's DOM, not in our SVG text
COUNT_MARKS_JS = """
() => {
  const out = {};
  for (const fig of document.querySelectorAll('figure[data-figure]')) {
    const key = fig.dataset.figure;
    const svg = fig.querySelector('svg');
    let marks = fig.querySelectorAll(`[id^="${key}-mark-"]`).length;
    for (const g of fig.querySelectorAll(`g[id^="${key}-nodes-"]`)) {
      marks += [...g.querySelectorAll('path, use')].filter(e => !e.closest('defs')).length;
    }
    const box = svg ? svg.getBoundingClientRect() : null;
    out[key] = {
      state: fig.dataset.state,
      declared: Number(fig.dataset.marks),
      marks: marks,
      svg_children: svg ? svg.querySelectorAll('path, use, text, rect, line, polyline').length : 0,
      width: box ? box.width : 0,
      height: box ? box.height : 0,
      not_enough: (fig.querySelector('.not-enough') || {}).innerText || null,
    };
  }
  return out;
}
"""


@dataclass
class PageVisit:
    requests: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    scripts: int = 0
    text: str = ""
    screenshot: Path | None = None


def available() -> str | None:
    """None when the browser tests can run, else why not."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (.venv/bin/pip install playwright; never `playwright install`)"
    if not Path(CHROMIUM).exists():
        return "chromium is not installed (apt-get install -y chromium)"
    return None


@contextmanager
def browser_context(width: int = 1200, height: int = 900) -> Iterator[Any]:
    """A fresh offline Chromium profile (its own --user-data-dir), closed afterwards."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="dissentry-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=FLAGS, headless=True, offline=True,
            viewport={"width": width, "height": height}, service_workers="block",
        )
        try:
            yield context
        finally:
            context.close()


def visit(context: Any, html: Path, screenshot: Path | None = None) -> PageVisit:
    """Open `html` from disk, record everything, take a full-page screenshot."""
    seen = PageVisit(screenshot=screenshot)
    page = context.new_page()
    page.on("request", lambda r: seen.requests.append(r.url))
    page.on("console", lambda m: seen.console.append((m.type, m.text)))
    page.on("pageerror", lambda e: seen.page_errors.append(str(e)))

    def on_dialog(dialog: Any) -> None:
        seen.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    try:
        page.goto(html.absolute().as_uri(), wait_until="load")
        seen.figures = page.evaluate(COUNT_MARKS_JS)
        seen.scripts = page.evaluate("() => document.querySelectorAll('script').length")
        seen.text = page.inner_text("body")
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)
    finally:
        page.close()
    return seen


def readme_screenshot(html: Path, out: Path, *, crop_height: int = 2300, width: int = 800) -> Path:
    """The top of the report (the answer, the trend, the echo profile), scaled and palette-reduced."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as folder:
        full = Path(folder) / "full.png"
        with browser_context(width=1150) as context:
            visit(context, html, screenshot=full)
        with Image.open(full) as image:
            top = image.crop((0, 0, image.width, min(image.height, crop_height)))
            scaled = top.resize((width, round(top.height * width / top.width)), Image.Resampling.LANCZOS)
            scaled.convert("P", palette=Image.Palette.ADAPTIVE, colors=128).save(out, optimize=True)
    return out


if __name__ == "__main__":  # pragma: no cover - a maintainer's tool
    print(readme_screenshot(Path(sys.argv[1]), Path(sys.argv[2])))
