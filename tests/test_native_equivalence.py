"""ClickHouse's flattening (native) and Python's give the same rows, value for value.

The two paths exist for a reason (servers before 24.10 lack inline protobuf schemas), so they
must agree: each request here goes through both into the same table and the rows are compared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from kokanee.ingest.decode import decode, parse_protobuf
from kokanee.ingest.otlp_json import parse_json
from kokanee.ingest.validate import validate
from kokanee.store.client import Store

EXAMPLES = Path(__file__).parent / "testdata" / "otlp-examples"  # the OTLP spec's (Apache-2.0)
T0 = 1_763_800_000_123_456_789


def kv(key: str, **value: Any) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(**value))


def every_value() -> list[KeyValue]:
    return [
        kv("s", string_value="text <b>&</b>"),
        kv("empty", string_value=""),
        kv("i", int_value=-42),
        kv("big", int_value=2**62),
        kv("d", double_value=0.1),
        kv("d3", double_value=3.0),
        kv("neg", double_value=-2.5e-7),
        kv("t", bool_value=True),
        kv("f", bool_value=False),
        kv("bytes", bytes_value=b"\x00\xffhi"),
        kv("arr", array_value=ArrayValue(values=[AnyValue(string_value='q"x'), AnyValue(int_value=1),
                                                AnyValue(double_value=1.5), AnyValue(bool_value=False)])),
        kv("map", kvlist_value=KeyValueList(values=[kv("a", string_value="b"), kv("n", int_value=2)])),
        KeyValue(key="unset"),
    ]  # fmt: skip


def traces() -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend([kv("service.name", string_value="equivalence"), *every_value()])
    ss = rs.scope_spans.add()
    ss.scope.name, ss.scope.version = "scope", "1.0"
    for i, kind in enumerate(range(6)):
        span = ss.spans.add(
            trace_id=bytes([0xAB] * 16), span_id=bytes([i + 1] * 8), name=f"span {i}", kind=kind,
            start_time_unix_nano=T0 + i, end_time_unix_nano=T0 + 1000 * i + 7, trace_state="k=v",
        )  # fmt: skip
        span.status.code = i % 3
        span.status.message = "why" if i % 3 == 2 else ""
        span.attributes.extend(every_value())
        if i:
            span.parent_span_id = bytes([1] * 8)
        # Events and links of every count, with attribute lists of every length (none included):
        # the native path renders all of a span's attribute values in one array and slices them back.
        for j in range(i % 4):
            event = span.events.add(time_unix_nano=T0 + 5 + j, name=f"ev{j}")
            event.attributes.extend(every_value()[j : j + 2 * j])
        for j in range((i + 1) % 3):
            link = span.links.add(trace_id=bytes([0xCD] * 16), span_id=bytes([9 + j] * 8), trace_state="a=b")
            link.attributes.extend(every_value()[4 + j : 8 - 2 * j])
    ss.spans.add(trace_id=b"short", span_id=bytes([7] * 8), start_time_unix_nano=T0, end_time_unix_nano=T0)
    late = ss.spans.add(
        trace_id=bytes([0xAB] * 16), span_id=bytes([8] * 8), start_time_unix_nano=T0, end_time_unix_nano=T0
    )
    late.events.add(time_unix_nano=2**64 - 1, name="after 2262")
    return req


def logs() -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add(schema_url="https://opentelemetry.io/schemas/1.30.0")
    rl.resource.attributes.append(kv("service.name", string_value="equivalence"))
    sl = rl.scope_logs.add(schema_url="scope-schema")
    sl.scope.name, sl.scope.version = "logger", "2"
    sl.scope.attributes.extend(every_value()[:3])
    bodies = [AnyValue(string_value="plain"), AnyValue(int_value=5), AnyValue(double_value=2.25),
              every_value()[10].value, every_value()[11].value, AnyValue()]  # fmt: skip
    for i, body in enumerate(bodies):
        rec = sl.log_records.add(
            time_unix_nano=T0 + i if i != 2 else 0, observed_time_unix_nano=T0 + 99, severity_number=9 + i,
            severity_text="INFO", flags=0x1FF, trace_id=bytes([3] * 16) if i % 2 else b"",
            span_id=bytes([4] * 8) if i % 2 else b"", event_name="e" if i == 1 else "",
        )  # fmt: skip
        rec.body.CopyFrom(body)
        rec.attributes.extend(every_value())
    sl.log_records.add(time_unix_nano=T0, span_id=b"bad")
    return req


def rows(store: Store, table: str) -> list[dict[str, Any]]:
    result = store.query(f"SELECT * FROM {table} ORDER BY Timestamp, SpanId" if table == "otel_traces"
                         else f"SELECT * FROM {table} ORDER BY Timestamp, Body")  # fmt: skip
    return result.dicts()


def both_ways(store: Store, signal: str, body: bytes, tmp_path: Path) -> tuple[list[dict[str, Any]], ...]:
    table = {"traces": "otel_traces", "logs": "otel_logs"}[signal]
    store.command(f"TRUNCATE TABLE {table}")
    decoded = decode(signal, parse_protobuf(signal, body))  # type: ignore[arg-type]
    store.insert_arrow(table, decoded.tables[table])
    python_rows = rows(store, table)
    store.command(f"TRUNCATE TABLE {table}")
    checked = validate(signal, parse_protobuf(signal, body))  # type: ignore[arg-type]
    store.insert_otlp(signal, [body], f"equivalence-{signal}-{len(body)}-{tmp_path.name}", tmp_path)
    native_rows = rows(store, table)
    assert (checked.accepted, checked.rejected) == (decoded.accepted, decoded.rejected)
    assert checked.errors == decoded.errors
    return python_rows, native_rows


@pytest.mark.parametrize("signal", ["traces", "logs"])
def test_native_and_python_rows_are_identical(chdb_store: Store, signal: str, tmp_path: Path) -> None:
    body = (traces() if signal == "traces" else logs()).SerializeToString()
    python_rows, native_rows = both_ways(chdb_store, signal, body, tmp_path)
    assert len(native_rows) == 6  # the malformed items at the end are refused by both
    assert native_rows == python_rows


@pytest.mark.parametrize(("signal", "name"), [("traces", "trace.json"), ("logs", "logs.json"), ("logs", "events.json")])
def test_the_spec_examples_agree(chdb_store: Store, signal: str, name: str, tmp_path: Path) -> None:
    body = parse_json(signal, (EXAMPLES / name).read_bytes()).SerializeToString()  # type: ignore[arg-type]
    python_rows, native_rows = both_ways(chdb_store, signal, body, tmp_path)
    assert native_rows and native_rows == python_rows


def test_attribute_spellings(chdb_store: Store, tmp_path: Path) -> None:
    """The exporter's spellings, checked on the native rows by name."""
    _, native_rows = both_ways(chdb_store, "traces", traces().SerializeToString(), tmp_path)
    attrs = native_rows[0]["SpanAttributes"]
    assert attrs["i"] == "-42" and attrs["big"] == str(2**62)
    assert (attrs["d"], attrs["d3"], attrs["t"], attrs["f"]) == ("0.1", "3", "true", "false")
    assert attrs["bytes"] == "AP9oaQ=="
    assert json.loads(attrs["arr"]) == ['q"x', 1, 1.5, False]
    assert attrs["map"] == '{"a":"b","n":2}'
    assert attrs["s"] == "text <b>&</b>" and attrs["unset"] == ""
    assert [r["SpanKind"] for r in native_rows] == [
        "Unspecified",
        "Internal",
        "Server",
        "Client",
        "Producer",
        "Consumer",
    ]
    assert [r["StatusCode"] for r in native_rows][:3] == ["Unset", "Ok", "Error"]
