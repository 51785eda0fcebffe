"""Nezha metric CSVs (one file per pod, one row per minute) as OTLP gauges.

Columns: `Time,TimeStamp,PodName,<metric>(<unit>),...`; `front_service.csv` has
`ServiceName` instead of `PodName` (latencies seen by the load generator, service
`Frontend`). Each `<metric>(<unit>)` column becomes a gauge named `<metric>` with unit
`<unit>` (the Nezha names, so analyses can be compared with the paper's code), on a resource
with `service.name` and `k8s.pod.name`. Points take the minute's `TimeStamp` (unix s).
`NaN` and empty cells mean "nothing measured" (no server latency without requests) and are
left out rather than stored as NaN.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kokanee.importers import otlp
from kokanee.importers.times import NS_PER_S
from kokanee.importers.types import Batch, Problems

_COLUMN = re.compile(r"^([^()]+?)(?:\(([^()]*)\))?$")


def read_metrics(path: Path, batch_size: int, problems: Problems) -> Iterator[Batch]:
    """Gauge points of one Nezha metric CSV, about `batch_size` points per request."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header or header[:2] != ["Time", "TimeStamp"] or header[2] not in ("PodName", "ServiceName"):
            problems.add(f"{path.name}: not a Nezha metric file (header {header})")
            return
        names = [_name_unit(column) for column in header[3:]]
        rows_per_batch = max(1, batch_size // max(1, len(names)))
        rows: list[list[str]] = []
        for row in reader:
            if len(row) != len(header) or not row[1].isdigit():
                problems.add(f"{path.name}:{reader.line_num}: unreadable metric row skipped")
                continue
            rows.append(row)
            if len(rows) >= rows_per_batch:
                yield _batch(header[2], rows, names)
                rows = []
        if rows:
            yield _batch(header[2], rows, names)


def _name_unit(column: str) -> tuple[str, str]:
    match = _COLUMN.match(column.strip())
    if match is None:
        return column, ""
    return match.group(1), match.group(2) or ""


def _batch(who: str, rows: list[list[str]], names: list[tuple[str, str]]) -> Batch:
    request = otlp.new_request("metrics")
    points = 0
    # A file is one pod, but a row names its pod, so group by it rather than trust that.
    by_pod: dict[str, list[list[str]]] = {}
    for row in rows:
        by_pod.setdefault(row[2], []).append(row)
    for pod, pod_rows in by_pod.items():
        resource_metrics = request.resource_metrics.add()
        attributes = (
            {"service.name": otlp.service_from_pod(pod), "k8s.pod.name": pod}
            if who == "PodName"
            else {"service.name": pod}
        )
        otlp.add_attributes(resource_metrics.resource.attributes, attributes)
        scope = resource_metrics.scope_metrics.add()
        scope.scope.name = otlp.SCOPE_NAME
        for index, (name, unit) in enumerate(names, start=3):
            metric: Any = None
            for row in pod_rows:
                value = _float(row[index])
                if value is None:
                    continue
                if metric is None:
                    metric = scope.metrics.add(name=name, unit=unit)
                metric.gauge.data_points.add(time_unix_nano=int(row[1]) * NS_PER_S, as_double=value)
                points += 1
    return Batch("metrics", request, points)


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value
