"""Runs the demo: arrivals → journeys → spans, logs and metrics, with the schedule and control API.

Two clocks: in real time (`realtime=True`, the CLI's default) journeys are paced on the wall clock and
run until `duration` or `stop`; in a backfill (`realtime=False`, what tests and bulk loads use) the run
covers [now - duration, now] as fast as the exporters take it, with the same seeded sequence, so the
stored data does not depend on how fast the machine is.

A real-time run may start with `history_s` of history: its simulated clock starts that far in the past
and runs as fast as the exporters take it until it meets the wall clock, then paces on it. It is one
run, so load, caches and counters carry on across the catch-up; the fault schedule counts from the
wall-clock start (a negative offset places a fault in the history). An anomaly detector then has
baselines when the first live fault comes.

    history_s       start        start + fault offsets
    |====catch-up=====|----real time---[fault]----->
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kokanee.demo.control import ControlServer
from kokanee.demo.engine import DemoStats, Sim
from kokanee.demo.faults import ActiveFault, FaultBoard
from kokanee.demo.journeys import CHECKOUT_SHARE, Arrivals, pick_journey, run_journey
from kokanee.demo.labels import LabelWriter
from kokanee.demo.schedule import Schedule, ScheduledFault
from kokanee.demo.state import ShopState
from kokanee.demo.telemetry import Exporters, Telemetry, otlp_exporters

log = logging.getLogger(__name__)

# In a backfill the exporters' queues are drained this often (in spans): back-pressure instead of drops.
_BACKFILL_FLUSH_SPANS = 4000
# A real-time run this far behind the wall clock is catching up, and is flushed like a backfill.
_CATCH_UP_SLACK_NS = 2_000_000_000


class DemoConfig(BaseModel):
    """How a demo run behaves; validated once, frozen after."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint: str = Field(
        default="http://127.0.0.1:4318", description="OTLP endpoint: base URL for http, host:port for grpc."
    )
    protocol: str = Field(
        default="http", pattern="^(http|grpc)$", description="OTLP protocol: http (protobuf) or grpc."
    )
    api_url: str | None = Field(default=None, description="kokanee API for fault labels; None: labels file only.")
    ingest_token: str | None = Field(default=None, description="Bearer token sent with OTLP (the receiver's).")
    api_token: str | None = Field(default=None, description="Bearer token sent with fault labels (an editor's).")
    rate: float = Field(default=5.0, gt=0, description="Mean user journeys per second.")
    duration_s: float | None = Field(default=None, gt=0, description="Seconds to run (simulated); None: until stopped.")
    seed: int = Field(default=1, description="Seeds journeys, latencies, faults' dice and trace ids.")
    faults: tuple[ScheduledFault, ...] = Field(default=(), description="Scheduled faults, offsets from the start.")
    labels_file: Path | None = Field(default=None, description="JSON-lines file of fault labels; None: not written.")
    control_port: int | None = Field(
        default=None, ge=0, le=65535, description="Control API port; 0 picks one; None: off."
    )
    environment: str = Field(default="demo", description="deployment.environment.name of every service.")
    run_id: str = Field(
        default="", description="kokanee.demo.run resource attribute; empty: derived from seed and start."
    )
    realtime: bool = Field(default=True, description="Pace on the wall clock; False backfills [now - duration, now].")
    history_s: float = Field(
        default=0.0,
        ge=0,
        description="Real time only: seconds of history before the start, sent as fast as the endpoint "
        "takes it, so a detector has baselines when the first live fault comes.",
    )
    export_interval_s: float = Field(default=10.0, gt=0, description="Metric export interval, seconds.")
    period_s: float = Field(default=1200.0, gt=0, description="Period of the load swing (a compressed day), seconds.")

    @model_validator(mode="after")
    def _backfill_needs_duration(self) -> DemoConfig:
        if not self.realtime and self.duration_s is None:
            raise ValueError("a backfill (realtime=False) needs duration_s: it covers [now - duration, now]")
        if not self.realtime and self.history_s:
            raise ValueError("history_s is for real-time runs; a backfill already covers [now - duration, now]")
        for f in self.faults:
            if f.start_s < -self.history_s:
                raise ValueError(
                    f"fault {f.kind} starts {-f.start_s:g}s before the start, "
                    f"but the run has {self.history_s:g}s of history"
                )
        return self


