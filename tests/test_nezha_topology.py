"""The service map of the real Train Ticket day (Nezha), against edges counted from its CSVs.

The recording (tests/testdata/nezha: one whole minute of the day's spans, 08:43, with 49
service-to-service calls) is imported into a `kokanee serve` of its own, moved to end five minutes ago
(`rebase_time`) so every minute is due for the server's Deriver. Expected edges are read from the
trace CSVs with the csv module: the parent span's service to the child span's service, wherever
they differ. Services are pod names without their
ReplicaSet and pod hash suffixes (the importer's `service_from_pod`).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from kokanee.importers.command import run_import
from kokanee.importers.otlp import service_from_pod
from tests.server import KokaneeServer

NEZHA = Path(__file__).parent / "testdata" / "nezha"
NS = 1_000_000_000
GATEWAY = "ts-gateway-service"
USER = "user"

Edge = tuple[str, str]


@dataclass(frozen=True)
class Recording:
    """What the trace CSVs say: service edges, the services of root spans, the time span."""

    spans: int
    roots: int
    edges: frozenset[Edge]
    root_services: frozenset[str]
    first_ns: int
    last_ns: int


@pytest.fixture(scope="session")
def nezha_day_root() -> Path:
    return NEZHA


def read_recording(root: Path) -> Recording:
    services: dict[tuple[str, str], str] = {}  # (trace id, span id) -> service
    parents: list[tuple[str, str, str]] = []  # (trace id, parent span id, child service)
    root_services: set[str] = set()
    roots = 0
    starts: list[int] = []  # one per row: some spans are recorded twice, and each copy is sent
    for path in sorted(root.rglob("trace/*.csv")):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                service = service_from_pod(row["PodName"])
                services[(row["TraceID"], row["SpanID"])] = service
                starts.append(int(row["StartTimeUnixNano"]))
                if row["ParentID"] == "root":
                    root_services.add(service)
                    roots += 1
                else:
                    parents.append((row["TraceID"], row["ParentID"], service))
    edges = set()
    for trace_id, parent_id, child in parents:
        parent = services.get((trace_id, parent_id))
        if parent is not None and parent != child:
            edges.add((parent, child))
    return Recording(len(starts), roots, frozenset(edges), frozenset(root_services), min(starts), max(starts))


def topology_edges(server: KokaneeServer, start_ns: int, end_ns: int) -> dict[Edge, list[str]]:
    body = server.get("/api/v1/topology", start=str(start_ns), end=str(end_ns))
    return {(e["source"], e["target"]): e["connection_types"] for e in body["edges"]}


def wait_for_edges(
    server: KokaneeServer, start_ns: int, end_ns: int, expected: frozenset[Edge], timeout: float = 300.0
) -> dict[Edge, list[str]]:
    """Polls the service map until its service edges match, or stop changing for 30 s (6 ticks
    of the Deriver, which closes 30 minutes a tick) once there are any."""
    deadline = time.monotonic() + timeout
    last: dict[Edge, list[str]] = {}
    unchanged_since = time.monotonic()
    while time.monotonic() < deadline:
        edges = topology_edges(server, start_ns, end_ns)
        if service_edges(edges) == expected:
            return edges
        if edges != last:
            last, unchanged_since = edges, time.monotonic()
        elif edges and time.monotonic() - unchanged_since > 30:
            return edges
        time.sleep(2)
    return last


def service_edges(edges: dict[Edge, list[str]]) -> frozenset[Edge]:
    """Edges between two services: no user entry edges, no virtual nodes, no calls within one service."""
    return frozenset(
        (source, target)
        for (source, target), types in edges.items()
        if source != USER and source != target and "" in types
    )


def test_the_service_map_of_the_train_ticket_day_has_exactly_the_recorded_calls(
    nezha_day_root: Path, start_kokanee: Callable[..., KokaneeServer]
) -> None:
    recording = read_recording(nezha_day_root)
    assert recording.root_services == {GATEWAY}, "every trace is expected to enter through the gateway"
    assert len(recording.edges) > 20

    server = start_kokanee()
    target = time.time_ns() - 5 * 60 * NS
    report = run_import(nezha_day_root, endpoint=server.otlp_http_url, api_url=server.api_url, rebase_time=str(target))
    assert report.stats.sent["traces"] == recording.spans
    assert report.stats.rejected["traces"] == 0
    server.wait_for(
        "SELECT count() AS n FROM otel_traces",  # the arrival minutes fill in the same insert
        lambda rows: rows[0]["n"] == recording.spans,
        timeout=240,
    )

    start = recording.first_ns + report.offset_ns
    end = recording.last_ns + report.offset_ns + 2 * 60 * NS
    edges = wait_for_edges(server, start, end, recording.edges)

    got = service_edges(edges)
    assert got == recording.edges, (
        f"missing from the map: {sorted(recording.edges - got)}; not in the recording: {sorted(got - recording.edges)}"
    )
    # Users reach the system only through the gateway, and nothing else is drawn: no virtual
    # nodes (the recording has no database or peer attributes).
    entry = {key: types for key, types in edges.items() if key[0] == USER}
    assert entry == {(USER, GATEWAY): ["virtual_node"]}
    assert all(types == [""] for key, types in edges.items() if key[0] != USER), edges

    nodes = {n["name"]: n for n in server.get("/api/v1/topology", start=str(start), end=str(end))["nodes"]}
    services = {s for edge in recording.edges for s in edge}
    assert {name for name, n in nodes.items() if n["type"] == "service"} >= services
    assert nodes[USER]["type"] == "user"
    # Each root span is one request from a user to the gateway.
    assert nodes[GATEWAY]["red"]["requests"] == recording.roots
