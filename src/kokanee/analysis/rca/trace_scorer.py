"""Trace detectors: what each service did differently in the window's spans than in the baseline's.

- latency: a service's own time per operation (`self time`: the span's duration minus the time
  its children covered, so a slow callee does not make its caller look slow), the
  `self_time_quantile` compared as (q_window + 1 ms) / (q_baseline + 1 ms); the 1 ms keeps
  sub-millisecond spans from scoring on jitter. A service's operations are pooled
  (`pooled_shift`) and the shift counts when more window requests (traces) exceed the baseline's
  quantile than chance allows (binomial p < `latency_p_max`).
- edge: the time a remote call spends outside both services (a client span's self time when its
  child is in another service: network, queues, connection pools), blamed on the callee: a network
  delay into a service shows there and not in the service's own spans. Except when the callee has
  other callers (enough spans each) whose calls did not slow: then the wait is on the one slow
  caller's side (its connection pool, its threads, its CPU) and the caller is blamed.
- error: spans with an error status none of whose children failed, i.e. errors that start at the
  service, against the count its baseline error rate predicts (Poisson z).
- structure: calls that vanished or appeared. For each parent operation, the calls per parent span
  to each child operation; a call made at least `vanish_min_count` times as often as expected that
  now falls below `vanish_ratio` of it (or a new call made `surge_ratio` times more often than the
  rule of three allows for a call never seen in the baseline) is blamed on the parent's
  service, the one that changed what it does, except when the parent is a client span whose
  calls now go unanswered (client spans with no child): then the callee is blamed.

With several baseline windows (a known-good stretch and the minutes just before), latency and
edge shifts must also hold against each window alone that has enough spans to judge, and score by
the smallest: a database that slows as its tables grow through the day is as slow in the minutes
before the window as in it, and that is drift, not the fault. Likewise a vanished call must be
gone against each window that could have shown it (`_vanished_from_each`).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import numpy as np

from kokanee.analysis.rca.cause import KindScores
from kokanee.analysis.rca.params import RcaParams
from kokanee.analysis.rca.span_reads import RSpan

_FLOOR_NS = 1_000_000
EXAMPLES = 3  # example traces per piece of evidence
_CALLERS = ("Client", "Producer")

Op = tuple[str, str]  # (service, operation)
Timed = tuple[int, int]  # (ns, the hash of the span's trace id)
Example = tuple[int, str]  # (span start ns, trace id)


@dataclass
class SpanStats:
    spans: Counter[str] = field(default_factory=Counter)
    self_times: dict[Op, list[Timed]] = field(default_factory=lambda: defaultdict(list))
    edge_times: dict[tuple[str, str], list[Timed]] = field(default_factory=lambda: defaultdict(list))
    # Calls answered by a server span that did not fail, yet failed at the caller: the response was
    # lost or rewritten between them (a proxy, the network).
    edge_failures: Counter[tuple[str, str]] = field(default_factory=Counter)
    # Calls that got no answer at all (no server span) to the service the client span names.
    unanswered_failures: Counter[tuple[str, str]] = field(default_factory=Counter)
    error_origins: Counter[str] = field(default_factory=Counter)
    parents: Counter[Op] = field(default_factory=Counter)
    parent_kind: dict[Op, str] = field(default_factory=dict)
    pairs: Counter[tuple[Op, Op]] = field(default_factory=Counter)
    unanswered: Counter[Op] = field(default_factory=Counter)  # client spans with no child span
    calls: set[tuple[str, str]] = field(default_factory=set)
    traces: int = 0
    # Example requests for the evidence: the latest few traces an error started in, an operation
    # ran in, a call was made in, as (span start, trace id); `trace_ids` maps `Timed` hashes back.
    trace_ids: dict[int, str] = field(default_factory=dict)
    error_traces: dict[str, list[Example]] = field(default_factory=lambda: defaultdict(list))
    parent_traces: dict[Op, list[Example]] = field(default_factory=lambda: defaultdict(list))
    pair_traces: dict[tuple[Op, Op], list[Example]] = field(default_factory=lambda: defaultdict(list))

    def latest(self, op: Op) -> list[str]:
        """The latest traces `op` ran in."""
        return _ids(self.parent_traces.get(op, []))

    def slowest(self, times: Sequence[Timed]) -> list[str]:
        """The trace ids of the slowest `times`, distinct, at most `EXAMPLES`."""
        ids = [self.trace_ids[trace] for _, trace in sorted(times, reverse=True)[: 4 * EXAMPLES]]
        return list(dict.fromkeys(ids))[:EXAMPLES]


def _covered(lo: int, hi: int, intervals: list[tuple[int, int]]) -> int:
    """Length of the union of `intervals` clipped to [lo, hi)."""
    total, cur_lo, cur_hi = 0, None, None
    for a, b in sorted(intervals):
        a, b = max(a, lo), min(b, hi)
        if b <= a:
            continue
        if cur_hi is None or a > cur_hi:
            if cur_hi is not None and cur_lo is not None:
                total += cur_hi - cur_lo
            cur_lo, cur_hi = a, b
        else:
            cur_hi = max(cur_hi, b)
    if cur_hi is not None and cur_lo is not None:
        total += cur_hi - cur_lo
    return total


def span_stats(spans: Sequence[RSpan]) -> SpanStats:
    stats = SpanStats()
    by_id = {s.span_id: s for s in spans}
    services = {s.service for s in spans}
    children: dict[str, list[RSpan]] = defaultdict(list)
    for s in spans:
        if s.parent_id and s.parent_id in by_id:
            children[s.parent_id].append(s)
    for s in spans:
        stats.spans[s.service] += 1
        kids = children.get(s.span_id, [])
        end = s.start_ns + s.duration_ns
        own = s.duration_ns - _covered(s.start_ns, end, [(k.start_ns, k.start_ns + k.duration_ns) for k in kids])
        remote = [k for k in kids if k.service != s.service]
        for k in remote:
            stats.calls.add((s.service, k.service))
        trace = hash(s.trace_id)
        stats.trace_ids[trace] = s.trace_id
        if s.kind in _CALLERS and remote:
            for callee in {k.service for k in remote}:
                stats.edge_times[(s.service, callee)].append((own, trace))
                if s.error and not any(k.error for k in remote):
                    stats.edge_failures[(s.service, callee)] += 1
        else:
            stats.self_times[(s.service, s.name)].append((own, trace))
        # A call refused or timed out before any server span: the edge to the service it names.
        lost = s.kind in _CALLERS and not kids and s.error and s.peer in services and s.peer != s.service
        if lost:
            stats.unanswered_failures[(s.service, s.peer)] += 1
        if s.error and not any(k.error for k in kids) and not (s.kind in _CALLERS and remote) and not lost:
            stats.error_origins[s.service] += 1
            _keep(stats.error_traces[s.service], (s.start_ns, s.trace_id))
        op = (s.service, s.name)
        stats.parents[op] += 1
        stats.parent_kind.setdefault(op, s.kind)
        _keep(stats.parent_traces[op], (s.start_ns, s.trace_id))
        for k in kids:
            pair = (op, (k.service, k.name))
            stats.pairs[pair] += 1
            _keep(stats.pair_traces[pair], (s.start_ns, s.trace_id))
        if s.kind in _CALLERS and not kids:
            stats.unanswered[op] += 1
    stats.traces = len(stats.trace_ids)
    return stats


def merged(parts: Sequence[SpanStats]) -> SpanStats:
    """The stats of several windows' spans together, from each window's own (span_stats is the
    ranking's costliest step, and the baseline windows are also judged alone): counts add, times
    pool, the latest examples are kept."""
    out = SpanStats()
    for part in parts:
        out.spans.update(part.spans)
        out.error_origins.update(part.error_origins)
        out.edge_failures.update(part.edge_failures)
        out.unanswered_failures.update(part.unanswered_failures)
        out.parents.update(part.parents)
        out.pairs.update(part.pairs)
        out.unanswered.update(part.unanswered)
        out.calls |= part.calls
        out.trace_ids.update(part.trace_ids)
        for op, kind in part.parent_kind.items():
            out.parent_kind.setdefault(op, kind)
        for op, times in part.self_times.items():
            out.self_times[op].extend(times)
        for edge, times in part.edge_times.items():
            out.edge_times[edge].extend(times)
        for service, examples in part.error_traces.items():
            for example in examples:
                _keep(out.error_traces[service], example)
        for op, examples in part.parent_traces.items():
            for example in examples:
                _keep(out.parent_traces[op], example)
        for pair, examples in part.pair_traces.items():
            for example in examples:
                _keep(out.pair_traces[pair], example)
    out.traces = len(out.trace_ids)
    return out


def _keep(examples: list[Example], example: Example) -> None:
    """Keeps the latest `EXAMPLES` traces, whatever order the spans come in."""
    if any(trace == example[1] for _, trace in examples):
        return
    examples.append(example)
    if len(examples) > EXAMPLES:
        examples.sort(reverse=True)
        del examples[EXAMPLES:]


def _ids(examples: Sequence[Example]) -> list[str]:
    return [trace for _, trace in sorted(examples, reverse=True)]


def _ratio(base: list[Timed], win: list[Timed], q: float) -> tuple[float, float, float]:
    qb = float(np.quantile([t for t, _ in base], q))
    qw = float(np.quantile([t for t, _ in win], q))
    return (qw + _FLOOR_NS) / (qb + _FLOOR_NS), qb, qw


@dataclass(frozen=True)
class Shift:
    ratio: float  # the window's pooled quantile over the baseline's
    p: float  # binomial tail: this many window traces above the baseline's quantile by chance
    key: Any  # the group that shifted most (its own quantile ratio)
    key_ratio: float
    key_base_ns: float
    key_win_ns: float


def pooled_shift(groups: Mapping[Any, tuple[list[Timed], list[Timed]]], q: float, min_spans: int) -> Shift | None:
    """Whether a service's times moved up, pooling its operations (or its callers' edges).

    Each time is divided by its group's baseline median (plus 1 ms), so operations of different
    sizes pool; the shift is the window's pooled q-quantile over the baseline's. Whether it is
    chance is judged per request: a trace counts once, by its slowest such time, since the spans of
    one request are not independent draws (a request stuck on one lock is slow in every query it
    makes). Under no change, a window trace exceeds the baseline traces' q-quantile with
    probability 1 - q; the binomial tail of the exceedances counted is the p-value. This catches
    what a median test misses: CPU throttling slows a share of requests a hundredfold and leaves
    the rest alone.
    """
    base_x: list[float] = []
    win_x: list[float] = []
    base_slowest: dict[int, float] = {}
    win_slowest: dict[int, float] = {}
    best: tuple[float, Any, float, float] | None = None
    for key, (base, win) in groups.items():
        if len(base) < min_spans or len(win) < 1:
            continue
        med = float(np.median([t for t, _ in base])) + _FLOOR_NS
        for times, xs, slowest in ((base, base_x, base_slowest), (win, win_x, win_slowest)):
            for t, trace in times:
                x = (t + _FLOOR_NS) / med
                xs.append(x)
                slowest[trace] = max(slowest.get(trace, 0.0), x)
        if len(win) >= min_spans:
            r, qb, qw = _ratio(base, win, q)
            if best is None or r > best[0]:
                best = (r, key, qb, qw)
    if len(base_slowest) < min_spans or len(win_slowest) < min_spans or best is None:
        return None
    threshold = float(np.quantile(list(base_slowest.values()), q))
    above = int(sum(1 for x in win_slowest.values() if x > threshold))
    from scipy.stats import binom  # scipy.stats takes seconds to import: not at server start

    p = float(binom.sf(above - 1, len(win_slowest), 1.0 - q))
    ratio = float(np.quantile(win_x, q)) / float(np.quantile(base_x, q))
    return Shift(ratio, p, best[1], best[0], best[2], best[3])


def log2_ratio(observed: float, expected: float) -> float:
    return math.log2((observed + 1.0) / (expected + 1.0))


def poisson_z(observed: float, expected: float) -> float:
    return (observed - expected) / math.sqrt(expected + 1.0)


def _shifted(shift: Shift | None, params: RcaParams) -> TypeGuard[Shift]:
    return shift is not None and shift.p < params.latency_p_max and shift.ratio >= params.latency_ratio_min


def _least_ratio(
    shift: Shift,
    groups: Mapping[Any, tuple[list[Timed], list[Timed]]],
    alone: Sequence[Mapping[Any, list[Timed]]],
    params: RcaParams,
) -> float | None:
    """The shift's ratio, lowered to the smallest against any one baseline window (`alone`: each
    window's times per group) that holds enough spans to judge; None when that falls under
    `latency_ratio_min`, the change being already there in that window (a drift through the day
    against a distant reference). Only the ratio is compared: a minute's few spans rarely pass
    the binomial test, which the pooled shift has."""
    ratio = shift.ratio
    for times in alone:
        pairs = {key: (times.get(key, []), win) for key, (_, win) in groups.items()}
        s = pooled_shift(pairs, params.self_time_quantile, params.min_spans)
        if s is not None:
            ratio = min(ratio, s.ratio)
    return ratio if ratio >= params.latency_ratio_min else None


def _median_shift(
    groups: Mapping[Any, tuple[list[Timed], list[Timed]]],
    alone: Sequence[Mapping[Any, list[Timed]]],
    params: RcaParams,
) -> Shift | None:
    """The shift against each baseline window alone, the median one (by ratio); None when fewer
    than `robust_baselines_min` windows hold enough spans to judge."""
    shifts = []
    for times in alone:
        pairs = {key: (times.get(key, []), win) for key, (_, win) in groups.items()}
        s = pooled_shift(pairs, params.self_time_quantile, params.min_spans)
        if s is not None:
            shifts.append(s)
    if len(shifts) < params.robust_baselines_min:
        return None
    shifts.sort(key=lambda s: s.ratio)
    return shifts[(len(shifts) - 1) // 2]


def _lasting_shift(
    groups: Mapping[Any, tuple[list[Timed], list[Timed]]],
    alone: Sequence[Mapping[Any, list[Timed]]],
    params: RcaParams,
) -> tuple[Shift, float] | None:
    """A shift of `groups` that holds against the baseline, or None.

    With one or two baseline windows (a reference stretch and the minutes before) the pooled shift
    must also hold against each window alone. With `robust_baselines_min` or more (windows kokanee
    picked, several), the shift against each is taken and the median one judged: one window that
    held an earlier fault of the same service (its repeat then looks like no change), or an odd
    spike, is outvoted by the others."""
    robust = _median_shift(groups, alone, params) if len(alone) >= params.robust_baselines_min else None
    if robust is not None:
        return (robust, robust.ratio) if _shifted(robust, params) else None
    shift = pooled_shift(groups, params.self_time_quantile, params.min_spans)
    if not _shifted(shift, params):
        return None
    ratio = _least_ratio(shift, groups, alone, params)
    return None if ratio is None else (shift, ratio)


def score_traces(
    base: SpanStats,
    win: SpanStats,
    base_s: float,
    win_s: float,
    params: RcaParams,
    parts: Sequence[SpanStats] = (),
) -> list[KindScores]:
    """`parts`: the baseline windows' stats one by one, when the baseline is several windows."""
    latency, edge, error, structure = (KindScores(k) for k in ("latency", "network", "error", "structure"))
    q = params.self_time_quantile
    own: dict[str, dict[Any, tuple[list[Timed], list[Timed]]]] = defaultdict(dict)
    for op, times in win.self_times.items():
        own[op[0]][op[1]] = (base.self_times.get(op, []), times)
    for service, groups in own.items():
        alone = [{op: part.self_times.get((service, op), []) for op in groups} for part in parts]
        if (found := _lasting_shift(groups, alone, params)) is None:
            continue
        shift, ratio = found
        latency.add(service, ratio - 1.0, {
            "kind": "trace", "signal": "self_time", "operation": shift.key,
            "detail": f"own time p{round(q * 100)} {shift.ratio:.1f}x the baseline's over its operations "
                      f"(p={shift.p:.1g}); most in {shift.key}: {shift.key_win_ns / 1e6:.1f} ms against "
                      f"{shift.key_base_ns / 1e6:.1f} ms",
            "ratio": round(shift.ratio, 3), "p": shift.p,
            "trace_ids": win.slowest(win.self_times.get((service, shift.key), [])),
        }, operation=str(shift.key))  # fmt: skip
    score_network(base, win, parts, params, edge)
    for service, observed in win.error_origins.items():
        rate = base.error_origins.get(service, 0) / max(1, base.spans.get(service, 0))
        expected = rate * win.spans[service]
        z = poisson_z(observed, expected)
        if z >= params.metric_z_min:
            error.add(service, z, {
                "kind": "trace", "signal": "error_origin",
                "detail": f"{observed} errors start here (no failing child) against {expected:.1f} expected",
                "observed": observed, "expected": round(expected, 3), "z": round(z, 3),
                "trace_ids": _ids(win.error_traces.get(service, [])),
            })  # fmt: skip
    _structure(base, win, params, structure, parts)
    return [latency, edge, error, structure]


