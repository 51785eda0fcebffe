"""One feature vector per trace, for the learned detector (`analysis.autoencoder`).

Per trace: for each known service, its own time on the trace (self time summed, log ms), its span
count and whether any of its spans failed; for each known call (caller service → callee service)
how often it was made; and the trace's shape: spans, depth, distinct services, duration, error.
Services and calls never seen in training land in two counters (`other_services`,
`other_calls`): a trace that takes a path the model never learnt stands out there.

Counts and times are log1p'd: a trace with 40 spans is not 40 times as unusual as one with 1.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from kokanee.analysis.rca.span_reads import RSpan

SHAPE = ("shape:spans", "shape:depth", "shape:services", "shape:duration_ms", "shape:error")
OTHERS = ("other_services", "other_calls")


@dataclass(frozen=True)
class TraceSummary:
    trace_id: str
    self_ms: dict[str, float]
    spans: Counter[str]
    errors: set[str]
    calls: Counter[tuple[str, str]]
    depth: int
    duration_ms: float
    root_service: str


def summarise(trace_id: str, spans: Sequence[RSpan]) -> TraceSummary:
    by_id = {s.span_id: s for s in spans}
    children: dict[str, list[RSpan]] = defaultdict(list)
    for s in spans:
        if s.parent_id in by_id:
            children[s.parent_id].append(s)
    self_ms: dict[str, float] = defaultdict(float)
    calls: Counter[tuple[str, str]] = Counter()
    for s in spans:
        covered = _covered(s, children.get(s.span_id, []))
        self_ms[s.service] += max(0, s.duration_ns - covered) / 1e6
        for k in children.get(s.span_id, []):
            if k.service != s.service:
                calls[(s.service, k.service)] += 1
    roots = [s for s in spans if s.parent_id not in by_id]
    root = max(roots, key=lambda s: s.duration_ns) if roots else spans[0]
    start = min(s.start_ns for s in spans)
    end = max(s.start_ns + s.duration_ns for s in spans)
    return TraceSummary(
        trace_id,
        dict(self_ms),
        Counter(s.service for s in spans),
        {s.service for s in spans if s.error},
        calls,
        _depth(root, children),
        (end - start) / 1e6,
        root.service,
    )


def _covered(span: RSpan, kids: list[RSpan]) -> int:
    lo, hi = span.start_ns, span.start_ns + span.duration_ns
    total, cur_lo, cur_hi = 0, -1, -1
    for k in sorted(kids, key=lambda k: k.start_ns):
        a, b = max(k.start_ns, lo), min(k.start_ns + k.duration_ns, hi)
        if b <= a:
            continue
        if a > cur_hi:
            total += max(0, cur_hi - cur_lo)
            cur_lo, cur_hi = a, b
        else:
            cur_hi = max(cur_hi, b)
    return total + max(0, cur_hi - cur_lo)


def _depth(root: RSpan, children: dict[str, list[RSpan]]) -> int:
    depth, level = 0, [root]
    seen = {root.span_id}
    while level:
        depth += 1
        level = [k for s in level for k in children.get(s.span_id, []) if k.span_id not in seen]
        seen.update(k.span_id for k in level)
    return depth


def group_traces(spans: Iterable[RSpan]) -> dict[str, list[RSpan]]:
    traces: dict[str, list[RSpan]] = defaultdict(list)
    for s in spans:
        traces[s.trace_id].append(s)
    return traces


def vocabulary(summaries: Sequence[TraceSummary]) -> list[str]:
    """Feature names: the shape, then per service seen and per call seen in `summaries`."""
    services = sorted({s for t in summaries for s in t.spans})
    calls = sorted({c for t in summaries for c in t.calls})
    names = [*SHAPE, *OTHERS]
    for service in services:
        names += [f"self_ms:{service}", f"spans:{service}", f"error:{service}"]
    names += [f"calls:{a}>{b}" for a, b in calls]
    return names


def vectorise(summaries: Sequence[TraceSummary], features: Sequence[str]) -> np.ndarray:
    index = {name: i for i, name in enumerate(features)}
    out = np.zeros((len(summaries), len(features)), dtype=np.float64)
    for row, t in enumerate(summaries):
        v = out[row]
        v[index["shape:spans"]] = math.log1p(sum(t.spans.values()))
        v[index["shape:depth"]] = t.depth
        v[index["shape:services"]] = len(t.spans)
        v[index["shape:duration_ms"]] = math.log1p(t.duration_ms)
        v[index["shape:error"]] = 1.0 if t.errors else 0.0
        for service, n in t.spans.items():
            i = index.get(f"spans:{service}")
            if i is None:
                v[index["other_services"]] += 1
                continue
            v[i] = math.log1p(n)
            v[index[f"self_ms:{service}"]] = math.log1p(t.self_ms.get(service, 0.0))
            v[index[f"error:{service}"]] = 1.0 if service in t.errors else 0.0
        for (a, b), n in t.calls.items():
            i = index.get(f"calls:{a}>{b}")
            if i is None:
                v[index["other_calls"]] += n
            else:
                v[i] = math.log1p(n)
    return out
