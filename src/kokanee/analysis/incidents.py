"""Incidents: anomalies that are close on the service graph and in time, grouped, opened and
resolved automatically.

Per minute, the anomalous services (warning or worse) are split into groups that are connected by
service-graph edges. A group joins an open incident when one of its services is in the incident
or next to one of the incident's services, and the incident had an anomaly within the merge gap.
Otherwise it opens a new incident when it holds a critical anomaly, or when one of its services
was already anomalous in the previous minutes (a single stray warning opens nothing). An incident
with no anomaly for `incident_resolve_minutes` is resolved.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from kokanee.analysis.anomaly import Anomaly
from kokanee.analysis.anomaly_params import MINUTE_S, DetectionParams
from kokanee.store.client import Store

_RANK = {"info": 0, "warning": 1, "critical": 2}


@dataclass
class Incident:
    id: str
    opened_at: int  # Unix s
    severity: str
    services: list[str]
    title: str
    last_anomaly_at: int
    anomaly_count: int = 0
    status: str = "open"
    resolved_at: int | None = None
    # The strongest anomaly so far, which names the incident.
    top: tuple[int, float] = field(default=(-1, 0.0), compare=False)
    headline: str = field(default="", compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "severity": self.severity,
            "services": self.services,
            "title": self.title,
            "opened_at": self.opened_at,
            "resolved_at": self.resolved_at,
            "last_anomaly_at": self.last_anomaly_at,
            "anomaly_count": self.anomaly_count,
        }


def describe(a: Anomaly) -> str:
    """One line a person reads: what changed, and from what."""

    def fmt(v: float) -> str:
        if a.key.metric == "error_rate":
            return f"{v * 100:.1f}%"
        if a.key.metric in ("p50_ms", "p95_ms"):
            return f"{v:.0f} ms"
        return f"{v:.4g}"

    what = {
        "error_rate": "error rate",
        "p50_ms": "median latency",
        "p95_ms": "p95 latency",
        "requests": "requests/min",
    }.get(a.key.metric, "lines/min" if a.key.signal == "log_template" else a.key.operation)
    where = a.key.operation if a.key.signal in ("edge",) else a.key.service
    if a.detector == "drain-new":
        return f"{a.key.service}: new log template {a.note[:80]!r}"
    return f"{where}: {what} {fmt(a.actual)} (expected {fmt(a.expected)})"


@dataclass
class ServiceGraph:
    """Who called whom: `neighbours` either way (for grouping), `callees` one way (for naming)."""

    neighbours: dict[str, set[str]] = field(default_factory=dict)
    callees: dict[str, set[str]] = field(default_factory=dict)


def service_graph(store: Store, lo: int, hi: int) -> ServiceGraph:
    """The services that called each other in [lo, hi) (Unix s)."""
    rows = store.query(
        """SELECT DISTINCT Client, Server FROM kokanee_service_edges_1m
        WHERE Minute >= toDateTime({lo:Int64}) AND Minute < toDateTime({hi:Int64})""",
        parameters={"lo": lo, "hi": hi},
    ).rows
    graph = ServiceGraph()
    for client, server in rows:
        graph.neighbours.setdefault(str(client), set()).add(str(server))
        graph.neighbours.setdefault(str(server), set()).add(str(client))
        graph.callees.setdefault(str(client), set()).add(str(server))
    return graph


def _components(services: Iterable[str], graph: dict[str, set[str]]) -> list[set[str]]:
    remaining = set(services)
    groups = []
    while remaining:
        seed = remaining.pop()
        group, frontier = {seed}, [seed]
        while frontier:
            for peer in graph.get(frontier.pop(), set()) & remaining:
                remaining.discard(peer)
                group.add(peer)
                frontier.append(peer)
        groups.append(group)
    return groups


def load_open(store: Store) -> list[Incident]:
    rows = store.query(
        """SELECT IncidentId, toUnixTimestamp(OpenedAt), Severity, Services, Title,
            toUnixTimestamp(LastAnomalyAt), AnomalyCount
        FROM kokanee_incidents FINAL WHERE Status = 'open' ORDER BY OpenedAt"""
    ).rows
    out = []
    for r in rows:
        incident = Incident(str(r[0]), int(r[1]), str(r[2]), list(r[3]), str(r[4]), int(r[5]), int(r[6]))
        incident.headline = incident.title.split(" [+", 1)[0]
        incident.top = (_RANK.get(incident.severity, 1), 0.0)
        out.append(incident)
    return out


class IncidentTracker:
    """Open incidents in memory between minutes; `flush` writes the ones that changed."""

    def __init__(self, store: Store, params: DetectionParams) -> None:
        self.store = store
        self.params = params
        self.open: list[Incident] = load_open(store)
        self._changed: dict[str, Incident] = {}
        self._recent: dict[str, list[int]] = {}  # service -> minutes with warning+ anomalies

    def remember(self, anomalies: Iterable[tuple[str, int]]) -> None:
        """Anomalous (service, minute)s from before this run, for confirmation."""
        for service, minute in anomalies:
            self._recent.setdefault(service, []).append(minute)

    def update(self, t: int, anomalies: list[Anomaly], graph: ServiceGraph) -> None:
        """Groups minute `t`'s anomalies into incidents (setting their incident_id), then
        resolves quiet incidents."""
        serious = [a for a in anomalies if _RANK[a.severity] >= 1]
        by_service: dict[str, list[Anomaly]] = {}
        for a in serious:
            by_service.setdefault(a.key.service, []).append(a)
        gap = self.params.incident_merge_gap_minutes * MINUTE_S
        confirm_lo = t - self.params.incident_confirm_minutes * MINUTE_S
        for group in _components(by_service, graph.neighbours):
            members = [a for s in sorted(group) for a in by_service[s]]
            incident = self._matching(t, group, graph.neighbours, gap)
            if incident is None:
                critical = any(a.severity == "critical" for a in members)
                earlier = [m for s in group for m in self._recent.get(s, []) if confirm_lo <= m < t]
                if not critical and not earlier:
                    continue
                incident = self._open(min([t, *earlier]), members)
            # Among equally strong anomalies, the one furthest down the calls names the incident:
            # its callers' anomalies are more likely its symptoms.
            deepest = {s for s in group if not graph.callees.get(s, set()) & group}
            self._attach(incident, t, members, deepest)
        for s in by_service:
            self._recent.setdefault(s, []).append(t)
        for s in list(self._recent):
            self._recent[s] = [m for m in self._recent[s] if m >= t - gap]
        for incident in list(self.open):
            if t - incident.last_anomaly_at >= self.params.incident_resolve_minutes * MINUTE_S:
                incident.status, incident.resolved_at = "resolved", incident.last_anomaly_at + MINUTE_S
                self.open.remove(incident)
                self._mark(incident)

    def _matching(self, t: int, group: set[str], graph: dict[str, set[str]], gap: int) -> Incident | None:
        for incident in self.open:  # oldest first
            if t - incident.last_anomaly_at > gap:
                continue
            near = set(incident.services)
            for s in incident.services:
                near |= graph.get(s, set())
            if near & group:
                return incident
        return None

    def _open(self, opened: int, members: list[Anomaly]) -> Incident:
        services = sorted({a.key.service for a in members})
        digest = hashlib.sha1(f"{opened}:{','.join(services)}".encode()).hexdigest()[:6]
        incident = Incident(
            id=f"inc-{opened}-{digest}",
            opened_at=opened,
            severity="warning",
            services=[],
            title="",
            last_anomaly_at=opened,
        )
        self.open.append(incident)
        return incident

    def _attach(self, incident: Incident, t: int, members: list[Anomaly], deepest: set[str]) -> None:
        for a in members:
            a.incident_id = incident.id
            if a.key.service not in incident.services:
                incident.services.append(a.key.service)
        incident.anomaly_count += len(members)
        incident.last_anomaly_at = max(incident.last_anomaly_at, t)
        if any(a.severity == "critical" for a in members):
            incident.severity = "critical"
        top = max(members, key=lambda a: (_RANK[a.severity], round(abs(a.score), 1), a.key.service in deepest))
        if (_RANK[top.severity], round(abs(top.score), 1)) > incident.top:
            incident.top, incident.headline = (_RANK[top.severity], round(abs(top.score), 1)), describe(top)
        extra = len(incident.services) - 1
        incident.title = incident.headline + (f" [+{extra} more services]" if extra else "")
        self._mark(incident)

    def _mark(self, incident: Incident) -> None:
        self._changed[incident.id] = incident

    def flush(self) -> list[Incident]:
        """Writes the incidents changed since the last flush; returns them."""
        changed = list(self._changed.values())
        self._changed.clear()
        if changed:
            write_incidents(self.store, changed)
        return changed


def write_incidents(store: Store, incidents: list[Incident]) -> None:
    ms = pa.timestamp("ms")
    table = pa.table(
        {
            "IncidentId": pa.array([i.id for i in incidents], pa.string()),
            "OpenedAt": pa.array([i.opened_at * 1000 for i in incidents], ms),
            "ResolvedAt": pa.array([None if i.resolved_at is None else i.resolved_at * 1000 for i in incidents], ms),
            "Status": pa.array([i.status for i in incidents], pa.string()),
            "Severity": pa.array([i.severity for i in incidents], pa.string()),
            "Services": pa.array([i.services for i in incidents], pa.list_(pa.string())),
            "Title": pa.array([i.title for i in incidents], pa.string()),
            "UpdatedAt": pa.array([_now_ms()] * len(incidents), ms),
            "LastAnomalyAt": pa.array([i.last_anomaly_at * 1000 for i in incidents], ms),
            "AnomalyCount": pa.array([i.anomaly_count for i in incidents], pa.uint32()),
        }
    )
    store.insert_arrow("kokanee_incidents", table)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
