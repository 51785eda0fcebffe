"""kokanee's derived tables: small aggregates computed at ingest, so windowed questions (RED, the
service map) cost services × minutes, not spans.

ClickHouse fills them itself: materialized views on otel_traces run inside each insert, and inherit
its deduplication token (`deduplicate_blocks_in_dependent_materialized_views`), so a replayed WAL
batch is not counted twice.

Latency is kept as a sparse histogram of fixed logarithmic buckets (16 per doubling from 10 µs, the
bucket layout of an OpenTelemetry exponential histogram at scale 4), summed by bucket: a row holds
at most the few dozen buckets its latencies span, however many requests stand behind it. With five
times the requests behind the same rows, merging an hour took 1.4x as long; t-digest states took
3.8x (their size follows the requests), and dense arrays as aggregate states were 2.5x slower to
read at any size. A quantile is read with log
interpolation inside its bucket: always within one bucket (4.4%) of the exact value, usually closer.
"""

from __future__ import annotations

from collections.abc import Sequence

_DEDUP = "non_replicated_deduplication_window = 10000"
# Small granules: a window reads a few hundred rows per service, not a day's worth per granule.
_SETTINGS = f"index_granularity = 256, {_DEDUP}"
QUANTILES = (0.5, 0.9, 0.95, 0.99)

HISTOGRAM_BUCKETS = 480  # 10 µs .. ~3 h; bucket 0 takes anything shorter, the last anything longer
HISTOGRAM_LOWEST_NS = 10_000
HISTOGRAM_PER_DOUBLING = 16
HISTOGRAM_TYPE = "SimpleAggregateFunction(sumMap, Tuple(Array(UInt16), Array(UInt64)))"  # (buckets, counts)


def histogram_bucket(ns: str) -> str:
    """SQL: the bucket index of a duration in ns."""
    return (
        f"toUInt16(least({HISTOGRAM_BUCKETS - 1}, greatest(0, "
        f"floor(log2(greatest({ns}, 1) / {HISTOGRAM_LOWEST_NS}) * {HISTOGRAM_PER_DOUBLING}))))"
    )


def histogram(ns: str, condition: str | None = None) -> str:
    """SQL aggregate: the histogram of the durations `ns` of a group (those where `condition`)."""
    if condition is None:
        return f"sumMap([{histogram_bucket(ns)}], [toUInt64(1)])"
    return f"sumMapIf([{histogram_bucket(ns)}], [toUInt64(1)], {condition})"


def histogram_quantiles(histogram: str, quantiles: tuple[float, ...] = QUANTILES) -> str:
    """SQL: the quantiles (ns, nan where empty) of a merged histogram, a (buckets, counts) tuple
    expression such as `sumMap(DurationHistogram)`."""
    keys, counts = f"({histogram}).1", f"({histogram}).2"
    qs = "[" + ", ".join(str(q) for q in quantiles) + "]"
    total = f"arraySum({counts})"
    position = f"arrayMap(q -> arrayFirstIndex(c -> c >= q * {total}, arrayCumSum({counts})), {qs})"
    within = f"(q * {total} - arrayCumSum({counts})[i] + {counts}[i]) / {counts}[i]"
    value = f"if(i = 0, nan, {HISTOGRAM_LOWEST_NS} * exp2(({keys}[i] + {within}) / {HISTOGRAM_PER_DOUBLING}))"
    return f"arrayMap((q, i) -> {value}, {qs}, {position})"


def bucket_quantiles(
    buckets: Sequence[int], counts: Sequence[int], quantiles: tuple[float, ...] = QUANTILES
) -> tuple[float | None, ...]:
    """`histogram_quantiles` in Python (None where empty), for reads that fetch the merged
    histogram: the SQL array arithmetic costs more than the merge itself (an hour of RED for 20
    services: 19 ms with it, 13 ms without). `buckets` ascending, as `sumMap` returns them."""
    total = sum(counts)
    if not total:
        return tuple(None for _ in quantiles)
    # One pass over the buckets for all quantiles, lowest first (topology merges ~150 histograms).
    order = sorted(range(len(quantiles)), key=lambda k: quantiles[k])
    out: list[float | None] = [None] * len(quantiles)
    below, next_q = 0, 0
    for bucket, count in zip(buckets, counts, strict=True):
        while next_q < len(order) and count and below + count >= quantiles[order[next_q]] * total:
            within = (quantiles[order[next_q]] * total - below) / count
            out[order[next_q]] = HISTOGRAM_LOWEST_NS * 2 ** ((bucket + within) / HISTOGRAM_PER_DOUBLING)
            next_q += 1
        if next_q == len(order):
            break
        below += count
    return tuple(out)


