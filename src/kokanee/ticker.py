"""A background loop for periodic work (deriving, detecting, retention): one daemon thread that
calls `tick()` until stopped. A tick that raises is logged and counted and the loop goes on:
periodic work must never stop ingest or the server."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Ticker:
    """Runs `tick()` on a thread named `name`; `tick` returns the seconds to wait before the next
    one. After a failure the wait is `retry_s`; `on_failure` counts it. `first_wait_s` delays the
    first tick (work that need not run at start-up)."""

    def __init__(
        self,
        name: str,
        tick: Callable[[], float],
        *,
        retry_s: float,
        on_failure: Callable[[], None] = lambda: None,
        first_wait_s: float = 0.0,
    ) -> None:
        self.name = name
        self._tick = tick
        self._retry_s = retry_s
        self._on_failure = on_failure
        self._first_wait_s = first_wait_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stops after the tick in flight."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        wait = self._first_wait_s
        while not self._stop.wait(wait):
            try:
                wait = self._tick()
            except Exception:  # the loop's boundary: see the module's docstring
                self._on_failure()
                log.exception("%s: tick failed; retrying in %.0f s", self.name, self._retry_s)
                wait = self._retry_s
