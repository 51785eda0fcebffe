"""Which spans and log records kokanee stores, and why not the others: one set of rules.

The Python decoders and the native path both use these; ClickHouse's flattening
(`kokanee.store.otlp_native`) applies the same conditions in SQL, so the counts in a response
match the rows stored. Only ids and timestamps are read, so the native path's check is cheap.
"""

from __future__ import annotations

from typing import Any

from kokanee.ingest.types import Decoded, Signal

# DateTime64(9) is an Int64 of ns: the last representable instant is 2262-04-11T23:47:16.854775807.
MAX_NS = 2**63 - 1
_ZERO16 = bytes(16)
_ZERO8 = bytes(8)


def label(kind: str, name: str, trace_id: bytes) -> str:
    trace = trace_id.hex()[:32] if trace_id else "none"
    return f"{kind} {name[:80]!r} (trace {trace})"


def span_problem(span: Any) -> str | None:
    """Why a span cannot be stored, or None when it can."""
    tid, sid, pid = span.trace_id, span.span_id, span.parent_span_id
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    if len(tid) != 16:
        return f"trace_id must be 16 bytes, got {len(tid)}"
    if tid == _ZERO16:
        return "trace_id must not be all zeros"
    if len(sid) != 8:
        return f"span_id must be 8 bytes, got {len(sid)}"
    if sid == _ZERO8:
        return "span_id must not be all zeros"
    if pid and len(pid) != 8:
        return f"parent_span_id must be empty or 8 bytes, got {len(pid)}"
    if start <= 0:
        return "start_time_unix_nano must be set"
    if end < start:
        return "end_time_unix_nano is before start_time_unix_nano"
    if end > MAX_NS:
        return "timestamps must be before 2262-04-11"
    if span.events and any(ev.time_unix_nano > MAX_NS for ev in span.events):
        return "event timestamps must be before 2262-04-11"
    return None


def log_problem(record: Any) -> str | None:
    """Why a log record cannot be stored, or None when it can."""
    tid, sid = record.trace_id, record.span_id
    if tid and len(tid) != 16:
        return f"trace_id must be empty or 16 bytes, got {len(tid)}"
    if sid and len(sid) != 8:
        return f"span_id must be empty or 8 bytes, got {len(sid)}"
    if (record.time_unix_nano or record.observed_time_unix_nano) > MAX_NS:
        return "timestamp must be before 2262-04-11"
    return None


def validate_traces(req: Any) -> Decoded:
    out = Decoded("traces", native=True)
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                problem = span_problem(span)
                if problem is None:
                    out.accepted += 1
                else:
                    out.reject(1, f"{label('span', span.name, span.trace_id)}: {problem}")
    return out


def validate_logs(req: Any) -> Decoded:
    out = Decoded("logs", native=True)
    for rl in req.resource_logs:
        for sl in rl.scope_logs:
            for rec in sl.log_records:
                problem = log_problem(rec)
                if problem is None:
                    out.accepted += 1
                else:
                    name = rec.event_name or rec.severity_text
                    out.reject(1, f"{label('log record', name, rec.trace_id)}: {problem}")
    return out


def validate(signal: Signal, message: Any) -> Decoded:
    """Counts the items the store will keep (for `partial_success`), without flattening them."""
    return validate_traces(message) if signal == "traces" else validate_logs(message)
