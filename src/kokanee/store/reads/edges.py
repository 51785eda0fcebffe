"""One service-graph edge: its RED per step (from `kokanee_service_edges_1m`) and sample traces that
made it (from `otel_traces`), for the map's "click an edge" panel.

A sample is the span that shows the call: the callee's span whose parent is the caller's (two
services, or a consumer behind a broker), the caller's client span naming the peer (databases and
other uninstrumented peers, producers), or the callee's root span (calls from the user client).
One call per trace (a call drawn by both its client and its server span is one call); failed
calls come first, then the slowest.
"""

from __future__ import annotations

from typing import Any

from kokanee.store.attribute_sql import attribute, first_attribute
from kokanee.store.client import Store
from kokanee.store.reads.red import MINUTES, RedStats, merged_quantiles, minute_params, quantiles
from kokanee.store.reads.window import within

_NS = 1_000_000_000
_DB_SYSTEM = first_attribute("SpanAttributes", "db.system.name", "db.system")
_ADDRESS = first_attribute("SpanAttributes", "server.address", "net.peer.name")
_NAMESPACE = first_attribute("SpanAttributes", "db.namespace", "db.name")
_MESSAGING = attribute("SpanAttributes", "messaging.system")
_DESTINATION = attribute("SpanAttributes", "messaging.destination.name")
_PEER_SERVICE = attribute("SpanAttributes", "peer.service")
# The broker node's name and the virtual peer's name, spelt as the service-graph job spells them.
_BROKER = f"if({_DESTINATION} != '', concat({_MESSAGING}, '/', {_DESTINATION}), {_MESSAGING})"
_PEER = (
    f"multiIf({_DB_SYSTEM} != '', multiIf({_ADDRESS} != '', {_ADDRESS}, {_NAMESPACE} != '', {_NAMESPACE}, "
    f"{_DB_SYSTEM}), {_PEER_SERVICE} != '', {_PEER_SERVICE}, {_ADDRESS})"
)

_SAMPLES = f"""
SELECT TraceId, SpanId, ServiceName, SpanName, SpanKind, toUnixTimestamp64Nano(Timestamp) AS StartNs, Duration,
    StatusCode
FROM otel_traces
WHERE {within("Timestamp")} AND (
    (ServiceName = {{server:String}} AND (
        (TraceId, ParentSpanId) IN (
            SELECT TraceId, SpanId FROM otel_traces WHERE ServiceName = {{client:String}} AND {within("Timestamp")})
        OR (ParentSpanId = '' AND {{client:String}} = {{user:String}})
        OR (SpanKind = 'Consumer' AND {_BROKER} = {{client:String}})))
    OR (ServiceName = {{client:String}} AND SpanKind IN ('Client', 'Producer')
        AND {{server:String}} IN ({_PEER}, {_BROKER})))
ORDER BY StatusCode = 'Error' DESC, Duration DESC
LIMIT 1 BY TraceId
LIMIT {{limit:UInt32}}
"""

_SERIES = f"""
SELECT intDiv(toUnixTimestamp(Minute), {{step:UInt32}}) * {{step:UInt32}} AS t,
    sum(Requests) AS requests, sum(Failures) AS failures,
    {merged_quantiles("ClientHistogram")} AS client_q,
    {merged_quantiles("ServerHistogram")} AS server_q
FROM kokanee_service_edges_1m
WHERE {MINUTES} AND Client = {{client:String}} AND Server = {{server:String}}
GROUP BY t ORDER BY t
"""


def edge_series(
    store: Store, client: str, server: str, start_ns: int, end_ns: int, step_ns: int
) -> tuple[int, list[dict[str, Any]]]:
    """RED of one edge per step (whole minutes); latency as the caller saw it, or the callee's
    where no client span was recorded. Returns the step used (ns) and the points with requests."""
    step_s = max(60, -(-step_ns // _NS // 60) * 60)
    rows = store.query(
        _SERIES, parameters={**minute_params(start_ns, end_ns), "client": client, "server": server, "step": step_s}
    ).dicts()
    points = []
    for row in rows:
        q = quantiles(row["client_q"])
        if all(v is None for v in q):
            q = quantiles(row["server_q"])
        stats = RedStats(int(row["requests"]), int(row["failures"]), None, q)
        points.append({"time_unix_nano": int(row["t"]) * _NS, **stats.to_json(step_s * _NS)})
    return step_s * _NS, points


def edge_traces(
    store: Store, client: str, server: str, start_ns: int, end_ns: int, user_client: str = "user", limit: int = 20
) -> list[dict[str, Any]]:
    """Sample calls along the edge in the window: failed ones first, then the slowest."""
    rows = store.query(
        _SAMPLES,
        parameters={
            "start": start_ns, "end": end_ns, "client": client, "server": server, "user": user_client, "limit": limit,
        },
    ).dicts()  # fmt: skip
    return [
        {
            "trace_id": r["TraceId"],
            "span_id": r["SpanId"],
            "service": r["ServiceName"],
            "name": r["SpanName"],
            "kind": r["SpanKind"],
            "start_time_unix_nano": int(r["StartNs"]),
            "duration_ms": round(int(r["Duration"]) / 1e6, 3),
            "status": r["StatusCode"],
        }
        for r in rows
    ]
