"""Fault kinds (the OpenTelemetry Demo's feature flags plus two of ours) and the board of active faults.

The board is the only shared mutable state between the load loop, the schedule and the control API,
so it holds a lock; the simulation asks it "is kind K on for service S at time t" for every call.
Every activation and deactivation is reported to a label callback: that is the ground truth the
analysis is scored against, so it is emitted from the same place that changes behaviour.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from kokanee.demo.topology import SERVICES


@dataclass(frozen=True)
class FaultKind:
    name: str
    default_service: str
    default_value: float
    value_help: str  # what `value` means for this kind
    flag: str  # the OpenTelemetry Demo feature flag it mirrors, "" where the demo has none
    any_service: bool = False  # the target service can be chosen


FAULT_KINDS: dict[str, FaultKind] = {
    k.name: k
    for k in (
        FaultKind("payment_failure", "payment", 0.5, "share of charges that fail (0-1)", "paymentFailure"),
        FaultKind("cart_failure", "cart", 1.0, "share of EmptyCart calls that fail (0-1)", "cartFailure"),
        FaultKind("ad_high_cpu", "ad", 4.0, "factor on ad's processing time at full effect", "adHighCpu"),
        FaultKind(
            "product_catalog_failure",
            "product-catalog",
            1.0,
            "share of GetProduct calls for product OLJCESPC7Z that fail (0-1)",
            "productCatalogFailure",
        ),
        FaultKind(
            "recommendation_cache_failure",
            "recommendation",
            40.0,
            "ms of extra latency gained per minute the leak runs",
            "recommendationCacheFailure",
        ),
        FaultKind(
            "kafka_queue_problems",
            "kafka",
            30.0,
            "seconds of consumer lag gained per minute",
            "kafkaQueueProblems",
        ),
        FaultKind("image_slow_load", "image-provider", 5000.0, "ms added to each image", "imageSlowLoad"),
        FaultKind(
            "homepage_flood",
            "frontend",
            5.0,
            "extra homepage visits per journey",
            "loadGeneratorFloodHomepage",
        ),
        FaultKind("network_delay", "cart", 250.0, "ms of round-trip delay on calls into the service", "", True),
        FaultKind("cpu_contention", "currency", 4.0, "factor on the service's own processing time", "", True),
    )
}


@dataclass(frozen=True)
class ActiveFault:
    kind: str
    service: str
    value: float
    start_ns: int
    end_ns: int | None = None  # when it stopped; None while it runs
    source: str = "schedule"  # "schedule" or "manual"

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.service)

    def detail(self, run_id: str) -> str:
        spec = FAULT_KINDS[self.kind]
        flag = f" (OpenTelemetry Demo flag {spec.flag})" if spec.flag else ""
        return f"{self.kind}{flag}: {spec.value_help} = {self.value:g}; {self.source}; run={run_id}"


def resolve(kind: str, service: str | None, value: float | None) -> tuple[str, float]:
    """The target service and value for `kind`, with defaults; raises ValueError naming the bad part."""
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; known kinds: {', '.join(FAULT_KINDS)}")
    spec = FAULT_KINDS[kind]
    target = service or spec.default_service
    if target != spec.default_service and not spec.any_service:
        raise ValueError(f"fault {kind} always targets {spec.default_service}, not {target!r}")
    if spec.any_service and target not in SERVICES:
        raise ValueError(f"unknown service {target!r} for {kind}; known services: {', '.join(SERVICES)}")
    return target, spec.default_value if value is None else value


OnChange = Callable[[ActiveFault], None]


class FaultBoard:
    """Active faults keyed by (kind, service). `on_change` sees each start (end_ns None) and each stop."""

    def __init__(self, on_change: OnChange | None = None) -> None:
        self._lock = threading.Lock()
        self._active: dict[tuple[str, str], ActiveFault] = {}
        self._on_change = on_change

    def start(
        self,
        kind: str,
        at_ns: int,
        service: str | None = None,
        value: float | None = None,
        source: str = "schedule",
    ) -> ActiveFault:
        target, val = resolve(kind, service, value)
        fault = ActiveFault(kind, target, val, at_ns, None, source)
        with self._lock:
            previous = self._active.get(fault.key)
            if previous is not None:
                return previous  # already on: keep the original start, which is the truth
            self._active[fault.key] = fault
        if self._on_change:
            self._on_change(fault)
        return fault

    def stop(self, kind: str, at_ns: int, service: str | None = None) -> list[ActiveFault]:
        """Stops `kind` on `service`, or on every service when None; returns the stopped faults."""
        with self._lock:
            keys = [k for k in self._active if k[0] == kind and (service is None or k[1] == service)]
            popped = [self._active.pop(k) for k in keys]
        stopped = [replace(f, end_ns=max(at_ns, f.start_ns)) for f in popped]
        for fault in stopped:
            if self._on_change:
                self._on_change(fault)
        return stopped

    def stop_all(self, at_ns: int) -> list[ActiveFault]:
        with self._lock:
            kinds = {k[0] for k in self._active}
        return [f for kind in sorted(kinds) for f in self.stop(kind, at_ns)]

    def active(self) -> list[ActiveFault]:
        with self._lock:
            return sorted(self._active.values(), key=lambda f: (f.start_ns, f.kind))

    def get(self, kind: str, service: str) -> ActiveFault | None:
        # A dict read is atomic under the GIL; the lock only orders writers.
        return self._active.get((kind, service))

    def value(self, kind: str, service: str) -> float | None:
        fault = self._active.get((kind, service))
        return None if fault is None else fault.value

    def minutes_on(self, kind: str, service: str, now_ns: int) -> float:
        """How long `kind` has been on for `service` at `now_ns`, in minutes (0 when off)."""
        fault = self._active.get((kind, service))
        return 0.0 if fault is None else max(0.0, (now_ns - fault.start_ns) / 60e9)
