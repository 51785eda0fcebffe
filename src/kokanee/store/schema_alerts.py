"""Alerting's tables. State that changes is a ReplacingMergeTree keyed by identity with a version
column: an update is an insert of the whole row with a higher version, read back with FINAL (the
tables are small). Nothing here is transactional; see outbox.py for how sends stay idempotent."""

from __future__ import annotations

# Rules, channels and silences as JSON bodies; Source says who owns them ('api' or 'file').
CONFIG = """
CREATE TABLE IF NOT EXISTS kokanee_alert_config (
    Kind LowCardinality(String),
    Id String,
    Body String,
    Source LowCardinality(String),
    Deleted UInt8,
    Version UInt64
) ENGINE = ReplacingMergeTree(Version)
ORDER BY (Kind, Id)
"""

# One row per alert (rule + labels): the evaluator's state machine, reloaded at start.
STATE = """
CREATE TABLE IF NOT EXISTS kokanee_alert_state (
    RuleId String,
    Fingerprint String,
    Labels Map(String, String),
    State LowCardinality(String),
    Severity LowCardinality(String),
    Episode UInt32,
    ActiveSince DateTime64(3),
    FiredAt Nullable(DateTime64(3)),
    ResolvedAt Nullable(DateTime64(3)),
    Value Float64,
    Why String,
    Notified UInt8,
    Version UInt64
) ENGINE = ReplacingMergeTree(Version)
ORDER BY (RuleId, Fingerprint)
"""

# The outbox: one row per (notification, channel), written before anything is sent.
OUTBOX = """
CREATE TABLE IF NOT EXISTS kokanee_alert_outbox (
    Id String,
    NotificationId String,
    ChannelId String,
    RuleId String,
    Fingerprint String,
    Event LowCardinality(String),
    Severity LowCardinality(String),
    Digest UInt8,
    GroupKey String,
    Payload String,
    CreatedAt DateTime64(3),
    DueAt DateTime64(3),
    Status LowCardinality(String),
    Attempts UInt32,
    LastError String,
    DeliveredAt Nullable(DateTime64(3)),
    Version UInt64
) ENGINE = ReplacingMergeTree(Version)
ORDER BY Id
TTL toDateTime(CreatedAt) + INTERVAL 90 DAY
"""

# Every delivery attempt, for the history.
DELIVERIES = """
CREATE TABLE IF NOT EXISTS kokanee_alert_deliveries (
    OutboxId String,
    At DateTime64(3),
    Attempt UInt32,
    Ok UInt8,
    Detail String
) ENGINE = MergeTree
ORDER BY (OutboxId, At)
TTL toDateTime(At) + INTERVAL 90 DAY
"""

STATEMENTS = (CONFIG, STATE, OUTBOX, DELIVERIES)
