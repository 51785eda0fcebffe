"""Self-metrics of capture and retention, served at /metrics with kokanee's others."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CAPTURED_REQUESTS = Counter("kokanee_capture_requests_total", "WAL records written into capture segments.", ["signal"])
SAMPLED_OUT = Counter(
    "kokanee_capture_sampled_out_total", "WAL records left out of capture by sampling or switch-off.", ["signal"]
)
SEGMENTS_CLOSED = Counter(
    "kokanee_capture_segments_closed_total", "Capture segments closed into the outbox.", ["signal"]
)
SEGMENTS_UPLOADED = Counter(
    "kokanee_capture_segments_uploaded_total", "Capture segments uploaded and indexed.", ["signal"]
)
UPLOADED_BYTES = Counter("kokanee_capture_uploaded_bytes_total", "Compressed bytes of capture segments uploaded.")
UPLOAD_FAILURES = Counter("kokanee_capture_upload_failures_total", "Upload attempts that failed and will be retried.")
OUTBOX_BYTES = Gauge("kokanee_capture_outbox_bytes", "Closed capture segments waiting on local disk for upload.")
OBJECT_STORE_UP = Gauge("kokanee_capture_object_store_up", "1 while capture uploads succeed, 0 while they fail.")
RETENTION_ACTIONS = Counter(
    "kokanee_retention_actions_total",
    "Capture segments deleted or archived by retention (dry runs excluded).",
    ["action", "signal"],
)
RETENTION_FREED_BYTES = Counter(
    "kokanee_retention_freed_bytes_total", "Bytes removed from the hot capture store by retention."
)
RETENTION_RUNS = Counter("kokanee_retention_runs_total", "Retention runs, by outcome.", ["outcome"])
