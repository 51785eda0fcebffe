"""Reading metrics: what exists, and a metric's series over time in steps.

Gauges are averaged per step; monotonic sums become per-second rates; histograms become
count, rate and p50/p95/p99 estimated from the bucket counts of each step (cumulative
histograms are differenced first, as Prometheus' histogram_quantile over rate() does).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from kokanee.store.client import Store
from kokanee.store.reads.window import within

METRIC_TABLES = {
    "gauge": "otel_metrics_gauge",
    "sum": "otel_metrics_sum",
    "histogram": "otel_metrics_histogram",
    "exponential_histogram": "otel_metrics_exponential_histogram",
    "summary": "otel_metrics_summary",
}
QUANTILES = (0.5, 0.95, 0.99)
_WINDOW = within("TimeUnix")


def list_metrics(store: Store, start_ns: int, end_ns: int) -> list[dict[str, Any]]:
    parts = [
        f"SELECT MetricName, '{kind}' AS type, any(MetricUnit) AS unit, any(MetricDescription) AS description, "
        f"arraySort(groupUniqArray(ServiceName)) AS services, count() AS points FROM {table} "
        f"WHERE {_WINDOW} GROUP BY MetricName"
        for kind, table in METRIC_TABLES.items()
    ]
    rows = store.query(" UNION ALL ".join(parts) + " ORDER BY MetricName", {"start": start_ns, "end": end_ns})
    return [
        {"name": r["MetricName"], "type": r["type"], "unit": r["unit"], "description": r["description"],
         "services": list(r["services"]), "points": int(r["points"])}
        for r in rows.dicts()
    ]  # fmt: skip


@dataclass
class SeriesQuery:
    name: str
    start_ns: int
    end_ns: int
    step_ns: int
    attributes: dict[str, str] = field(default_factory=dict)


def metric_series(store: Store, q: SeriesQuery) -> dict[str, Any] | None:
    """The metric's type, unit and one series per (service, attribute set); None if unknown."""
    found = [m for m in list_metrics(store, q.start_ns, q.end_ns) if m["name"] == q.name]
    if not found:
        return None
    meta = found[0]
    params: dict[str, Any] = {"start": q.start_ns, "end": q.end_ns, "step": q.step_ns, "name": q.name}
    where = [_WINDOW, "MetricName = {name:String}"]
    for i, (key, value) in enumerate(sorted(q.attributes.items())):
        if key == "service.name":
            where.append(f"ServiceName = {{v{i}:String}}")
        else:
            where.append(
                f"(Attributes[{{k{i}:String}}] = {{v{i}:String}} OR ResourceAttributes[{{k{i}:String}}] = {{v{i}:String}})"
            )
            params[f"k{i}"] = key
        params[f"v{i}"] = value
    table = METRIC_TABLES[meta["type"]]
    bucket = "intDiv(toUnixTimestamp64Nano(TimeUnix), {step:UInt64}) * {step:UInt64}"
    series_key = "ServiceName, Attributes"
    if meta["type"] == "gauge":
        select = "avg(Value) AS value"
    elif meta["type"] == "sum":
        select = "argMax(Value, TimeUnix) AS last, sum(Value) AS total, any(IsMonotonic) AS mono, any(AggregationTemporality) AS temp"
    elif meta["type"] == "histogram":
        select = (
            "argMax(BucketCounts, TimeUnix) AS last_buckets, sumForEach(BucketCounts) AS sum_buckets, "
            "argMax(ExplicitBounds, TimeUnix) AS bounds, argMax(Count, TimeUnix) AS last_count, sum(Count) AS sum_count, "
            "argMax(Sum, TimeUnix) AS last_sum, sum(Sum) AS sum_sum, any(AggregationTemporality) AS temp"
        )
    elif meta["type"] == "summary":
        select = (
            "avgForEach(ValueAtQuantiles.Value) AS qvalues, any(ValueAtQuantiles.Quantile) AS qs, sum(Count) AS total"
        )
    else:
        select = "sum(Count) AS total, sum(Sum) AS total_sum"
    sql = f"""
        SELECT {series_key}, {bucket} AS t, {select}
        FROM {table} WHERE {" AND ".join(where)}
        GROUP BY {series_key}, t ORDER BY {series_key}, t
    """
    grouped: dict[tuple[str, tuple[tuple[str, str], ...]], list[dict[str, Any]]] = defaultdict(list)
    for row in store.query(sql, params).dicts():
        grouped[(row["ServiceName"], tuple(sorted(dict(row["Attributes"]).items())))].append(row)
    series = [
        {"service_name": service, "attributes": dict(attrs), "points": _points(meta["type"], rows, q.step_ns)}
        for (service, attrs), rows in grouped.items()
    ]
    return {**meta, "step_ns": q.step_ns, "series": series}


