"""The service map and service APIs on a small shop: in-process (a tiny app over the shared chDB,
deriver run with a fixed now), then through a real `kokanee serve` with its own deriver.

    user ─► frontend ─► cart ─► valkey-cart (redis)
                     └► checkout ─► postgresql
                                 └► kafka/orders ─► accounting
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from kokanee.api.routes_topology import router
from kokanee.derive.runner import Deriver
from kokanee.derive.servicegraph import MINUTE_NS
from kokanee.store.client import Store
from kokanee.store.timeparse import now_ns
from tests.api_client import api_client
from tests.server import KokaneeServer
from tests.test_servicegraph import T0, TABLES, S, request

NS = 1_000_000_000
KAFKA = {"messaging.system": "kafka", "messaging.destination.name": "orders", "server.address": "kafka"}
REDIS = {"db.system.name": "redis", "db.namespace": "0", "server.address": "valkey-cart"}
POSTGRES = {"db.system.name": "postgresql", "db.namespace": "otel", "server.address": "postgresql"}


def shop_trace(trace: int, at: float, cart_error: bool = False, checkout_ms: float = 20) -> list[S]:
    """One purchase at `at` seconds after the test's T0 (see `test_servicegraph.request`)."""
    return [
        S("frontend", "server", 1, None, at, 100, trace=trace),
        S("frontend", "client", 2, 1, at + 0.001, 15, trace=trace),
        S("cart", "server", 3, 2, at + 0.002, 12, error=cart_error, trace=trace),
        S("cart", "client", 4, 3, at + 0.003, 1, attrs=REDIS, trace=trace),
        S("frontend", "client", 5, 1, at + 0.02, checkout_ms + 5, trace=trace),
        S("checkout", "server", 6, 5, at + 0.021, checkout_ms, trace=trace),
        S("checkout", "client", 7, 6, at + 0.022, 2, attrs=POSTGRES, trace=trace),
        S("checkout", "producer", 8, 6, at + 0.025, 1, attrs=KAFKA, trace=trace),
        S("accounting", "consumer", 9, 8, at + 0.05, 3, attrs=KAFKA, trace=trace),
    ]  # fmt: skip


NODES = {
    "user": "user",
    "frontend": "service",
    "cart": "service",
    "checkout": "service",
    "accounting": "service",
    "valkey-cart": "database",
    "postgresql": "database",
    "kafka/orders": "messaging",
}
EDGES = {
    ("user", "frontend"),
    ("frontend", "cart"),
    ("cart", "valkey-cart"),
    ("frontend", "checkout"),
    ("checkout", "postgresql"),
    ("checkout", "kafka/orders"),
    ("kafka/orders", "accounting"),
}


@pytest.fixture
def api(chdb_store: Store, tmp_path: Path) -> tuple[TestClient, int]:
    """A tiny app over the shared chDB holding a baseline minute (healthy) and a faulty minute
    (cart fails half its requests, checkout is 40x slower); returns it and the faulty minute."""
    for table in (*TABLES, "kokanee_service_edges_1m", "kokanee_derive_state"):
        chdb_store.command(f"TRUNCATE TABLE IF EXISTS {table}")
    t0 = T0  # spans are placed relative to it
    spans = [s for i in range(20) for s in shop_trace(100 + i, -180 + i)]
    spans += [s for i in range(20) for s in shop_trace(200 + i, 1 + i, cart_error=i % 2 == 0, checkout_ms=800)]
    chdb_store.insert_otlp("traces", [request(*spans).SerializeToString()], uuid.uuid4().hex, tmp_path)
    assert Deriver(chdb_store).run_once(t0 + MINUTE_NS + 10 * NS) == 2
    return api_client(chdb_store, router), t0


def get(client: TestClient, path: str, **params: Any) -> Any:
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_topology_nodes_edges_and_health(api: tuple[TestClient, int]) -> None:
    client, t0 = api
    topo = get(client, "/api/v1/topology", start=t0, end=t0 + MINUTE_NS)
    nodes = {n["name"]: n for n in topo["nodes"]}
    assert {name: n["type"] for name, n in nodes.items()} == NODES
    assert {(e["source"], e["target"]) for e in topo["edges"]} == EDGES
    assert nodes["cart"]["red"]["requests"] == 20
    assert nodes["cart"]["health"] == {"status": "critical", "reason": "error rate 50% > 5% SLO"}
    assert nodes["checkout"]["health"]["status"] == "critical"
    # Latencies come from histograms: within one bucket (4.4%) of the 800 ms and 20 ms sent.
    found = re.fullmatch(r"p95 (\d+) ms vs (\d+) ms baseline", nodes["checkout"]["health"]["reason"])
    assert found, nodes["checkout"]["health"]
    assert (float(found[1]), float(found[2])) == (pytest.approx(800, rel=0.045), pytest.approx(20, rel=0.045))
    for healthy in ("valkey-cart", "postgresql", "kafka/orders", "accounting"):
        assert nodes[healthy]["health"]["status"] == "healthy", nodes[healthy]
    edges = {(e["source"], e["target"]): e for e in topo["edges"]}
    assert edges[("frontend", "cart")]["red"]["errors"] == 10
    assert edges[("frontend", "cart")]["health"]["status"] == "critical"
    assert edges[("frontend", "checkout")]["red"]["p50_ms"] == pytest.approx(805, rel=0.045)


