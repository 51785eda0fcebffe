"""Table definitions: the OpenTelemetry Collector ClickHouse exporter's schema, plus kokanee's own.

Column names, types and value spellings match the exporter's, so a collector with that exporter
and tools that read its tables (Grafana's ClickHouse plugin, ClickStack) share data with kokanee.
Every statement is plain ClickHouse SQL that runs on chDB and on a server alike.
"""

from __future__ import annotations

# The exporter keeps these settings on every signal table; `non_replicated_deduplication_window`
# is kokanee's addition: a WAL batch replayed after a crash carries the same
# insert_deduplication_token, and MergeTree drops the repeat (exactly-once into the store).
_TABLE_SETTINGS = (
    "SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000"
)

# The exporter compresses with ZSTD(1); level 3 stores spans ~9% smaller (61 → 56 B/span in
# bench/ingest.py's spans) at no measurable insert cost (248k vs 245k rows/s). Codecs are not
# part of the schema tools read, so this stays compatible.
_Z = "ZSTD(3)"
_ATTRS = f"Map(LowCardinality(String), String) CODEC({_Z})"
# otel_traces uses granules of 1,024 rows instead of 8,192: a trace's spans are spread over the
# (service, name, time) order, and reading one means decompressing every granule holding one of
# them. Smaller granules halve trace-by-id time (118 → 53 ms median at 3M spans) at the same
# bytes per span. For the same reason a compressed block ends at every granule of 4 KiB or more:
# with the default 64 KiB minimum, a narrow column's block holds ~8 granules, and reading one trace
# decompressed 18.8 MB instead of 5.5 (trace by id 30 → 25 ms median, 2.6% more bytes per span).
TRACES_BLOCKS = "min_compress_block_size = 4096, max_compress_block_size = 262144"

# Codecs measured by bench/storage.py (1M spans, after merges; docs/performance-storage.md), kept
# where they won. Only codecs: the types are the exporter's. Attribute maps at ZSTD(6), whose lazy
# match finder sees the keys and values that repeat across a block's rows (level 5 and below do
# not): span attributes 15.7 -> 11.9 B/span, resource attributes 2.4 -> 0.3, for 0.65 CPU s more
# per 1M spans written (1.30 -> 1.95 s for the maps; ZSTD(9) would save 0.5 B/span more for 1.3 s).
# Timestamps and durations through T64 (it transposes a block's values bit by bit and drops the
# high bits they share) before ZSTD: 4.7 -> 4.2 and 3.4 -> 3.2 B/span; within (service, name,
# second) the nanoseconds are random, so Delta and DoubleDelta gain nothing (4.7). Random ids
# (TraceId, SpanId) stay at ZSTD(3): no level does better than ~1% there.
_ZA = "ZSTD(6)"
_T64 = f"T64, {_Z}"
TRACES_CODECS = {
    "Timestamp": f"DateTime64(9) CODEC({_T64})",
    "ResourceAttributes": f"Map(LowCardinality(String), String) CODEC({_ZA})",
    "SpanAttributes": f"Map(LowCardinality(String), String) CODEC({_ZA})",
    "Duration": f"UInt64 CODEC({_T64})",
}
# The exporter's trace-id lookup is ordered by trace id, so its times are random within the data's
# span: T64 keeps their low bytes only (0.19 -> 0.14 B/span each).
TRACE_ID_TS_CODECS = {"Start": f"DateTime CODEC({_T64})", "End": f"DateTime CODEC({_T64})"}


def recode(table: str, columns: dict[str, str]) -> str:
    """ALTER giving `columns` (name -> type and codec, the type unchanged) their codecs: metadata
    only, no mutation; parts take the codec as they are written or merged."""
    return f"ALTER TABLE {table} " + ", ".join(f"MODIFY COLUMN {n} {d}" for n, d in columns.items())


TRACES = f"""
CREATE TABLE IF NOT EXISTS otel_traces (
    Timestamp {TRACES_CODECS["Timestamp"]},
    TraceId String CODEC({_Z}),
    SpanId String CODEC({_Z}),
    ParentSpanId String CODEC({_Z}),
    TraceState String CODEC({_Z}),
    SpanName LowCardinality(String) CODEC({_Z}),
    SpanKind LowCardinality(String) CODEC({_Z}),
    ServiceName LowCardinality(String) CODEC({_Z}),
    ResourceAttributes {TRACES_CODECS["ResourceAttributes"]},
    ScopeName String CODEC({_Z}),
    ScopeVersion String CODEC({_Z}),
    SpanAttributes {TRACES_CODECS["SpanAttributes"]},
    Duration {TRACES_CODECS["Duration"]},
    StatusCode LowCardinality(String) CODEC({_Z}),
    StatusMessage String CODEC({_Z}),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC({_Z}),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC({_Z}),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))
{_TABLE_SETTINGS.replace("index_granularity = 8192", "index_granularity = 1024")}, {TRACES_BLOCKS}
"""

TRACE_ID_TS = f"""
CREATE TABLE IF NOT EXISTS otel_traces_trace_id_ts (
    TraceId String CODEC({_Z}),
    Start {TRACE_ID_TS_CODECS["Start"]},
    End {TRACE_ID_TS_CODECS["End"]},
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toDate(Start)
ORDER BY (TraceId, Start)
{_TABLE_SETTINGS}
"""

TRACE_ID_TS_MV = """
CREATE MATERIALIZED VIEW IF NOT EXISTS otel_traces_trace_id_ts_mv
TO otel_traces_trace_id_ts
AS SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End
FROM otel_traces
WHERE TraceId != ''
GROUP BY TraceId
"""

