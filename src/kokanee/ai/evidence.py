"""Evidence for an explanation: what kokanee measured about a service, a trace or an incident, each
piece with an id (E1, E2, ...) a narrative must cite.

`facts` are numbers and names kokanee computed (the verifier checks a narrative against them);
`quotes` are telemetry text (status messages, log bodies) that reach a prompt only as quoted data
and never count as support for a claim.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kokanee.analysis.critical_path import cpspans, critical_path
from kokanee.analysis.health import Red, Slo, classify
from kokanee.store.client import QueryError, Store, StoreUnavailable
from kokanee.store.reads.anomalies import incident_anomalies
from kokanee.store.reads.red import operation_red, service_red_and_baseline
from kokanee.store.reads.topology import BASELINE_FACTOR, read_topology
from kokanee.store.reads.traces import get_trace

log = logging.getLogger(__name__)
_NS = 1_000_000_000


@dataclass
class Evidence:
    id: str
    kind: str
    title: str
    facts: dict[str, Any] = field(default_factory=dict)
    quotes: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "title": self.title, "facts": self.facts, "quotes": self.quotes}


@dataclass
class EvidenceSet:
    subject_kind: str  # service | trace | incident
    subject: str
    start_ns: int
    end_ns: int
    items: list[Evidence] = field(default_factory=list)
    known_services: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)  # what could not be gathered, and why

    def add(self, kind: str, title: str, facts: dict[str, Any], quotes: dict[str, Any] | None = None) -> Evidence:
        item = Evidence(f"E{len(self.items) + 1}", kind, title, facts, quotes or {})
        self.items.append(item)
        return item

    def by_id(self) -> dict[str, Evidence]:
        return {e.id: e for e in self.items}

    def to_json(self) -> dict[str, Any]:
        return {
            "subject_kind": self.subject_kind, "subject": self.subject, "start_time_unix_nano": self.start_ns,
            "end_time_unix_nano": self.end_ns, "evidence": [e.to_json() for e in self.items], "notes": self.notes,
        }  # fmt: skip


def _ms(ns: float | None) -> float | None:
    return round(ns / 1e6, 1) if ns is not None else None


def _pct(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def _red_facts(service: str, requests: int, errors: int, p50: float | None, p95: float | None, p99: float | None,
               window_s: float) -> dict[str, Any]:  # fmt: skip
    return {
        "service": service, "requests": requests, "errors": errors, "error_rate_pct": _pct(errors, requests),
        "rate_per_s": round(requests / window_s, 3) if window_s else 0.0,
        "p50_ms": _ms(p50), "p95_ms": _ms(p95), "p99_ms": _ms(p99),
    }  # fmt: skip


def add_service(ev: EvidenceSet, store: Store, service: str, slo: Slo | None = None) -> str | None:
    """RED against its baseline, the health verdict, busiest operations, edges, top error messages
    and error logs of one service. Returns the health status (None when the service had no traffic)."""
    start, end = ev.start_ns, ev.end_ns
    window_s = (end - start) / _NS
    base_start = start - BASELINE_FACTOR * (end - start)
    now, before = service_red_and_baseline(store, start, end, base_start)
    red = now.get(service)
    if red is None:
        ev.notes.append(f"{service} served no requests between start and end")
        return None
    q = red.quantiles_ns
    ev.add("red", f"{service}: requests, errors and latency over the window",
           _red_facts(service, red.requests, red.errors, q[0], q[2], q[3], window_s))  # fmt: skip
    base = before.get(service)
    if base is not None:
        bq = base.quantiles_ns
        facts = _red_facts(service, base.requests, base.errors, bq[0], bq[2], bq[3], (start - base_start) / _NS)
        ev.add("baseline", f"{service}: the same over the {BASELINE_FACTOR} windows before", facts)
    health = classify(red.health_input(), base.health_input() if base else None, slo)
    ev.add("health", f"{service}: health verdict", {"service": service, "status": health.status.value,
                                                    "reason": health.reason})  # fmt: skip
    for op in operation_red(store, start, end, service)[:5]:
        op_health = classify(Red(op["requests"], op["errors"], op["p95_ms"] * 1e6 if op["p95_ms"] else None), None, slo)
        ev.add("operation", f"{service}: operation {op['operation']}", {
            "service": service, "operation": op["operation"], "requests": op["requests"], "errors": op["errors"],
            "error_rate_pct": _pct(op["errors"], op["requests"]), "p95_ms": op["p95_ms"], "p99_ms": op["p99_ms"],
            "status": op_health.status.value,
        })  # fmt: skip
    topo = read_topology(store, start, end, slo)
    ev.known_services |= {n.name for n in topo.nodes}
    for edge in [e for e in topo.edges if service in (e.source, e.target)][:8]:
        direction = "calls" if edge.source == service else "is called by"
        other = edge.target if edge.source == service else edge.source
        ev.add("edge", f"{service} {direction} {other}", {
            "source": edge.source, "target": edge.target, "requests": edge.red.requests,
            "failures": edge.red.errors, "failure_rate_pct": _pct(edge.red.errors, edge.red.requests),
            "p95_ms": _ms(edge.red.p95_ns), "status": edge.health.status.value,
        })  # fmt: skip
    _add_errors(ev, store, service)
    return health.status.value


def _add_errors(ev: EvidenceSet, store: Store, service: str) -> None:
    params = {"s": service, "start": ev.start_ns, "end": ev.end_ns}
    window = "Timestamp >= fromUnixTimestamp64Nano({start:Int64}) AND Timestamp < fromUnixTimestamp64Nano({end:Int64})"
    rows = store.query(
        f"""SELECT SpanName, StatusMessage, count() AS n, any(TraceId) AS trace FROM otel_traces
        WHERE ServiceName = {{s:String}} AND StatusCode = 'Error' AND {window}
        GROUP BY SpanName, StatusMessage ORDER BY n DESC LIMIT 3""",
        parameters=params,
    ).rows
    for name, message, n, trace in rows:
        ev.add("errors", f"{service}: failed spans of {name}",
               {"service": service, "operation": name, "count": int(n), "sample_trace_id": trace},
               {"status_message": message})  # fmt: skip
    logs = store.query(
        f"""SELECT Body, count() AS n FROM otel_logs WHERE ServiceName = {{s:String}} AND SeverityNumber >= 17
        AND {window} GROUP BY Body ORDER BY n DESC LIMIT 3""",
        parameters=params,
    ).rows
    for body, n in logs:
        ev.add("logs", f"{service}: error log lines", {"service": service, "count": int(n)}, {"body": body[:500]})


def add_anomalies_and_causes(
    ev: EvidenceSet, store: Store, services: list[str] | None, anomalies: Sequence[Mapping[str, Any]] = ()
) -> None:
    """Anomalies and ranked causes from the anomaly detector and root-cause ranking, where present;
    an incident's `anomalies` rank its causes when the raw telemetry shows none."""
    try:
        rows = store.query(
            """SELECT ServiceName, Series, Detector, Expected, Actual, Severity FROM kokanee_anomalies
            WHERE Timestamp >= toDateTime(intDiv({start:Int64}, 1000000000))
              AND Timestamp < toDateTime(intDiv({end:Int64}, 1000000000))
              AND (empty({services:Array(String)}) OR has({services:Array(String)}, ServiceName))
            ORDER BY Score DESC LIMIT 5""",
            parameters={"start": ev.start_ns, "end": ev.end_ns, "services": services or []},
        ).rows
        for service, series, detector, expected, actual, severity in rows:
            ev.add("anomaly", f"{service}: anomaly on {series}", {
                "service": service, "series": series, "detector": detector, "expected": round(float(expected), 3),
                "actual": round(float(actual), 3), "severity": severity,
            })  # fmt: skip
    except QueryError:
        ev.notes.append("no anomaly table: anomalies left out")
    try:
        from kokanee.analysis.rca import rank_causes
        from kokanee.analysis.rca.incident_causes import incident_causes
    except ImportError:
        ev.notes.append("root-cause ranking is not available: causes left out")
        return
    try:
        if services:  # what the services touch, not another incident's causes at the same time
            causes, note = incident_causes(store, services, ev.start_ns, ev.end_ns, anomalies)
            causes = causes[:3]
            if note:
                ev.notes.append(note)
        else:
            causes = rank_causes(store, ev.start_ns, ev.end_ns)[:3]
    except (ValueError, QueryError, StoreUnavailable) as e:
        ev.notes.append(f"root-cause ranking failed: {e}")
        return
    for rank, cause in enumerate(causes, 1):
        ev.known_services.add(cause.service)
        details = [str(e.get("detail", ""))[:200] for e in cause.evidence[:3]]
        ev.add("cause", f"candidate cause #{rank}: {cause.service}", {
            "service": cause.service, "operation": cause.operation, "rank": rank, "score": round(cause.score, 3),
        }, {"details": details})  # fmt: skip


