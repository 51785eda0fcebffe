"""The Captures page in a real browser (Debian chromium via Playwright): captured segments on a
chart, a session started and stopped from the page, a replay to an OTLP endpoint started from
it, and the retention policies with a dry run. Screenshot in tests/e2e/artifacts/."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.browser import expect, open_page, shot
from tests.server import KokaneeServer
from tests.test_capture_helpers import NS, log_request, trace_request


def _send(server: KokaneeServer, signal: str, message: Any) -> None:
    r = httpx.post(f"{server.otlp_http_url}/v1/{signal}", content=message.SerializeToString(),
                   headers={"Content-Type": "application/x-protobuf"}, timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text


def test_captures_page(start_kokanee: Callable[..., KokaneeServer], browser: Any, tmp_path: Path) -> None:
    policies = tmp_path / "retention.toml"
    policies.write_text('interval_minutes = 0\n\n[[policy]]\nsignal = "traces"\ndelete_after_days = 30\n')
    server = start_kokanee("--capture-segment-s", "1", "--capture-retention", str(policies))
    page, errors = open_page(browser, height=1200)

    page.goto(f"{server.api_url}/captures?refresh=10s")
    expect(page.get_by_test_id("capture-status")).to_contain_text("on → file://")
    expect(page.get_by_text("No sessions yet")).to_be_visible()

    # A session from the page, data sent while it records, stopped from the page.
    page.get_by_test_id("session-form").get_by_placeholder("fault: payment failure").fill("checkout outage")
    page.get_by_test_id("session-form").get_by_placeholder("env=prod, ticket=123").fill("ticket=42")
    page.get_by_role("button", name="Start session").click()
    sessions = page.get_by_test_id("sessions-table")
    expect(sessions).to_contain_text("checkout outage")
    expect(sessions).to_contain_text("recording")
    base = time.time_ns() - 5 * 60 * NS
    _send(server, "traces", trace_request(base, 5, "ui"))
    _send(server, "logs", log_request(base, 3, "ui"))
    deadline = time.monotonic() + 60
    while server.get("/api/v1/capture/segments", start="now-10m")["items"] < 23 and time.monotonic() < deadline:
        time.sleep(0.3)
    sessions.get_by_role("button", name="Stop").click()
    expect(sessions).not_to_contain_text("recording")
    page.reload()
    expect(page.get_by_test_id("sessions-table")).to_contain_text("20 / 3 / 0")
    expect(page.get_by_test_id("segments-table")).to_contain_text("cart-ui")
    expect(page.get_by_test_id("capture-chart").locator("canvas")).to_be_visible()

    # Replay the session into this kokanee's own OTLP endpoint, from the page.
    page.get_by_test_id("sessions-table").get_by_role("button", name="Replay…").click()
    form = page.get_by_test_id("replay-form")
    form.locator("input").first.fill(server.otlp_http_url)
    form.get_by_role("button", name="Start replay").click()
    replays = page.get_by_test_id("replays-table")
    expect(replays).to_contain_text("done")
    expect(replays).to_contain_text("20 traces, 3 logs, 0 metrics")

    # Retention: the policy from the file, and a dry run (nothing is 30 days old yet).
    expect(page.get_by_test_id("policies-table")).to_contain_text("30 d")
    page.get_by_role("button", name="Dry run").click()
    expect(page.get_by_test_id("retention-run").last).to_contain_text("Dry run at")
    expect(page.get_by_test_id("retention-run").last).to_contain_text("0 to delete, 0 to archive")
    page.wait_for_timeout(500)
    shot(page, "captures", full_page=True)
    assert errors == []
