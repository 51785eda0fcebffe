"""Service-graph pairing on hand-built traces, through the real ingest path (MVs fire) and the deriver.

Each case draws its trace: `A:client` is a CLIENT span of service A; indentation is parenthood.
Times are seconds from T0, a whole minute half an hour ago (arrivals are kept a day).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status
from prometheus_client import REGISTRY

from kokanee.derive.runner import Deriver
from kokanee.derive.servicegraph import MINUTE_NS, run_minute
from kokanee.store.client import Store
from kokanee.store.timeparse import now_ns

NS = 1_000_000_000
T0 = (now_ns() // MINUTE_NS - 30) * MINUTE_NS
WAIT = 10 * NS
TABLES = (
    "otel_traces",
    "otel_traces_trace_id_ts",
    "kokanee_trace_keys",
    "kokanee_span_arrivals",
    "kokanee_red_1m",
    "kokanee_red_1h",
    "kokanee_service_red_1m",
    "kokanee_service_red_1h",
)
KINDS = {
    "server": Span.SPAN_KIND_SERVER,
    "client": Span.SPAN_KIND_CLIENT,
    "producer": Span.SPAN_KIND_PRODUCER,
    "consumer": Span.SPAN_KIND_CONSUMER,
    "internal": Span.SPAN_KIND_INTERNAL,
    "unspecified": Span.SPAN_KIND_UNSPECIFIED,
}


@dataclass(frozen=True)
class S:
    service: str
    kind: str
    span: int
    parent: int | None = None
    at: float = 1.0  # seconds after T0
    ms: float = 10.0
    error: bool = False
    attrs: dict[str, str] = field(default_factory=dict)
    trace: int = 1


def request(*spans: S) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    for s in spans:
        rs = ResourceSpans(
            resource=Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value=s.service))])
        )
        start = T0 + int(s.at * NS)
        span = Span(
            trace_id=s.trace.to_bytes(16, "big"),
            span_id=s.span.to_bytes(8, "big"),
            parent_span_id=s.parent.to_bytes(8, "big") if s.parent else b"",
            name=f"{s.service} {s.kind}",
            kind=KINDS[s.kind],
            start_time_unix_nano=start,
            end_time_unix_nano=start + int(s.ms * 1_000_000),
            status=Status(code=Status.STATUS_CODE_ERROR if s.error else Status.STATUS_CODE_UNSET),
            attributes=[KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in s.attrs.items()],
        )
        rs.scope_spans.append(ScopeSpans(spans=[span]))
        req.resource_spans.append(rs)
    return req


def ingest(store: Store, tmp_path: Path, *spans: S, token: str | None = None) -> None:
    body = request(*spans).SerializeToString()
    store.insert_otlp("traces", [body], token or uuid.uuid4().hex, tmp_path)


def edges(store: Store) -> dict[tuple[int, str, str, str], tuple[int, int]]:
    """{(minute from T0, client, server, type): (requests, failures)}"""
    rows = store.query(
        """SELECT toUnixTimestamp(Minute), Client, Server, ConnectionType, sum(Requests), sum(Failures)
        FROM kokanee_service_edges_1m GROUP BY ALL"""
    ).rows
    return {((int(r[0]) * NS - T0) // MINUTE_NS, r[1], r[2], r[3]): (int(r[4]), int(r[5])) for r in rows}


def close(store: Store, minutes: int = 1, **kwargs: Any) -> int:
    """Runs the deriver as if `minutes` minutes after T0 had ended and the wait had passed."""
    return Deriver(store, wait_s=WAIT / NS, **kwargs).run_once(T0 + minutes * MINUTE_NS + WAIT)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def store(chdb_store: Store) -> Store:
    for table in (*TABLES, "kokanee_service_edges_1m", "kokanee_derive_state"):
        chdb_store.command(f"TRUNCATE TABLE IF EXISTS {table}")
    return chdb_store


# user ─► frontend:server
#           frontend:client ─► cart:server (error)
def test_client_server_pair_and_user_root(store: Store, tmp_path: Path) -> None:
    ingest(
        store, tmp_path,
        S("frontend", "server", 1, ms=50),
        S("frontend", "client", 2, 1, at=1.01, ms=30),
        S("cart", "server", 3, 2, at=1.02, ms=20, error=True),
    )  # fmt: skip
    assert close(store) == 1
    assert edges(store) == {
        (0, "user", "frontend", "virtual_node"): (1, 0),
        (0, "frontend", "cart", ""): (1, 1),
    }
    client_p50, server_p50 = store.query(
        """SELECT kokanee_quantiles(sumMap(ClientHistogram))[1],
        kokanee_quantiles(sumMap(ServerHistogram))[1]
        FROM kokanee_service_edges_1m WHERE Client = 'frontend'"""
    ).rows[0]
    # One request each: the middle of its histogram bucket, within one bucket (4.4%).
    assert client_p50 == pytest.approx(30_000_000, rel=0.045)
    assert server_p50 == pytest.approx(20_000_000, rel=0.045)


# checkout:producer ─► accounting:consumer   (no messaging attributes: a direct edge)
def test_producer_consumer_pair(store: Store, tmp_path: Path) -> None:
    ingest(store, tmp_path, S("checkout", "producer", 1, 9), S("accounting", "consumer", 2, 1, at=1.5))
    close(store)
    assert edges(store) == {(0, "checkout", "accounting", "messaging_system"): (1, 0)}


# checkout:producer{kafka, orders} ─► accounting:consumer, fraud-detection:consumer
def test_kafka_goes_through_a_broker_node(store: Store, tmp_path: Path) -> None:
    kafka = {"messaging.system": "kafka", "messaging.destination.name": "orders", "server.address": "kafka"}
    ingest(
        store, tmp_path,
        S("checkout", "producer", 1, 9, attrs=kafka),
        S("accounting", "consumer", 2, 1, at=2, attrs=kafka),
        S("fraud-detection", "consumer", 3, 1, at=3, attrs=kafka, error=True),
    )  # fmt: skip
    close(store)
    assert edges(store) == {
        (0, "checkout", "kafka/orders", "messaging_system"): (1, 0),
        (0, "kafka/orders", "accounting", "messaging_system"): (1, 0),
        (0, "kafka/orders", "fraud-detection", "messaging_system"): (1, 1),
    }


@pytest.mark.parametrize(
    ("attrs", "node", "kind"),
    [
        ({"db.system.name": "postgresql", "db.namespace": "otel", "server.address": "pg"}, "pg", "database"),
        ({"db.system": "redis", "db.namespace": "0"}, "0", "database"),
        ({"db.system": "sqlite"}, "sqlite", "database"),
        ({"peer.service": "stripe", "server.address": "api.stripe.com"}, "stripe", "virtual_node"),
        ({"server.address": "api.stripe.com"}, "api.stripe.com", "virtual_node"),
        ({"net.peer.name": "legacy-host"}, "legacy-host", "virtual_node"),
    ],
    ids=["database named by server.address", "database named by namespace", "database named by system",
         "peer.service names an uninstrumented peer", "server.address names it otherwise", "old net.peer.name"],
)  # fmt: skip
# cart:client{attrs} ─► (nothing instrumented)
def test_unpaired_client_goes_to_a_virtual_node(
    store: Store, tmp_path: Path, attrs: dict[str, str], node: str, kind: str
) -> None:
    ingest(store, tmp_path, S("cart", "client", 1, 9, attrs=attrs))
    close(store)
    assert edges(store) == {(0, "cart", node, kind): (1, 0)}


# A:unspecified (root) ─► A:unspecified ─► B:unspecified ─► C:internal   (Nezha: no kinds)
def test_missing_kinds_fall_back_to_parent_child_across_services(store: Store, tmp_path: Path) -> None:
    ingest(
        store, tmp_path,
        S("a", "unspecified", 1),
        S("a", "unspecified", 2, 1),
        S("b", "unspecified", 3, 2, error=True),
        S("c", "internal", 4, 3),
    )  # fmt: skip
    close(store)
    assert edges(store) == {
        (0, "user", "a", "virtual_node"): (1, 0),
        (0, "a", "b", ""): (1, 1),
        (0, "b", "c", ""): (1, 0),
    }


# frontend:client ─► cart:server, sent in two requests, server first (out of order)
@pytest.mark.parametrize("server_first", [False, True], ids=["client first", "server first"])
def test_spans_of_one_trace_in_different_requests(store: Store, tmp_path: Path, server_first: bool) -> None:
    client, server = S("frontend", "client", 2, 1), S("cart", "server", 3, 2, at=1.1)
    for span in (server, client) if server_first else (client, server):
        ingest(store, tmp_path, span)
    close(store)
    assert edges(store) == {(0, "frontend", "cart", ""): (1, 0)}


# frontend:client at 0:59.9 ─► cart:server at 1:00.1: one edge, in the client's minute
def test_a_pair_across_a_minute_boundary_is_counted_once(store: Store, tmp_path: Path) -> None:
    ingest(store, tmp_path, S("frontend", "client", 2, 1, at=59.9), S("cart", "server", 3, 2, at=60.1))
    assert close(store, minutes=2) == 2
    assert edges(store) == {(0, "frontend", "cart", ""): (1, 0)}


# frontend:client at 0:30 ─► cart:server 45 s later (beyond the 10 s wait), and a late arrival
def test_expired_and_late_spans_are_counted_not_paired(store: Store, tmp_path: Path) -> None:
    before = {side: metric("kokanee_servicegraph_unpaired_spans_total", side=side) for side in ("client", "server")}
    late_before = metric("kokanee_servicegraph_late_spans_total")
    ingest(store, tmp_path, S("frontend", "client", 2, 1, at=30), S("cart", "server", 3, 2, at=75))
    deriver = Deriver(store, wait_s=WAIT / NS)
    assert deriver.run_once(T0 + 2 * MINUTE_NS + WAIT) == 2
    assert edges(store) == {}
    assert metric("kokanee_servicegraph_unpaired_spans_total", side="client") == before["client"] + 1
    assert metric("kokanee_servicegraph_unpaired_spans_total", side="server") == before["server"] + 1
    ingest(store, tmp_path, S("cart", "server", 5, 4, at=5, trace=2))  # minute 0 is already closed
    assert deriver.run_once(T0 + 2 * MINUTE_NS + WAIT) == 0
    assert metric("kokanee_servicegraph_late_spans_total") == late_before + 1
    assert edges(store) == {}


def test_replayed_batches_and_rerun_minutes_count_once(store: Store, tmp_path: Path) -> None:
    spans = (S("frontend", "client", 2, 1), S("cart", "server", 3, 2, at=1.1))
    ingest(store, tmp_path, *spans, token="wal-7")
    ingest(store, tmp_path, *spans, token="wal-7")  # WAL replay after a crash
    run_minute(store, T0, WAIT)  # closed, then a crash before the watermark moved
    close(store)
    assert edges(store) == {(0, "frontend", "cart", ""): (1, 0)}


def test_catch_up_is_bounded_oldest_first_and_skips_empty_minutes(store: Store, tmp_path: Path) -> None:
    for i, minute in enumerate((0, 5, 9)):
        ingest(store, tmp_path, S("frontend", "client", 2, 1, at=minute * 60 + 1, trace=i + 1),
               S("cart", "server", 3, 2, at=minute * 60 + 1.1, trace=i + 1))  # fmt: skip
    deriver = Deriver(store, wait_s=WAIT / NS, max_minutes_per_tick=2)
    now = T0 + 10 * MINUTE_NS + WAIT
    assert deriver.run_once(now) == 2
    assert deriver.watermark_ns() == T0 + 6 * MINUTE_NS
    assert deriver.run_once(now) == 1
    assert deriver.watermark_ns() == T0 + 10 * MINUTE_NS
    assert deriver.run_once(now) == 0
    assert set(edges(store)) == {(m, "frontend", "cart", "") for m in (0, 5, 9)}


def test_history_imported_behind_the_watermark_is_closed(store: Store, tmp_path: Path) -> None:
    """Live data moved the watermark on; a recording imported afterwards with older times still
    gets its edges, and minutes closed before are not counted twice."""
    ingest(store, tmp_path, S("frontend", "client", 2, 1, at=600.5), S("cart", "server", 3, 2, at=600.6))
    deriver = Deriver(store, wait_s=WAIT / NS, max_minutes_per_tick=2)
    now = T0 + 11 * MINUTE_NS + WAIT
    assert deriver.run_once(now) == 1 and deriver.watermark_ns() == T0 + 11 * MINUTE_NS
    assert deriver.run_once(now) == 0  # the first look at arrivals only notes where they start
    time.sleep(1.1)  # arrivals are stamped in whole seconds
    for i, minute in enumerate((0, 3, 7)):
        ingest(store, tmp_path, S("checkout", "client", 2, 1, at=minute * 60 + 1, trace=i + 1),
               S("payment", "server", 3, 2, at=minute * 60 + 1.1, trace=i + 1))  # fmt: skip
    ingest(
        store, tmp_path, S("frontend", "client", 2, 1, at=600.7, trace=9), S("cart", "server", 3, 2, at=600.8, trace=9)
    )
    assert deriver.run_once(now) == 2  # a pass in steps of at most two minutes, oldest first
    assert deriver.run_once(now) == 1
    assert deriver.run_once(now) == 0
    assert edges(store) == {
        (0, "checkout", "payment", ""): (1, 0),
        (3, "checkout", "payment", ""): (1, 0),
        (7, "checkout", "payment", ""): (1, 0),
        (10, "frontend", "cart", ""): (1, 0),  # the late pair in a closed minute is not added
    }
    assert deriver.watermark_ns() == T0 + 11 * MINUTE_NS


def test_a_minute_is_not_closed_before_its_wait_has_passed(store: Store, tmp_path: Path) -> None:
    ingest(store, tmp_path, S("frontend", "client", 2, 1), S("cart", "server", 3, 2, at=1.1))
    deriver = Deriver(store, wait_s=WAIT / NS)
    assert deriver.run_once(T0 + MINUTE_NS + WAIT - 1) == 0
    assert edges(store) == {}
    assert deriver.run_once(T0 + MINUTE_NS + WAIT) == 1


def test_the_user_client_is_configurable(store: Store, tmp_path: Path) -> None:
    ingest(store, tmp_path, S("frontend", "server", 1))
    close(store, user_client="internet")
    assert edges(store) == {(0, "internet", "frontend", "virtual_node"): (1, 0)}
