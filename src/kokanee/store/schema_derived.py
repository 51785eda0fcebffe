"""kokanee's derived tables: small aggregates computed at ingest, so windowed questions (RED, the
service map) cost services × minutes, not spans.

ClickHouse fills them itself: materialized views on otel_traces run inside each insert, and inherit
its deduplication token (`deduplicate_blocks_in_dependent_materialized_views`), so a replayed WAL
batch is not counted twice. Latency quantiles are mergeable t-digest states: a p95 over any window
is computed from merged states, never by averaging per-minute p95s.
"""

from __future__ import annotations

_DEDUP = "non_replicated_deduplication_window = 10000"
QUANTILES = (0.5, 0.9, 0.95, 0.99)
_Q = f"quantilesTDigest({', '.join(str(q) for q in QUANTILES)})"


def _hourly(ddl: str, minute_table: str, hour_table: str) -> str:
    """The DDL of a per-minute aggregate table, renamed for its hourly rollup (same columns, `Hour`
    for `Minute`, partitioned by month)."""
    return (
        ddl.replace(minute_table, hour_table)
        .replace("Minute", "Hour")
        .replace("PARTITION BY toDate(Hour)", "PARTITION BY toYYYYMM(Hour)")
    )


# RED per service, operation and span kind per minute, from entry spans: SERVER and CONSUMER
# spans, and roots of any kind (a trace whose first span is INTERNAL still served a request).
RED_1M = f"""
CREATE TABLE IF NOT EXISTS kokanee_red_1m (
    Minute DateTime CODEC(Delta, ZSTD(3)),
    ServiceName LowCardinality(String),
    SpanName LowCardinality(String),
    SpanKind LowCardinality(String),
    Requests SimpleAggregateFunction(sum, UInt64),
    Errors SimpleAggregateFunction(sum, UInt64),
    DurationSum SimpleAggregateFunction(sum, UInt64),
    DurationQuantiles AggregateFunction({_Q}, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toDate(Minute)
ORDER BY (ServiceName, Minute, SpanName, SpanKind)
SETTINGS {_DEDUP}
"""

RED_1M_MV = f"""
CREATE MATERIALIZED VIEW IF NOT EXISTS kokanee_red_1m_mv TO kokanee_red_1m AS
SELECT
    toStartOfMinute(Timestamp) AS Minute, ServiceName, SpanName, SpanKind,
    count() AS Requests, countIf(StatusCode = 'Error') AS Errors, sum(Duration) AS DurationSum,
    {_Q.replace("quantilesTDigest", "quantilesTDigestState")}(Duration) AS DurationQuantiles
FROM otel_traces
WHERE SpanKind IN ('Server', 'Consumer') OR ParentSpanId = ''
GROUP BY Minute, ServiceName, SpanName, SpanKind
"""

# The same per hour, rolled up from the minutes as they are written (a view on kokanee_red_1m):
# a topology's baseline of six hours reads 6 rows per operation instead of 360.
RED_1H = _hourly(RED_1M, "kokanee_red_1m", "kokanee_red_1h")

RED_1H_MV = f"""
CREATE MATERIALIZED VIEW IF NOT EXISTS kokanee_red_1h_mv TO kokanee_red_1h AS
SELECT
    toStartOfHour(Minute) AS Hour, ServiceName, SpanName, SpanKind,
    sum(Requests) AS Requests, sum(Errors) AS Errors, sum(DurationSum) AS DurationSum,
    {_Q.replace("quantilesTDigest", "quantilesTDigestMergeState")}(DurationQuantiles) AS DurationQuantiles
FROM kokanee_red_1m
GROUP BY Hour, ServiceName, SpanName, SpanKind
"""

