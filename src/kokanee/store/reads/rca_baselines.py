"""What the root-cause ranking needs to pick baselines for a window-only question: per candidate
window and service, its requests, errors and p90 latency (server and consumer spans) and its
ERROR lines, and the services the anomaly detector flagged (warning or worse) in it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the record type alone is what the pure `analysis.rca.baselines` imports
    from kokanee.store.client import Store

Window = tuple[int, int]


@dataclass(frozen=True, slots=True)
class WindowHealth:
    requests: int
    errors: int
    p90_ns: float
    # ERROR (or worse) log lines: a service whose spans carry no status fails in these only.
    error_lines: int = 0


def candidate_health(store: Store, candidates: Sequence[Window]) -> list[dict[str, WindowHealth]]:
    """Per candidate (in order), per service: its server and consumer spans' figures."""
    from kokanee.store.reads.logs import ERROR_LINE_SQL, SEVERITY_NUMBERS  # not at import: it needs the store

    if not candidates:
        return []
    lo = min(c[0] for c in candidates)
    hi = max(c[1] for c in candidates)
    # Candidates are disjoint: each span falls in at most one, found by its start.
    rows = store.query(
        """SELECT idx, ServiceName, count() AS n, countIf(StatusCode = 'Error') AS errors,
            quantile(0.9)(Duration) AS p90
        FROM (
            SELECT arrayFirstIndex(x -> t >= x.1 AND t < x.2, {windows:Array(Tuple(Int64, Int64))}) AS idx,
                ServiceName, StatusCode, Duration, toUnixTimestamp64Nano(Timestamp) AS t
            FROM otel_traces
            WHERE Timestamp >= fromUnixTimestamp64Nano({lo:Int64}) AND Timestamp < fromUnixTimestamp64Nano({hi:Int64})
                AND SpanKind IN ('Server', 'Consumer')
        )
        WHERE idx > 0
        GROUP BY idx, ServiceName""",
        parameters={"windows": [tuple(c) for c in candidates], "lo": lo, "hi": hi},
    ).rows
    lines = store.query(
        f"""SELECT arrayFirstIndex(x -> t >= x.1 AND t < x.2, {{windows:Array(Tuple(Int64, Int64))}}) AS idx,
            ServiceName, count()
        FROM (
            SELECT ServiceName, toUnixTimestamp64Nano(Timestamp) AS t FROM otel_logs
            WHERE Timestamp >= fromUnixTimestamp64Nano({{lo:Int64}}) AND Timestamp < fromUnixTimestamp64Nano({{hi:Int64}})
                AND {ERROR_LINE_SQL}
        )
        WHERE idx > 0
        GROUP BY idx, ServiceName""",
        parameters={"windows": [tuple(c) for c in candidates], "lo": lo, "hi": hi, "sev": SEVERITY_NUMBERS["ERROR"]},
    ).rows
    logged = {(int(idx), str(service)): int(n) for idx, service, n in lines}
    out: list[dict[str, WindowHealth]] = [{} for _ in candidates]
    for idx, service, n, errors, p90 in rows:
        out[int(idx) - 1][str(service)] = WindowHealth(
            int(n), int(errors), float(p90), logged.get((int(idx), str(service)), 0)
        )
    return out


def flagged_services(store: Store, candidates: Sequence[Window]) -> list[set[str]]:
    """Per candidate, the services with a warning or worse from the anomaly detector in it."""
    if not candidates:
        return []
    lo = min(c[0] for c in candidates)
    hi = max(c[1] for c in candidates)
    rows = store.query(
        """SELECT toUnixTimestamp(Timestamp) AS t, ServiceName FROM kokanee_anomalies
        WHERE Severity != 'info' AND Timestamp >= fromUnixTimestamp({lo:Int64})
            AND Timestamp < fromUnixTimestamp({hi:Int64})""",
        parameters={"lo": lo // 1_000_000_000, "hi": -(-hi // 1_000_000_000)},
    ).rows
    out: list[set[str]] = [set() for _ in candidates]
    for t, service in rows:
        for i, (a, b) in enumerate(candidates):
            if a <= int(t) * 1_000_000_000 < b:
                out[i].add(str(service))
    return out
