"""The Alerts page in a real browser: a firing alert and its delivered notification, a rule created
through the form and tested against the last hour, a silence. Screenshot in tests/e2e/artifacts/."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.e2e.browser import expect, open_page, shot
from tests.server import KokaneeServer
from tests.test_alert_e2e import _send_errors, _wait
from tests.test_notif_receivers import WebhookReceiver


def test_alerts_page(start_kokanee: Callable[..., KokaneeServer], browser: Any) -> None:
    hook = WebhookReceiver()
    try:
        server = start_kokanee("--alert-interval-s", "1")
        api = f"{server.api_url}/api/v1"
        assert httpx.post(f"{api}/channels", json={"id": "hook", "type": "webhook", "url": hook.url}).status_code == 201
        rule = {"id": "ui-errors", "kind": "threshold", "signal": "error_rate", "service": "*", "value": 0.5,
                "window": "5m", "severity": "critical"}  # fmt: skip
        assert httpx.post(f"{api}/alert-rules", json=rule).status_code == 201
        last_closed = int((time.time() - 10) // 60 * 60)
        _send_errors(server, "ui-checkout", (last_closed - 30) * 1_000_000_000)
        _wait("the alert's notification", lambda: hook.bodies(), 90, server)

        page, errors = open_page(browser, height=1000)
        page.goto(f"{server.api_url}/alerts")

        firing = page.get_by_test_id("firing-alerts")
        expect(firing.locator("tbody tr", has_text="ui-checkout")).to_contain_text("firing")
        expect(firing).to_contain_text("error rate 100.0% (5 of 5 requests)")
        history = page.get_by_test_id("notification-history")
        expect(history.locator("tbody tr").first).to_contain_text("delivered")
        expect(history).to_contain_text("HTTP 200")

        # A new rule through the form: tested against the last hour first, then saved.
        page.get_by_test_id("new-rule").click()
        editor = page.get_by_test_id("rule-editor")
        page.get_by_test_id("rule-id").fill("ui-slow")
        page.get_by_test_id("rule-signal").select_option("p95_ms")
        page.get_by_test_id("rule-value").fill("5")
        page.get_by_test_id("rule-service").fill("ui-checkout")
        page.get_by_test_id("rule-test").click()
        result = editor.get_by_test_id("rule-test-result")
        expect(result).to_contain_text("1 series watched, 1 breached, 1 notification")
        expect(result.locator("tbody tr").first).to_contain_text("p95 latency")
        shot(page, "alerts-01-rule-test", full_page=True)
        page.get_by_test_id("rule-value").fill("lots")
        page.get_by_test_id("rule-save").click()
        expect(editor.get_by_role("alert")).to_contain_text("value: Input should be a valid number")
        page.get_by_test_id("rule-value").fill("5")
        page.get_by_test_id("rule-save").click()
        slow = page.get_by_test_id("alert-rules").locator("tbody tr", has_text="ui-slow")
        expect(slow).to_contain_text("p95_ms > 5")
        page.get_by_test_id("toggle-ui-slow").click()
        expect(slow).to_contain_text("disabled")
        saved = httpx.get(f"{api}/alert-rules/ui-slow").json()
        assert saved["enabled"] is False and saved["value"] == 5 and saved["service"] == "ui-checkout"

        # Silencing the firing alert from its row.
        firing.get_by_role("button", name="Silence 1h").first.click()
        expect(page.get_by_test_id("silences").locator("tbody tr").first).to_contain_text("service=ui-checkout")
        expect(firing.locator("tbody tr", has_text="ui-checkout").first).to_contain_text(re.compile("silenced"))
        page.wait_for_timeout(500)
        shot(page, "alerts-02-page", full_page=True)
        assert not errors, errors
    finally:
        hook.close()