def for_service(store: Store, service: str, start_ns: int, end_ns: int, slo: Slo | None = None) -> EvidenceSet:
    ev = EvidenceSet("service", service, start_ns, end_ns, known_services={service})
    status = add_service(ev, store, service, slo)
    if status not in (None, "healthy"):
        add_anomalies_and_causes(ev, store, [service])
    return ev


def for_trace(store: Store, trace_id: str) -> EvidenceSet | None:
    spans = get_trace(store, trace_id)
    if not spans:
        return None
    start = min(s["start_time_unix_nano"] for s in spans)
    end = max(s["end_time_unix_nano"] for s in spans)
    ev = EvidenceSet("trace", trace_id, start, end, known_services={s["service_name"] for s in spans})
    roots = [s for s in spans if not s["parent_span_id"]] or spans[:1]
    root = roots[0]
    errors = [s for s in spans if s["status_code"] == "Error"]
    ev.add("trace", f"trace {trace_id}", {
        "trace_id": trace_id, "root_service": root["service_name"], "root_operation": root["name"],
        "duration_ms": _ms(end - start), "spans": len(spans), "services": sorted(ev.known_services),
        "error_spans": len(errors),
    })  # fmt: skip
    path = critical_path(cpspans(spans))
    per_service: Counter[str] = Counter()
    for seg in path.segments:
        per_service[seg.service] += seg.duration_ns
    for service, ns in per_service.most_common(4):
        ev.add("critical_path", f"time on the critical path in {service}", {
            "service": service, "self_time_ms": _ms(ns), "share_pct": _pct(ns, path.total_ns),
        })  # fmt: skip
    for span in sorted(spans, key=lambda s: -s["duration_ns"])[:3]:
        ev.add("span", f"slow span {span['name']}", {
            "service": span["service_name"], "operation": span["name"], "span_id": span["span_id"],
            "duration_ms": _ms(span["duration_ns"]), "status": span["status_code"],
        })  # fmt: skip
    for span in errors[:3]:
        ev.add("error_span", f"failed span {span['name']}", {
            "service": span["service_name"], "operation": span["name"], "span_id": span["span_id"],
        }, {"status_message": span["status_message"]})  # fmt: skip
    return ev


