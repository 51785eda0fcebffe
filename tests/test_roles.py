"""`kokanee serve --role`: each role's process runs only its parts, and split roles over one
ClickHouse store add up to what one process does.

The store is the TEST STAND-IN for a ClickHouse server (tests/chstandin.py: chDB behind ClickHouse's
HTTP interface), so several kokanee processes share it as they would a server.

    ingest ×2 (OTLP by trace id, as the Collector's loadbalancing exporter routes) ─┐
    worker ×1 (service graph, detector, alerts)                                    ├─► stand-in
    query  ×1 (API and UI)                                                         ─┘
"""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from kokanee.config import ConfigError, load_config
from kokanee.derive.servicegraph import MINUTE_NS
from kokanee.store.timeparse import now_ns
from tests.chstandin import Standin, start_standin
from tests.server import KokaneeServer
from tests.test_alert_e2e import _send_errors
from tests.test_servicegraph import NS, T0, S, request
from tests.test_topology_api import EDGES, shop_trace

PROTOBUF = {"Content-Type": "application/x-protobuf"}


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standin]:
    """The stand-in, empty: the nodes start side by side, as an orchestrator starts them, and one of
    them migrates the schema while the others wait for it."""
    server = start_standin(tmp_path_factory.mktemp("clickhouse"))
    yield server
    server.stop()


def _start(nodes: list[KokaneeServer]) -> list[KokaneeServer]:
    """Starts kokanee processes side by side: each `serve` spends seconds importing."""
    with ThreadPoolExecutor(len(nodes)) as pool:
        return list(pool.map(lambda node: node.start(timeout=180), nodes))


@pytest.fixture(scope="module")
def nodes(standin: Standin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, KokaneeServer]]:
    """One `--role all` process on its own embedded store, and two ingest nodes and a query node
    over the stand-in. Workers are started by the tests, which need them at different moments."""
    root = tmp_path_factory.mktemp("nodes")
    store = ("--store", standin.url)
    started = {
        "one": KokaneeServer(root / "one"),
        "ingest_a": KokaneeServer(root / "ingest_a", "--role", "ingest", *store),
        "ingest_b": KokaneeServer(root / "ingest_b", "--role", "ingest", *store),
        "query": KokaneeServer(root / "query", "--role", "query", *store),
    }
    try:
        yield dict(zip(started, _start(list(started.values())), strict=True))
    finally:
        for node in started.values():
            if node.proc is not None:
                node.stop()


@pytest.fixture
def start_worker(standin: Standin, tmp_path: Path) -> Iterator[Callable[..., KokaneeServer]]:
    workers: list[KokaneeServer] = []

    def start(*args: str) -> KokaneeServer:
        worker = KokaneeServer(tmp_path / f"worker{len(workers)}", "--role", "worker", "--store", standin.url, *args)
        workers.append(worker)
        return worker.start(timeout=180)

    yield start
    for worker in workers:
        worker.stop()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _status(node: KokaneeServer, path: str) -> int:
    return httpx.get(f"{node.api_url}{path}", timeout=10).status_code


def test_each_role_runs_only_its_parts(
    nodes: dict[str, KokaneeServer], start_worker: Callable[..., KokaneeServer]
) -> None:
    ingest, query, worker = nodes["ingest_a"], nodes["query"], start_worker()
    for node, role in ((ingest, "ingest"), (query, "query"), (worker, "worker")):
        health = node.get("/api/v1/health")
        assert health["role"] == role and health["status"] == "ok"

    # An ingest node: OTLP receivers, and on its API port only health and metrics.
    assert _listening(ingest.grpc_port) and _listening(ingest.http_port)
    assert "pipeline_pending_bytes" in ingest.get("/api/v1/health")
    for path in ("/api/v1/services", "/api/v1/alerts", "/", "/docs"):
        assert _status(ingest, path) == 404, path
    assert _status(ingest, "/metrics") == 200
    empty = httpx.post(f"{ingest.otlp_http_url}/v1/traces", content=b"", headers=PROTOBUF, timeout=10)
    assert empty.status_code == 200

    # A query node: the API and the UI, no receivers.
    assert not _listening(query.grpc_port) and not _listening(query.http_port)
    assert "pipeline_pending_bytes" not in query.get("/api/v1/health")
    for path in ("/api/v1/services", "/api/v1/alerts", "/", "/docs"):
        assert _status(query, path) == 200, path

    # The worker: no receivers, no API; its jobs are shown by the next test and by its log.
    assert not _listening(worker.grpc_port) and not _listening(worker.http_port)
    assert _status(worker, "/api/v1/services") == 404
    assert _status(worker, "/metrics") == 200


def test_a_role_is_checked_and_the_demo_needs_every_role() -> None:
    """The settings `kokanee serve` validates before it starts anything (it exits 2 with the message)."""
    assert load_config({"role": "worker"}).role == "worker"
    with pytest.raises(ConfigError, match="role: Input should be 'all', 'ingest', 'query' or 'worker'"):
        load_config({"role": "ingester"})
    with pytest.raises(ConfigError, match="the demo runs only with role all"):
        load_config({"role": "query", "demo": True})


def _by_trace(spans: list[S]) -> dict[int, list[S]]:
    traces: dict[int, list[S]] = {}
    for s in spans:
        traces.setdefault(s.trace, []).append(s)
    return traces


