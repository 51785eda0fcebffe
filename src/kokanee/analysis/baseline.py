"""What a series should read at a minute: a robust expectation from its own history.

Seasonal where history allows (the same minute of day on previous days, of week on previous
weeks, pooled over a few minutes either side), else the recent hour. Centre and spread are the
median and 1.4826 × MAD, so one outlier in the history moves neither.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from kokanee.analysis.anomaly_params import DAY_S, MINUTE_S, WEEK_S, DetectionParams

MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class Expectation:
    expected: float
    spread: float  # 1.4826 × MAD of the baseline points
    source: str  # 'recent', 'daily' or 'weekly'
    points: int


def robust(values: Sequence[float]) -> tuple[float, float]:
    """Median and 1.4826 × MAD."""
    arr = np.asarray(values, dtype=float)
    median = float(np.median(arr))
    return median, MAD_TO_SD * float(np.median(np.abs(arr - median)))


def recent_points(history: Mapping[int, float], t: int, minutes: int, fill_zero: bool) -> list[float]:
    """The values of the `minutes` before minute `t` (Unix s), oldest first. Count series
    (`fill_zero`) read a missing minute as zero once the series has appeared."""
    span = [t - i * MINUTE_S for i in range(minutes, 0, -1)]
    if not fill_zero:
        return [history[m] for m in span if m in history]
    present = [i for i, m in enumerate(span) if m in history]
    if not present:
        return []
    return [history.get(m, 0.0) for m in span[present[0] :]]


def _seasonal(
    history: Mapping[int, float], t: int, period_s: int, periods: int, half_width: int, fill_zero: bool
) -> tuple[int, list[float]]:
    """(periods with data, pooled values) at t - k·period ± half_width minutes, k = 1..periods."""
    found, pooled = 0, []
    for k in range(1, periods + 1):
        centre = t - k * period_s
        window = [centre + j * MINUTE_S for j in range(-half_width, half_width + 1)]
        values = [history[m] for m in window if m in history]
        if not values:
            continue
        found += 1
        pooled.extend([history.get(m, 0.0) for m in window] if fill_zero else values)
    return found, pooled


def expect(
    history: Mapping[int, float], t: int, params: DetectionParams, fill_zero: bool = False
) -> Expectation | None:
    """The expectation for minute `t` from `history` (minute → value), or None when the series
    has too little history to judge."""
    w = params.seasonal_half_width_minutes
    weeks, weekly = _seasonal(history, t, WEEK_S, params.seasonal_weeks, w, fill_zero)
    if weeks >= params.min_seasonal_weeks:
        centre, spread = robust(weekly)
        return Expectation(centre, spread, "weekly", len(weekly))
    days, daily = _seasonal(history, t, DAY_S, params.seasonal_days, w, fill_zero)
    if days >= params.min_seasonal_days:
        centre, spread = robust(daily)
        return Expectation(centre, spread, "daily", len(daily))
    recent = recent_points(history, t, params.recent_minutes, fill_zero)
    if len(recent) < params.min_history_points:
        return None
    centre, spread = robust(recent)
    return Expectation(centre, spread, "recent", len(recent))


def seasonal_ranges(lo: int, hi: int, params: DetectionParams) -> list[tuple[int, int]]:
    """Minute ranges [a, b) (Unix s) a seasonal baseline of the minutes [lo, hi) reads."""
    pad = params.seasonal_half_width_minutes * MINUTE_S
    offsets = {k * DAY_S for k in range(1, params.seasonal_days + 1)}
    offsets |= {k * WEEK_S for k in range(1, params.seasonal_weeks + 1)}
    return [(lo - o - pad, hi - o + pad) for o in sorted(offsets)]
