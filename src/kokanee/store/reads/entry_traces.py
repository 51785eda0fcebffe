"""Reading traces by their entry operation (the root span): which entries matter most over a
window, a sample of one entry's traces, and the spans of many traces in one query."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kokanee.store.attribute_sql import attribute, first_attribute
from kokanee.store.client import Store
from kokanee.store.reads.traces import span_from_row, span_rows, trace_scope
from kokanee.store.reads.window import within

_WINDOW = within("Timestamp")
_ROUTE = attribute("SpanAttributes", "http.route")
_METHOD = first_attribute("SpanAttributes", "http.request.method", "http.method")
MAX_SPANS = 200_000  # spans loaded at most per call: bounds memory on a huge sample


@dataclass(frozen=True, slots=True)
class EntryOperation:
    """Root spans of one (service, span name) over a window; durations in ns."""

    service: str
    operation: str
    label: str  # "POST /api/checkout" when the spans carry a route
    count: int
    p50_ns: int
    p95_ns: int

    @property
    def weight(self) -> int:
        """Volume × latency: the time users spent waiting on this entry, roughly."""
        return self.count * self.p95_ns

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service, "operation": self.operation, "label": self.label, "count": self.count,
            "p50_ns": self.p50_ns, "p95_ns": self.p95_ns, "weight": self.weight,
        }  # fmt: skip


@dataclass(frozen=True)
class TraceSpans:
    """Spans per trace id, by start time; `truncated` when MAX_SPANS cut the load short."""

    spans: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    truncated: bool = False


def entry_label(operation: str, method: str, route: str) -> str:
    """A readable name for an entry: the HTTP method and route when known, else the span name."""
    if route and method:
        return f"{method} {route}"
    if route and route not in operation:
        return route
    return operation


def top_entry_operations(
    store: Store, start_ns: int, end_ns: int, service: str | None = None, limit: int = 10
) -> list[EntryOperation]:
    """Root spans (ParentSpanId = '') grouped by service and name, heaviest (count × p95) first."""
    params: dict[str, Any] = {"start": start_ns, "end": end_ns, "limit": limit}
    where = f"ParentSpanId = '' AND {_WINDOW}"
    if service:
        where += " AND ServiceName = {service:String}"
        params["service"] = service
    sql = f"""
        SELECT
            ServiceName AS service, SpanName AS operation, count() AS n,
            toUInt64(quantile(0.5)(Duration)) AS p50_ns, toUInt64(quantile(0.95)(Duration)) AS p95_ns,
            topKIf(1)({_ROUTE}, {_ROUTE} != '')[1] AS route,
            topKIf(1)({_METHOD}, {_METHOD} != '')[1] AS method
        FROM otel_traces
        WHERE {where}
        GROUP BY service, operation
        ORDER BY n * p95_ns DESC, service, operation
        LIMIT {{limit:UInt32}}
    """
    return [
        EntryOperation(r["service"], r["operation"], entry_label(r["operation"], r["method"], r["route"]),
                       int(r["n"]), int(r["p50_ns"]), int(r["p95_ns"]))
        for r in store.query(sql, parameters=params).dicts()
    ]  # fmt: skip


def sample_entry_traces(
    store: Store, entry: str, start_ns: int, end_ns: int, service: str | None = None, limit: int = 100
) -> list[str]:
    """Ids of up to `limit` traces whose root span is named `entry` and starts in the window, newest first."""
    params: dict[str, Any] = {"entry": entry, "start": start_ns, "end": end_ns, "limit": limit}
    where = f"ParentSpanId = '' AND SpanName = {{entry:String}} AND {_WINDOW}"
    if service:
        where += " AND ServiceName = {service:String}"
        params["service"] = service
    sql = f"""
        SELECT TraceId, max(Timestamp) AS started FROM otel_traces WHERE {where}
        GROUP BY TraceId ORDER BY started DESC, TraceId LIMIT {{limit:UInt32}}
    """
    return [str(row[0]) for row in store.query(sql, parameters=params).rows]


def load_traces(store: Store, trace_ids: Sequence[str], max_spans: int = MAX_SPANS) -> TraceSpans:
    """Every span of the given traces, in the shape `get_trace` returns, in one scan.

    The lookups bound the scan as they do for `get_trace`.
    """
    ids = sorted(set(trace_ids))
    if not ids:
        return TraceSpans()
    where, params = trace_scope(store, ids)
    rows = span_rows(store, where, params, f"ORDER BY TraceId, Timestamp, SpanId LIMIT {int(max_spans) + 1}")
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows[:max_spans]:
        span = span_from_row(row)
        out.setdefault(span["trace_id"], []).append(span)
    truncated = len(rows) > max_spans
    if truncated and max_spans > 0:
        # Rows come by trace id, so only the last trace can be cut: a partial trace misleads, drop it.
        out.pop(str(rows[max_spans - 1]["TraceId"]), None)
    return TraceSpans(out, truncated=truncated)
