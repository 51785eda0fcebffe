"""RED (rate, errors, duration) over a window: per service (from `kokanee_service_red_1m`, its
rollup), per operation (from `kokanee_red_1m`), and as a series with a step. Latency quantiles
come from merged histograms, so a p95 over an hour is a p95 of the hour's requests, not an average
of minutes.

The table counts entry spans (Server, Consumer and roots), so a service's RED is what its callers
see. Windows are whole minutes: every minute that starts in [start, end).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kokanee.analysis.health import Red
from kokanee.store.client import Store
from kokanee.store.schema_derived import QUANTILES, bucket_quantiles, histogram_quantiles

_NS = 1_000_000_000
_MINUTE_S = 60


# Quantiles (ns) of a histogram column merged over the rows of a group.
def merged_quantiles(column: str) -> str:
    return histogram_quantiles(f"sumMap({column})")


_RED = """
    sum(Requests) AS requests, sum(Errors) AS errors, sum(DurationSum) AS duration_sum,
    sumMap(DurationHistogram) AS histogram"""
MINUTES = "Minute >= toDateTime({lo:Int64}) AND Minute < toDateTime({hi:Int64})"


@dataclass(frozen=True)
class RedStats:
    """One window's RED. Durations in ns; quantiles (p50, p90, p95, p99) are None where unknown."""

    requests: int
    errors: int
    duration_sum_ns: int | None
    quantiles_ns: tuple[float | None, ...]

    @property
    def p95_ns(self) -> float | None:
        return self.quantiles_ns[QUANTILES.index(0.95)] if self.quantiles_ns else None

    def health_input(self) -> Red:
        return Red(self.requests, self.errors, self.p95_ns)

    def to_json(self, window_ns: int) -> dict[str, Any]:
        """Rates per second over `window_ns`; latencies in milliseconds."""
        out: dict[str, Any] = {
            "requests": self.requests,
            "errors": self.errors,
            "rate_per_s": round(self.requests / (window_ns / _NS), 4) if window_ns > 0 else None,
            "error_rate": round(self.errors / self.requests, 4) if self.requests else 0.0,
            "mean_ms": (
                round(self.duration_sum_ns / self.requests / 1e6, 3)
                if self.duration_sum_ns is not None and self.requests
                else None
            ),
        }
        for q, value in zip(QUANTILES, self.quantiles_ns, strict=False):
            out[f"p{round(q * 100)}_ms"] = round(value / 1e6, 3) if value is not None else None
        return out


EMPTY = RedStats(0, 0, 0, tuple(None for _ in QUANTILES))