# For people writing SQL: kokanee_quantiles(sumMap(DurationHistogram)) -> [p50, p90, p95, p99] ns.
QUANTILES_FUNCTION = f"CREATE FUNCTION IF NOT EXISTS kokanee_quantiles AS (h) -> {histogram_quantiles('h')}"


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
def _red_table(name: str, keys: str, order_by: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {name} (
    Minute DateTime CODEC(Delta, ZSTD(3)),
    {keys},
    Requests SimpleAggregateFunction(sum, UInt64),
    Errors SimpleAggregateFunction(sum, UInt64),
    DurationSum SimpleAggregateFunction(sum, UInt64),
    DurationHistogram {HISTOGRAM_TYPE}
) ENGINE = AggregatingMergeTree
PARTITION BY toDate(Minute)
ORDER BY ({order_by})
SETTINGS {_SETTINGS}
"""


# Rolling RED rows up (to the hour, or from operations to services) sums each column.
_RED_SUMS = (
    "sum(Requests) AS Requests, sum(Errors) AS Errors, sum(DurationSum) AS DurationSum,\n"
    "    sumMap(DurationHistogram) AS DurationHistogram"
)

RED_1M = _red_table(
    "kokanee_red_1m",
    "ServiceName LowCardinality(String),\n    SpanName LowCardinality(String),\n    SpanKind LowCardinality(String)",
    "ServiceName, Minute, SpanName, SpanKind",
)

_RED_1M_SELECT = f"""
SELECT
    toStartOfMinute(Timestamp) AS Minute, ServiceName, SpanName, SpanKind,
    count() AS Requests, countIf(StatusCode = 'Error') AS Errors, sum(Duration) AS DurationSum,
    {histogram("Duration")} AS DurationHistogram
FROM otel_traces
WHERE SpanKind IN ('Server', 'Consumer') OR ParentSpanId = ''
GROUP BY Minute, ServiceName, SpanName, SpanKind
"""

RED_1M_MV = f"CREATE MATERIALIZED VIEW IF NOT EXISTS kokanee_red_1m_mv TO kokanee_red_1m AS {_RED_1M_SELECT}"

# The same, for spans stored before the view existed (when the table is rebuilt).
RED_1M_BACKFILL = f"INSERT INTO kokanee_red_1m {_RED_1M_SELECT}"

# The same per hour, rolled up from the minutes as they are written (a view on kokanee_red_1m):
# a topology's baseline of six hours reads 6 rows per operation instead of 360.
RED_1H = _hourly(RED_1M, "kokanee_red_1m", "kokanee_red_1h")

RED_1H_MV = f"""
CREATE MATERIALIZED VIEW IF NOT EXISTS kokanee_red_1h_mv TO kokanee_red_1h AS
SELECT
    toStartOfHour(Minute) AS Hour, ServiceName, SpanName, SpanKind,
    {_RED_SUMS}
FROM kokanee_red_1m
GROUP BY Hour, ServiceName, SpanName, SpanKind
"""

# RED per service per minute and per hour, rolled up from kokanee_red_1m as it is written: a
# service's RED, the service map's nodes and the sparklines merge one row per service and minute
# instead of one per operation and kind (an hour of 20 services x ~10 operations: 1,200 rows and
# 56k histogram buckets instead of 11,520 rows and 306k).
SERVICE_RED_1M = _red_table("kokanee_service_red_1m", "ServiceName LowCardinality(String)", "ServiceName, Minute")

_SERVICE_RED_1M_SELECT = f"""
SELECT
    Minute, ServiceName,
    {_RED_SUMS}
FROM kokanee_red_1m
GROUP BY Minute, ServiceName
"""

SERVICE_RED_1M_MV = (
    "CREATE MATERIALIZED VIEW IF NOT EXISTS kokanee_service_red_1m_mv TO kokanee_service_red_1m AS "
    + _SERVICE_RED_1M_SELECT
)
SERVICE_RED_1M_BACKFILL = f"INSERT INTO kokanee_service_red_1m {_SERVICE_RED_1M_SELECT}"

SERVICE_RED_1H = _hourly(SERVICE_RED_1M, "kokanee_service_red_1m", "kokanee_service_red_1h")

SERVICE_RED_1H_MV = f"""
CREATE MATERIALIZED VIEW IF NOT EXISTS kokanee_service_red_1h_mv TO kokanee_service_red_1h AS
SELECT
    toStartOfHour(Minute) AS Hour, ServiceName,
    {_RED_SUMS}
FROM kokanee_service_red_1m
GROUP BY Hour, ServiceName
"""

# Per trace (and insert), its first and last span start and the (ServiceName, SpanName) pairs of
# its spans: otel_traces is ordered by those two and the second, so reading a trace by id with
# them touches one granule per pair instead of testing the trace-id filter of every granule in
# the trace's seconds (~600 at 50M spans). A trace of more than TRACE_KEYS_MAX pairs stores none
# (read: any pair), which keeps a row small whatever the trace. A lookup reads a granule per part,
# so granules are 1024 rows of key arrays, not 8192 (50M spans: p95 13 ms on the table as built,
# 6 ms on a 1024-row copy, though the copy had also merged into fewer parts).
TRACE_KEYS_MAX = 256
# Ordered by trace id, so the times are random within the data's span: T64 keeps their low bytes
# only (0.63 -> 0.53 B/span each in bench/storage.py).
TRACE_KEYS_CODECS = {"Start": "DateTime64(9) CODEC(T64, ZSTD(3))", "LastStart": "DateTime64(9) CODEC(T64, ZSTD(3))"}
TRACE_KEYS = f"""
CREATE TABLE IF NOT EXISTS kokanee_trace_keys (
    TraceId String CODEC(ZSTD(3)),
    Start {TRACE_KEYS_CODECS["Start"]},
    LastStart {TRACE_KEYS_CODECS["LastStart"]},
    Keys Array(Tuple(LowCardinality(String), LowCardinality(String))) CODEC(ZSTD(3))
) ENGINE = MergeTree
PARTITION BY toDate(Start)
ORDER BY (TraceId, Start)
SETTINGS index_granularity = 1024, {_DEDUP}
"""

_TRACE_KEYS_SELECT = f"""
SELECT
    TraceId, min(Timestamp) AS Start, max(Timestamp) AS LastStart,
    if(length(groupUniqArray({TRACE_KEYS_MAX + 1})((ServiceName, SpanName)) AS pairs) > {TRACE_KEYS_MAX}, [], pairs)
        AS Keys
FROM otel_traces
WHERE TraceId != ''
GROUP BY TraceId
"""

TRACE_KEYS_MV = (
    f"CREATE MATERIALIZED VIEW IF NOT EXISTS kokanee_trace_keys_mv TO kokanee_trace_keys AS {_TRACE_KEYS_SELECT}"
)
# For the traces that were arriving when the table was made (one may go on arriving after it):
# traces that ended earlier have no rows, and reads of them use the exporter's lookup instead.
# Backfilling everything would group every span stored by trace id (50M spans: 97 s, 9 GB).
TRACE_KEYS_BACKFILL = f"""INSERT INTO kokanee_trace_keys {
    _TRACE_KEYS_SELECT.replace(
        "WHERE TraceId != ''",
        "WHERE TraceId IN (SELECT TraceId FROM otel_traces_trace_id_ts WHERE End >= now() - INTERVAL 1 HOUR)",
    )
}"""

# The few facts per span that pairing needs, ordered by time so the service-graph job reads only
# the minutes it pairs (migrations 3 to 14; dropped by 15, see SPAN_ARRIVALS). Kept a day after
# arrival (not after the span's own time: imported history must still be paired). Codecs from
# bench/storage.py (B/span at 1M spans, after merges): the timestamp (random within its minute)
# and duration through T64, 5.0 -> 4.4 and 3.4 -> 3.1; the columns that had the default LZ4 at
# ZSTD(3), 2.0 -> 0.9 together. The ids are random: ~16 B/span.
_LC_Z = "LowCardinality(String) CODEC(ZSTD(3))"
SPAN_INDEX_CODECS = {
    "Timestamp": "DateTime64(9) CODEC(T64, ZSTD(3))",
    "ServiceName": _LC_Z,
    "SpanName": _LC_Z,
    "SpanKind": _LC_Z,
    "Duration": "UInt64 CODEC(T64, ZSTD(3))",
    "IsError": "UInt8 CODEC(ZSTD(3))",
    "DbSystem": _LC_Z,
    "DbNamespace": _LC_Z,
    "MessagingSystem": _LC_Z,
    "MessagingDestination": _LC_Z,
    "PeerService": _LC_Z,
    "ServerAddress": _LC_Z,
    "ArrivedAt": "DateTime DEFAULT now() CODEC(ZSTD(3))",
}
_SI = SPAN_INDEX_CODECS
SPAN_INDEX = f"""
CREATE TABLE IF NOT EXISTS kokanee_span_index (
    Timestamp {_SI["Timestamp"]},
    TraceId String CODEC(ZSTD(3)),
    SpanId String CODEC(ZSTD(3)),
    ParentSpanId String CODEC(ZSTD(3)),
    ServiceName {_SI["ServiceName"]},
    SpanName {_SI["SpanName"]},
    SpanKind {_SI["SpanKind"]},
    Duration {_SI["Duration"]},
    IsError {_SI["IsError"]},
    DbSystem {_SI["DbSystem"]},
    DbNamespace {_SI["DbNamespace"]},
    MessagingSystem {_SI["MessagingSystem"]},
    MessagingDestination {_SI["MessagingDestination"]},
    PeerService {_SI["PeerService"]},
    ServerAddress {_SI["ServerAddress"]},
    ArrivedAt {_SI["ArrivedAt"]}
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

# Migration 15 replaces the span index: the service-graph deriver reads otel_traces (see
# derive/servicegraph.py), and needs only to know which minutes received spans, and when. One row per
# insert and minute of span time: (arrival second, minute, spans), a few hundred bytes a minute of
# ingest whatever the rate. Kept a day after arrival, as the span index was (late spans of imported
# history are paired within it).
SPAN_ARRIVALS = f"""
CREATE TABLE IF NOT EXISTS kokanee_span_arrivals (
    ArrivedAt DateTime CODEC(Delta, ZSTD(3)),
    Minute DateTime CODEC(Delta, ZSTD(3)),
    Spans SimpleAggregateFunction(sum, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toDate(ArrivedAt)
ORDER BY (ArrivedAt, Minute)
TTL ArrivedAt + INTERVAL 1 DAY
SETTINGS {_DEDUP}
"""

SPAN_ARRIVALS_MV = """
CREATE MATERIALIZED VIEW IF NOT EXISTS kokanee_span_arrivals_mv TO kokanee_span_arrivals AS
SELECT now() AS ArrivedAt, toStartOfMinute(Timestamp) AS Minute, count() AS Spans
FROM otel_traces
GROUP BY Minute
"""

# The minutes stored in the hour before the migration, so that those the deriver has not closed yet
# are closed. Taken as arrived at their own time: none of them is due again as a late arrival.
SPAN_ARRIVALS_BACKFILL = """
INSERT INTO kokanee_span_arrivals (ArrivedAt, Minute, Spans)
SELECT toStartOfMinute(Timestamp) AS Minute, Minute, count()
FROM otel_traces WHERE Timestamp >= now() - INTERVAL 1 HOUR
GROUP BY Minute
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
    ClientHistogram {HISTOGRAM_TYPE},
    ServerHistogram {HISTOGRAM_TYPE}
) ENGINE = AggregatingMergeTree
PARTITION BY toDate(Minute)
ORDER BY (Minute, Client, Server, ConnectionType)
SETTINGS {_SETTINGS}
"""

SERVICE_EDGES_1H = _hourly(SERVICE_EDGES_1M, "kokanee_service_edges_1m", "kokanee_service_edges_1h")

SERVICE_EDGES_1H_MV = """
CREATE MATERIALIZED VIEW IF NOT EXISTS kokanee_service_edges_1h_mv TO kokanee_service_edges_1h AS
SELECT
    toStartOfHour(Minute) AS Hour, Client, Server, ConnectionType,
    sum(Requests) AS Requests, sum(Failures) AS Failures,
    sumMap(ClientHistogram) AS ClientHistogram,
    sumMap(ServerHistogram) AS ServerHistogram
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
