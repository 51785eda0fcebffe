"""Critical-path evidence for ranked causes: how much of its requests' waiting a service holds in
the window against the baseline, and the window's requests where it holds the most.

A request's critical path (`analysis.critical_path`, Jaeger's walk) says which span it was waiting
on at every instant; a service's share is its time on the path over the path's length, 0 when it
is in the trace but off the path. A cause whose mean share over the requests it takes part in rose
by at least `MIN_RISE` (and by half) is where those requests now wait: the evidence the user opens
first. It explains a ranking and does not change it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from kokanee.analysis.critical_path import CPSpan, critical_path
from kokanee.analysis.rca.cause import Cause, Evidence
from kokanee.analysis.rca.span_reads import RSpan
from kokanee.analysis.rca.trace_scorer import EXAMPLES

MIN_RISE = 0.1  # of the path's length, in the mean share
MIN_TRACES = 5  # requests in each window with the service in them
MAX_TRACES = 400  # per window: a walk is Python, and 400 paths say enough


@dataclass(frozen=True, slots=True)
class _Share:
    trace_id: str
    on_path_ns: int
    total_ns: int


def _shares(spans: Iterable[RSpan], services: Collection[str]) -> dict[str, list[_Share]]:
    """Per service of `services`: its time on each sampled trace's critical path."""
    by_trace: dict[str, list[RSpan]] = defaultdict(list)
    for s in spans:
        by_trace[s.trace_id].append(s)
    involved = [t for t, ss in by_trace.items() if any(s.service in services for s in ss)]
    involved.sort()  # trace ids are random: the first ones are a sample, the same on every call
    out: dict[str, list[_Share]] = defaultdict(list)
    for trace_id in involved[:MAX_TRACES]:
        trace = by_trace[trace_id]
        path = critical_path(
            [
                CPSpan(s.span_id, s.parent_id, s.service, s.name, s.kind, s.start_ns, s.start_ns + s.duration_ns)
                for s in trace
            ]
        )
        if path.total_ns <= 0:
            continue
        on_path: dict[str, int] = defaultdict(int)
        for seg in path.segments:
            on_path[seg.service] += seg.duration_ns
        for service in {s.service for s in trace} & set(services):
            out[service].append(_Share(trace_id, on_path.get(service, 0), path.total_ns))
    return out


def _mean(shares: Sequence[_Share]) -> float:
    return sum(s.on_path_ns / s.total_ns for s in shares) / len(shares)


def add_path_shifts(causes: Sequence[Cause], base: Iterable[RSpan], win: Iterable[RSpan]) -> None:
    """Appends a `critical_path` evidence to each cause whose share of its requests' critical path
    rose, with the window's requests where it holds the most time as `trace_ids`."""
    services = {c.service for c in causes}
    if not services:
        return
    before, now = _shares(base, services), _shares(win, services)
    for cause in causes:
        b, w = before.get(cause.service, []), now.get(cause.service, [])
        if len(b) < MIN_TRACES or len(w) < MIN_TRACES:
            continue
        mb, mw = _mean(b), _mean(w)
        if mw - mb < MIN_RISE or mw < 1.5 * mb:
            continue
        top = sorted(w, key=lambda s: (-s.on_path_ns, s.trace_id))[:EXAMPLES]
        evidence: Evidence = {
            "kind": "critical_path",
            "detail": f"holds {mw:.0%} of its requests' critical path against {mb:.0%} in the baseline "
            f"({len(w)} and {len(b)} requests): they now wait on it",
            "share": round(mw, 4),
            "baseline_share": round(mb, 4),
            "trace_ids": [s.trace_id for s in top],
        }
        cause.evidence.append(evidence)
