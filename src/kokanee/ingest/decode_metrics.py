"""ExportMetricsServiceRequest → one Arrow table per exporter metric table that gets rows.

One row per data point. Resource and scope columns are kept once per (resource, scope) group
and repeated with `take`, as for spans.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from kokanee.ingest.attributes import AttrCache, hex_ids, lists_array, paused_gc
from kokanee.ingest.decode_traces import TS, as_raw
from kokanee.ingest.types import Decoded
from kokanee.ingest.validate import MAX_NS
from kokanee.ingest.wire import RawMetrics

_F64 = pa.float64()
_U64 = pa.uint64()
_I32 = pa.int32()
# Columns after the shared head, per table, in the exporter's order ("Exemplars" expands to five).
_EXTRA: dict[str, tuple[tuple[str, pa.DataType], ...]] = {
    "gauge": (("Value", _F64), ("Flags", pa.uint32()), ("Exemplars", pa.null())),
    "sum": (
        ("Value", _F64),
        ("Flags", pa.uint32()),
        ("Exemplars", pa.null()),
        ("AggregationTemporality", _I32),
        ("IsMonotonic", pa.bool_()),
    ),
    "histogram": (
        ("Count", _U64),
        ("Sum", _F64),
        ("BucketCounts", pa.list_(_U64)),
        ("ExplicitBounds", pa.list_(_F64)),
        ("Exemplars", pa.null()),
        ("Flags", pa.uint32()),
        ("Min", _F64),
        ("Max", _F64),
        ("AggregationTemporality", _I32),
    ),
    "exponential_histogram": (
        ("Count", _U64),
        ("Sum", _F64),
        ("Scale", _I32),
        ("ZeroCount", _U64),
        ("PositiveOffset", _I32),
        ("PositiveBucketCounts", pa.list_(_U64)),
        ("NegativeOffset", _I32),
        ("NegativeBucketCounts", pa.list_(_U64)),
        ("Exemplars", pa.null()),
        ("Flags", pa.uint32()),
        ("Min", _F64),
        ("Max", _F64),
        ("AggregationTemporality", _I32),
    ),
    "summary": (
        ("Count", _U64),
        ("Sum", _F64),
        ("ValueAtQuantiles.Quantile", pa.list_(_F64)),
        ("ValueAtQuantiles.Value", pa.list_(_F64)),
        ("Flags", pa.uint32()),
    ),
}


class _Rows:
    """The data points of one metric table, column by column."""

    def __init__(self, kind: str, cache: AttrCache) -> None:
        self.kind = kind
        self.cache = cache
        self.group: list[int] = []
        self.metric: list[tuple[str, str, str]] = []
        self.a_off = [0]
        self.attrs: list[int] = []
        self.starts: list[int] = []
        self.times: list[int] = []
        self.extra: dict[str, list[Any]] = {name: [] for name, _ in _EXTRA[kind] if name != "Exemplars"}
        self.ex_off = [0]
        self.ex: dict[str, list[Any]] = {
            "a_off": [0],
            "attrs": [],
            "time": [],
            "value": [],
            "sid": [],
            "tid": [],
        }

    def add(self, gi: int, metric: tuple[str, str, str], p: Any, values: dict[str, Any]) -> None:
        self.group.append(gi)
        self.metric.append(metric)
        self.attrs.extend(map(self.cache.__getitem__, p.attributes))
        self.a_off.append(len(self.attrs))
        self.starts.append(p.start_time_unix_nano)
        self.times.append(p.time_unix_nano)
        for name, value in values.items():
            self.extra[name].append(value)
        if self.kind != "summary":
            ex = self.ex
            for e in p.exemplars:
                ex["attrs"].extend(map(self.cache.__getitem__, e.filtered_attributes))
                ex["a_off"].append(len(ex["attrs"]))
                ex["time"].append(min(e.time_unix_nano, MAX_NS))
                ex["value"].append(e.as_double if e.WhichOneof("value") == "as_double" else float(e.as_int))
                ex["sid"].append(e.span_id)
                ex["tid"].append(e.trace_id)
            self.ex_off.append(len(ex["time"]))

    def table(self, head: dict[str, list[Any]], g_res: Any, g_scope: Any) -> pa.Table:
        take = pa.array(self.group, pa.int32())
        names, descriptions, units = zip(*self.metric, strict=True)
        columns: dict[str, pa.Array] = {
            "ResourceAttributes": g_res.take(take),
            "ResourceSchemaUrl": pa.array(head["res_url"], pa.string()).take(take),
            "ScopeName": pa.array(head["scope"], pa.string()).take(take),
            "ScopeVersion": pa.array(head["version"], pa.string()).take(take),
            "ScopeAttributes": g_scope.take(take),
            "ScopeDroppedAttrCount": pa.array(head["dropped"], pa.uint32()).take(take),
            "ScopeSchemaUrl": pa.array(head["scope_url"], pa.string()).take(take),
            "ServiceName": pa.array(head["service"], pa.string()).take(take),
            "MetricName": pa.array(names, pa.string()),
            "MetricDescription": pa.array(descriptions, pa.string()),
            "MetricUnit": pa.array(units, pa.string()),
            "Attributes": self.cache.map_array(self.a_off, self.attrs),
            "StartTimeUnix": pa.array(self.starts, TS),
            "TimeUnix": pa.array(self.times, TS),
        }
        for name, arrow_type in _EXTRA[self.kind]:
            if name == "Exemplars":
                columns.update(self._exemplars())
            else:
                columns[name] = pa.array(self.extra[name], arrow_type)
        return pa.table(columns)

    def _exemplars(self) -> dict[str, pa.Array]:
        ex = self.ex
        return {
            "Exemplars.FilteredAttributes": lists_array(self.ex_off, self.cache.map_array(ex["a_off"], ex["attrs"])),
            "Exemplars.TimeUnix": lists_array(self.ex_off, pa.array(ex["time"], TS)),
            "Exemplars.Value": lists_array(self.ex_off, pa.array(ex["value"], _F64)),
            "Exemplars.SpanId": lists_array(self.ex_off, hex_ids(ex["sid"])),
            "Exemplars.TraceId": lists_array(self.ex_off, hex_ids(ex["tid"])),
        }


def decode_metrics(req: Any) -> Decoded:
    """Flatten data points into the `otel_metrics_*` tables; invalid points are counted, not raised.

    `req` is an ExportMetricsServiceRequest or its `wire.RawMetrics` shadow.
    """
    with paused_gc():
        return _decode(as_raw(req, RawMetrics))


def _point_problem(kind: str, p: Any) -> str | None:
    t = p.time_unix_nano
    if t <= 0:
        return "time_unix_nano must be set"
    if t > MAX_NS or p.start_time_unix_nano > MAX_NS:
        return "timestamps must be before 2262-04-11"
    if kind == "histogram" and p.bucket_counts and len(p.bucket_counts) != len(p.explicit_bounds) + 1:
        return (
            f"histogram has {len(p.bucket_counts)} bucket_counts for {len(p.explicit_bounds)} "
            "explicit_bounds (want bounds + 1)"
        )
    return None


def _values(kind: str, data: Any, p: Any) -> dict[str, Any]:
    if kind in ("gauge", "sum"):
        value = p.as_double if p.WhichOneof("value") == "as_double" else float(p.as_int)
        values: dict[str, Any] = {"Value": value, "Flags": p.flags}
        if kind == "sum":
            values["AggregationTemporality"] = data.aggregation_temporality
            values["IsMonotonic"] = data.is_monotonic
        return values
    values = {"Count": p.count, "Sum": p.sum, "Flags": p.flags}
    if kind == "summary":
        quantiles = p.quantile_values
        values["ValueAtQuantiles.Quantile"] = [q.quantile for q in quantiles]
        values["ValueAtQuantiles.Value"] = [q.value for q in quantiles]
        return values
    values.update(Min=p.min, Max=p.max, AggregationTemporality=data.aggregation_temporality)
    if kind == "histogram":
        values.update(BucketCounts=list(p.bucket_counts), ExplicitBounds=list(p.explicit_bounds))
    else:
        pos, neg = p.positive, p.negative
        values.update(Scale=p.scale, ZeroCount=p.zero_count, PositiveOffset=pos.offset)
        values.update(PositiveBucketCounts=list(pos.bucket_counts), NegativeOffset=neg.offset)
        values["NegativeBucketCounts"] = list(neg.bucket_counts)
    return values


def _decode(raw: Any) -> Decoded:
    out = Decoded("metrics")
    cache = AttrCache()
    lookup = cache.__getitem__
    head: dict[str, list[Any]] = {k: [] for k in ("service", "res_url", "scope", "version", "dropped", "scope_url")}
    res_off, scope_off = [0], [0]
    res: list[int] = []
    scope_attrs: list[int] = []
    rows = {kind: _Rows(kind, cache) for kind in _EXTRA}
    for rm in raw.resource_metrics:
        res_pairs = list(map(lookup, rm.resource.attributes))
        service = cache.value_of(rm.resource.attributes, "service.name")
        for sm in rm.scope_metrics:
            gi = len(head["service"])
            scope = sm.scope
            for key, value in (
                ("service", service),
                ("res_url", rm.schema_url),
                ("scope", scope.name),
                ("version", scope.version),
                ("dropped", scope.dropped_attributes_count),
                ("scope_url", sm.schema_url),
            ):
                head[key].append(value)
            res.extend(res_pairs)
            res_off.append(len(res))
            scope_attrs.extend(map(lookup, scope.attributes))
            scope_off.append(len(scope_attrs))
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                if kind not in rows:
                    continue  # no data, or a type the exporter has no table for
                names = (metric.name, metric.description, metric.unit)
                data = getattr(metric, kind)
                for p in data.data_points:
                    problem = _point_problem(kind, p)
                    if problem is not None:
                        out.reject(1, f"{kind} point of metric {metric.name[:80]!r}: {problem}")
                        continue
                    rows[kind].add(gi, names, p, _values(kind, data, p))
    g_res = cache.map_array(res_off, res)
    g_scope = cache.map_array(scope_off, scope_attrs)
    for kind, table_rows in rows.items():
        if table_rows.group:
            out.tables[f"otel_metrics_{kind}"] = table_rows.table(head, g_res, g_scope)
            out.accepted += len(table_rows.group)
    return out
