"""The scheduled anomaly detector: judges each closed minute once, oldest first.

    data:       ...|m-3|m-2|m-1| m |  <- min(now, end of the newest data) - wait
    watermark:              ^ every minute before it has been judged (kokanee_derive_state)

A tick mines the logs of the due minutes into templates, loads every series over the minutes and
their baselines (the recent 90 minutes, and the same minutes on previous days and weeks), judges
each minute, groups the anomalies into incidents, writes anomalies and incidents, then moves the
watermark. Catch-up is bounded per tick, and long empty stretches are skipped. A tick that fails is
logged and retried; it never touches ingest.
"""

from __future__ import annotations

import hashlib
import logging
import time

import pyarrow as pa
from prometheus_client import Counter, Gauge

from kokanee.analysis.anomaly import Anomaly, detect_minute
from kokanee.analysis.anomaly_params import DEFAULT_PARAMS, MINUTE_S, DetectionParams
from kokanee.analysis.baseline import seasonal_ranges
from kokanee.analysis.incidents import IncidentTracker, service_graph
from kokanee.analysis.logpatterns import LogPatterns
from kokanee.analysis.series import load_series
from kokanee.store.client import Store
from kokanee.ticker import Ticker

log = logging.getLogger(__name__)

NAME = "anomaly-detector"
MINUTES = Counter("kokanee_anomaly_minutes_total", "Minutes judged by the anomaly detector.")
ANOMALIES = Counter("kokanee_anomalies_total", "Anomalies found, by signal and severity.", ["signal", "severity"])
FAILURES = Counter("kokanee_anomaly_detector_failures_total", "Detector ticks that failed and will be retried.")
LAG = Gauge("kokanee_anomaly_detector_lag_seconds", "How far the detector's watermark is behind now.")


def write_anomalies(store: Store, anomalies: list[Anomaly], token: str | None = None) -> None:
    if not anomalies:
        return
    rows = [a.row() for a in anomalies]
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    types = {"Timestamp": pa.timestamp("s"), "WindowEnd": pa.timestamp("s")}
    table = pa.table({name: pa.array(values, types.get(name)) for name, values in columns.items()})
    # The token covers the content: a replayed batch is dropped, a different one never is.
    digest = hashlib.sha1(repr(rows).encode()).hexdigest()[:16]
    store.insert_arrow("kokanee_anomalies", table, token=f"{token}-{digest}" if token else None)


