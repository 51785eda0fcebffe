"""How three kinds of fault show in spans, on hand-built records (no store): packet loss on a pod
(a few calls through it wait a retransmission timeout, in both directions: the tail moves, p90 does
not), HTTP errors injected in front of a pod (its responses rewritten after it answered: only its
callers see them) and a slow database statement (one client span of one service, made by few of
its requests). Each test but the last fails with the ranking before the mechanism it pins
(`trace_scorer.pod_tails`, the callee's side in `score_network`, `_one_statement_shift`); the last
checks that a fault-free window gets nothing from them."""

from __future__ import annotations

import random
from collections.abc import Callable

from kokanee.analysis.rca.params import RcaParams
from kokanee.analysis.rca.ranker import JUST_UNUSUAL, combine
from kokanee.analysis.rca.span_reads import RSpan
from kokanee.analysis.rca.trace_scorer import score_traces, span_stats

MS = 1_000_000
NS = 1_000_000_000
P = RcaParams()

# A call: (caller, callee, callee's own ms); a request is a list of calls, each made by the
# previous call's callee (a chain), or by the first caller when `fan` is set.
Call = tuple[str, str, float]


class Requests:
    """Spans of requests, one a second from `t0`, with the faults the test injects: `wire(caller,
    callee)` the ms a call spends on the network, `answered_error(caller, callee)` whether a call
    the callee answered fails at the caller."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.wire: Callable[[str, str], float] = lambda caller, callee: 0.6
        self.answered_error: Callable[[str, str], bool] = lambda caller, callee: False

    def _id(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"

    def jitter(self, ms: float) -> int:
        return int(ms * self.rng.uniform(0.8, 1.25) * MS)

    def request(self, t: int, calls: list[Call], fan: bool = False, db: tuple[str, float] | None = None) -> list[RSpan]:
        trace, spans, parent = self._id(), [], ""
        for caller, callee, own_ms in calls:
            client, server = self._id(), self._id()
            own, wire = self.jitter(own_ms), self.jitter(self.wire(caller, callee))
            failed = self.answered_error(caller, callee)
            at = t + wire // 2
            if db is not None and callee == calls[0][1]:
                # The callee's statement to an uninstrumented database: a client span with no child,
                # halfway through the callee's own work.
                name, ms = db
                query = self.jitter(ms)
                spans.append(RSpan(trace, self._id(), server, callee, name, "Client", at + own // 2, query, False))
                own += query
            spans.append(
                RSpan(trace, client, parent, caller, f"call {callee}", "Client", t, own + wire, failed, callee)
            )
            spans.append(RSpan(trace, server, client, callee, f"serve {callee}", "Server", at, own, False))
            parent = parent if fan and parent else server
            t += 1
        return spans

    def window(self, t0: int, n: int, calls: list[list[Call]], fan: bool = False) -> list[RSpan]:
        return [s for i in range(n) for c in calls for s in self.request(t0 + i * NS, c, fan)]


def rank(base: list[RSpan], win: list[RSpan], calls: dict[str, set[str]]) -> list[tuple[str, float]]:
    kinds = score_traces(span_stats(base), span_stats(win), 600, 300, P)
    return [(c.service, c.score) for c in combine(kinds, calls, P)]


# "mid" is called by web and api and calls db-proxy; web also calls search, api calls auth.
PATHS: list[list[Call]] = [
    [("web", "mid", 3.0), ("mid", "db-proxy", 2.0)],
    [("api", "mid", 3.0)],
    [("web", "search", 4.0)],
    [("api", "auth", 1.0)],
]
GRAPH = {"web": {"mid", "search"}, "api": {"mid", "auth"}, "mid": {"db-proxy"}}


def test_packet_loss_on_a_pod_is_found_in_the_tail_of_its_edges_both_ways() -> None:
    # 5% of the packets leaving "mid" are lost: those calls wait a 200 ms retransmission timeout.
    # Its callers' calls into it (the responses) and its own calls out (the requests) both show it
    # in 5% of calls; p90 stays put everywhere.
    gen = Requests(1)
    base = gen.window(0, 600, PATHS)
    gen.wire = lambda caller, callee: 0.6 + (200.0 if "mid" in (caller, callee) and gen.rng.random() < 0.05 else 0.0)
    win = gen.window(1000 * NS, 300, PATHS)
    causes = rank(base, win, GRAPH)
    assert causes and causes[0][0] == "mid", causes
    assert causes[0][1] > JUST_UNUSUAL


def test_errors_injected_in_front_of_a_pod_are_the_pods_not_its_only_callers() -> None:
    # A proxy in front of "front" rewrites 30% of its responses to HTTP 500 after front answered
    # without error. Its one caller, "proxy", has no other edge, and front has four (it calls
    # three services): shared between the two ends, the failing edge would be proxy's. A call
    # answered without error that fails at the caller can only be the callee's side.
    paths: list[list[Call]] = [[("proxy", "front", 2.0), ("front", "a", 1.0), ("front", "b", 1.0), ("front", "c", 1.0)]]
    gen = Requests(2)
    base = gen.window(0, 600, paths, fan=True)
    gen.answered_error = lambda caller, callee: callee == "front" and gen.rng.random() < 0.3
    win = gen.window(1000 * NS, 300, paths, fan=True)
    causes = rank(base, win, {"proxy": {"front"}, "front": {"a", "b", "c"}})
    assert causes and causes[0][0] == "front", causes
    assert "proxy" not in [s for s, _ in causes], causes


def test_a_slow_statement_made_by_few_requests_is_found() -> None:
    # "orders" serves every request in 5 ms; 8% of them also run "SELECT audit" (2 ms), which a
    # missing index makes 10x slower. Pooled with the busy operation, p90 does not move and the
    # share of slow requests barely does; the statement alone shifted 10x.
    gen = Requests(3)

    def window(t0: int, n: int, select_ms: float) -> list[RSpan]:
        spans: list[RSpan] = []
        for i in range(n):
            db = ("SELECT audit", select_ms) if gen.rng.random() < 0.08 else None
            spans += gen.request(t0 + i * NS, [("web", "orders", 5.0)], db=db)
            spans += gen.request(t0 + i * NS, [("web", "search", 4.0)])
        return spans

    causes = rank(window(0, 600, 2.0), window(1000 * NS, 300, 20.0), {"web": {"orders", "search"}})
    assert causes and causes[0][0] == "orders", causes


def test_thin_packet_loss_is_found_on_all_of_a_pods_edges_together() -> None:
    # 5% loss on "notify", a quiet service: called once a request by "order", "billing" and
    # "admin", and its own statement to its database. On each edge alone the few calls that waited
    # a retransmission timeout are not significant in 60 requests; over all of notify's edges, both
    # ways, they are. "order" shares one of those edges and has three others that did not change.
    gen = Requests(5)

    def window(t0: int, n: int, loss: float) -> list[RSpan]:
        gen.wire = lambda caller, callee: (
            0.6 + (200.0 if "notify" in (caller, callee) and gen.rng.random() < loss else 0)
        )
        spans: list[RSpan] = []
        for i in range(n):
            t = t0 + i * NS
            query = ("SELECT notify", 200.0 if gen.rng.random() < loss else 2.0)
            spans += gen.request(t, [("order", "notify", 2.0)], db=query)
            spans += gen.request(t, [("billing", "notify", 2.0)])
            spans += gen.request(t, [("admin", "notify", 2.0)])
            spans += gen.request(t, [("order", "a", 2.0), ("order", "b", 1.0), ("order", "c", 3.0)], fan=True)
        return spans

    graph = {"order": {"notify", "a", "b", "c"}, "billing": {"notify"}, "admin": {"notify"}}
    causes = rank(window(0, 600, 0.0), window(1000 * NS, 60, 0.05), graph)
    assert causes and causes[0][0] == "notify", causes


def test_a_fault_free_window_gets_no_tail_edge_or_single_operation_evidence() -> None:
    # The same requests with nothing injected (and the usual 1% of calls slow for no reason): the
    # tail and single-operation tests must not turn chance into a cause.
    gen = Requests(4)
    gen.wire = lambda caller, callee: 0.6 * (5.0 if gen.rng.random() < 0.01 else 1.0)
    base = gen.window(0, 600, PATHS)
    win = gen.window(1000 * NS, 300, PATHS)
    assert all(score <= JUST_UNUSUAL for _, score in rank(base, win, GRAPH))
