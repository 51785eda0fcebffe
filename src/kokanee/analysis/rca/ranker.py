"""rank_causes: candidate root-cause services for a window, best first, each with its evidence.

Every detector compares the window with a baseline window and says, per service, how unusual it
looks on one kind of signal (metric series, span self time, errors that start at the service,
log templates, calls that appeared or vanished, the network edges it is an end of). Each kind's
effect becomes units, log2(1 + effect / t), t being the kind's own "just unusual" level (z 3, a
1.5x latency ratio, ...): 1 unit is just unusual and strength keeps growing with the effect
(`units`). A service's kinds combine strongest first, each next at half the weight
(`corroborated`), so several weak signs never outvote one overwhelming one. Explain-away works in
the same units, per family of kinds that pass up calls (errors; request-level series), along the
calls the spans show (`explained`).
Detectors run on whatever signals the store holds for the window: metrics only, traces only, or
all three.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pyarrow.compute as pc

from kokanee.analysis.rca import graph
from kokanee.analysis.rca.cause import Cause, Evidence, KindScores
from kokanee.analysis.rca.log_scorer import score_logs
from kokanee.analysis.rca.log_status import with_log_status
from kokanee.analysis.rca.metric_scorer import score_series
from kokanee.analysis.rca.params import RcaParams
from kokanee.analysis.rca.path_shift import MAX_TRACES, add_path_shifts
from kokanee.analysis.rca.records import Records, read_records
from kokanee.analysis.rca.span_reads import SpanTable
from kokanee.analysis.rca.trace_scorer import SpanStats, merged, score_traces, span_stats
from kokanee.store.client import Store

Window = tuple[int, int]

# A cause scoring at most this is "just unusual": one kind of evidence at its own threshold (1
# unit, see `units`) or a little past it. A fault-free window should rank nothing above it.
JUST_UNUSUAL = 1.5


def default_baseline(start_ns: int, end_ns: int, params: RcaParams) -> Window:
    """The stretch the baselines are picked from when the caller gives none (the day before aside)."""
    return start_ns - int(params.baseline_lookback_s * 1e9), start_ns


def metric_detector(store: Store, window: Window, baselines: Sequence[Window], params: RcaParams) -> list[KindScores]:
    """The metric kind of a question (reads its records: `rank_window` reads them once for all kinds)."""
    return [score_series(read_records(store, *window, baselines, params).series, params)]


def trace_and_log_detectors(
    store: Store, window: Window, baselines: Sequence[Window], params: RcaParams
) -> tuple[list[KindScores], graph.Calls]:
    """`trace_and_log_kinds` of a question's records, read here."""
    return trace_and_log_kinds(read_records(store, *window, baselines, params), window, params)


def trace_and_log_kinds(records: Records, window: Window, params: RcaParams) -> tuple[list[KindScores], graph.Calls]:
    """The trace and log kinds, and the calls the spans show (empty without traces)."""
    baselines = records.baselines
    *per_base, win_spans = with_log_status([*records.spans.per_base, records.spans.window], records.logs)
    base_spans = SpanTable.concat(per_base)
    base_s = sum(b[1] - b[0] for b in baselines) / 1e9
    win_s = (window[1] - window[0]) / 1e9
    kinds: list[KindScores] = []
    base_stats, win_stats = SpanStats(), SpanStats()
    parts: list[SpanStats] = []
    if base_spans or win_spans:
        win_stats = span_stats(win_spans)
        # Several baseline windows: each is also judged alone, so a change already present in one
        # (drift through the day, or a normal that differs between them) is not taken for the fault.
        parts = [span_stats(table) for table in per_base] if len(per_base) > 1 else []
        base_stats = merged(parts) if parts else span_stats(base_spans)
        kinds.extend(score_traces(base_stats, win_stats, base_s, win_s, params, parts))
    lines = records.logs
    if lines:
        # The lines carry their span's operation (`records.read_logs`): no span id to look up.
        every = SpanTable.concat([*per_base, win_spans])
        span_services = set(pc.unique(every.table.column("service")).to_pylist())
        log_parts = [((hi - lo) / 1e9, hi, parts[i].parents if parts else {}) for i, (lo, hi) in enumerate(baselines)]
        kinds.extend(
            score_logs(
                lines,
                {},
                (base_stats.parents, win_stats.parents),
                base_s,
                win_s,
                params,
                log_parts,
                win_stats.latest,
                span_services,
            )
        )
    calls: graph.Calls = {}
    for caller, callee in base_stats.calls | win_stats.calls:
        calls.setdefault(caller, set()).add(callee)
    return kinds, calls


