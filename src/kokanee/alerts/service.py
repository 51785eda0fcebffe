"""Alerting as a server component: the evaluator and the dispatcher, each on its own thread.

start() loads the alerts file (if any) into the store, then evaluates every `interval_s` (and
enqueues the scheduled reports that are due, alerts/reports.py) and sends due notifications: at
once when something was enqueued here (`wake`), every second while rows are due but held back
(a channel at its rate limit), at the due time of a retry or digest, and otherwise every
`IDLE_POLL_S` (rows another process queued in the same store). An idle server used to ask the
store every second, most of its idle CPU. stop() finishes the current round; what is not sent
stays in the outbox for the next start.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from kokanee.alerts.config_store import AlertsFileError, ConfigStore, load_file
from kokanee.alerts.dispatcher import Dispatcher, Sender
from kokanee.alerts.evaluator import Evaluator
from kokanee.alerts.narrative import incident_narrator
from kokanee.alerts.outbox import Outbox
from kokanee.alerts.reports import Reports, with_reports
from kokanee.store.client import Store

log = logging.getLogger(__name__)

IDLE_POLL_S = 15.0


def next_poll_s(due_ms: int | None, now_ms: int) -> float:
    """How long the dispatcher sleeps unless woken: until the earliest pending row is due, at least
    a second (a row due now but held back by a rate limit is tried again each second), at most
    `IDLE_POLL_S`."""
    if due_ms is None:
        return IDLE_POLL_S
    return min(max((due_ms - now_ms) / 1000, 1.0), IDLE_POLL_S)


class Alerting:
    def __init__(
        self,
        store: Store,
        *,
        interval_s: float = 15.0,
        settle_s: float = 10.0,
        public_url: str = "http://127.0.0.1:8080",
        alerts_file: Path | None = None,
        sender: Sender | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        self.store = store
        self.interval_s = interval_s
        self.settle_s = settle_s
        self.alerts_file = alerts_file
        self.config = ConfigStore(store)
        self.outbox = Outbox(store)
        self.evaluator = Evaluator(
            store,
            self.config,
            self.outbox,
            settle_s=settle_s,
            public_url=public_url,
            narrative=incident_narrator(store),
        )
        self.dispatcher = Dispatcher(self.outbox, self.config.channels, sender)
        # Report rows are formatted by reports.py; alert rows keep the dispatcher's own sender.
        self.dispatcher.sender = with_reports(self.dispatcher.sender)
        self.reports = Reports(store, self.config, self.outbox, public_url=public_url)
        self._file_mtime: float | None = None
        self.file_error = ""
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def load_file(self) -> None:
        """Loads the alerts file into the store; raises AlertsFileError naming the field at fault."""
        if self.alerts_file is None:
            return
        mtime = self.alerts_file.stat().st_mtime if self.alerts_file.exists() else None
        parsed = load_file(self.alerts_file)
        self.config.sync_file(parsed)
        self._file_mtime = mtime
        self.file_error = ""
        log.info(
            "alerts file %s: %d rules, %d channels, %d reports",
            self.alerts_file, len(parsed.rules), len(parsed.channels), len(parsed.reports),
        )  # fmt: skip

    def _reload_if_changed(self) -> None:
        if self.alerts_file is None:
            return
        try:
            mtime = self.alerts_file.stat().st_mtime
        except OSError:
            return
        if mtime == self._file_mtime:
            return
        try:
            self.load_file()
        except AlertsFileError as e:
            self._file_mtime = mtime  # report once per change; the previous rules stay in force
            self.file_error = str(e)
            log.error("alerts file not reloaded: %s", e)

    def start(self) -> None:
        if self._threads:
            return
        # `kokanee serve` has checked the file itself; what is left (ids taken through the API) is
        # reported in the API and the log, and the server runs with the rules it has.
        self._reload_if_changed()
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._evaluate_loop, name="kokanee-alerts-eval", daemon=True),
            threading.Thread(target=self._dispatch_loop, name="kokanee-alerts-send", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout)
        self._threads = []
        self.dispatcher.close()

    def _evaluate_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._reload_if_changed()
                if self.evaluator.run_once(time.time_ns()) + self.reports.run_once(time.time_ns()):
                    self.wake()
            except Exception:  # a loop boundary: alerting must never take the server down
                log.exception("alert evaluation failed; retrying in %.0f s", self.interval_s)
            self._stop.wait(self.interval_s)

    def wake(self) -> None:
        """Sends what was just enqueued now instead of at the next poll."""
        self._wake.set()

    def _dispatch_loop(self) -> None:
        while not self._stop.is_set():
            wait = 1.0
            try:
                self.dispatcher.run_once()
                wait = next_poll_s(self.outbox.next_due_ms(), time.time_ns() // 1_000_000)
            except Exception:  # a loop boundary, as above; rows stay pending
                log.exception("sending notifications failed; retrying")
            self._wake.wait(wait)
            self._wake.clear()
