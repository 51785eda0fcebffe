"""Everything a root-cause question reads from the store, read once (`read_records`): the
baseline windows when the caller gives none, each window's spans (as columns), log lines and
metric series, and the service graph's calls. The scorers are functions of these records and
never read the store themselves.

Spans come back as Arrow columns: a Python object per span cost more than the scoring (about
1 s per 100k spans). A window's spans are hash-sampled by trace when there are more than
`max_spans`, and its log lines by line when more than `max_logs`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError, OperationalError

from kokanee.analysis.log_statements import MINED_HEAD_CHARS, code_location
from kokanee.analysis.rca.baselines import choose
from kokanee.analysis.rca.graph import Calls
from kokanee.analysis.rca.log_scorer import LogLine
from kokanee.analysis.rca.metric_scorer import SeriesPair
from kokanee.analysis.rca.params import RcaParams
from kokanee.analysis.rca.span_reads import RSpan, SpanTable
from kokanee.store.attribute_sql import attribute, first_attribute
from kokanee.store.client import QueryError, Store, StoreUnavailable
from kokanee.store.reads.logs import ERROR_LINE_SQL, LOCATION_SQL
from kokanee.store.reads.rca_baselines import candidate_health, flagged_services
from kokanee.store.reads.window import within

Window = tuple[int, int]


@dataclass(frozen=True)
class QuestionSpans:
    """The spans of each baseline window, in order, and of the window."""

    per_base: list[SpanTable]
    window: SpanTable

    @property
    def base(self) -> SpanTable:
        return SpanTable.concat(self.per_base)


@dataclass(frozen=True)
class Records:
    """What one question's scorers take."""

    baselines: list[Window]
    series: list[SeriesPair]
    spans: QuestionSpans
    logs: list[LogLine]
    edges: Calls  # the service graph over the question's time, for when the spans show no calls


def read_records(
    store: Store, start_ns: int, end_ns: int, baselines: Sequence[Window] | None, params: RcaParams
) -> Records:
    """The records of the question [start, end) against `baselines` (picked when none are given)."""
    window = (start_ns, end_ns)
    bases = list(baselines) if baselines else read_baselines(store, start_ns, end_ns, params)
    recent = (start_ns - int(params.metric_baseline_min_s * 1e9), start_ns)
    series = list(
        series_pairs(
            store,
            start_ns,
            end_ns + int(params.metric_window_extension_s * 1e9),
            [*bases, recent],
            start_ns - int(params.metric_history_s * 1e9),
        )
    )
    spans = read_question(store, window, bases, params.max_spans)
    logs = read_logs(store, window, bases, params, SpanTable.concat([*spans.per_base, spans.window]))
    edges = read_edges(store, min(start_ns, *(b[0] for b in bases)), end_ns)
    return Records(bases, series, spans, logs, edges)


def read_baselines(store: Store, start_ns: int, end_ns: int, params: RcaParams) -> list[Window]:
    """Recent clean windows to judge [start, end) against (`baselines.choose`)."""
    return choose(
        start_ns,
        end_ns,
        params,
        lambda windows: candidate_health(store, windows),
        lambda windows: flagged_services(store, windows),
        lambda lo, hi: latest_traffic(store, lo, hi),
    )