# The "just unusual" level of each kind's raw score, its weight, and how the raw score is an
# effect: "linear" (ratio - 1, z) or "log2" (a log2 ratio of counts: structure, logs).
def _scale(kind: str, params: RcaParams) -> tuple[float, float]:
    return {
        "metric": (1.0, params.weight_metric),
        "latency": (params.latency_ratio_min - 1.0, params.weight_latency),
        "network": (1.0, params.weight_edge),
        "error": (params.metric_z_min, params.weight_error),
        "structure": (params.surge_ratio - 1.0, params.weight_structure),
        "log_error": (params.surge_ratio - 1.0, params.weight_log),
        "log_vanish": (params.surge_ratio - 1.0, params.weight_log),
        "anomaly": (params.metric_z_min, 1.0),
    }.get(kind, (1.0, 1.0))


_LOG2_RATIOS = {"structure", "log_error", "log_vanish"}


def _effect(kind: str, raw: float) -> float:
    """The raw score as an effect on a linear scale: a log2 count ratio r is the ratio 2^r, whose
    excess over 1 is compared with the surge ratio's (otherwise its units would be a log of a log,
    and a template logged 50 times as often would count little more than one logged 4 times as
    often)."""
    return 2.0 ** min(raw, 60.0) - 1.0 if kind in _LOG2_RATIOS else raw


def units(raw: float, threshold: float, cap: float) -> float:
    """Evidence in comparable units: log2(1 + effect / threshold), so the kind's "just unusual"
    level is 1 unit and each doubling of the effect past it adds about one; bounded softly by
    `cap` (cap * tanh(u / cap): order kept, an effect beyond about 2^cap times its threshold says
    little more). Unlike a squashed strength it keeps growing with the effect: 430x slower calls
    outweigh a 2x shift however many weak signs join the latter."""
    return cap * math.tanh(math.log2(1.0 + raw / threshold) / cap) if raw > 0 else 0.0


def corroborated(values: Sequence[float], decay: float) -> float:
    """Kinds of evidence for one service, combined: the strongest counts in full, the next
    `decay` times, the next `decay`^2 ... Agreeing signals add, but several weak ones never
    outvote one overwhelming one."""
    return sum(v * decay**i for i, v in enumerate(sorted(values, reverse=True)))


# Kinds a callee's trouble shows up in for its callers, by the unit they share: its errors fail
# them (they log it, their calls vanish), one for one along the calls; its slowness and load move
# their request-level series, in part. A caller's own time (self time, net of its children) and
# its pod's resources are its own: no callee explains them.
_FAMILY = {
    "error": "errors",
    "log_error": "errors",
    "log_vanish": "errors",
    "structure": "errors",
    "metric": "series",
    "anomaly": "series",
}


def service_units(kinds: Sequence[KindScores], params: RcaParams) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for k in kinds:
        threshold, weight = _scale(k.kind, params)
        # A metric's robust z is unbounded where its baseline sat nearly flat, and a coarse series
        # (a point a minute, shared by every request) is a weaker witness than the requests
        # themselves: its units are bounded lower.
        cap = params.metric_units_cap if k.kind == "metric" else params.units_cap
        for service, raw in k.scores.items():
            u = weight * units(_effect(k.kind, raw), threshold, cap)
            if u > 0:
                out.setdefault(service, {})[k.kind] = u
    return out


