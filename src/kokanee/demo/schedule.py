"""Fault schedules: `--fault KIND[/SERVICE][=VALUE][@[+]START[:DURATION]]`, offsets from the demo's start.

Examples: `payment_failure@+5m:10m` (at 5 minutes, for 10), `network_delay/cart=400@+1m:2m`
(400 ms on calls into cart), `ad_high_cpu` (from the start to the end). Durations are `90`, `90s`,
`5m`, `1h`, `1m30s`, `250ms`. A run that starts with history (`DemoConfig.history_s`) may place a
fault in it: `network_delay/cart@-20m:4m` runs from 20 minutes before the start, for 4.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kokanee.demo.faults import FaultBoard, resolve
from kokanee.store.timeparse import duration_seconds

_SPEC = re.compile(
    r"^(?P<kind>[a-z_]+)(?:/(?P<service>[a-z0-9-]+))?(?:=(?P<value>\d+(?:\.\d+)?))?"
    r"(?:@(?P<sign>[+-])?(?P<start>[0-9.a-z]+)(?::(?P<duration>[0-9.a-z]+))?)?$"
)

# What `make demo` and a bare `kokanee demo` run: two faults in the first minutes, each long enough to
# show in per-minute aggregates and short enough that recovery is visible too.
DEFAULT_SCHEDULE: tuple[str, ...] = ("payment_failure@+1m:3m", "network_delay/cart@+3m:3m")


def parse_duration(text: str) -> float:
    """Seconds in `text` (`90`, `1m30s`, `250ms`): kokanee's one duration grammar; ValueError naming it."""
    return duration_seconds(text)


@dataclass(frozen=True)
class ScheduledFault:
    kind: str
    service: str
    value: float
    start_s: float  # offset from the demo's start; negative: in the history before it
    duration_s: float | None  # None: until the demo ends

    @property
    def end_s(self) -> float | None:
        return None if self.duration_s is None else self.start_s + self.duration_s


def parse_fault(spec: str) -> ScheduledFault:
    """One `--fault` value; raises ValueError with a sentence saying what was wrong."""
    m = _SPEC.match(spec.strip())
    if m is None:
        raise ValueError(
            f"bad --fault {spec!r}: expected KIND[/SERVICE][=VALUE][@[+|-]START[:DURATION]], "
            "e.g. payment_failure@+5m:10m or network_delay/cart=400@+1m:2m"
        )
    service, value = resolve(m["kind"], m["service"], float(m["value"]) if m["value"] else None)
    start = parse_duration(m["start"]) if m["start"] else 0.0
    if m["sign"] == "-":
        start = -start
    duration = parse_duration(m["duration"]) if m["duration"] else None
    if duration is not None and duration <= 0:
        raise ValueError(f"bad --fault {spec!r}: the duration must be positive")
    return ScheduledFault(m["kind"], service, value, start, duration)


class Schedule:
    """Applies scheduled faults to a board as simulated time passes; `tick` is cheap and idempotent."""

    def __init__(self, faults: list[ScheduledFault], origin_ns: int) -> None:
        self._pending = sorted(faults, key=lambda f: f.start_s)
        self._running: list[ScheduledFault] = []
        self._origin_ns = origin_ns

    def _at(self, offset_s: float) -> int:
        return self._origin_ns + int(offset_s * 1e9)

    def tick(self, board: FaultBoard, now_ns: int) -> None:
        # Stop before start, so that a fault scheduled back to back with itself restarts cleanly.
        for fault in list(self._running):
            end = fault.end_s
            if end is not None and self._at(end) <= now_ns:
                board.stop(fault.kind, self._at(end), fault.service)
                self._running.remove(fault)
        while self._pending and self._at(self._pending[0].start_s) <= now_ns:
            fault = self._pending.pop(0)
            end = fault.end_s
            if end is not None and self._at(end) <= now_ns:
                # Started and ended between two ticks (a very short fault at a low rate): record both.
                board.start(fault.kind, self._at(fault.start_s), fault.service, fault.value)
                board.stop(fault.kind, self._at(end), fault.service)
                continue
            board.start(fault.kind, self._at(fault.start_s), fault.service, fault.value)
            self._running.append(fault)

    def next_change_ns(self) -> int | None:
        """When the schedule next changes something, so the load loop can tick there exactly."""
        times = [self._at(f.start_s) for f in self._pending[:1]]
        times += [self._at(e) for f in self._running if (e := f.end_s) is not None]
        return min(times) if times else None
