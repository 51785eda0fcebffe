"""The root-cause scorers on hand-built records, no store: what `span_stats` makes of a few spans
drawn by hand (own time net of overlapping children, edges, errors that start at a service, calls
refused before any server span), the same over columns as over span objects, and a whole ranking
from records (`rank_records`). The scorer modules read nothing: only `records` imports the store."""

from __future__ import annotations

import ast
import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kokanee.analysis.rca as rca_package
from kokanee.analysis.rca.graph import Calls
from kokanee.analysis.rca.log_scorer import LogLine
from kokanee.analysis.rca.metric_scorer import SeriesPair, score_series
from kokanee.analysis.rca.params import RcaParams
from kokanee.analysis.rca.ranker import rank_records
from kokanee.analysis.rca.records import QuestionSpans, Records
from kokanee.analysis.rca.span_columns import times_of
from kokanee.analysis.rca.span_reads import RSpan, SpanTable
from kokanee.analysis.rca.trace_scorer import merged, pooled_shift, span_stats

MS = 1_000_000
NS = 1_000_000_000


def test_own_time_is_the_span_less_the_union_of_its_children_clipped_to_it() -> None:
    # checkout 0..100 ms
    #   ├─ cart      10..40 ms
    #   ├─ cart      30..60 ms   (overlaps the first: 10..60 covered once)
    #   └─ payment   90..130 ms  (runs past its parent: only 90..100 counts)
    spans = [
        RSpan("t1", "a", "", "checkout", "place order", "Server", 0, 100 * MS, False),
        RSpan("t1", "b", "a", "cart", "get cart", "Server", 10 * MS, 30 * MS, False),
        RSpan("t1", "c", "a", "cart", "get cart", "Server", 30 * MS, 30 * MS, False),
        RSpan("t1", "d", "a", "payment", "charge", "Server", 90 * MS, 40 * MS, False),
    ]
    stats = span_stats(spans)
    own = {op: [t for t, _ in times] for op, times in stats.self_times.items()}
    assert own == {
        ("checkout", "place order"): [100 * MS - 50 * MS - 10 * MS],
        ("cart", "get cart"): [30 * MS, 30 * MS],
        ("payment", "charge"): [40 * MS],
    }
    assert stats.calls == {("checkout", "cart"), ("checkout", "payment")}
    assert stats.pairs[(("checkout", "place order"), ("cart", "get cart"))] == 2
    assert stats.traces == 1


def test_a_call_span_is_an_edge_and_errors_start_where_no_child_failed() -> None:
    # web ─Client "call api" 0..50 ─> api Server 10..30 (fails: the error starts at api)
    # web ─Client "call db"  60..70, failed, no server span, peer.service api: refused on the edge
    spans = [
        RSpan("t1", "w", "", "web", "GET /", "Server", 0, 80 * MS, True),
        RSpan("t1", "c1", "w", "web", "call api", "Client", 0, 50 * MS, True),
        RSpan("t1", "s1", "c1", "api", "serve", "Server", 10 * MS, 20 * MS, True),
        RSpan("t1", "c2", "w", "web", "call db", "Client", 60 * MS, 10 * MS, True, "api"),
    ]
    stats = span_stats(spans)
    # The wait outside both services: 50 ms less api's 20.
    assert [t for t, _ in stats.edge_times[("web", "api")]] == [30 * MS]
    assert stats.error_origins == {"api": 1}
    assert stats.unanswered_failures == {("web", "api"): 1}
    assert stats.edge_failures == {}  # api's own span failed: not lost between them
    assert stats.unanswered == {("web", "call db"): 1}
    assert stats.error_traces["api"] == [(10 * MS, "t1")]


def _traffic(rng: random.Random, t0: int, n: int, cart_ms: float, cart_fails: float) -> list[RSpan]:
    spans: list[RSpan] = []
    for i in range(n):
        trace = f"{t0:x}{i:06x}"
        at = t0 + i * 200 * MS
        cart = int(rng.uniform(0.8, 1.2) * cart_ms * MS)
        fails = rng.random() < cart_fails
        spans.append(RSpan(trace, f"{trace}f", "", "frontend", "GET /cart", "Server", at, cart + 4 * MS, fails))
        spans.append(
            RSpan(trace, f"{trace}c", f"{trace}f", "frontend", "call cart", "Client", at + MS, cart + 2 * MS, fails)
        )
        spans.append(RSpan(trace, f"{trace}s", f"{trace}c", "cart", "get cart", "Server", at + 2 * MS, cart, fails))
    return spans


