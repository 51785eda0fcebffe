"""Item checks for the native path: which spans and log records the store will keep, and why not the rest.

Reads only ids and timestamps, so it is cheap; ClickHouse flattens the accepted items later
with the same rules (`kokanee.store.otlp_native`), so the response's counts match the rows.
"""

from __future__ import annotations

from typing import Any

from kokanee.ingest.decode_logs import _problem as log_problem
from kokanee.ingest.decode_traces import MAX_NS, _span_problem, label
from kokanee.ingest.types import Decoded, Signal

_ZERO16 = bytes(16)
_ZERO8 = bytes(8)


def validate_traces(req: Any) -> Decoded:
    out = Decoded("traces", native=True)
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for s in ss.spans:
                tid, sid, pid = s.trace_id, s.span_id, s.parent_span_id
                start, end = s.start_time_unix_nano, s.end_time_unix_nano
                if (
                    len(tid) != 16
                    or tid == _ZERO16
                    or len(sid) != 8
                    or sid == _ZERO8
                    or (pid and len(pid) != 8)
                    or start <= 0
                    or end < start
                    or end > MAX_NS
                ):
                    out.reject(1, f"{label('span', s.name, tid)}: {_span_problem(tid, sid, pid, start, end)}")
                else:
                    out.accepted += 1
    return out


def validate_logs(req: Any) -> Decoded:
    out = Decoded("logs", native=True)
    for rl in req.resource_logs:
        for sl in rl.scope_logs:
            for rec in sl.log_records:
                tid, sid = rec.trace_id, rec.span_id
                t = rec.time_unix_nano or rec.observed_time_unix_nano
                if (tid and len(tid) != 16) or (sid and len(sid) != 8) or t > MAX_NS:
                    name = rec.event_name or rec.severity_text
                    out.reject(1, f"{label('log record', name, tid)}: {log_problem(tid, sid)}")
                else:
                    out.accepted += 1
    return out


VALIDATORS = {"traces": validate_traces, "logs": validate_logs}


def validate(signal: Signal, message: Any) -> Decoded:
    return VALIDATORS[signal](message)
