"""One OpenTelemetry SDK resource per shop service: tracer, logger and meter providers, and exporters.

Span and log processors are shared by all services' providers (the OTLP encoder groups by resource, so
each service still arrives as its own ResourceSpans) which keeps one exporter and one worker thread per
signal; metric readers cannot be shared, so each service has its own. Tests pass in-memory exporters
and readers through `Exporters`; the demo itself builds OTLP ones with `otlp_exporters`.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from opentelemetry._logs import Logger
from opentelemetry.metrics import CallbackOptions, Histogram, Observation
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Tracer

from kokanee.demo.state import ShopState
from kokanee.demo.topology import (
    DEMO_VERSION,
    KAFKA_CONSUMERS,
    ORDERS_TOPIC,
    SERVICE_NAMESPACE,
    SERVICES,
    Protocol,
)

# Semantic-convention advisory buckets: seconds for HTTP, milliseconds for the older rpc.* histograms.
HTTP_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]
RPC_BUCKETS_MS = [0.0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000]
CACHES: dict[str, str] = {"cart": "valkey-cart", "recommendation": "recommendation-product-cache"}


class SeededIdGenerator(IdGenerator):
    """Trace and span ids from a seeded RNG, so a run is reproducible down to its ids."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def generate_span_id(self) -> int:
        return self._rng.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._rng.getrandbits(128) or 1


@dataclass
class Exporters:
    span: SpanExporter
    log: LogRecordExporter
    metric_reader: Callable[[], MetricReader]  # called once per service
    batch: bool = True  # batch processors (real exporters) or simple ones (in-memory tests)


def otlp_exporters(
    endpoint: str, protocol: str, export_interval_s: float = 10.0, token: str | None = None
) -> Exporters:
    """OTLP exporters for `protocol` "http" (protobuf; `endpoint` is the base URL) or "grpc", sending
    `token` as a bearer token when the receiver wants one."""
    interval_ms = export_interval_s * 1000
    headers = {"authorization": f"Bearer {token}"} if token else None
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetrics
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans

        insecure = not endpoint.startswith("https://")
        return Exporters(
            GrpcSpans(endpoint=endpoint, insecure=insecure, timeout=5, headers=headers),
            GrpcLogs(endpoint=endpoint, insecure=insecure, timeout=5, headers=headers),
            lambda: PeriodicExportingMetricReader(
                GrpcMetrics(endpoint=endpoint, insecure=insecure, timeout=5, headers=headers),
                export_interval_millis=interval_ms,
            ),
        )
    if protocol != "http":
        raise ValueError(f"unknown protocol {protocol!r}: use grpc or http")
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetrics
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans

    base = endpoint.rstrip("/")
    return Exporters(
        HttpSpans(endpoint=f"{base}/v1/traces", timeout=5, headers=headers),
        HttpLogs(endpoint=f"{base}/v1/logs", timeout=5, headers=headers),
        lambda: PeriodicExportingMetricReader(
            HttpMetrics(endpoint=f"{base}/v1/metrics", timeout=5, headers=headers), export_interval_millis=interval_ms
        ),
    )


@dataclass
class ServiceTelemetry:
    name: str
    tracer: Tracer
    logger: Logger
    meters: MeterProvider
    http_duration: Histogram | None  # http.server.request.duration, seconds
    rpc_duration: Histogram | None  # rpc.server.duration, milliseconds


def service_resource(name: str, run_id: str, environment: str) -> Resource:
    instance = hashlib.sha1(f"{run_id}/{name}".encode()).hexdigest()[:12]
    return Resource.create(
        {
            "service.name": name,
            "service.namespace": SERVICE_NAMESPACE,
            "service.version": DEMO_VERSION,
            "service.instance.id": f"{name}-{instance}",
            "deployment.environment.name": environment,
            "host.name": f"{name}-{instance[:5]}",
            "app.language": SERVICES[name].language,
            # Lets tests and users pick one demo run out of a shared store.
            "kokanee.demo.run": run_id,
        }
    )