def _span_by_span(spans: list[RSpan]) -> dict[str, object]:
    """The figures as the pass over span objects made them (before the columns), for comparison."""
    ids = {s.span_id for s in spans}
    services = {s.service for s in spans}
    kids: dict[str, list[RSpan]] = defaultdict(list)
    for s in spans:
        if s.parent_id and s.parent_id in ids:
            kids[s.parent_id].append(s)
    out: dict[str, Any] = {
        "self_times": defaultdict(list), "edge_times": defaultdict(list), "spans": Counter(),
        "error_origins": Counter(), "parents": Counter(), "pairs": Counter(), "unanswered": Counter(),
        "unanswered_failures": Counter(), "edge_failures": Counter(), "calls": set(),
    }  # fmt: skip
    for s in spans:
        mine = kids.get(s.span_id, [])
        covered, reach = 0, s.start_ns
        for a, b in sorted((k.start_ns, k.start_ns + k.duration_ns) for k in mine):
            a, b = max(a, reach), min(b, s.start_ns + s.duration_ns)
            covered, reach = covered + max(0, b - a), max(reach, b)
        own = s.duration_ns - covered
        remote = [k for k in mine if k.service != s.service]
        out["calls"] |= {(s.service, k.service) for k in remote}
        out["spans"][s.service] += 1
        caller = s.kind in ("Client", "Producer")
        if caller and remote:
            for callee in dict.fromkeys(k.service for k in remote):
                out["edge_times"][(s.service, callee)].append((own, hash(s.trace_id)))
                if s.error and not any(k.error for k in remote):
                    out["edge_failures"][(s.service, callee)] += 1
        else:
            out["self_times"][(s.service, s.name)].append((own, hash(s.trace_id)))
        lost = caller and not mine and s.error and s.peer in services and s.peer != s.service
        if lost:
            out["unanswered_failures"][(s.service, s.peer)] += 1
        if s.error and not any(k.error for k in mine) and not (caller and remote) and not lost:
            out["error_origins"][s.service] += 1
        out["parents"][(s.service, s.name)] += 1
        for k in mine:
            out["pairs"][((s.service, s.name), (k.service, k.name))] += 1
        if caller and not mine:
            out["unanswered"][(s.service, s.name)] += 1
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_columns_give_the_figures_of_a_pass_over_the_spans(seed: int) -> None:
    rng = random.Random(seed)
    spans = _traffic(rng, 0, 200, 5.0, 0.1)
    # Overlapping children, a call refused before any server span, a repeated span id.
    spans.append(RSpan("x", "x1", "", "frontend", "GET /x", "Server", 0, 50 * MS, True))
    spans += [RSpan("x", f"x{i}", "x1", "cart", "get cart", "Server", i * 7 * MS, 20 * MS, i == 3) for i in (2, 3, 4)]
    spans.append(RSpan("x", "x5", "x1", "frontend", "call cart", "Client", 45 * MS, MS, True, "cart"))
    spans.append(RSpan("y", "x1", "", "frontend", "GET /x", "Server", 0, 60 * MS, False))
    rng.shuffle(spans)  # the order spans come in from the store is no order at all
    stats = span_stats(SpanTable.from_spans(spans))
    for name, expected in _span_by_span(spans).items():
        got = getattr(stats, name)
        assert got == expected, name
        if isinstance(expected, dict):
            assert list(got) == list(expected), f"{name}: keys in order of first appearance"
    assert span_stats([]).traces == 0


def _pooled_by_time(groups: dict[str, tuple[list[tuple[int, int]], list[tuple[int, int]]]], q: float) -> Any:
    """`pooled_shift`'s figures as the pass over each time made them (before the arrays)."""
    from scipy.stats import binom

    base_x: list[float] = []
    win_x: list[float] = []
    slowest: tuple[dict[int, float], dict[int, float]] = ({}, {})
    best: tuple[float, str, float, float] | None = None
    for key, (base, win) in groups.items():
        if len(base) < 5 or not win:
            continue
        med = float(np.median([t for t, _ in base])) + MS
        for times, xs, top in ((base, base_x, slowest[0]), (win, win_x, slowest[1])):
            for t, trace in times:
                xs.append((t + MS) / med)
                top[trace] = max(top.get(trace, 0.0), (t + MS) / med)
        if len(win) >= 5:
            qb, qw = float(np.quantile([t for t, _ in base], q)), float(np.quantile([t for t, _ in win], q))
            if best is None or (qw + MS) / (qb + MS) > best[0]:
                best = ((qw + MS) / (qb + MS), key, qb, qw)
    if len(slowest[0]) < 5 or len(slowest[1]) < 5 or best is None:
        return None
    threshold = float(np.quantile(list(slowest[0].values()), q))
    above = sum(1 for x in slowest[1].values() if x > threshold)
    p = float(binom.sf(above - 1, len(slowest[1]), 1.0 - q))
    return float(np.quantile(win_x, q)) / float(np.quantile(base_x, q)), p, *best


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_shift_test_over_arrays_gives_the_figures_of_a_pass_over_the_times(seed: int) -> None:
    rng = random.Random(seed)
    parts = [span_stats(SpanTable.from_spans(_traffic(rng, i * 60 * NS, 150, 5.0, 0.1))) for i in range(3)]
    window = span_stats(SpanTable.from_spans(_traffic(rng, 300 * NS, 150, rng.choice([5.0, 20.0]), 0.1)))
    base = merged(parts)
    # The arrays the stats keep beside their lists (`fill`, `merged`) hold the same times.
    for stats in (*parts, window, base):
        for op, timed in stats.self_times.items():
            assert stats.self_array(op).ns.tolist() == [t for t, _ in timed]
            assert stats.self_array(op).traces.tolist() == [trace for _, trace in timed]
    for service in {op[0] for op in window.self_times}:
        ops = [op for op in window.self_times if op[0] == service]
        lists = {op[1]: (base.self_times.get(op, []), window.self_times[op]) for op in ops}
        # A few repeated traces and times of zero, as requests stuck in one place make.
        lists["stuck"] = ([(0, 7)] * 6 + [(3 * MS, 8)] * 6, [(0, 7), (6 * MS, 9)] * 4)
        arrays = {k: (times_of(b), times_of(w)) for k, (b, w) in lists.items()}
        for q in (0.5, 0.9):
            shift = pooled_shift(arrays, q, 5)
            expected = _pooled_by_time(lists, q)
            got = (
                None
                if shift is None
                else (shift.ratio, shift.p, shift.key_ratio, shift.key, shift.key_base_ns, shift.key_win_ns)
            )
            assert got == expected, service


