"""Critical paths through the API, on hand-built traces sent over OTLP/HTTP to a real server,
and the read helpers behind it on the in-process store."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from kokanee.store.client import Store
from kokanee.store.reads.entry_traces import TraceSpans, load_traces, sample_entry_traces, top_entry_operations
from tests.server import KokaneeServer

PB = {"Content-Type": "application/x-protobuf"}
MS = 1_000_000
SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5  # OTLP SpanKind numbers

# Each checkout trace, in ms from its start (the mail consumer is async and off the path):
#
#             0    25   50   75   100  125  150  175  200
# front  R    [===================]                           POST /api/checkout (Server)
# front    C    [=============]                               POST pay (Client)
# pay        P   [===========]                                Charge (Server)
# pay          Q          |                                   publish receipt (Producer) 60-65
# mail           M        [=============================]     send receipt (Consumer) 62-200
#
# path: R 0-10 | C 10-15 | P 15-60 | Q 60-65 | P 65-75 | C 75-80 | R 80-100
CHECKOUT = [
    # (span, parent, service, name, kind, start ms, end ms)
    ("R", "", "front", "POST /api/checkout", SERVER, 0, 100),
    ("C", "R", "front", "POST pay", CLIENT, 10, 80),
    ("P", "C", "pay", "Charge", SERVER, 15, 75),
    ("Q", "P", "pay", "publish receipt", PRODUCER, 60, 65),
    ("M", "Q", "mail", "send receipt", CONSUMER, 62, 200),
]


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _span_id(trace_no: int, letter: str) -> bytes:
    return bytes([trace_no + 1, ord(letter)] * 4)


def build_shop() -> tuple[ExportTraceServiceRequest, dict[str, str], list[str]]:
    """Three checkout traces and one cart trace (named only by method; its route is an attribute),
    ten minutes ago, a second apart, under fresh service names."""
    suffix = uuid.uuid4().hex[:6]
    names = {s: f"{s}-{suffix}" for s in ("front", "pay", "mail")}
    base = time.time_ns() - 10 * 60_000 * MS
    trace_ids = [uuid.uuid4().bytes for _ in range(4)]
    req = ExportTraceServiceRequest()
    scopes = {}
    for s, name in names.items():
        rs = req.resource_spans.add()
        rs.resource.attributes.append(_kv("service.name", name))
        scopes[s] = rs.scope_spans.add().spans
    for n, trace_id in enumerate(trace_ids[:3]):
        t0 = base + n * 1000 * MS
        for sid, parent, service, name, kind, start, end in CHECKOUT:
            span = scopes[service].add(trace_id=trace_id, span_id=_span_id(n, sid), name=name, kind=kind)
            if parent:
                span.parent_span_id = _span_id(n, parent)
            span.start_time_unix_nano, span.end_time_unix_nano = t0 + start * MS, t0 + end * MS
            if sid == "R":
                span.attributes.extend([_kv("http.request.method", "POST"), _kv("http.route", "/api/checkout")])
    cart = scopes["front"].add(trace_id=trace_ids[3], span_id=_span_id(3, "R"), name="GET", kind=SERVER)
    cart.start_time_unix_nano, cart.end_time_unix_nano = base + 5000 * MS, base + 5020 * MS
    cart.attributes.extend([_kv("http.method", "GET"), _kv("http.route", "/api/cart")])
    return req, names, [t.hex() for t in trace_ids]


@pytest.fixture(scope="module")
def shop(kokanee_server: KokaneeServer) -> dict[str, Any]:
    req, names, ids = build_shop()
    r = httpx.post(f"{kokanee_server.otlp_http_url}/v1/traces", content=req.SerializeToString(), headers=PB)
    assert r.status_code == 200
    in_list = ", ".join(f"'{n}'" for n in names.values())
    kokanee_server.wait_for(
        f"SELECT count() AS n FROM otel_traces WHERE ServiceName IN ({in_list})", lambda rows: rows[0]["n"] == 16
    )
    return {**names, "ids": ids}


def test_one_trace_s_critical_path(kokanee_server: KokaneeServer, shop: dict[str, Any]) -> None:
    body = kokanee_server.get(f"/api/v1/traces/{shop['ids'][0]}/critical-path")
    assert body["trace_id"] == shop["ids"][0]
    assert body["root_span_id"] == _span_id(0, "R").hex()
    assert body["total_ns"] == 100 * MS
    t0 = body["segments"][0]["start_time_unix_nano"]
    got = [
        (s["span_id"], (s["start_time_unix_nano"] - t0) // MS, (s["end_time_unix_nano"] - t0) // MS)
        for s in body["segments"]
    ]
    expected = [("R", 0, 10), ("C", 10, 15), ("P", 15, 60), ("Q", 60, 65), ("P", 65, 75), ("C", 75, 80), ("R", 80, 100)]
    assert got == [(_span_id(0, sid).hex(), a, b) for sid, a, b in expected]
    assert {s["service"] for s in body["segments"]} == {shop["front"], shop["pay"]}  # mail is async
    assert {s["name"]: s["self_time_ns"] for s in body["spans"]} == {
        "Charge": 55 * MS, "POST /api/checkout": 30 * MS, "POST pay": 10 * MS, "publish receipt": 5 * MS,
    }  # fmt: skip
    assert body["errors"] == []


def test_unknown_and_malformed_trace_ids(kokanee_server: KokaneeServer, shop: dict[str, Any]) -> None:
    missing = httpx.get(f"{kokanee_server.api_url}/api/v1/traces/{uuid.uuid4().hex}/critical-path")
    assert missing.status_code == 404
    assert "not found" in missing.json()["error"]
    bad = httpx.get(f"{kokanee_server.api_url}/api/v1/traces/not-an-id/critical-path")
    assert bad.status_code == 400
    assert "trace_id" in bad.json()["error"]


def test_breakdown_for_one_entry(kokanee_server: KokaneeServer, shop: dict[str, Any]) -> None:
    body = kokanee_server.get(
        "/api/v1/critical-paths", entry="POST /api/checkout", service=shop["front"], start="now-2h"
    )
    assert (body["entry"], body["traces"], body["skipped"], body["errors"]) == ("POST /api/checkout", 3, 0, [])
    # front holds R's 30 ms and C's 10 ms of every 100 ms path, pay the other 60.
    services = {s["service"]: (s["traces"], s["share_p50"], s["share_p95"], s["share_mean"]) for s in body["services"]}
    assert services == {shop["pay"]: (3, 0.6, 0.6, 0.6), shop["front"]: (3, 0.4, 0.4, 0.4)}
    operations = {(o["service"], o["operation"]): o["self_time_p50_ns"] for o in body["operations"]}
    assert operations[(shop["pay"], "Charge")] == 55 * MS
    assert body["sequences"] == [{"services": [shop["front"], shop["pay"], shop["front"]], "traces": 3, "share": 1.0}]


def test_top_entries_with_their_dominant_paths(kokanee_server: KokaneeServer, shop: dict[str, Any]) -> None:
    body = kokanee_server.get("/api/v1/critical-paths", service=shop["front"], start="now-2h")
    entries = [(e["label"], e["operation"], e["count"], e["p95_ns"], e["dominant_path"]) for e in body["entries"]]
    assert entries == [  # heaviest (count × p95) first
        ("POST /api/checkout", "POST /api/checkout", 3, 100 * MS, [shop["front"], shop["pay"], shop["front"]]),
        ("GET /api/cart", "GET", 1, 20 * MS, [shop["front"]]),
    ]
    assert body["entries"][0]["sampled_traces"] == 3
    assert body["errors"] == []


def test_an_entry_with_no_traces_gives_empty_lists(kokanee_server: KokaneeServer, shop: dict[str, Any]) -> None:
    body = kokanee_server.get("/api/v1/critical-paths", entry="nothing-here", service=shop["front"], start="now-2h")
    assert (body["traces"], body["services"], body["sequences"]) == (0, [], [])


def test_read_helpers_sample_newest_first_and_bound_the_span_load(chdb_store: Store, tmp_path: Path) -> None:
    req, names, ids = build_shop()
    chdb_store.insert_otlp("traces", [req.SerializeToString()], uuid.uuid4().hex, tmp_path)
    end = time.time_ns()
    start = end - 3600 * 10**9
    assert sample_entry_traces(chdb_store, "POST /api/checkout", start, end, names["front"], limit=2) == ids[2:0:-1]
    assert sample_entry_traces(chdb_store, "POST /api/checkout", start, end, names["pay"]) == []
    top = top_entry_operations(chdb_store, start, end, names["front"], limit=1)
    assert [(e.label, e.count, e.weight) for e in top] == [("POST /api/checkout", 3, 3 * 100 * MS)]

    loaded = load_traces(chdb_store, ids)
    assert not loaded.truncated
    assert {tid: len(spans) for tid, spans in loaded.spans.items()} == dict(zip(ids, [5, 5, 5, 1], strict=True))
    assert [s["name"] for s in loaded.spans[ids[0]]][:2] == ["POST /api/checkout", "POST pay"]  # by start time
    # 7 spans hold one whole checkout and part of the next: the partial one is left out, not half-analysed.
    cut = load_traces(chdb_store, ids[:3], max_spans=7)
    assert cut.truncated
    assert list(cut.spans) == [min(ids[:3])]
    assert load_traces(chdb_store, []) == TraceSpans()