def test_service_detail(api: tuple[TestClient, int]) -> None:
    client, t0 = api
    cart = get(client, "/api/v1/services/cart", start=t0 - 5 * MINUTE_NS, end=t0 + MINUTE_NS, step="1m")
    assert cart["type"] == "service" and cart["step_ns"] == MINUTE_NS
    assert [(p["time_unix_nano"] - t0) // MINUTE_NS for p in cart["series"]] == [-3, 0]
    assert [p["errors"] for p in cart["series"]] == [0, 10]
    assert [(e["source"], e["target"]) for e in cart["upstream"]] == [("frontend", "cart")]
    assert [(e["source"], e["target"]) for e in cart["downstream"]] == [("cart", "valkey-cart")]
    assert [(o["operation"], o["kind"], o["requests"]) for o in cart["operations"]] == [("cart server", "Server", 40)]
    r = client.get("/api/v1/services/nowhere", params={"start": t0, "end": t0 + MINUTE_NS})
    assert r.status_code == 404 and "nowhere" in r.json()["error"]


def test_operations(api: tuple[TestClient, int]) -> None:
    client, t0 = api
    ops = get(client, "/api/v1/operations", service="checkout", start=t0, end=t0 + MINUTE_NS)["operations"]
    assert [(o["service"], o["operation"], o["requests"]) for o in ops] == [("checkout", "checkout server", 20)]
    everyone = get(client, "/api/v1/operations", start=t0, end=t0 + MINUTE_NS)["operations"]
    assert {o["service"] for o in everyone} == {"frontend", "cart", "checkout", "accounting"}
    assert client.get("/api/v1/topology", params={"start": "yesterday"}).status_code == 400


def test_edge_detail_has_red_series_and_sample_traces(api: tuple[TestClient, int]) -> None:
    """Clicking an edge on the map: its RED over time and the calls that made it, failures first."""
    client, t0 = api
    window = {"start": t0 - 5 * MINUTE_NS, "end": t0 + MINUTE_NS, "step": "1m"}
    cart = get(client, "/api/v1/edges", source="frontend", target="cart", **window)
    assert cart["health"]["status"] == "critical" and cart["red"]["errors"] == 10
    assert [(p["time_unix_nano"] - t0) // MINUTE_NS for p in cart["series"]] == [-3, 0]
    assert [p["errors"] for p in cart["series"]] == [0, 10]
    samples = cart["traces"]
    assert len(samples) == 20 and {s["service"] for s in samples} == {"cart"}
    assert [s["status"] for s in samples[:10]] == ["Error"] * 10 and "Error" not in {s["status"] for s in samples[10:]}
    # Every kind of edge finds the span that shows the call.
    for source, target, service, kind in [
        ("user", "frontend", "frontend", "Server"),
        ("cart", "valkey-cart", "cart", "Client"),
        ("checkout", "kafka/orders", "checkout", "Producer"),
        ("kafka/orders", "accounting", "accounting", "Consumer"),
        ("frontend", "checkout", "checkout", "Server"),
    ]:
        edge = get(client, "/api/v1/edges", source=source, target=target, start=t0, end=t0 + MINUTE_NS, limit=5)
        assert [(s["service"], s["kind"]) for s in edge["traces"]] == [(service, kind)] * 5, (source, target)
    slow = get(client, "/api/v1/edges", source="frontend", target="checkout", start=t0, end=t0 + MINUTE_NS)
    assert slow["traces"][0]["duration_ms"] == pytest.approx(800, rel=0.01)
    missing = client.get("/api/v1/edges", params={"source": "cart", "target": "accounting", "start": t0})
    assert missing.status_code == 404 and "accounting" in missing.json()["error"]
    no_target = client.get("/api/v1/edges", params={"source": "cart"})
    assert no_target.status_code == 400 and "target" in no_target.json()["error"]


def test_the_server_derives_the_map(start_kokanee: Callable[..., KokaneeServer]) -> None:
    """Through OTLP/HTTP into a fresh server; its deriver closes the (past) minute on its own."""
    server = start_kokanee()
    base = (now_ns() // MINUTE_NS - 10) * MINUTE_NS
    shift = (base - T0) / NS
    spans = [s for i in range(10) for s in shop_trace(300 + i, shift + 1 + i)]
    r = httpx.post(
        f"{server.otlp_http_url}/v1/traces",
        content=request(*spans).SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert r.status_code == 200
    deadline = time.monotonic() + 60
    while True:
        topo = server.get("/api/v1/topology", start=base, end=base + MINUTE_NS)
        if {(e["source"], e["target"]) for e in topo["edges"]} == EDGES or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert {(e["source"], e["target"]) for e in topo["edges"]} == EDGES
    assert {n["name"]: n["type"] for n in topo["nodes"]} == NODES