class Detector:
    """Judges closed minutes of every series; see the module's docstring."""

    def __init__(self, store: Store, params: DetectionParams = DEFAULT_PARAMS) -> None:
        if params.wait_s < 0 or params.interval_s <= 0 or params.max_minutes_per_tick < 1:
            raise ValueError("wait_s must be >= 0, interval_s > 0 and max_minutes_per_tick >= 1")
        self.store = store
        self.params = params
        self.logs = LogPatterns(store, params)
        # Stopping mid-tick is safe: minutes in flight are judged again at the next start.
        self.ticker = Ticker("kokanee-anomaly-detector", self._tick, retry_s=params.interval_s, on_failure=FAILURES.inc)

    def start(self) -> None:
        self.ticker.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.ticker.stop(timeout)

    def _tick(self) -> float:
        done = self.run_once(time.time_ns())
        # Catching up: go on at once; caught up: wait for the next minute to close.
        return 0.5 if done >= self.params.max_minutes_per_tick else self.params.interval_s

    def run_once(self, now_ns: int) -> int:
        """Judges the minutes due at `now_ns` (Unix ns), at most max_minutes_per_tick; returns how many."""
        now_s = now_ns // 1_000_000_000
        watermark = self.watermark()
        first = watermark if watermark is not None else self._next_data_minute(0)
        newest = self._newest_data(first or 0)
        if first is None or newest is None:
            return 0
        # Time moves with the data as well as the clock: a backfill or import arriving in time
        # order is judged as it lands, not before its minutes are written.
        frontier = min(now_s, newest)
        last = int((frontier - self.params.wait_s) // MINUTE_S * MINUTE_S) - MINUTE_S  # last closed minute
        if first > last:
            LAG.set(max(0, now_s - first))
            return 0
        cap = self.params.max_minutes_per_tick * MINUTE_S
        if last - first >= cap:  # far behind: skip a stretch without data
            ahead = self._next_data_minute(first)
            if ahead is None or ahead > last:
                self._set_watermark(last + MINUTE_S)
                return 0
            first = max(first, ahead)
        hi = min(last + MINUTE_S, first + cap)
        self.judge(first, hi)
        self._set_watermark(hi)
        LAG.set(max(0, now_s - hi))
        return (hi - first) // MINUTE_S

    def judge(self, lo: int, hi: int) -> list[Anomaly]:
        """Judges the minutes [lo, hi) (Unix s): stores their anomalies and incident changes."""
        p = self.params
        minutes = list(range(lo, hi, MINUTE_S))
        new_templates: dict[int, list[Anomaly]] = {}
        texts: dict[tuple[str, str], str] = {}
        for t in minutes:
            counts = self.logs.mine_minute(t)
            texts.update({(c.service, c.template_id): c.template for c in counts})
            new_templates[t] = self.logs.new_template_anomalies(t, counts)
        history = (p.cusum_reference_minutes + p.cusum_test_minutes) * MINUTE_S
        series = load_series(self.store, [(lo - history, hi), *seasonal_ranges(lo, hi, p)])
        tracker = IncidentTracker(self.store, p)
        gap = p.incident_merge_gap_minutes * MINUTE_S
        tracker.remember(
            (str(s), int(m))
            for s, m in self.store.query(
                """SELECT ServiceName, toUnixTimestamp(Timestamp) FROM kokanee_anomalies
                WHERE Timestamp >= toDateTime({lo:Int64}) AND Timestamp < toDateTime({hi:Int64})
                    AND Severity IN ('warning', 'critical') AND Detector != 'cusum'""",
                parameters={"lo": lo - gap, "hi": lo},
            ).rows
        )
        graph = service_graph(self.store, lo - p.graph_minutes * MINUTE_S, hi)
        found: list[Anomaly] = []
        for t in minutes:
            anomalies = detect_minute(series, t, p) + new_templates[t]
            for a in anomalies:
                if a.key.signal == "log_template" and not a.note:
                    a.note = texts.get((a.key.service, a.key.operation), "")
            tracker.update(t, anomalies, graph)
            found.extend(anomalies)
        write_anomalies(self.store, found, token=f"anomalies-{lo}-{hi}")
        tracker.flush()
        MINUTES.inc(len(minutes))
        for a in found:
            ANOMALIES.labels(a.key.signal, a.severity).inc()
        return found

    def watermark(self) -> int | None:
        """Every minute before this (Unix s) has been judged; None before the first tick."""
        rows = self.store.query(
            "SELECT toUnixTimestamp(max(Watermark)), count() FROM kokanee_derive_state WHERE Name = {n:String}",
            parameters={"n": NAME},
        ).rows
        return int(rows[0][0]) if rows and rows[0][1] else None

    def _set_watermark(self, t: int) -> None:
        self.store.command(
            "INSERT INTO kokanee_derive_state (Name, Watermark) VALUES ({n:String}, toDateTime64({w:Int64}, 9))",
            parameters={"n": NAME, "w": t},
        )

    def _newest_data(self, since: int) -> int | None:
        """The end (Unix s) of the newest data at or after `since`: the spans' minutes when there are
        any (RED is most of what is judged, and an exporter's metrics may carry other clocks),
        else logs and metrics."""
        rows = self.store.query(
            """SELECT toUnixTimestamp(max(Minute)) + 60, count() FROM kokanee_red_1m
            WHERE Minute >= toDateTime({s:Int64})""",
            parameters={"s": since},
        ).rows
        if rows and rows[0][1]:
            return int(rows[0][0])
        rows = self.store.query(
            """SELECT max(t), count() FROM (
                SELECT toUnixTimestamp(max(TimestampTime)) AS t FROM otel_logs
                    WHERE TimestampTime >= toDateTime({s:Int64}) HAVING count() > 0
                UNION ALL SELECT toUnixTimestamp(max(TimeUnix)) FROM otel_metrics_gauge
                    WHERE TimeUnix >= toDateTime({s:Int64}) HAVING count() > 0)""",
            parameters={"s": since},
        ).rows
        return int(rows[0][0]) if rows and rows[0][1] else None

    def _next_data_minute(self, since: int) -> int | None:
        """The first minute at or after `since` (Unix s) holding spans, logs or metrics."""
        rows = self.store.query(
            """SELECT min(t), count() FROM (
                SELECT toUnixTimestamp(min(Minute)) AS t FROM kokanee_red_1m WHERE Minute >= toDateTime({s:Int64})
                    HAVING count() > 0
                UNION ALL SELECT toUnixTimestamp(toStartOfMinute(min(TimestampTime))) FROM otel_logs
                    WHERE TimestampTime >= toDateTime({s:Int64}) HAVING count() > 0
                UNION ALL SELECT toUnixTimestamp(toStartOfMinute(min(TimeUnix))) FROM otel_metrics_gauge
                    WHERE TimeUnix >= toDateTime({s:Int64}) HAVING count() > 0)""",
            parameters={"s": since},
        ).rows
        return int(rows[0][0]) if rows and rows[0][1] else None
