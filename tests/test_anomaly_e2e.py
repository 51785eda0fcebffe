"""End to end: the demo shop sends a stretch of normal traffic and then an error burst to a real
kokanee server; its detector, running on its own schedule, reports anomalies and an incident
through the API, and the incident takes feedback on its causes."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from kokanee.demo.runner import DemoConfig, DemoRun
from kokanee.demo.schedule import parse_fault
from tests.server import KokaneeServer

MIN_NS = 60_000_000_000


def _poll(fetch: Callable[[], Any], until: Callable[[Any], bool], timeout: float = 300.0) -> Any:
    deadline = time.monotonic() + timeout
    value = fetch()
    while not until(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last answer: {str(value)[:2000]}")
        time.sleep(2)
        value = fetch()
    return value


# A hang guard, not a speed check: 24 backfilled minutes are judged one by one, slowly on a busy machine.
@pytest.mark.timeout(900)
def test_demo_error_burst_yields_anomalies_and_an_incident(start_kokanee: Callable[..., KokaneeServer]) -> None:
    server = start_kokanee()
    run = DemoRun(
        DemoConfig(
            endpoint=server.otlp_http_url,
            api_url=server.api_url,
            # One journey in 23 is a checkout: at 8 a second, ~16 payments a minute, so each minute of
            # the burst has the 3 failed payments an error-rate anomaly needs. At 2 a second (~4 a
            # minute) a minute with 2 payments now and then went unflagged and the incident resolved
            # a minute early.
            rate=8,
            duration_s=24 * 60,
            seed=5,
            realtime=False,
            faults=(parse_fault("payment_failure=1@+12m:3m"),),
            run_id=f"anomaly-e2e-{uuid.uuid4().hex[:8]}",
            export_interval_s=30,
        )
    )
    run.run(threading.Event())
    origin = run.origin_ns
    fault_lo, fault_hi = origin + 12 * MIN_NS, origin + 15 * MIN_NS
    window = {"start": str(origin - MIN_NS), "end": str(origin + 30 * MIN_NS)}

    answer = _poll(
        lambda: server.get("/api/v1/incidents", **window),
        lambda a: any("payment" in i["services"] for i in a["incidents"]),
    )
    incident = next(i for i in answer["incidents"] if "payment" in i["services"])
    # Opened at the burst, or up to the confirmation window earlier when a warning of one of its
    # services came just before.
    assert fault_lo - 3 * MIN_NS <= incident["opened_unix_nano"] <= fault_lo + 2 * MIN_NS, (incident, origin)
    assert incident["severity"] == "critical" and "checkout" in incident["services"], incident

    payment = server.get("/api/v1/anomalies", service="payment", **window)["anomalies"]
    errors = [a for a in payment if a["metric"] == "error_rate" and a["signal"] == "red"]
    assert errors and all(fault_lo - MIN_NS <= a["time_unix_nano"] < fault_hi + MIN_NS for a in errors), (
        errors,
        origin,
    )
    assert max(a["actual"] for a in errors) > 0.9 and min(a["expected"] for a in errors) < 0.05
    # Before the fault, payment was judged (enough history from minute 10) and found normal.
    assert not [a for a in payment if origin + 10 * MIN_NS <= a["time_unix_nano"] < fault_lo - MIN_NS], payment

    detail = server.get(f"/api/v1/incidents/{incident['id']}")
    assert detail["timeline"] and incident["id"] in {a["incident_id"] for a in detail["timeline"]}
    assert {a["service"] for a in detail["timeline"]} <= set(incident["services"])
    assert "payment" in {s["service"] for s in detail["affected_services"]}
    assert isinstance(detail["causes"], list)

    # The incident resolves by itself once the services recover (after five quiet minutes).
    resolved = _poll(
        lambda: server.get(f"/api/v1/incidents/{incident['id']}"),
        lambda d: d["status"] == "resolved",
    )
    # (An anomaly of an affected service within the merge gap after the burst still joins it.)
    assert fault_hi - MIN_NS <= resolved["resolved_unix_nano"] <= fault_hi + 6 * MIN_NS, (resolved, origin)

    url = f"{server.api_url}/api/v1/incidents/{incident['id']}/feedback"
    r = httpx.post(url, json={"service": "payment", "operation": None, "useful": True}, timeout=30)
    assert r.status_code == 200, r.text
    feedback = server.get(f"/api/v1/incidents/{incident['id']}")["feedback"]
    assert feedback == [{"service": "payment", "operation": "", "useful": 1, "not_useful": 0}]


def test_anomaly_api_rejects_bad_input(kokanee_server: KokaneeServer) -> None:
    base = f"{kokanee_server.api_url}/api/v1"
    r = httpx.get(f"{base}/incidents", params={"status": "closed"}, timeout=30)
    assert r.status_code == 400 and "status must be open or resolved" in r.json()["error"]
    r = httpx.get(f"{base}/anomalies", params={"severity": "bad"}, timeout=30)
    assert r.status_code == 400 and "severity" in r.json()["error"]
    r = httpx.get(f"{base}/anomalies", params={"start": "now", "end": "now-1h"}, timeout=30)
    assert r.status_code == 400
    r = httpx.get(f"{base}/incidents/inc-nope", timeout=30)
    assert r.status_code == 404 and "not found" in r.json()["error"]
    r = httpx.post(f"{base}/incidents/inc-nope/feedback", json={"service": "x", "useful": True}, timeout=30)
    assert r.status_code == 404
    r = httpx.post(f"{base}/incidents/inc-nope/feedback", json={"useful": "maybe"}, timeout=30)
    assert r.status_code == 400 and "service" in r.json()["error"]