LOGS = f"""
CREATE TABLE IF NOT EXISTS otel_logs (
    Timestamp DateTime64(9) CODEC(Delta(8), {_Z}),
    TimestampTime DateTime DEFAULT toDateTime(Timestamp),
    TraceId String CODEC({_Z}),
    SpanId String CODEC({_Z}),
    TraceFlags UInt8,
    SeverityText LowCardinality(String) CODEC({_Z}),
    SeverityNumber UInt8,
    ServiceName LowCardinality(String) CODEC({_Z}),
    Body String CODEC({_Z}),
    ResourceSchemaUrl LowCardinality(String) CODEC({_Z}),
    ResourceAttributes {_ATTRS},
    ScopeSchemaUrl LowCardinality(String) CODEC({_Z}),
    ScopeName String CODEC({_Z}),
    ScopeVersion LowCardinality(String) CODEC({_Z}),
    ScopeAttributes {_ATTRS},
    LogAttributes {_ATTRS},
    EventName String CODEC({_Z}),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_value mapValues(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = MergeTree
PARTITION BY toDate(TimestampTime)
PRIMARY KEY (ServiceName, TimestampTime)
ORDER BY (ServiceName, TimestampTime, Timestamp)
{_TABLE_SETTINGS}
"""

# Columns every metric table shares, in the exporter's order.
_METRIC_HEAD = f"""
    ResourceAttributes {_ATTRS},
    ResourceSchemaUrl String CODEC({_Z}),
    ScopeName String CODEC({_Z}),
    ScopeVersion String CODEC({_Z}),
    ScopeAttributes {_ATTRS},
    ScopeDroppedAttrCount UInt32 CODEC({_Z}),
    ScopeSchemaUrl String CODEC({_Z}),
    ServiceName LowCardinality(String) CODEC({_Z}),
    MetricName String CODEC({_Z}),
    MetricDescription String CODEC({_Z}),
    MetricUnit String CODEC({_Z}),
    Attributes {_ATTRS},
    StartTimeUnix DateTime64(9) CODEC(Delta, {_Z}),
    TimeUnix DateTime64(9) CODEC(Delta, {_Z}),"""

_EXEMPLARS = f"""
    Exemplars Nested (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime64(9),
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC({_Z}),"""

_METRIC_TAIL = f"""
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
{_TABLE_SETTINGS}
"""


def _metric_table(name: str, body: str) -> str:
    return f"CREATE TABLE IF NOT EXISTS {name} ({_METRIC_HEAD}{body}{_METRIC_TAIL}"


METRICS_GAUGE = _metric_table(
    "otel_metrics_gauge",
    f"""
    Value Float64 CODEC({_Z}),
    Flags UInt32 CODEC({_Z}),{_EXEMPLARS}""",
)

METRICS_SUM = _metric_table(
    "otel_metrics_sum",
    f"""
    Value Float64 CODEC({_Z}),
    Flags UInt32 CODEC({_Z}),{_EXEMPLARS}
    AggregationTemporality Int32 CODEC({_Z}),
    IsMonotonic Boolean CODEC(Delta, {_Z}),""",
)

METRICS_HISTOGRAM = _metric_table(
    "otel_metrics_histogram",
    f"""
    Count UInt64 CODEC(Delta, {_Z}),
    Sum Float64 CODEC({_Z}),
    BucketCounts Array(UInt64) CODEC({_Z}),
    ExplicitBounds Array(Float64) CODEC({_Z}),{_EXEMPLARS}
    Flags UInt32 CODEC({_Z}),
    Min Float64 CODEC({_Z}),
    Max Float64 CODEC({_Z}),
    AggregationTemporality Int32 CODEC({_Z}),""",
)

METRICS_EXP_HISTOGRAM = _metric_table(
    "otel_metrics_exponential_histogram",
    f"""
    Count UInt64 CODEC(Delta, {_Z}),
    Sum Float64 CODEC({_Z}),
    Scale Int32 CODEC({_Z}),
    ZeroCount UInt64 CODEC({_Z}),
    PositiveOffset Int32 CODEC({_Z}),
    PositiveBucketCounts Array(UInt64) CODEC({_Z}),
    NegativeOffset Int32 CODEC({_Z}),
    NegativeBucketCounts Array(UInt64) CODEC({_Z}),{_EXEMPLARS}
    Flags UInt32 CODEC({_Z}),
    Min Float64 CODEC({_Z}),
    Max Float64 CODEC({_Z}),
    AggregationTemporality Int32 CODEC({_Z}),""",
)

METRICS_SUMMARY = _metric_table(
    "otel_metrics_summary",
    f"""
    Count UInt64 CODEC(Delta, {_Z}),
    Sum Float64 CODEC({_Z}),
    ValueAtQuantiles Nested (
        Quantile Float64,
        Value Float64
    ) CODEC({_Z}),
    Flags UInt32 CODEC({_Z}),""",
)

# Ground truth of injected faults (demo shop, imported datasets), for scoring the analysis.
FAULT_LABELS = """
CREATE TABLE IF NOT EXISTS kokanee_fault_labels (
    Start DateTime64(9),
    End Nullable(DateTime64(9)),
    ServiceName LowCardinality(String),
    Kind LowCardinality(String),
    Source LowCardinality(String),
    Detail String,
    InsertedAt DateTime64(3) DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(InsertedAt)
ORDER BY (Source, Start, ServiceName, Kind)
"""

SIGNAL_TABLES: dict[str, tuple[str, ...]] = {
    "traces": ("otel_traces",),
    "logs": ("otel_logs",),
    "metrics": (
        "otel_metrics_gauge",
        "otel_metrics_sum",
        "otel_metrics_histogram",
        "otel_metrics_exponential_histogram",
        "otel_metrics_summary",
    ),
}
