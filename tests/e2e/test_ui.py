"""The web UI in a real browser (Debian chromium driven by Playwright) against `kokanee serve --demo`.

One walk through the views a user takes: the map shows the demo's services and databases, a node
opens its service page, a trace search finds traces, a trace shows its waterfall and critical path,
and log lines link to their traces. A screenshot of each view lands in tests/e2e/artifacts/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server import KokaneeServer

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]' installs playwright")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
WEB_MANIFEST = Path(__file__).resolve().parents[2] / "src" / "kokanee" / "web" / ".vite" / "manifest.json"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
UI_TIMEOUT_MS = 60_000  # generous: a loaded CI machine renders slowly; every wait polls


@pytest.fixture
def browser() -> Iterator[Any]:
    assert CHROMIUM.exists(), "Debian chromium is missing: `apt-get install -y chromium` (`make test` does it)"
    assert WEB_MANIFEST.exists(), "the web UI is not built: run `make ui` (`make test` does it)"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _wait_for_topology(server: KokaneeServer, names: set[str], timeout: float = 150.0) -> dict[str, Any]:
    """The map is derived per closed minute (~10 s after it ends): the first one takes up to ~75 s."""
    deadline = time.monotonic() + timeout
    topo: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            topo = server.get("/api/v1/topology", start="now-15m")
        except httpx.HTTPError:
            topo = {}
        if names <= {n["name"] for n in topo.get("nodes", [])}:
            return topo
        time.sleep(2)
    raise AssertionError(f"topology never showed {names}; last nodes: {[n['name'] for n in topo.get('nodes', [])]}")


def _shot(page: Any, name: str, full_page: bool = False) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def test_ui_walkthrough(start_kokanee: Callable[..., KokaneeServer], browser: Any) -> None:
    server = start_kokanee("--demo")
    _wait_for_topology(server, {"frontend", "checkout", "postgresql"})
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    expect = sync_api.expect
    expect.set_options(timeout=UI_TIMEOUT_MS)

    # The service map: demo services and a database, drawn as SVG (labels are real text).
    page.goto(f"{server.api_url}/")
    chart = page.get_by_test_id("service-map")
    expect(chart.locator("text", has_text=re.compile(r"^postgresql$"))).to_be_visible()
    expect(chart.locator("text", has_text=re.compile(r"^frontend$"))).to_be_visible()
    page.wait_for_timeout(500)  # let the graph's entry animation settle before the picture
    _shot(page, "01-service-map")

    # Clicking a node opens its service page: RED charts, operations, neighbours.
    chart.locator("text", has_text=re.compile(r"^checkout$")).click()
    expect(page).to_have_url(re.compile(r"/services/checkout"))
    expect(page.get_by_test_id("operations-table")).to_be_visible()
    expect(page.get_by_text("Downstream (callees)")).to_be_visible()
    _shot(page, "02-service-checkout", full_page=True)

    # A callee's "calls" link opens that edge on the map: its RED and sample calls, each a trace.
    page.get_by_test_id("edge-link").first.click()
    expect(page).to_have_url(re.compile(r"[?&]from=checkout&to="))
    samples = page.get_by_test_id("edge-samples").locator("tbody tr")
    expect(samples.first).to_be_visible()
    _shot(page, "02b-edge", full_page=True)
    samples.first.locator("a").first.click()
    expect(page).to_have_url(re.compile(r"/traces/[0-9a-f]{32}"))
    expect(page.get_by_test_id("waterfall-row").first).to_be_visible()

    # The services table.
    page.get_by_role("link", name="Services", exact=True).click()
    expect(page.get_by_test_id("services-table").locator("tbody tr").first).to_be_visible()
    _shot(page, "03-services")

    # A trace search finds traces (filters live in the URL).
    page.goto(f"{server.api_url}/traces?service=checkout&range=15m")
    results = page.get_by_test_id("trace-results").locator("tbody tr")
    expect(results.first).to_be_visible()
    expect(page.get_by_test_id("trace-scatter")).to_be_visible()
    _shot(page, "04-traces")

    # A trace: the waterfall, the critical path marked on it and its shares, span details.
    results.first.locator("a.trace-link").click()
    expect(page).to_have_url(re.compile(r"/traces/[0-9a-f]{32}"))
    rows = page.get_by_test_id("waterfall-row")
    expect(rows.first).to_be_visible()
    assert rows.count() > 3, "a checkout trace has more than a handful of spans"
    expect(page.get_by_test_id("critical-path-marker").first).to_be_visible()
    expect(page.get_by_test_id("critical-path-summary").locator(".share-legend span").first).to_be_visible()
    rows.nth(1).click()
    expect(page.get_by_test_id("span-details")).to_be_visible()
    expect(page).to_have_url(re.compile(r"[?&]span=[0-9a-f]{16}"))
    _shot(page, "05-trace", full_page=True)

    # Logs: lines with a link to their trace, which opens the trace view.
    page.goto(f"{server.api_url}/logs?range=15m")
    link = page.get_by_test_id("log-trace-link").first
    expect(link).to_be_visible()
    _shot(page, "06-logs")
    link.click()
    expect(page).to_have_url(re.compile(r"/traces/[0-9a-f]{32}"))
    expect(page.get_by_test_id("waterfall-row").first).to_be_visible()

    # Critical paths per entry operation, and a histogram metric as percentiles.
    page.goto(f"{server.api_url}/critical-paths?range=15m")
    expect(page.get_by_test_id("critical-paths-chart")).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)  # the bars grow in
    _shot(page, "07-critical-paths", full_page=True)
    page.goto(f"{server.api_url}/metric-explorer?range=15m&metric=http.server.request.duration")
    expect(page.get_by_test_id("metric-chart")).to_be_visible()
    page.wait_for_timeout(1000)
    _shot(page, "08-metrics")

    assert not errors, f"the page threw: {errors}"


def test_ui_paths_keep_api_404s(start_kokanee: Callable[..., KokaneeServer]) -> None:
    """Client routes get the page; API-like paths keep their JSON 404."""
    assert WEB_MANIFEST.exists(), "the web UI is not built: run `make ui` (`make test` does it)"
    server = start_kokanee()
    page = httpx.get(f"{server.api_url}/traces/0123", timeout=10)
    assert page.status_code == 200 and '<div id="root">' in page.text and "/assets/" in page.text
    for path in ("/api/v1/nope", "/.well-known/openid-configuration", "/docs/nope"):
        r = httpx.get(f"{server.api_url}{path}", timeout=10)
        assert r.status_code == 404 and "error" in r.json(), path
    assert httpx.post(f"{server.api_url}/api/v1/nope", timeout=10).status_code == 404
    assert httpx.get(f"{server.api_url}/api/v1/health", timeout=10).status_code == 200
    asset = re.search(r'src="(/assets/[^"]+\.js)"', page.text)
    assert asset, page.text
    r = httpx.get(f"{server.api_url}{asset.group(1)}", timeout=10)
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
