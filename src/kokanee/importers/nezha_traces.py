"""Nezha trace CSVs (one file per minute) as OTLP spans.

Columns: TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,
Duration (µs). `ParentID` is `root` for a trace's first span.

The recording has no span kinds. The importer infers the three it can read off the data
and leaves the rest Unspecified rather than guess:

- `HTTP GET` / `HTTP POST` spans are the OpenTelemetry Java agent's outgoing requests: CLIENT;
- a span whose parent is such a CLIENT span in another pod is the callee handling it: SERVER;
- a root span is the gateway receiving a user's request: SERVER.

Database and framework spans (`SELECT ts.orders`, `OrderRepository.find...`) stay
UNSPECIFIED: the data does not say whether they left the process. Every parent sits in the
same minute file as its child in this recording, so the inference is per file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kokanee.importers import otlp
from kokanee.importers.types import Batch, Problems

COLUMNS = [
    "TraceID", "SpanID", "ParentID", "PodName", "OperationName",
    "StartTimeUnixNano", "EndTimeUnixNano", "Duration",
]  # fmt: skip

_Row = tuple[bytes, bytes, bytes, str, str, int, int]


def read_traces(path: Path, batch_size: int, problems: Problems) -> Iterator[Batch]:
    """Spans of one Nezha trace CSV, `batch_size` at most per request, in file order."""
    rows = _rows(path, problems)
    client_pods = {span_id: pod for (_, span_id, _, pod, name, _, _) in rows if name.startswith("HTTP ")}
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        yield Batch("traces", _request(chunk, client_pods), len(chunk))


def _rows(path: Path, problems: Problems) -> list[_Row]:
    # A minute file holds a few thousand spans (about 1 MB): reading it whole keeps the
    # parent lookups for kind inference simple, and memory is bounded by one file.
    rows: list[_Row] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != COLUMNS:
            problems.add(f"{path.name}: not a Nezha trace file (header {header})")
            return rows
        for line, row in enumerate(reader, start=2):
            parsed = _parse(row)
            if parsed is None:
                problems.add(f"{path.name}:{line}: unreadable span {row[:3]}")
            else:
                rows.append(parsed)
    return rows


def _parse(row: list[str]) -> _Row | None:
    if len(row) != len(COLUMNS):
        return None
    trace_id, span_id = otlp.hex_id(row[0], 16), otlp.hex_id(row[1], 8)
    parent = b"" if row[2] == "root" else otlp.hex_id(row[2], 8)
    if not trace_id or not span_id or (not parent and row[2] != "root"):
        return None
    try:
        start = int(row[5])
        # EndTimeUnixNano keeps the sub-µs part that Duration (µs) rounds away; Duration is
        # the fallback when the end is missing.
        end = int(row[6]) if row[6] else start + int(row[7]) * 1000
    except ValueError:
        return None
    return trace_id, span_id, parent, row[3], row[4], start, end


def _request(chunk: list[_Row], client_pods: dict[bytes, str]) -> Any:
    request = otlp.new_request("traces")
    scopes: dict[str, Any] = {}
    for trace_id, span_id, parent_id, pod, name, start, end in chunk:
        scope = scopes.get(pod)
        if scope is None:
            resource_spans = request.resource_spans.add()
            otlp.add_attributes(
                resource_spans.resource.attributes,
                {"service.name": otlp.service_from_pod(pod), "k8s.pod.name": pod},
            )
            scope = scopes[pod] = resource_spans.scope_spans.add()
            scope.scope.name = otlp.SCOPE_NAME
        span = scope.spans.add(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=parent_id,
            name=name,
            kind=_kind(name, pod, parent_id, client_pods),
            start_time_unix_nano=start,
            end_time_unix_nano=end,
        )
        if name.startswith("HTTP "):
            attribute = span.attributes.add()
            attribute.key = "http.request.method"
            attribute.value.string_value = name[5:].split(" ", 1)[0]
    return request


def _kind(name: str, pod: str, parent_id: bytes, client_pods: dict[bytes, str]) -> int:
    if name.startswith("HTTP "):
        return otlp.SPAN_KIND_CLIENT
    if not parent_id:
        return otlp.SPAN_KIND_SERVER
    caller = client_pods.get(parent_id)
    if caller is not None and caller != pod:
        return otlp.SPAN_KIND_SERVER
    return otlp.SPAN_KIND_UNSPECIFIED
