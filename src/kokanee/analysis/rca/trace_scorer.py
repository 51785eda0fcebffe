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
from dataclasses import dataclass, field, replace
from typing import Any, TypeGuard

import numpy as np

from kokanee.analysis.rca.cause import Evidence, KindScores
from kokanee.analysis.rca.params import RcaParams
from kokanee.analysis.rca.span_columns import Answers, Times, fill, times_of
from kokanee.analysis.rca.span_reads import RSpan, SpanTable
from kokanee.analysis.rca.wrong_answers import wrong_answers

_FLOOR_NS = 1_000_000
EXAMPLES = 3  # example traces per piece of evidence
_CALLERS = ("Client", "Producer")

Op = tuple[str, str]  # (service, operation)
Timed = tuple[int, int]  # (ns, the hash of the span's trace id)
Example = tuple[int, str]  # (span start ns, trace id)
Array = np.ndarray[Any, Any]


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
    # Per (caller service, callee operation): the answers it got (`wrong_answers`).
    answers: dict[tuple[str, Op], Answers] = field(default_factory=dict)
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
    # `self_times` and `edge_times` as arrays where `fill` or `merged` had them (`self_array`).
    self_arrays: dict[Op, Times] = field(default_factory=dict)
    edge_arrays: dict[tuple[str, str], Times] = field(default_factory=dict)

    def self_array(self, op: Op) -> Times:
        """`self_times[op]` as arrays (what the shift tests take)."""
        return _arrays(self.self_arrays, self.self_times, op)

    def edge_array(self, edge: tuple[str, str]) -> Times:
        """`edge_times[edge]` as arrays."""
        return _arrays(self.edge_arrays, self.edge_times, edge)

    def latest(self, op: Op) -> list[str]:
        """The latest traces `op` ran in."""
        return _ids(self.parent_traces.get(op, []))

    def slowest(self, times: Sequence[Timed]) -> list[str]:
        """The trace ids of the slowest `times`, distinct, at most `EXAMPLES`."""
        ids = [self.trace_ids[trace] for _, trace in sorted(times, reverse=True)[: 4 * EXAMPLES]]
        return list(dict.fromkeys(ids))[:EXAMPLES]


def _arrays(arrays: Mapping[Any, Times], lists: Mapping[Any, list[Timed]], key: Any) -> Times:
    """A list of times as arrays: those made with it where they still match it, else converted."""
    timed = lists.get(key)
    if timed is None:
        return _NONE
    made = arrays.get(key)
    return made if made is not None and len(made) == len(timed) else times_of(timed)


def span_stats(spans: Sequence[RSpan] | SpanTable) -> SpanStats:
    """The figures of a window's spans (computed over columns: `span_columns`)."""
    stats = SpanStats()
    fill(stats, spans if isinstance(spans, SpanTable) else SpanTable.from_spans(spans), EXAMPLES)
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
    for key in dict.fromkeys(key for part in parts for key in part.answers):
        out.answers[key] = Answers.concat([part.answers[key] for part in parts if key in part.answers])
    out.traces = len(out.trace_ids)
    # The arrays too, joined in the order the lists were.
    for op in out.self_times:
        out.self_arrays[op] = Times.concat([part.self_array(op) for part in parts if op in part.self_times])
    for edge in out.edge_times:
        out.edge_arrays[edge] = Times.concat([part.edge_array(edge) for part in parts if edge in part.edge_times])
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


_NONE = times_of([])
Groups = Mapping[Any, tuple[Times, Times]]


def _ratio(base: Array, win: Array, q: float) -> tuple[float, float, float]:
    qb = float(np.quantile(base, q))
    qw = float(np.quantile(win, q))
    return (qw + _FLOOR_NS) / (qb + _FLOOR_NS), qb, qw


