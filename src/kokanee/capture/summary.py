"""What a captured request holds, for the index: services, item count and event-time range."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from kokanee.capture.lite import REQUESTS
from kokanee.ingest.otlp_json import parse_json
from kokanee.ingest.types import DecodeError

_MESSAGES: dict[str, Any] = {
    "traces": ExportTraceServiceRequest,
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
}
POINT_KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")


@dataclass
class Summary:
    services: set[str] = field(default_factory=set)
    items: int = 0
    event_start: int = 0
    event_end: int = 0

    def add_time(self, ns: int) -> None:
        if ns:
            self.event_start = ns if not self.event_start else min(self.event_start, ns)
            self.event_end = max(self.event_end, ns)

    def merge(self, other: Summary) -> None:
        self.services |= other.services
        self.items += other.items
        self.add_time(other.event_start)
        self.add_time(other.event_end)


def parse(signal: str, payload: bytes, encoding: str) -> Any:
    """The Export*ServiceRequest of a captured body; DecodeError when it cannot be read."""
    if encoding == "json":
        return parse_json(signal, payload)  # type: ignore[arg-type]
    try:
        return _MESSAGES[signal].FromString(payload)
    except Exception as e:  # protobuf's DecodeError and friends
        raise DecodeError(f"unreadable {signal} protobuf: {e}") from e


def summarize(signal: str, payload: bytes, encoding: str) -> Summary:
    summary = Summary()
    try:
        # Protobuf is read with just the fields the index needs (see lite.py): several times cheaper.
        request = parse(signal, payload, encoding) if encoding == "json" else REQUESTS[signal].FromString(payload)
    except Exception:  # the receiver accepted it, so this cannot happen; the bytes are kept anyway
        return summary
    if signal == "traces":
        for rs in request.resource_spans:
            summary.services.add(_service(rs.resource))
            for ss in rs.scope_spans:
                spans = ss.spans
                if spans:
                    summary.items += len(spans)
                    summary.add_time(min([s.start_time_unix_nano for s in spans]))
                    summary.add_time(max([s.end_time_unix_nano for s in spans]))
    elif signal == "logs":
        for rl in request.resource_logs:
            summary.services.add(_service(rl.resource))
            for sl in rl.scope_logs:
                times = [r.time_unix_nano or r.observed_time_unix_nano for r in sl.log_records]
                summary.items += len(times)
                if times:
                    summary.add_time(min(times))
                    summary.add_time(max(times))
    else:
        for rm in request.resource_metrics:
            summary.services.add(_service(rm.resource))
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    kind = metric.WhichOneof("data") if encoding == "json" else _kind(metric)
                    if kind in POINT_KINDS:
                        times = [p.time_unix_nano for p in getattr(metric, kind).data_points]
                        summary.items += len(times)
                        if times:
                            summary.add_time(min(times))
                            summary.add_time(max(times))
    summary.services.discard("")
    return summary


def _kind(metric: Any) -> str | None:
    for kind in POINT_KINDS:
        if metric.HasField(kind):
            return kind
    return None


def _service(resource: Any) -> str:
    for kv in resource.attributes:
        if kv.key == "service.name":
            return str(kv.value.string_value)
    return ""
