"""`--rebase-time`: move a whole recording in time by one offset.

Every timestamp (span start/end and events, log time and observed time, metric point
times and exemplars, fault labels) moves by the same number of nanoseconds, so durations,
orderings and gaps are exactly those recorded. The recording's latest timestamp lands on
the requested time: with `now`, the data ends now and nothing is in the future.
"""

from __future__ import annotations

from typing import Any

from kokanee.importers.types import Batch, ImportFailed
from kokanee.store.timeparse import parse_time

_POINT_KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")


def target_ns(spec: str, now_ns: int | None = None) -> int:
    """The time the recording's end moves to, in kokanee's one time grammar (kokanee.store.timeparse):
    `now`, `now-1h`, RFC 3339 (UTC when no zone is given) or a Unix time in s, ms or ns."""
    try:
        return parse_time(spec, now_ns)
    except ValueError as e:
        raise ImportFailed(f"--rebase-time: {e}") from None


def latest_ns(batch: Batch) -> int:
    """The latest timestamp in a batch (0 when it has none)."""
    latest = 0
    request = batch.request
    if batch.signal == "traces":
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    latest = max(latest, span.end_time_unix_nano, span.start_time_unix_nano)
    elif batch.signal == "logs":
        for rl in request.resource_logs:
            for sl in rl.scope_logs:
                for record in sl.log_records:
                    latest = max(latest, record.time_unix_nano or record.observed_time_unix_nano)
    else:
        for point in _points(request):
            latest = max(latest, point.time_unix_nano)
    return latest


def shift(batch: Batch, offset_ns: int) -> None:
    """Adds `offset_ns` to every timestamp of the batch's request, in place.

    Zero timestamps mean "not set" in OTLP and stay zero.
    """
    if offset_ns == 0:
        return
    request = batch.request
    if batch.signal == "traces":
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    _shift_fields(span, offset_ns, "start_time_unix_nano", "end_time_unix_nano")
                    for event in span.events:
                        _shift_fields(event, offset_ns, "time_unix_nano")
    elif batch.signal == "logs":
        for rl in request.resource_logs:
            for sl in rl.scope_logs:
                for record in sl.log_records:
                    _shift_fields(record, offset_ns, "time_unix_nano", "observed_time_unix_nano")
    else:
        for point in _points(request):
            _shift_fields(point, offset_ns, "time_unix_nano", "start_time_unix_nano")
            for exemplar in getattr(point, "exemplars", ()):
                _shift_fields(exemplar, offset_ns, "time_unix_nano")


def _shift_fields(message: Any, offset_ns: int, *names: str) -> None:
    for name in names:
        value = getattr(message, name)
        if value:
            # fixed64 fields: a shift before 1970 cannot be stored, so clamp at 1 ns.
            setattr(message, name, max(1, value + offset_ns))


def _points(request: Any) -> list[Any]:
    points: list[Any] = []
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                if kind in _POINT_KINDS:
                    points.extend(getattr(metric, kind).data_points)
    return points
