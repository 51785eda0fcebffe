"""Nezha log CSVs (one file per minute) as OTLP log records.

Columns: Timestamp,TimeUnixNano,Node,PodName,Container,TraceID,SpanID,Log. `Log` is the
container runtime's JSON line (`{"log": "...", "stream": "stdout", "time": "..."}`) around
a Java log line `16:42:22.382 INFO  t.s.TravelServiceImpl#532 TraceID: ... [message]`.

- The time comes from `Timestamp`: multi-line exception records carry a broken
  `TimeUnixNano` (a negative number) but a good `Timestamp` (millisecond precision, no Z).
- The severity is the level word of the Java line; lines without one stay unspecified.
- Rows that are not well-formed (10_06_log.csv has a line where two records were written
  over each other) are reported and skipped: half a record is not what the service logged.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kokanee.importers import otlp
from kokanee.importers.times import parse_iso_ns
from kokanee.importers.types import Batch, Problems

COLUMNS = ["Timestamp", "TimeUnixNano", "Node", "PodName", "Container", "TraceID", "SpanID", "Log"]

# `HH:MM:SS.mmm LEVEL ` at the start of a Logback line (Train Ticket's pattern).
_LEVEL = re.compile(r"^\d\d:\d\d:\d\d\.\d+\s+([A-Z]+)\b")

# time, node, pod, container, trace id, span id, body, stream
_Record = tuple[int, str, str, str, bytes, bytes, str, str]


def read_logs(path: Path, batch_size: int, problems: Problems) -> Iterator[Batch]:
    """Log records of one Nezha log CSV, `batch_size` at most per request, in file order."""
    records: list[_Record] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != COLUMNS:
            problems.add(f"{path.name}: not a Nezha log file (header {header})")
            return
        for row in reader:
            record = _parse(row)
            if record is None:
                problems.add(f"{path.name}:{reader.line_num}: corrupt log record skipped")
                continue
            records.append(record)
            if len(records) >= batch_size:
                yield Batch("logs", _request(records), len(records))
                records = []
    if records:
        yield Batch("logs", _request(records), len(records))


def _parse(row: list[str]) -> _Record | None:
    if len(row) != len(COLUMNS):
        return None
    try:
        envelope = json.loads(row[7])
        time_ns = parse_iso_ns(row[0])
    except ValueError:
        return None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("log"), str):
        return None
    body: str = envelope["log"].rstrip("\n")
    stream = envelope.get("stream")
    trace_id, span_id = otlp.hex_id(row[5], 16), otlp.hex_id(row[6], 8)
    return time_ns, row[2], row[3], row[4], trace_id, span_id, body, stream if isinstance(stream, str) else ""


def _request(records: list[_Record]) -> Any:
    request = otlp.new_request("logs")
    scopes: dict[tuple[str, str, str], Any] = {}
    for time_ns, node, pod, container, trace_id, span_id, body, stream in records:
        key = (node, pod, container)
        scope = scopes.get(key)
        if scope is None:
            resource_logs = request.resource_logs.add()
            otlp.add_attributes(
                resource_logs.resource.attributes,
                {
                    "service.name": otlp.service_from_pod(pod),
                    "k8s.pod.name": pod,
                    "k8s.container.name": container,
                    "host.ip": node,
                },
            )
            scope = scopes[key] = resource_logs.scope_logs.add()
            scope.scope.name = otlp.SCOPE_NAME
        match = _LEVEL.match(body)
        level = match.group(1) if match else ""
        record = scope.log_records.add(
            time_unix_nano=time_ns,
            observed_time_unix_nano=time_ns,
            severity_number=otlp.SEVERITY_NUMBERS.get(level, 0),
            severity_text=level,
            trace_id=trace_id,
            span_id=span_id,
        )
        record.body.string_value = body
        if stream:
            attribute = record.attributes.add()
            attribute.key = "log.iostream"
            attribute.value.string_value = stream
    return request
