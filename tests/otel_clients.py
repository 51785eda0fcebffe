"""The OpenTelemetry Python SDK wired to a kokanee server: real exporters, real wire formats."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from tests.server import KokaneeServer


@dataclass
class Exporters:
    span: Any
    log: Any
    metric: Any


def exporters(server: KokaneeServer, protocol: str, token: str | None = None) -> Exporters:
    headers = {"authorization": f"Bearer {token}"} if token else None
    if protocol == "grpc":
        from grpc import Compression as GrpcCompression
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        ep = server.otlp_grpc_endpoint
        grpc_headers = tuple(headers.items()) if headers else None
        gz = GrpcCompression.Gzip  # the receiver must take compressed messages
        return Exporters(
            OTLPSpanExporter(endpoint=ep, insecure=True, headers=grpc_headers, timeout=10, compression=gz),
            OTLPLogExporter(endpoint=ep, insecure=True, headers=grpc_headers, timeout=10, compression=gz),
            OTLPMetricExporter(endpoint=ep, insecure=True, headers=grpc_headers, timeout=10),
        )
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter

    base = server.otlp_http_url
    gzip = Compression.Gzip
    return Exporters(
        HttpSpanExporter(endpoint=f"{base}/v1/traces", headers=headers, compression=gzip, timeout=10),
        HttpLogExporter(endpoint=f"{base}/v1/logs", headers=headers, compression=gzip, timeout=10),
        HttpMetricExporter(endpoint=f"{base}/v1/metrics", headers=headers, compression=gzip, timeout=10),
    )


@dataclass
class SentTrace:
    trace_id: str
    root_span_id: str
    child_span_id: str


@contextmanager
def providers(server: KokaneeServer, protocol: str, service: str, token: str | None = None) -> Iterator[Any]:
    ex = exporters(server, protocol, token)
    resource = Resource.create({"service.name": service, "service.version": "1.2.3", "host.name": "test-host"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(ex.span))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(ex.log))
    reader = PeriodicExportingMetricReader(ex.metric, export_interval_millis=3_600_000)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    try:
        yield tracer_provider, logger_provider, meter_provider
    finally:
        for provider in (tracer_provider, logger_provider, meter_provider):
            provider.shutdown()


def send_sample(server: KokaneeServer, protocol: str, service: str, token: str | None = None) -> SentTrace:
    """A server span with every attribute type and an event, an erroring client child with a link,
    two correlated logs, a counter and a histogram."""
    with providers(server, protocol, service, token) as (tp, lp, mp):
        tracer = tp.get_tracer("kokanee.tests", "0.9")
        with tracer.start_as_current_span(
            "GET /cart",
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": "GET",
                "http.response.status_code": 200,
                "ratio": 0.25,
                "cached": True,
                "tags": ["a", "b"],
                "counts": [1, 2],
            },
        ) as root:
            root.add_event("cache.miss", {"key": "cart:42", "attempt": 2})
            ctx = root.get_span_context()
            with tracer.start_as_current_span(
                "SELECT carts", kind=SpanKind.CLIENT, links=[Link(ctx, {"link.kind": "follows"})]
            ) as child:
                child.set_status(Status(StatusCode.ERROR, "connection reset"))
                child.set_attribute("db.system.name", "postgresql")
                child_ctx = child.get_span_context()
                logger = lp.get_logger("kokanee.tests")
                logger.emit(
                    body="cart loaded from database",
                    severity_text="INFO",
                    severity_number=SeverityNumber.INFO,
                    attributes={"cart.items": 3},
                )
                logger.emit(
                    body="connection reset by peer",
                    severity_text="ERROR",
                    severity_number=SeverityNumber.ERROR,
                    attributes={"retry": False},
                )
        meter = mp.get_meter("kokanee.tests")
        meter.create_counter("cart.requests", unit="{request}").add(5, {"route": "/cart"})
        histogram = meter.create_histogram("cart.latency", unit="ms")
        for value in (3, 7, 40, 120):
            histogram.record(value, {"route": "/cart"})
    return SentTrace(format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"), format(child_ctx.span_id, "016x"))
