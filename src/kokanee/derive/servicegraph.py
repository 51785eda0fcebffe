"""Service-graph edges for one minute, paired inside ClickHouse the way Tempo's metrics-generator
pairs them (https://grafana.com/docs/tempo/latest/metrics-generator/service_graphs/).

One `INSERT ... SELECT` reads `otel_traces` for the minute plus the wait on either side
(spans of one trace arrive in different requests, and out of order) and writes the minute's edges:

    window:   [minute - wait, ............ minute + 1m + wait)
    own:                [minute, minute + 1m)        <- edges are counted for spans starting here

    client (Client/Producer) ──SpanId == ParentSpanId──► server (Server/Consumer)   edge A -> B
    parent in service A ──► child in service B, kinds missing or wrong (Jaeger)     edge A -> B
    unpaired client with db.system        ──► database node (server.address | db.namespace | db.system)
    unpaired client with peer.service / server.address  ──► virtual node
    Producer/Consumer with messaging.system ──► via a broker node "system/destination"
    root Server/Consumer/Unspecified span ◄── "user"

The edge's minute is the client side's (the server's where there is none), so a pair that spans a
minute boundary is counted once. The insert carries `insert_deduplication_token = edges-<minute>`:
running a minute again after a crash (before the watermark moved) adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from kokanee.store.attribute_sql import attribute, first_attribute
from kokanee.store.client import Store
from kokanee.store.schema_derived import histogram

_NS = 1_000_000_000
MINUTE_NS = 60 * _NS

# The spans of the window, each with whether it starts in the minute being closed (Own) and whether
# it talks through a message broker (ViaBroker: its edges go through a messaging node, not a pair).
# Read from otel_traces itself (its key ends with the time, so a window reads the granules of that
# time in each service and operation): a copy of these columns ordered by time cost ~26 B a span
# for a day, more than the rest of kokanee's derived tables together (docs/performance-storage.md).
_SPANS = f"""
spans AS (
    SELECT
        TraceId, SpanId, ParentSpanId, ServiceName, SpanKind, Duration, StatusCode = 'Error' AS IsError,
        {first_attribute("SpanAttributes", "db.system.name", "db.system")} AS DbSystem,
        {first_attribute("SpanAttributes", "db.namespace", "db.name")} AS DbNamespace,
        {attribute("SpanAttributes", "peer.service")} AS PeerService,
        {first_attribute("SpanAttributes", "server.address", "net.peer.name")} AS ServerAddress,
        {attribute("SpanAttributes", "messaging.system")} AS MessagingSystem,
        toStartOfMinute(Timestamp) = toDateTime({{minute:Int64}}) AS Own,
        SpanKind IN ('Producer', 'Consumer') AND MessagingSystem != '' AS ViaBroker,
        if(
            {attribute("SpanAttributes", "messaging.destination.name")} != '',
            concat(MessagingSystem, '/', {attribute("SpanAttributes", "messaging.destination.name")}), MessagingSystem
        ) AS Broker
    FROM otel_traces
    WHERE Timestamp >= fromUnixTimestamp64Nano({{lo:Int64}}) AND Timestamp < fromUnixTimestamp64Nano({{hi:Int64}})
)"""

# Parent/child pairs that make an edge: a client-side span and its server-side child (even within
# one service, as Tempo does), or any parent and child in different services (the fallback for
# missing or wrong kinds). A consumer reached through a broker gets its edge from the broker.
_LINKS = """
links AS (
    SELECT
        p.TraceId AS TraceId, p.SpanId AS ParentId, c.SpanId AS ChildId, p.Own AS Own,
        if(p.ViaBroker, p.Broker, p.ServiceName) AS Client, c.ServiceName AS Server,
        multiIf(
            p.ViaBroker OR p.SpanKind = 'Producer' OR c.SpanKind = 'Consumer', 'messaging_system',
            p.DbSystem != '', 'database', ''
        ) AS ConnectionType,
        -- A parent that is not a client span (fallback pairs) covers more than the call: only the
        -- child speaks for the call's latency and outcome.
        p.SpanKind IN ('Client', 'Producer') AS HasClient,
        p.Duration AS ClientNs, c.Duration AS ServerNs, (HasClient AND p.IsError) OR c.IsError AS Failed
    FROM spans AS p INNER JOIN spans AS c ON c.TraceId = p.TraceId AND c.ParentSpanId = p.SpanId
    WHERE NOT c.ViaBroker AND (
        (p.SpanKind IN ('Client', 'Producer') AND c.SpanKind IN ('Server', 'Consumer'))
        OR p.ServiceName != c.ServiceName
    )
)"""

_CLIENT_UNPAIRED = """
    Own AND SpanKind IN ('Client', 'Producer') AND NOT ViaBroker
    AND (TraceId, SpanId) NOT IN (SELECT TraceId, ParentId FROM links)"""

# Every edge observation of the minute, one row per request: (client, server, type, client ns,
# server ns, has client side, has server side, failed).
_OBSERVATIONS = f"""
    SELECT Client, Server, ConnectionType, ClientNs, ServerNs, HasClient, 1 AS HasServer, Failed
    FROM links WHERE Own
    UNION ALL
    SELECT ServiceName, Broker, 'messaging_system', Duration, toUInt64(0), 1, 0, IsError
    FROM spans WHERE Own AND ViaBroker AND SpanKind = 'Producer'
    UNION ALL
    SELECT Broker, ServiceName, 'messaging_system', toUInt64(0), Duration, 0, 1, IsError
    FROM spans WHERE Own AND ViaBroker AND SpanKind = 'Consumer'
    UNION ALL
    SELECT
        ServiceName,
        multiIf(
            DbSystem != '', multiIf(ServerAddress != '', ServerAddress, DbNamespace != '', DbNamespace, DbSystem),
            PeerService != '', PeerService, ServerAddress
        ),
        if(DbSystem != '', 'database', 'virtual_node'), Duration, toUInt64(0), 1, 0, IsError
    FROM spans
    WHERE {_CLIENT_UNPAIRED} AND (DbSystem != '' OR PeerService != '' OR ServerAddress != '')
    UNION ALL
    SELECT {{user:String}}, ServiceName, 'virtual_node', toUInt64(0), Duration, 0, 1, IsError
    FROM spans
    WHERE Own AND ParentSpanId = '' AND SpanKind IN ('Server', 'Consumer', 'Unspecified') AND NOT ViaBroker
