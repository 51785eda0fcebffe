"""What the receiver acknowledges, the store can read: bodies upb parses but ClickHouse's Protobuf
reader refuses (a oneof set twice, a known field with the wrong wire type) are re-encoded when
the store refuses them as sent, so they are stored, not acknowledged and then set aside; what
cannot be re-encoded (strings that are not UTF-8) gets a 400."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from kokanee.ingest.decode import canonical
from kokanee.ingest.receiver import Decoder
from kokanee.store.client import Store
from kokanee.store.otlp_native import NATIVE_SIGNALS
from tests.server import KokaneeServer

PB = {"Content-Type": "application/x-protobuf"}
NOW = 1_763_800_000_000_000_000


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, value: bytes | int) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def trace_body(service: str, span_tail: bytes) -> bytes:
    """One valid span with `span_tail` (raw wire bytes) appended to the span message."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value=service)))
    ss = rs.scope_spans.add()
    span = ss.spans.add(
        trace_id=uuid.uuid4().bytes, span_id=uuid.uuid4().bytes[:8], name="checkout", kind=2,
        start_time_unix_nano=NOW, end_time_unix_nano=NOW + 1000,
    )  # fmt: skip
    scope_spans = _field(2, span.SerializeToString() + span_tail)
    resource_spans = _field(1, rs.resource.SerializeToString()) + _field(2, scope_spans)
    return _field(1, resource_spans)


# A span attribute whose AnyValue sets two members of its `value` oneof (string, then int): upb
# keeps the last; ClickHouse refused the whole batch ("OneOf has more than one value").
ONEOF_TWICE = _field(9, _field(1, b"retries") + _field(2, _field(1, b"three") + _field(3, 3)))
# trace_id (bytes, field 1) sent again as a varint: upb sets it aside as an unknown field;
# ClickHouse refused it ("Protobuf messages are corrupted or don't match the provided schema").
TRACE_ID_AS_VARINT = _field(1, 5)
STORED = {"oneof set twice": ONEOF_TWICE, "trace_id as a varint": TRACE_ID_AS_VARINT}


@pytest.mark.parametrize("tail", STORED.values(), ids=STORED.keys())
def test_a_body_that_was_acknowledged_then_quarantined_is_now_stored(
    kokanee_server: KokaneeServer, tail: bytes
) -> None:
    service = f"canon-{uuid.uuid4().hex[:8]}"
    response = httpx.post(f"{kokanee_server.otlp_http_url}/v1/traces", content=trace_body(service, tail), headers=PB)
    assert response.status_code == 200
    rows = kokanee_server.wait_for(
        f"SELECT SpanName, SpanAttributes['retries'] AS retries FROM otel_traces WHERE ServiceName = '{service}'",
        lambda r: len(r) == 1,
    )
    assert rows[0]["SpanName"] == "checkout"
    if tail is ONEOF_TWICE:
        assert rows[0]["retries"] == "3"  # the last member set, as every protobuf reader takes it
    quarantine = kokanee_server.data_dir / "quarantine"
    assert not any(service.encode() in p.read_bytes() for p in quarantine.glob("*.pb"))


def test_an_attribute_that_is_not_utf8_gets_a_400_not_an_acknowledgement(kokanee_server: KokaneeServer) -> None:
    service = f"utf8-{uuid.uuid4().hex[:8]}"
    body = trace_body(service, _field(9, _field(1, b"\xff\xfe") + _field(2, _field(1, b"v"))))
    response = httpx.post(f"{kokanee_server.otlp_http_url}/v1/traces", content=body, headers=PB)
    assert response.status_code == 400
    assert "malformed OTLP/protobuf" in response.text


def _logs_body(tail: bytes) -> bytes:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value="canon-logs")))
    record = rl.scope_logs.add().log_records.add(time_unix_nano=NOW, body=AnyValue(string_value="hello"))
    scope_logs = _field(2, record.SerializeToString() + tail)
    return _field(1, _field(1, rl.resource.SerializeToString()) + _field(2, scope_logs))


ODD_BODIES = {
    "traces: oneof set twice": ("traces", trace_body("odd", ONEOF_TWICE)),
    "traces: trace_id as varint": ("traces", trace_body("odd", TRACE_ID_AS_VARINT)),
    "traces: start time as bytes": ("traces", trace_body("odd", _field(7, b"abc"))),
    "traces: status twice": ("traces", trace_body("odd", _field(15, _field(3, 2)) + _field(15, _field(2, b"m")))),
    "traces: unknown field": ("traces", trace_body("odd", _field(99, 7))),
    "logs: body oneof twice": ("logs", _logs_body(_field(5, _field(1, b"x") + _field(4, 7)))),
    "logs: time as bytes": ("logs", _logs_body(_field(1, b"12345678"))),
}


@pytest.mark.parametrize(("signal", "body"), ODD_BODIES.values(), ids=ODD_BODIES.keys())
def test_the_store_reads_every_body_the_receiver_accepts(
    chdb_store: Store, tmp_path: Path, signal: str, body: bytes
) -> None:
    decoded, payload = Decoder(NATIVE_SIGNALS).payload(signal, body, "protobuf")  # type: ignore[arg-type]
    assert decoded.accepted == 1
    readable = canonical(signal, payload)  # type: ignore[arg-type]  # what the pipeline inserts on a refusal
    chdb_store.insert_otlp(signal, [readable], f"canon-{uuid.uuid4().hex}", tmp_path)  # raises if refused
