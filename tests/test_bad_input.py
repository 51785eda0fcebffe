"""Bad input gets a clear 4xx, the good data beside it is kept, and the server keeps serving."""

from __future__ import annotations

import gzip
import json
import uuid
import zlib
from collections.abc import Callable
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.server import KokaneeServer

PB = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}
NOW = 1_763_800_000_000_000_000


def request(service: str, spans: list[dict[str, Any]]) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value=service)))
    scope = rs.scope_spans.add()
    trace_id = uuid.uuid4().bytes
    for i, fields in enumerate(spans):
        span = scope.spans.add(
            trace_id=fields.get("trace_id", trace_id),
            span_id=fields.get("span_id", bytes([2] * 7 + [i + 1])),
            name=fields.get("name", f"op-{i}"),
            kind=2,
            start_time_unix_nano=fields.get("start", NOW),
            end_time_unix_nano=fields.get("end", NOW + 1000),
        )
        span.parent_span_id = fields.get("parent", b"")
    return req


def post(server: KokaneeServer, body: bytes, headers: dict[str, str], path: str = "/v1/traces") -> httpx.Response:
    return httpx.post(f"{server.otlp_http_url}{path}", content=body, headers=headers, timeout=30)


def stored_names(server: KokaneeServer, service: str, expected: int) -> list[str]:
    rows = server.wait_for(
        f"SELECT SpanName FROM otel_traces WHERE ServiceName = '{service}' ORDER BY SpanName",
        lambda r: len(r) >= expected,
    )
    return [r["SpanName"] for r in rows]


def assert_serving(server: KokaneeServer) -> None:
    assert httpx.get(f"{server.api_url}/api/v1/health", timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("body", "headers", "status", "says"),
    [
        (b"\xff\xff\xff\xff garbage", PB, 400, "malformed OTLP/protobuf"),
        (b'{"resourceSpans": [', JSON, 400, "JSON"),
        (b'{"resourceSpans": 7}', JSON, 400, "resourceSpans"),
        (b"hello", {"Content-Type": "text/plain"}, 415, "unsupported Content-Type"),
        (b"hello", {}, 415, "unsupported Content-Type"),
        (b"not gzip at all", {**PB, "Content-Encoding": "gzip"}, 400, "not valid gzip"),
        (b"abc", {**PB, "Content-Encoding": "br"}, 415, "Content-Encoding"),
    ],
    ids=["malformed protobuf", "truncated json", "json of the wrong shape", "text/plain", "no content type",
         "broken gzip", "unknown encoding"],
)  # fmt: skip
def test_unreadable_requests_get_a_4xx_that_says_why(
    kokanee_server: KokaneeServer, body: bytes, headers: dict[str, str], status: int, says: str
) -> None:
    response = post(kokanee_server, body, headers)
    assert response.status_code == status
    assert says.lower() in response.text.lower()
    assert_serving(kokanee_server)


def test_bad_spans_are_counted_and_the_good_ones_kept(kokanee_server: KokaneeServer) -> None:
    service = f"partial-{uuid.uuid4().hex[:8]}"
    req = request(
        service,
        [
            {"name": "good-1"},
            {"name": "short trace id", "trace_id": b"\x01\x02\x03"},
            {"name": "zero span id", "span_id": bytes(8)},
            {"name": "ends before it starts", "start": NOW, "end": NOW - 5},
            {"name": "parent of 3 bytes", "parent": b"abc"},
            {"name": "good-2"},
        ],
    )
    response = post(kokanee_server, req.SerializeToString(), PB)
    assert response.status_code == 200
    answer = trace_service_pb2.ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 4
    message = answer.partial_success.error_message
    assert "trace_id must be 16 bytes, got 3" in message
    assert "span_id must not be all zeros" in message
    assert "before start_time_unix_nano" in message
    assert stored_names(kokanee_server, service, 2) == ["good-1", "good-2"]


def test_a_fully_accepted_request_has_no_partial_success(kokanee_server: KokaneeServer) -> None:
    response = post(kokanee_server, request(f"ok-{uuid.uuid4().hex[:8]}", [{}]).SerializeToString(), PB)
    assert response.status_code == 200
    assert not trace_service_pb2.ExportTraceServiceResponse.FromString(response.content).HasField("partial_success")


def test_a_request_whose_every_span_is_bad_is_a_400(kokanee_server: KokaneeServer) -> None:
    req = request("all-bad", [{"trace_id": b"x"}, {"span_id": b"y"}])
    response = post(kokanee_server, req.SerializeToString(), PB)
    assert response.status_code == 400
    assert "every item was rejected" in response.text