def for_incident(store: Store, incident_id: str, now_ns: int, slo: Slo | None = None) -> EvidenceSet | None:
    """Evidence for an incident of the anomaly detector: each service's health and RED over the
    incident (from five minutes before it opened), its anomalies, and the ranked causes."""
    try:
        rows = store.query(
            """SELECT toUnixTimestamp64Nano(OpenedAt),
                if(isNull(ResolvedAt), 0, toUnixTimestamp64Nano(assumeNotNull(ResolvedAt))),
                Status, Severity, Services, Title
            FROM kokanee_incidents FINAL WHERE IncidentId = {id:String}""",
            parameters={"id": incident_id},
        ).rows
    except QueryError:
        return None
    if not rows:
        return None
    opened, resolved, status, severity, services, title = rows[0]
    start = int(opened) - 5 * 60 * _NS
    end = int(resolved) or now_ns
    ev = EvidenceSet("incident", incident_id, start, max(end, start + 60 * _NS), known_services=set(services))
    ev.add("incident", f"incident {incident_id}", {"incident_id": incident_id, "status": status,
                                                   "severity": severity, "services": list(services)},
           {"title": title})  # fmt: skip
    for service in list(services)[:5]:
        add_service(ev, store, service, slo)
    anomalies = incident_anomalies(store, incident_id, list(services), int(opened), end)
    add_anomalies_and_causes(ev, store, list(services), anomalies)
    return ev
