"""kokanee's own Prometheus metrics, served at /metrics. Declared once here so names stay consistent."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "kokanee_otlp_requests_total",
    "OTLP export requests by signal, transport and outcome (ok, partial, rejected, throttled, error).",
    ["signal", "transport", "outcome"],
)
ITEMS_ACCEPTED = Counter("kokanee_items_accepted_total", "Spans, log records and metric points accepted.", ["signal"])
ITEMS_REJECTED = Counter(
    "kokanee_items_rejected_total",
    "Items refused, by reason (invalid, malformed, too_large, unsupported_media_type, throttled, unauthorized).",
    ["signal", "reason"],
)
QUEUE_BYTES = Gauge("kokanee_pipeline_pending_bytes", "Acknowledged data waiting to be inserted, in bytes.")
QUEUE_ITEMS = Gauge("kokanee_pipeline_pending_requests", "Acknowledged requests waiting to be inserted.")
WAL_BYTES = Gauge("kokanee_wal_bytes", "Bytes in write-ahead log segments on disk.")
WAL_FSYNC = Histogram(
    "kokanee_wal_fsync_seconds", "Time of one group fsync.", buckets=(0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1)
)
INSERT_SECONDS = Histogram(
    "kokanee_store_insert_seconds",
    "Time to insert one batch into one table.",
    ["table"],
    buckets=(0.005, 0.01, 0.03, 0.1, 0.3, 1, 3, 10),
)
INSERTED_ROWS = Counter("kokanee_store_inserted_rows_total", "Rows inserted into the store.", ["table"])
INSERT_FAILURES = Counter(
    "kokanee_store_insert_failures_total", "Insert attempts that failed and will be retried.", ["reason"]
)
STORE_UP = Gauge("kokanee_store_up", "1 while the store accepts inserts, 0 while it does not.")
REPLAYED = Counter("kokanee_wal_replayed_requests_total", "WAL records replayed into the store at start.")
QUARANTINED = Counter(
    "kokanee_quarantined_items_total",
    "Items in WAL records the store refused outright, kept under DATA_DIR/quarantine instead.",
    ["target"],
)
DUPLICATES = Counter(
    "kokanee_duplicate_requests_total",
    "Resent requests (same bytes, already durable) acknowledged without storing them twice.",
    ["signal"],
)
