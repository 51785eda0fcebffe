"""The ranking's general mechanisms on hand-built records, no store: evidence in units that grow
with the effect, explain-away in the same units, baselines picked clean and combined robustly, and
network faults judged on the whole set of changed edges in both directions. Each test fails with
the ranking before these mechanisms (squashed strengths summed, a blanket symptom discount, the
minimum over baselines, the callee of each slow edge blamed)."""

from __future__ import annotations

import random

from kokanee.analysis.rca.cause import KindScores
from kokanee.analysis.rca.params import RcaParams
from kokanee.analysis.rca.ranker import combine
from kokanee.analysis.rca.span_reads import RSpan
from kokanee.analysis.rca.trace_scorer import score_traces, span_stats

MS = 1_000_000
NS = 1_000_000_000
P = RcaParams()


def kind(name: str, **scores: float) -> KindScores:
    k = KindScores(name)
    for service, raw in scores.items():
        k.add(service, raw, {"kind": name, "detail": f"{name} {raw}"})
    return k


def test_one_overwhelming_signal_is_not_outvoted_by_several_weak_ones() -> None:
    # "slow": its calls now take 200x as long. "noisy": a mild self-time shift, a log template that
    # faded, a metric a little past its normal: each just unusual.
    kinds = [
        kind("latency", slow=199.0, noisy=0.7),
        kind("log_vanish", noisy=2.0),
        kind("metric", noisy=1.3),
        kind("structure", noisy=1.7),
    ]
    causes = combine(kinds, {}, P)
    assert [c.service for c in causes] == ["slow", "noisy"], [(c.service, c.score) for c in causes]


def test_a_callees_small_change_does_not_explain_away_its_callers_large_one() -> None:
    # The caller's own time went up 100x; its callee logs a little differently and its memory moved.
    # A callee's change explains a caller's only in the same units (errors, request series), never
    # the caller's own time, which excludes the callee's.
    kinds = [kind("latency", caller=99.0), kind("log_vanish", callee=2.5), kind("metric", callee=2.0)]
    causes = combine(kinds, {"caller": {"callee"}}, P)
    assert causes[0].service == "caller", [(c.service, c.score) for c in causes]
    assert not any("symptom" in e["detail"] for e in causes[0].evidence)


def test_a_callers_errors_are_explained_by_its_callees_errors() -> None:
    # Errors propagate up: a caller failing as often as its callee is the callee's symptom.
    kinds = [kind("error", caller=12.0, callee=12.0), kind("log_error", caller=3.0, callee=3.0)]
    causes = combine(kinds, {"caller": {"callee"}}, P)
    assert causes[0].service == "callee"
    assert all(c.score < causes[0].score * 0.25 for c in causes if c.service == "caller")


def test_a_callees_errors_explain_only_as_many_of_its_callers() -> None:
    # The caller logs a burst of error lines, far beyond what the callee's failures account for:
    # what is left after taking off the callee's share is the caller's own.
    kinds = [kind("error", callee=3.5), kind("log_error", caller=9.0)]
    causes = combine(kinds, {"caller": {"callee"}}, P)
    assert causes[0].service == "caller", [(c.service, c.score) for c in causes]


