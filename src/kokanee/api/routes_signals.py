"""Traces, services, logs and metrics as JSON: each answer is an object holding a named list."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from kokanee.analysis.logpatterns import pattern_filter, templates_in
from kokanee.api.errors import BadRequest, NotFound
from kokanee.api.params import attribute_filters, duration_ms, hex_id, step, window
from kokanee.store.client import Store
from kokanee.store.reads.logs import LogQuery, min_severity, search_logs
from kokanee.store.reads.metrics import SeriesQuery, list_metrics, metric_series
from kokanee.store.reads.traces import TraceQuery, get_trace, list_services, search_traces

router = APIRouter(prefix="/api/v1")

Start = Annotated[str | None, Query(description="RFC 3339, Unix ns, or now-15m (default: end - 1h)")]
End = Annotated[str | None, Query(description="RFC 3339, Unix ns, or now (default: now)")]
Limit = Annotated[int, Query(ge=1, le=10_000)]
_STATUS = {"error": "Error", "ok": "Ok", "unset": "Unset"}
NS = 1_000_000_000


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


@router.get("/traces/{trace_id}", tags=["traces"])
def trace(request: Request, trace_id: str) -> dict[str, Any]:
    """Every span of one trace with all its fields (attributes, events, links, resource, scope, status)."""
    spans = get_trace(_store(request), hex_id(trace_id, 32, "trace_id"))
    if not spans:
        raise NotFound(f"trace {trace_id} not found")
    return {"trace_id": spans[0]["trace_id"], "spans": spans}


@router.get("/traces", tags=["traces"])
def traces(
    request: Request,
    service: str | None = None,
    operation: str | None = None,
    status: Annotated[str | None, Query(description="error, ok or unset")] = None,
    min_duration_ms: Annotated[float | None, Query(description="whole-trace duration at least")] = None,
    max_duration_ms: float | None = None,
    start: Start = None,
    end: End = None,
    limit: Limit = 20,
) -> dict[str, Any]:
    """Trace search, newest first. `attr.KEY=VALUE` filters on span or resource attributes."""
    w = window(start, end)
    status_code = None
    if status:
        status_code = _STATUS.get(status.lower())
        if status_code is None:
            raise BadRequest(f"status must be error, ok or unset, not {status!r}")
    q = TraceQuery(
        w.start_ns, w.end_ns, service, operation, status_code,
        duration_ms(min_duration_ms, "min_duration_ms"), duration_ms(max_duration_ms, "max_duration_ms"),
        attribute_filters(request), limit,
    )  # fmt: skip
    return {"traces": search_traces(_store(request), q)}


@router.get("/services", tags=["services"])
def services(request: Request, start: Start = None, end: End = None) -> dict[str, Any]:
    """Services seen in the window in any signal."""
    w = window(start, end)
    return {"services": list_services(_store(request), w.start_ns, w.end_ns)}


@router.get("/logs", tags=["logs"])
def logs(
    request: Request,
    service: str | None = None,
    severity: Annotated[
        str | None, Query(description="minimum: TRACE, DEBUG, INFO, WARN, ERROR, FATAL or 1-24")
    ] = None,
    q: Annotated[str | None, Query(description="text the body contains (case-insensitive)")] = None,
    trace_id: str | None = None,
    pattern: Annotated[
        str | None, Query(description="a template id from /logs/patterns: only its lines (needs service)")
    ] = None,
    start: Start = None,
    end: End = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Log records, newest first."""
    w = window(start, end)
    try:
        sev = min_severity(severity) if severity else None
    except ValueError as e:
        raise BadRequest(str(e)) from e
    tid = hex_id(trace_id, 32, "trace_id") if trace_id else None
    query = LogQuery(w.start_ns, w.end_ns, service, sev, q, tid, limit)
    answer: dict[str, Any] = {}
    if pattern:
        if not service:
            raise BadRequest("pattern needs service: template ids are numbered per service")
        found = pattern_filter(_store(request), service, pattern)
        if found is None:
            raise NotFound(f"service {service!r} has no log pattern {pattern!r}")
        query.body_regex, query.location = found.body_regex, found.location
        answer["pattern"] = {"template_id": pattern, "template": found.template}
    return {"logs": search_logs(_store(request), query), **answer}


@router.get("/logs/patterns", tags=["logs"])
def log_patterns(
    request: Request,
    service: str | None = None,
    start: Start = None,
    end: End = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    points: Annotated[int, Query(ge=2, le=500, description="steps per series, at most (whole minutes each)")] = 30,
    sort: Annotated[
        Literal["count", "change"], Query(description="count: most lines first; change: most changed against before")
    ] = "count",
) -> dict[str, Any]:
    """Log templates (Drain, mined per service each minute) in the window, with their lines per step
    and their lines in as long a stretch just before it; `new` when first seen inside the window."""
    w = window(start, end)
    return templates_in(_store(request), service, w.start_ns // NS, -(-w.end_ns // NS), limit, points, sort)


@router.get("/metrics", tags=["metrics"])
def metrics(request: Request, start: Start = None, end: End = None) -> dict[str, Any]:
    """Metric names with their type, unit and the services reporting them."""
    w = window(start, end)
    return {"metrics": list_metrics(_store(request), w.start_ns, w.end_ns)}


@router.get("/metrics/{name}", tags=["metrics"])
def metric(
    request: Request,
    name: str,
    start: Start = None,
    end: End = None,
    step_: Annotated[str | None, Query(alias="step", description="e.g. 30s, 1m (default: window/120)")] = None,
) -> dict[str, Any]:
    """A series per attribute set; histograms as count, rate and p50/p95/p99."""
    w = window(start, end)
    result = metric_series(
        _store(request), SeriesQuery(name, w.start_ns, w.end_ns, step(step_, w), attribute_filters(request))
    )
    if result is None:
        raise NotFound(f"no metric named {name!r} in the window")
    return result