def test_json_ids_in_any_case_unknown_fields_and_a_bad_id_beside_good_spans(kokanee_server: KokaneeServer) -> None:
    service = f"json-{uuid.uuid4().hex[:8]}"
    span = {
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "name": "upper-case ids",
        "kind": 2,
        "startTimeUnixNano": str(NOW),
        "endTimeUnixNano": NOW + 10,
        "somethingNew": {"nested": True},
    }
    bad = {**span, "spanId": "not-hex!", "name": "bad id"}
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"spans": [span, bad]}],
                "futureField": 1,
            }
        ]
    }
    response = post(kokanee_server, json.dumps(body).encode(), JSON)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    partial = response.json()["partialSuccess"]
    assert int(partial["rejectedSpans"]) == 1
    assert "span_id" in partial["errorMessage"]
    rows = kokanee_server.wait_for(
        f"SELECT TraceId, SpanId FROM otel_traces WHERE ServiceName = '{service}'", lambda r: len(r) == 1
    )
    assert rows == [{"TraceId": "5b8efff798038103d269b633813fc60c", "SpanId": "eee19b7ec3c1b174"}]


@pytest.mark.parametrize(
    "hostile",
    ["'; DROP TABLE otel_traces; --", 'quote " and \\ backslash', "emoji 🚀 and ünïcödé", "nul\x00byte", "{{x}}"],
)
def test_hostile_strings_are_stored_as_data(kokanee_server: KokaneeServer, hostile: str) -> None:
    service = f"hostile-{uuid.uuid4().hex[:8]}"
    req = request(service, [{"name": hostile}])
    span = req.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.append(KeyValue(key=hostile, value=AnyValue(string_value=hostile)))
    assert post(kokanee_server, req.SerializeToString(), PB).status_code == 200
    assert stored_names(kokanee_server, service, 1) == [hostile]
    found = kokanee_server.get("/api/v1/traces", service=service, operation=hostile, start="now-100000d")
    assert len(found["traces"]) == 1
    spans = kokanee_server.get(f"/api/v1/traces/{found['traces'][0]['trace_id']}")["spans"]
    assert spans[0]["name"] == hostile
    assert spans[0]["attributes"] == {hostile: hostile}


def test_oversize_bodies_and_compression_bombs_are_413(start_kokanee: Callable[..., KokaneeServer]) -> None:
    server = start_kokanee("--max-request-mib", "1")
    big = b"\x00" * (2 * 1024 * 1024)
    declared = post(server, big, PB)
    assert declared.status_code == 413
    assert "exceeds the limit of 1048576 bytes" in declared.text

    def chunks() -> Any:
        for _ in range(64):
            yield b"\x00" * 65536

    chunked = httpx.post(f"{server.otlp_http_url}/v1/traces", content=chunks(), headers=PB, timeout=30)
    assert chunked.status_code == 413

    bomb = gzip.compress(b"\x00" * (200 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 1024 * 1024
    inflated = post(server, bomb, {**PB, "Content-Encoding": "gzip"})
    assert inflated.status_code == 413
    assert "gzip-decompressed body exceeds" in inflated.text
    deflate_bomb = zlib.compress(b"\x00" * (50 * 1024 * 1024))
    assert post(server, deflate_bomb, {**PB, "Content-Encoding": "deflate"}).status_code == 413

    service = f"after-bombs-{uuid.uuid4().hex[:6]}"
    good = gzip.compress(request(service, [{}]).SerializeToString())
    assert post(server, good, {**PB, "Content-Encoding": "gzip"}).status_code == 200
    assert stored_names(server, service, 1) == ["op-0"]


def test_grpc_answers_invalid_argument_and_partial_success(kokanee_server: KokaneeServer) -> None:
    channel = grpc.insecure_channel(kokanee_server.otlp_grpc_endpoint)
    export = channel.unary_unary(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        request_serializer=lambda b: b,
        response_deserializer=trace_service_pb2.ExportTraceServiceResponse.FromString,
    )
    with pytest.raises(grpc.RpcError) as caught:
        export(b"\xff\xff\xff garbage", timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "malformed" in (caught.value.details() or "")
    service = f"grpc-partial-{uuid.uuid4().hex[:6]}"
    answer = export(request(service, [{}, {"trace_id": b"\x00" * 16}]).SerializeToString(), timeout=10)
    assert answer.partial_success.rejected_spans == 1
    assert "all zeros" in answer.partial_success.error_message
    assert stored_names(kokanee_server, service, 1) == ["op-0"]
    channel.close()


def test_api_rejects_bad_parameters_with_json_errors(kokanee_server: KokaneeServer) -> None:
    api = kokanee_server.api_url
    cases = {
        "/api/v1/traces/xyz": "trace_id must be 32 hex characters",
        "/api/v1/traces?start=yesterday": "is not a time",
        "/api/v1/traces?limit=0": "limit",
        "/api/v1/traces?status=broken": "status must be",
        "/api/v1/logs?severity=LOUD": "severity",
        "/api/v1/traces?start=now&end=now-1h": "start must be before end",
    }
    for path, says in cases.items():
        response = httpx.get(f"{api}{path}", timeout=10)
        assert response.status_code == 400, path
        assert says in response.json()["error"], path
    missing = httpx.get(f"{api}/api/v1/traces/{'ab' * 16}", timeout=10)
    assert missing.status_code == 404
    assert "not found" in missing.json()["error"]
