"""Round trips through the OpenTelemetry Python SDK's gRPC and HTTP/protobuf exporters: values, not counts."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.otel_clients import send_sample
from tests.server import KokaneeServer


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_spans_round_trip_with_every_field(kokanee_server: KokaneeServer, protocol: str) -> None:
    service = f"sdk-{protocol}-{uuid.uuid4().hex[:8]}"
    sent = send_sample(kokanee_server, protocol, service)
    rows = kokanee_server.wait_for(
        f"SELECT * FROM otel_traces WHERE ServiceName = '{service}' ORDER BY SpanKind DESC",
        lambda r: len(r) == 2,
    )
    root, child = rows
    assert (root["SpanName"], root["SpanKind"], root["StatusCode"]) == ("GET /cart", "Server", "Unset")
    assert (child["SpanName"], child["SpanKind"], child["StatusCode"]) == ("SELECT carts", "Client", "Error")
    assert child["StatusMessage"] == "connection reset"
    assert root["TraceId"] == child["TraceId"] == sent.trace_id
    assert (root["SpanId"], root["ParentSpanId"]) == (sent.root_span_id, "")
    assert (child["SpanId"], child["ParentSpanId"]) == (sent.child_span_id, sent.root_span_id)
    assert root["SpanAttributes"] == {
        "http.request.method": "GET",
        "http.response.status_code": "200",
        "ratio": "0.25",
        "cached": "true",
        "tags": '["a","b"]',
        "counts": "[1,2]",
    }
    assert root["Events.Name"] == ["cache.miss"]
    assert root["Events.Attributes"] == [{"key": "cart:42", "attempt": "2"}]
    assert child["Links.TraceId"] == [sent.trace_id]
    assert child["Links.SpanId"] == [sent.root_span_id]
    assert child["Links.Attributes"] == [{"link.kind": "follows"}]
    assert root["ResourceAttributes"]["service.version"] == "1.2.3"
    assert root["ResourceAttributes"]["host.name"] == "test-host"
    assert (root["ScopeName"], root["ScopeVersion"]) == ("kokanee.tests", "0.9")
    assert int(root["Duration"]) >= int(child["Duration"]) > 0

    api = kokanee_server.get(f"/api/v1/traces/{sent.trace_id.upper()}")
    spans = {s["span_id"]: s for s in api["spans"]}
    assert spans[sent.child_span_id]["links"][0]["span_id"] == sent.root_span_id
    assert spans[sent.root_span_id]["events"][0]["attributes"] == {"key": "cart:42", "attempt": "2"}
    assert spans[sent.child_span_id]["status_code"] == "Error"


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_logs_and_metrics_round_trip(kokanee_server: KokaneeServer, protocol: str) -> None:
    service = f"sdk-{protocol}-{uuid.uuid4().hex[:8]}"
    sent = send_sample(kokanee_server, protocol, service)
    logs = kokanee_server.wait_for(
        f"SELECT * FROM otel_logs WHERE ServiceName = '{service}' ORDER BY SeverityNumber",
        lambda r: len(r) == 2,
    )
    assert [(r["SeverityText"], r["SeverityNumber"], r["Body"]) for r in logs] == [
        ("INFO", 9, "cart loaded from database"),
        ("ERROR", 17, "connection reset by peer"),
    ]
    assert {r["TraceId"] for r in logs} == {sent.trace_id}
    assert {r["SpanId"] for r in logs} == {sent.child_span_id}
    assert logs[0]["LogAttributes"] == {"cart.items": "3"}
    assert logs[1]["LogAttributes"] == {"retry": "false"}

    sums = kokanee_server.wait_for(
        f"SELECT * FROM otel_metrics_sum WHERE ServiceName = '{service}'", lambda r: len(r) == 1
    )
    assert (sums[0]["MetricName"], sums[0]["Value"], sums[0]["IsMonotonic"]) == ("cart.requests", 5.0, True)
    assert sums[0]["MetricUnit"] == "{request}"
    assert sums[0]["Attributes"] == {"route": "/cart"}
    hist = kokanee_server.wait_for(
        f"SELECT * FROM otel_metrics_histogram WHERE ServiceName = '{service}'", lambda r: len(r) == 1
    )[0]
    assert (hist["MetricName"], hist["Count"], hist["Sum"], hist["Min"], hist["Max"]) == (
        "cart.latency",
        4,
        170.0,
        3.0,
        120.0,
    )
    assert sum(hist["BucketCounts"]) == 4
    assert len(hist["BucketCounts"]) == len(hist["ExplicitBounds"]) + 1
    assert hist["AggregationTemporality"] == 2  # cumulative, the SDK default

    listed = {m["name"]: m for m in kokanee_server.get("/api/v1/metrics")["metrics"]}
    assert listed["cart.latency"]["type"] == "histogram"
    series = kokanee_server.get("/api/v1/metrics/cart.latency", **{"attr.service.name": service})
    [one] = series["series"]
    assert one["attributes"] == {"route": "/cart"}
    assert sum(p["count"] for p in one["points"]) == 4
    assert json.dumps(one["points"])  # quantiles are plain JSON numbers
