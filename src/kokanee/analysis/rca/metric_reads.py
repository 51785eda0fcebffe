"""Metric series from the store for the scorer: gauges as stored, sums as per-point increases
when they are cumulative and monotonic (a counter's level says nothing; its rate does).

Series are told apart by service, metric name, pod (`k8s.pod.name`) and point attributes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from kokanee.analysis.rca.metric_scorer import SeriesPair
from kokanee.store.client import Store
from kokanee.store.reads.window import within

# The exporter's AggregationTemporality: 2 = cumulative.
_CUMULATIVE = 2

_SQL = """
SELECT ServiceName AS service, MetricName AS metric, ResourceAttributes['k8s.pod.name'] AS pod,
    toString(Attributes) AS attrs, {extra} AS counter,
    arraySort(x -> x.1, groupArray((toUnixTimestamp64Nano(TimeUnix), Value))) AS points
FROM {table}
WHERE {where}
GROUP BY service, metric, pod, attrs
"""


def series_pairs(
    store: Store, start_ns: int, end_ns: int, baselines: Sequence[tuple[int, int]]
) -> Iterator[SeriesPair]:
    """Each gauge and sum series with points in both the baseline windows and [start, end)."""
    params = {"start": min(start_ns, *(b[0] for b in baselines)), "end": end_ns}
    for table, extra in (
        ("otel_metrics_gauge", "0"),
        ("otel_metrics_sum", f"any(IsMonotonic AND AggregationTemporality = {_CUMULATIVE})"),
    ):
        sql = _SQL.format(table=table, extra=extra, where=within("TimeUnix"))
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
            yield SeriesPair(str(row["service"]), name, base, win, str(row["metric"]))
