"""The derivers' own Prometheus metrics. Declared once here so names stay consistent."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

MINUTES = Counter("kokanee_servicegraph_minutes_total", "Minutes closed into service-graph edges.")
SPANS = Counter("kokanee_servicegraph_spans_total", "Spans read as the own spans of a closed minute.")
EXPIRED = Counter(
    "kokanee_servicegraph_expired_spans_total",
    "Client or server spans whose counterpart did not arrive within the wait (database calls excluded), "
    "including those then drawn to a virtual peer.",
    ["side"],
)
UNPAIRED = Counter(
    "kokanee_servicegraph_unpaired_spans_total",
    "Expired spans that drew no edge at all (no counterpart and no peer.service/server.address).",
    ["side"],
)
LATE = Counter(
    "kokanee_servicegraph_late_spans_total",
    "Spans that reached the store after their minute was closed; they are in no edge.",
)
BACKFILLED = Counter(
    "kokanee_servicegraph_backfilled_minutes_total",
    "Minutes before the watermark closed because spans with old times arrived (imported history).",
)
FAILURES = Counter("kokanee_derive_failures_total", "Derive ticks that failed and will be retried.", ["deriver"])
LAG = Gauge("kokanee_derive_lag_seconds", "How far a deriver's watermark is behind now.", ["deriver"])
