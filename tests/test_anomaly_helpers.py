"""Helpers (no tests): telemetry written straight into the in-process chDB store for the anomaly tests: server spans
(which the store's materialized views turn into per-minute RED), service-graph edges, and logs."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterable

import pyarrow as pa

from kokanee.store.client import Store

NS = 1_000_000_000
MINUTE = 60
# Monday 2026-01-05 00:00 UTC; each test uses its own day offsets so they never overlap.
EPOCH = 1_767_571_200
_ids = itertools.count(1)
# Trace ids unique to this run: the store is shared, and other tests look traces up by id.
_RUN = secrets.token_hex(8)


def minute(day: int, hh: int, mm: int) -> int:
    """Unix s of a minute, `day` days after EPOCH."""
    return EPOCH + day * 86_400 + hh * 3600 + mm * 60


def write_spans(
    store: Store, service: str, per_minute: Iterable[tuple[int, int, int, float]], operation: str = "GET /work"
) -> None:
    """Server spans: for each (minute, requests, errors, duration ms), that many spans spread over the
    minute, the first `errors` of them failed."""
    ts, tids, sids, durs, codes = [], [], [], [], []
    for m, n, errors, ms in per_minute:
        for i in range(n):
            ts.append(m * NS + i * (MINUTE * NS // max(n, 1)))
            uid = next(_ids)
            tids.append(f"{_RUN}{uid:016x}")
            sids.append(f"{uid:016x}")
            durs.append(int(ms * 1e6))
            codes.append("Error" if i < errors else "Unset")
    if not ts:
        return
    store.insert_arrow(
        "otel_traces",
        pa.table(
            {
                "Timestamp": pa.array(ts, pa.timestamp("ns")),
                "TraceId": pa.array(tids, pa.string()),
                "SpanId": pa.array(sids, pa.string()),
                "ParentSpanId": pa.array([""] * len(ts), pa.string()),
                "ServiceName": pa.array([service] * len(ts), pa.string()),
                "SpanName": pa.array([operation] * len(ts), pa.string()),
                "SpanKind": pa.array(["Server"] * len(ts), pa.string()),
                "Duration": pa.array(durs, pa.uint64()),
                "StatusCode": pa.array(codes, pa.string()),
            }
        ),
    )


def write_edge(store: Store, client: str, server: str, minutes: Iterable[int], requests: int = 10) -> None:
    """Service-graph edges client -> server in the given minutes (as the deriver would write them)."""
    values = ", ".join(f"(toDateTime({m}), '{client}', '{server}', '', {requests}, 0)" for m in minutes)
    store.command(
        "INSERT INTO kokanee_service_edges_1m (Minute, Client, Server, ConnectionType, Requests, Failures)"
        f" VALUES {values}"
    )


def write_logs(store: Store, service: str, lines: Iterable[tuple[int, str, str]]) -> None:
    """Log records (Unix ns, severity text, body)."""
    rows = list(lines)
    if not rows:
        return
    store.insert_arrow(
        "otel_logs",
        pa.table(
            {
                "Timestamp": pa.array([r[0] for r in rows], pa.timestamp("ns")),
                "ServiceName": pa.array([service] * len(rows), pa.string()),
                "SeverityText": pa.array([r[1] for r in rows], pa.string()),
                "Body": pa.array([r[2] for r in rows], pa.string()),
            }
        ),
    )


def anomalies_of(store: Store, service: str, lo: int = 0, hi: int = 2**31) -> list[dict[str, object]]:
    return store.query(
        """SELECT toUnixTimestamp(Timestamp) AS t, Series, Signal, Detector, Metric, Operation, Expected, Actual,
            Score, Severity, IncidentId
        FROM kokanee_anomalies WHERE ServiceName = {s:String}
            AND Timestamp >= toDateTime({lo:Int64}) AND Timestamp < toDateTime({hi:Int64}) ORDER BY t, Series""",
        parameters={"s": service, "lo": lo, "hi": hi},
    ).dicts()


def write_metric(
    store: Store, table: str, service: str, name: str, points: Iterable[tuple[int, float]], monotonic: bool = False
) -> None:
    """Metric points (Unix ns, value) into otel_metrics_gauge or otel_metrics_sum (cumulative)."""
    rows = list(points)
    columns = {
        "ServiceName": pa.array([service] * len(rows), pa.string()),
        "MetricName": pa.array([name] * len(rows), pa.string()),
        "TimeUnix": pa.array([r[0] for r in rows], pa.timestamp("ns")),
        "Value": pa.array([r[1] for r in rows], pa.float64()),
    }
    if table == "otel_metrics_sum":
        columns["AggregationTemporality"] = pa.array([2] * len(rows), pa.int32())
        columns["IsMonotonic"] = pa.array([monotonic] * len(rows), pa.bool_())
    store.insert_arrow(table, pa.table(columns))
