"""The real OpenTelemetry JS exporters as OTLP/HTTP clients, JSON and protobuf.

`tests/node/send.mjs` emits a small, fully known trace, two log records, a counter and a
histogram through the Node SDK and exporters (pinned in tests/node/package-lock.json) and
prints what it emitted; the tests compare kokanee's stored rows and its trace API with that.
The JS JSON exporter is a client other senders are not: chunked bodies with no
Content-Length, lowercase hex ids, int64 timestamps as strings, ints as JSON numbers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.server import KokaneeServer

NODE_DIR = Path(__file__).resolve().parent / "node"
SEND = NODE_DIR / "send.mjs"
PROTOCOLS = ["http-json", "http-proto"]

RESOURCE_KEYS = {"service.name", "service.version", "deployment.environment.name", "test.run_id"}


def _node() -> str:
    node = shutil.which("node")
    assert node, "`node` is not on PATH: these tests run the OpenTelemetry JS exporters (Node.js >= 20.6)"
    missing = [
        p
        for p in ("@opentelemetry/sdk-trace-base", "@opentelemetry/exporter-trace-otlp-http")
        if not (NODE_DIR / "node_modules" / p).is_dir()
    ]
    assert not missing, (
        f"tests/node/node_modules is missing {missing}: run `cd tests/node && npm ci` "
        "(the Makefile's test target does this)"
    )
    return node


def _send(server: KokaneeServer, protocol: str, service: str, run_id: str) -> dict[str, Any]:
    cmd = [
        _node(), str(SEND),
        "--protocol", protocol, "--url", server.otlp_http_url,
        "--service", service, "--run-id", run_id,
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=NODE_DIR, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, (
        f"send.mjs exited with {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        f"\n--- server log (tail)\n{server.log()[-4000:]}"
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"send.mjs printed no JSON line:\n{proc.stdout}\n{proc.stderr}"
    sent: dict[str, Any] = json.loads(lines[-1])
    return sent


@pytest.fixture(scope="module", params=PROTOCOLS)
def sent(request: pytest.FixtureRequest, kokanee_server: KokaneeServer) -> dict[str, Any]:
    """One run of send.mjs per protocol, with its own service name and run id."""
    protocol: str = request.param
    tag = uuid.uuid4().hex[:12]
    service = f"node-{protocol}-{tag}"
    run_id = f"run-{tag}"
    out = _send(kokanee_server, protocol, service, run_id)
    assert out["service"] == service and out["run_id"] == run_id and out["protocol"] == protocol
    return out


def _wait_rows(server: KokaneeServer, sql: str, n: int) -> list[dict[str, Any]]:
    rows = server.wait_for(sql, lambda rows: len(rows) >= n, timeout=30)
    assert len(rows) == n, f"expected {n} rows, got {len(rows)}: {rows}"
    return rows


_TRACE_SQL = """
SELECT TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName,
       toUnixTimestamp64Nano(Timestamp) AS StartNs, Duration, StatusCode, StatusMessage,
       SpanAttributes, ResourceAttributes, ScopeName, ScopeVersion,
       Events.Name AS EventNames, Events.Attributes AS EventAttributes,
       arrayMap(t -> toUnixTimestamp64Nano(t), Events.Timestamp) AS EventTimes,
       Links.TraceId AS LinkTraceIds, Links.SpanId AS LinkSpanIds, Links.Attributes AS LinkAttributes
