"""What the shop's gauges read: CPU busy time, memory, cache hits, Kafka lag, all in simulated time.

The simulation writes here as it walks calls; metric readers call the `*_now` methods from their own
threads. Values are plain numbers and the readers copy dicts before iterating, so the GIL is enough.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kokanee.demo.faults import FaultBoard
from kokanee.demo.topology import BASE_MEMORY_MIB, KAFKA_CONSUMERS, SERVICES

# Cores each simulated service runs on: utilization is busy time over elapsed time times this.
_CORES = 2.0
_MIB = 1024 * 1024


@dataclass
class _Cache:
    hits: int = 0
    misses: int = 0
    last_ratio: float = 1.0


@dataclass
class ShopState:
    board: FaultBoard
    now_ns: int = 0
    lag_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(KAFKA_CONSUMERS, 0.0))
    orders_per_s: float = 0.2
    _busy_ns: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SERVICES, 0))
    _cpu_since_ns: dict[str, int] = field(default_factory=dict)
    _caches: dict[str, _Cache] = field(default_factory=dict)
    _last_lag_ns: int = 0

    def busy(self, service: str, ns: int) -> None:
        self._busy_ns[service] = self._busy_ns.get(service, 0) + ns

    def cache(self, name: str, hit: bool) -> None:
        c = self._caches.setdefault(name, _Cache())
        if hit:
            c.hits += 1
        else:
            c.misses += 1

    def advance_lag(self, now_ns: int) -> None:
        """Grows consumer lag while kafka_queue_problems is on; drains it twice as fast once it is off."""
        dt_s = max(0.0, (now_ns - self._last_lag_ns) / 1e9) if self._last_lag_ns else 0.0
        self._last_lag_ns = now_ns
        growth = self.board.value("kafka_queue_problems", "kafka")
        for group in list(self.lag_s):
            if growth is not None:
                self.lag_s[group] += growth / 60.0 * dt_s
            else:
                self.lag_s[group] = max(0.0, self.lag_s[group] - 2.0 * dt_s)

    def cpu_utilization_now(self, service: str) -> float:
        now = self.now_ns
        since = self._cpu_since_ns.get(service)
        busy = self._busy_ns.get(service, 0)
        self._busy_ns[service] = 0
        self._cpu_since_ns[service] = now
        base = 0.02
        if since is not None and now > since:
            base += busy / ((now - since) * _CORES)
        # ad_high_cpu is a busy loop in the real demo: the process burns CPU beyond what requests explain.
        if self.board.get("ad_high_cpu", service) is not None:
            base += 0.75
        contention = self.board.value("cpu_contention", service)
        if contention is not None:
            base += 0.15 * contention
        return min(1.0, base)

    def memory_bytes_now(self, service: str) -> int:
        mib = BASE_MEMORY_MIB.get(service, 50.0)
        # recommendationCacheFailure leaks: the cache grows without bound, ~25 MiB per minute.
        mib += 25.0 * self.board.minutes_on("recommendation_cache_failure", service, self.now_ns)
        return int(mib * _MIB)

    def cache_hit_ratio_now(self, name: str) -> float | None:
        c = self._caches.get(name)
        if c is None:
            return None
        if c.hits + c.misses:
            c.last_ratio = c.hits / (c.hits + c.misses)
            c.hits = c.misses = 0
        return c.last_ratio

    def cache_names(self) -> list[str]:
        return list(self._caches)

    def lag_messages_now(self, group: str) -> int:
        # Lag in messages is lag in time times the order rate, plus the one in flight.
        return round(self.lag_s.get(group, 0.0) * max(self.orders_per_s, 0.05)) + 1