def _shard(trace: int, nodes: int) -> int:
    """Which ingest node a trace goes to: a hash of its id, as the loadbalancing exporter routes."""
    return int.from_bytes(hashlib.sha256(trace.to_bytes(16, "big")).digest()[:4], "big") % nodes


def _views(node: KokaneeServer, window: tuple[int, int]) -> dict[str, Any]:
    """What a user reads for the window: the map with RED and health, each service, the operations
    (lists in a fixed order: which node answers first is not part of the comparison)."""
    start, end = window
    topo: dict[str, Any] = node.get("/api/v1/topology", start=start, end=end)
    topo["nodes"].sort(key=lambda n: n["name"])
    topo["edges"].sort(key=lambda e: (e["source"], e["target"]))
    return {
        "topology": topo,
        "services": {n["name"]: node.get(f"/api/v1/services/{n['name']}", start=start, end=end)["red"]
                     for n in topo["nodes"] if n["type"] == "service"},
        "operations": node.get("/api/v1/operations", start=start, end=end),
    }  # fmt: skip


def _settled(node: KokaneeServer, window: tuple[int, int]) -> dict[str, Any]:
    """The views once the deriver has closed both minutes: every edge of the map, with all 40 calls
    from frontend to cart (the deriver closes a minute at a time)."""
    deadline = time.monotonic() + 120
    while True:
        views = _views(node, window)
        edges = {(e["source"], e["target"]): e["red"]["requests"] for e in views["topology"]["edges"]}
        if (set(edges) == EDGES and edges[("frontend", "cart")] == 40) or time.monotonic() > deadline:
            return views
        time.sleep(0.5)


def test_split_roles_over_one_store_match_one_process(
    nodes: dict[str, KokaneeServer], start_worker: Callable[..., KokaneeServer]
) -> None:
    """Two ingest nodes (traces routed by id), one worker and one query node over the stand-in show
    the same map, RED and operations as one `--role all` process given the same spans."""
    one, ingest_a, ingest_b, query = nodes["one"], nodes["ingest_a"], nodes["ingest_b"], nodes["query"]
    base = (now_ns() // MINUTE_NS - 10) * MINUTE_NS
    shift = (base - T0) / NS
    # 40 purchases over two minutes; every fifth fails in cart and checkouts take 20 to 200 ms.
    spans = [
        s for i in range(40)
        for s in shop_trace(9000 + i, shift + 1 + i * 3, cart_error=i % 5 == 0, checkout_ms=20 + (i % 7) * 30)
    ]  # fmt: skip
    shards: list[list[S]] = [[], []]
    for trace, trace_spans in _by_trace(spans).items():
        shards[_shard(trace, 2)].extend(trace_spans)
    assert all(shards)  # both ingest nodes get traces
    for node, part in ((one, spans), (ingest_a, shards[0]), (ingest_b, shards[1])):
        body = request(*part).SerializeToString()
        r = httpx.post(f"{node.otlp_http_url}/v1/traces", content=body, headers=PROTOBUF, timeout=30)
        assert r.status_code == 200
    # The worker starts once every span is stored, as one process's deriver pairs a minute once its
    # wait has passed (spans later than that are counted late, not paired, in both set-ups). Until
    # then the query node shows RED but no service-graph edges.
    query.wait_for("SELECT count() AS n FROM otel_traces", lambda rows: rows[0]["n"] == len(spans))
    window = (base, base + 3 * MINUTE_NS)
    assert query.get("/api/v1/topology", start=window[0], end=window[1])["edges"] == []
    worker = start_worker()

    single = _settled(one, window)
    split = _settled(query, window)
    assert {(e["source"], e["target"]) for e in split["topology"]["edges"]} == EDGES
    cart = next(e for e in split["topology"]["edges"] if e["target"] == "cart")
    assert cart["red"]["requests"] == 40 and cart["red"]["errors"] == 8
    assert split == single
    assert worker.get("/api/v1/health")["role"] == "worker"


def test_the_worker_fires_rules_made_on_a_query_node_and_the_query_node_shows_them(
    nodes: dict[str, KokaneeServer], start_worker: Callable[..., KokaneeServer]
) -> None:
    ingest, query = nodes["ingest_b"], nodes["query"]
    rule = {
        "id": "roles-errors", "kind": "threshold", "signal": "error_rate", "service": "roles-pay",
        "op": ">", "value": 0.5, "window": "1m", "severity": "critical",
    }  # fmt: skip
    created = httpx.post(f"{query.api_url}/api/v1/alert-rules", json=rule, timeout=30)
    assert created.status_code == 201, created.text
    start_worker("--alert-interval-s", "1")
    # Errors in the last closed minute (closed 10 s after it ends), with at least 30 s of it left.
    while (time.time() - 10) % 60 > 30:
        time.sleep(1)
    last_closed = int((time.time() - 10) // 60 * 60)
    _send_errors(ingest, "roles-pay", (last_closed - 30) * NS)
    deadline = time.monotonic() + 90
    firing: list[dict[str, Any]] = []
    while not firing and time.monotonic() < deadline:
        alerts = query.get("/api/v1/alerts", state="active")["alerts"]
        firing = [a for a in alerts if a["rule_id"] == "roles-errors" and a["state"] == "firing"]
        time.sleep(1)
    assert firing and firing[0]["labels"] == {"service": "roles-pay"}