class Telemetry:
    """The SDK providers of every service; `flush` pushes what is queued, `shutdown` ends them all."""

    def __init__(self, exporters: Exporters, state: ShopState, run_id: str, environment: str, seed: int) -> None:
        self._span_processor: SpanProcessor
        self._log_processor: LogRecordProcessor
        if exporters.batch:
            # Queues sized for a backfill burst; the runner also flushes every few thousand spans.
            self._span_processor = BatchSpanProcessor(
                exporters.span, max_queue_size=65536, schedule_delay_millis=1000, max_export_batch_size=2048
            )
            self._log_processor = BatchLogRecordProcessor(
                exporters.log, max_queue_size=65536, schedule_delay_millis=1000, max_export_batch_size=2048
            )
        else:
            self._span_processor = SimpleSpanProcessor(exporters.span)
            self._log_processor = SimpleLogRecordProcessor(exporters.log)
        self.state = state
        ids = SeededIdGenerator(seed)
        self.services: dict[str, ServiceTelemetry] = {}
        for name in SERVICES:
            resource = service_resource(name, run_id, environment)
            tracer_provider = TracerProvider(resource=resource, id_generator=ids, shutdown_on_exit=False)
            tracer_provider.add_span_processor(self._span_processor)
            logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
            logger_provider.add_log_record_processor(self._log_processor)
            meters = MeterProvider(
                resource=resource, metric_readers=[exporters.metric_reader()], shutdown_on_exit=False
            )
            self.services[name] = self._instrument(name, tracer_provider, logger_provider, meters)

    def _instrument(
        self,
        name: str,
        tracer_provider: TracerProvider,
        logger_provider: LoggerProvider,
        meters: MeterProvider,
    ) -> ServiceTelemetry:
        scope = f"kokanee.demo.{name}"
        meter = meters.get_meter(scope, DEMO_VERSION)
        protocol = SERVICES[name].protocol
        http = rpc = None
        if protocol is Protocol.HTTP:
            http = meter.create_histogram(
                "http.server.request.duration",
                unit="s",
                description="Duration of HTTP server requests.",
                explicit_bucket_boundaries_advisory=HTTP_BUCKETS_S,
            )
        if protocol is Protocol.GRPC:
            rpc = meter.create_histogram(
                "rpc.server.duration",
                unit="ms",
                description="Measures the duration of inbound RPC.",
                explicit_bucket_boundaries_advisory=RPC_BUCKETS_MS,
            )
        state = self.state

        def cpu(_: CallbackOptions) -> Iterable[Observation]:
            yield Observation(state.cpu_utilization_now(name))

        def memory(_: CallbackOptions) -> Iterable[Observation]:
            yield Observation(state.memory_bytes_now(name), {"process.memory.type": "rss"})

        meter.create_observable_gauge("process.cpu.utilization", [cpu], unit="1", description="CPU utilization.")
        meter.create_observable_gauge("process.memory.usage", [memory], unit="By", description="Resident memory.")
        if name in KAFKA_CONSUMERS:

            def lag(_: CallbackOptions) -> Iterable[Observation]:
                attrs = {
                    "messaging.system": "kafka",
                    "messaging.destination.name": ORDERS_TOPIC,
                    "messaging.consumer.group.name": name,
                }
                yield Observation(state.lag_messages_now(name), attrs)

            meter.create_observable_gauge(
                "kafka.consumer_group.lag", [lag], unit="{message}", description="Messages not yet consumed."
            )
        if name in CACHES:
            cache_name = CACHES[name]

            def hit_ratio(_: CallbackOptions) -> Iterable[Observation]:
                ratio = state.cache_hit_ratio_now(cache_name)
                if ratio is not None:
                    yield Observation(ratio, {"cache.name": cache_name})

            meter.create_observable_gauge(
                "cache.hit_ratio",
                [hit_ratio],
                unit="1",
                description="Cache hits over lookups since the last read.",
            )
        return ServiceTelemetry(
            name,
            tracer_provider.get_tracer(scope, DEMO_VERSION),
            logger_provider.get_logger(scope, DEMO_VERSION),
            meters,
            http,
            rpc,
        )

    def flush(self, timeout_ms: int = 30000) -> None:
        self._span_processor.force_flush(timeout_ms)
        self._log_processor.force_flush(timeout_ms)

    def flush_metrics(self, timeout_ms: int = 30000) -> None:
        for svc in self.services.values():
            svc.meters.force_flush(timeout_ms)

    def shutdown(self) -> None:
        """Flushes and stops everything; metrics last so the final gauges see the whole run."""
        self.flush()
        self._span_processor.shutdown()
        self._log_processor.shutdown()
        # In parallel: each provider's last export may wait out its exporter's retries when the endpoint
        # is down, and sixteen of those in a row would hold Ctrl-C for minutes.
        threads = [threading.Thread(target=svc.meters.shutdown, daemon=True) for svc in self.services.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=15)
