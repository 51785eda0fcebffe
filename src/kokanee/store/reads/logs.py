"""Reading logs: filtered by service, minimum severity, text, trace and log pattern, newest first."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kokanee.store.attribute_sql import first_attribute
from kokanee.store.client import Store
from kokanee.store.reads.window import within
from kokanee.store.timeparse import rfc3339

# A statement's location (`Class#line`, `file.py:line`) is looked for only in a line's header,
# where logging layouts put it; further on, "Order#1234" is payload.
HEADER_CHARS = 160
# The location a record's attributes give: the OpenTelemetry semantic conventions' `code.*`, current
# names first, then the older ones (the Python SDK's LoggingHandler still writes `code.filepath` and
# `code.lineno`).
_LINE = first_attribute("LogAttributes", "code.line.number", "code.lineno")
_FILE = first_attribute("LogAttributes", "code.file.path", "code.filepath", "code.function.name", "code.function")
LOCATION_SQL = f"if({_LINE} = '', '', concat({_FILE}, ':', {_LINE}))"

# An ERROR line or worse: by its number, or by its text where the exporter sets only that (`sev`
# the number, a parameter).
ERROR_LINE_SQL = "(SeverityNumber >= {sev:UInt8} OR upper(SeverityText) IN ('ERROR', 'FATAL', 'CRITICAL'))"
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
    body_regex: str | None = None  # RE2, as ClickHouse's `match` takes it
    location: str | None = None  # the statement that wrote the line (analysis.log_statements)


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
    if q.body_regex:
        where.append("match(Body, {body_regex:String})")
        params["body_regex"] = q.body_regex
    if q.location:
        # From the attributes when they say, else from the body's header, as a whole word.
        where.append(
            f"if({LOCATION_SQL} != '', {LOCATION_SQL} = {{location:String}},"
            f" match(substring(Body, 1, {HEADER_CHARS}), {{location_regex:String}}))"
        )
        params["location"] = q.location
        params["location_regex"] = r"(?:^|[^\w.$/-])" + re.escape(q.location) + r"(?:$|\W)"
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
