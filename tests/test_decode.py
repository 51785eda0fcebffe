"""Decoders: exporter semantics, per-item rejection, and a round trip through chDB."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from kokanee.ingest.attributes import any_value_to_str, format_double
from kokanee.ingest.decode import decode, parse_protobuf
from kokanee.ingest.types import DecodeError
from kokanee.store.client import Store

T0 = 1_700_000_000_000_000_000
TID = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
SID = bytes.fromhex("00f067aa0ba902b7")


def kv(key: str, value: AnyValue) -> KeyValue:
    return KeyValue(key=key, value=value)


ATTRS = [
    kv("s", AnyValue(string_value="GET")),
    kv("i", AnyValue(int_value=-42)),
    kv("b", AnyValue(bool_value=True)),
    kv("d", AnyValue(double_value=3.0)),
    kv("y", AnyValue(bytes_value=b"\x00\x01")),
    kv("a", AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="a"), AnyValue(int_value=1)]))),
    kv("m", AnyValue(kvlist_value=KeyValueList(values=[kv("k", AnyValue(string_value="v"))]))),
    kv("e", AnyValue()),
    kv("long", AnyValue(string_value="x" * 300)),
]
ATTRS_AS_STRINGS = {
    "s": "GET",
    "i": "-42",
    "b": "true",
    "d": "3",
    "y": "AAE=",
    "a": '["a",1]',
    "m": '{"k":"v"}',
    "e": "",
    "long": "x" * 300,
}


def traces_request() -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend([kv("service.name", AnyValue(string_value="cart")), ATTRS[1]])
    ss = rs.scope_spans.add()
    ss.scope.name, ss.scope.version = "flask", "1.0"
    span = ss.spans.add(trace_id=TID, span_id=SID, name="GET /cart", kind=2)
    span.start_time_unix_nano, span.end_time_unix_nano = T0, T0 + 1500
    span.attributes.extend(ATTRS)
    span.status.code, span.status.message = 2, "boom"
    event = span.events.add(time_unix_nano=T0 + 5, name="exception")
    event.attributes.append(kv("exception.type", AnyValue(string_value="ValueError")))
    link = span.links.add(trace_id=TID, span_id=bytes.fromhex("1111111111111111"), trace_state="k=v")
    link.attributes.append(kv("l", AnyValue(int_value=7)))
    child = ss.spans.add(trace_id=TID, span_id=bytes.fromhex("2222222222222222"), parent_span_id=SID, name="db")
    child.start_time_unix_nano, child.end_time_unix_nano, child.kind = T0 + 10, T0 + 20, 3
    return req


def test_any_value_as_string_matches_pcommon() -> None:
    for pair in ATTRS:
        assert any_value_to_str(pair.value) == ATTRS_AS_STRINGS[pair.key], pair.key
    assert [format_double(x) for x in (1.5, 3.0, 1e20, 1.5e-7, -0.0)] == [
        "1.5",
        "3",
        "100000000000000000000",
        "0.00000015",
        "-0",
    ]


def test_invalid_spans_are_rejected_one_by_one() -> None:
    req = traces_request()
    spans = req.resource_spans[0].scope_spans[0].spans
    bad = spans.add(trace_id=TID, span_id=b"\x01\x02\x03", name="GET /cart")
    bad.start_time_unix_nano, bad.end_time_unix_nano = T0, T0
    spans.add(trace_id=bytes(16), span_id=SID, name="zero trace", start_time_unix_nano=T0, end_time_unix_nano=T0)
    spans.add(trace_id=TID, span_id=SID, name="backwards", start_time_unix_nano=T0, end_time_unix_nano=T0 - 1)
    spans.add(trace_id=TID, span_id=SID, name="no start", end_time_unix_nano=T0)
    spans.add(trace_id=TID, span_id=SID, name="far", start_time_unix_nano=T0, end_time_unix_nano=2**63)
    decoded = decode("traces", parse_protobuf("traces", req.SerializeToString()))
    assert (decoded.accepted, decoded.rejected) == (2, 5)
    assert decoded.errors[0] == f"span 'GET /cart' (trace {TID.hex()}): span_id must be 8 bytes, got 3"
    assert "trace_id must not be all zeros" in decoded.errors[1]
    assert "before start" in decoded.errors[2]


def test_malformed_protobuf_raises() -> None:
    with pytest.raises(DecodeError, match="malformed OTLP/protobuf traces request"):
        parse_protobuf("traces", b"\x0a\xff\xff\xff")


def test_regular_and_raw_messages_decode_alike() -> None:
    req = traces_request()
    a = decode("traces", req).tables["otel_traces"]
    b = decode("traces", parse_protobuf("traces", req.SerializeToString())).tables["otel_traces"]
    assert a.equals(b)


def logs_request() -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add(schema_url="https://res")
    rl.resource.attributes.append(kv("service.name", AnyValue(string_value="cart")))
    sl = rl.scope_logs.add(schema_url="https://scope")
    sl.scope.name = "logger"
    sl.scope.attributes.append(kv("sa", AnyValue(bool_value=False)))
    rec = sl.log_records.add(observed_time_unix_nano=T0, severity_number=17, severity_text="ERROR")
    rec.trace_id, rec.span_id, rec.flags = TID, SID, 0x101
    rec.body.string_value = "payment failed"
    rec.event_name = "payment.failed"
    rec.attributes.extend(ATTRS)
    sl.log_records.add(time_unix_nano=T0, span_id=b"\x01", severity_text="bad")
    return req


def metrics_request() -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.append(kv("service.name", AnyValue(string_value="cart")))
    sm = rm.scope_metrics.add()
    sm.scope.name, sm.scope.dropped_attributes_count = "meter", 3
    hist = sm.metrics.add(name="latency", unit="ms").histogram
    hist.aggregation_temporality = 2
    p = hist.data_points.add(time_unix_nano=T0, count=3, sum=7.5, min=1.0, max=4.0)
    p.bucket_counts.extend([1, 2, 0])
    p.explicit_bounds.extend([1.0, 5.0])
    p.attributes.append(kv("route", AnyValue(string_value="/cart")))
    p.exemplars.add(time_unix_nano=T0, as_double=4.0, trace_id=TID, span_id=SID)
    bad = hist.data_points.add(time_unix_nano=T0)
    bad.bucket_counts.extend([1, 2])
    total = sm.metrics.add(name="requests").sum
    total.is_monotonic, total.aggregation_temporality = True, 2
    total.data_points.add(time_unix_nano=T0, as_int=12)
    total.data_points.add(time_unix_nano=0, as_int=1)
    summary = sm.metrics.add(name="gc").summary.data_points.add(time_unix_nano=T0, count=2, sum=3.0)
    summary.quantile_values.add(quantile=0.5, value=1.0)
    sm.metrics.add(name="temp").gauge.data_points.add(time_unix_nano=T0, as_double=21.5)
    exp = sm.metrics.add(name="exp").exponential_histogram.data_points.add(time_unix_nano=T0, scale=2)
    exp.positive.offset = 1
    exp.positive.bucket_counts.extend([3, 4])
    return req


@pytest.fixture
def client(chdb_store: Store) -> Any:
    return chdb_store.client()


def insert(client: Any, decoded: Any) -> None:
    for name, table in decoded.tables.items():
        client.command(f"TRUNCATE TABLE {name}")
        client.insert_arrow(name, table)


def test_traces_round_trip_through_chdb(client: Any) -> None:
    decoded = decode("traces", parse_protobuf("traces", traces_request().SerializeToString()))
    insert(client, decoded)
    rows = client.query(
        "SELECT TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, ResourceAttributes, "
        "ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage, Events.Name, "
        "Events.Attributes, toUnixTimestamp64Nano(Events.Timestamp[1]), Links.TraceId, Links.SpanId, "
        "Links.TraceState, Links.Attributes, toUnixTimestamp64Nano(Timestamp) "
        "FROM otel_traces ORDER BY Timestamp"
    ).result_rows
    root, child = rows
    assert root[:6] == (TID.hex(), SID.hex(), "", "GET /cart", "Server", "cart")
    assert root[6] == {"service.name": "cart", "i": "-42"}
    assert root[7:9] == ("flask", "1.0")
    assert root[9] == ATTRS_AS_STRINGS
    assert root[10:13] == (1500, "Error", "boom")
    assert root[13:16] == (["exception"], [{"exception.type": "ValueError"}], T0 + 5)
    assert root[16:] == ([TID.hex()], ["1111111111111111"], ["k=v"], [{"l": "7"}], T0)
    assert child[2] == SID.hex() and child[4] == "Client" and child[11] == "Unset"
    lookup = f"SELECT count() FROM otel_traces_trace_id_ts WHERE TraceId = '{TID.hex()}'"
    assert client.query(lookup).result_rows == [(1,)]


def test_logs_round_trip_through_chdb(client: Any) -> None:
    decoded = decode("logs", parse_protobuf("logs", logs_request().SerializeToString()))
    assert (decoded.accepted, decoded.rejected) == (1, 1)
    assert "span_id must be empty or 8 bytes, got 1" in decoded.errors[0]
    insert(client, decoded)
    row = client.query(
        "SELECT toUnixTimestamp64Nano(Timestamp), TraceId, SpanId, TraceFlags, SeverityText, SeverityNumber, "
        "ServiceName, Body, ResourceSchemaUrl, ScopeSchemaUrl, ScopeName, ScopeAttributes, LogAttributes, "
        "EventName FROM otel_logs"
    ).result_rows[0]
    assert row[:8] == (T0, TID.hex(), SID.hex(), 1, "ERROR", 17, "cart", "payment failed")
    assert row[8:11] == ("https://res", "https://scope", "logger")
    assert row[11:] == ({"sa": "false"}, ATTRS_AS_STRINGS, "payment.failed")


def test_metrics_round_trip_through_chdb(client: Any) -> None:
    decoded = decode("metrics", parse_protobuf("metrics", metrics_request().SerializeToString()))
    assert (decoded.accepted, decoded.rejected) == (5, 2)
    assert "histogram has 2 bucket_counts for 0 explicit_bounds" in decoded.errors[0]
    insert(client, decoded)
    hist = client.query(
        "SELECT MetricName, MetricUnit, Attributes, Count, Sum, BucketCounts, ExplicitBounds, Min, Max, "
        "AggregationTemporality, ScopeDroppedAttrCount, Exemplars.Value, Exemplars.TraceId, Exemplars.SpanId "
        "FROM otel_metrics_histogram"
    ).result_rows
    assert hist == [
        ("latency", "ms", {"route": "/cart"}, 3, 7.5, [1, 2, 0], [1.0, 5.0], 1.0, 4.0, 2, 3, [4.0],
         [TID.hex()], [SID.hex()])
    ]  # fmt: skip
    sums = client.query("SELECT Value, IsMonotonic, AggregationTemporality FROM otel_metrics_sum").result_rows
    assert sums == [(12.0, True, 2)]
    assert client.query("SELECT Value FROM otel_metrics_gauge").result_rows == [(21.5,)]
    assert client.query(
        "SELECT ValueAtQuantiles.Quantile, ValueAtQuantiles.Value FROM otel_metrics_summary"
    ).result_rows == [([0.5], [1.0])]
    assert client.query(
        "SELECT Scale, PositiveOffset, PositiveBucketCounts FROM otel_metrics_exponential_histogram"
    ).result_rows == [(2, 1, [3, 4])]