def test_a_span_table_hands_back_its_spans_and_their_operations() -> None:
    spans = _traffic(random.Random(0), 0, 10, 5.0, 0.0)
    table = SpanTable.from_spans(spans)
    assert table.rows() == spans
    walked = table.traces_involving({"cart"}, 3)
    assert {s.trace_id for s in walked} == set(sorted({s.trace_id for s in spans})[:3])


def test_a_ranking_from_hand_built_records_blames_the_service_whose_errors_start_there() -> None:
    # Two clean baseline minutes, then a window where 60% of cart's requests fail inside cart,
    # its frontend caller fails with them, and cart logs a new error template.
    rng = random.Random(7)
    bases = [(0, 60 * NS), (60 * NS, 120 * NS)]
    window = (180 * NS, 240 * NS)
    per_base = [SpanTable.from_spans(_traffic(rng, lo, 290, 5.0, 0.0)) for lo, _ in bases]
    win = SpanTable.from_spans(_traffic(rng, window[0], 290, 5.0, 0.6))
    logs = [
        LogLine("cart", "loading cart", False, "", lo != window[0], "", lo + i * NS, part=p)
        for p, (lo, _) in enumerate([*bases, window])
        for i in range(30)
    ]
    logs += [LogLine("cart", "redis timeout after 500 ms", True, "", True, "", window[0] + i * NS) for i in range(25)]
    series = [SeriesPair("cart", "cpu", np.full(8, 0.2) + np.arange(8) * 0.001, np.full(4, 0.21), "cpu")]
    edges: Calls = {"frontend": {"cart"}}
    records = Records(bases, series, QuestionSpans(per_base, win), logs, edges)
    causes = rank_records(records, window, RcaParams())
    assert causes[0].service == "cart", [(c.service, c.score) for c in causes]
    kinds = {e.get("signal") for e in causes[0].evidence}
    assert "error_origin" in kinds and "new" in kinds, causes[0].evidence


def test_the_scorers_import_no_store() -> None:
    # One read module fetches a question's records; the orchestrators call it. Nothing else in the
    # package touches the store.
    readers = {"records.py", "ranker.py", "incident_causes.py"}
    folder = Path(rca_package.__file__).parent
    for path in sorted(folder.glob("*.py")):
        if path.name in readers or path.name == "__init__.py":
            continue
        imported = {
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert not {m for m in imported if m and (m.startswith("kokanee.store.client") or m.endswith(".records"))}, (
            path.name
        )


def _minutely(rng: random.Random, n: int, level: float) -> np.ndarray:
    return np.array([level * rng.uniform(0.9, 1.1) for _ in range(n)])


def test_a_periodic_jobs_spikes_in_the_hours_before_are_its_series_normal_but_one_earlier_fault_is_not() -> None:
    # Six hours of one point a minute before the window. "rebook"'s client latency jumps from 5 ms
    # to 28.8 s for 4 minutes every 90 (a batch job), never in the 30 minutes the baseline holds;
    # the window catches one more. "food"'s CPU, flat at 5%, reaches 500% in the window, and did
    # once before, two hours earlier (a fault): a repeat is still a fault.
    rng = random.Random(11)
    minutes = 360
    latency = _minutely(rng, minutes, 0.005)
    for at in range(30, minutes - 60, 90):
        latency[at : at + 4] = 28.8
    cpu = _minutely(rng, minutes, 5.0)
    cpu[240:244] = 499.0
    series = [
        SeriesPair("rebook", "latency_p99", latency[-30:], np.full(4, 28.8), "latency_p99", latency),
        SeriesPair("food", "cpu", cpu[-30:], np.full(4, 499.0), "cpu", cpu),
    ]
    scores = score_series(series, RcaParams()).scores
    assert scores["food"] > 10 * RcaParams().metric_z_min, scores
    assert scores["rebook"] <= 1.0, scores
