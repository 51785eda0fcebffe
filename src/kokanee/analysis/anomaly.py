"""Point anomalies and level shifts on per-minute series, judged against robust baselines.

A series is one number per minute: a service's or operation's request count, error rate or p95
latency (`red`), the same for a service-graph edge (`edge`), a metric's per-minute value
(`metric`), or a log template's count (`log_template`). Each is judged by its kind: which
direction matters, which floors its scale has, which plain-terms change it needs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kokanee.analysis.anomaly_params import MINUTE_S, DetectionParams
from kokanee.analysis.baseline import Expectation, expect, robust
from kokanee.analysis.changepoint import cusum_shift

# How a series is judged.
REQUESTS = "requests"  # a count per minute: drops and surges matter; missing minutes are zero
ERROR_RATE = "error_rate"  # errors / requests: only rises matter
LATENCY = "latency"  # milliseconds, judged on a log scale (latency is skewed): only rises matter
VALUE = "value"  # a metric: both directions
LOG_COUNT = "log_count"  # lines of a log template per minute: only surges matter

_UP_ONLY = {ERROR_RATE, LATENCY, LOG_COUNT}
COUNT_KINDS = {REQUESTS, LOG_COUNT}


@dataclass(frozen=True)
class SeriesKey:
    signal: str  # 'red', 'edge', 'metric', 'log_template'
    service: str
    operation: str  # span name, 'client -> server', metric name or template id; '' for a whole service
    metric: str  # 'requests', 'error_rate', 'p95_ms', 'value', 'count'
    kind: str  # one of the kinds above

    @property
    def name(self) -> str:
        return f"{self.signal}:{self.service}:{self.operation}:{self.metric}"


@dataclass
class SeriesSet:
    """Loaded series: minute (Unix s) → value, and for rates and latencies the requests behind
    each point (`volume`)."""

    values: dict[SeriesKey, dict[int, float]] = field(default_factory=dict)
    volume: dict[SeriesKey, dict[int, float]] = field(default_factory=dict)

    def add(self, key: SeriesKey, minute: int, value: float, volume: float | None = None) -> None:
        self.values.setdefault(key, {})[minute] = value
        if volume is not None:
            self.volume.setdefault(key, {})[minute] = volume


@dataclass
class Anomaly:
    minute: int  # start of the anomalous window (Unix s)
    window_end: int
    key: SeriesKey
    detector: str
    expected: float
    actual: float
    score: float
    severity: str  # 'info', 'warning', 'critical'
    incident_id: str = ""
    note: str = ""

    def row(self) -> dict[str, Any]:
        return {
            "Timestamp": self.minute,
            "WindowEnd": self.window_end,
            "Series": self.key.name,
            "ServiceName": self.key.service,
            "Operation": self.key.operation,
            "Signal": self.key.signal,
            "Detector": self.detector,
            "Expected": float(self.expected),
            "Actual": float(self.actual),
            "Score": float(self.score),
            "Severity": self.severity,
            "IncidentId": self.incident_id,
            "Metric": self.key.metric,
            "Detail": self.note,
        }


def scale_for(kind: str, expected: float, spread: float, volume: float | None, params: DetectionParams) -> float:
    """The spread of a baseline with floors: a flat history must not make noise look huge."""
    if kind in COUNT_KINDS:  # Poisson noise at least
        return max(spread, math.sqrt(max(expected, 1.0)))
    if kind == ERROR_RATE:
        p = min(max(expected, params.min_error_rate_scale), 1.0)
        binomial = math.sqrt(p * (1 - p) / volume) if volume else 0.0
        return max(spread, binomial, params.min_error_rate_scale)
    if kind == LATENCY:  # log space: expected and spread are in log(ms)
        floor_ms = params.min_latency_scale_ms / max(math.exp(expected), 1e-9)
        return max(spread, math.log1p(params.min_relative_scale), math.log1p(floor_ms))
    return max(spread, params.min_relative_scale * abs(expected), 1e-9)


def severity_of(score: float, params: DetectionParams) -> str | None:
    magnitude = abs(score)
    if magnitude >= params.critical_score:
        return "critical"
    if magnitude >= params.warning_score:
        return "warning"
    return None


def big_enough(kind: str, expected: float, actual: float, volume: float | None, params: DetectionParams) -> bool:
    """Whether a change matters in plain terms, whatever its score."""
    delta = actual - expected
    if kind in _UP_ONLY and delta <= 0:
        return False
    if kind == ERROR_RATE:
        errors = actual * (volume or 0.0)
        return delta >= params.min_error_rate_increase and errors >= params.min_errors
    if kind == LATENCY:  # log space
        grown = math.exp(actual) - math.exp(expected)
        return (volume or 0.0) >= params.min_requests and grown >= params.min_relative_change * math.exp(expected)
    if kind in COUNT_KINDS:
        return abs(delta) >= max(params.min_volume_change, params.min_relative_change * abs(expected))
    return abs(delta) >= params.min_relative_change * abs(expected) and delta != 0


def judge_point(
    key: SeriesKey, t: int, actual: float, baseline: Expectation, volume: float | None, params: DetectionParams
) -> Anomaly | None:
    if not big_enough(key.kind, baseline.expected, actual, volume, params):
        return None
    scale = scale_for(key.kind, baseline.expected, baseline.spread, volume, params)
    score = (actual - baseline.expected) / scale
    severity = severity_of(score, params)
    if severity is None:
        return None
    return Anomaly(t, t + MINUTE_S, key, baseline.source, baseline.expected, actual, score, severity)


def _shift_qualifies(
    key: SeriesKey, history: Mapping[int, float], t: int, volume: Mapping[int, float] | None, params: DetectionParams
) -> tuple[int, float, float, float] | None:
    """(start minute, before, after, score) of a level shift qualifying at minute t, if any."""
    if t not in history:
        return None
    window = params.cusum_reference_minutes + params.cusum_test_minutes
    span = [t - i * MINUTE_S for i in range(window - 1, -1, -1)]
    if key.kind in COUNT_KINDS:  # missing minutes are zero once the series has appeared
        first = next(i for i, m in enumerate(span) if m in history)
        minutes = span[first:]
        points = [history.get(m, 0.0) for m in minutes]
    else:
        minutes = [m for m in span if m in history]
        points = [history[m] for m in minutes]
    cut = [i for i, m in enumerate(minutes) if m > t - params.cusum_test_minutes * MINUTE_S]
    if not cut:
        return None
    reference, test = points[: cut[0]], points[cut[0] :]
    if len(reference) < params.min_history_points:
        return None
    before, spread = robust(reference)
    vol = volume.get(t) if volume else None
    shift = cusum_shift(reference, test, scale_for(key.kind, before, spread, vol, params), params)
    if shift is None:
        return None
    if key.kind in _UP_ONLY and shift.direction < 0:
        return None
    if not big_enough(key.kind, shift.before, shift.after, vol, params):
        return None
    return minutes[cut[0] + shift.start], shift.before, shift.after, shift.score


def judge_shift(
    key: SeriesKey, history: Mapping[int, float], t: int, volume: Mapping[int, float] | None, params: DetectionParams
) -> Anomaly | None:
    """A level shift first qualifying at minute t (one report per shift, not one per minute)."""
    found = _shift_qualifies(key, history, t, volume, params)
    if found is None or _shift_qualifies(key, history, t - MINUTE_S, volume, params) is not None:
        return None
    start, before, after, score = found
    severity = severity_of(score, params) or "warning"
    return Anomaly(start, t + MINUTE_S, key, "cusum", before, after, score, severity)


def detect_minute(series: SeriesSet, t: int, params: DetectionParams) -> list[Anomaly]:
    """Every anomaly of minute `t` (Unix s) in `series`; a series yields a point anomaly or a
    level shift, not both."""
    found: list[Anomaly] = []
    for key, values in series.values.items():
        history = _log_ms(values) if key.kind == LATENCY else values
        volume = series.volume.get(key)
        fill = key.kind in COUNT_KINDS
        if t in history:
            actual = history[t]
        elif key.kind == REQUESTS and key.signal == "red" and not key.operation:
            actual = 0.0  # a whole service went quiet
        else:
            continue
        baseline = expect(history, t, params, fill_zero=fill)
        if baseline is None:
            continue
        vol = volume.get(t, 0.0) if volume is not None else None
        anomaly = judge_point(key, t, actual, baseline, vol, params)
        # Shifts are looked for where no seasonal baseline exists: a daily pattern is not a shift.
        if anomaly is None and t in history and baseline.source == "recent":
            anomaly = judge_shift(key, history, t, volume, params)
        if anomaly is not None:
            if key.kind == LATENCY:  # back from log space
                anomaly.expected, anomaly.actual = math.exp(anomaly.expected), math.exp(anomaly.actual)
            found.append(anomaly)
    return found


def _log_ms(values: Mapping[int, float]) -> dict[int, float]:
    return {m: math.log(max(v, 1e-3)) for m, v in values.items()}
