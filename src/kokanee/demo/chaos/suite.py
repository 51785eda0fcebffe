"""Chaos scenarios: a topology, a seed, a schedule of labelled faults and fault-free windows.

A scenario runs `REFERENCE_S` of clean traffic (the reference stretch a protocol with a given
baseline uses), then `slots` slots of `SLOT_S`: in each, a fault of a random kind on a random
service for `FAULT_S` (or nothing: a fault-free window), then quiet until the next slot. A fault
sometimes hits the previous fault's service again, as real faults repeat. Traffic follows a daily
shape (the scenario starts at a random hour), and a couple of services drift: their database
statements slow through the day as tables grow. Each scenario has its own day, so scenarios in one
store never overlap.

Some scenarios (`STATUSLESS_SHARE`, drawn per scenario from its seed) are recorded by
instrumentation that sets no span status, as traces converted from SkyWalking or a hand-rolled
tracer are: a failure then shows only in the ERROR lines the services log (an exception where it is
thrown, a failed call at its caller), never in a span.

The labels are returned (and written by the bench to a manifest): the store holds telemetry only.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kokanee.demo.chaos.faults import KINDS, NS, Board, ChaosFault, draw_value
from kokanee.demo.chaos.otlp import MetricRec, logs_request, metrics_request, traces_request
from kokanee.demo.chaos.sim import Drift, Simulator
from kokanee.demo.chaos.topologies import Topology
from kokanee.ingest.types import Signal

T0_S = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY_S = 86_400
REFERENCE_S = 12 * 60
SLOT_S = 6 * 60
FAULT_S = 3 * 60
METRIC_STEP_S = 15
CHUNK_S = 60  # telemetry is exported a minute at a time
MIN_DB_CALLS = 0.05  # a slowed statement runs at least this often per user request
STATUSLESS_SHARE = 1 / 3  # of scenarios whose spans carry no status


@dataclass
class Scenario:
    topology: Topology
    seed: int
    index: int  # its day in the store
    rate: float  # mean requests per second
    slots: int = 10
    clean_slots: int = 2
    faults: list[ChaosFault] = field(default_factory=list)
    clean: list[tuple[int, int]] = field(default_factory=list)
    drifts: list[Drift] = field(default_factory=list)
    start_ns: int = 0
    statusless: bool = False  # spans carry no status: failures show in ERROR log lines only

    @property
    def end_ns(self) -> int:
        return self.start_ns + (REFERENCE_S + self.slots * SLOT_S) * NS

    @property
    def reference(self) -> tuple[int, int]:
        """The scenario's clean stretch (after a minute of warm-up)."""
        return self.start_ns + 60 * NS, self.start_ns + REFERENCE_S * NS

    def labels(self) -> dict[str, Any]:
        return {
            "topology": self.topology.name,
            "seed": self.seed,
            "reference": list(self.reference),
            "faults": [f.to_json() for f in self.faults],
            "clean": [list(w) for w in self.clean],
            "drifts": [{"service": d.service, "per_hour": d.per_hour} for d in self.drifts],
            "statusless": self.statusless,
        }


def _reach(topo: Topology) -> dict[tuple[str, str], float]:
    """Expected calls of each (service, operation) per user request."""
    total = sum(w for _, _, w in topo.entries)
    calls: dict[tuple[str, str], float] = {}

    def walk(service: str, op: str, weight: float, depth: int) -> None:
        if depth > 12 or weight < 1e-3:
            return
        calls[(service, op)] = calls.get((service, op), 0.0) + weight
        for step in topo.services[service][op].steps:
            if step.kind in ("rpc", "queue"):
                walk(step.target, step.operation, weight * step.probability, depth + 1)

    for service, op, w in topo.entries:
        walk(service, op, w / total, 0)
    return calls


def db_calls(topo: Topology, reach: dict[tuple[str, str], float]) -> dict[tuple[str, str], float]:
    """Expected statements of each (service, database) per user request: only a statement that
    requests run can be slowed where anyone sees it."""
    out: dict[tuple[str, str], float] = {}
    for service, ops in topo.services.items():
        for name, op in ops.items():
            for st in op.steps:
                if st.kind == "db":
                    key = (service, st.target)
                    out[key] = out.get(key, 0.0) + reach.get((service, name), 0.0) * st.probability
    return out


