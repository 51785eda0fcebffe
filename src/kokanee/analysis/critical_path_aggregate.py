"""Critical paths across many traces, as Uber's CRISP does: the share of the path's time each
service and operation holds (p50, p95, mean over traces) and the service sequences that recur.

A trace's share for a service is its self time on that trace's path over the path's total. Traces
where the service is not on the path count as 0, so p50 answers "in a typical request, how much of
the wait is this service" and the means over all services sum to 1.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kokanee.analysis.critical_path import CriticalPath


@dataclass(frozen=True, slots=True)
class Share:
    """One service (`operation` None) or one operation of a service, over the traces aggregated."""

    service: str
    operation: str | None
    traces: int  # traces whose path it is on
    share_mean: float
    share_p50: float
    share_p95: float
    self_time_p50_ns: int
    self_time_p95_ns: int

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"service": self.service}
        if self.operation is not None:
            row["operation"] = self.operation
        return row | {
            "traces": self.traces,
            "share_mean": round(self.share_mean, 6),
            "share_p50": round(self.share_p50, 6),
            "share_p95": round(self.share_p95, 6),
            "self_time_p50_ns": self.self_time_p50_ns,
            "self_time_p95_ns": self.self_time_p95_ns,
        }


@dataclass(frozen=True, slots=True)
class PathSequence:
    """Services in the order the path visits them, repeats in a row collapsed: (front, pay, front)."""

    services: tuple[str, ...]
    traces: int
    share: float  # of the traces aggregated

    def to_dict(self) -> dict[str, Any]:
        return {"services": list(self.services), "traces": self.traces, "share": round(self.share, 6)}


@dataclass(frozen=True)
class Breakdown:
    traces: int  # paths aggregated (those with a positive total)
    skipped: int  # paths with nothing on them (no root, zero duration)
    services: tuple[Share, ...]
    operations: tuple[Share, ...]
    sequences: tuple[PathSequence, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "traces": self.traces,
            "skipped": self.skipped,
            "services": [s.to_dict() for s in self.services],
            "operations": [s.to_dict() for s in self.operations],
            "sequences": [s.to_dict() for s in self.sequences],
        }


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); 0 for no values. `q` in [0, 1]."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def service_sequence(path: CriticalPath) -> tuple[str, ...]:
    seq: list[str] = []
    for seg in path.segments:
        if not seq or seq[-1] != seg.service:
            seq.append(seg.service)
    return tuple(seq)


def dominant_sequences(paths: Sequence[CriticalPath], top: int = 5) -> tuple[PathSequence, ...]:
    """The `top` most frequent service sequences, most frequent first (ties: shorter, then by name)."""
    counts = Counter(service_sequence(p) for p in paths if p.total_ns > 0)
    n = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))[:top]
    return tuple(PathSequence(seq, count, count / n) for seq, count in ranked)


def aggregate(paths: Sequence[CriticalPath], top_sequences: int = 5) -> Breakdown:
    """Shares per service and per (service, operation), largest mean first, and the top sequences."""
    kept = [p for p in paths if p.total_ns > 0]
    by_service = _shares(kept, lambda service, name: (service, None))
    by_operation = _shares(kept, lambda service, name: (service, name))
    return Breakdown(len(kept), len(paths) - len(kept), by_service, by_operation,
                     dominant_sequences(kept, top_sequences))  # fmt: skip


_Key = tuple[str, str | None]


def _shares(paths: Sequence[CriticalPath], key: Callable[[str, str], _Key]) -> tuple[Share, ...]:
    # One row of self times per trace; keys missing from a trace are its zeros.
    per_trace: list[dict[_Key, int]] = []
    for p in paths:
        row: dict[_Key, int] = defaultdict(int)
        for seg in p.segments:
            row[key(seg.service, seg.name)] += seg.duration_ns
        per_trace.append(row)
    keys = {k for row in per_trace for k in row}
    out: list[Share] = []
    for k in keys:
        ns = [row.get(k, 0) for row in per_trace]
        shares = [t / p.total_ns for t, p in zip(ns, paths, strict=True)]
        out.append(
            Share(
                service=k[0],
                operation=k[1],
                traces=sum(1 for t in ns if t > 0),
                share_mean=sum(shares) / len(shares),
                share_p50=percentile(shares, 0.5),
                share_p95=percentile(shares, 0.95),
                self_time_p50_ns=round(percentile(ns, 0.5)),
                self_time_p95_ns=round(percentile(ns, 0.95)),
            )
        )
    out.sort(key=lambda s: (-s.share_mean, s.service, s.operation or ""))
    return tuple(out)