def _slowest_per_trace(traces: list[Array], xs: list[Array]) -> Array:
    """Per distinct trace, its greatest x (at least 0.0, as a running max from 0.0 gives)."""
    if not traces:
        return np.zeros(0)
    tr, x = np.concatenate(traces), np.concatenate(xs)
    if len(tr) == 0:
        return x
    by = np.argsort(tr, kind="stable")
    tr, x = tr[by], x[by]
    first = np.flatnonzero(np.concatenate(([True], tr[1:] != tr[:-1])))
    return np.asarray(np.maximum(np.maximum.reduceat(x, first), 0.0), dtype=np.float64)


@dataclass(frozen=True)
class Shift:
    ratio: float  # the window's pooled quantile over the baseline's
    p: float  # binomial tail: this many window traces above the baseline's quantile by chance
    key: Any  # the group that shifted most (its own quantile ratio)
    key_ratio: float
    key_base_ns: float
    key_win_ns: float


def pooled_shift(groups: Groups, q: float, min_spans: int) -> Shift | None:
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
    # Over arrays (numpy): the arithmetic and the order statistics are those of the Python pass
    # over every time it replaced, value for value.
    base_x: list[Array] = []
    win_x: list[Array] = []
    base_tr: list[Array] = []
    win_tr: list[Array] = []
    best: tuple[float, Any, float, float] | None = None
    for key, (base, win) in groups.items():
        if len(base) < min_spans or len(win) < 1:
            continue
        med = float(np.median(base.ns)) + _FLOOR_NS
        base_x.append((base.ns + _FLOOR_NS) / med)
        win_x.append((win.ns + _FLOOR_NS) / med)
        base_tr.append(base.traces)
        win_tr.append(win.traces)
        if len(win) >= min_spans:
            r, qb, qw = _ratio(base.ns, win.ns, q)
            if best is None or r > best[0]:
                best = (r, key, qb, qw)
    base_slowest = _slowest_per_trace(base_tr, base_x)
    win_slowest = _slowest_per_trace(win_tr, win_x)
    if len(base_slowest) < min_spans or len(win_slowest) < min_spans or best is None:
        return None
    threshold = float(np.quantile(base_slowest, q))
    above = int(np.count_nonzero(win_slowest > threshold))
    from scipy.stats import binom  # scipy.stats takes seconds to import: not at server start

    p = float(binom.sf(above - 1, len(win_slowest), 1.0 - q))
    ratio = float(np.quantile(np.concatenate(win_x), q)) / float(np.quantile(np.concatenate(base_x), q))
    return Shift(ratio, p, best[1], best[0], best[2], best[3])


def log2_ratio(observed: float, expected: float) -> float:
    return math.log2((observed + 1.0) / (expected + 1.0))


def poisson_z(observed: float, expected: float) -> float:
    return (observed - expected) / math.sqrt(expected + 1.0)


def _shifted(shift: Shift | None, params: RcaParams) -> TypeGuard[Shift]:
    return shift is not None and shift.p < params.latency_p_max and shift.ratio >= params.latency_ratio_min


def _least_ratio(
    shift: Shift,
    groups: Groups,
    alone: Sequence[Mapping[Any, Times]],
    params: RcaParams,
    q: float,
) -> float | None:
    """The shift's ratio, lowered to the smallest against any one baseline window (`alone`: each
    window's times per group) that holds enough spans to judge; None when that falls under
    `latency_ratio_min`, the change being already there in that window (a drift through the day
    against a distant reference). Only the ratio is compared: a minute's few spans rarely pass
    the binomial test, which the pooled shift has."""
    ratio = shift.ratio
    for times in alone:
        pairs = {key: (times.get(key, _NONE), win) for key, (_, win) in groups.items()}
        s = pooled_shift(pairs, q, params.min_spans)
        if s is not None:
            ratio = min(ratio, s.ratio)
    return ratio if ratio >= params.latency_ratio_min else None


