"""Tables of the anomaly detector: anomalies, incidents, log templates and feedback on causes.

Written by `analysis.detector` once per closed minute; read by the API, the UI and alerting.
"""

from __future__ import annotations

# One row per anomalous point (or level shift) of a series. `Series` names it fully
# (`signal:service:operation:metric`, e.g. `red:checkout:POST /pay:error_rate`); ServiceName,
# Operation, Signal and Metric let readers filter without parsing it. Timestamp is the start of the
# anomalous window, WindowEnd its end (exclusive). Detector: 'recent', 'daily', 'weekly' (the
# baseline a point was judged against), 'cusum' (level shift), 'drain-new' (new log template).
# Detail: the log template's text for log_template anomalies.
ANOMALIES = """
CREATE TABLE IF NOT EXISTS kokanee_anomalies (
    Timestamp DateTime CODEC(Delta, ZSTD(3)),
    WindowEnd DateTime,
    Series String CODEC(ZSTD(3)),
    ServiceName LowCardinality(String),
    Operation String CODEC(ZSTD(3)),
    Signal LowCardinality(String),
    Detector LowCardinality(String),
    Expected Float64,
    Actual Float64,
    Score Float64,
    Severity LowCardinality(String),
    IncidentId String,
    Metric LowCardinality(String) DEFAULT '',
    DetectedAt DateTime64(3) DEFAULT now64(3),
    Detail String DEFAULT '' CODEC(ZSTD(3))
) ENGINE = MergeTree
PARTITION BY toYYYYMM(Timestamp)
ORDER BY (ServiceName, Timestamp)
SETTINGS non_replicated_deduplication_window = 10000
"""

# Incidents are rewritten whole on every change (UpdatedAt wins): read with FINAL.
INCIDENTS = """
CREATE TABLE IF NOT EXISTS kokanee_incidents (
    IncidentId String,
    OpenedAt DateTime64(3),
    ResolvedAt Nullable(DateTime64(3)),
    Status LowCardinality(String),
    Severity LowCardinality(String),
    Services Array(String),
    Title String,
    UpdatedAt DateTime64(3),
    LastAnomalyAt DateTime64(3) DEFAULT OpenedAt,
    AnomalyCount UInt32 DEFAULT 0
) ENGINE = ReplacingMergeTree(UpdatedAt)
ORDER BY IncidentId
"""

# Log templates mined by Drain, counted per service and minute. TemplateId is stable for a
# service's cluster (`service#cluster`); Template is the text as Drain saw it that minute (it
# generalises over time). FirstSeen is when the template first appeared for the service.
LOG_TEMPLATES = """
CREATE TABLE IF NOT EXISTS kokanee_log_templates (
    Minute DateTime CODEC(Delta, ZSTD(3)),
    ServiceName LowCardinality(String),
    TemplateId String,
    Template String CODEC(ZSTD(3)),
    Count UInt64,
    FirstSeen DateTime
) ENGINE = MergeTree
PARTITION BY toYYYYMM(Minute)
ORDER BY (ServiceName, TemplateId, Minute)
SETTINGS non_replicated_deduplication_window = 10000
"""

# Drain's state per service (drain3's own serialised form), so templates survive restarts.
DRAIN_STATE = """
CREATE TABLE IF NOT EXISTS kokanee_drain_state (
    ServiceName String,
    State String CODEC(ZSTD(3)),
    UpdatedAt DateTime64(3) DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(UpdatedAt)
ORDER BY ServiceName
"""

# A user's judgement of one ranked cause of an incident.
CAUSE_FEEDBACK = """
CREATE TABLE IF NOT EXISTS kokanee_cause_feedback (
    IncidentId String,
    ServiceName String,
    Operation String,
    Useful UInt8,
    Comment String,
    CreatedAt DateTime64(3) DEFAULT now64(3)
) ENGINE = MergeTree
ORDER BY (IncidentId, CreatedAt)
"""
