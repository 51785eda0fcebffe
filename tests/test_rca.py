"""rank_causes on hand-built telemetry in the shared chDB store, and POST /api/v1/rca.

Spans, logs and gauges are written straight into the exporter tables that OTLP ingest fills.
Each test has its own day and its own service names, so the shared store needs no truncation.
The faults: a slow leaf under a chain of callers, an error starting at a leaf, a CPU jump seen
only in metrics, a slow leaf seen only in traces.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass

import pyarrow as pa

from kokanee.analysis.rca import Cause, RcaParams, rank_causes
from kokanee.analysis.rca.ranker import trace_and_log_detectors
from kokanee.api.routes_rca import router
from kokanee.store.client import Store
from tests.api_client import api_client
from tests.server import KokaneeServer

NS = 1_000_000_000
MS = 1_000_000


def new_id(width: int) -> str:
    # Random, not counted: the store is shared by the whole run, and another test's trace with the
    # same id would join this one (a lookup by trace id reads both).
    return secrets.token_hex(width // 2)


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent: str
    service: str
    name: str
    kind: str
    start: int
    duration: int
    error: bool = False


def call_chain(
    at: int, services: list[str], self_ms: list[float], errors: list[bool] | None = None, network_ms: float = 0.5
) -> list[Span]:
    """One trace down a chain: services[0] calls services[1] ... each Server span (with its
    own time `self_ms[i]` before calling on) and a Client span per call."""
    errors = errors or [False] * len(services)
    trace = new_id(32)
    spans: list[Span] = []
    # Durations from the leaf up: each server = own time + the call below it.
    below = 0
    durations = [0] * len(services)
    for i in reversed(range(len(services))):
        call = below + int(2 * network_ms * MS) if i < len(services) - 1 else 0
        durations[i] = int(self_ms[i] * MS) + call
        below = durations[i]
    parent = ""
    t = at
    for i, service in enumerate(services):
        server = Span(trace, new_id(16), parent, service, f"GET /{service}", "Server", t, durations[i], errors[i])
        spans.append(server)
        if i == len(services) - 1:
            break
        t += int(self_ms[i] * MS)
        client_duration = durations[i + 1] + int(2 * network_ms * MS)
        client = Span(
            trace, new_id(16), server.span_id, service, "HTTP GET", "Client", t, client_duration, errors[i + 1]
        )
        spans.append(client)
        parent = client.span_id
        t += int(network_ms * MS)
    return spans


def write_spans(store: Store, spans: list[Span]) -> None:
    store.insert_arrow(
        "otel_traces",
        pa.table(
            {
                "Timestamp": pa.array([s.start for s in spans], pa.timestamp("ns")),
                "TraceId": [s.trace_id for s in spans],
                "SpanId": [s.span_id for s in spans],
                "ParentSpanId": [s.parent for s in spans],
                "SpanName": [s.name for s in spans],
                "SpanKind": [s.kind for s in spans],
                "ServiceName": [s.service for s in spans],
                "Duration": pa.array([s.duration for s in spans], pa.uint64()),
                "StatusCode": ["Error" if s.error else "Unset" for s in spans],
            }
        ),
    )


def write_logs(store: Store, rows: list[tuple[int, str, str, str]]) -> None:
    """(time ns, service, severity text, body)."""
    numbers = {"INFO": 9, "WARN": 13, "ERROR": 17}
    store.insert_arrow(
        "otel_logs",
        pa.table(
            {
                "Timestamp": pa.array([r[0] for r in rows], pa.timestamp("ns")),
                "ServiceName": [r[1] for r in rows],
                "SeverityText": [r[2] for r in rows],
                "SeverityNumber": pa.array([numbers[r[2]] for r in rows], pa.uint8()),
                "Body": [r[3] for r in rows],
            }
        ),
    )


def write_gauge(store: Store, service: str, metric: str, points: list[tuple[int, float]]) -> None:
    store.insert_arrow(
        "otel_metrics_gauge",
        pa.table(
            {
                "ServiceName": [service] * len(points),
                "MetricName": [metric] * len(points),
                "TimeUnix": pa.array([p[0] for p in points], pa.timestamp("ns")),
                "StartTimeUnix": pa.array([p[0] for p in points], pa.timestamp("ns")),
                "Value": pa.array([p[1] for p in points], pa.float64()),
            }
        ),
    )


DAY = 86_400 * NS
T0 = 1_750_000_000 * NS
MINUTE = 60 * NS


def day(k: int) -> int:
    return T0 + k * DAY


def windows(t: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """A 10-minute baseline then a 5-minute window, from `t`."""
    return (t, t + 10 * MINUTE), (t + 10 * MINUTE, t + 15 * MINUTE)


def traffic(
    t: int,
    services: list[str],
    base_ms: list[float],
    fault_ms: list[float],
    rnd: random.Random,
    errors_in_window: list[bool] | None = None,
) -> list[Span]:
    """A trace every 6 s for 15 minutes: the baseline's own times, then the fault's, with jitter."""
    spans: list[Span] = []
    for i in range(150):
        at = t + i * 6 * NS
        faulty = at >= t + 10 * MINUTE
        own = [ms * rnd.uniform(0.8, 1.25) for ms in (fault_ms if faulty else base_ms)]
        spans += call_chain(at, services, own, errors_in_window if faulty else None)
    return spans


def services_of(causes: list[Cause]) -> list[str]:
    return [c.service for c in causes]


def test_a_slow_leaf_ranks_above_the_callers_it_slows(chdb_store: Store) -> None:
    chain = ["t1-frontend", "t1-checkout", "t1-payment"]
    t = day(1)
    rnd = random.Random(1)
    spans = traffic(t, chain, [2, 3, 5], [2, 3, 150], rnd)
    write_spans(chdb_store, spans)
    # Every service's own latency gauge rises (the callers wait on payment): metrics alone would
    # not tell the cause from its symptoms, the dependency walk and the spans' self times do.
    for service, lifted in zip(chain, [40.0, 38.0, 30.0], strict=True):
        points = [(t + m * MINUTE, 10.0 + rnd.uniform(-1, 1) + (lifted if m >= 10 else 0)) for m in range(16)]
        write_gauge(chdb_store, service, "http.server.duration.p95", points)
    baseline, window = windows(t)
    causes = rank_causes(chdb_store, *window, baseline=baseline)
    ranked = services_of(causes)
    assert ranked[0] == "t1-payment", causes[:3]
    assert all(ranked.index("t1-payment") < ranked.index(s) for s in chain[:2] if s in ranked)
    top = causes[0]
    assert top.operation == "GET /t1-payment"
    kinds = {e["kind"] for e in top.evidence}
    assert {"trace", "series"} <= kinds, top.evidence
    assert top.to_json()["service"] == "t1-payment" and top.to_json()["evidence"]
    # Where the requests now wait, and which of the window's requests show it.
    in_window = {s.trace_id for s in spans if window[0] <= s.start < window[1]}
    path = [e for e in top.evidence if e["kind"] == "critical_path"]
    assert len(path) == 1 and path[0]["share"] > 0.9 and path[0]["baseline_share"] < 0.5, path
    assert len(path[0]["trace_ids"]) == 3 and set(path[0]["trace_ids"]) <= in_window
    slow = next(e for e in top.evidence if e.get("signal") == "self_time")
    assert slow["trace_ids"] and set(slow["trace_ids"]) <= in_window
    assert not any(e["kind"] == "critical_path" for c in causes[1:] for e in c.evidence)


def test_an_error_that_starts_in_a_leaf_ranks_the_leaf_first(chdb_store: Store) -> None:
    chain = ["t2-frontend", "t2-cart", "t2-inventory"]
    t = day(2)
    rnd = random.Random(2)
    # In the window the inventory fails, and the failure travels up: every span of the chain errs.
    spans = traffic(t, chain, [2, 3, 4], [2, 3, 4], rnd, errors_in_window=[True, True, True])
    write_spans(chdb_store, spans)
    # The cart logs its callee's failures as errors of its own, many more than anyone else.
    logs = [(t + i * 3 * NS, "t2-cart", "INFO", f"cart {i} loaded") for i in range(300)]
    logs += [(t + 10 * MINUTE + i * NS, "t2-cart", "ERROR", f"call to inventory failed: item {i}") for i in range(300)]
    write_logs(chdb_store, logs)
    baseline, window = windows(t)
    causes = rank_causes(chdb_store, *window, baseline=baseline)
    assert services_of(causes)[0] == "t2-inventory", [(c.service, c.score) for c in causes]
    origin = [e for e in causes[0].evidence if e.get("signal") == "error_origin"]
    assert origin and origin[0]["observed"] == 50
    # The latest requests it failed, to open.
    failed = sorted((s for s in spans if s.service == "t2-inventory" and s.error), key=lambda s: -s.start)
    assert origin[0]["trace_ids"] == [s.trace_id for s in failed[:3]]
    cart = next(c for c in causes if c.service == "t2-cart")
    assert any(e["kind"] == "log_template" for e in cart.evidence)


def test_metrics_alone_find_the_service_whose_cpu_jumped(chdb_store: Store) -> None:
    t = day(3)
    rnd = random.Random(3)
    for service in ("t3-a", "t3-b", "t3-c", "t3-d"):
        for metric in ("cpu", "memory"):
            jump = 60.0 if (service, metric) == ("t3-c", "cpu") else 0.0
            points = [(t + s * 10 * NS, 20 + rnd.gauss(0, 2) + (jump if s >= 60 else 0)) for s in range(90)]
            write_gauge(chdb_store, service, metric, points)
    causes = rank_causes(chdb_store, t + 10 * MINUTE, t + 15 * MINUTE, baseline=(t, t + 10 * MINUTE))
    assert services_of(causes)[0] == "t3-c"
    assert causes[0].evidence[0]["series"] == "cpu"
    assert causes[0].operation is None


def test_traces_alone_find_the_slow_leaf(chdb_store: Store) -> None:
    chain = ["t4-gateway", "t4-search", "t4-index"]
    t = day(4)
    write_spans(chdb_store, traffic(t, chain, [1, 2, 3], [1, 2, 90], random.Random(4)))
    causes = rank_causes(chdb_store, t + 10 * MINUTE, t + 15 * MINUTE)  # default baseline: the 20 min before
    assert services_of(causes)[0] == "t4-index"
    assert "t4-gateway" not in services_of(causes)[:1]


def test_nothing_changed_gives_no_causes(chdb_store: Store) -> None:
    chain = ["t5-a", "t5-b"]
    t = day(5)
    write_spans(chdb_store, traffic(t, chain, [2, 3], [2, 3], random.Random(5)))
    baseline, window = windows(t)
    assert rank_causes(chdb_store, *window, baseline=baseline) == []


def test_api_ranks_causes_for_a_window(chdb_store: Store) -> None:
    chain = ["t6-web", "t6-db-proxy"]
    t = day(6)
    write_spans(chdb_store, traffic(t, chain, [2, 3], [2, 120], random.Random(6)))
    client = api_client(chdb_store, router)
    r = client.post(
        "/api/v1/rca",
        json={
            "start": str(t + 10 * MINUTE),
            "end": t + 15 * MINUTE,
            "baseline_start": t,
            "baseline_end": t + 10 * MINUTE,
        },
    )
    assert r.status_code == 200, r.text
    causes = r.json()["causes"]
    assert causes[0]["service"] == "t6-db-proxy"
    assert set(causes[0]) == {"service", "operation", "score", "evidence"}
    assert causes[0]["score"] > 0 and causes[0]["evidence"][0]["detail"]


def test_api_rejects_bad_windows(chdb_store: Store) -> None:
    client = api_client(chdb_store, router)
    for body, words in (
        ({"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "before"),
        ({"start": "yesterday at noon", "end": "now"}, ""),
        ({"start": "now-1h", "end": "now", "baseline_start": "now-2h"}, "baseline"),
        ({"start": "now-1h", "end": "now", "baselines": []}, "empty"),
        ({"start": "now-1h", "end": "now", "baselines": [{"start": "now-2h", "end": "now-3h"}]}, "baselines[0]"),
        (
            {
                "start": "now-1h",
                "end": "now",
                "baseline_start": "now-3h",
                "baseline_end": "now-2h",
                "baselines": [{"start": "now-2h", "end": "now-1h"}],
            },
            "not both",
        ),
        ({"end": "now"}, ""),
    ):
        r = client.post("/api/v1/rca", json=body)
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
        assert words in r.json().get("error", str(r.json()))


def test_the_server_serves_rca(kokanee_server: KokaneeServer) -> None:
    import httpx

    r = httpx.post(f"{kokanee_server.api_url}/api/v1/rca", json={"start": "now-15m", "end": "now"}, timeout=60)
    assert r.status_code == 200, r.text
    assert isinstance(r.json()["causes"], list)
    r = httpx.post(f"{kokanee_server.api_url}/api/v1/rca", json={"start": "now", "end": "now-15m"}, timeout=60)
    assert r.status_code == 400 and "before" in r.json()["error"]


def _phased_traffic(
    t: int, phases: list[tuple[int, list[float], float]], services: list[str], rnd: random.Random
) -> list[Span]:
    """A trace every 6 s down `services`; each phase (minutes, own ms per service, network ms)
    follows the one before."""
    spans: list[Span] = []
    at = t
    for minutes, own_ms, network_ms in phases:
        for _ in range(minutes * 10):
            own = [ms * rnd.uniform(0.8, 1.25) for ms in own_ms]
            spans += call_chain(at, services, own, network_ms=network_ms * rnd.uniform(0.8, 1.25))
            at += 6 * NS
    return spans


def test_a_database_already_slow_before_the_window_is_drift_not_the_cause(chdb_store: Store) -> None:
    # The baseline is two windows, a quiet morning and the minute just before the fault. The
    # orders database slowed between them (its tables grew) and stays as slow in the window; the
    # fault is the payment service's.
    t = day(7)
    rnd = random.Random(7)
    chain, shop = ["t7-web", "t7-orders"], ["t7-shop", "t7-pay"]
    spans = _phased_traffic(t, [(20, [2, 3], 0.5), (1, [2, 9], 0.5), (5, [2, 9], 0.5)], chain, rnd)
    spans += _phased_traffic(t, [(20, [2, 5], 0.5), (1, [2, 5], 0.5), (5, [2, 150], 0.5)], shop, rnd)
    write_spans(chdb_store, spans)
    morning, recent = (t, t + 20 * MINUTE), (t + 20 * MINUTE, t + 21 * MINUTE)
    window = (t + 21 * MINUTE, t + 26 * MINUTE)

    def slowed(causes: list[Cause]) -> set[str]:
        return {c.service for c in causes for e in c.evidence if e.get("signal") == "self_time"}

    causes = rank_causes(chdb_store, *window, baseline=[morning, recent])
    assert services_of(causes)[0] == "t7-pay", [(c.service, c.score) for c in causes]
    assert slowed(causes) == {"t7-pay"}, [(c.service, c.evidence) for c in causes]
    # Against the morning alone, the database's drift looks like a slowdown.
    assert "t7-orders" in slowed(rank_causes(chdb_store, *window, baseline=morning))


def test_a_delay_on_one_callers_calls_is_that_callers_not_the_callees(chdb_store: Store) -> None:
    # Two services call the store; only t8-a's calls now spend long outside both services, t8-b's
    # calls into the same store do not: the store's network is fine, t8-a waits on its own side.
    t = day(8)
    rnd = random.Random(8)
    spans = _phased_traffic(t, [(10, [2, 3], 0.5), (5, [2, 3], 30.0)], ["t8-a", "t8-store"], rnd)
    spans += _phased_traffic(t, [(10, [2, 3], 0.5), (5, [2, 3], 0.5)], ["t8-b", "t8-store"], rnd)
    write_spans(chdb_store, spans)
    baseline, window = windows(t)
    causes = rank_causes(chdb_store, *window, baseline=baseline)
    assert services_of(causes)[0] == "t8-a", [(c.service, c.score) for c in causes]
    edge = [e for e in causes[0].evidence if e["kind"] == "edge"]
    assert edge and edge[0]["caller"] == "t8-a" and "t8-a's side" in edge[0]["detail"]
    assert "t8-store" not in services_of(causes)


def test_a_delay_on_every_callers_calls_is_the_callees_network(chdb_store: Store) -> None:
    t = day(9)
    rnd = random.Random(9)
    spans = _phased_traffic(t, [(10, [2, 3], 0.5), (5, [2, 3], 30.0)], ["t9-a", "t9-store"], rnd)
    spans += _phased_traffic(t, [(10, [2, 3], 0.5), (5, [2, 3], 30.0)], ["t9-b", "t9-store"], rnd)
    write_spans(chdb_store, spans)
    baseline, window = windows(t)
    causes = rank_causes(chdb_store, *window, baseline=baseline)
    assert services_of(causes)[0] == "t9-store", [(c.service, c.score) for c in causes]
    assert any("network or connection delay into t9-store" in e["detail"] for e in causes[0].evidence)


def test_a_call_gone_before_the_window_is_not_the_windows_change(chdb_store: Store) -> None:
    # The morning's baseline holds a failure that later healed: t10-api's requests went through its
    # error handler. The handler's calls are gone in the minute before the window as in the window.
    # The fault is t10-pay's: it stops writing its audit record in the window.
    t = day(10)
    rnd = random.Random(10)
    spans = _phased_traffic(t, [(20, [2, 3], 0.5), (1, [2, 3], 0.5), (5, [2, 3], 0.5)], ["t10-api", "t10-pay"], rnd)
    morning, recent = (t, t + 20 * MINUTE), (t + 20 * MINUTE, t + 21 * MINUTE)
    window = (t + 21 * MINUTE, t + 26 * MINUTE)
    for s in list(spans):
        if s.kind != "Server":
            continue
        if s.service == "t10-api" and s.start < morning[1]:
            spans.append(
                Span(s.trace_id, new_id(16), s.span_id, s.service, "ErrorController.error", "Internal", s.start, MS)
            )
        if s.service == "t10-pay" and s.start < window[0]:
            spans.append(Span(s.trace_id, new_id(16), s.span_id, s.service, "audit.write", "Internal", s.start, MS))
    write_spans(chdb_store, spans)

    def vanished(causes: list[Cause]) -> dict[str, str]:
        return {e["child"]: c.service for c in causes for e in c.evidence if e.get("signal") == "call_vanished"}

    causes = rank_causes(chdb_store, *window, baseline=[morning, recent])
    assert vanished(causes) == {"t10-pay audit.write": "t10-pay"}, [(c.service, c.evidence) for c in causes]
    assert services_of(causes)[0] == "t10-pay"
    # Against the morning alone, the healed failure looks like a call that vanished in the window
    # (the detector's verdict; the ranking then explains it away by t10-pay's vanished call).
    kinds, _ = trace_and_log_detectors(chdb_store, window, [morning], RcaParams())
    structure = next(k for k in kinds if k.kind == "structure")
    assert "t10-api ErrorController.error" in {e["child"] for e in structure.evidence.get("t10-api", [])}


def _booking_logs(t: int, service: str, header: bool, stop_at: int) -> list[tuple[int, str, str, str]]:
    """A booking every 3 s for 15 minutes: three lines, two of them with the same words. The
    second price line is not reached from `stop_at` on (the request throws between them)."""

    def line(at: int, where: str, text: str) -> tuple[int, str, str, str]:
        return (at, service, "INFO", f"INFO  b.s.BookingServiceImpl#{where} {text}" if header else text)

    rows = []
    for i in range(300):
        at = t + i * 3 * NS
        rows.append(line(at, "20", f"[book][request {i}]"))
        rows.append(line(at + MS, "40", f"price computed: {400 + i % 7}"))
        if at < stop_at:
            rows.append(line(at + 2 * MS, "46", f"price computed: {600 + i % 5}"))
    return rows


def test_a_statement_that_stops_being_reached_midway_is_the_fault(chdb_store: Store) -> None:
    t = day(11)
    baseline, window = windows(t)
    stop_at = window[0] + 2 * MINUTE
    logs = _booking_logs(t, "t11-book", header=True, stop_at=stop_at)
    # Another service's statement changes what it logs halfway (more words: Drain makes it a new
    # template) but goes on being reached: a template of it vanished, but the statement did not stop.
    for i in range(450):
        at = t + i * 2 * NS
        text = f"[query][train=G{i % 90}]" if at < stop_at else f"[query][train=Z{i % 90} type=fast]"
        logs.append((at, "t11-search", "INFO", f"INFO  s.s.SearchServiceImpl#10 {text}"))
    write_logs(chdb_store, logs)

    causes = rank_causes(chdb_store, *window, baseline=baseline)

    assert services_of(causes)[0] == "t11-book", [(c.service, c.evidence) for c in causes]
    stopped = [e for c in causes for e in c.evidence if e.get("signal") == "stopped"]
    assert len(stopped) == 1 and "BookingServiceImpl#46 price computed" in stopped[0]["template"], stopped
    assert stop_at - 3 * NS <= stopped[0]["last_seen"] < stop_at
    assert stopped[0]["expected"] > 30  # 40 bookings in the 2 minutes after it
    search = next(c for c in causes if c.service == "t11-search")
    assert {e["signal"] for e in search.evidence} == {"vanished"}

    # The same logs without the statements' locations: the two price lines fold into one template,
    # whose count only drops by a fifth, and nothing tells the stop.
    t = day(12)
    baseline, window = windows(t)
    write_logs(chdb_store, _booking_logs(t, "t12-book", header=False, stop_at=window[0] + 2 * MINUTE))
    assert "t12-book" not in services_of(rank_causes(chdb_store, *window, baseline=baseline))


def _shop_logs(t: int, service: str, error: str) -> list[tuple[int, str, str, str]]:
    """Orders every 3 s for 15 minutes; in the 5-minute window, a failed request every second
    logged the way Spring does, the exception's message past the first 300 characters."""
    head = f"ERROR o.a.c.c.C.[.[.[.[dispatcherServlet]#175 TraceID: {'0' * 32} SpanID: {'0' * 16} "
    servlet = "Servlet.service() for servlet [dispatcherServlet] in context with path [] threw exception "
    rows = [(t + i * 3 * NS, service, "INFO", f"INFO  s.s.ShopServiceImpl#30 [order][placed {i}]") for i in range(300)]
    rows += [
        (t + 10 * MINUTE + i * NS, service, "ERROR", f"{head}{servlet}{'.' * 100}[Request processing failed; {error}]")
        for i in range(300)
    ]
    assert len(rows[-1][3]) > 300 + len(error)
    return rows


