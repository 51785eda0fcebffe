"""Level shifts: a two-sided CUSUM over robustly standardised values.

The reference segment (the hour before the test segment) gives the centre and scale; the test
segment (the last half hour) accumulates standardised deviations beyond a drift `k`, and an alarm
is raised when a sum passes `h`. The shift starts where that sum last left zero. A shift is only
reported at the first minute it qualifies, so a lasting shift yields one change point, not one per
minute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kokanee.analysis.anomaly_params import DetectionParams


@dataclass(frozen=True)
class Shift:
    start: int  # index in the test segment where the new level begins
    direction: int  # +1 up, -1 down
    before: float  # the reference median
    after: float  # the median since `start`
    score: float  # (after - before) / scale


def cusum_shift(
    reference: Sequence[float], test: Sequence[float], scale: float, params: DetectionParams
) -> Shift | None:
    """The level shift in `test` against `reference`, if one qualifies at the end of `test`.

    `scale` is the floor-adjusted spread of the reference (see anomaly.scale_for)."""
    if len(reference) < params.min_history_points or len(test) < params.min_shift_points or scale <= 0:
        return None
    before = float(np.median(np.asarray(reference, dtype=float)))
    z = (np.asarray(test, dtype=float) - before) / scale
    k, h = params.cusum_drift, params.cusum_threshold
    for direction in (1, -1):
        s, start, alarm = 0.0, 0, False
        for i, zi in enumerate(direction * z):
            s = max(0.0, s + zi - k)
            if s == 0.0:  # the excursion ended: a later alarm belongs to a new one
                start, alarm = i + 1, False
            if s > h:
                alarm = True
        if not alarm or start >= len(test):
            continue
        segment = test[start:]
        after = float(np.median(np.asarray(segment, dtype=float)))
        score = (after - before) / scale
        if len(segment) >= params.min_shift_points and direction * score >= params.min_shift_score:
            return Shift(start, direction, before, after, score)
    return None