def latest_traffic(store: Store, lo_ns: int, hi_ns: int) -> int | None:
    """Where the latest requests in [lo, hi) end, to the minute (`kokanee_service_red_1m`: a row
    per service and minute, so a day of dense traffic is cheap to look over); None when none."""
    n, latest = store.query(
        "SELECT count(), toUnixTimestamp(max(Minute)) FROM kokanee_service_red_1m "
        "WHERE Minute >= fromUnixTimestamp({lo:Int64}) AND Minute < fromUnixTimestamp({hi:Int64})",
        parameters={"lo": lo_ns // 1_000_000_000 - 60, "hi": -(-hi_ns // 1_000_000_000)},
    ).rows[0]
    return (int(latest) + 60) * 1_000_000_000 if int(n) else None


def _arrow(store: Store, sql: str, parameters: dict[str, Any]) -> Any:
    """A query's result as an Arrow table (the store's errors as `Store.query` raises them)."""
    try:
        return store.client().query_arrow(sql, parameters=parameters, use_strings=True)
    except OperationalError as e:
        raise StoreUnavailable(str(e)) from e
    except (DatabaseError, ClickHouseError) as e:
        raise QueryError(str(e).splitlines()[0]) from e


# A client span's peer: `peer.service`, else `server.address`.
_PEER_SQL = first_attribute("SpanAttributes", "peer.service", "server.address")
_SPANS_SQL = f"""SELECT TraceId, SpanId, ParentSpanId, ServiceName, SpanName, toString(SpanKind),
    toUnixTimestamp64Nano(Timestamp), toInt64(Duration), StatusCode = 'Error',
    if(SpanKind = 'Client', {_PEER_SQL}, '')
FROM otel_traces WHERE {{where}}{{sample}}"""


def counts(store: Store, table: str, windows: Sequence[Window]) -> list[int]:
    """The rows of `table` (its `Timestamp`) in each of `windows`, in one query (a query each cost
    more than the counting)."""
    if not windows:
        return []
    params: dict[str, int] = {}
    ins = []
    for i, (lo, hi) in enumerate(windows):
        params[f"lo{i}"], params[f"hi{i}"] = lo, hi
        ins.append(
            f"(Timestamp >= fromUnixTimestamp64Nano({{lo{i}:Int64}}) "
            f"AND Timestamp < fromUnixTimestamp64Nano({{hi{i}:Int64}}))"
        )
    sql = f"SELECT {', '.join(f'countIf({c})' for c in ins)} FROM {table} WHERE {' OR '.join(ins)}"
    return [int(n) for n in store.query(sql, parameters=params).rows[0]]


def read_span_table(store: Store, start_ns: int, end_ns: int, max_spans: int, count: int | None = None) -> SpanTable:
    """Spans starting in [start, end); whole traces kept or dropped together when over `max_spans`
    (`count`: the spans in [start, end), when known)."""
    params = {"start": start_ns, "end": end_ns}
    where = within("Timestamp")
    if count is None:
        count = counts(store, "otel_traces", [(start_ns, end_ns)])[0]
    if count == 0:
        return SpanTable.from_spans([])
    keep = max(1, -(-count // max_spans))
    sample = f" AND cityHash64(TraceId) % {keep} = 0" if keep > 1 else ""
    return SpanTable.of(_arrow(store, _SPANS_SQL.format(where=where, sample=sample), params))


def read_spans(store: Store, start_ns: int, end_ns: int, max_spans: int) -> list[RSpan]:
    """`read_span_table` as `RSpan`s."""
    return read_span_table(store, start_ns, end_ns, max_spans).rows()


def read_question(store: Store, window: Window, baselines: Sequence[Window], max_spans: int) -> QuestionSpans:
    """At most `max_spans` for the window and as many for the baseline windows together."""
    *base_counts, count = counts(store, "otel_traces", [*baselines, window])
    per_base = [
        read_span_table(store, lo, hi, max_spans // len(baselines), n)
        for (lo, hi), n in zip(baselines, base_counts, strict=True)
    ]
    return QuestionSpans(per_base, read_span_table(store, *window, max_spans, count))


# Of an error line, this much more is read for the services it names: a stack trace's message is
# often past the head.
_ERROR_TAIL = 700


def read_logs(
    store: Store, window: Window, baselines: Sequence[Window], params: RcaParams, spans: SpanTable | None = None
) -> list[LogLine]:
    """The log lines of each baseline window (`part` its index) and of the window (`part` -1),
    each with the operation of its span where `spans` hold it. A baseline window's lines alike in
    all the log scorer reads of them (not their time, span or trace) come as one `LogLine` with
    their `count`, in the order they first came: a baseline is counted, the window is walked.
    Lines come in time order (then service and body, for ties), as they were logged: templates are
    mined in that order, and a read in whatever order the engine's threads return would make the
    templates, and the ranking, differ from one asking to the next."""
    tables = []
    has_window = False
    windows = [*baselines, window]
    for index, ((lo, hi), count) in enumerate(zip(windows, counts(store, "otel_logs", windows), strict=True)):
        part = -1 if index == len(baselines) else index
        p = {"start": lo, "end": hi}
        if count == 0:
            continue
        has_window = part == -1
        keep = max(1, -(-count // params.max_logs))
        sample = f" AND cityHash64(Timestamp, Body) % {keep} = 0" if keep > 1 else ""
        table = _arrow(
            store,
            f"""SELECT ServiceName AS service, substring(Body, 1, {MINED_HEAD_CHARS}) AS body,
                {ERROR_LINE_SQL} AS error,
                SpanId AS span_id, {LOCATION_SQL} AS location, toUnixTimestamp64Nano(Timestamp) AS at,
                if(error, substring(Body, {MINED_HEAD_CHARS + 1}, {_ERROR_TAIL}), '') AS tail, TraceId AS trace_id,
                toInt64({part}) AS part
            FROM otel_logs WHERE {within("Timestamp")} AND Body != ''{sample}
            ORDER BY Timestamp, ServiceName, Body""",
            {**p, "sev": params.error_severity},
        )
        tables.append(table.cast(_LOG_SCHEMA))
    if not tables:
        return []
    tables = _with_ops(tables, spans)
    window_lines = tables.pop() if has_window else None
    out: list[LogLine] = []
    locations: dict[tuple[str, str], str] = {}  # lines repeat: a statement's location is found once
    for table, in_window in ((_alike(pa.concat_tables(tables)) if tables else None, False), (window_lines, True)):
        if table is None:
            continue
        c = {name: table.column(name).to_pylist() for name in _LOG_FIELDS}
        wheres = []
        for body, location in zip(c["body"], c["location"], strict=True):
            where = locations.get((body, location))
            if where is None:
                where = locations[(body, location)] = code_location(body, location)
            wheres.append(where)
        ops = [None if svc is None else (svc, op) for svc, op in zip(c["op_service"], c["op_name"], strict=True)]
        # Built by map, field by field: a Python loop over a window's lines cost more than the lines.
        out.extend(
            map(
                LogLine, c["service"], c["body"], c["error"], c["span_id"], repeat(in_window), wheres, c["at"],
                c["tail"], c["part"], c["trace_id"], ops, c["count"],
            )
        )  # fmt: skip
    return out


_LOG_SCHEMA = pa.schema(
    [
        ("service", pa.string()),
        ("body", pa.string()),
        ("error", pa.bool_()),
        ("span_id", pa.string()),
        ("location", pa.string()),
        ("at", pa.int64()),
        ("tail", pa.string()),
        ("trace_id", pa.string()),
        ("part", pa.int64()),
    ]
)
_LOG_FIELDS = (*_LOG_SCHEMA.names, "op_service", "op_name", "count")
_ALIKE = ("part", "service", "body", "error", "location", "tail", "op_service", "op_name")


def _alike(table: Any) -> Any:
    """One row per kind of line (`_ALIKE`), with its `count`, in order of first appearance; time,
    span and trace are those of its first line. ERROR lines stay one a row: each says which span
    failed (`log_status`)."""
    rows = pa.array(np.arange(table.num_rows, dtype=np.int64))
    table = table.append_column("row", rows).append_column("apart", pc.if_else(table.column("error"), rows, -1))
    groups = table.group_by([*_ALIKE, "apart"], use_threads=False).aggregate([("row", "min"), ("row", "count")])
    groups = groups.sort_by("row_min")
    first = table.take(groups.column("row_min")).drop_columns(["row", "apart", "count"])
    return first.append_column("count", groups.column("row_count").cast(pa.int64()))


def _with_ops(tables: list[Any], spans: SpanTable | None) -> list[Any]:
    """Each table of lines with `op_service`, `op_name`: the service and operation of each line's
    span among `spans` (null where it is not; a repeated span id: its last span), and a `count` of 1.
    One lookup for all the tables: building the set of span ids is its cost."""
    table = spans.table if spans is not None else SpanTable.from_spans([]).table
    # The span ids last first, so that a repeated id finds its last span: only that column is
    # reversed (taking the whole table cost more than the lookup), found rows mapped back.
    last = table.num_rows - 1
    span_ids = table.column("span_id").combine_chunks().take(pa.array(np.arange(last, -1, -1, dtype=np.int64)))
    ids = pa.chunked_array([t.column("span_id").combine_chunks() for t in tables], type=pa.string())
    found = pc.subtract(pa.scalar(last, pa.int64()), pc.index_in(ids, value_set=span_ids).cast(pa.int64()))
    found = found.combine_chunks()
    service, name = table.column("service").combine_chunks(), table.column("name").combine_chunks()
    out, offset = [], 0
    for t in tables:
        at = found.slice(offset, t.num_rows)
        offset += t.num_rows
        out.append(
            t.append_column("op_service", pc.take(service, at))
            .append_column("op_name", pc.take(name, at))
            .append_column("count", pa.array(np.ones(t.num_rows, dtype=np.int64)))
        )
    return out


# The exporter's AggregationTemporality: 2 = cumulative.
_CUMULATIVE = 2

_SERIES_SQL = f"""
SELECT ServiceName AS service, MetricName AS metric, {attribute("ResourceAttributes", "k8s.pod.name")} AS pod,
    toString(Attributes) AS attrs, {{extra}} AS counter,
    arraySort(x -> x.1, groupArray((toUnixTimestamp64Nano(TimeUnix), Value))) AS points
FROM {{table}}
WHERE {{where}}
GROUP BY service, metric, pod, attrs
"""


def series_pairs(
    store: Store, start_ns: int, end_ns: int, baselines: Sequence[Window], history_ns: int | None = None
) -> Iterator[SeriesPair]:
    """Each gauge and sum series with points in both the baseline windows and [start, end): gauges
    as stored, sums as per-point increases when they are cumulative and monotonic (a counter's
    level says nothing; its rate does), with its points from `history_ns` to the window's start.
    Series are told apart by service, metric name, pod (`k8s.pod.name`) and point attributes."""
    lo = min(start_ns, *(b[0] for b in baselines))
    params = {"start": lo if history_ns is None else min(lo, history_ns), "end": end_ns}
    for table, extra in (
        ("otel_metrics_gauge", "0"),
        ("otel_metrics_sum", f"any(IsMonotonic AND AggregationTemporality = {_CUMULATIVE})"),
    ):
        sql = _SERIES_SQL.format(table=table, extra=extra, where=within("TimeUnix"))
        for row in store.query(sql, parameters=params).dicts():
            points = row["points"]
            times = np.fromiter((int(p[0]) for p in points), dtype=np.int64, count=len(points))
            values = np.fromiter((float(p[1]) for p in points), dtype=np.float64, count=len(points))
            if row["counter"]:
                # Increases between points; a reset (a drop) starts again from the new value.
                diffs = np.diff(values)
                values = np.where(diffs < 0, values[1:], diffs)
                times = times[1:]
            in_base = np.zeros(len(times), dtype=bool)
            for lo, hi in baselines:
                in_base |= (times >= lo) & (times < hi)
            base = values[in_base & ((times < start_ns) | (times >= end_ns))]
            win = values[(times >= start_ns) & (times < end_ns)]
            if len(base) == 0 or len(win) == 0:
                continue
            name = str(row["metric"])
            if row["pod"]:
                name += f"{{pod={row['pod']}}}"
            if row["attrs"] not in ("{}", ""):
                name += str(row["attrs"])
            history = values[(times >= (history_ns or start_ns)) & (times < start_ns)]
            yield SeriesPair(str(row["service"]), name, base, win, str(row["metric"]), history)


def read_edges(store: Store, start_ns: int, end_ns: int) -> Calls:
    """Client → server pairs of instrumented services drawn in [start, end)
    (`kokanee_service_edges_1m`, written at ingest)."""
    rows = store.query(
        f"SELECT DISTINCT Client, Server FROM kokanee_service_edges_1m WHERE {within('Minute')} "
        "AND ConnectionType = ''",
        parameters={"start": start_ns - start_ns % 60_000_000_000, "end": end_ns},
    ).rows
    calls: Calls = {}
    for client, server in rows:
        if client != server:
            calls.setdefault(str(client), set()).add(str(server))
    return calls


def read_volume(store: Store, start_ns: int, end_ns: int) -> tuple[int, int]:
    """Spans and log records in [start, end): what a cached answer over that time is keyed on."""
    params = {"start": start_ns, "end": end_ns}
    spans, logs = (
        int(store.query(f"SELECT count() FROM {table} WHERE {within('Timestamp')}", parameters=params).rows[0][0])
        for table in ("otel_traces", "otel_logs")
    )
    return spans, logs