def _shop_and_stock(store: Store, k: int, error: str) -> list[Cause]:
    """Day `k`: t{k}-shop's error burst (`error`, where {stock} names the stock service) beside
    t{k}-stock's quieter change, a statement that stops; the window's causes."""
    t = day(k)
    baseline, window = windows(t)
    shop, stock = f"t{k}-shop", f"t{k}-stock"
    logs = _shop_logs(t, shop, error.format(stock=stock))
    logs += _booking_logs(t, stock, header=True, stop_at=window[0] + 2 * MINUTE)
    write_logs(store, logs)
    return rank_causes(store, *window, baseline=baseline)


def test_an_error_naming_another_service_is_a_witness_not_a_suspect(chdb_store: Store) -> None:
    # The shop's errors say it could not reach the stock service: they are about the stock service.
    causes = _shop_and_stock(chdb_store, 13, "nested exception is IllegalStateException: No instances for {stock}")
    assert services_of(causes) == ["t13-stock"], [(c.service, c.evidence) for c in causes]

    # The same burst naming no other service is the shop's own error.
    # (Day 17: day 14 is test_a_call_the_caller_stopped_making_is_the_callers_change's.)
    causes = _shop_and_stock(chdb_store, 17, "nested exception is IllegalStateException: stock level below zero")
    assert services_of(causes)[0] == "t17-shop", [(c.service, c.score) for c in causes]
    assert any(e.get("signal") == "new" for e in causes[0].evidence)