# The few facts per span that pairing needs, ordered by time so the service-graph job reads only
# the minutes it pairs. Kept a day after arrival (not after the span's own time: imported history
# must still be paired).
SPAN_INDEX = f"""
CREATE TABLE IF NOT EXISTS kokanee_span_index (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(3)),
    TraceId String CODEC(ZSTD(3)),
    SpanId String CODEC(ZSTD(3)),
    ParentSpanId String CODEC(ZSTD(3)),
    ServiceName LowCardinality(String),
    SpanName LowCardinality(String),
    SpanKind LowCardinality(String),
    Duration UInt64 CODEC(ZSTD(3)),
    IsError UInt8,
    DbSystem LowCardinality(String),
    DbNamespace LowCardinality(String),
    MessagingSystem LowCardinality(String),
    MessagingDestination LowCardinality(String),
    PeerService LowCardinality(String),
    ServerAddress LowCardinality(String),
    ArrivedAt DateTime DEFAULT now()
) ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (toStartOfMinute(Timestamp), TraceId, SpanId)
TTL ArrivedAt + INTERVAL 1 DAY
SETTINGS {_DEDUP}
"""

SPAN_INDEX_MV = """
CREATE MATERIALIZED VIEW IF NOT EXISTS kokanee_span_index_mv TO kokanee_span_index AS
SELECT
    Timestamp, TraceId, SpanId, ParentSpanId, ServiceName, SpanName, SpanKind, Duration,
    StatusCode = 'Error' AS IsError,
    if(SpanAttributes['db.system.name'] != '', SpanAttributes['db.system.name'], SpanAttributes['db.system'])
        AS DbSystem,
    if(SpanAttributes['db.namespace'] != '', SpanAttributes['db.namespace'], SpanAttributes['db.name'])
        AS DbNamespace,
    SpanAttributes['messaging.system'] AS MessagingSystem,
    SpanAttributes['messaging.destination.name'] AS MessagingDestination,
    SpanAttributes['peer.service'] AS PeerService,
    if(SpanAttributes['server.address'] != '', SpanAttributes['server.address'], SpanAttributes['net.peer.name'])
        AS ServerAddress
FROM otel_traces
"""

# Service-graph edges per minute (the minute of the client side). ConnectionType is '' for two
# instrumented services, else 'database', 'messaging_system' or 'virtual_node' (Tempo's names).
SERVICE_EDGES_1M = f"""
CREATE TABLE IF NOT EXISTS kokanee_service_edges_1m (
    Minute DateTime CODEC(Delta, ZSTD(3)),
    Client LowCardinality(String),
    Server LowCardinality(String),
    ConnectionType LowCardinality(String),
    Requests SimpleAggregateFunction(sum, UInt64),
    Failures SimpleAggregateFunction(sum, UInt64),
    ClientDuration AggregateFunction({_Q}, UInt64),
    ServerDuration AggregateFunction({_Q}, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toDate(Minute)
ORDER BY (Minute, Client, Server, ConnectionType)
SETTINGS {_DEDUP}
"""

SERVICE_EDGES_1H = _hourly(SERVICE_EDGES_1M, "kokanee_service_edges_1m", "kokanee_service_edges_1h")

SERVICE_EDGES_1H_MV = f"""
CREATE MATERIALIZED VIEW IF NOT EXISTS kokanee_service_edges_1h_mv TO kokanee_service_edges_1h AS
SELECT
    toStartOfHour(Minute) AS Hour, Client, Server, ConnectionType,
    sum(Requests) AS Requests, sum(Failures) AS Failures,
    {_Q.replace("quantilesTDigest", "quantilesTDigestMergeState")}(ClientDuration) AS ClientDuration,
    {_Q.replace("quantilesTDigest", "quantilesTDigestMergeState")}(ServerDuration) AS ServerDuration
FROM kokanee_service_edges_1m
GROUP BY Hour, Client, Server, ConnectionType
"""

# How far each periodic deriver has got (Watermark: everything before it is done).
DERIVE_STATE = """
CREATE TABLE IF NOT EXISTS kokanee_derive_state (
    Name String,
    Watermark DateTime64(9),
    UpdatedAt DateTime64(3) DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(UpdatedAt)
ORDER BY Name
"""