def minute_params(start_ns: int, end_ns: int) -> dict[str, int]:
    """`{lo}`/`{hi}` (Unix s) for MINUTES: the minutes that start in [start, end)."""
    lo = start_ns // _NS // _MINUTE_S * _MINUTE_S
    return {"lo": lo, "hi": -(-end_ns // _NS)}


def quantiles(values: Sequence[float] | None) -> tuple[float | None, ...]:
    """Merged quantiles to ns values, None where a histogram was empty (nan)."""
    if not values:
        return tuple(None for _ in QUANTILES)
    return tuple(None if math.isnan(float(v)) else float(v) for v in values)


def _stats(row: dict[str, Any]) -> RedStats:
    return RedStats(
        int(row["requests"]), int(row["errors"]), int(row["duration_sum"]), bucket_quantiles(*row["histogram"])
    )


def service_red(store: Store, start_ns: int, end_ns: int, service: str | None = None) -> dict[str, RedStats]:
    """RED per service over the window (one service when `service` is given)."""
    where = MINUTES + (" AND ServiceName = {service:String}" if service is not None else "")
    rows = store.query(
        f"SELECT ServiceName, {_RED} FROM kokanee_service_red_1m WHERE {where} GROUP BY ServiceName ORDER BY ServiceName",
        parameters={**minute_params(start_ns, end_ns), "service": service},
    ).dicts()
    return {row["ServiceName"]: _stats(row) for row in rows}


def baseline_scope(
    start_ns: int, end_ns: int, base_start_ns: int, minutes: str, hours: str
) -> tuple[str, dict[str, int]]:
    """FROM/WHERE for a baseline [base_start, start) and the parameters for it and the window.

    A baseline of six hours or more reads the hourly rollup `hours` over the whole hours from
    base_start's to start's (close enough for a baseline, and 60 times fewer states to merge);
    a shorter one reads the per-minute table `minutes`. The window itself is MINUTES.
    """
    params = {**minute_params(start_ns, end_ns), "blo": minute_params(base_start_ns, start_ns)["lo"]}
    if start_ns - base_start_ns >= 6 * 3600 * _NS:
        params["blo"], params["bhi"] = params["blo"] // 3600 * 3600, params["lo"] // 3600 * 3600
        return f"{hours} WHERE Hour >= toDateTime({{blo:Int64}}) AND Hour < toDateTime({{bhi:Int64}})", params
    return f"{minutes} WHERE Minute >= toDateTime({{blo:Int64}}) AND Minute < toDateTime({{lo:Int64}})", params


def service_red_and_baseline(
    store: Store, start_ns: int, end_ns: int, base_start_ns: int
) -> tuple[dict[str, RedStats], dict[str, RedStats]]:
    """RED per service over the window and over its baseline [base_start, start), in one query."""
    baseline, params = baseline_scope(
        start_ns, end_ns, base_start_ns, "kokanee_service_red_1m", "kokanee_service_red_1h"
    )
    rows = store.query(
        f"""SELECT ServiceName, 1 AS current, {_RED} FROM kokanee_service_red_1m WHERE {MINUTES} GROUP BY ServiceName
        UNION ALL SELECT ServiceName, 0 AS current, {_RED} FROM {baseline} GROUP BY ServiceName""",
        parameters=params,
    ).dicts()
    now: dict[str, RedStats] = {}
    before: dict[str, RedStats] = {}
    for row in rows:
        (now if row["current"] else before)[row["ServiceName"]] = _stats(row)
    return now, before


def operation_red(store: Store, start_ns: int, end_ns: int, service: str | None = None) -> list[dict[str, Any]]:
    """RED per (service, operation, span kind), busiest first."""
    where = MINUTES + (" AND ServiceName = {service:String}" if service is not None else "")
    rows = store.query(
        f"""SELECT ServiceName, SpanName, SpanKind, {_RED} FROM kokanee_red_1m WHERE {where}
        GROUP BY ServiceName, SpanName, SpanKind ORDER BY requests DESC, ServiceName, SpanName LIMIT 10000""",
        parameters={**minute_params(start_ns, end_ns), "service": service},
    ).dicts()
    window = end_ns - start_ns
    return [
        {"service": r["ServiceName"], "operation": r["SpanName"], "kind": r["SpanKind"], **_stats(r).to_json(window)}
        for r in rows
    ]


def red_series(
    store: Store, service: str, start_ns: int, end_ns: int, step_ns: int
) -> tuple[int, list[dict[str, Any]]]:
    """RED of one service per step; returns the step used (ns; a whole number of minutes, since
    the data is per minute) and the points that have requests, oldest first."""
    step_s = max(_MINUTE_S, -(-step_ns // _NS // _MINUTE_S) * _MINUTE_S)
    rows = store.query(
        f"""SELECT intDiv(toUnixTimestamp(Minute), {{step:UInt32}}) * {{step:UInt32}} AS t, {_RED}
        FROM kokanee_service_red_1m WHERE {MINUTES} AND ServiceName = {{service:String}} GROUP BY t ORDER BY t""",
        parameters={**minute_params(start_ns, end_ns), "service": service, "step": step_s},
    ).dicts()
    step = step_s * _NS
    return step, [{"time_unix_nano": int(r["t"]) * _NS, **_stats(r).to_json(step)} for r in rows]


@dataclass(frozen=True)
class Sparklines:
    """Per service, RED in equal steps over a window: `times` (Unix s) start each step; each
    service has one value per step. A step without requests reads rate 0, error rate 0 (as
    `RedStats.to_json` has it) and p95 None."""

    step_s: int
    times: list[int]
    services: dict[str, dict[str, list[float | None]]]

    def to_json(self) -> dict[str, Any]:
        return {
            "step_seconds": self.step_s,
            "services": {name: {"t": self.times, **lines} for name, lines in self.services.items()},
        }


def red_sparklines(store: Store, start_ns: int, end_ns: int, points: int = 30) -> Sparklines:
    """Every service's rate (per s), error rate and p95 (ms) in at most `points` equal steps of
    whole minutes (the data is per minute), from the window's first minute; one query."""
    if points < 1:
        raise ValueError("points must be at least 1")
    params = minute_params(start_ns, end_ns)
    minutes = max(1, -(-(params["hi"] - params["lo"]) // _MINUTE_S))
    step_minutes = -(-minutes // points)
    steps = -(-minutes // step_minutes)
    step_s = step_minutes * _MINUTE_S
    rows = store.query(
        f"""SELECT ServiceName, intDiv(toUnixTimestamp(Minute) - {{lo:Int64}}, {{step:UInt32}}) AS i, {_RED}
        FROM kokanee_service_red_1m WHERE {MINUTES} GROUP BY ServiceName, i ORDER BY ServiceName, i""",
        parameters={**params, "step": step_s},
    ).dicts()
    lines: dict[str, dict[str, list[float | None]]] = {}
    for row in rows:
        line = lines.setdefault(
            row["ServiceName"],
            {"rate": [0.0] * steps, "error_rate": [0.0] * steps, "p95_ms": [None] * steps},
        )
        i, red = int(row["i"]), _stats(row).to_json(step_s * _NS)
        line["rate"][i], line["error_rate"][i], line["p95_ms"][i] = red["rate_per_s"], red["error_rate"], red["p95_ms"]
    times = [params["lo"] + i * step_s for i in range(steps)]
    return Sparklines(step_s, times, lines)
