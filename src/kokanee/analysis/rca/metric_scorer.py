"""BARO-style scoring of metric series: how far the window strays from the baseline, in units of
the baseline's robust spread (Pham et al., "BARO", FSE 2024: median and IQR, as scikit-learn's
RobustScaler).

Three additions make it hold up with many services and coarse series:

- each series is judged against its own worst normal moment: the score is the window's z over
  the largest z the baseline itself reached (at least `metric_z_min`), so a series that spikes in
  normal operation (tail latencies, idle services' rare requests) needs a bigger spike to count;
- and against the peaks of its recurring excursions in its recent history (the hours before the
  window): a periodic job's spikes, minutes long every hour or two, are part of the series'
  normal although the baseline windows, picked clean and near the window, missed them. Recurring
  is `metric_history_repeats` separate excursions (runs of points above the noise level,
  `metric_z_min`) reaching a level: a pattern, where an earlier fault or two of the same service
  is not one and does not hide a repeat;
- a series that several services report with the very same values in the window describes what
  they share (the node they run on), not any one of them, and is left out.

Pure: it takes series as arrays, so the store path (`metric_reads`) and a benchmark's files feed
the same code. A service's score is the largest score over its series. A change must hold for
two points of the window (its second-highest point is what is compared).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from kokanee.analysis.rca.cause import KindScores
from kokanee.analysis.rca.params import RcaParams


@dataclass(frozen=True)
class SeriesPair:
    """One metric series of a service: values in the baseline and in the window (time order)."""

    service: str
    name: str  # metric name plus what tells series apart (pod, attributes)
    baseline: np.ndarray
    window: np.ndarray
    metric: str = ""  # the bare metric name (series of one metric are compared across services)
    history: np.ndarray = field(default_factory=lambda: np.empty(0))  # the hours before the window


def robust_z(
    baseline: np.ndarray, window: np.ndarray, params: RcaParams, history: np.ndarray | None = None
) -> tuple[float, float, float, float]:
    """(z, the baseline's own largest z, median, window value): z = (w - median) / scale, w the
    window's second-highest point. The largest normal z is also at least the z that
    `metric_history_repeats` of the history's excursions reached (`_recurring`).

    One-sided, as BARO: faults push resource use, latency and errors up; what falls is mostly a
    symptom (less traffic downstream), and other detectors watch for what vanishes. The scale is
    the baseline's IQR (its standard deviation when the IQR is 0), but never less than
    `metric_flat_scale` of the median's size: a series that sat flat in the baseline (memory in
    bytes, a pool size) would otherwise score thousands for moving by a page.
    """
    med = float(np.median(baseline))
    q75, q25 = np.percentile(baseline, [75, 25])
    scale = float(q75 - q25)
    if scale <= 0:
        scale = float(np.std(baseline))
    scale = max(scale, params.metric_flat_scale * max(1.0, abs(med)))
    # The second-highest point: a change must hold for two points to count, so one scrape's
    # spike (coarse latency quantiles jump to hundreds of seconds now and then) does not.
    top = float(np.partition(window, -2)[-2]) if len(window) >= 2 else float(window[0])
    z = max(0.0, (top - med) / scale)
    normal = float(np.max(baseline))
    if history is not None and len(history):
        normal = max(normal, _recurring(history, med + params.metric_z_min * scale, params.metric_history_repeats))
    z_normal = max(0.0, (normal - med) / scale)
    return z, z_normal, med, top


def _recurring(history: np.ndarray, noise: float, repeats: int) -> float:
    """The level `repeats` separate excursions of `history` above `noise` reached (the
    `repeats`-th highest of their peaks), or -inf with fewer excursions."""
    above = history > noise
    if not above.any():
        return float("-inf")
    # Runs of consecutive points above the noise level, each one excursion.
    edges = np.flatnonzero(np.diff(np.concatenate(([0], above.astype(np.int8), [0]))))
    runs = zip(edges[::2], edges[1::2], strict=True)
    peaks = sorted((float(np.max(history[lo:hi])) for lo, hi in runs), reverse=True)
    return peaks[repeats - 1] if len(peaks) >= repeats else float("-inf")


def _shared(pairs: list[SeriesPair]) -> set[int]:
    """Indexes of series whose window values another service reports identically (a host's)."""
    seen: dict[tuple[str, bytes], set[str]] = {}
    keys = []
    for p in pairs:
        key = (p.metric or p.name, np.round(p.window, 9).tobytes())
        keys.append(key)
        seen.setdefault(key, set()).add(p.service)
    return {i for i, key in enumerate(keys) if len(seen[key]) > 1 and np.ptp(pairs[i].window) > 0}


def score_series(pairs: Iterable[SeriesPair], params: RcaParams, kind: str = "metric") -> KindScores:
    """Per service, the largest score z / max(baseline's own largest z, metric_z_min) over its
    series; evidence lists the series scoring above 1, largest first (at most 5 per service)."""
    out = KindScores(kind)
    kept = []
    for pair in pairs:
        base = pair.baseline[np.isfinite(pair.baseline)]
        win = pair.window[np.isfinite(pair.window)]
        if len(base) and len(win):
            history = pair.history[np.isfinite(pair.history)]
            kept.append(SeriesPair(pair.service, pair.name, base, win, pair.metric, history))
    shared = _shared(kept)
    found: dict[str, list[tuple[float, float, SeriesPair, float, float]]] = {}
    for i, pair in enumerate(kept):
        if i in shared:
            continue
        z, z_normal, med, value = robust_z(pair.baseline, pair.window, params, pair.history)
        score = z / max(z_normal, params.metric_z_min)
        found.setdefault(pair.service, []).append((score, z, pair, med, value))
    for service, rows in found.items():
        rows.sort(key=lambda r: -r[0])
        out.scores[service] = rows[0][0]
        for score, z, pair, med, value in rows[:5]:
            if score < 1.0:
                break
            out.evidence.setdefault(service, []).append(
                {
                    "kind": "series",
                    "series": pair.name,
                    "detail": f"{pair.name} reached {value:.4g} against a baseline median of {med:.4g} "
                    f"(robust z {z:.1f}, {score:.1f}x its largest in the baseline)",
                    "z": round(z, 3),
                    "score": round(score, 3),
                    "baseline_median": med,
                    "window_value": value,
                }
            )
    return out
