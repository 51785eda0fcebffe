"""BARO-style scoring of metric series: how far the window strays from the baseline, in units of
the baseline's robust spread (Pham et al., "BARO", FSE 2024: median and IQR, as scikit-learn's
RobustScaler).

Two additions make it hold up with many services and coarse series:

- each series is judged against its own worst normal moment: the score is the window's z over
  the largest z the baseline itself reached (at least `metric_z_min`), so a series that spikes in
  normal operation (tail latencies, idle services' rare requests) needs a bigger spike to count;
- a series that several services report with the very same values in the window describes what
  they share (the node they run on), not any one of them, and is left out.

Pure: it takes series as arrays, so the store path (`metric_reads`) and a benchmark's files feed
the same code. A service's score is the largest score over its series. A change must hold for
two points of the window (its second-highest point is what is compared).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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


def robust_z(baseline: np.ndarray, window: np.ndarray, params: RcaParams) -> tuple[float, float, float, float]:
    """(z, the baseline's own largest z, median, window value): z = (w - median) / scale, w the
    window's second-highest point.

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
    z_normal = max(0.0, float((np.max(baseline) - med) / scale))
    return z, z_normal, med, top


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
            kept.append(SeriesPair(pair.service, pair.name, base, win, pair.metric))
    shared = _shared(kept)
    found: dict[str, list[tuple[float, float, SeriesPair, float, float]]] = {}
    for i, pair in enumerate(kept):
        if i in shared:
            continue
        z, z_normal, med, value = robust_z(pair.baseline, pair.window, params)
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