def _median_shift(
    groups: Groups,
    alone: Sequence[Mapping[Any, Times]],
    params: RcaParams,
    q: float,
) -> Shift | None:
    """The shift against each baseline window alone, the median one (by ratio); None when fewer
    than `robust_baselines_min` windows hold enough spans to judge."""
    shifts = []
    for times in alone:
        pairs = {key: (times.get(key, _NONE), win) for key, (_, win) in groups.items()}
        s = pooled_shift(pairs, q, params.min_spans)
        if s is not None:
            shifts.append(s)
    if len(shifts) < params.robust_baselines_min:
        return None
    shifts.sort(key=lambda s: s.ratio)
    return shifts[(len(shifts) - 1) // 2]


def _lasting_shift(
    groups: Groups,
    alone: Sequence[Mapping[Any, Times]],
    params: RcaParams,
    q: float | None = None,
) -> tuple[Shift, float] | None:
    """A shift of `groups` that holds against the baseline, or None.

    With one or two baseline windows (a reference stretch and the minutes before) the pooled shift
    must also hold against each window alone. With `robust_baselines_min` or more (windows kokanee
    picked, several), the shift against each is taken and the median one judged: one window that
    held an earlier fault of the same service (its repeat then looks like no change), or an odd
    spike, is outvoted by the others."""
    q = params.self_time_quantile if q is None else q
    robust = _median_shift(groups, alone, params, q) if len(alone) >= params.robust_baselines_min else None
    if robust is not None:
        return (robust, robust.ratio) if _shifted(robust, params) else None
    shift = pooled_shift(groups, q, params.min_spans)
    if not _shifted(shift, params):
        return None
    ratio = _least_ratio(shift, groups, alone, params, q)
    return None if ratio is None else (shift, ratio)


def _one_statement_shift(
    groups: Groups,
    alone: Sequence[Mapping[Any, Times]],
    statements: Sequence[Any],
    params: RcaParams,
) -> tuple[Shift, float] | None:
    """The statement whose time shifted most when judged alone, or None.

    A slow database query (a lock, a missing index) slows one thing: the calling service's client
    span to the database (`statements`: its client spans with no traced callee). Pooled with the
    service's busier operations it moves neither their p90 nor the share of slow requests, when
    few requests make that statement. Each statement is judged alone too, its p-value multiplied
    by the number of the service's operations (Bonferroni: a service with many gets no more
    chances of a chance shift than one with one). Its server operations are not: their own time
    is the service's work, which the pooled shift judges."""
    if len(groups) < 2 or not statements:
        return None
    strict = replace(params, latency_p_max=params.latency_p_max / len(groups))
    best: tuple[Shift, float] | None = None
    for op in statements:
        pair = groups[op]
        found = _lasting_shift({op: pair}, [{op: times.get(op, _NONE)} for times in alone], strict)
        if found is not None and (best is None or found[1] > best[1]):
            best = found
    return best


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
    own: dict[str, dict[Any, tuple[Times, Times]]] = defaultdict(dict)
    for op in win.self_times:
        own[op[0]][op[1]] = (base.self_array(op), win.self_array(op))

    def own_time(service: str, shift: Shift, ratio: float, detail: str) -> None:
        latency.add(service, ratio - 1.0, {
            "kind": "trace", "signal": "self_time", "operation": shift.key, "detail": detail,
            "ratio": round(shift.ratio, 3), "p": shift.p,
            "trace_ids": win.slowest(win.self_times.get((service, shift.key), [])),
        }, operation=str(shift.key))  # fmt: skip

    for service, groups in own.items():
        alone = [{op: part.self_array((service, op)) for op in groups} for part in parts]
        if (found := _lasting_shift(groups, alone, params)) is not None:
            shift, ratio = found
            own_time(service, shift, ratio,
                     f"own time p{round(q * 100)} {shift.ratio:.1f}x the baseline's over its operations "
                     f"(p={shift.p:.1g}); most in {shift.key}: {shift.key_win_ns / 1e6:.1f} ms against "
                     f"{shift.key_base_ns / 1e6:.1f} ms")  # fmt: skip
        statements = [op for op in groups if win.parent_kind.get((service, op), "") in _CALLERS]
        if (one := _one_statement_shift(groups, alone, statements, params)) is not None:
            shift, ratio = one
            own_time(service, shift, ratio,
                     f"own time p{round(q * 100)} of {shift.key} alone {shift.ratio:.1f}x the baseline's "
                     f"({shift.key_win_ns / 1e6:.1f} ms against {shift.key_base_ns / 1e6:.1f} ms, "
                     f"p={shift.p:.1g} of {len(groups)} operations)")  # fmt: skip
    score_network(base, win, parts, params, edge)
    origins: dict[str, tuple[int, float]] = {}
    for service, observed in win.error_origins.items():
        rate = base.error_origins.get(service, 0) / max(1, base.spans.get(service, 0))
        origins[service] = (observed, rate * win.spans[service])
    failing = {s for s, (observed, expected) in origins.items() if poisson_z(observed, expected) >= params.metric_z_min}
    wrong = wrong_answers(base.answers, win.answers, failing, params)
    for service, (observed, expected) in origins.items():
        z = poisson_z(observed, expected)
        w = wrong.get(service)
        if w is not None and z >= params.metric_z_min > poisson_z(observed - w.failed, expected):
            # The callee's wrong answers account for all of the new errors (`wrong_answers`): they
            # are its evidence, at their full strength, and explain the caller's errors away.
            callee, operation = w.callee
            error.add(callee, z, {
                "kind": "trace", "signal": "wrong_answer",
                "detail": f"{w.failed} of the {w.with_answer} failed operations of {service} that called "
                          f"{operation} got an answer in {w.fast_ns / 1e6:.1f} ms without error (the baseline's "
                          f"p{round((1 - q) * 100)}: {w.base_ns / 1e6:.1f} ms), then failed in its own code: "
                          f"{callee} returned a wrong value ({observed} errors start in {service} against "
                          f"{expected:.1f} expected)",
                "caller": service, "observed": observed, "expected": round(expected, 3), "z": round(z, 3),
                "trace_ids": _ids(win.error_traces.get(service, [])),
            }, operation=operation)  # fmt: skip
            z = poisson_z(observed - w.failed, expected)
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
    # "either": the change could be on either end (time on the wire both ways, requests that got no
    # answer); "callee": calls the callee answered without error that failed at the caller, which
    # only the callee's side (its outgoing packets, a proxy in front of it) can do.
    side: str = "either"
    unanswered: bool = False  # the change is calls that got no answer at all (none slower)


def edge_changes(
    base: SpanStats, win: SpanStats, parts: Sequence[SpanStats], params: RcaParams
) -> tuple[list[EdgeChange], dict[str, int], dict[str, int]]:
    """Each remote call edge (caller, callee) judged on its time outside both services and on its
    failures that the callee's own span does not show; returns the edges
    that changed, and per service how many of its edges (either direction), and of its incoming
    edges, had enough calls to judge."""
    judged: dict[str, int] = defaultdict(int)
    judged_in: dict[str, int] = defaultdict(int)
    changed: list[EdgeChange] = []
    for (caller, callee), times in win.edge_times.items():
        base_times = base.edge_times.get((caller, callee), [])
        if len(base_times) < params.min_spans or len(times) < params.min_spans:
            continue
        judged[caller] += 1
        judged[callee] += 1
        judged_in[callee] += 1
        groups = {caller: (base.edge_array((caller, callee)), win.edge_array((caller, callee)))}
        alone = [{caller: part.edge_array((caller, callee))} for part in parts]
        effect, detail, ids, unanswered = 0.0, "", [], False
        q, found = params.self_time_quantile, _lasting_shift(groups, alone, params)
        if found is not None:
            shift, ratio = found
            effect = (ratio - 1.0) / (params.latency_ratio_min - 1.0)
            detail = (
                f"calls from {caller} into {callee} spend {shift.ratio:.1f}x the baseline's p{q * 100:g} outside "
                f"both services ({shift.key_win_ns / 1e6:.1f} ms against {shift.key_base_ns / 1e6:.1f} ms, "
                f"p={shift.p:.1g})"
            )
            ids = win.slowest(times)
        n = len(base_times)
        # Requests that got no answer (no server span): lost on the way out of the caller, or refused
        # by a callee that is down; either end.
        rate = base.unanswered_failures.get((caller, callee), 0) / n
        observed = win.unanswered_failures.get((caller, callee), 0)
        z = poisson_z(observed, rate * len(times))
        if z >= params.metric_z_min and z / params.metric_z_min > effect:
            effect = z / params.metric_z_min
            detail = (
                f"{observed} calls from {caller} into {callee} failed before {callee} received them "
                f"({rate * len(times):.1f} expected of {len(times)}): lost on the way or refused"
            )
            ids, unanswered = win.slowest(times), found is None
        if effect > 0:
            changed.append(EdgeChange(caller, callee, effect, detail, ids, unanswered=unanswered))
        # Calls the callee answered without error that failed at the caller: its response was lost
        # or rewritten on the way back (its pod's network, a proxy in front of it): the callee's side.
        rate = base.edge_failures.get((caller, callee), 0) / n
        observed = win.edge_failures.get((caller, callee), 0)
        z = poisson_z(observed, rate * len(times))
        if z >= params.metric_z_min:
            detail = (
                f"{observed} calls from {caller} into {callee} failed that {callee} answered without error "
                f"({rate * len(times):.1f} expected of {len(times)}): its responses were lost or rewritten"
            )
            changed.append(EdgeChange(caller, callee, z / params.metric_z_min, detail, win.slowest(times), "callee"))
    return changed, dict(judged), dict(judged_in)


def _beyond(base: Sequence[Timed], win: Sequence[Timed], params: RcaParams) -> tuple[int, float] | None:
    """Window calls far beyond the baseline's tail, and how many the baseline's own rate predicts;
    None when the baseline is too short to place its `tail_quantile`.

    "Far beyond" is `latency_ratio_min` times the baseline's tail quantile (with the 1 ms floor of
    every ratio): a quantile placed from a few hundred calls is itself uncertain, so the calls
    beyond it are not a known 1%; the baseline's calls beyond the far threshold, plus one, are the
    rate chance has."""
    q = params.tail_quantile
    if len(base) < 1.0 / (1.0 - q) or not win:
        return None
    times = [t for t, _ in base]
    far = params.latency_ratio_min * (float(np.quantile(times, q)) + _FLOOR_NS) - _FLOOR_NS
    rate = (sum(1 for t in times if t > far) + 1) / (len(times) + 1)
    return sum(1 for t, _ in win if t > far), rate * len(win)


def pod_tails(base: SpanStats, win: SpanStats, parts: Sequence[SpanStats], params: RcaParams) -> dict[str, Evidence]:
    """Packet loss: per service, the calls on its edges, both ways and pooled, whose time outside
    both ends fell far beyond their edge's baseline tail (`_beyond`).

    A lost packet waits a retransmission timeout (200 ms, doubling), whichever way it was going:
    loss on a pod puts a few percent of the calls on every edge touching it in the tail, too few on
    one edge to tell, and p90 does not move. Its calls to systems that are not traced (a client
    span with no child: a database) are its edges too. Each edge counts for the end whose edges,
    pooled, show it more significantly (a caller with one edge has nothing else to show; the pod
    shows it on all of its edges), then each service's own edges are tested together (Poisson p
    under `latency_p_max`), if at least two, and half, of all its edges have more calls in the tail
    than chance predicts. The effect is the excess, observed over expected less 1, also against
    each baseline window alone (the smallest with one or two windows, the median with more: a
    drift, or an edge that is always jumpy, is no loss)."""
    from scipy.stats import poisson

    q = params.tail_quantile
    ends: dict[tuple[str, Any], tuple[str, ...]] = {}
    for caller, callee in win.edge_times:
        ends[("edge", (caller, callee))] = (caller, callee)
    for op in win.self_times:
        if win.parent_kind.get(op, "") in _CALLERS:
            ends[("self", op)] = (op[0],)

    def counts(stats: SpanStats, key: tuple[str, Any]) -> tuple[int, float] | None:
        which, k = key
        times = stats.edge_times if which == "edge" else stats.self_times
        return _beyond(times.get(k, []), (win.edge_times if which == "edge" else win.self_times).get(k, []), params)

    pooled = {key: c for key in ends if (c := counts(base, key)) is not None}

    def total(keys: Sequence[tuple[str, Any]], of: Mapping[tuple[str, Any], tuple[int, float]]) -> tuple[int, float]:
        return sum(of[k][0] for k in keys if k in of), sum(of[k][1] for k in keys if k in of)

    touching: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for key in pooled:
        for end in ends[key]:
            touching[end].append(key)
    strength = {s: poisson_z(*total(keys, pooled)) for s, keys in touching.items()}
    owned: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for key in pooled:
        owned[max(ends[key], key=lambda end: strength[end])].append(key)
    out: dict[str, Evidence] = {}
    for service, keys in owned.items():
        observed, expected = total(keys, pooled)
        # Loss on a pod shows on every edge touching it: one edge's tail alone (a caller's pool, a
        # slow client) is not it.
        spread = sum(1 for key in touching[service] if pooled[key][0] > pooled[key][1])
        if observed <= expected or spread < max(2, len(touching[service]) / 2):
            continue
        p = float(poisson.sf(observed - 1, expected))
        if p >= params.latency_p_max:
            continue
        excess = [observed / expected - 1.0]
        for part in parts:
            alone = {key: c for key in keys if (c := counts(part, key)) is not None}
            if alone:
                # An edge too quiet in this window alone to place its tail neither confirms nor
                # refutes the loss: its pooled figures stand for it. Judged on the busy edges alone,
                # a window would be judged on the edges that need not show the loss at all.
                o, e = total(keys, {key: alone.get(key, pooled[key]) for key in keys})
                excess.append(o / e - 1.0)
        robust = len(parts) >= params.robust_baselines_min and len(excess) > 1
        effect = float(np.median(excess[1:])) if robust else min(excess)
        if effect > 0:
            out[service] = {
                "kind": "edge", "effect": round(effect, 3), "observed": observed, "expected": round(expected, 2),
                "p": p, "detail": f"{observed} calls on {len(keys)} edges of {service}, both ways, far beyond their "
                f"baseline p{q * 100:g} ({expected:.1f} expected, p={p:.1g}): packets to and from {service} lost",
            }  # fmt: skip
    return out


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

    Failures that can only be one end's are not shared: a response the callee sent without error
    that failed at the caller was lost or rewritten on the callee's side (its outgoing packets, a
    proxy in front of it injecting HTTP 500s). They count for the callee, times the share of its
    judged incoming edges that show them, whatever the caller's other edges do: a proxy in front
    of a single service would otherwise explain its one failing edge better than the service does.
    """
    changed, judged, judged_in = edge_changes(base, win, parts, params)
    touching: dict[str, list[EdgeChange]] = defaultdict(list)
    answered: dict[str, list[EdgeChange]] = defaultdict(list)
    for e in changed:
        if e.side == "callee":
            answered[e.callee].append(e)
            continue
        touching[e.caller].append(e)
        touching[e.callee].append(e)

    def explains(service: str, edges: list[EdgeChange]) -> float:
        return len(touching[service]) / max(judging(service), len(touching[service])) * sum(e.effect for e in edges)

    def judging(service: str) -> int:
        """The edges that would show a fault of the service's. Where every change touching it is
        calls into it that got no answer, only its incoming edges: a pod that is down or unreachable
        fails every caller's calls, but its own calls out do not slow, they stop, so its calm
        outgoing edges are no sign it was up (a caller's lost packets, on the other hand, would
        show on all of its outgoing edges)."""
        if all(e.unanswered and e.callee == service for e in touching[service]):
            return judged_in.get(service, 0)
        return judged.get(service, 0)

    # Each changed edge is explained once: by the end that explains the more of the whole set.
    best = {s: explains(s, edges) for s, edges in touching.items()}
    owned: dict[str, list[EdgeChange]] = defaultdict(list)
    for e in changed:
        if e.side == "callee":
            continue
        for end in (e.caller, e.callee):
            if best[end] >= max(best[e.caller], best[e.callee]):
                owned[end].append(e)
    raw: dict[str, float] = defaultdict(float)
    for service, edges in owned.items():
        raw[service] += explains(service, edges)
    for service, edges in answered.items():
        callers = {e.caller for e in edges}
        raw[service] += len(callers) / max(judged_in.get(service, 0), len(callers)) * sum(e.effect for e in edges)
    # Tails too thin to show on one edge, pooled over all of a service's edges: for a service no
    # edge set explains as well.
    for service, evidence in pod_tails(base, win, parts, params).items():
        if evidence["effect"] > raw.get(service, 0.0):
            out.add(service, evidence["effect"], evidence)
    for service in raw:
        edges = owned.get(service, [])
        callers = {e.caller for e in edges if e.callee == service}
        callees = {e.callee for e in edges if e.caller == service}
        if callers and callees:
            where = f"both ways: calls into {service} and {service}'s own calls out changed: {service}'s network"
        elif callers:
            where = f"network or connection delay into {service}"
        else:
            where = f"the wait is on {service}'s side (its connections, threads or CPU)"
        for e in sorted(edges, key=lambda e: -e.effect)[:5]:
            out.add(service, raw[service], {
                "kind": "edge", "caller": e.caller, "callee": e.callee,
                "detail": f"{e.detail}; {len(edges)} of the {judged.get(service, len(edges))} edges of {service} "
                          f"changed: {where}",
                "effect": round(e.effect, 3), "trace_ids": e.trace_ids,
            })  # fmt: skip
        lost = answered.get(service, [])
        for e in sorted(lost, key=lambda e: -e.effect)[:5]:
            out.add(service, raw[service], {
                "kind": "edge", "caller": e.caller, "callee": e.callee,
                "detail": f"{e.detail}; {len({x.caller for x in lost})} of the {judged_in.get(service, len(lost))} "
                          f"callers of {service} see it: on {service}'s side (its network, a proxy in front of it)",
                "effect": round(e.effect, 3), "trace_ids": e.trace_ids,
            })  # fmt: skip


def _vanished_from_each(
    parent: Op, child: Op, observed: int, nw: int, pooled_rate: float, parts: Sequence[SpanStats], params: RcaParams
) -> bool:
    """Whether the call was there, and is now gone, against each baseline window alone that had
    enough parent spans to show it (the pooled rate predicts `vanish_min_count` calls in it). A
    call that one window already lacked stopped before the question's window: the known-good
    stretch may hold a failure that later healed (calls to an error handler), and its healing is
    not the fault.

    With `robust_baselines_min` windows or more (picked ones, from the hour before), the call must
    also be usual: made in most of the windows where its parent ran. A call made in one of them
    only (an earlier fault's calls to an error handler, a passing traffic mix) was not the normal,
    and the pooled rate, diluted by the others, would not even ask them to show it."""
    if len(parts) >= params.robust_baselines_min:
        ran = [part for part in parts if part.parents.get(parent, 0) >= params.min_spans]
        made = sum(1 for part in ran if part.pairs.get((parent, child), 0) > 0)
        if 2 * made <= len(ran):
            return False
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
