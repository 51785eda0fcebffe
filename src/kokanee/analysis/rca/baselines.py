"""Baselines for a window-only question, picked as an SRE would: recent windows that were clean.

Candidates are the window's length over and over before it, back to `baseline_lookback_s`, and the
same time on the day before. A candidate with no traffic says nothing and is skipped, and so is one
with a sliver of it (under `baseline_min_traffic_share` of the median candidate's requests: a gap
in the recording or the pipeline, whose minutes would count as quiet ones). One is not clean when
the anomaly detector flagged a service in it (warning or worse), or when a service's p90 latency or
error count in it stands out against the same service in the other candidates (their median: a
robust normal that one earlier fault cannot move). The `baseline_windows` most recent clean ones
are used; the ranking then judges a change against their median (`trace_scorer._least_ratio`), so a
window the screen let through still cannot hide a repeat fault.

On a sparse recording (one that keeps a few minutes around each event) the last hour may hold only
3 or 4 candidates with traffic: too few for the median to outvote one that held an earlier fault,
and the fill-up takes them all. As an SRE would, `choose` then looks further back, over gaps, an
hour (`baseline_lookback_s`) of windows with traffic at a time, until `baseline_min_candidates`
hold traffic or the lookback reaches `baseline_max_lookback_s`, and takes from there only as many
as were missing, the most recent. A recording with traffic throughout never widens, and its picks
are the same.

Pure: `pick` takes each candidate's figures and `choose` the functions that read them
(`records.read_baselines` passes the store's).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from kokanee.analysis.rca.params import RcaParams
from kokanee.analysis.rca.trace_scorer import poisson_z
from kokanee.store.reads.rca_baselines import WindowHealth

Window = tuple[int, int]
DAY_NS = 86_400 * 1_000_000_000


def candidates(start_ns: int, end_ns: int, params: RcaParams, lookback_s: float | None = None) -> list[Window]:
    """The windows of the question's length before it, back to `lookback_s` (default
    `baseline_lookback_s`), most recent first, then the day before."""
    length = end_ns - start_ns
    lookback = params.baseline_lookback_s if lookback_s is None else lookback_s
    count = _lengths(length, lookback)
    out = [(start_ns - k * length, start_ns - (k - 1) * length) for k in range(1, count + 1)]
    yesterday = (start_ns - DAY_NS, end_ns - DAY_NS)
    if yesterday[1] <= out[-1][0]:
        out.append(yesterday)
    return out


def _lengths(length_ns: int, lookback_s: float) -> int:
    """How many windows of `length_ns` the lookback holds (at least the one just before)."""
    return max(1, int(lookback_s * 1e9 // length_ns))


def _off(health: Sequence[dict[str, WindowHealth]], params: RcaParams) -> list[set[str]]:
    """Per candidate, the services whose latency or errors stand out against their median over the
    candidates with traffic (a service seen in fewer than 3 cannot be judged)."""
    off: list[set[str]] = [set() for _ in health]
    services = {s for h in health for s in h}
    for service in services:
        seen = [(i, h[service]) for i, h in enumerate(health) if h.get(service, WindowHealth(0, 0, 0)).requests]
        judged = [(i, w) for i, w in seen if w.requests >= params.min_spans]
        if len(judged) < 3:
            continue
        # As the ranking reads them (`log_status`): a service whose spans never fail fails in its
        # ERROR lines.
        with_status = any(w.errors for _, w in seen)
        failed = {i: w.errors if with_status else w.error_lines for i, w in judged}
        p90 = float(np.median([w.p90_ns for _, w in judged]))
        rate = float(np.median([failed[i] / w.requests for i, w in judged]))
        for i, w in judged:
            slow = (w.p90_ns + 1e6) / (p90 + 1e6) >= params.latency_ratio_min
            failing = poisson_z(failed[i], rate * w.requests) >= params.metric_z_min
            if slow or failing:
                off[i].add(service)
    return off


def _live(health: Sequence[dict[str, WindowHealth]], params: RcaParams) -> list[int]:
    """The candidates with traffic, more than a sliver of it (`baseline_min_traffic_share` of the
    median such candidate's requests)."""
    volume = [sum(w.requests for w in h.values()) for h in health]
    live = [i for i, v in enumerate(volume) if v > 0]
    if not live:
        return []
    floor = params.baseline_min_traffic_share * float(np.median([volume[i] for i in live]))
    return [i for i in live if volume[i] >= floor]


def choose(
    start_ns: int,
    end_ns: int,
    params: RcaParams,
    read_health: Callable[[Sequence[Window]], list[dict[str, WindowHealth]]],
    read_flagged: Callable[[Sequence[Window]], list[set[str]]],
    read_latest: Callable[[int, int], int | None],
) -> list[Window]:
    """`pick` over the candidates of the last `baseline_lookback_s`; where some of the lookback's
    windows are empty and fewer than `baseline_min_candidates` hold traffic (a sparse recording),
    looked for further back, up to `baseline_max_lookback_s`, until that many do
    (`_as_many_as_missing` of those found there). A lookback whose every window holds traffic (a
    long question: an hour holds two of 30 minutes) is all the recent past offers; further back
    would trade recency for number.

    Further back is read an hour (`baseline_lookback_s`) of windows at a time, from the latest
    traffic before what was read (`read_latest(lo, hi)`: where the latest traffic in [lo, hi) ends,
    None when there is none): a gap is stepped over in one look, and a recording that begins
    just before the question costs one. A candidate-health read costs its spans times its windows,
    so dense traffic behind a long gap costs an hour's read, not a day's. `read_health` is asked
    only for windows not yet read, `read_flagged` once, for the candidates finally screened."""
    length = end_ns - start_ns
    lookback = params.baseline_lookback_s
    windows = first = candidates(start_ns, end_ns, params, lookback)
    known = dict(zip(windows, read_health(windows), strict=True))
    held = _lengths(length, lookback)  # the lookback's windows come first, then the day before
    live_held = sum(1 for i in _live([known[w] for w in windows], params) if i < held)
    sparse = live_held < min(params.baseline_min_candidates, held)
    furthest = start_ns - int(params.baseline_max_lookback_s * 1e9)
    while (
        sparse
        and len(_live([known[w] for w in windows], params)) < params.baseline_min_candidates
        and lookback < params.baseline_max_lookback_s
    ):
        edge = start_ns - _lengths(length, lookback) * length  # the oldest window read
        latest = read_latest(furthest, edge)
        if latest is None:
            break
        reach = max(lookback, (start_ns - latest) / 1e9) + params.baseline_lookback_s
        lookback = min(reach, params.baseline_max_lookback_s)
        windows = candidates(start_ns, end_ns, params, lookback)
        # Windows after the latest traffic before `edge` are empty: not read.
        known.update((w, {}) for w in windows if w not in known and w[0] >= latest)
        new = [w for w in windows if w not in known]
        if new:
            known.update(zip(new, read_health(new), strict=True))
    if lookback > params.baseline_lookback_s:
        windows = _as_many_as_missing(windows, set(first), [known[w] for w in windows], params)
    return pick(windows, [known[w] for w in windows], read_flagged(windows), params)


def _as_many_as_missing(
    windows: list[Window], first: set[Window], health: Sequence[dict[str, WindowHealth]], params: RcaParams
) -> list[Window]:
    """The first lookback's candidates and, from further back, the most recent ones with traffic
    up to `baseline_min_candidates` in all. An hour further back may hold many more than were
    missing; windows far back are the least like the present (a service drifts through the day)
    and, in number, would outvote the recent ones in the screen's median."""
    live = _live(health, params)
    further = [i for i in live if windows[i] not in first]
    need = params.baseline_min_candidates - (len(live) - len(further))
    cut = further[need - 1] if 0 < need <= len(further) else (len(windows) if need > 0 else -1)
    return [w for i, w in enumerate(windows) if i <= cut or w in first]


def pick(
    windows: Sequence[Window],
    health: Sequence[dict[str, WindowHealth]],
    flagged: Sequence[set[str]],
    params: RcaParams,
) -> list[Window]:
    """The most recent clean candidates with traffic, more than a sliver of it (`baseline_windows`
    of them); when fewer are clean, the least troubled fill up to `baseline_windows`."""
    off = _off(health, params)
    live = _live(health, params)
    if not live:
        return [windows[0]]
    trouble = {i: len(off[i] | flagged[i]) for i in live}
    clean = [i for i in live if trouble[i] == 0][: params.baseline_windows]
    if len(clean) < params.baseline_windows:
        rest = sorted((i for i in live if i not in clean), key=lambda i: (trouble[i], i))
        clean += rest[: params.baseline_windows - len(clean)]
    return sorted(windows[i] for i in clean)
