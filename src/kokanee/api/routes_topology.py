"""The service map, one service's RED and neighbours, and operations, as JSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from kokanee.analysis.health import Red, Slo, classify
from kokanee.api.errors import NotFound
from kokanee.api.params import step, window
from kokanee.store.client import Store
from kokanee.store.reads.edges import edge_series, edge_traces
from kokanee.store.reads.red import operation_red, red_series, red_sparklines
from kokanee.store.reads.topology import edge_json, read_topology

router = APIRouter(prefix="/api/v1")

Start = Annotated[str | None, Query(description="RFC 3339, Unix ns, or now-15m (default: end - 1h)")]
End = Annotated[str | None, Query(description="RFC 3339, Unix ns, or now (default: now)")]


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _slo(request: Request) -> Slo | None:
    """The server's SLO defaults, where the composition root set them (app.state.slo)."""
    slo: Slo | None = getattr(request.app.state, "slo", None)
    return slo


def _user_client(request: Request) -> str:
    return str(getattr(request.app.state, "user_client", "user"))


@router.get("/topology", tags=["services"])
def topology(request: Request, start: Start = None, end: End = None) -> dict[str, Any]:
    """The service map: nodes (service, database, messaging, external, user) and edges, each with
    RED over the window and health against SLOs and its baseline (the preceding 6x window)."""
    w = window(start, end)
    return read_topology(_store(request), w.start_ns, w.end_ns, _slo(request), _user_client(request)).to_json()


# Registered before /services/{name}, which would otherwise take "sparklines" for a service name.
@router.get("/services/sparklines", tags=["services"])
def sparklines(
    request: Request,
    start: Start = None,
    end: End = None,
    points: Annotated[int, Query(ge=2, le=500, description="Steps per series, at most (whole minutes each)")] = 30,
) -> dict[str, Any]:
    """Every service's request rate (per s), error rate and p95 (ms) over the window in at most
    `points` equal steps, for the sparklines of the services table; `t` holds each step's start
    (Unix s). A step without requests reads rate 0, error rate 0 and p95 null."""
    w = window(start, end)
    return red_sparklines(_store(request), w.start_ns, w.end_ns, points).to_json()


@router.get("/services/{name}", tags=["services"])
def service(
    request: Request,
    name: str,
    start: Start = None,
    end: End = None,
    step_: Annotated[
        str | None, Query(alias="step", description="e.g. 5m; whole minutes (default: ~120 points)")
    ] = None,
) -> dict[str, Any]:
    """One service: RED and health over the window, a RED series per step, its operations, and the
    edges into it (upstream) and out of it (downstream)."""
    w = window(start, end)
    store = _store(request)
    topo = read_topology(store, w.start_ns, w.end_ns, _slo(request), _user_client(request))
    node = next((n for n in topo.nodes if n.name == name), None)
    if node is None:
        raise NotFound(f"service {name!r} has no requests or calls between start and end")
    window_ns = w.end_ns - w.start_ns
    step_ns, series = red_series(store, name, w.start_ns, w.end_ns, step(step_, w))
    return {
        "name": node.name,
        "type": node.type,
        "red": node.red.to_json(window_ns),
        "health": node.health.to_json(),
        "step_ns": step_ns,
        "series": series,
        "operations": [_with_health(op, request) for op in operation_red(store, w.start_ns, w.end_ns, name)],
        "upstream": [edge_json(e, window_ns) for e in topo.edges if e.target == name],
        "downstream": [edge_json(e, window_ns) for e in topo.edges if e.source == name],
    }


@router.get("/operations", tags=["services"])
def operations(request: Request, service: str | None = None, start: Start = None, end: End = None) -> dict[str, Any]:
    """Operations (entry span names) with RED over the window, busiest first; all services' when
    `service` is not given."""
    w = window(start, end)
    ops = operation_red(_store(request), w.start_ns, w.end_ns, service)
    return {"operations": [_with_health(op, request) for op in ops]}


def _with_health(op: dict[str, Any], request: Request) -> dict[str, Any]:
    """An operation judged on the SLO alone (no baseline read per operation: it would cost a query each)."""
    p95 = op.get("p95_ms")
    health = classify(Red(op["requests"], op["errors"], p95 * 1e6 if p95 is not None else None), None, _slo(request))
    return {**op, "health": health.to_json()}


@router.get("/edges", tags=["services"])
def edge(
    request: Request,
    source: Annotated[str, Query(description="The calling node (client side)")],
    target: Annotated[str, Query(description="The called node (server side)")],
    start: Start = None,
    end: End = None,
    step_: Annotated[str | None, Query(alias="step", description="e.g. 5m (default: ~120 points)")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Sample traces to return")] = 20,
) -> dict[str, Any]:
    """One edge of the map: RED and health over the window, a RED series per step, and sample
    traces that made the call (failed ones first, then the slowest)."""
    w = window(start, end)
    store = _store(request)
    topo = read_topology(store, w.start_ns, w.end_ns, _slo(request), _user_client(request))
    found = next((e for e in topo.edges if e.source == source and e.target == target), None)
    if found is None:
        raise NotFound(f"no calls from {source!r} to {target!r} between start and end")
    step_ns, series = edge_series(store, source, target, w.start_ns, w.end_ns, step(step_, w))
    return {
        **edge_json(found, w.end_ns - w.start_ns),
        "step_ns": step_ns,
        "series": series,
        "traces": edge_traces(store, source, target, w.start_ns, w.end_ns, _user_client(request), limit),
    }
