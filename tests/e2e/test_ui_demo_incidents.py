"""A newcomer's first minutes in a real browser (Debian chromium driven by Playwright): `kokanee serve
--demo` sends the shop's history and runs it with a fault; the Incidents page then lists the
incident, and the incident's page ranks the faulty service first, with its evidence.

The demo is shortened through its variables (15 minutes of history, the fault in it) so the test
takes about a minute and a half instead of the default's few minutes; the path is the same.
Screenshots land in tests/e2e/artifacts/."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from kokanee.demo.serve import FAULTS_ENV, HISTORY_ENV
from tests.e2e.browser import expect, open_page, shot
from tests.server import KokaneeServer

# Long enough for a bad day: a loaded two-core machine sends the 15 minutes in well under this.
_WAIT_FOR_INCIDENT_S = 240


def test_demo_shows_an_incident_with_its_cause(start_kokanee: Callable[..., KokaneeServer], browser: Any) -> None:
    started_ns = time.time_ns()
    server = start_kokanee("--demo", env={HISTORY_ENV: "15m", FAULTS_ENV: "payment_failure=1@-4m:2m"})
    page, errors = open_page(browser, height=1000)

    def judged_past_the_fault() -> bool:
        # The fault ended two minutes before the demo's start: once the detector is past it, the
        # incident spans the whole fault and its causes are ranked over all of it, not its first minute.
        judged = server.get("/api/v1/anomalies", start="now-1m")["judged_until_unix_nano"] or 0
        return bool(judged >= started_ns - 60 * 10**9)

    # The user's path: open Incidents and look again until the detector has found the fault.
    page.goto(f"{server.api_url}/incidents?range=1h")
    expect(page.get_by_role("heading", name="Incidents")).to_be_visible()
    listing = page.get_by_test_id("incident-list")
    payment_row = listing.locator("tr", has_text="payment")
    deadline = time.monotonic() + _WAIT_FOR_INCIDENT_S
    while payment_row.count() == 0 or not judged_past_the_fault():
        if time.monotonic() >= deadline:  # a limit on the wait, not a timing claim
            pytest.fail(f"no incident after {_WAIT_FOR_INCIDENT_S} s:\n{server.log()[-3000:]}")
        page.wait_for_timeout(3000)
        page.reload()
        page.get_by_role("heading", name="Incidents").wait_for()
        page.wait_for_load_state("networkidle")
    shot(page, "demo-01-incidents")
    assert "demo: sent 15 minutes of history" in server.log()

    payment_row.first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/incidents/inc-"))
    expect(page.get_by_test_id("affected-services")).to_contain_text("payment")
    incident_id = page.url.rsplit("/", 1)[1].split("?")[0]

    # The ranked causes: the faulty service first, with evidence.
    detail = server.get(f"/api/v1/incidents/{incident_id}")
    assert detail["causes"] and detail["causes"][0]["service"] == "payment", detail["causes"]
    assert detail["causes"][0]["evidence"], detail["causes"][0]
    first = page.get_by_test_id("cause").first
    expect(first).to_contain_text("#1 payment")
    expect(first.locator("ul.evidence li").first).to_be_visible()
    page.wait_for_timeout(500)
    shot(page, "demo-02-incident", full_page=True)
    assert not errors, errors
