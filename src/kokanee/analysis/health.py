"""Health of a service or an edge: healthy, degraded or critical, with a short reason.

Pure: RED numbers in, a verdict out. Error rates are judged against SLO thresholds; latency (p95)
against the node's own recent baseline (a fast service that becomes many times slower is news even
under the SLO latency, once the increase is big enough for users to notice) and against the SLO
latency.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    CRITICAL = "critical"


_RANK = {Status.HEALTHY: 0, Status.DEGRADED: 1, Status.CRITICAL: 2}


@dataclass(frozen=True)
class Slo:
    """Thresholds. Rates are fractions (0.01 = 1 %); latencies are nanoseconds.

    `min_requests`: below this many requests in the window (or its baseline) there is too little
    to judge, and the verdict is healthy with a reason saying so. `latency_min_increase_ns`: a p95
    must also grow by at least this much over its baseline to count (2 ms → 5 ms is noise).
    """

    error_rate_degraded: float = 0.01
    error_rate_critical: float = 0.05
    latency_ns: int = 500_000_000
    latency_degraded_factor: float = 2.0
    latency_critical_factor: float = 4.0
    latency_min_increase_ns: int = 50_000_000
    min_requests: int = 5


@dataclass(frozen=True)
class Red:
    """Requests, errors and p95 latency (ns; None where no latency was recorded) over a window."""

    requests: int
    errors: int
    p95_ns: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Health:
    status: Status
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"status": self.status.value, "reason": self.reason}


def classify(current: Red, baseline: Red | None = None, slo: Slo | None = None) -> Health:
    """The verdict on `current`, given the same node's `baseline` window (None: no history)."""
    slo = slo or Slo()
    if current.requests < slo.min_requests:
        return Health(Status.HEALTHY, f"{current.requests} requests: too few to judge")
    verdicts = [_errors(current, slo), _latency(current, baseline, slo)]
    found = [v for v in verdicts if v is not None]
    if not found:
        return Health(Status.HEALTHY, "within SLO")
    # The worst finding first; a second one of lower severity still helps the reader.
    found.sort(key=lambda v: -_RANK[v.status])
    return Health(found[0].status, "; ".join(v.reason for v in found))


def worst(*healths: Health) -> Health:
    """The most severe of several verdicts (ties: the first)."""
    return max(healths, key=lambda h: _RANK[h.status])


def _errors(current: Red, slo: Slo) -> Health | None:
    rate = current.error_rate
    if rate > slo.error_rate_critical:
        return Health(Status.CRITICAL, f"error rate {_pct(rate)} > {_pct(slo.error_rate_critical)} SLO")
    if rate > slo.error_rate_degraded:
        return Health(Status.DEGRADED, f"error rate {_pct(rate)} > {_pct(slo.error_rate_degraded)} SLO")
    return None


def _latency(current: Red, baseline: Red | None, slo: Slo) -> Health | None:
    p95 = current.p95_ns
    if p95 is None:
        return None
    if baseline is not None and baseline.p95_ns is not None and baseline.requests >= slo.min_requests:
        base = baseline.p95_ns
        if p95 - base >= slo.latency_min_increase_ns:
            reason = f"p95 {_ms(p95)} vs {_ms(base)} baseline"
            if p95 > slo.latency_critical_factor * base:
                return Health(Status.CRITICAL, reason)
            if p95 > slo.latency_degraded_factor * base:
                return Health(Status.DEGRADED, reason)
    if p95 > slo.latency_ns:
        return Health(Status.DEGRADED, f"p95 {_ms(p95)} > {_ms(slo.latency_ns)} SLO")
    return None


def _pct(rate: float) -> str:
    pct = rate * 100
    return f"{pct:.0f}%" if pct == int(pct) else f"{pct:.1f}%"


def _ms(ns: float) -> str:
    ms = ns / 1e6
    if ms >= 10_000:
        return f"{ms / 1000:.1f} s"
    if ms >= 10:
        return f"{ms:.0f} ms"
    return f"{ms:.1f} ms"