FROM otel_traces WHERE ServiceName = '{service}' ORDER BY Timestamp
"""


def test_spans_are_stored_exactly(kokanee_server: KokaneeServer, sent: dict[str, Any]) -> None:
    rows = _wait_rows(kokanee_server, _TRACE_SQL.format(service=sent["service"]), 3)
    by_name = {r["SpanName"]: r for r in rows}
    spans = sent["spans"]
    assert set(by_name) == {s["name"] for s in spans.values()}
    trace_id, run_id = sent["trace_id"], sent["run_id"]
    assert len(trace_id) == 32 and trace_id == trace_id.lower()

    for key, span in spans.items():
        row = by_name[span["name"]]
        assert row["TraceId"] == trace_id, key
        assert row["SpanId"] == span["span_id"], key
        assert row["ParentSpanId"] == span["parent_span_id"], key
        assert row["SpanKind"] == span["kind"], key
        assert row["ServiceName"] == sent["service"], key
        assert row["TraceState"] == "", key
        assert int(row["StartNs"]) == int(span["start_ns"]), key
        assert int(row["Duration"]) == int(span["duration_ns"]), key
        assert row["SpanAttributes"]["test.run_id"] == run_id, key
        assert row["ScopeName"] == "kokanee-node-test" and row["ScopeVersion"] == "0.1.0", key
        assert row["ResourceAttributes"] == {
            "service.name": sent["service"],
            "service.version": "1.2.3",
            "deployment.environment.name": "test",
            "test.run_id": run_id,
        }, key

    root = by_name[spans["root"]["name"]]
    assert root["ParentSpanId"] == ""
    # Every attribute type, in the collector exporter's string spelling.
    assert root["SpanAttributes"] == {
        "test.run_id": run_id,
        "http.request.method": "GET",
        "http.response.status_code": "200",
        "test.int": "42",
        "test.double": "3.5",
        "test.bool": "true",
        "test.strings": '["a","b"]',
    }
    assert (root["StatusCode"], root["StatusMessage"]) == ("Unset", "")
    assert root["EventNames"] == ["cache.miss"]
    assert root["EventAttributes"] == [{"cache.key": "cart:7", "cache.attempt": "2", "cache.cold": "true"}]
    assert [int(t) for t in root["EventTimes"]] == [int(spans["root"]["start_ns"]) + 10_000_000]
    assert root["LinkTraceIds"] == [] and root["LinkSpanIds"] == []

    child = by_name[spans["child"]["name"]]
    assert child["SpanAttributes"] == {"test.run_id": run_id, "server.address": "payments.internal"}
    assert (child["StatusCode"], child["StatusMessage"]) == ("Error", "payment gateway timeout")
    assert child["EventNames"] == []
    assert child["LinkTraceIds"] == [trace_id]
    assert child["LinkSpanIds"] == [spans["root"]["span_id"]]
    assert child["LinkAttributes"] == [{"link.reason": "retry-of"}]

    grandchild = by_name[spans["grandchild"]["name"]]
    assert grandchild["SpanAttributes"] == {"test.run_id": run_id}
    assert (grandchild["StatusCode"], grandchild["StatusMessage"]) == ("Unset", "")
    assert grandchild["LinkTraceIds"] == [] and grandchild["EventNames"] == []


def test_trace_api_returns_every_span(kokanee_server: KokaneeServer, sent: dict[str, Any]) -> None:
    _wait_rows(kokanee_server, _TRACE_SQL.format(service=sent["service"]), 3)
    trace_id, spans = sent["trace_id"], sent["spans"]
    body = kokanee_server.get(f"/api/v1/traces/{trace_id}")
    assert body["trace_id"] == trace_id
    got = {s["name"]: s for s in body["spans"]}
    assert len(body["spans"]) == 3 and set(got) == {s["name"] for s in spans.values()}

    for key, span in spans.items():
        s = got[span["name"]]
        assert s["trace_id"] == trace_id, key
        assert s["span_id"] == span["span_id"], key
        assert s["parent_span_id"] == span["parent_span_id"], key
        assert s["kind"] == span["kind"], key
        assert s["service_name"] == sent["service"], key
        assert s["start_time_unix_nano"] == int(span["start_ns"]), key
        assert s["duration_ns"] == int(span["duration_ns"]), key
        assert s["attributes"]["test.run_id"] == sent["run_id"], key
        assert set(s["resource"]["attributes"]) == RESOURCE_KEYS, key

    root = got[spans["root"]["name"]]
    assert root["status_code"] == "Unset"
    assert root["attributes"]["test.int"] == "42"
    assert root["attributes"]["test.double"] == "3.5"
    assert root["attributes"]["test.bool"] == "true"
    assert root["attributes"]["test.strings"] == '["a","b"]'
    assert [(e["name"], e["attributes"]) for e in root["events"]] == [
        ("cache.miss", {"cache.key": "cart:7", "cache.attempt": "2", "cache.cold": "true"})
    ]
    assert root["events"][0]["time_unix_nano"] == int(spans["root"]["start_ns"]) + 10_000_000
    assert root["links"] == []

    child = got[spans["child"]["name"]]
    assert (child["status_code"], child["status_message"]) == ("Error", "payment gateway timeout")
    assert [(link["trace_id"], link["span_id"], link["attributes"]) for link in child["links"]] == [
        (trace_id, spans["root"]["span_id"], {"link.reason": "retry-of"})
    ]
    assert child["events"] == []

    grandchild = got[spans["grandchild"]["name"]]
    assert grandchild["status_code"] == "Unset"
    assert grandchild["links"] == [] and grandchild["events"] == []


def test_logs_are_stored_with_trace_context(kokanee_server: KokaneeServer, sent: dict[str, Any]) -> None:
    sql = f"""
        SELECT toUnixTimestamp64Nano(Timestamp) AS Ns, TraceId, SpanId, TraceFlags, SeverityText,
               SeverityNumber, ServiceName, Body, LogAttributes, ResourceAttributes, ScopeName, ScopeVersion
        FROM otel_logs WHERE ServiceName = '{sent["service"]}' ORDER BY Timestamp
    """
    rows = _wait_rows(kokanee_server, sql, 2)
    run_id, root_id = sent["run_id"], sent["spans"]["root"]["span_id"]
    for row, log in zip(rows, sent["logs"], strict=True):
        assert row["SeverityText"] == log["severity_text"]
        assert row["SeverityNumber"] == log["severity_number"]
        assert row["Body"] == log["body"]
        assert int(row["Ns"]) == int(log["timestamp_ns"])
        assert row["TraceId"] == sent["trace_id"]
        assert row["SpanId"] == root_id
        assert row["TraceFlags"] == 1
        assert (row["ScopeName"], row["ScopeVersion"]) == ("kokanee-node-test", "0.1.0")
        assert set(row["ResourceAttributes"]) == RESOURCE_KEYS
        assert row["ResourceAttributes"]["service.name"] == sent["service"]
    info, error = rows
    assert (info["SeverityText"], info["SeverityNumber"], error["SeverityText"], error["SeverityNumber"]) == (
        "INFO", 9, "ERROR", 17,
    )  # fmt: skip
    assert info["LogAttributes"] == {"test.run_id": run_id, "cart.items": "3", "user.vip": "false"}
    assert error["LogAttributes"] == {"test.run_id": run_id, "error.type": "timeout", "retry.count": "2"}


def test_metrics_are_stored(kokanee_server: KokaneeServer, sent: dict[str, Any]) -> None:
    service, run_id = sent["service"], sent["run_id"]
    expected_attrs = {"test.run_id": run_id, "route": "/checkout"}

    counter = sent["metrics"]["counter"]
    (s,) = _wait_rows(
        kokanee_server,
        f"""SELECT MetricName, MetricDescription, MetricUnit, Attributes, Value, IsMonotonic,
                   AggregationTemporality, ResourceAttributes, ScopeName
            FROM otel_metrics_sum WHERE ServiceName = '{service}'""",
        1,
    )
    assert s["MetricName"] == counter["name"]
    assert (s["MetricDescription"], s["MetricUnit"]) == ("Requests handled", "{request}")
    assert s["Attributes"] == expected_attrs
    assert s["Value"] == counter["value"]
    assert s["IsMonotonic"] in (True, 1)
    assert s["AggregationTemporality"] == 2  # cumulative
    assert set(s["ResourceAttributes"]) == RESOURCE_KEYS
    assert s["ScopeName"] == "kokanee-node-test"

    hist = sent["metrics"]["histogram"]
    (h,) = _wait_rows(
        kokanee_server,
        f"""SELECT MetricName, MetricUnit, Attributes, Count, Sum, BucketCounts, ExplicitBounds,
                   Min, Max, AggregationTemporality
            FROM otel_metrics_histogram WHERE ServiceName = '{service}'""",
        1,
    )
    assert h["MetricName"] == hist["name"]
    assert h["MetricUnit"] == "ms"
    assert h["Attributes"] == expected_attrs
    assert h["Count"] == hist["count"]
    assert h["Sum"] == pytest.approx(hist["sum"])
    assert h["BucketCounts"] == hist["bucket_counts"]
    assert h["ExplicitBounds"] == [float(b) for b in hist["bounds"]]
    assert (h["Min"], h["Max"]) == (hist["min"], hist["max"])
    assert h["AggregationTemporality"] == 2
