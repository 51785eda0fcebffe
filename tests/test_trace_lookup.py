"""Reading traces by id through the lookups: kokanee_trace_keys narrows the read of otel_traces to
the trace's (service, span name) pairs and exact time range; the exporter's lookup (whole seconds)
covers traces that have no keys. Whichever path is taken, every span of the trace comes back."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from kokanee.store.client import Store
from kokanee.store.reads.entry_traces import load_traces
from kokanee.store.reads.traces import get_trace, trace_scope
from kokanee.store.schema_derived import TRACE_KEYS_MAX
from kokanee.store.timeparse import now_ns

NS = 1_000_000_000
T0 = now_ns() - 3600 * NS


def spans_request(trace_id: str, spans: list[tuple[str, str, float]]) -> bytes:
    """One request: (service, span name, seconds after T0) per span, ids in order."""
    req = ExportTraceServiceRequest()
    for service, name, at in spans:
        rs = ResourceSpans(
            resource=Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value=service))])
        )
        start = T0 + int(at * NS)
        span = Span(
            trace_id=bytes.fromhex(trace_id),
            span_id=uuid.uuid4().bytes[:8],
            name=name,
            kind=Span.SPAN_KIND_SERVER,
            start_time_unix_nano=start,
            end_time_unix_nano=start + 5_000_000,
        )
        rs.scope_spans.append(ScopeSpans(spans=[span]))
        req.resource_spans.append(rs)
    return req.SerializeToString()


def ingest(store: Store, tmp_path: Path, trace_id: str, spans: list[tuple[str, str, float]]) -> None:
    store.insert_otlp("traces", [spans_request(trace_id, spans)], uuid.uuid4().hex, tmp_path)


def new_trace() -> str:
    return uuid.uuid4().hex


def names(spans: list[dict[str, object]]) -> list[tuple[object, object]]:
    return sorted((s["service_name"], s["name"]) for s in spans)


def test_a_trace_sent_in_several_requests_comes_back_whole(chdb_store: Store, tmp_path: Path) -> None:
    trace = new_trace()
    first = [("frontend", "GET /cart", 10.0), ("cart", "GetCart", 10.2)]
    later = [("cart", "redis GET", 10.3), ("frontend", "GET /cart", 12.9)]  # a second call, seconds later
    ingest(chdb_store, tmp_path, trace, later)  # out of order: the later spans arrive first
    ingest(chdb_store, tmp_path, trace, first)
    # Spans of other traces in the same seconds and pairs are not returned.
    ingest(chdb_store, tmp_path, new_trace(), [("frontend", "GET /cart", 10.0), ("cart", "GetCart", 10.2)])

    where, params = trace_scope(chdb_store, [trace])
    assert "(ServiceName, SpanName) IN" in where  # the keys were used
    assert sorted(params["keys"]) == [("cart", "GetCart"), ("cart", "redis GET"), ("frontend", "GET /cart")]
    assert names(get_trace(chdb_store, trace)) == names([{"service_name": s, "name": n} for s, n, _ in first + later])


def test_a_trace_with_more_pairs_than_are_kept_comes_back_whole(chdb_store: Store, tmp_path: Path) -> None:
    trace = new_trace()
    spans = [(f"svc-{i % 7}", f"GET /item/{i}", 20 + i / 1000) for i in range(TRACE_KEYS_MAX + 40)]
    ingest(chdb_store, tmp_path, trace, spans)
    keys = chdb_store.query(
        "SELECT length(Keys) FROM kokanee_trace_keys WHERE TraceId = {t:String}", parameters={"t": trace}
    ).rows
    assert keys == [(0,)]  # too many to keep: none kept
    where, _ = trace_scope(chdb_store, [trace])
    assert "(ServiceName, SpanName) IN" not in where
    assert len(get_trace(chdb_store, trace)) == len(spans)


def test_a_trace_without_keys_is_found_through_the_exporters_lookup(chdb_store: Store, tmp_path: Path) -> None:
    """As for traces stored before kokanee_trace_keys existed."""
    trace, other = new_trace(), new_trace()
    ingest(chdb_store, tmp_path, trace, [("a", "op", 30.0), ("b", "op", 30.5)])
    ingest(chdb_store, tmp_path, other, [("c", "op", 31.0)])
    chdb_store.command("DELETE FROM kokanee_trace_keys WHERE TraceId = {t:String}", parameters={"t": trace})

    where, _ = trace_scope(chdb_store, [trace])
    assert "(ServiceName, SpanName) IN" not in where
    assert names(get_trace(chdb_store, trace)) == [("a", "op"), ("b", "op")]
    # Several traces, one of them without keys: the keys cannot be used for any.
    loaded = load_traces(chdb_store, [trace, other])
    assert {t: len(s) for t, s in loaded.spans.items()} == {trace: 2, other: 1}


def test_an_unknown_trace_id_is_empty(chdb_store: Store) -> None:
    assert get_trace(chdb_store, new_trace()) == []


@pytest.mark.parametrize("count", [1, 3])
def test_load_traces_with_keys_returns_each_trace_whole(chdb_store: Store, tmp_path: Path, count: int) -> None:
    traces = [new_trace() for _ in range(count)]
    for i, trace in enumerate(traces):
        ingest(chdb_store, tmp_path, trace, [("gw", f"route {i}", 40.0 + i * 60), ("db", "query", 40.1 + i * 60)])
    loaded = load_traces(chdb_store, traces)
    assert {t: names(s) for t, s in loaded.spans.items()} == {
        t: [("db", "query"), ("gw", f"route {i}")] for i, t in enumerate(traces)
    }
