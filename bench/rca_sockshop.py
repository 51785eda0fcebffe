"""RCAEval "Sock Shop 1" (the RCD artifact's sock-shop-data) loaded into a kokanee store.

Each CSV column `<service>_<metric>` becomes a gauge series of service `<service>` named
`<metric>` in `otel_metrics_gauge`, one point a second. Cases are split at the file boundary
(normal.csv, then anomalous.csv: orders-mem/5's timestamps overlap) and re-timed so each case
has its own day: case i's normal rows start at T0 + i days, one second apart, and its anomalous
rows follow. rank_causes then reads them back through the store like any other metrics.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from kokanee.store.client import Store

T0_S = 1_700_000_000
DAY_S = 86_400
NS = 1_000_000_000


@dataclass(frozen=True)
class Case:
    root_cause: str  # the service in the folder's name
    fault: str  # cpu | mem
    number: str
    normal: tuple[int, int]  # [start, end) ns
    anomalous: tuple[int, int]


def _read(path: Path) -> tuple[list[str], list[list[float]]]:
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [[float(x) if x not in ("", "nan", "NaN") else float("nan") for x in row] for row in reader]
    return header, rows


def _split(column: str) -> tuple[str, str]:
    service, _, metric = column.partition("_")
    return service, metric


def load_case(store: Store, folder: Path, index: int) -> Case:
    service, _, fault = folder.parent.name.rpartition("-")
    base_s = T0_S + index * DAY_S
    header, normal = _read(folder / "normal.csv")
    header2, anomalous = _read(folder / "anomalous.csv")
    if header2 != header:
        raise ValueError(f"{folder}: normal.csv and anomalous.csv have different columns")
    services, metrics, times, values = [], [], [], []
    for i, row in enumerate([*normal, *anomalous]):
        t = (base_s + i) * NS
        for column, value in zip(header, row, strict=True):
            if column == "time" or value != value:  # NaN: nothing measured
                continue
            s, m = _split(column)
            services.append(s)
            metrics.append(m)
            times.append(t)
            values.append(value)
    table = pa.table(
        {
            "ServiceName": pa.array(services, pa.string()),
            "MetricName": pa.array(metrics, pa.string()),
            "TimeUnix": pa.array(times, pa.timestamp("ns")),
            "StartTimeUnix": pa.array(times, pa.timestamp("ns")),
            "Value": pa.array(values, pa.float64()),
        }
    )
    store.insert_arrow("otel_metrics_gauge", table)
    n = len(normal)
    return Case(
        service,
        fault,
        folder.name,
        (base_s * NS, (base_s + n) * NS),
        ((base_s + n) * NS, (base_s + n + len(anomalous)) * NS),
    )


def case_folders(root: Path) -> list[Path]:
    return sorted(
        (p for p in root.glob("*-*/*") if (p / "normal.csv").exists() and (p / "anomalous.csv").exists()),
        key=lambda p: (p.parent.name, int(p.name) if p.name.isdigit() else 0),
    )