def _queries(t: int, service: str, slow: set[int], rnd: random.Random) -> list[Span]:
    """A request every 12 s for 35 minutes, each making 8 database queries of about 1 ms; the
    requests numbered in `slow` (of the last five minutes' 25) wait 30 ms in each of their queries."""
    spans: list[Span] = []
    for i in range(175):
        trace, at = new_id(32), t + i * 12 * NS
        waits = 30.0 if i - 150 in slow else 1.0
        queries = [int(waits * rnd.uniform(0.8, 1.25) * MS) for _ in range(8)]
        server = Span(trace, new_id(16), "", service, "POST /pay", "Server", at, sum(queries) + 2 * MS)
        spans.append(server)
        start = at + MS
        for k, took in enumerate(queries):
            spans.append(Span(trace, new_id(16), server.span_id, service, f"SELECT t{k}", "Client", start, took))
            start += took
    return spans


def test_a_few_requests_slow_in_every_query_are_not_a_slow_service(chdb_store: Store) -> None:
    # Three of the window's 25 requests wait on a lock in each of their 8 queries: 24 of its 200
    # queries are slow, far more than chance if queries were independent, but they are three
    # requests. Half of the requests slowing is a slowdown.
    t = day(13)
    rnd = random.Random(13)
    write_spans(chdb_store, _queries(t, "t13-few", {0, 8, 16}, rnd))
    write_spans(chdb_store, _queries(t, "t13-half", set(range(0, 25, 2)), rnd))
    window = (t + 30 * MINUTE, t + 35 * MINUTE)
    slowed = {
        c.service
        for c in rank_causes(chdb_store, *window, baseline=(t, window[0]))
        for e in c.evidence
        if e.get("signal") == "self_time"
    }
    assert slowed == {"t13-half"}, slowed