def plan(topo: Topology, seed: int, index: int, rate: float, slots: int = 10, clean_slots: int = 2) -> Scenario:
    """The scenario's schedule, drawn from `seed`."""
    rng = random.Random(f"{topo.name}/{seed}")
    sc = Scenario(topo, seed, index, rate, slots, clean_slots)
    # Its own stream, so the schedule below is the one the suite drew before this property existed.
    sc.statusless = random.Random(f"{topo.name}/{seed}/statusless").random() < STATUSLESS_SHARE
    hour = rng.randint(0, 23)
    sc.start_ns = (T0_S + index * DAY_S + hour * 3600) * NS
    reach = _reach(topo)
    per_service: dict[str, float] = {}
    for (service, _), n in reach.items():
        per_service[service] = per_service.get(service, 0.0) + n
    busy = [s for s, n in per_service.items() if n >= 0.2 and s in topo.services]
    entry = {s for s, _, _ in topo.entries}
    targets = [s for s in busy if s not in entry] or busy
    # Drifts are drawn among every database owner, as the suite always drew them (a drift on a
    # statement no request runs is a no-op, not a label).
    db_owners = sorted({s for s in targets for op in topo.services[s].values() for st in op.steps if st.kind == "db"})
    slowable = {(s, db) for (s, db), n in db_calls(topo, reach).items() if n >= MIN_DB_CALLS and s in targets}
    for service in rng.sample(db_owners, min(2, len(db_owners))):
        sc.drifts.append(Drift(service, rng.uniform(0.3, 1.0), sc.start_ns))
    clean = set(rng.sample(range(slots), clean_slots))
    previous = ""
    for slot in range(slots):
        at = sc.start_ns + (REFERENCE_S + slot * SLOT_S) * NS + rng.randint(0, 20) * NS
        if slot in clean:
            sc.clean.append((at, at + FAULT_S * NS))
            continue
        kind = rng.choice(KINDS)
        pool = db_owners if kind == "slow_query" else targets
        service = previous if previous in pool and rng.random() < 0.25 else rng.choice(sorted(pool))
        if kind == "slow_query" and service not in {s for s, _ in slowable}:
            # A label must be observable: redraw among the owners of statements requests run. (Drawn
            # first from every owner, as the suite did, so scenarios whose draw was reached stay the
            # same; the redraw keeps the choice uniform over the reached owners.)
            service = rng.choice(sorted({s for s, _ in slowable}))
        operation = ""
        if kind in ("exception", "return_value"):
            ops = sorted(op for (s, op), n in reach.items() if s == service)
            operation = max(ops, key=lambda op: reach[(service, op)] + rng.random() * 0.1)
        elif kind == "slow_query":
            dbs = sorted(db for s, db in slowable if s == service)
            operation = rng.choice(dbs)
        # Drawn apart, so the schedules drawn before this variant existed stay the same.
        internal = kind == "return_value" and random.Random(f"internal/{topo.name}/{seed}/{slot}").random() < 0.5
        sc.faults.append(ChaosFault(kind, service, at, at + FAULT_S * NS, draw_value(kind, rng), operation, internal))
        previous = service
    return sc


def _traffic(t_ns: int) -> float:
    """The daily shape: busiest mid-afternoon, quietest before dawn (0.5 .. 1.5 of the mean)."""
    hour = (t_ns / NS % DAY_S) / 3600
    return 1.0 + 0.5 * math.sin(2 * math.pi * (hour - 9) / 24)


def generate(sc: Scenario) -> Iterator[tuple[Signal, bytes]]:
    """The scenario's telemetry, a minute at a time, as serialized OTLP export requests."""
    rng = random.Random(f"traffic/{sc.topology.name}/{sc.seed}")
    board = Board(sc.faults)
    sim = Simulator(sc.topology, board, rng, sc.drifts)
    memory = {s: rng.uniform(60, 400) for s in sc.topology.services}
    namespace = sc.topology.name
    t = sc.start_ns
    while t < sc.end_ns:
        chunk_end = min(sc.end_ns, t + CHUNK_S * NS)
        points: list[MetricRec] = []
        step_end = t
        while step_end < chunk_end:
            step_start, step_end = step_end, step_end + METRIC_STEP_S * NS
            arrival = step_start
            lam = sc.rate * _traffic(step_start)
            while True:
                arrival += int(rng.expovariate(lam) * NS)
                if arrival >= step_end:
                    break
                sim.request(arrival)
            points.extend(_metrics(sc, board, sim, memory, step_end, rng))
        yield "traces", traces_request(sim.spans, namespace, status=not sc.statusless).SerializeToString()
        yield "logs", logs_request(sim.logs, namespace).SerializeToString()
        yield "metrics", metrics_request(points, namespace).SerializeToString()
        sim.spans.clear()
        sim.logs.clear()
        t = chunk_end


def _metrics(
    sc: Scenario, board: Board, sim: Simulator, memory: dict[str, float], at: int, rng: random.Random
) -> list[MetricRec]:
    """Each service's CPU and memory at `at`, over the step that ends there (a scrape)."""
    out: list[MetricRec] = []
    for service in sc.topology.services:
        if board.down(service, at):
            sim.busy_ns.pop(service, None)
            continue  # nothing scrapes a pod that is not there
        busy = sim.busy_ns.pop(service, 0) / (METRIC_STEP_S * NS)
        cpu = 0.02 + busy + rng.gauss(0, 0.01)
        if (f := board.active(service, "cpu_stress", at)) is not None:
            cpu += 0.25 * f.value  # the stressors' own use, up to the pod's limit
        mem = memory[service] * rng.uniform(0.98, 1.02) + 1500 * board.memory_pressure(service, at)
        kill = board.active(service, "pod_kill", at)
        if kill is not None:
            mem *= 0.6  # a fresh process
        out.append((service, at, "container.cpu.usage", max(0.0, cpu), "{cpu}"))
        out.append((service, at, "container.memory.working_set", mem * 2**20, "By"))
    return out
