"""Critical paths as JSON: one trace's path, and across traces which services an entry waits on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from kokanee.analysis.critical_path import CriticalPath, cpspans, critical_path
from kokanee.analysis.critical_path_aggregate import aggregate, dominant_sequences
from kokanee.api.errors import NotFound
from kokanee.api.params import hex_id, window
from kokanee.store.client import Store
from kokanee.store.reads.entry_traces import TraceSpans, load_traces, sample_entry_traces, top_entry_operations
from kokanee.store.reads.traces import get_trace

router = APIRouter(prefix="/api/v1")

Start = Annotated[str | None, Query(description="RFC 3339, Unix ns, or now-15m (default: end - 1h)")]
End = Annotated[str | None, Query(description="RFC 3339, Unix ns, or now (default: now)")]
_MAX_ERRORS = 20  # per answer: enough to see the pattern without drowning the result


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


@router.get("/traces/{trace_id}/critical-path", tags=["analysis"])
def trace_critical_path(request: Request, trace_id: str) -> dict[str, Any]:
    """The spans the root was waiting on, as time-ordered segments of self time (ns).

    `errors` lists what the path leaves out (other roots, spans with a missing parent)."""
    tid = hex_id(trace_id, 32, "trace_id")
    spans = get_trace(_store(request), tid)
    if not spans:
        raise NotFound(f"trace {trace_id} not found")
    return {"trace_id": tid, **critical_path(cpspans(spans)).to_dict()}


@router.get("/critical-paths", tags=["analysis"])
def critical_paths(
    request: Request,
    entry: Annotated[str | None, Query(description="root span name, e.g. POST /api/checkout")] = None,
    service: Annotated[str | None, Query(description="root span's service")] = None,
    start: Start = None,
    end: End = None,
    limit: Annotated[int, Query(ge=1, le=100, description="entries (no entry) or path sequences")] = 10,
    sample: Annotated[int, Query(ge=1, le=1000, description="newest traces analysed per entry")] = 100,
) -> dict[str, Any]:
    """Without `entry`: the heaviest entry operations (count × p95) and their dominant service paths.
    With `entry`: the share of critical-path time per service and operation (mean, p50, p95 over
    the sampled traces) and the service sequences along the path, most frequent first."""
    store = _store(request)
    w = window(start, end)
    if entry:
        ids = sample_entry_traces(store, entry, w.start_ns, w.end_ns, service, sample)
        loaded = load_traces(store, ids)
        paths, path_errors = _paths(ids, loaded)
        return {
            "entry": entry, "service": service, "start_time_unix_nano": w.start_ns, "end_time_unix_nano": w.end_ns,
            **aggregate(paths, top_sequences=limit).to_dict(), "errors": path_errors,
        }  # fmt: skip
    entries = top_entry_operations(store, w.start_ns, w.end_ns, service, limit)
    samples = {
        (e.service, e.operation): sample_entry_traces(store, e.operation, w.start_ns, w.end_ns, e.service, sample)
        for e in entries
    }
    # One load for every entry's sample: a scan per entry would cost `limit` passes over the window.
    loaded = load_traces(store, [tid for ids in samples.values() for tid in ids])
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    for e in entries:
        paths, trace_errors = _paths(samples[(e.service, e.operation)], loaded)
        errors.extend(trace_errors)
        sequences = dominant_sequences(paths, top=3)
        rows.append(
            e.to_dict()
            | {
                "sampled_traces": len(paths),
                "dominant_path": list(sequences[0].services) if sequences else [],
                "paths": [s.to_dict() for s in sequences],
            }
        )
    return {
        "start_time_unix_nano": w.start_ns, "end_time_unix_nano": w.end_ns, "entries": rows,
        "errors": errors[:_MAX_ERRORS],
    }  # fmt: skip


def _paths(ids: Sequence[str], loaded: TraceSpans) -> tuple[list[CriticalPath], list[str]]:
    """Critical paths of the loaded traces among `ids`, and what went wrong, per trace, capped."""
    paths: list[CriticalPath] = []
    errors: list[str] = []
    if loaded.truncated:
        errors.append(f"span limit reached: {len(loaded.spans)} traces loaded, the rest left out")
    for tid in ids:
        spans = loaded.spans.get(tid)
        if not spans:
            continue
        path = critical_path(cpspans(spans))
        paths.append(path)
        errors.extend(f"trace {tid}: {e}" for e in path.errors)
    return paths, errors[:_MAX_ERRORS]