def _booking(t: int, prefix: str, user: str) -> list[Span]:
    """A booking every 6 s for 15 minutes: the app calls the seat and the user services, both
    through client spans named "HTTP GET". In the last five minutes the user call is `user`:
    "answered" as before, "skipped" (the app no longer makes it) or "unanswered" (it goes out and no
    server span answers it)."""
    spans: list[Span] = []
    for i in range(150):
        trace, at = new_id(32), t + i * 6 * NS
        mode = user if i >= 100 else "answered"
        root = Span(trace, new_id(16), "", f"{prefix}-app", "POST /book", "Server", at, 20 * MS)
        spans.append(root)
        for k, callee in enumerate(("seat", "user")):
            if callee == "user" and mode == "skipped":
                continue
            client = Span(
                trace, new_id(16), root.span_id, f"{prefix}-app", "HTTP GET", "Client", at + (1 + 8 * k) * MS, 6 * MS
            )
            spans.append(client)
            if callee == "seat" or mode == "answered":
                spans.append(
                    Span(
                        trace,
                        new_id(16),
                        client.span_id,
                        f"{prefix}-{callee}",
                        f"GET /{callee}",
                        "Server",
                        at + (2 + 8 * k) * MS,
                        4 * MS,
                    )
                )
    return spans


def test_a_call_the_caller_stopped_making_is_the_callers_change(chdb_store: Store) -> None:
    # "HTTP GET" names the app's calls to both services: the calls to the user service vanish
    # because the app stopped making them, not because the user service stopped answering.
    t = day(14)
    spans = _booking(t, "t14", "skipped")
    write_spans(chdb_store, spans)
    causes = rank_causes(chdb_store, *windows(t)[1], baseline=windows(t)[0])
    assert services_of(causes)[0] == "t14-app", [(c.service, c.evidence) for c in causes]
    assert "t14-user" not in services_of(causes)
    assert any("t14-app stopped making them" in e["detail"] for e in causes[0].evidence), causes[0].evidence
    # The latest bookings, which made no call to the user service, to open.
    latest = sorted((s for s in spans if s.name == "POST /book"), key=lambda s: -s.start)[:3]
    vanished = next(e for e in causes[0].evidence if e.get("signal") == "call_vanished")
    assert vanished["trace_ids"] == [s.trace_id for s in latest], vanished