def _trace(rng: random.Random, t: int, hops: list[tuple[str, str, float, float]]) -> list[RSpan]:
    """One request: hops (caller, callee, callee's own ms, ms on the wire) in a chain."""
    trace = f"{rng.getrandbits(64):016x}"
    spans: list[RSpan] = []
    parent = ""
    for caller, callee, own_ms, wire_ms in hops:
        client = f"{rng.getrandbits(32):08x}"
        server = f"{rng.getrandbits(32):08x}"
        own = int(own_ms * rng.uniform(0.8, 1.25) * MS)
        wire = int(wire_ms * rng.uniform(0.8, 1.25) * MS)
        spans.append(RSpan(trace, client, parent, caller, f"call {callee}", "Client", t, own + wire, False))
        spans.append(RSpan(trace, server, client, callee, f"serve {callee}", "Server", t + wire // 2, own, False))
        parent = server
        t += 1
    return spans


def _window(rng: random.Random, t: int, n: int, make: list[list[tuple[str, str, float, float]]]) -> list[RSpan]:
    spans: list[RSpan] = []
    for i in range(n):
        for hops in make:
            spans += _trace(rng, t + i * NS, hops)
    return spans


def test_a_delay_on_a_pods_network_blames_the_pod_not_its_callee() -> None:
    # netem on "mid"'s interface delays every packet leaving it: its callers' calls into it come
    # back late and its own calls to "db-proxy" leave late. "db-proxy" has no other caller, so the
    # slow calls into it alone look like its network; the whole set of slow edges is mid's.
    rng = random.Random(1)
    normal = [[("web", "mid", 3, 1), ("mid", "db-proxy", 2, 1)], [("api", "mid", 3, 1)]]
    delayed = [[("web", "mid", 3, 41), ("mid", "db-proxy", 2, 45)], [("api", "mid", 3, 41)]]
    base = span_stats(_window(rng, 0, 120, normal))
    win = span_stats(_window(rng, 200 * NS, 60, delayed))
    kinds = score_traces(base, win, 120, 60, P)
    calls = {"web": {"mid"}, "api": {"mid"}, "mid": {"db-proxy"}}
    causes = combine(kinds, calls, P)
    assert causes[0].service == "mid", [(c.service, c.score) for c in causes]
    edges = [e for e in causes[0].evidence if e["kind"] == "edge"]
    assert {(e["caller"], e["callee"]) for e in edges} == {("web", "mid"), ("api", "mid"), ("mid", "db-proxy")}
    assert "both ways" in edges[0]["detail"]


def test_a_repeat_fault_is_found_although_one_baseline_held_the_first() -> None:
    # Four baseline windows; the oldest held an earlier fault of the same service (its own time
    # 20x). Judged against each window alone and the smallest taken, the repeat shows no change;
    # the median over the windows finds it.
    rng = random.Random(2)
    normal = [[("front", "pay", 4, 0.5)]]
    faulty = [[("front", "pay", 80, 0.5)]]
    parts_spans = [_window(rng, i * 100 * NS, 60, faulty if i == 0 else normal) for i in range(4)]
    parts = [span_stats(p) for p in parts_spans]
    base = span_stats([s for p in parts_spans for s in p])
    win = span_stats(_window(rng, 500 * NS, 60, faulty))
    kinds = score_traces(base, win, 240, 60, P, parts)
    latency = next(k for k in kinds if k.kind == "latency")
    assert latency.scores.get("pay", 0.0) > 5, latency.scores


def test_baselines_are_the_recent_clean_windows() -> None:
    from kokanee.analysis.rca.baselines import pick
    from kokanee.store.reads.rca_baselines import WindowHealth

    # Six candidate windows, most recent first; the second held a fault of "pay" (slow), the
    # detector flagged "cart" in the fourth, the sixth had no traffic.
    def health(pay_p90_ms: float) -> dict[str, WindowHealth]:
        return {"pay": WindowHealth(100, 0, pay_p90_ms * MS), "cart": WindowHealth(80, 1, 3 * MS)}

    windows = [(-(k + 1) * 60, -k * 60) for k in range(6)]
    figures = [health(5), health(90), health(5), health(5.5), health(4.8), {}]
    flagged: list[set[str]] = [set(), set(), set(), {"cart"}, set(), set()]
    chosen = pick(windows, figures, flagged, RcaParams(baseline_windows=3))
    assert chosen == sorted([windows[0], windows[2], windows[4]])


def test_calls_refused_by_a_killed_pod_are_the_pods_not_its_callers_errors() -> None:
    # "cart" is killed: for a while its callers' calls fail before any server span exists. The
    # client spans name where they were going; the failures are the edge's, and both callers'
    # edges into cart failing are cart's, not two separate errors of "web" and "checkout".
    rng = random.Random(3)
    normal = [[("web", "cart", 2, 1)], [("checkout", "cart", 2, 1)]]
    base = span_stats(_window(rng, 0, 120, normal))
    spans = _window(rng, 200 * NS, 60, normal)
    for i in range(20):
        for caller in ("web", "checkout"):
            trace = f"{rng.getrandbits(64):016x}"
            at = 200 * NS + i * 3 * NS
            spans.append(RSpan(trace, f"{i:08x}", "", caller, "call cart", "Client", at, MS, True, "cart"))
    win = span_stats(spans)
    causes = combine(score_traces(base, win, 120, 60, P), {"web": {"cart"}, "checkout": {"cart"}}, P)
    assert causes[0].service == "cart", [(c.service, c.score) for c in causes]
    assert {"web", "checkout"}.isdisjoint(c.service for c in causes)


def test_a_killed_pod_with_one_caller_is_the_pods_though_its_own_calls_out_stay_calm() -> None:
    # "rebook" has one caller, "web", which also calls "search"; rebook itself calls "orders",
    # "seats" and "price". Killed for a third of the window, rebook refuses web's calls and makes
    # none of its own; when up it answers as usual. web's other edge is calm, and so are rebook's
    # outgoing ones: a dead pod's calls out stop, they do not slow, so only its incoming edges
    # speak for it, and all of them failed. web's lost packets would have shown on both its edges.
    rng = random.Random(4)
    up = [
        [("web", "rebook", 2, 1), ("rebook", "orders", 2, 1)],
        [("web", "rebook", 2, 1), ("rebook", "seats", 2, 1)],
        [("web", "rebook", 2, 1), ("rebook", "price", 2, 1)],
        [("web", "search", 3, 1)],
    ]
    base = span_stats(_window(rng, 0, 120, up))
    spans = _window(rng, 200 * NS, 40, up)
    for i in range(20):
        at = 240 * NS + i * NS
        spans += _window(rng, at, 1, [[("web", "search", 3, 1)]])
        for _ in range(3):
            trace = f"{rng.getrandbits(64):016x}"
            spans.append(
                RSpan(trace, f"{rng.getrandbits(32):08x}", "", "web", "call rebook", "Client", at, MS, True, "rebook")
            )
    win = span_stats(spans)
    calls = {"web": {"rebook", "search"}, "rebook": {"orders", "seats", "price"}}
    causes = combine(score_traces(base, win, 120, 60, P), calls, P)
    assert causes[0].service == "rebook", [(c.service, c.score) for c in causes]
