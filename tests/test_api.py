"""The query API on data sent through OTLP: search filters, logs, services, metrics, self-metrics."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.server import KokaneeServer

PB = {"Content-Type": "application/x-protobuf"}
MS = 1_000_000


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


@pytest.fixture(scope="module")
def shop(kokanee_server: KokaneeServer) -> dict[str, Any]:
    """Three traces of a two-service shop: fast, slow, and failing; logs for the failing one."""
    suffix = uuid.uuid4().hex[:6]
    front, pay = f"front-{suffix}", f"pay-{suffix}"
    now = time.time_ns() - 60_000 * MS
    traces = {name: uuid.uuid4().bytes for name in ("fast", "slow", "failing")}
    req = ExportTraceServiceRequest()
    for service in (front, pay):
        rs = req.resource_spans.add()
        rs.resource.attributes.append(_kv("service.name", service))
        spans = rs.scope_spans.add().spans
        for i, (name, trace_id) in enumerate(traces.items()):
            start = now + i * 1000 * MS
            length = {"fast": 20, "slow": 900, "failing": 50}[name] * MS
            if service == front:
                span = spans.add(trace_id=trace_id, span_id=bytes([1, i + 1] * 4), name="GET /checkout", kind=2)
                span.attributes.append(_kv("http.route", "/checkout"))
            else:
                span = spans.add(
                    trace_id=trace_id, span_id=bytes([2, i + 1] * 4), parent_span_id=bytes([1, i + 1] * 4),
                    name="Charge", kind=2,
                )  # fmt: skip
                span.attributes.append(_kv("payment.currency", "EUR" if name != "slow" else "USD"))
                start, length = start + 5 * MS, length - 10 * MS
            span.start_time_unix_nano, span.end_time_unix_nano = start, start + length
            if name == "failing" and service == pay:
                span.status.code, span.status.message = 2, "card declined"
    assert (
        httpx.post(f"{kokanee_server.otlp_http_url}/v1/traces", content=req.SerializeToString(), headers=PB).status_code
        == 200
    )
    logs = ExportLogsServiceRequest()
    rl = logs.resource_logs.add()
    rl.resource.attributes.append(_kv("service.name", pay))
    records = rl.scope_logs.add().log_records
    records.add(time_unix_nano=now + 2000 * MS, severity_number=17, severity_text="ERROR",
                body=AnyValue(string_value="Card DECLINED for order 42"), trace_id=traces["failing"])  # fmt: skip
    records.add(time_unix_nano=now + 2001 * MS, severity_number=9, severity_text="INFO",
                body=AnyValue(string_value="retrying charge"), trace_id=traces["failing"])  # fmt: skip
    assert (
        httpx.post(f"{kokanee_server.otlp_http_url}/v1/logs", content=logs.SerializeToString(), headers=PB).status_code
        == 200
    )
    kokanee_server.wait_for(
        f"SELECT count() AS n FROM otel_traces WHERE ServiceName IN ('{front}', '{pay}')", lambda r: r[0]["n"] == 6
    )
    kokanee_server.wait_for(f"SELECT count() AS n FROM otel_logs WHERE ServiceName = '{pay}'", lambda r: r[0]["n"] == 2)
    return {"front": front, "pay": pay, "ids": {k: v.hex() for k, v in traces.items()}}


def search(server: KokaneeServer, **params: Any) -> list[dict[str, Any]]:
    return list(server.get("/api/v1/traces", start="now-2h", **params)["traces"])


def test_trace_search_rows_describe_whole_traces(kokanee_server: KokaneeServer, shop: dict[str, Any]) -> None:
    rows = search(kokanee_server, service=shop["pay"])
    assert [r["trace_id"] for r in rows] == [shop["ids"][n] for n in ("failing", "slow", "fast")]  # newest first
    slow = rows[1]
    assert (slow["root_service"], slow["root_operation"], slow["span_count"]) == (shop["front"], "GET /checkout", 2)
    assert slow["duration_ns"] == 900 * MS
    assert slow["services"] == sorted([shop["front"], shop["pay"]])
    assert rows[0]["error_count"] == 1 and rows[2]["error_count"] == 0


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "error", "operation": "Charge"}, ["failing"]),
        ({"min_duration_ms": 100}, ["slow"]),
        ({"max_duration_ms": 30}, ["fast"]),
        ({"operation": "Charge", "attr.payment.currency": "USD"}, ["slow"]),
        ({"attr.http.route": "/checkout", "limit": 2}, ["failing", "slow"]),
    ],
)
def test_trace_search_filters(
    kokanee_server: KokaneeServer, shop: dict[str, Any], params: dict[str, Any], expected: list[str]
) -> None:
    params.setdefault("service", shop["pay"] if "operation" in params else shop["front"])
    rows = search(kokanee_server, **params)
    assert [r["trace_id"] for r in rows] == [shop["ids"][n] for n in expected]


def test_logs_filters(kokanee_server: KokaneeServer, shop: dict[str, Any]) -> None:
    def bodies(**params: Any) -> list[str]:
        logs = kokanee_server.get("/api/v1/logs", start="now-2h", service=shop["pay"], **params)["logs"]
        return [entry["body"] for entry in logs]

    assert bodies() == ["retrying charge", "Card DECLINED for order 42"]
    assert bodies(severity="error") == ["Card DECLINED for order 42"]
    assert bodies(q="declined") == ["Card DECLINED for order 42"]
    assert bodies(trace_id=shop["ids"]["failing"].upper()) == ["retrying charge", "Card DECLINED for order 42"]
    assert bodies(trace_id=shop["ids"]["fast"]) == []
    entry = kokanee_server.get("/api/v1/logs", start="now-2h", service=shop["pay"], severity="ERROR")["logs"][0]
    assert (entry["severity_text"], entry["severity_number"], entry["trace_id"]) == (
        "ERROR",
        17,
        shop["ids"]["failing"],
    )


def test_services_and_times_in_any_spelling(kokanee_server: KokaneeServer, shop: dict[str, Any]) -> None:
    start_ns = time.time_ns() - 2 * 3600 * 10**9
    for start in ("now-2h", str(start_ns), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_ns / 1e9))):
        services = {s["name"]: s for s in kokanee_server.get("/api/v1/services", start=start)["services"]}
        assert services[shop["pay"]]["spans"] == 3
        assert services[shop["pay"]]["errors"] == 1
        assert services[shop["pay"]]["logs"] == 2


def test_prometheus_self_metrics(kokanee_server: KokaneeServer, shop: dict[str, Any]) -> None:
    text = httpx.get(f"{kokanee_server.api_url}/metrics").text
    for name in (
        'kokanee_items_accepted_total{signal="traces"}',
        'kokanee_otlp_requests_total{outcome="ok",signal="logs",transport="http"}',
        "kokanee_pipeline_pending_bytes",
        "kokanee_wal_bytes",
        "kokanee_store_insert_seconds_bucket",
    ):
        assert name in text, name


def test_openapi_docs_are_served(kokanee_server: KokaneeServer) -> None:
    assert httpx.get(f"{kokanee_server.api_url}/docs").status_code == 200
    paths = httpx.get(f"{kokanee_server.api_url}/openapi.json").json()["paths"]
    assert {"/api/v1/traces", "/api/v1/traces/{trace_id}", "/api/v1/logs", "/api/v1/metrics/{name}"} <= set(paths)