@dataclass(frozen=True)
class EdgeChange:
    caller: str
    callee: str
    effect: float  # in units of the "just unusual" level: (ratio - 1) / (latency_ratio_min - 1), or z / metric_z_min
    detail: str
    trace_ids: list[str]


def edge_changes(
    base: SpanStats, win: SpanStats, parts: Sequence[SpanStats], params: RcaParams
) -> tuple[list[EdgeChange], dict[str, int]]:
    """Each remote call edge (caller, callee) judged on its time outside both services and on its
    failures that the callee's own span does not show; returns the edges that changed, and per
    service how many of its edges (either direction) had enough calls to judge."""
    q = params.self_time_quantile
    judged: dict[str, int] = defaultdict(int)
    changed: list[EdgeChange] = []
    for (caller, callee), times in win.edge_times.items():
        base_times = base.edge_times.get((caller, callee), [])
        if len(base_times) < params.min_spans or len(times) < params.min_spans:
            continue
        judged[caller] += 1
        judged[callee] += 1
        groups = {caller: (base_times, times)}
        alone = [{caller: part.edge_times.get((caller, callee), [])} for part in parts]
        effect, detail, ids = 0.0, "", []
        if (found := _lasting_shift(groups, alone, params)) is not None:
            shift, ratio = found
            effect = (ratio - 1.0) / (params.latency_ratio_min - 1.0)
            detail = (
                f"calls from {caller} into {callee} spend {shift.ratio:.1f}x the baseline's p{round(q * 100)} outside "
                f"both services ({shift.key_win_ns / 1e6:.1f} ms against {shift.key_base_ns / 1e6:.1f} ms, "
                f"p={shift.p:.1g})"
            )
            ids = win.slowest(times)
        rate = (base.edge_failures.get((caller, callee), 0) + base.unanswered_failures.get((caller, callee), 0)) / len(
            base_times
        )
        observed = win.edge_failures.get((caller, callee), 0) + win.unanswered_failures.get((caller, callee), 0)
        z = poisson_z(observed, rate * len(times))
        if z >= params.metric_z_min and z / params.metric_z_min > effect:
            effect = z / params.metric_z_min
            detail = (
                f"{observed} calls from {caller} into {callee} failed that {callee} answered without error or "
                f"never received ({rate * len(times):.1f} expected of {len(times)}): lost, refused or rewritten "
                "between them"
            )
            ids = win.slowest(times)
        if effect > 0:
            changed.append(EdgeChange(caller, callee, effect, detail, ids))
    return changed, dict(judged)


