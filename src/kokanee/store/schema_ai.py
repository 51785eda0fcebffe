"""The AI layer's tables: every LLM interaction, and saved dashboards (migration 7); the AI settings
saved from the UI (migration 10)."""

from __future__ import annotations

# One row per call to a model (and per deterministic fallback), so the AI interactions page can
# show what each model was asked, what it answered, and compare models on cost, latency and outcome.
INTERACTIONS = """
CREATE TABLE IF NOT EXISTS kokanee_ai_interactions (
    At DateTime64(3) CODEC(Delta, ZSTD(3)),
    InteractionId String,
    ConversationId String,
    Task LowCardinality(String),
    Provider LowCardinality(String),
    Model LowCardinality(String),
    Prompt String CODEC(ZSTD(3)),
    Response String CODEC(ZSTD(3)),
    LatencyMs Float64,
    InputTokens UInt32,
    OutputTokens UInt32,
    CostUsd Float64,
    Outcome LowCardinality(String),
    Detail String CODEC(ZSTD(3))
) ENGINE = MergeTree
PARTITION BY toYYYYMM(At)
ORDER BY (At, InteractionId)
TTL toDateTime(At) + INTERVAL 90 DAY
"""

# Dashboards are few and edited whole: the newest version of each id wins (ReplacingMergeTree,
# read with FINAL); deleting writes a tombstone.
DASHBOARDS = """
CREATE TABLE IF NOT EXISTS kokanee_dashboards (
    DashboardId String,
    Title String,
    Role LowCardinality(String),
    Source LowCardinality(String),
    Spec String CODEC(ZSTD(3)),
    UpdatedAt DateTime64(3),
    Deleted UInt8 DEFAULT 0
) ENGINE = ReplacingMergeTree(UpdatedAt)
ORDER BY DashboardId
"""

STATEMENTS = (INTERACTIONS, DASHBOARDS)

# The AI settings saved from the UI: one logical row (SettingsId 'ai'), the newest version wins
# (read with FINAL); going back to the file and environment writes a tombstone. Config holds API
# keys given in the UI, which is why this table must stay out of the SQL sandbox's allowed tables.
SETTINGS = """
CREATE TABLE IF NOT EXISTS kokanee_ai_settings (
    SettingsId String,
    Config String,
    UpdatedAt DateTime64(3),
    Deleted UInt8 DEFAULT 0
) ENGINE = ReplacingMergeTree(UpdatedAt)
ORDER BY SettingsId
"""
