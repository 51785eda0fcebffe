"""Anomalies and incidents as JSON: what the detector found, grouped, with ranked causes and
feedback on those causes."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from kokanee.analysis.detector import NAME as DETECTOR
from kokanee.api.auth.access import requires
from kokanee.api.auth.roles import Role
from kokanee.api.errors import BadRequest, NotFound
from kokanee.api.params import window
from kokanee.store.client import Store
from kokanee.store.reads.anomalies import ANOMALY_COLUMNS, anomaly_json, incident_anomalies

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1")

Start = Annotated[str | None, Query(description="RFC 3339, Unix ns, or now-15m (default: end - 1h)")]
End = Annotated[str | None, Query(description="RFC 3339, Unix ns, or now (default: now)")]
_NS = 1_000_000_000
_MINUTE_NS = 60 * _NS
_STATUSES = ("open", "resolved")


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _incident(row: dict[str, Any]) -> dict[str, Any]:
    resolved = row["resolved_ms"]
    return {
        "id": row["IncidentId"],
        "status": row["Status"],
        "severity": row["Severity"],
        "title": row["Title"],
        "services": list(row["Services"]),
        "opened_unix_nano": int(row["opened_ms"]) * 1_000_000,
        "resolved_unix_nano": int(resolved) * 1_000_000 if resolved is not None else None,
        "last_anomaly_unix_nano": int(row["last_ms"]) * 1_000_000,
        "anomaly_count": int(row["AnomalyCount"]),
    }


_INCIDENT_COLUMNS = """IncidentId, Status, Severity, Title, Services, AnomalyCount,
    toUnixTimestamp64Milli(OpenedAt) AS opened_ms, toUnixTimestamp64Milli(ResolvedAt) AS resolved_ms,
    toUnixTimestamp64Milli(LastAnomalyAt) AS last_ms"""


@router.get("/anomalies", tags=["anomalies"])
def anomalies(
    request: Request,
    start: Start = None,
    end: End = None,
    service: Annotated[str | None, Query(description="only this service's anomalies")] = None,
    severity: Annotated[str | None, Query(description="info, warning or critical: at least this severe")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    """Anomalies whose window starts in [start, end), newest first."""
    w = window(start, end)
    levels = {"info": ["info", "warning", "critical"], "warning": ["warning", "critical"], "critical": ["critical"]}
    if severity is not None and severity not in levels:
        raise BadRequest(f"severity must be info, warning or critical, got {severity!r}")
    where = "Timestamp >= toDateTime({lo:Int64}) AND Timestamp < toDateTime({hi:Int64})"
    if service:
        where += " AND ServiceName = {service:String}"
    if severity:
        where += " AND Severity IN {levels:Array(String)}"
    rows = (
        _store(request)
        .query(
            f"SELECT {ANOMALY_COLUMNS} FROM kokanee_anomalies WHERE {where}"
            " ORDER BY Timestamp DESC, abs(Score) DESC LIMIT {limit:UInt32}",
            parameters={
                "lo": w.start_ns // _NS,
                "hi": -(-w.end_ns // _NS),
                "service": service,
                "levels": levels.get(severity or "info"),
                "limit": limit,
            },
        )
        .dicts()
    )
    judged = (
        _store(request)
        .query(
            "SELECT toUnixTimestamp(max(Watermark)), count() FROM kokanee_derive_state WHERE Name = {n:String}",
            parameters={"n": DETECTOR},
        )
        .rows
    )
    return {
        "start_time_unix_nano": w.start_ns,
        "end_time_unix_nano": w.end_ns,
        # Every minute before this has been judged; None before the detector's first tick.
        "judged_until_unix_nano": int(judged[0][0]) * _NS if judged and judged[0][1] else None,
        "anomalies": [anomaly_json(r) for r in rows],
    }


@router.get("/incidents", tags=["anomalies"])
def incidents(
    request: Request,
    start: Start = None,
    end: End = None,
    status: Annotated[str | None, Query(description="open or resolved")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """Incidents active at some time in [start, end) (opened before its end, not resolved before
    its start), newest first."""
    w = window(start, end)
    if status is not None and status not in _STATUSES:
        raise BadRequest(f"status must be open or resolved, got {status!r}")
    where = (
        "OpenedAt < fromUnixTimestamp64Nano({end:Int64})"
        " AND (ResolvedAt IS NULL OR ResolvedAt >= fromUnixTimestamp64Nano({start:Int64}))"
    )
    if status:
        where += " AND Status = {status:String}"
    rows = (
        _store(request)
        .query(
            f"SELECT {_INCIDENT_COLUMNS} FROM kokanee_incidents FINAL WHERE {where}"
            " ORDER BY OpenedAt DESC LIMIT {limit:UInt32}",
            parameters={"start": w.start_ns, "end": w.end_ns, "status": status, "limit": limit},
        )
        .dicts()
    )
    return {
        "start_time_unix_nano": w.start_ns,
        "end_time_unix_nano": w.end_ns,
        "incidents": [_incident(r) for r in rows],
    }


def _get_incident(store: Store, incident_id: str) -> dict[str, Any]:
    rows = store.query(
        f"SELECT {_INCIDENT_COLUMNS} FROM kokanee_incidents FINAL WHERE IncidentId = {{id:String}}",
        parameters={"id": incident_id},
    ).dicts()
    if not rows:
        raise NotFound(f"incident {incident_id!r} not found")
    return _incident(rows[0])


def _causes(store: Store, incident: dict[str, Any], end_ns: int, anomalies: list[dict[str, Any]]) -> dict[str, Any]:
    """Ranked causes from the root-cause analysis, when it is installed (`incident_causes`)."""
    try:
        from kokanee.analysis.rca.incident_causes import incident_causes
    except ImportError:
        return {"causes": [], "causes_note": "root-cause analysis is unavailable in this build"}
    start_ns = incident["opened_unix_nano"]
    try:
        causes, note = incident_causes(store, incident["services"], start_ns, end_ns, anomalies)
    except Exception as e:  # the incident is still worth showing without its causes
        log.exception("root-cause ranking failed for [%d, %d)", start_ns, end_ns)
        return {"causes": [], "causes_note": f"root-cause ranking failed: {type(e).__name__}: {e}"}
    return {"causes": [c.to_json() for c in causes], **({"causes_note": note} if note else {})}


@router.get("/incidents/{incident_id}", tags=["anomalies"])
def incident(request: Request, incident_id: str) -> dict[str, Any]:
    """One incident: its anomalies as a timeline (oldest first), the affected services with their
    anomaly counts, ranked candidate causes with evidence, and the feedback given on them."""
    store = _store(request)
    found = _get_incident(store, incident_id)
    end_ns = found["resolved_unix_nano"] or found["last_anomaly_unix_nano"] + _MINUTE_NS
    timeline = incident_anomalies(store, incident_id, found["services"], found["opened_unix_nano"], end_ns)
    affected: dict[str, dict[str, Any]] = {}
    for a in timeline:
        entry = affected.setdefault(a["service"], {"service": a["service"], "anomalies": 0, "max_score": 0.0})
        entry["anomalies"] += 1
        entry["max_score"] = max(entry["max_score"], abs(a["score"] or 0.0))
        entry.setdefault("first_unix_nano", a["time_unix_nano"])
    feedback = store.query(
        """SELECT ServiceName AS service, Operation AS operation, sum(Useful) AS useful,
            count() - sum(Useful) AS not_useful
        FROM kokanee_cause_feedback WHERE IncidentId = {id:String} GROUP BY service, operation""",
        parameters={"id": incident_id},
    ).dicts()
    return {
        **found,
        "window": {"start_unix_nano": found["opened_unix_nano"], "end_unix_nano": end_ns},
        "timeline": timeline,
        "affected_services": sorted(affected.values(), key=lambda e: e["first_unix_nano"]),
        **_causes(store, found, end_ns, timeline),
        "feedback": feedback,
    }


class CauseFeedback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=500, description="the ranked cause's service")
    operation: str | None = Field(None, max_length=1000, description="the ranked cause's operation, if any")
    useful: bool = Field(description="whether this cause helped find the problem")
    comment: str = Field("", max_length=2000)


@router.post("/incidents/{incident_id}/feedback", tags=["anomalies"], dependencies=[requires(Role.editor)])
def incident_feedback(request: Request, incident_id: str, body: CauseFeedback) -> dict[str, Any]:
    """Records whether a ranked cause of an incident was useful."""
    store = _store(request)
    _get_incident(store, incident_id)
    store.command(
        """INSERT INTO kokanee_cause_feedback (IncidentId, ServiceName, Operation, Useful, Comment)
        VALUES ({id:String}, {service:String}, {operation:String}, {useful:UInt8}, {comment:String})""",
        parameters={
            "id": incident_id,
            "service": body.service,
            "operation": body.operation or "",
            "useful": int(body.useful),
            "comment": body.comment,
        },
    )
    return {"incident_id": incident_id, "service": body.service, "operation": body.operation, "useful": body.useful}
