"""The demo inside `kokanee serve --demo`: an hour of history, then the shop live with a fault.

A newcomer should see what kokanee is for within minutes: an incident, its ranked cause and the
evidence. The anomaly detector judges a minute against the hour before it, so the demo first sends
that hour (simulated time in the past, as fast as the server takes it, a progress line in the log)
and only then runs live, where the scheduled faults come.

Two faults become two incidents only when they do not touch: an anomaly joins an open incident when
its service is in it or next to one of its services on the service graph, within five minutes of
the incident's last anomaly, and every fault a shopper feels reaches the frontend. Two live faults
in the first minutes would be one incident. So one fault sits in the history (a network delay on
calls into cart, 40 minutes back, long resolved when the live one comes) and one comes live (payment
failures a minute after the start): two incidents within minutes of the start, each with its cause.

`KOKANEE_DEMO_HISTORY` (a duration, e.g. `20m`) and `KOKANEE_DEMO_FAULTS` (fault specs separated by
spaces or commas, as `kokanee demo --fault` takes them; `none` for none) change both, e.g. for a
quicker test.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from kokanee.demo.runner import DemoConfig, DemoRun
from kokanee.demo.schedule import ScheduledFault, parse_duration, parse_fault

log = logging.getLogger("kokanee.demo")

HISTORY_ENV = "KOKANEE_DEMO_HISTORY"
FAULTS_ENV = "KOKANEE_DEMO_FAULTS"
# An hour: the detector's recent baseline is the 60 minutes before the minute it judges.
DEFAULT_HISTORY = "1h"
SERVE_SCHEDULE: tuple[str, ...] = ("network_delay/cart=300@-40m:4m", "payment_failure=1@+1m:3m")
# Journeys per second: three keep an hour of history to about 170,000 spans. Two would send it a
# third faster, but a minute's p95 over fewer requests jumps often enough to open a false incident
# now and then (seen once in four runs); three is what the detector was measured on.
SERVE_RATE = 3.0
# The load swings like a compressed day of ten minutes: the detector's first judgements (after ten
# minutes of history) then see a whole swing in their baseline, not half of one read as a drop.
SERVE_PERIOD_S = 600.0
# How often the catch-up says how far it is.
_PROGRESS_EVERY_S = 5.0


def serve_config(
    endpoint: str,
    api_url: str,
    labels_file: Path | None,
    env: Mapping[str, str] = os.environ,
    ingest_token: str | None = None,
    api_token: str | None = None,
) -> DemoConfig:
    """The demo a server runs alongside itself, sending the server's own tokens where it wants them;
    raises ValueError naming a bad variable."""
    history_text = env.get(HISTORY_ENV, "").strip() or DEFAULT_HISTORY
    try:
        history_s = parse_duration(history_text)
    except ValueError as exc:
        raise ValueError(f"{HISTORY_ENV}: {exc}") from exc
    specs = env.get(FAULTS_ENV, "").replace(",", " ").split() or list(SERVE_SCHEDULE)
    try:
        faults = () if specs == ["none"] else tuple(parse_fault(spec) for spec in specs)
    except ValueError as exc:
        raise ValueError(f"{FAULTS_ENV}: {exc}") from exc
    return DemoConfig(
        endpoint=endpoint,
        api_url=api_url,
        ingest_token=ingest_token,
        api_token=api_token,
        rate=SERVE_RATE,
        period_s=SERVE_PERIOD_S,
        faults=faults,
        labels_file=labels_file,
        control_port=0,
        history_s=history_s,
    )


def describe_faults(faults: tuple[ScheduledFault, ...]) -> str:
    parts = []
    for f in faults:
        until = f" for {f.duration_s:g} s" if f.duration_s is not None else ""
        parts.append(f"{f.kind} on {f.service} at {f.start_s:+g} s{until}")
    return ", ".join(parts) or "no faults"


class Progress:
    """The run's progress callback: a log line every few seconds while the history is sent, one when
    it is done."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.last = 0.0
        self.live = False

    def __call__(self, run: DemoRun) -> None:
        if self.live:
            return
        now = time.monotonic()
        stats = run.sim.stats
        history_min = (run.start_ns - run.origin_ns) / 60e9
        if run.state.now_ns >= run.start_ns:
            self.live = True
            log.info(
                "demo: sent %.0f minutes of history (%d spans, %d logs) in %.0f s; the shop runs live now",
                history_min, stats.spans, stats.logs, now - self.started,
            )  # fmt: skip
            return
        if now - self.last >= _PROGRESS_EVERY_S:
            self.last = now
            done_min = max(0.0, (run.state.now_ns - run.origin_ns) / 60e9)
            log.info(
                "demo: sending history %.0f/%.0f min (%d spans, %.0f s)",
                min(done_min, history_min), history_min, stats.spans, now - self.started,
            )  # fmt: skip


def start(config: DemoConfig, stop: threading.Event) -> DemoRun:
    """Starts the run in a daemon thread; it ends when `stop` is set. Never raises from the thread:
    the demo must not take the server down."""
    run = DemoRun(config)

    def work() -> None:
        try:
            run.run(stop, Progress())
        except Exception:
            log.exception("the demo stopped")

    threading.Thread(target=work, name="kokanee-demo", daemon=True).start()
    log.info(
        "demo shop started: %.0f minutes of history first, then live; faults: %s (labels in %s)",
        config.history_s / 60, describe_faults(config.faults), config.labels_file,
    )  # fmt: skip
    return run
