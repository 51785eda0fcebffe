"""Tables of raw capture: the segment index, sessions, and retention runs.

The index is what replay and retention read instead of listing buckets. Rows are versioned
(ReplacingMergeTree on `Version`): archiving or deleting a segment inserts its new state.
"""

from __future__ import annotations

SEGMENTS = """
CREATE TABLE IF NOT EXISTS kokanee_capture_segments (
    Key String,
    Signal LowCardinality(String),
    Tier LowCardinality(String),
    Location String,
    FirstSeq UInt64,
    LastSeq UInt64,
    ArrivalStart DateTime64(9),
    ArrivalEnd DateTime64(9),
    EventStart DateTime64(9),
    EventEnd DateTime64(9),
    Services Array(LowCardinality(String)),
    Requests UInt32,
    Items UInt64,
    Bytes UInt64,
    RawBytes UInt64,
    IndexedAt DateTime64(3) DEFAULT now64(3),
    Deleted UInt8 DEFAULT 0,
    Version UInt64
) ENGINE = ReplacingMergeTree(Version)
ORDER BY Key
"""

SESSIONS = """
CREATE TABLE IF NOT EXISTS kokanee_capture_sessions (
    Id String,
    Name String,
    Labels Map(String, String),
    Start DateTime64(9),
    End Nullable(DateTime64(9)),
    CreatedAt DateTime64(3) DEFAULT now64(3),
    Deleted UInt8 DEFAULT 0,
    Version UInt64
) ENGINE = ReplacingMergeTree(Version)
ORDER BY Id
"""

RETENTION_RUNS = """
CREATE TABLE IF NOT EXISTS kokanee_retention_runs (
    At DateTime64(3),
    DryRun UInt8,
    Deleted UInt32,
    Archived UInt32,
    FreedBytes UInt64,
    Errors UInt32,
    Actions String
) ENGINE = MergeTree
ORDER BY At
"""
