"""Chaos records as OTLP protobuf export requests, stored through kokanee's own ingest decoder.

The requests are what an OpenTelemetry SDK's OTLP exporter sends: one ResourceSpans (ResourceLogs,
ResourceMetrics) per service and pod. `store_requests` runs them through `ingest.receiver.Decoder`
and inserts the rows as the pipeline does, so the store holds what a kokanee server would.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import NumberDataPoint
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from kokanee.demo.chaos.sim import LogRec, SpanRec
from kokanee.ingest.receiver import Decoder
from kokanee.ingest.types import Signal
from kokanee.store.client import Store
from kokanee.store.otlp_native import NATIVE_SIGNALS

# (service, time ns, metric name, value, unit)
MetricRec = tuple[str, int, str, float, str]
_SEVERITY_TEXT = {9: "INFO", 13: "WARN", 17: "ERROR"}


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _resource(service: str, namespace: str) -> Resource:
    return Resource(
        attributes=[
            _kv("service.name", service),
            _kv("service.namespace", namespace),
            _kv("k8s.pod.name", f"{service}-5d8c9-{abs(hash(service)) % 100000:05d}"),
            _kv("telemetry.sdk.language", "python"),
        ]
    )


def traces_request(spans: Iterable[SpanRec], namespace: str, status: bool = True) -> ExportTraceServiceRequest:
    """The spans as an export request; with `status` False, as instrumentation that records no span
    status sends them (the failure stays in the service's ERROR log line only)."""
    by_service: dict[str, list[SpanRec]] = defaultdict(list)
    for s in spans:
        by_service[s.service].append(s)
    req = ExportTraceServiceRequest()
    for service, recs in by_service.items():
        rs = req.resource_spans.add(resource=_resource(service, namespace))
        ss = rs.scope_spans.add()
        ss.scope.name = "kokanee.demo.chaos"
        for r in recs:
            span = Span(
                trace_id=r.trace_id,
                span_id=r.span_id,
                parent_span_id=r.parent_id,
                name=r.name,
                kind=r.kind,  # type: ignore[arg-type]
                start_time_unix_nano=r.start,
                end_time_unix_nano=r.end,
                attributes=[_kv(k, v) for k, v in r.attrs.items()],
            )
            if r.error and status:
                span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message=r.error))
            ss.spans.append(span)
    return req


def logs_request(logs: Iterable[LogRec], namespace: str) -> ExportLogsServiceRequest:
    by_service: dict[str, list[LogRec]] = defaultdict(list)
    for rec in logs:
        by_service[rec.service].append(rec)
    req = ExportLogsServiceRequest()
    for service, recs in by_service.items():
        rl = req.resource_logs.add(resource=_resource(service, namespace))
        sl = rl.scope_logs.add()
        for r in recs:
            sl.log_records.append(
                LogRecord(
                    time_unix_nano=r.t,
                    observed_time_unix_nano=r.t,
                    severity_number=r.severity,  # type: ignore[arg-type]
                    severity_text=_SEVERITY_TEXT.get(r.severity, "INFO"),
                    body=AnyValue(string_value=r.body),
                    trace_id=r.trace_id,
                    span_id=r.span_id,
                )
            )
    return req


def metrics_request(points: Iterable[MetricRec], namespace: str) -> ExportMetricsServiceRequest:
    by_service: dict[str, dict[tuple[str, str], list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for service, t, name, value, unit in points:
        by_service[service][(name, unit)].append((t, value))
    req = ExportMetricsServiceRequest()
    for service, metrics in by_service.items():
        rm = req.resource_metrics.add(resource=_resource(service, namespace))
        sm = rm.scope_metrics.add()
        for (name, unit), values in metrics.items():
            m = sm.metrics.add(name=name, unit=unit)
            for t, v in values:
                m.gauge.data_points.append(NumberDataPoint(time_unix_nano=t, as_double=v))
    return req


def store_requests(store: Store, requests: Sequence[tuple[Signal, bytes]], spool: Path, token: str) -> int:
    """Decodes each serialized request as the OTLP receiver does and inserts its rows; returns the
    items stored."""
    decoder = Decoder(NATIVE_SIGNALS if store.supports_native_otlp() else frozenset())
    stored = 0
    for i, (signal, body) in enumerate(requests):
        decoded, payload = decoder.payload(signal, body, "protobuf")
        if decoded.rejected:
            raise ValueError(f"the store's decoder rejected chaos {signal}: {decoded.error_message}")
        rows = decoder.rows(decoded, payload)
        if rows.native is not None:
            store.insert_otlp(rows.native[0], [rows.native[1]], f"{token}-{i}", spool)
        for table, data in rows.tables.items():
            store.insert_arrow(table, data, token=f"{token}-{i}-{table}")
        stored += decoded.accepted
    return stored
