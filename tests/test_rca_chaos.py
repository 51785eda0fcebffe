"""The chaos suite's faults do to a pod's traffic what Chaos Mesh / Litmus do, on the simulator's
own records (no store): a network delay slows calls into the pod and its own calls out, a killed
pod has no spans until it restarts cold, injected HTTP errors show only at the callers, a recording
without span status keeps every failure in an ERROR log line; and a scenario's schedule is
reproducible and labelled."""

from __future__ import annotations

import random
import statistics

from opentelemetry.proto.trace.v1.trace_pb2 import Status

from kokanee.demo.chaos.faults import NS, Board, ChaosFault
from kokanee.demo.chaos.otlp import traces_request
from kokanee.demo.chaos.sim import CLIENT, CONSUMER, SERVER, Simulator, SpanRec
from kokanee.demo.chaos.suite import plan
from kokanee.demo.chaos.topologies import Topology, shop, topologies


def _run(faults: list[ChaosFault], seconds: int = 120, rate: float = 20.0) -> list[SpanRec]:
    rng = random.Random(5)
    sim = Simulator(shop(), Board(faults), rng, [])
    t = 0
    while t < seconds * NS:
        t += int(rng.expovariate(rate) * NS)
        sim.request(t)
    return sim.spans


def _outside_ms(spans: list[SpanRec], caller: str, callee: str) -> float:
    """Median time calls from `caller` into `callee` spend outside the callee's server span."""
    by_id = {s.span_id: s for s in spans}
    outside = []
    for s in spans:
        parent = by_id.get(s.parent_id)
        if s.kind == SERVER and s.service == callee and parent is not None and parent.service == caller:
            outside.append(((parent.end - parent.start) - (s.end - s.start)) / 1e6)
    return statistics.median(outside)


def test_a_network_delay_on_a_pod_slows_calls_into_it_and_its_own_calls_out() -> None:
    delay = ChaosFault("network_delay", "product-catalog", 0, 200 * NS, 100.0)
    calm, delayed = _run([]), _run([delay])
    # Callers' calls into the pod: its responses leave late.
    assert _outside_ms(delayed, "frontend", "product-catalog") > _outside_ms(calm, "frontend", "product-catalog") + 80
    # The pod's own calls out (its database): its requests leave late.
    db = [s.end - s.start for s in delayed if s.service == "product-catalog" and s.kind == CLIENT]
    db_calm = [s.end - s.start for s in calm if s.service == "product-catalog" and s.kind == CLIENT]
    assert statistics.median(db) > statistics.median(db_calm) + 80e6
    # A neighbour's calls that do not touch the pod are as fast as before.
    assert _outside_ms(delayed, "frontend", "currency") < _outside_ms(calm, "frontend", "currency") + 5


def test_a_killed_pod_has_no_spans_then_starts_cold() -> None:
    kill = ChaosFault("pod_kill", "cart", 30 * NS, 200 * NS, 30.0)
    spans = _run([kill])
    cart = [s for s in spans if s.service == "cart" and s.kind == SERVER]
    assert not [s for s in cart if 30 * NS <= s.start < 60 * NS]
    refused = [s for s in spans if s.kind == CLIENT and "connection refused by cart" in s.error]
    assert refused and all(30 * NS <= s.start < 60 * NS for s in refused)
    before = [s.end - s.start for s in cart if s.start < 30 * NS]
    cold = [s.end - s.start for s in cart if 60 * NS <= s.start < 70 * NS]
    assert statistics.median(cold) > 3 * statistics.median(before)


def test_injected_http_errors_show_at_the_callers_only() -> None:
    spans = _run([ChaosFault("http_errors", "currency", 0, 200 * NS, 0.5)])
    assert not [s for s in spans if s.service == "currency" and s.error]
    assert [s for s in spans if s.kind == CLIENT and s.error.startswith("HTTP 500 from currency")]