class DemoRun:
    """One run; implements the control API's `Controls`. `exporters` replaces OTLP (tests: in-memory)."""

    def __init__(self, config: DemoConfig, exporters: Exporters | None = None) -> None:
        self.config = config
        now = time.time_ns()
        span = int((config.duration_s or 0) * 1e9)
        # start_ns: where the schedule and the duration count from; origin_ns: the first journey.
        self.start_ns = now if config.realtime else now - span
        self.origin_ns = self.start_ns - int(config.history_s * 1e9)
        self.end_ns = self.start_ns + span if config.duration_s else None
        self.run_id = config.run_id or f"{config.seed}-{self.start_ns // 1_000_000_000:x}"
        self.labels = LabelWriter(self.run_id, config.labels_file, config.api_url, config.api_token)
        self.board = FaultBoard(on_change=self.labels)
        self.state = ShopState(self.board, now_ns=self.origin_ns)
        self.rng = random.Random(config.seed)
        exporters = exporters or otlp_exporters(
            config.endpoint, config.protocol, config.export_interval_s, config.ingest_token
        )
        self.telemetry = Telemetry(exporters, self.state, self.run_id, config.environment, config.seed)
        self.sim = Sim(self.telemetry, self.board, self.state, self.rng)
        self.schedule = Schedule(list(config.faults), self.start_ns)
        self.arrivals = Arrivals(self.rng, config.rate, self.origin_ns, config.period_s)
        self.control: ControlServer | None = None
        if config.control_port is not None:
            try:
                self.control = ControlServer(self, config.control_port)
            except OSError as exc:
                # A second demo on the same machine still runs; it just cannot be steered.
                log.warning("control API not started on port %s: %s", config.control_port, exc)

    # Controls, called from the control API's threads.
    def now_ns(self) -> int:
        # While a run catches up, "now" for a manual fault is where its data is, not the wall clock.
        live = self.config.realtime and not self.catching_up(self.state.now_ns)
        return time.time_ns() if live else self.state.now_ns

    def fault_on(self, kind: str, service: str | None, value: float | None) -> ActiveFault:
        return self.board.start(kind, self.now_ns(), service, value, source="manual")

    def fault_off(self, kind: str, service: str | None) -> list[ActiveFault]:
        return self.board.stop(kind, self.now_ns(), service)

    def active_faults(self) -> list[ActiveFault]:
        return self.board.active()

    def stats(self) -> dict[str, Any]:
        return {
            **asdict(self.sim.stats),
            "run_id": self.run_id,
            "elapsed_s": (self.state.now_ns - self.origin_ns) / 1e9,
        }

    def catching_up(self, t: int) -> bool:
        """Whether simulated time `t` is behind the wall clock: a backfill, or a run's history."""
        return not self.config.realtime or t < time.time_ns() - _CATCH_UP_SLACK_NS

    def step(self, t: int) -> None:
        """Everything due at simulated time `t`: schedule, gauges' clock, one journey (and a flood's)."""
        self.state.now_ns = t
        self.schedule.tick(self.board, t)
        self.sim.load = self.arrivals.load(t)
        self.state.orders_per_s = self.config.rate * self.sim.load * CHECKOUT_SHARE
        run_journey(self.sim, pick_journey(self.rng), t)
        flood = self.board.value("homepage_flood", "frontend")
        for i in range(int(flood or 0)):
            run_journey(self.sim, "index", t + (i + 1) * 1_000_000)

    def run(self, stop: threading.Event, on_progress: Callable[[DemoRun], None] | None = None) -> DemoStats:
        last_flush, last_progress, finished = 0, 0.0, False
        try:
            while not stop.is_set():
                t = self.arrivals.next()
                if self.end_ns is not None and t >= self.end_ns:
                    finished = True
                    break
                if self.config.realtime and stop.wait(max(0.0, (t - time.time_ns()) / 1e9)):
                    break
                self.step(t)
                if self.catching_up(t) and self.sim.stats.spans - last_flush >= _BACKFILL_FLUSH_SPANS:
                    self.telemetry.flush()
                    last_flush = self.sim.stats.spans
                if on_progress is not None and time.monotonic() - last_progress > 0.25:
                    on_progress(self)
                    last_progress = time.monotonic()
        finally:
            self._finish(self.end_ns if finished and self.end_ns is not None else self.now_ns())
        if on_progress is not None:
            on_progress(self)
        return self.sim.stats

    def _finish(self, at_ns: int) -> None:
        # Scheduled ends up to now keep their exact times; whatever still runs ends with the demo.
        self.state.now_ns = at_ns
        self.schedule.tick(self.board, at_ns)
        self.board.stop_all(at_ns)
        if self.control is not None:
            self.control.close()
        try:
            self.telemetry.shutdown()
        finally:
            self.labels.close()


def run_demo(config: DemoConfig, stop: threading.Event, on_progress: Callable[[DemoRun], None] | None = None) -> None:
    """Runs the demo until `config.duration_s` passes or `stop` is set; safe in a background thread."""
    DemoRun(config).run(stop, on_progress)
