"""The demo against a real kokanee: its services, relationships, logs, metrics and faults are in the store."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from kokanee.demo.runner import DemoConfig, DemoRun
from kokanee.demo.schedule import parse_fault
from kokanee.demo.topology import SERVICES
from tests.server import KokaneeServer


def _run(server: KokaneeServer, protocol: str = "http", faults: tuple[str, ...] = ()) -> DemoRun:
    endpoint = server.otlp_http_url if protocol == "http" else f"http://{server.otlp_grpc_endpoint}"
    config = DemoConfig(
        endpoint=endpoint,
        protocol=protocol,
        api_url=server.api_url,
        rate=5,
        duration_s=40,
        seed=3,
        realtime=False,
        faults=tuple(parse_fault(f) for f in faults),
        run_id=f"e2e-{uuid.uuid4().hex[:8]}",
        export_interval_s=60,
    )
    run = DemoRun(config)
    run.run(threading.Event())
    return run


@pytest.fixture(scope="module")
def demo(kokanee_server: KokaneeServer) -> tuple[KokaneeServer, DemoRun]:
    run = _run(kokanee_server, faults=("payment_failure=1@+10s:20s",))
    kokanee_server.wait_for(
        f"SELECT count() AS n FROM otel_traces WHERE ResourceAttributes['kokanee.demo.run'] = '{run.run_id}'",
        lambda rows: rows[0]["n"] == run.sim.stats.spans,
        timeout=60,
    )
    return kokanee_server, run


def _q(demo: tuple[KokaneeServer, DemoRun], sql: str) -> list[dict[str, Any]]:
    server, run = demo
    return server.query(sql.replace("$RUN", f"ResourceAttributes['kokanee.demo.run'] = '{run.run_id}'"))


def test_all_services_are_stored(demo: tuple[KokaneeServer, DemoRun]) -> None:
    rows = _q(demo, "SELECT DISTINCT ServiceName AS s FROM otel_traces WHERE $RUN")
    assert {r["s"] for r in rows} == set(SERVICES)


def test_call_relationships_databases_and_kafka_are_stored(demo: tuple[KokaneeServer, DemoRun]) -> None:
    rows = _q(
        demo,
        """
        SELECT DISTINCT c.ServiceName AS caller, s.ServiceName AS callee
        FROM otel_traces AS s
        INNER JOIN otel_traces AS c ON s.TraceId = c.TraceId AND s.ParentSpanId = c.SpanId
        WHERE s.SpanKind IN ('Server', 'Consumer') AND s.$RUN AND c.$RUN
    """,
    )
    edges = {(r["caller"], r["callee"]) for r in rows}
    assert {
        ("frontend", "checkout"),
        ("checkout", "payment"),
        ("checkout", "accounting"),
        ("checkout", "fraud-detection"),
        ("recommendation", "product-catalog"),
        ("shipping", "quote"),
    } <= edges
    db = _q(
        demo,
        """
        SELECT DISTINCT ServiceName AS s, SpanAttributes['db.system.name'] AS db,
            SpanAttributes['server.address'] AS host
        FROM otel_traces WHERE $RUN AND SpanAttributes['db.system.name'] != ''
    """,
    )
    assert {(r["s"], r["db"], r["host"]) for r in db} >= {
        ("product-catalog", "postgresql", "postgresql"),
        ("cart", "redis", "valkey-cart"),
    }
    kafka = _q(
        demo,
        """
        SELECT SpanKind AS k, count() AS n FROM otel_traces
        WHERE $RUN AND SpanAttributes['messaging.system'] = 'kafka'
            AND SpanAttributes['messaging.destination.name'] = 'orders'
        GROUP BY k
    """,
    )
    counts = {r["k"]: r["n"] for r in kafka}
    assert counts["Producer"] > 0 and counts["Consumer"] == 2 * counts["Producer"]


def test_payment_failure_is_in_the_stored_traces_and_labels(demo: tuple[KokaneeServer, DemoRun]) -> None:
    server, run = demo
    rows = _q(
        demo,
        """
        SELECT co.StatusCode AS checkout, cl.StatusCode AS client, p.StatusCode AS payment,
            p.Events.Name AS events
        FROM otel_traces AS p
        INNER JOIN otel_traces AS cl ON p.TraceId = cl.TraceId AND p.ParentSpanId = cl.SpanId
        INNER JOIN otel_traces AS co ON cl.TraceId = co.TraceId AND cl.ParentSpanId = co.SpanId
        WHERE p.ServiceName = 'payment' AND p.SpanKind = 'Server' AND p.$RUN
    """,
    )
    failed = [r for r in rows if r["payment"] == "Error"]
    assert failed and any(r["payment"] != "Error" for r in rows), "only the scheduled window fails"
    assert all(r["client"] == "Error" and r["checkout"] == "Error" and "exception" in r["events"] for r in failed)
    labels = server.wait_for(
        "SELECT Kind, ServiceName, toUnixTimestamp64Nano(Start) AS s, "
        "toUnixTimestamp64Nano(assumeNotNull(End)) AS e "
        f"FROM kokanee_fault_labels FINAL WHERE Detail LIKE '%run={run.run_id}%' AND End IS NOT NULL",
        lambda rows: len(rows) == 1,
    )
    assert labels[0]["Kind"] == "payment_failure" and labels[0]["ServiceName"] == "payment"
    assert int(labels[0]["e"]) - int(labels[0]["s"]) == 20_000_000_000


def test_logs_are_stored_with_trace_context(demo: tuple[KokaneeServer, DemoRun]) -> None:
    server, run = demo
    rows = server.wait_for(
        "SELECT ServiceName AS s, SeverityText AS sev, count() AS n, "
        "countIf(TraceId != '' AND SpanId != '') AS ctx "
        f"FROM otel_logs WHERE ResourceAttributes['kokanee.demo.run'] = '{run.run_id}' GROUP BY s, sev",
        lambda rows: sum(r["n"] for r in rows) == run.sim.stats.logs,
    )
    assert all(r["n"] == r["ctx"] for r in rows)
    assert ("payment", "ERROR") in {(r["s"], r["sev"]) for r in rows}


def test_metrics_are_stored(demo: tuple[KokaneeServer, DemoRun]) -> None:
    server, run = demo
    rows = server.wait_for(
        f"SELECT DISTINCT MetricName AS m, ServiceName AS s FROM otel_metrics_histogram "
        f"WHERE ResourceAttributes['kokanee.demo.run'] = '{run.run_id}'",
        lambda rows: {"http.server.request.duration", "rpc.server.duration"} <= {r["m"] for r in rows},
    )
    assert ("rpc.server.duration", "payment") in {(r["m"], r["s"]) for r in rows}
    gauges = server.wait_for(
        f"SELECT DISTINCT MetricName AS m FROM otel_metrics_gauge "
        f"WHERE ResourceAttributes['kokanee.demo.run'] = '{run.run_id}'",
        lambda rows: len(rows) >= 4,
    )
    assert {
        "process.cpu.utilization",
        "process.memory.usage",
        "kafka.consumer_group.lag",
        "cache.hit_ratio",
    } <= {r["m"] for r in gauges}


def test_grpc_protocol(kokanee_server: KokaneeServer) -> None:
    run = _run(kokanee_server, protocol="grpc")
    kokanee_server.wait_for(
        f"SELECT count() AS n FROM otel_traces WHERE ResourceAttributes['kokanee.demo.run'] = '{run.run_id}'",
        lambda rows: rows[0]["n"] == run.sim.stats.spans,
        timeout=60,
    )