def test_a_wrong_return_value_skips_the_operation_and_fails_its_caller() -> None:
    # product-catalog's GetProduct returns without running its body: no statement, no error there;
    # its callers throw on what they got, in lines that name no other service.
    rng = random.Random(5)
    fault = ChaosFault("return_value", "product-catalog", 0, 200 * NS, 1.0, "GetProduct")
    sim = Simulator(shop(), Board([fault]), rng, [])
    for i in range(400):
        sim.request(i * NS // 4)
    by_id = {s.span_id: s for s in sim.spans}
    served = [s for s in sim.spans if s.service == "product-catalog" and s.name == "GetProduct"]
    assert served and not [s for s in served if s.error]
    calm = Simulator(shop(), Board([]), random.Random(5), [])
    for i in range(400):
        calm.request(i * NS // 4)
    usual = [s.end - s.start for s in calm.spans if s.service == "product-catalog" and s.name == "GetProduct"]
    assert statistics.median(s.end - s.start for s in served) < statistics.median(usual) / 2  # no body: fast
    assert not [s for s in sim.spans if s.parent_id in {p.span_id for p in served}]
    listed = [s for s in sim.spans if s.service == "product-catalog" and s.name == "ListProducts"]
    assert {by_id[s.parent_id].service for s in sim.spans if s.parent_id in {p.span_id for p in listed}} == {
        "product-catalog"
    }  # the other operation still queries its database
    thrown = [s for s in sim.spans if s.kind == SERVER and s.error == "java.lang.NullPointerException"]
    assert {s.service for s in thrown} == {"frontend", "checkout"}  # the callers of GetProduct
    assert not [s for s in sim.spans if s.kind == CLIENT and s.error and "product-catalog" in s.error]
    assert not [log for log in sim.logs if log.severity >= 17 and "product-catalog" in log.body]


def test_a_wrong_value_inside_an_operation_fails_it_and_sometimes_reaches_its_first_callee() -> None:
    # An internal method of frontend's product page returns null: the page throws in frontend's own
    # code, at once or after passing the value to its first call (product-catalog's GetProduct),
    # which answers at once without its query; GetProduct's other callers are served as usual.
    fault = ChaosFault("return_value", "frontend", 0, 200 * NS, 1.0, "GET /api/products", internal=True)
    sim = Simulator(shop(), Board([fault]), random.Random(5), [])
    for i in range(400):
        sim.request(i * NS // 4)
    by_id = {s.span_id: s for s in sim.spans}

    def caller(s: SpanRec) -> SpanRec:
        return by_id[by_id[s.parent_id].parent_id]  # the server span above the client span

    pages = [s for s in sim.spans if s.service == "frontend" and s.name == "GET /api/products" and s.kind == SERVER]
    assert pages and all(s.error == "java.lang.NullPointerException" for s in pages)
    thrown = {s.service for s in sim.spans if s.kind == SERVER and s.error == "java.lang.NullPointerException"}
    assert thrown == {"frontend"}
    looked_up = {s.parent_id for s in sim.spans if s.kind == CLIENT and s.name.startswith("SELECT")}
    got = [s for s in sim.spans if s.service == "product-catalog" and s.name == "GetProduct"]
    passed_on = [s for s in got if caller(s) in pages]
    assert 0.25 * len(pages) < len(passed_on) < 0.75 * len(pages)  # half passed the value on
    assert not [s for s in passed_on if s.span_id in looked_up]  # answered without its query
    others = [s for s in got if caller(s) not in pages]
    assert others and all(s.span_id in looked_up for s in others)
    assert not [s for s in sim.spans if s.kind == SERVER and s.name == "Convert" and caller(s) in pages]


def test_a_statusless_recording_keeps_each_failure_in_an_error_log_line_only() -> None:
    """Instrumentation that records no span status (SkyWalking-converted traces): the exported spans
    say nothing of the exception, and each failed operation has its service's ERROR line, in its
    span. Some scenarios of every half are drawn so (the label says which)."""
    rng = random.Random(5)
    sim = Simulator(shop(), Board([ChaosFault("exception", "cart", 0, 200 * NS, 0.5, "GetCart")]), rng, [])
    for i in range(400):
        sim.request(i * NS // 4)
    failed = [s for s in sim.spans if s.error]
    assert [s for s in failed if s.service == "cart" and s.kind == SERVER]
    exported = traces_request(sim.spans, "shop", status=False)
    codes = {sp.status.code for rs in exported.resource_spans for ss in rs.scope_spans for sp in ss.spans}
    assert codes == {Status.STATUS_CODE_UNSET}
    errors = {(log.service, log.span_id) for log in sim.logs if log.severity >= 17}
    for s in failed:
        if s.kind in (SERVER, CONSUMER):
            assert (s.service, s.span_id) in errors, s
    with_status = traces_request(sim.spans, "shop")
    assert any(
        sp.status.code == Status.STATUS_CODE_ERROR
        for rs in with_status.resource_spans
        for ss in rs.scope_spans
        for sp in ss.spans
    )
    drawn = [seed for topo in topologies() for seed in range(4) if plan(topo, seed, 0, 2.0).labels()["statusless"]]
    assert {seed < 2 for seed in drawn} == {True, False}  # the train half (seeds 0-1) and the test half


def test_scenarios_are_reproducible_and_labelled() -> None:
    for topo in topologies():
        a, b = plan(topo, 3, 0, 2.0), plan(topo, 3, 0, 2.0)
        assert a.labels() == b.labels()
        assert len(a.faults) == 8 and len(a.clean) == 2
        assert all(f.service in topo.services for f in a.faults)
    assert 15 <= len(topologies()[1].services) <= 40 and 15 <= len(topologies()[2].services) <= 40


def _calls_per_request(topo: Topology, requests: int = 2000) -> dict[tuple[str, str], float]:
    """What fault-free traffic runs, per user request, counted on the simulator's own spans:
    (service, operation) for the operations served, (service, "db:" + database) for statements."""
    rng = random.Random(7)
    sim = Simulator(topo, Board([]), rng, [])
    for i in range(requests):
        sim.request(i * NS)
    counts: dict[tuple[str, str], float] = {}
    for s in sim.spans:
        if s.kind in (SERVER, CONSUMER):
            key = (s.service, s.name)
        elif s.kind == CLIENT and "db.name" in s.attrs:
            key = (s.service, "db:" + s.attrs["db.name"])
        else:
            continue
        counts[key] = counts.get(key, 0.0) + 1 / requests
    return counts


def test_every_planned_fault_touches_traffic_that_requests_run() -> None:
    """A label nobody could observe measures nothing: every fault's pod serves requests, an
    exception's or a wrong return value's operation is called and a slow query's statement runs (at least 1 in 20 user
    requests), for every seed the bench uses and more."""
    least = 0.05
    for topo in topologies():
        calls = _calls_per_request(topo)
        served: dict[str, float] = {}
        for (service, what), n in calls.items():
            if not what.startswith("db:"):
                served[service] = served.get(service, 0.0) + n
        for seed in range(8):
            for f in plan(topo, seed, 0, 2.0).faults:
                where = f"{topo.name} seed {seed}: {f.kind} on {f.service} {f.operation}"
                assert served.get(f.service, 0.0) >= least, where
                if f.kind in ("exception", "return_value"):
                    assert calls.get((f.service, f.operation), 0.0) >= least, where
                if f.kind == "slow_query":
                    assert calls.get((f.service, "db:" + f.operation), 0.0) >= least, where
