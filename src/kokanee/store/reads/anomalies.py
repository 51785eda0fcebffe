"""Stored anomalies as JSON, and an incident's own: the API's timeline and the evidence an incident's
explanation and its causes are ranked from read the same rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kokanee.store.client import Store

_NS = 1_000_000_000

ANOMALY_COLUMNS = """toUnixTimestamp(Timestamp) AS t, toUnixTimestamp(WindowEnd) AS t_end, Series, ServiceName,
    Operation, Signal, Detector, Metric, Expected, Actual, Score, Severity, IncidentId, Detail"""


def anomaly_json(row: dict[str, Any]) -> dict[str, Any]:
    """One row read with ANOMALY_COLUMNS."""
    return {
        "time_unix_nano": int(row["t"]) * _NS,
        "end_unix_nano": int(row["t_end"]) * _NS,
        "series": row["Series"],
        "service": row["ServiceName"],
        "operation": row["Operation"],
        "signal": row["Signal"],
        "metric": row["Metric"],
        "detector": row["Detector"],
        "expected": _finite(row["Expected"]),
        "actual": _finite(row["Actual"]),
        "score": _finite(row["Score"]),
        "severity": row["Severity"],
        "incident_id": row["IncidentId"] or None,
        "detail": row["Detail"],
    }


def _finite(v: float) -> float | None:
    return round(float(v), 6) if v == v and abs(v) != float("inf") else None


def incident_anomalies(
    store: Store, incident_id: str, services: Sequence[str], start_ns: int, end_ns: int
) -> list[dict[str, Any]]:
    """The incident's anomalies, and the warnings of its services in [start, end) that confirmed it
    before it opened; oldest first."""
    rows = store.query(
        f"""SELECT {ANOMALY_COLUMNS} FROM kokanee_anomalies
        WHERE IncidentId = {{id:String}} OR (IncidentId = '' AND Severity != 'info'
            AND ServiceName IN {{services:Array(String)}} AND Timestamp >= fromUnixTimestamp64Nano({{lo:Int64}})
            AND Timestamp < fromUnixTimestamp64Nano({{hi:Int64}}))
        ORDER BY Timestamp, abs(Score) DESC LIMIT 5000""",
        parameters={"id": incident_id, "services": list(services), "lo": start_ns, "hi": end_ns},
    ).dicts()
    return [anomaly_json(r) for r in rows]