def explained(per_service: dict[str, dict[str, float]], calls: graph.Calls, params: RcaParams) -> dict[str, float]:
    """Each service's score after explain-away, per unit family: the part of a family's evidence
    that a service it calls (through calls actually made) shows as much of, in the same family, is
    taken off; what its callees cannot account for stays. Errors pass up one for one, so the part
    explained is taken off whole (`error_explained`); series only in part (`symptom_discount`)."""

    def family(service: str, name: str) -> float:
        return max((u for k, u in per_service.get(service, {}).items() if _FAMILY.get(k) == name), default=0.0)

    final: dict[str, float] = {}
    for service, kinds in per_service.items():
        below = graph.downstream(calls, service)
        kept = []
        for kind, u in kinds.items():
            name = _FAMILY.get(kind)
            if name is not None:
                callee = max((family(s, name) for s in below), default=0.0)
                share = min(1.0, callee / family(service, name))
                u *= 1.0 - (params.error_explained if name == "errors" else params.symptom_discount) * share
            kept.append(u)
        final[service] = corroborated(kept, params.corroboration)
    return final


def combine(kinds: list[KindScores], calls: graph.Calls, params: RcaParams) -> list[Cause]:
    """Units per service and kind, explain-away, then causes best first."""
    per_service = service_units(kinds, params)
    total = {s: corroborated(list(k.values()), params.corroboration) for s, k in per_service.items()}
    final = explained(per_service, calls, params)
    # Only services some detector flagged: a service with no evidence is not a candidate.
    ranked = sorted((s for s in final if final[s] > 0), key=lambda s: (-final[s], -total.get(s, 0.0), s))
    causes = []
    for service in ranked[: params.top]:
        evidence: list[Evidence] = []
        operation = None
        best_kind = 0.0
        for k in kinds:
            evidence.extend(k.evidence.get(service, []))
            contribution = per_service[service].get(k.kind, 0.0)
            if service in k.operations and contribution > best_kind:
                best_kind, operation = contribution, k.operations[service]
        callee = graph.explaining_callee(total, calls, service)
        if callee is not None and final[service] < total[service] - 1e-9:
            evidence.append(
                {
                    "kind": "edge",
                    "callee": callee,
                    "detail": f"calls {callee}, which is itself anomalous: part of this may be a symptom",
                    "score_before_walk": round(total[service], 6),
                }
            )
        causes.append(Cause(service, operation, final[service], evidence))
    return causes


def _baselines(baseline: Window | Sequence[Window] | None) -> list[Window]:
    if not baseline:
        return []
    if isinstance(baseline[0], int):
        lo, hi = baseline
        return [(int(lo), int(hi))]  # type: ignore[arg-type]
    return [(int(lo), int(hi)) for lo, hi in baseline]  # type: ignore[misc]


def rank_causes(
    store: Store,
    start_ns: int,
    end_ns: int,
    baseline: Window | Sequence[Window] | None = None,
    params: RcaParams | None = None,
) -> list[Cause]:
    """Candidate root causes of what changed in [start, end) against `baseline`, best first (see
    `rank_window`)."""
    return rank_window(store, start_ns, end_ns, baseline, params)[0]


def rank_window(
    store: Store,
    start_ns: int,
    end_ns: int,
    baseline: Window | Sequence[Window] | None = None,
    params: RcaParams | None = None,
) -> tuple[list[Cause], list[Window]]:
    """Candidate root causes of what changed in [start, end), best first, and the baseline windows
    they were judged against. `baseline` may be one window or several (a known fault-free period
    and the minutes just before), taken together; without one, recent clean windows are picked
    (`baselines.choose`). The store is read once (`records.read_records`); the scorers take what it read."""
    if end_ns <= start_ns:
        raise ValueError("the window's start must be before its end")
    params = params or RcaParams()
    bases = _baselines(baseline)
    for lo, hi in bases:
        if hi <= lo:
            raise ValueError("a baseline's start must be before its end")
    records = read_records(store, start_ns, end_ns, bases, params)
    return rank_records(records, (start_ns, end_ns), params), records.baselines


def rank_records(records: Records, window: Window, params: RcaParams) -> list[Cause]:
    """Candidate root causes of what changed in `window`, best first, from its records alone."""
    kinds = [score_series(records.series, params)]
    more, calls = trace_and_log_kinds(records, window, params)
    kinds.extend(more)
    causes = combine(kinds, calls or records.edges, params)
    # The critical-path walk needs only the traces it walks as span objects.
    services = {c.service for c in causes}
    spans = records.spans
    add_path_shifts(
        causes, spans.base.traces_involving(services, MAX_TRACES), spans.window.traces_involving(services, MAX_TRACES)
    )
    return causes
