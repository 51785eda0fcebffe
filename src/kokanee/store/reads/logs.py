"""Reading logs: filtered by service, minimum severity, text and trace, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kokanee.store.client import Store
from kokanee.store.reads.window import within
from kokanee.store.timeparse import rfc3339

# OpenTelemetry severity ranges: each name starts its range of four numbers.
SEVERITY_NUMBERS = {"TRACE": 1, "DEBUG": 5, "INFO": 9, "WARN": 13, "WARNING": 13, "ERROR": 17, "FATAL": 21}


def min_severity(value: str) -> int:
    """`ERROR`, `warn`, or a number 1-24 to the lowest severity number that matches."""
    text = value.strip().upper()
    if text.isdigit() and 1 <= int(text) <= 24:
        return int(text)
    if text in SEVERITY_NUMBERS:
        return SEVERITY_NUMBERS[text]
    raise ValueError(f"severity {value!r} must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL or 1-24")


@dataclass
class LogQuery:
    start_ns: int
    end_ns: int
    service: str | None = None
    min_severity: int | None = None
    text: str | None = None
    trace_id: str | None = None
    limit: int = 100


def search_logs(store: Store, q: LogQuery) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"start": q.start_ns, "end": q.end_ns, "limit": q.limit}
    where = [within("Timestamp")]
    if q.service:
        where.append("ServiceName = {service:String}")
        params["service"] = q.service
    if q.min_severity is not None:
        where.append("SeverityNumber >= {sev:UInt8}")
        params["sev"] = q.min_severity
    if q.text:
        where.append("positionCaseInsensitiveUTF8(Body, {text:String}) > 0")
        params["text"] = q.text
    if q.trace_id:
        where.append("TraceId = {trace:String}")
        params["trace"] = q.trace_id
    sql = f"""
        SELECT toUnixTimestamp64Nano(Timestamp) AS ns, TraceId, SpanId, TraceFlags, SeverityText, SeverityNumber,
               ServiceName, Body, LogAttributes, ResourceAttributes, ScopeName, ScopeVersion, EventName
        FROM otel_logs WHERE {" AND ".join(where)}
        ORDER BY Timestamp DESC LIMIT {{limit:UInt32}}
    """
    return [
        {
            "timestamp": rfc3339(int(r["ns"])),
            "time_unix_nano": int(r["ns"]),
            "trace_id": r["TraceId"],
            "span_id": r["SpanId"],
            "trace_flags": int(r["TraceFlags"]),
            "severity_text": r["SeverityText"],
            "severity_number": int(r["SeverityNumber"]),
            "service_name": r["ServiceName"],
            "body": r["Body"],
            "attributes": dict(r["LogAttributes"]),
            "resource": {"attributes": dict(r["ResourceAttributes"])},
            "scope": {"name": r["ScopeName"], "version": r["ScopeVersion"]},
            "event_name": r["EventName"],
        }
        for r in store.query(sql, parameters=params).dicts()
    ]
