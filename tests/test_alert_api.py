"""The alerting API on a real server started with an alerts file: CRUD, 4xx that name the problem,
file-owned objects read-only, secrets masked, silences with expiry, the last-hour dry run."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.server import KokaneeServer
from tests.test_alert_yaml import GOOD
from tests.test_notif_receivers import WebhookReceiver


def _call(server: KokaneeServer, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    r = httpx.request(method, f"{server.api_url}/api/v1{path}", json=body, timeout=60)
    return r.status_code, r.json()


def test_alerting_api(start_kokanee: Callable[..., KokaneeServer], tmp_path: Path) -> None:
    alerts_file = tmp_path / "alerts.yaml"
    alerts_file.write_text(GOOD)
    server = start_kokanee("--alerts-file", str(alerts_file), "--public-url", "https://kokanee.example")

    status, body = _call(server, "GET", "/alert-rules")
    assert status == 200 and body["file"] == str(alerts_file) and body["file_error"] is None
    assert {r["id"]: r["source"] for r in body["rules"]} == {
        "checkout-errors": "file", "slo": "file", "stopped": "file", "declines": "file",
    }  # fmt: skip
    status, body = _call(server, "GET", "/channels")
    channels = {c["id"]: c for c in body["channels"]}
    assert channels["oncall"]["routing_key"] == "***" and channels["team-chat"]["url"].endswith("/***")

    # File-owned objects are read-only here.
    status, body = _call(server, "PUT", "/alert-rules/slo", {"kind": "slo_burn", "objective": 0.99})
    assert status == 409 and "defined in the alerts file" in body["error"]
    status, body = _call(server, "DELETE", "/channels/oncall")
    assert status == 409

    # Bad bodies are 400s that name the field.
    rule = {"id": "cart-slow", "kind": "threshold", "signal": "p95_ms", "service": "cart", "value": 300, "window": "5m"}
    status, body = _call(server, "POST", "/alert-rules", {**rule, "value": "slow"})
    assert status == 400 and "value: Input should be a valid number" in body["error"]
    status, body = _call(server, "POST", "/alert-rules", {**rule, "kind": "nope"})
    assert status == 400 and "'nope'" in body["error"]
    status, body = _call(server, "POST", "/alert-rules", {**rule, "channels": ["nowhere"]})
    assert status == 400 and "no channel with id 'nowhere'" in body["error"]
    status, body = _call(server, "POST", "/channels", {"id": "w", "type": "webhook", "url": "localhost"})
    assert status == 400 and "url: String should match pattern" in body["error"]

    # Create, read, change, dry-run, delete.
    status, body = _call(server, "POST", "/alert-rules", rule)
    assert status == 201 and body["source"] == "api" and body["for"] == "0s"
    assert _call(server, "POST", "/alert-rules", rule)[0] == 409
    status, body = _call(server, "PUT", "/alert-rules/cart-slow", {**rule, "value": 250, "for": "1m"})
    assert status == 200 and body["value"] == 250
    status, body = _call(server, "GET", "/alert-rules/cart-slow")
    assert body["value"] == 250 and body["for"] == "1m"
    status, body = _call(server, "POST", "/alert-rules/cart-slow/test")
    assert status == 200 and body["error"] is None and body["events"] == [] and body["series"] == []
    status, body = _call(server, "POST", "/alert-rules/test", {"id": "x", "kind": "incident"})
    assert status == 200 and body["error"] is None
    assert _call(server, "DELETE", "/alert-rules/cart-slow")[0] == 200
    assert _call(server, "GET", "/alert-rules/cart-slow")[0] == 404

    # Silences expire; expiring one early removes it.
    ends = time.time_ns() + 3_600_000_000_000
    status, body = _call(
        server, "POST", "/silences", {"matchers": {"service": "cart"}, "ends_at": ends, "comment": "deploy"}
    )
    assert status == 201 and body["active"] and body["id"]
    silence_id = body["id"]
    status, body = _call(server, "POST", "/silences", {"matchers": {"service": "cart"}, "ends_at": 5})
    assert status == 400 and "ends_at" in body["error"]
    assert [s["id"] for s in _call(server, "GET", "/silences")[1]["silences"]] == [silence_id]
    assert _call(server, "DELETE", f"/silences/{silence_id}")[0] == 200
    assert _call(server, "GET", "/silences")[1]["silences"] == []

    # A channel's test message goes out at once and says what the receiver answered.
    hook = WebhookReceiver("t0ken")
    try:
        assert (
            _call(server, "POST", "/channels", {"id": "t", "type": "webhook", "url": hook.url, "secret": "t0ken"})[0]
            == 201
        )
        status, body = _call(server, "POST", "/channels/t/test")
        assert status == 200 and body == {"ok": True, "detail": "HTTP 200"}
        assert hook.bodies()[0]["alert"]["rule_id"] == "kokanee-test"
        hook.failing = True
        assert _call(server, "POST", "/channels/t/test")[1] == {"ok": False, "detail": "HTTP 503: down for maintenance"}
    finally:
        hook.close()
    assert _call(server, "POST", "/channels/nope/test")[0] == 404

    assert _call(server, "GET", "/alerts")[1] == {"alerts": []}
    assert _call(server, "GET", "/alerts?state=bogus")[0] == 400
    assert _call(server, "GET", "/notifications")[1] == {"notifications": [], "pending": 0}

    # The file is re-read when it changes; a broken edit keeps the rules in force and says why.
    alerts_file.write_text(GOOD.replace("id: stopped", "id: stopped-reporting"))
    deadline = time.monotonic() + 60
    while "stopped-reporting" not in {r["id"] for r in _call(server, "GET", "/alert-rules")[1]["rules"]}:
        assert time.monotonic() < deadline, "the alerts file was not re-read"
        time.sleep(0.5)
    alerts_file.write_text(GOOD.replace("value: 0.05", "value: lots"))
    while not _call(server, "GET", "/alert-rules")[1]["file_error"]:
        assert time.monotonic() < deadline, "the broken alerts file was not reported"
        time.sleep(0.5)
    body = _call(server, "GET", "/alert-rules")[1]
    assert "rules[0] (id 'checkout-errors').value" in body["file_error"] and len(body["rules"]) == 4
