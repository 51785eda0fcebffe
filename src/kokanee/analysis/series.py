"""Loads the per-minute series the detector judges, for any set of minute ranges, in a few queries:
RED per service and operation (kokanee_red_1m), per service-graph edge (kokanee_service_edges_1m),
gauge and sum metrics (otel_metrics_*), and log template counts (kokanee_log_templates).
"""

from __future__ import annotations

from kokanee.analysis.anomaly import ERROR_RATE, LATENCY, LOG_COUNT, REQUESTS, VALUE, SeriesKey, SeriesSet
from kokanee.analysis.anomaly_params import MINUTE_S
from kokanee.store.client import Store
from kokanee.store.reads.red import merged_quantiles
from kokanee.store.schema_derived import QUANTILES

_P50, _P95 = QUANTILES.index(0.5) + 1, QUANTILES.index(0.95) + 1  # ClickHouse arrays count from 1
# A minute's p95 is judged only over this many requests: below it, the p95 is one or two
# requests' latency and noise; the median stands for the minute instead.
MIN_REQUESTS_P95 = 100
# Metric series per service beyond this are left out (a service exporting thousands of metrics
# would otherwise dominate the detector's time).
_MAX_METRICS = 2000


def _where(column: str, ranges: list[tuple[int, int]]) -> tuple[str, dict[str, int]]:
    parts, params = [], {}
    for i, (lo, hi) in enumerate(ranges):
        parts.append(f"({column} >= toDateTime({{lo{i}:Int64}}) AND {column} < toDateTime({{hi{i}:Int64}}))")
        params[f"lo{i}"], params[f"hi{i}"] = lo, hi
    return "(" + " OR ".join(parts) + ")", params


def _rates(out: SeriesSet, signal: str, service: str, op: str, t: int, n: int, e: int, qs: list[float]) -> None:
    # An edge's volume is not judged: the callee's own RED counts the same requests, while the
    # edge's count depends on pairing spans across services and moves with late-arriving spans.
    if signal != "edge":
        out.add(SeriesKey(signal, service, op, "requests", REQUESTS), t, float(n))
    if not n:
        return
    out.add(SeriesKey(signal, service, op, "error_rate", ERROR_RATE), t, e / n, float(n))
    p50, p95 = qs[_P50 - 1], qs[_P95 - 1]
    if p50 == p50:  # not NaN
        out.add(SeriesKey(signal, service, op, "p50_ms", LATENCY), t, p50 / 1e6, float(n))
    if p95 == p95 and n >= MIN_REQUESTS_P95:
        out.add(SeriesKey(signal, service, op, "p95_ms", LATENCY), t, p95 / 1e6, float(n))


def load_red(store: Store, ranges: list[tuple[int, int]], out: SeriesSet) -> None:
    where, params = _where("Minute", ranges)
    for op_level in (False, True):
        op = "SpanName" if op_level else "''"
        rows = store.query(
            f"""SELECT toUnixTimestamp(Minute) AS t, ServiceName, {op} AS op, sum(Requests) AS n, sum(Errors) AS e,
            {merged_quantiles("DurationHistogram")} AS qs
            FROM kokanee_red_1m WHERE {where} GROUP BY t, ServiceName, op""",
            parameters=params,
        ).rows
        for t, service, name, n, e, qs in rows:
            _rates(out, "red", str(service), str(name), int(t), int(n), int(e), [float(q) for q in qs])


def load_edges(store: Store, ranges: list[tuple[int, int]], out: SeriesSet) -> None:
    where, params = _where("Minute", ranges)
    rows = store.query(
        f"""SELECT toUnixTimestamp(Minute) AS t, Client, Server, sum(Requests) AS n, sum(Failures) AS e,
        {merged_quantiles("ClientHistogram")} AS qs
        FROM kokanee_service_edges_1m WHERE {where} GROUP BY t, Client, Server""",
        parameters=params,
    ).rows
    for t, client, server, n, e, qs in rows:
        _rates(out, "edge", str(server), f"{client} -> {server}", int(t), int(n), int(e), [float(q) for q in qs])


def load_metrics(store: Store, ranges: list[tuple[int, int]], out: SeriesSet) -> None:
    """Gauges and non-monotonic sums as their per-minute mean; monotonic sums as their increase
    per minute (cumulative: the change of the summed per-series maxima between minutes; delta:
    the sum)."""
    where, params = _where("TimeUnix", ranges)
    gauges = store.query(
        f"""SELECT toUnixTimestamp(toStartOfMinute(TimeUnix)) AS t, ServiceName, MetricName, avg(Value)
        FROM otel_metrics_gauge WHERE {where} AND isFinite(Value) GROUP BY t, ServiceName, MetricName
        ORDER BY ServiceName, MetricName LIMIT {_MAX_METRICS} BY ServiceName, t""",
        parameters=params,
    ).rows
    for t, service, name, value in gauges:
        out.add(SeriesKey("metric", str(service), str(name), "value", VALUE), int(t), float(value))
    sums = store.query(
        f"""SELECT t, ServiceName, MetricName, kind, sum(v) FROM (
            SELECT toUnixTimestamp(toStartOfMinute(TimeUnix)) AS t, ServiceName, MetricName, Attributes,
                multiIf(NOT IsMonotonic, 'mean', AggregationTemporality = 1, 'delta', 'cumulative') AS kind,
                multiIf(kind = 'mean', avg(Value), kind = 'delta', sum(Value), max(Value)) AS v
            FROM otel_metrics_sum WHERE {where} AND isFinite(Value)
            GROUP BY t, ServiceName, MetricName, Attributes, kind)
        GROUP BY t, ServiceName, MetricName, kind ORDER BY ServiceName, MetricName, t""",
        parameters=params,
    ).rows
    last: dict[tuple[str, str], tuple[int, float]] = {}
    for t, service, name, kind, value in sums:
        key = SeriesKey("metric", str(service), str(name), "value", VALUE)
        if kind != "cumulative":
            out.add(key, int(t), float(value))
            continue
        previous = last.get((str(service), str(name)))
        last[(str(service), str(name))] = (int(t), float(value))
        if previous is not None and previous[0] == int(t) - MINUTE_S and float(value) >= previous[1]:
            out.add(key, int(t), float(value) - previous[1])


def load_log_templates(store: Store, ranges: list[tuple[int, int]], out: SeriesSet) -> None:
    where, params = _where("Minute", ranges)
    rows = store.query(
        f"""SELECT toUnixTimestamp(Minute) AS t, ServiceName, TemplateId, sum(Count)
        FROM kokanee_log_templates WHERE {where} GROUP BY t, ServiceName, TemplateId""",
        parameters=params,
    ).rows
    for t, service, template, count in rows:
        out.add(SeriesKey("log_template", str(service), str(template), "count", LOG_COUNT), int(t), float(count))


def load_series(store: Store, ranges: list[tuple[int, int]]) -> SeriesSet:
    """Every series over the union of `ranges` (minute ranges [lo, hi), Unix s)."""
    out = SeriesSet()
    load_red(store, ranges, out)
    load_edges(store, ranges, out)
    load_metrics(store, ranges, out)
    load_log_templates(store, ranges, out)
    return out
