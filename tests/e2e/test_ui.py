"""The web UI in a real browser (Debian chromium driven by Playwright) against `kokanee serve --demo`.

One walk through the views a user takes: the map shows the demo's services and databases, a node
opens its service page, a trace search finds traces, a trace shows its waterfall and critical path,
and log lines link to their traces. A screenshot of each view lands in tests/e2e/artifacts/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.e2e.browser import WEB_MANIFEST, expect, open_page, shot
from tests.server import KokaneeServer


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


def _iso(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, UTC).isoformat().replace("+00:00", "Z")


def test_ui_walkthrough(start_kokanee: Callable[..., KokaneeServer], browser: Any) -> None:
    server = start_kokanee("--demo")
    _wait_for_topology(server, {"frontend", "checkout", "postgresql"})
    page, errors = open_page(browser)

    # The service map: demo services and a database, drawn as SVG (labels are real text).
    page.goto(f"{server.api_url}/")
    chart = page.get_by_test_id("service-map")
    expect(chart.locator("text", has_text=re.compile(r"^postgresql$"))).to_be_visible()
    expect(chart.locator("text", has_text=re.compile(r"^frontend$"))).to_be_visible()
    page.wait_for_timeout(500)  # let the graph's entry animation settle before the picture
    shot(page, "01-service-map")

    # Clicking a node opens its service page: RED charts, operations, neighbours.
    chart.locator("text", has_text=re.compile(r"^checkout$")).click()
    expect(page).to_have_url(re.compile(r"/services/checkout"))
    expect(page.get_by_test_id("operations-table")).to_be_visible()
    expect(page.get_by_text("Downstream (callees)")).to_be_visible()
    shot(page, "02-service-checkout", full_page=True)

    # "Explain" writes the service's story from its evidence (no model here: kokanee's template),
    # each sentence citing evidence the panel lists.
    page.get_by_test_id("explain-button").click()
    panel = page.get_by_test_id("explain-panel")
    expect(panel.get_by_test_id("explain-text")).to_contain_text("checkout")
    expect(panel.get_by_test_id("explain-source")).to_contain_text("Written by kokanee")
    expect(panel.locator("a.cite").first).to_have_text(re.compile(r"^E\d+$"))
    panel.get_by_test_id("explain-evidence").locator("summary").click()
    expect(panel.locator("#evidence-E1")).to_be_visible()

    # A callee's "calls" link opens that edge on the map: its RED and sample calls, each a trace.
    page.get_by_test_id("edge-link").last.click()  # the last table is the downstream one
    expect(page).to_have_url(re.compile(r"[?&]from=checkout&to="))
    samples = page.get_by_test_id("edge-samples").locator("tbody tr")
    expect(samples.first).to_be_visible()
    shot(page, "02b-edge", full_page=True)
    samples.first.locator("a").first.click()
    expect(page).to_have_url(re.compile(r"/traces/[0-9a-f]{32}"))
    expect(page.get_by_test_id("waterfall-row").first).to_be_visible()

    # The services table, with sparklines of rate, error % and p95 on every service row.
    page.get_by_role("link", name="Services", exact=True).click()
    table = page.get_by_test_id("services-table")
    expect(table.locator("tbody tr").first).to_be_visible()
    expect(table.locator("[data-testid=sparkline] polyline").first).to_be_attached()  # a flat line has no height
    shot(page, "03-services")

    # A service page lists recent failed traces and traces slower than its p95, each a link to the trace.
    topo = server.get("/api/v1/topology", start="now-15m")
    failing = next((n["name"] for n in topo["nodes"] if n["type"] == "service" and n["red"]["errors"]), None)
    page.goto(f"{server.api_url}/services/{failing or 'checkout'}?range=15m")
    recent = page.get_by_test_id("service-recent-errors")
    if failing:
        expect(recent.get_by_test_id("service-trace-link").first).to_be_visible()
    else:
        expect(recent).to_contain_text("No failed traces in this range")
    slow = page.get_by_test_id("service-slow-traces")
    expect(slow.get_by_test_id("service-trace-link").first).to_be_visible()
    shot(page, "03b-service-traces", full_page=True)
    slow.get_by_test_id("service-trace-link").first.click()
    expect(page).to_have_url(re.compile(r"/traces/[0-9a-f]{32}"))

    # An absolute range: the views read that window (and a window before any data is empty).
    now = time.time()
    page.goto(f"{server.api_url}/services?start={_iso(now - 900)}&end={_iso(now + 60)}")
    expect(page.get_by_label("From")).to_be_visible()
    expect(page.get_by_test_id("services-table").locator("tbody tr").first).to_be_visible()
    page.goto(f"{server.api_url}/services?start={_iso(now - 86400 * 30)}&end={_iso(now - 86400 * 29)}")
    expect(page.get_by_text("Nothing in this time range.")).to_be_visible()

    # A trace search finds traces (filters live in the URL).
    page.goto(f"{server.api_url}/traces?service=checkout&range=15m")
    results = page.get_by_test_id("trace-results").locator("tbody tr")
    expect(results.first).to_be_visible()
    expect(page.get_by_test_id("trace-scatter")).to_be_visible()
    shot(page, "04-traces")

    # A dot of the duration scatter (drawn as SVG, the last one on top) opens its trace.
    dots = page.get_by_test_id("trace-scatter").locator('path[fill="#5b8def"], path[fill="#e5534b"]')
    expect(dots.first).to_be_attached()
    dots.last.click()
    expect(page).to_have_url(re.compile(r"/traces/[0-9a-f]{32}"))
    expect(page.get_by_test_id("waterfall-row").first).to_be_visible()
    page.go_back()

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
    shot(page, "05-trace", full_page=True)

    # Logs: lines with a link to their trace, which opens the trace view.
    page.goto(f"{server.api_url}/logs?range=15m")
    link = page.get_by_test_id("log-trace-link").first
    expect(link).to_be_visible()
    shot(page, "06-logs")
    link.click()
    expect(page).to_have_url(re.compile(r"/traces/[0-9a-f]{32}"))
    expect(page.get_by_test_id("waterfall-row").first).to_be_visible()

    # Live tail: the toggle goes into the URL, and new lines arrive while it is on.
    page.goto(f"{server.api_url}/logs?range=15m")
    page.get_by_test_id("logs-live-toggle").click()
    expect(page).to_have_url(re.compile(r"[?&]live=1"))
    expect(page.get_by_test_id("logs-live-status")).to_have_attribute("data-arrived", re.compile(r"^[1-9]\d*$"))
    shot(page, "06b-logs-live")

    # Patterns: the range's log templates (mined once a minute closes), most lines first.
    deadline = time.monotonic() + 240
    while not server.get("/api/v1/logs/patterns", start="now-15m")["patterns"] and time.monotonic() < deadline:
        time.sleep(3)
    top = server.get("/api/v1/logs/patterns", start="now-15m")["patterns"][0]
    page.goto(f"{server.api_url}/logs?range=15m")
    page.get_by_test_id("logs-patterns-toggle").click()
    expect(page).to_have_url(re.compile(r"[?&]view=patterns"))
    expect(page.get_by_test_id("log-patterns")).to_contain_text(top["template"][:40])
    expect(page.get_by_test_id("log-pattern").first.get_by_test_id("sparkline")).to_be_visible()
    shot(page, "06c-log-patterns")
    # A pattern opens its own lines: the top template's, of its service only.
    page.get_by_test_id("log-pattern").first.click()
    expect(page).to_have_url(re.compile(r"[?&]pattern=T\d+"))
    expect(page.get_by_test_id("log-pattern-filter")).to_contain_text(top["template"][:40])
    lines = page.get_by_test_id("log-lines").locator("tbody tr.log-row")
    expect(lines.first).to_be_visible()
    assert {lines.nth(i).locator("td").nth(2).inner_text().strip() for i in range(lines.count())} == {top["service"]}
    shot(page, "06d-log-pattern-lines")
    # Sorted by change: the same templates with their lines in the stretch before the range.
    page.get_by_role("button", name="← patterns").click()
    page.get_by_test_id("patterns-sort-change").click()
    expect(page).to_have_url(re.compile(r"[?&]sort=change"))
    expect(page.get_by_test_id("patterns-sort-change")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("log-patterns")).to_contain_text("most changed against the stretch before")
    expect(page.get_by_role("columnheader", name="Before")).to_be_visible()
    expect(page.get_by_test_id("log-pattern").first).to_be_visible()

    # Critical paths per entry operation, and a histogram metric as percentiles.
    page.goto(f"{server.api_url}/critical-paths?range=15m")
    expect(page.get_by_test_id("critical-paths-chart")).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)  # the bars grow in
    shot(page, "07-critical-paths", full_page=True)
    page.goto(f"{server.api_url}/metric-explorer?range=15m&metric=http.server.request.duration")
    expect(page.get_by_test_id("metric-chart")).to_be_visible()
    page.wait_for_timeout(1000)
    shot(page, "08-metrics")

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
