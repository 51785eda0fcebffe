"""Reading traces: one trace with every field, and trace search over a window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kokanee.store.client import Store
from kokanee.store.reads.window import within
from kokanee.store.timeparse import rfc3339

NS = 1_000_000_000
SPAN_COLUMNS = """
    TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName,
    toUnixTimestamp64Nano(Timestamp) AS StartNs, Duration, StatusCode, StatusMessage,
    SpanAttributes, ResourceAttributes, ScopeName, ScopeVersion,
    length(Events.Timestamp) AS EventCount, length(Links.TraceId) AS LinkCount
"""
# Read only for the spans that have events or links: most spans have neither, and these nested
# columns are ~20 files, each a read and a decompression per granule even when every array in it
# is empty.
_NESTED_COLUMNS = """
    TraceId, SpanId,
    arrayMap(t -> toUnixTimestamp64Nano(t), Events.Timestamp) AS EventTimes, Events.Name, Events.Attributes,
    Links.TraceId, Links.SpanId, Links.TraceState, Links.Attributes
"""
_NO_NESTED = dict.fromkeys(
    ("EventTimes", "Events.Name", "Events.Attributes", "Links.TraceId", "Links.SpanId", "Links.TraceState",
     "Links.Attributes"),
    (),
)  # fmt: skip


# A trace is a few rows in each of ~10 granules: on one read stream ClickHouse reads them one file
# after another. Several streams with prefetching overlap those reads. Measured on 50M spans, trace
# ids not read before (the page cache cold for them), median / p95: 69 / 117 → 43 / 62 ms and
# 44 / 116 → 34 / 73 ms in two runs of 120 traces each; read again (warm) 30 / 37 → 25 / 35 ms.
_TRACE_READ_SETTINGS = {
    "max_threads": 8,
    "merge_tree_min_rows_for_concurrent_read": 1,
    "merge_tree_min_bytes_for_concurrent_read": 1,
    "local_filesystem_read_prefetch": 1,
    "allow_prefetched_read_pool_for_local_filesystem": 1,
}


def span_rows(store: Store, where: str, params: dict[str, Any], tail: str = "") -> list[dict[str, Any]]:
    """Rows of otel_traces matching `where` (then `tail`: ORDER BY, LIMIT), as `span_from_row` takes
    them: SPAN_COLUMNS, then the events and links of the spans that have any, in a second read."""
    rows = store.query(
        f"SELECT {SPAN_COLUMNS} FROM otel_traces WHERE {where} {tail}", parameters=params, settings=_TRACE_READ_SETTINGS
    ).dicts()
    nested_ids = sorted({str(r["SpanId"]) for r in rows if r["EventCount"] or r["LinkCount"]})
    nested: dict[tuple[str, str], dict[str, Any]] = {}
    if nested_ids:
        found = store.query(
            f"SELECT {_NESTED_COLUMNS} FROM otel_traces WHERE {where} AND SpanId IN {{nested_ids:Array(String)}}",
            parameters={**params, "nested_ids": nested_ids},
            settings=_TRACE_READ_SETTINGS,
        ).dicts()
        nested = {(str(r["TraceId"]), str(r["SpanId"])): r for r in found}
    for row in rows:
        row |= nested.get((str(row["TraceId"]), str(row["SpanId"])), _NO_NESTED)
    return rows


def span_from_row(row: dict[str, Any]) -> dict[str, Any]:
    start = int(row["StartNs"])
    return {
        "trace_id": row["TraceId"],
        "span_id": row["SpanId"],
        "parent_span_id": row["ParentSpanId"],
        "trace_state": row["TraceState"],
        "name": row["SpanName"],
        "kind": row["SpanKind"],
        "service_name": row["ServiceName"],
        "start_time": rfc3339(start),
        "start_time_unix_nano": start,
        "end_time_unix_nano": start + int(row["Duration"]),
        "duration_ns": int(row["Duration"]),
        "status_code": row["StatusCode"],
        "status_message": row["StatusMessage"],
        "attributes": dict(row["SpanAttributes"]),
        "resource": {"attributes": dict(row["ResourceAttributes"])},
        "scope": {"name": row["ScopeName"], "version": row["ScopeVersion"]},
        "events": [
            {"time_unix_nano": int(t), "time": rfc3339(int(t)), "name": n, "attributes": dict(a)}
            for t, n, a in zip(row["EventTimes"], row["Events.Name"], row["Events.Attributes"], strict=True)
        ],
        "links": [
            {"trace_id": t, "span_id": s, "trace_state": ts, "attributes": dict(a)}
            for t, s, ts, a in zip(
                row["Links.TraceId"],
                row["Links.SpanId"],
                row["Links.TraceState"],
                row["Links.Attributes"],
                strict=True,
            )
        ],
    }


def trace_scope(store: Store, trace_ids: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """A WHERE clause (and its parameters) that finds every span of `trace_ids` in otel_traces
    while reading as little of it as the lookups allow.

    Best: kokanee_trace_keys holds every trace asked for, so the scan is the traces' exact time
    range and their (ServiceName, SpanName) pairs, the table's sort key: a granule per pair. Else
    (traces stored before that table, or unknown ids) the exporter's lookup bounds the time, in
    whole seconds, and the trace-id bloom filter is tested in every granule of those seconds.
    """
    ids = sorted(set(trace_ids))
    params: dict[str, Any] = {"ids": ids}
    where = "TraceId IN {ids:Array(String)}"
    keyed = store.query(
        """SELECT uniqExact(TraceId), countIf(empty(Keys)), toUnixTimestamp64Nano(min(Start)),
            toUnixTimestamp64Nano(max(LastStart)), groupUniqArrayArray(Keys)
        FROM kokanee_trace_keys WHERE TraceId IN {ids:Array(String)}""",
        parameters=params,
    ).rows[0]
    if ids and int(keyed[0]) == len(ids):
        where += (
            " AND Timestamp >= fromUnixTimestamp64Nano({lo:Int64}) AND Timestamp <= fromUnixTimestamp64Nano({hi:Int64})"
        )
        params |= {"lo": int(keyed[2]), "hi": int(keyed[3])}
        if int(keyed[1]) == 0:  # no trace had too many pairs to keep
            where += " AND (ServiceName, SpanName) IN {keys:Array(Tuple(String, String))}"
            params["keys"] = [tuple(k) for k in keyed[4]]
        return where, params
    bounds = store.query(
        "SELECT toUnixTimestamp(min(Start)), toUnixTimestamp(max(End)) FROM otel_traces_trace_id_ts"
        " WHERE TraceId IN {ids:Array(String)}",
        parameters=params,
    ).rows
    if bounds and bounds[0][0]:  # 0: none of the traces is in the lookup (min over no rows)
        # The lookup holds whole seconds (truncated): a second's margin covers every span. The bounds
        # go in as DateTime64 nanoseconds: `toDateTime(x) ± INTERVAL` against the DateTime64 column
        # was seen to exclude the trace's own second.
        where += (
            " AND Timestamp >= fromUnixTimestamp64Nano({lo:Int64}) AND Timestamp < fromUnixTimestamp64Nano({hi:Int64})"
        )
        params |= {"lo": (int(bounds[0][0]) - 1) * NS, "hi": (int(bounds[0][1]) + 2) * NS}
    return where, params


def get_trace(store: Store, trace_id: str) -> list[dict[str, Any]]:
    """Every span of a trace, by start time."""
    where, params = trace_scope(store, [trace_id])
    return [span_from_row(row) for row in span_rows(store, where, params, "ORDER BY Timestamp, SpanId")]


@dataclass
class TraceQuery:
    start_ns: int
    end_ns: int
    service: str | None = None
    operation: str | None = None
    status: str | None = None
    min_duration_ns: int | None = None
    max_duration_ns: int | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    limit: int = 20


def search_traces(store: Store, q: TraceQuery) -> list[dict[str, Any]]:
    """Traces with at least one span matching every filter, newest first, one row per trace.

    Duration bounds apply to the whole trace (first start to last end), which is what people
    mean by a slow request.
    """
    params: dict[str, Any] = {"start": q.start_ns, "end": q.end_ns, "limit": q.limit}
    window = within("Timestamp")
    span_filters = [window]
    if q.service:
        span_filters.append("ServiceName = {service:String}")
        params["service"] = q.service
    if q.operation:
        span_filters.append("SpanName = {operation:String}")
        params["operation"] = q.operation
    if q.status:
        span_filters.append("StatusCode = {status:String}")
        params["status"] = q.status
    for i, (key, value) in enumerate(sorted(q.attributes.items())):
        span_filters.append(
            f"(SpanAttributes[{{k{i}:String}}] = {{v{i}:String}} OR ResourceAttributes[{{k{i}:String}}] = {{v{i}:String}})"
        )
        params[f"k{i}"], params[f"v{i}"] = key, value
    having = []
    if q.min_duration_ns is not None:
        having.append("duration_ns >= {min_ns:UInt64}")
        params["min_ns"] = q.min_duration_ns
    if q.max_duration_ns is not None:
        having.append("duration_ns <= {max_ns:UInt64}")
        params["max_ns"] = q.max_duration_ns
    sql = f"""
        SELECT
            TraceId AS trace_id,
            min(toUnixTimestamp64Nano(Timestamp)) AS start_ns,
            max(toUnixTimestamp64Nano(Timestamp) + Duration) - start_ns AS duration_ns,
            count() AS span_count,
            countIf(StatusCode = 'Error') AS error_count,
            if(countIf(ParentSpanId = '') > 0, argMinIf(ServiceName, Timestamp, ParentSpanId = ''),
               argMin(ServiceName, Timestamp)) AS root_service,
            if(countIf(ParentSpanId = '') > 0, argMinIf(SpanName, Timestamp, ParentSpanId = ''),
               argMin(SpanName, Timestamp)) AS root_operation,
            arraySort(groupUniqArray(ServiceName)) AS services
        FROM otel_traces
        WHERE {window} AND TraceId IN (
            SELECT DISTINCT TraceId FROM otel_traces WHERE {" AND ".join(span_filters)}
        )
        GROUP BY TraceId
        {"HAVING " + " AND ".join(having) if having else ""}
        ORDER BY start_ns DESC
        LIMIT {{limit:UInt32}}
    """
    rows = store.query(sql, parameters=params).dicts()
    for row in rows:
        row["start_time"] = rfc3339(int(row["start_ns"]))
        row["start_time_unix_nano"] = int(row.pop("start_ns"))
        row["duration_ns"] = int(row["duration_ns"])
    return rows


def list_services(store: Store, start_ns: int, end_ns: int) -> list[dict[str, Any]]:
    """Services seen in the window in any signal, with their span, log and metric-point counts."""
    params = {"start": start_ns, "end": end_ns}
    sql = f"""
        SELECT name, sum(spans) AS spans, sum(errors) AS errors, sum(logs) AS logs, sum(points) AS metric_points
        FROM (
            SELECT ServiceName AS name, count() AS spans, countIf(StatusCode = 'Error') AS errors,
                   0 AS logs, 0 AS points
            FROM otel_traces WHERE {within("Timestamp")} GROUP BY name
            UNION ALL
            SELECT ServiceName, 0, 0, count(), 0 FROM otel_logs WHERE {within("Timestamp")} GROUP BY ServiceName
            UNION ALL
            SELECT ServiceName, 0, 0, 0, count() FROM otel_metrics_gauge WHERE {within("TimeUnix")} GROUP BY ServiceName
            UNION ALL
            SELECT ServiceName, 0, 0, 0, count() FROM otel_metrics_sum WHERE {within("TimeUnix")} GROUP BY ServiceName
            UNION ALL
            SELECT ServiceName, 0, 0, 0, count() FROM otel_metrics_histogram WHERE {within("TimeUnix")}
            GROUP BY ServiceName
        )
        GROUP BY name ORDER BY name
    """
    return [
        {"name": r["name"], "spans": int(r["spans"]), "errors": int(r["errors"]), "logs": int(r["logs"]),
         "metric_points": int(r["metric_points"])}
        for r in store.query(sql, parameters=params).dicts()
    ]  # fmt: skip