"""

INSERT_EDGES = f"""
INSERT INTO kokanee_service_edges_1m
    (Minute, Client, Server, ConnectionType, Requests, Failures, ClientHistogram, ServerHistogram)
WITH {_SPANS}, {_LINKS}
SELECT
    toDateTime({{minute:Int64}}) AS Minute, Client, Server, ConnectionType,
    count() AS Requests, toUInt64(sum(Failed)) AS Failures,
    {histogram("ClientNs", "HasClient = 1")} AS ClientHistogram,
    {histogram("ServerNs", "HasServer = 1")} AS ServerHistogram
FROM ({_OBSERVATIONS})
GROUP BY Client, Server, ConnectionType
"""

# What did not pair, for self-metrics. "Expired": the counterpart did not arrive within the wait
# (database calls are not expected to have one); "unpaired": of those, the ones that drew no edge.
_COUNTS = f"""
WITH {_SPANS}, {_LINKS}
SELECT
    countIf(Own) AS Spans,
    countIf({_CLIENT_UNPAIRED} AND DbSystem = '') AS ClientExpired,
    countIf({_CLIENT_UNPAIRED} AND DbSystem = '' AND PeerService = '' AND ServerAddress = '') AS ClientUnpaired,
    countIf(
        Own AND SpanKind IN ('Server', 'Consumer') AND NOT ViaBroker AND ParentSpanId != ''
        AND (TraceId, SpanId) NOT IN (SELECT TraceId, ChildId FROM links)
    ) AS ServerUnpaired
FROM spans
"""


def _computed_once(sql: str) -> str:
    """`spans` and `links` as materialized CTEs (ClickHouse 26.x): each computed once, where each
    reference to a plain CTE computes it again. The pairing refers to `spans` six times (measured
    over 300k spans: 2.1 against 1.4 s of CPU for a minute's two queries) and each query to `links`,
    the self-join, twice (then 1.13 against 0.66 s)."""
    return sql.replace("spans AS (", "spans AS MATERIALIZED (", 1).replace("links AS (", "links AS MATERIALIZED (", 1)


@dataclass(frozen=True)
class MinuteResult:
    """What closing one minute found: spans starting in it, and spans left without a counterpart."""

    minute_ns: int
    spans: int
    client_expired: int
    client_unpaired: int
    server_unpaired: int


def run_minute(store: Store, minute_ns: int, wait_ns: int, user_client: str = "user") -> MinuteResult:
    """Writes the edges of the minute starting at `minute_ns` (Unix ns, a whole minute).

    Reads spans starting within `wait_ns` before and after the minute. Safe to repeat: a second run
    for the same minute is deduplicated by ClickHouse, whatever arrived in between.
    """
    if minute_ns % MINUTE_NS:
        raise ValueError(f"minute_ns must be a whole minute, got {minute_ns}")
    params = {
        "minute": minute_ns // _NS,
        "lo": minute_ns - wait_ns,
        "hi": minute_ns + MINUTE_NS + wait_ns,
        "user": user_client,
    }
    once = store.has_setting("enable_materialized_cte")
    settings = {"enable_materialized_cte": 1} if once else {}
    rows = store.query(_computed_once(_COUNTS) if once else _COUNTS, parameters=params, settings=settings).rows
    spans, client_expired, client_unpaired, server_unpaired = (int(v) for v in rows[0]) if rows else (0, 0, 0, 0)
    if spans:
        store.command(
            _computed_once(INSERT_EDGES) if once else INSERT_EDGES,
            parameters=params,
            settings={**settings, "insert_deduplication_token": f"edges-{minute_ns // _NS}", "insert_deduplicate": 1},
        )
    return MinuteResult(minute_ns, spans, client_expired, client_unpaired, server_unpaired)
