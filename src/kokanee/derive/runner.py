"""The periodic deriver: closes service-graph minutes once their wait has passed, oldest first.

    spans:       ...|m-3|m-2|m-1| m |  <- now - wait
    watermark:              ^ every minute before it is closed
    tick:        closes the minutes from the watermark to now - wait - 1m that hold spans, at most
                 `max_minutes_per_tick` of them, then moves the watermark past them. Empty minutes
                 do not move it, so data imported later with old times (after the last data seen)
                 is still closed, oldest first.
    backfill:    minutes before the watermark whose spans arrived since the last look (history
                 imported while live data flows) are closed too, by arrival (kokanee_span_arrivals'
                 `ArrivedAt`), in passes of at most `max_minutes_per_tick`. A minute closed before is not counted
                 twice: its insert carries the same deduplication token.

Each minute is written, then the watermark moves (kokanee_derive_state); a crash in between
re-runs the minute, which ClickHouse deduplicates. Failures never touch ingest: a tick that fails
is logged, counted and retried on the next one.
"""

from __future__ import annotations

import logging
import time

from kokanee.derive import metrics
from kokanee.derive.servicegraph import MINUTE_NS, run_minute
from kokanee.store.client import Store
from kokanee.ticker import Ticker

log = logging.getLogger(__name__)

NAME = "servicegraph"
ARRIVALS = "servicegraph-arrivals"  # spans that arrived before this were looked at by a backfill pass
# Minutes closed within this much of the watermark are re-counted each tick to spot late spans.
_LATE_HORIZON_NS = 10 * MINUTE_NS


class Deriver:
    """Service-graph edges from `otel_traces` into `kokanee_service_edges_1m`; which minutes received
    spans, and when, from `kokanee_span_arrivals`.

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
        self.ticker = Ticker(
            "kokanee-deriver", self._tick, retry_s=interval_s, on_failure=metrics.FAILURES.labels(NAME).inc
        )
        self._closed: dict[int, int] = {}  # minute ns -> own spans when it was closed
        self._pass: tuple[int, int] | None = None  # a backfill pass: (arrived since, next minute), Unix s
        self._pass_started_s = 0

    def start(self) -> None:
        self.ticker.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.ticker.stop(timeout)

    def _tick(self) -> float:
        # Stopping mid-tick is safe: a minute in flight is finished or re-run at the next start.
        self.run_once(time.time_ns())
        return self.interval_s

    def run_once(self, now_ns: int) -> int:
        """Closes the minutes that are due at `now_ns` (Unix ns); returns how many it closed."""
        watermark = self.watermark_ns()
        # The last minute whose end plus the wait has passed.
        last = (now_ns - self.wait_ns - MINUTE_NS) // MINUTE_NS * MINUTE_NS
        self._count_late(watermark)
        backfilled = self._backfill(watermark) if watermark is not None else 0
        if watermark is not None and watermark > last:
            return backfilled
        minutes = self._minutes_with_spans(watermark or 0, last + MINUTE_NS)
        for minute in minutes:
            self._close(minute)
            self._set_watermark(NAME, minute + MINUTE_NS)
        # Caught up when fewer than the cap were due: the lag is then only the wait.
        self._observe(last + MINUTE_NS if len(minutes) < self.max_minutes_per_tick else minutes[-1], now_ns)
        return backfilled + len(minutes)

    def _close(self, minute: int) -> None:
        result = run_minute(self.store, minute, self.wait_ns, self.user_client)
        self._closed[minute] = result.spans
        metrics.MINUTES.inc()
        metrics.SPANS.inc(result.spans)
        metrics.EXPIRED.labels("client").inc(result.client_expired)
        metrics.UNPAIRED.labels("client").inc(result.client_unpaired)
        metrics.EXPIRED.labels("server").inc(result.server_unpaired)
        metrics.UNPAIRED.labels("server").inc(result.server_unpaired)

    def _backfill(self, watermark: int) -> int:
        """Closes minutes before the watermark that received spans since the last pass; returns how many."""
        if self._pass is None:
            now_s = int(self.store.query("SELECT toUnixTimestamp(now())").rows[0][0])
            since = self._watermark(ARRIVALS)
            if since is None:  # the first tick: everything stored so far is the normal path's
                self._set_watermark(ARRIVALS, now_s * 1_000_000_000)
                return 0
            # ArrivedAt has whole seconds: spans of the pass's own second are looked at again next pass.
            self._pass = (since // 1_000_000_000, 0)
            self._pass_started_s = now_s
        since_s, resume_s = self._pass
        rows = self.store.query(
            """
            SELECT DISTINCT toUnixTimestamp(Minute) AS m FROM kokanee_span_arrivals
            WHERE ArrivedAt >= toDateTime({since:Int64}) AND Minute >= toDateTime({resume:Int64})
                AND Minute < fromUnixTimestamp64Nano({watermark:Int64})
            ORDER BY m LIMIT {cap:UInt32}
            """,
            parameters={"since": since_s, "resume": resume_s, "watermark": watermark, "cap": self.max_minutes_per_tick},
        ).rows
        found = [int(row[0]) * 1_000_000_000 for row in rows]
        # Minutes this process closed got late spans, not history: closing again would add nothing.
        minutes = [m for m in found if m not in self._closed]
        for minute in minutes:
            self._close(minute)
        if len(found) < self.max_minutes_per_tick:
            self._set_watermark(ARRIVALS, self._pass_started_s * 1_000_000_000)
            self._pass = None
        else:
            self._pass = (since_s, found[-1] // 1_000_000_000 + 60)
        metrics.BACKFILLED.inc(len(minutes))
        return len(minutes)

    def watermark_ns(self) -> int | None:
        """Everything before this (Unix ns) is closed; None before the first tick."""
        return self._watermark(NAME)

    def _watermark(self, name: str) -> int | None:
        rows = self.store.query(
            "SELECT toUnixTimestamp64Nano(max(Watermark)), count() FROM kokanee_derive_state WHERE Name = {n:String}",
            parameters={"n": name},
        ).rows
        return int(rows[0][0]) if rows and rows[0][1] else None

    def _set_watermark(self, name: str, ns: int) -> None:
        self.store.command(
            "INSERT INTO kokanee_derive_state (Name, Watermark)"
            " VALUES ({n:String}, fromUnixTimestamp64Nano({w:Int64}))",
            parameters={"n": name, "w": ns},
        )

    def _minutes_with_spans(self, lo_ns: int, hi_ns: int) -> list[int]:
        rows = self.store.query(
            """
            SELECT DISTINCT toUnixTimestamp(Minute) AS m FROM kokanee_span_arrivals
            WHERE Minute >= toStartOfMinute(fromUnixTimestamp64Nano({lo:Int64}))
                AND Minute < fromUnixTimestamp64Nano({hi:Int64})
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
            SELECT toUnixTimestamp(Minute) AS m, sum(Spans) FROM kokanee_span_arrivals
            WHERE Minute >= toStartOfMinute(fromUnixTimestamp64Nano({lo:Int64}))
                AND Minute < fromUnixTimestamp64Nano({hi:Int64})
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
