"""The service map over a window: nodes and edges with RED and health, from the derived tables.

Edges come from `kokanee_service_edges_1m`, services' RED from `kokanee_red_1m`. Each node and edge
is judged against its own baseline: the same numbers over the preceding window six times as long.
Node types: an instrumented service (it has entry spans, or it is the calling side of an edge that
only instrumented code draws), else the kind of virtual node its edges say (database, messaging,
external), or the configured client of root spans (user).
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kokanee.analysis.health import Health, Slo, classify
from kokanee.store.client import Store
from kokanee.store.reads.red import EMPTY, MINUTES, RedStats, baseline_scope, service_red_and_baseline
from kokanee.store.schema_derived import bucket_quantiles

BASELINE_FACTOR = 6
# The edge query runs here while the caller's thread reads RED: the two take about as long, and
# each thread has its own store client.
_EDGE_READER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="kokanee-topology")


@dataclass(frozen=True)
class Node:
    name: str
    type: str  # service | database | messaging | external | user
    red: RedStats
    health: Health


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    connection_types: tuple[str, ...]  # '' (two services), database, messaging_system, virtual_node
    red: RedStats
    health: Health


@dataclass(frozen=True)
class Topology:
    start_ns: int
    end_ns: int
    nodes: list[Node]
    edges: list[Edge]

    def to_json(self) -> dict[str, Any]:
        window = self.end_ns - self.start_ns
        return {
            "start_time_unix_nano": self.start_ns,
            "end_time_unix_nano": self.end_ns,
            "nodes": [
                {"name": n.name, "type": n.type, "red": n.red.to_json(window), "health": n.health.to_json()}
                for n in self.nodes
            ],
            "edges": [edge_json(e, window) for e in self.edges],
        }


def edge_json(edge: Edge, window_ns: int) -> dict[str, Any]:
    return {
        "source": edge.source,
        "target": edge.target,
        "connection_types": list(edge.connection_types),
        "red": edge.red.to_json(window_ns),
        "health": edge.health.to_json(),
    }


EdgeStats = dict[Any, tuple[RedStats, tuple[str, ...]]]


def _edges(store: Store, start_ns: int, end_ns: int, base_start_ns: int) -> tuple[EdgeStats, ...]:
    """Edge RED per (client, server) and per server, for the window and for its baseline, from
    one query of per-pair merged histograms; per server they are merged here (a few dozen pairs),
    not by a second grouping in SQL. Latency is what the caller saw (client side), or, in minutes
    without a client span (user, broker), the server side."""
    columns = "Client, Server, ConnectionType, Requests, Failures, ClientHistogram, ServerHistogram"
    baseline, params = baseline_scope(
        start_ns, end_ns, base_start_ns, "kokanee_service_edges_1m", "kokanee_service_edges_1h"
    )
    rows = store.query(
        f"""SELECT Client, Server, current, sum(Requests) AS requests, sum(Failures) AS failures,
            sumMap(if(empty(ClientHistogram.1), ServerHistogram, ClientHistogram)) AS histogram,
            groupUniqArray(ConnectionType) AS types
        FROM (
            SELECT {columns}, 1 AS current FROM kokanee_service_edges_1m WHERE {MINUTES}
            UNION ALL SELECT {columns}, 0 AS current FROM {baseline}
        )
        GROUP BY Client, Server, current""",
        parameters=params,
    ).dicts()
    pairs: EdgeStats = {}
    base_pairs: EdgeStats = {}
    per_server: dict[tuple[str, int], _Merged] = {}
    for row in rows:
        merged = _Merged(
            int(row["requests"]),
            int(row["failures"]),
            Counter(dict(zip(*row["histogram"], strict=True))),
            set(row["types"]),
        )
        (pairs if row["current"] else base_pairs)[(row["Client"], row["Server"])] = merged.stats()
        per_server.setdefault((row["Server"], row["current"]), _Merged()).add(merged)
    incoming = {server: m.stats() for (server, current), m in per_server.items() if current}
    base_incoming = {server: m.stats() for (server, current), m in per_server.items() if not current}
    return pairs, base_pairs, incoming, base_incoming


@dataclass
class _Merged:
    """Edge counts and latency histogram (bucket -> count), summed over pairs."""

    requests: int = 0
    failures: int = 0
    histogram: Counter[int] = field(default_factory=Counter)
    types: set[str] = field(default_factory=set)

    def add(self, other: _Merged) -> None:
        self.requests += other.requests
        self.failures += other.failures
        self.histogram.update(other.histogram)
        self.types |= other.types

    def stats(self) -> tuple[RedStats, tuple[str, ...]]:
        buckets = sorted(self.histogram)
        q = bucket_quantiles(buckets, [self.histogram[b] for b in buckets])
        return RedStats(self.requests, self.failures, None, q), tuple(sorted(self.types))


def _node_types(services: set[str], edges: EdgeStats, user_client: str) -> dict[str, str]:
    types: dict[str, str] = {name: "service" for name in services}
    for (client, server), (_, conn) in edges.items():
        # A client of a plain, database or peer call is instrumented code; a broker is not.
        if client != user_client and set(conn) & {"", "database"}:
            types.setdefault(client, "service")
        if "" in conn:
            types.setdefault(server, "service")
    for (client, server), (_, conn) in edges.items():
        if client == user_client:
            types.setdefault(client, "user")
        if "messaging_system" in conn:
            types.setdefault(client, "service" if client in services else "messaging")
            types.setdefault(server, "messaging")
        if "database" in conn:
            types.setdefault(server, "database")
        types.setdefault(client, "service")
        types.setdefault(server, "external")
    return types


def read_topology(
    store: Store, start_ns: int, end_ns: int, slo: Slo | None = None, user_client: str = "user"
) -> Topology:
    """Nodes and edges seen in [start, end), each with RED and health against its baseline."""
    base_start = start_ns - BASELINE_FACTOR * (end_ns - start_ns)
    edge_stats = _EDGE_READER.submit(_edges, store, start_ns, end_ns, base_start)
    red, base_red = service_red_and_baseline(store, start_ns, end_ns, base_start)
    pairs, base_pairs, incoming, base_incoming = edge_stats.result()
    types = _node_types(set(red), pairs, user_client)

    nodes = []
    for name in sorted(types):
        kind = types[name]
        if name in red:
            stats, base = red[name], base_red.get(name)
        else:
            # Virtual nodes (and services known only from calls) are judged by what reached them.
            stats = incoming[name][0] if name in incoming else EMPTY
            base = base_incoming[name][0] if name in base_incoming else None
        health = classify(stats.health_input(), base.health_input() if base else None, slo)
        nodes.append(Node(name, kind, stats, health))

    edges = []
    for (client, server), (stats, conn) in sorted(pairs.items()):
        base_edge = base_pairs.get((client, server))
        health = classify(stats.health_input(), base_edge[0].health_input() if base_edge else None, slo)
        edges.append(Edge(client, server, conn, stats, health))
    return Topology(start_ns, end_ns, nodes, edges)
