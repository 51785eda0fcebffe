"""Sparklines of the services table: every service's rate, error rate and p95 in equal steps,
read from `kokanee_service_red_1m` over the shop of test_topology_api (its `api` fixture):

    minute -3: 20 purchases, all fine (checkout 20 ms, frontend 100 ms)
    minute  0: 20 purchases, cart fails every other one, checkout takes 800 ms
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from kokanee.derive.servicegraph import MINUTE_NS
from tests.test_topology_api import api, get  # noqa: F401  (api is a fixture used by name)

NS = 1_000_000_000
SERVICES = {"frontend", "cart", "checkout", "accounting"}  # entry spans only: no databases, no queue


def sparklines(client: TestClient, t0: int, points: int) -> Any:
    """The ten minutes around the shop's two busy minutes: [t0 - 5m, t0 + 5m)."""
    return get(client, "/api/v1/services/sparklines", start=t0 - 5 * MINUTE_NS, end=t0 + 5 * MINUTE_NS, points=points)


def test_steps_hold_rate_errors_and_p95(api: tuple[TestClient, int]) -> None:  # noqa: F811
    client, t0 = api
    answer = sparklines(client, t0, points=5)
    assert answer["step_seconds"] == 120  # ten minutes in five steps of whole minutes
    assert set(answer["services"]) == SERVICES
    cart = answer["services"]["cart"]
    assert cart["t"] == [t0 // NS - 300 + 120 * i for i in range(5)]
    # 20 requests in a 120 s step; steps without requests read 0 and a null p95.
    assert cart["rate"] == [0, pytest.approx(20 / 120, abs=1e-4), pytest.approx(20 / 120, abs=1e-4), 0, 0]
    assert cart["error_rate"] == [0, 0, 0.5, 0, 0]
    assert [p is None for p in cart["p95_ms"]] == [True, False, False, True, True]
    checkout = answer["services"]["checkout"]["p95_ms"]
    # Quantiles come from the histograms: within one bucket (4.5%) of the 20 ms and 800 ms sent.
    assert checkout[1:3] == [pytest.approx(20, rel=0.045), pytest.approx(800, rel=0.045)]
    assert answer["services"]["frontend"]["p95_ms"][1] == pytest.approx(100, rel=0.045)


def test_one_minute_steps_when_points_allow(api: tuple[TestClient, int]) -> None:  # noqa: F811
    client, t0 = api
    answer = sparklines(client, t0, points=30)
    assert answer["step_seconds"] == 60  # never finer than the per-minute data
    frontend = answer["services"]["frontend"]
    assert len(frontend["t"]) == len(frontend["rate"]) == len(frontend["p95_ms"]) == 10
    assert [i for i, rate in enumerate(frontend["rate"]) if rate] == [2, 5]  # minutes -3 and 0
    assert frontend["rate"][2] == pytest.approx(20 / 60, abs=1e-4)


def test_a_window_without_requests_has_no_services(api: tuple[TestClient, int]) -> None:  # noqa: F811
    client, t0 = api
    quiet = get(client, "/api/v1/services/sparklines", start=t0 - 60 * MINUTE_NS, end=t0 - 50 * MINUTE_NS)
    assert quiet == {"step_seconds": 60, "services": {}}


def test_a_bad_points_is_a_400(api: tuple[TestClient, int]) -> None:  # noqa: F811
    client, t0 = api
    for points in ("0", "1", "501", "many"):
        r = client.get("/api/v1/services/sparklines", params={"start": t0, "end": t0 + MINUTE_NS, "points": points})
        assert r.status_code == 400 and "points" in r.json()["error"], points
