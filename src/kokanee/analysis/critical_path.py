"""The critical path of one trace: which span the request was waiting on at every instant.

Jaeger's algorithm (jaeger-ui `TracePage/CriticalPath`), rewritten as a loop over frozen records.
Walk back from the root's end; at each span, step into the child that finished last before the
point reached, and when no child is left, give the rest back to the parent at the span's start:

      ns   0    10   20   30   40   50   60   70   80   90   100
    root   [=================================================]
    A           [==============]
    B                     [===================]
    C                                           [=======]

    path   root 0-30 | B 30-70 | root 70-75 | C 75-90 | root 90-100

From 100 the last-finishing child is C (root owns 90-100, C 75-90); back in root at 75 the latest
child ending by then is B (root 70-75, B 30-70); back at 30, A ends at 40 > 30, so it overlapped B
and is not on the path: root owns 0-30. The segments cover the root exactly, so they sum to its
duration. Before the walk, children are clipped to their parent (overflow truncated, a child
starting at or after its parent's end dropped with its subtree), and a Consumer span whose parent
is a Producer is detached: the producer does not wait for the message to be handled.
One departure from jaeger-ui: a child ending exactly where the next one starts still counts
(jaeger-ui asks for strictly earlier and hands back-to-back calls' time to the parent).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CPSpan:
    """The few fields of a span the walk needs; times in Unix ns."""

    span_id: str
    parent_span_id: str
    service: str
    name: str
    kind: str  # Server, Client, Producer, Consumer, Internal or Unspecified
    start_ns: int
    end_ns: int

    @classmethod
    def from_dict(cls, span: Mapping[str, Any]) -> CPSpan:
        """From a span as `kokanee.store.reads.traces.get_trace` returns it."""
        return cls(
            span_id=str(span["span_id"]),
            parent_span_id=str(span.get("parent_span_id") or ""),
            service=str(span.get("service_name") or ""),
            name=str(span.get("name") or ""),
            kind=str(span.get("kind") or "Unspecified"),
            start_ns=int(span["start_time_unix_nano"]),
            end_ns=int(span["end_time_unix_nano"]),
        )


def cpspans(spans: Iterable[Mapping[str, Any]]) -> list[CPSpan]:
    return [CPSpan.from_dict(s) for s in spans]


@dataclass(frozen=True, slots=True)
class Segment:
    """A contiguous stretch of the path during which `span_id` itself was the one working."""

    span_id: str
    service: str
    name: str
    start_ns: int
    end_ns: int

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass(frozen=True, slots=True)
class SpanSelfTime:
    span_id: str
    service: str
    name: str
    self_time_ns: int


@dataclass(frozen=True)
class CriticalPath:
    """Segments in time order; `spans` sums them per span, largest first; `total_ns` is their sum.

    `errors` describe what was skipped (other roots, missing parents, duplicates); the path over
    the chosen root is still complete, so a result with errors is a partial answer, not a failure.
    """

    root_span_id: str | None
    segments: tuple[Segment, ...]
    spans: tuple[SpanSelfTime, ...]
    total_ns: int
    errors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "root_span_id": self.root_span_id,
            "total_ns": self.total_ns,
            "segments": [
                {"span_id": s.span_id, "service": s.service, "name": s.name, "start_time_unix_nano": s.start_ns,
                 "end_time_unix_nano": s.end_ns, "duration_ns": s.duration_ns}
                for s in self.segments
            ],
            "spans": [
                {"span_id": s.span_id, "service": s.service, "name": s.name, "self_time_ns": s.self_time_ns}
                for s in self.spans
            ],
            "errors": list(self.errors),
        }  # fmt: skip


def critical_path(spans: Sequence[CPSpan]) -> CriticalPath:
    """The critical path under the longest root span. Never mutates `spans`; no I/O."""
    errors: list[str] = []
    by_id: dict[str, CPSpan] = {}
    for s in spans:
        if s.span_id in by_id:
            errors.append(f"duplicate span id {s.span_id}: kept the first")
        else:
            by_id[s.span_id] = s
    children: dict[str, list[CPSpan]] = defaultdict(list)
    roots: list[CPSpan] = []
    for s in by_id.values():
        parent = by_id.get(s.parent_span_id) if s.parent_span_id else None
        if parent is None:
            if s.parent_span_id:
                errors.append(f"span {s.span_id} has a missing parent {s.parent_span_id}: treated as a root")
            roots.append(s)
        elif not (s.kind == "Consumer" and parent.kind == "Producer"):
            children[parent.span_id].append(s)
    if not roots:
        errors.append("no root span found")
        return CriticalPath(None, (), (), 0, tuple(errors))
    # The longest root is the request; ties go to the earliest, then the id, so answers are stable.
    root = min(roots, key=lambda r: (-(r.end_ns - r.start_ns), r.start_ns, r.span_id))
    if len(roots) > 1:
        others = sorted(r.span_id for r in roots if r is not root)
        errors.append(f"{len(roots)} root spans; the path follows the longest, {root.span_id}, not {', '.join(others)}")
    segments = _walk(root, children, by_id)
    return CriticalPath(root.span_id, segments, _self_times(segments), sum(s.duration_ns for s in segments),
                        tuple(errors))  # fmt: skip


def _clip(root: CPSpan, children: Mapping[str, list[CPSpan]]) -> tuple[dict[str, tuple[int, int]], dict[str, str]]:
    """Each reachable span's (start, end) clipped into its parent's, and its parent; top-down so a
    grandchild is clipped to the already-clipped child. Spans outside their parent are dropped."""
    bounds = {root.span_id: (root.start_ns, max(root.start_ns, root.end_ns))}
    parents: dict[str, str] = {}
    todo = [root.span_id]
    while todo:
        pid = todo.pop()
        lo, hi = bounds[pid]
        for c in children.get(pid, ()):
            if c.span_id in bounds or c.start_ns >= hi or c.end_ns < lo:
                continue  # already seen (a cycle), or wholly after (or before) the parent
            start = max(c.start_ns, lo)
            bounds[c.span_id] = (start, max(start, min(c.end_ns, hi)))
            parents[c.span_id] = pid
            todo.append(c.span_id)
    return bounds, parents


def _walk(root: CPSpan, children: Mapping[str, list[CPSpan]], by_id: Mapping[str, CPSpan]) -> tuple[Segment, ...]:
    bounds, parents = _clip(root, children)
    # Per span, its kept children latest-ending first; on a tie the earlier start wins since it
    # covers more of the wait. `nxt` only moves forward because `until` only moves back in time,
    # so each child is entered at most once and the walk ends.
    kids: dict[str, list[str]] = defaultdict(list)
    for cid, pid in parents.items():
        kids[pid].append(cid)
    for lst in kids.values():
        lst.sort(key=lambda c: (-bounds[c][1], bounds[c][0], c))
    nxt: dict[str, int] = defaultdict(int)
    backwards: list[Segment] = []

    def take(span_id: str, lo: int, hi: int) -> None:
        if hi <= lo:
            return
        s = by_id[span_id]
        if backwards and backwards[-1].span_id == span_id and backwards[-1].start_ns == hi:
            hi = backwards.pop().end_ns  # a zero-length child split the span's stretch in two
        backwards.append(Segment(span_id, s.service, s.name, lo, hi))

    cur, until = root.span_id, bounds[root.span_id][1]
    while True:
        lst, i = kids[cur], nxt[cur]
        while i < len(lst) and bounds[lst[i]][1] > until:
            i += 1  # ends after the point reached: it overlapped the child we came back from
        nxt[cur] = i + 1 if i < len(lst) else i
        if i < len(lst):
            child = lst[i]
            take(cur, bounds[child][1], until)
            cur, until = child, bounds[child][1]
            continue
        take(cur, bounds[cur][0], until)
        if cur == root.span_id:
            break
        cur, until = parents[cur], bounds[cur][0]
    return tuple(reversed(backwards))


def _self_times(segments: Sequence[Segment]) -> tuple[SpanSelfTime, ...]:
    totals: dict[str, int] = defaultdict(int)
    first: dict[str, Segment] = {}
    for seg in segments:
        totals[seg.span_id] += seg.duration_ns
        first.setdefault(seg.span_id, seg)
    ordered = sorted(totals, key=lambda sid: (-totals[sid], first[sid].start_ns, sid))
    return tuple(SpanSelfTime(sid, first[sid].service, first[sid].name, totals[sid]) for sid in ordered)