def _points(kind: str, rows: list[dict[str, Any]], step_ns: int) -> list[dict[str, Any]]:
    step_s = step_ns / 1e9
    points: list[dict[str, Any]] = []
    previous: dict[str, Any] | None = None
    for row in rows:
        t = int(row["t"])
        if kind == "gauge":
            points.append({"t": t, "value": float(row["value"])})
        elif kind == "sum":
            cumulative = int(row["temp"]) == 2
            if row["mono"] and cumulative:
                if previous is not None:
                    delta = float(row["last"]) - float(previous["last"])
                    points.append({"t": t, "value": float(row["last"]), "rate": max(delta, 0.0) / step_s})
                else:
                    points.append({"t": t, "value": float(row["last"]), "rate": None})
            elif row["mono"]:
                points.append({"t": t, "value": float(row["total"]), "rate": float(row["total"]) / step_s})
            else:
                points.append({"t": t, "value": float(row["last"] if cumulative else row["total"])})
        elif kind == "histogram":
            points.append(_histogram_point(t, row, previous, step_s))
        elif kind == "summary":
            quantiles = {f"p{round(q * 100):g}": float(v) for q, v in zip(row["qs"], row["qvalues"], strict=False)}
            points.append({"t": t, "count": int(row["total"]), **quantiles})
        else:
            points.append({"t": t, "count": int(row["total"]), "sum": float(row["total_sum"])})
        previous = row
    return points


def _histogram_point(t: int, row: dict[str, Any], previous: dict[str, Any] | None, step_s: float) -> dict[str, Any]:
    bounds = [float(b) for b in row["bounds"]]
    if int(row["temp"]) == 2:  # cumulative: this step's observations are the difference
        buckets = [int(b) for b in row["last_buckets"]]
        count, total = int(row["last_count"]), float(row["last_sum"])
        if previous is not None and len(previous["last_buckets"]) == len(buckets):
            before = [int(b) for b in previous["last_buckets"]]
            if all(a >= b for a, b in zip(buckets, before, strict=True)):  # else the counter was reset
                buckets = [a - b for a, b in zip(buckets, before, strict=True)]
                count -= int(previous["last_count"])
                total -= float(previous["last_sum"])
    else:
        buckets = [int(b) for b in row["sum_buckets"]]
        count, total = int(row["sum_count"]), float(row["sum_sum"])
    point: dict[str, Any] = {
        "t": t,
        "count": count,
        "rate": count / step_s,
        "avg": total / count if count else None,
    }
    for q in QUANTILES:
        point[f"p{round(q * 100):g}"] = bucket_quantile(q, bounds, buckets)
    return point


def bucket_quantile(q: float, bounds: list[float], counts: list[int]) -> float | None:
    """Estimates a quantile by linear interpolation inside the bucket that holds it.

    The first bucket is taken to start at 0 and the overflow bucket to end at its lower
    bound (the best a fixed-bucket histogram can say), as Prometheus does.
    """
    total = sum(counts)
    if total == 0 or not counts:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(counts):
        if seen + count >= rank and count > 0:
            if i >= len(bounds):
                return bounds[-1] if bounds else None
            lower = bounds[i - 1] if i > 0 else 0.0
            upper = bounds[i]
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
    return bounds[-1] if bounds else None
