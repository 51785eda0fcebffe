"""The periodic deriver: closes service-graph minutes once their wait has passed, oldest first.

    span index:  ...|m-3|m-2|m-1| m |  <- now - wait
    watermark:              ^ every minute before it is closed
    tick:        closes the minutes from the watermark to now - wait - 1m that hold spans, at most
                 `max_minutes_per_tick` of them, then moves the watermark past them. Empty minutes
                 do not move it, so data imported later with old times (after the last data seen)
                 is still closed, oldest first.

Each minute is written, then the watermark moves (kokanee_derive_state); a crash in between
re-runs the minute, which ClickHouse deduplicates. Failures never touch ingest: a tick that fails
is logged, counted and retried on the next one.
"""

from __future__ import annotations

import logging
import threading
import time

from kokanee.derive import metrics
from kokanee.derive.servicegraph import MINUTE_NS, run_minute
from kokanee.store.client import Store

log = logging.getLogger(__name__)

NAME = "servicegraph"
# Minutes closed within this much of the watermark are re-counted each tick to spot late spans.
_LATE_HORIZON_NS = 10 * MINUTE_NS


class Deriver:
    """Service-graph edges from `kokanee_span_index` into `kokanee_service_edges_1m`.

    `wait_s`: how long past a minute's end its spans may still arrive (default 10 s).
    `user_client`: the client drawn for root server spans. `interval_s`: time between ticks.
    `max_minutes_per_tick`: bounds catch-up after a restart or an import of old data.
    """

    def __init__(
        self,
        store: Store,
        *,
        wait_s: float = 10.0,
        user_client: str = "user",
        interval_s: float = 5.0,
        max_minutes_per_tick: int = 30,
    ) -> None:
        if wait_s < 0 or interval_s <= 0 or max_minutes_per_tick < 1:
            raise ValueError("wait_s must be >= 0, interval_s > 0 and max_minutes_per_tick >= 1")
        self.store = store
        self.wait_ns = int(wait_s * 1_000_000_000)
        self.user_client = user_client
        self.interval_s = interval_s
        self.max_minutes_per_tick = max_minutes_per_tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed: dict[int, int] = {}  # minute ns -> own spans when it was closed

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="kokanee-deriver", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stops after the current tick (a minute in flight is finished or re-run at next start)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once(time.time_ns())
            except Exception:  # a loop boundary: derivation must never stop ingest or the server
                metrics.FAILURES.labels(NAME).inc()
                log.exception("service-graph deriver tick failed; retrying in %.0f s", self.interval_s)
            self._stop.wait(self.interval_s)

    def run_once(self, now_ns: int) -> int:
        """Closes the minutes that are due at `now_ns` (Unix ns); returns how many it closed."""
        watermark = self.watermark_ns()
        # The last minute whose end plus the wait has passed.
        last = (now_ns - self.wait_ns - MINUTE_NS) // MINUTE_NS * MINUTE_NS
        self._count_late(watermark)
        if watermark is not None and watermark > last:
            return 0
        minutes = self._minutes_with_spans(watermark or 0, last + MINUTE_NS)
        for minute in minutes:
            result = run_minute(self.store, minute, self.wait_ns, self.user_client)
            self._set_watermark(minute + MINUTE_NS)
            self._closed[minute] = result.spans
            metrics.MINUTES.inc()
            metrics.SPANS.inc(result.spans)
            metrics.EXPIRED.labels("client").inc(result.client_expired)
            metrics.UNPAIRED.labels("client").inc(result.client_unpaired)
            metrics.EXPIRED.labels("server").inc(result.server_unpaired)
            metrics.UNPAIRED.labels("server").inc(result.server_unpaired)
        # Caught up when fewer than the cap were due: the lag is then only the wait.
        self._observe(last + MINUTE_NS if len(minutes) < self.max_minutes_per_tick else minutes[-1], now_ns)
        return len(minutes)

    def watermark_ns(self) -> int | None:
        """Everything before this (Unix ns) is closed; None before the first tick."""
        rows = self.store.query(
            "SELECT toUnixTimestamp64Nano(max(Watermark)), count() FROM kokanee_derive_state WHERE Name = {n:String}",
            parameters={"n": NAME},
        ).rows
        return int(rows[0][0]) if rows and rows[0][1] else None

    def _set_watermark(self, ns: int) -> None:
        self.store.command(
            "INSERT INTO kokanee_derive_state (Name, Watermark)"
            " VALUES ({n:String}, fromUnixTimestamp64Nano({w:Int64}))",
            parameters={"n": NAME, "w": ns},
        )

    def _minutes_with_spans(self, lo_ns: int, hi_ns: int) -> list[int]:
        rows = self.store.query(
            """
            SELECT DISTINCT toUnixTimestamp(toStartOfMinute(Timestamp)) AS m FROM kokanee_span_index
            WHERE Timestamp >= fromUnixTimestamp64Nano({lo:Int64}) AND Timestamp < fromUnixTimestamp64Nano({hi:Int64})
            ORDER BY m LIMIT {cap:UInt32}
            """,
            parameters={"lo": lo_ns, "hi": hi_ns, "cap": self.max_minutes_per_tick},
        ).rows
        return [int(row[0]) * 1_000_000_000 for row in rows]

    def _count_late(self, watermark: int | None) -> None:
        """Spans of recently closed minutes that arrived after the close: counted, not paired."""
        if watermark is None or not self._closed:
            return
        for minute in [m for m in self._closed if m < watermark - _LATE_HORIZON_NS]:
            del self._closed[minute]
        if not self._closed:
            return
        rows = self.store.query(
            """
            SELECT toUnixTimestamp(toStartOfMinute(Timestamp)) AS m, count() FROM kokanee_span_index
            WHERE Timestamp >= fromUnixTimestamp64Nano({lo:Int64}) AND Timestamp < fromUnixTimestamp64Nano({hi:Int64})
            GROUP BY m
            """,
            parameters={"lo": min(self._closed), "hi": watermark},
        ).rows
        for m, count in rows:
            minute = int(m) * 1_000_000_000
            seen = self._closed.get(minute)
            if seen is not None and int(count) > seen:
                metrics.LATE.inc(int(count) - seen)
                self._closed[minute] = int(count)

    @staticmethod
    def _observe(closed_to_ns: int, now_ns: int) -> None:
        metrics.LAG.labels(NAME).set(max(0.0, (now_ns - closed_to_ns) / 1e9))