def test_calls_left_unanswered_are_the_callees(chdb_store: Store) -> None:
    t = day(15)
    write_spans(chdb_store, _booking(t, "t15", "unanswered"))
    causes = rank_causes(chdb_store, *windows(t)[1], baseline=windows(t)[0])
    assert services_of(causes)[0] == "t15-user", [(c.service, c.evidence) for c in causes]
    assert any(e.get("signal") == "call_vanished" for e in causes[0].evidence), causes[0].evidence


def _requests_logs(t: int, service: str, stop_at: int) -> list[tuple[int, str, str, str]]:
    """A request every 6 s for 26 minutes, each logging a query line, and a distance line every
    fourth request until `stop_at` (the request throws before it from then on)."""
    logger = f"t.s.{service.split('-')[-1].title()}ServiceImpl"
    rows = []
    for i in range(260):
        at = t + i * 6 * NS
        rows.append((at, service, "INFO", f"INFO  {logger}#10 [query][request {i}]"))
        if i % 4 == 0 and at < stop_at:
            rows.append((at + MS, service, "INFO", f"INFO  {logger}#30 [distance][request {i}]"))
    return rows


def test_a_statement_gone_before_the_window_is_found(chdb_store: Store) -> None:
    # The baseline is a short known-good stretch and the two minutes just before the window.
    # t16-trip stopped reaching its distance line before those two minutes: pooled with them, the
    # line's baseline rate falls under the frequency floor. t16-pay stops as the window starts.
    t = day(16)
    known_good, recent = (t, t + 3 * MINUTE), (t + 19 * MINUTE, t + 21 * MINUTE)
    window = (t + 21 * MINUTE, t + 26 * MINUTE)
    write_logs(chdb_store, _requests_logs(t, "t16-trip", t + 10 * MINUTE) + _requests_logs(t, "t16-pay", window[0]))

    def vanished(causes: list[Cause]) -> dict[str, str]:
        return {c.service: e["detail"] for c in causes for e in c.evidence if e.get("signal") == "vanished"}

    found = vanished(rank_causes(chdb_store, *window, baseline=[known_good, recent]))
    assert set(found) == {"t16-trip", "t16-pay"}, found
    assert "before the window: 0 lines in it and 0 in the baseline's last stretch" in found["t16-trip"]
    assert "before the window" not in found["t16-pay"]
    # Against the two minutes alone, nothing about t16-trip changed.
    assert set(vanished(rank_causes(chdb_store, *window, baseline=recent))) == {"t16-pay"}
    # The API takes the same baseline windows.
    r = api_client(chdb_store, router).post(
        "/api/v1/rca",
        json={
            "start": window[0],
            "end": window[1],
            "baselines": [{"start": lo, "end": hi} for lo, hi in (known_good, recent)],
        },
    )
    assert r.status_code == 200, r.text
    assert [c["service"] for c in r.json()["causes"]] == services_of(
        rank_causes(chdb_store, *window, baseline=[known_good, recent])
    )
    assert "t16-trip" in [c["service"] for c in r.json()["causes"]]
