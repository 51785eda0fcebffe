"""Fault kinds as SREs inject them, and what each does to one pod's traffic.

Semantics follow Chaos Mesh and LitmusChaos:

- `network_delay` (NetworkChaos delay, netem on the pod's interface): every packet *leaving* the
  pod waits `value` ms: its callers' calls into it return late, and its own calls to its callees
  and databases go out late. The pod's own spans do not see it.
- `packet_loss` (NetworkChaos loss): a packet leaving the pod is lost with probability `value`;
  TCP retransmits after 200 ms (doubling); three losses in a row fail the call.
- `cpu_stress` (StressChaos cpu): stressors compete for the pod's CPU: its own work takes `value`
  times longer, its CPU use rises.
- `memory_stress` (StressChaos memory / Litmus pod-memory-hog): memory climbs towards its limit;
  a service with a garbage collector pauses (a share of requests wait `value` ms more), and logs it.
- `pod_kill` (PodChaos pod-kill): the pod is gone for `value` s (calls into it are refused), then
  starts cold: its own work is several times slower, decaying over a minute, and it logs its start.
- `exception` (Litmus/JVM chaos exception on one method): one operation throws on a share
  `value` of its calls: its span fails, an error line is logged, callers fail in turn.
- `slow_query` (a slow database query: a lock, a missing index): one of the service's database
  statements takes `value` times longer.
- `http_errors` (Litmus pod-http-status-code): the pod's responses are rewritten to HTTP 500 on a
  share `value` of calls by a proxy in front of it: its callers see errors, the service's own spans
  and logs say nothing.
- `return_value` (ChaosBlade jvm return): one method returns a value without running its body on
  a share `value` of its calls (a null, an empty list). Where the method is the operation's
  handler, the body's work, calls and statements are skipped and it answers fast, without error;
  its caller fails on what it got (a NullPointerException, logged where the caller throws, naming
  no one). Where it is `internal` to the operation, the operation fails on it in its own code:
  at once, or, half the time, after passing the value on in its first call, which its callee
  answers at once without doing its work (nothing to look up).

The label is always the service of the pod the fault was injected on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

NS = 1_000_000_000

KINDS: tuple[str, ...] = (
    "network_delay",
    "packet_loss",
    "cpu_stress",
    "memory_stress",
    "pod_kill",
    "exception",
    "slow_query",
    "http_errors",
    "return_value",
)


@dataclass(frozen=True)
class ChaosFault:
    kind: str
    service: str
    start_ns: int
    end_ns: int
    value: float
    operation: str = ""  # exception, return_value: the operation; slow_query: the database
    internal: bool = False  # return_value: a method inside the operation, not its handler

    def on(self, t: int) -> bool:
        return self.start_ns <= t < self.end_ns

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "service": self.service,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "value": self.value,
            "operation": self.operation,
            "internal": self.internal,
        }


def draw_value(kind: str, rng: random.Random) -> float:
    """A fault's strength, drawn wide: some faults are blatant, some subtle."""
    return {
        "network_delay": lambda: rng.choice((40.0, 80.0, 150.0, 300.0, 600.0)),
        "packet_loss": lambda: rng.choice((0.05, 0.1, 0.2, 0.3)),
        "cpu_stress": lambda: rng.choice((2.0, 3.0, 5.0, 8.0)),
        "memory_stress": lambda: rng.choice((150.0, 300.0, 600.0)),
        "pod_kill": lambda: rng.choice((15.0, 30.0, 45.0)),
        "exception": lambda: rng.choice((0.2, 0.5, 1.0)),
        "slow_query": lambda: rng.choice((5.0, 10.0, 30.0)),
        "http_errors": lambda: rng.choice((0.1, 0.3, 0.6)),
        "return_value": lambda: rng.choice((0.2, 0.5, 1.0)),
    }[kind]()


class Board:
    """The faults of one scenario, asked per service and time by the simulation."""

    def __init__(self, faults: list[ChaosFault]) -> None:
        self.faults = faults
        self._by_service: dict[str, list[ChaosFault]] = {}
        for f in faults:
            self._by_service.setdefault(f.service, []).append(f)

    def active(self, service: str, kind: str, t: int) -> ChaosFault | None:
        for f in self._by_service.get(service, ()):
            if f.kind == kind and f.on(t):
                return f
        return None

    def delay_ns(self, sender: str, t: int) -> int:
        f = self.active(sender, "network_delay", t)
        return int(f.value * 1e6) if f else 0

    def loss(self, sender: str, t: int) -> float:
        f = self.active(sender, "packet_loss", t)
        return f.value if f else 0.0

    def cpu_factor(self, service: str, t: int) -> float:
        factor = 1.0
        if (f := self.active(service, "cpu_stress", t)) is not None:
            factor *= f.value
        # A pod that starts again after a kill: cold caches and a JIT warming up.
        for f in self._by_service.get(service, ()):
            if f.kind == "pod_kill":
                up = f.start_ns + int(f.value * NS)
                if up <= t < up + 60 * NS:
                    factor *= 1.0 + 6.0 * (1.0 - (t - up) / (60 * NS))
        return factor

    def down(self, service: str, t: int) -> bool:
        f = self.active(service, "pod_kill", t)
        return f is not None and t < f.start_ns + int(f.value * NS)

    def memory_pressure(self, service: str, t: int) -> float:
        """0 .. 1: how far towards its limit the stressor has pushed the pod's memory."""
        f = self.active(service, "memory_stress", t)
        return 0.0 if f is None else min(1.0, 0.3 + (t - f.start_ns) / (60 * NS))
