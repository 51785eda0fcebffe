"""What the UI tests share: Debian's chromium driven by Playwright, a page set up to wait generously
and to collect the page's script errors, and screenshots into tests/e2e/artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright import sync_api

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
WEB_MANIFEST = Path(__file__).resolve().parents[2] / "src" / "kokanee" / "web" / ".vite" / "manifest.json"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
UI_TIMEOUT_MS = 60_000  # generous: a loaded CI machine renders slowly; every wait polls
expect = sync_api.expect


def open_page(browser: Any, height: int = 900) -> tuple[Any, list[str]]:
    """A new page 1440 px wide, and the list its uncaught script errors are appended to."""
    page = browser.new_page(viewport={"width": 1440, "height": height})
    page.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors


def shot(page: Any, name: str, full_page: bool = False) -> None:
    if full_page:
        # Sticky bars are drawn where the scroll left them: from the top, they are drawn at the top.
        page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)