def score_network(
    base: SpanStats, win: SpanStats, parts: Sequence[SpanStats], params: RcaParams, out: KindScores
) -> None:
    """Network and connection faults, judged on the whole set of changed edges.

    A delay or loss injected on a pod (netem on its interface) hits every packet leaving it: its
    callers' calls into it come back late, and its own calls out leave late. Blaming the callee of
    each slow edge would blame a neighbour for the calls the faulty pod makes. Instead each service
    explains the changed edges it is an end of, in either direction: its score is the sum of their
    effects times the share of its judged edges that changed (a pod with a fault slows all of
    them; a neighbour has other edges that did not change), and each edge counts only for the end
    that explains more of the whole set. A single slow caller of a healthy
    callee that others call without delay is thus the caller's (its threads, pool or CPU), and a
    service all of whose callers and callees see slow calls is the service's network.
    """
    changed, judged = edge_changes(base, win, parts, params)
    touching: dict[str, list[EdgeChange]] = defaultdict(list)
    for e in changed:
        touching[e.caller].append(e)
        touching[e.callee].append(e)

    def explains(service: str, edges: list[EdgeChange]) -> float:
        return (
            len(touching[service]) / max(judged.get(service, 0), len(touching[service])) * sum(e.effect for e in edges)
        )

    # Each changed edge is explained once: by the end that explains the more of the whole set.
    best = {s: explains(s, edges) for s, edges in touching.items()}
    owned: dict[str, list[EdgeChange]] = defaultdict(list)
    for e in changed:
        for end in (e.caller, e.callee):
            if best[end] >= max(best[e.caller], best[e.callee]):
                owned[end].append(e)
    for service, edges in owned.items():
        raw = explains(service, edges)
        callers = {e.caller for e in edges if e.callee == service}
        callees = {e.callee for e in edges if e.caller == service}
        if callers and callees:
            where = f"both ways: calls into {service} and {service}'s own calls out changed: {service}'s network"
        elif callers:
            where = f"network or connection delay into {service}"
        else:
            where = f"the wait is on {service}'s side (its connections, threads or CPU)"
        for e in sorted(edges, key=lambda e: -e.effect)[:5]:
            out.add(service, raw, {
                "kind": "edge", "caller": e.caller, "callee": e.callee,
                "detail": f"{e.detail}; {len(edges)} of the {judged.get(service, len(edges))} edges of {service} "
                          f"changed: {where}",
                "effect": round(e.effect, 3), "trace_ids": e.trace_ids,
            })  # fmt: skip


def _vanished_from_each(
    parent: Op, child: Op, observed: int, nw: int, pooled_rate: float, parts: Sequence[SpanStats], params: RcaParams
) -> bool:
    """Whether the call was there, and is now gone, against each baseline window alone that had
    enough parent spans to show it (the pooled rate predicts `vanish_min_count` calls in it). A
    call that one window already lacked stopped before the question's window: the known-good
    stretch may hold a failure that later healed (calls to an error handler), and its healing is
    not the fault."""
    for part in parts:
        n = part.parents.get(parent, 0)
        if pooled_rate * n < params.vanish_min_count:
            continue
        had = part.pairs.get((parent, child), 0)
        if had == 0 or observed > params.vanish_ratio * had / n * nw:
            return False
    return True


def _structure(
    base: SpanStats, win: SpanStats, params: RcaParams, out: KindScores, parts: Sequence[SpanStats] = ()
) -> None:
    children_of: dict[Op, set[Op]] = defaultdict(set)
    for parent, child in (*base.pairs, *win.pairs):
        children_of[parent].add(child)
    for parent, kids in children_of.items():
        nb, nw = base.parents.get(parent, 0), win.parents.get(parent, 0)
        if nb < params.min_spans or nw < params.min_spans:
            continue
        is_client = base.parent_kind.get(parent, win.parent_kind.get(parent, "")) in _CALLERS
        # Client spans of this call that went out and got no answer, beyond the baseline's share.
        unanswered = win.unanswered.get(parent, 0) - base.unanswered.get(parent, 0) / nb * nw
        for child in kids:
            expected = base.pairs.get((parent, child), 0) / nb * nw
            observed = win.pairs.get((parent, child), 0)
            if (
                expected >= params.vanish_min_count
                and observed <= params.vanish_ratio * expected
                and _vanished_from_each(parent, child, observed, nw, expected / nw, parts, params)
            ):
                what = "vanished"
            elif (
                base.pairs.get((parent, child), 0) == 0
                and observed >= params.vanish_min_count
                # None in nb parents bounds the rate at 3 / nb (the rule of three, 95%): rare
                # calls missing from a short baseline are not new.
                and observed + 1 >= params.surge_ratio * (3.0 / nb * nw + 1)
            ):
                what = "appeared"
            else:
                continue
            blamed, why = parent[0], ""
            if is_client and child[0] != parent[0]:
                # A client span names the call, not always its callee ("HTTP GET"): the callee is
                # blamed for calls that vanished only when they went out and were not answered.
                if what == "appeared" or unanswered >= 0.5 * (expected - observed):
                    blamed = child[0]
                else:
                    why = f"; {parent[0]} stopped making them (no unanswered calls)"
            raw = abs(log2_ratio(observed, expected))
            # Requests that made the parent call: without the child, or with the new one.
            examples = win.latest(parent) if what == "vanished" else _ids(win.pair_traces.get((parent, child), []))
            out.add(blamed, raw, {
                "kind": "trace", "signal": "call_" + what,
                "detail": f"{parent[0]} {parent[1]} → {child[0]} {child[1]}: {what} "
                          f"({observed} calls against {expected:.1f} expected{why})",
                "parent": f"{parent[0]} {parent[1]}", "child": f"{child[0]} {child[1]}",
                "observed": observed, "expected": round(expected, 3),
                "trace_ids": examples,
            }, operation=parent[1] if blamed == parent[0] else None)  # fmt: skip
