"""Helpers for the capture tests (no tests here): moto_server on loopback as the real S3 API,
and OTLP requests built with opentelemetry-proto (two services calling each other and a
database, logs with observed times, metrics with exemplars)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.server import free_port

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
MOTO = Path(sys.executable).parent / "moto_server"
NS = 1_000_000_000


class MotoServer:
    """`moto_server` in a subprocess on a fixed loopback port, so it can be killed and restarted."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log_path = log_dir / f"moto-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        env = {**os.environ, **AWS_ENV}
        self.proc = subprocess.Popen(
            [str(MOTO), "-H", "127.0.0.1", "-p", str(self.port)], stdout=log, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto_server exited: {self.log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("moto_server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
            region_name=AWS_ENV["AWS_DEFAULT_REGION"],
        )

    def keys(self, bucket: str, prefix: str = "") -> set[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return {item["Key"] for page in pages for item in page.get("Contents", [])}


@pytest.fixture
def moto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    server = MotoServer(tmp_path).start()
    yield server
    server.stop()


# -- OTLP requests ----------------------------------------------------------------------------------


def _kv(key: str, value: str | int | float) -> KeyValue:
    if isinstance(value, str):
        return KeyValue(key=key, value=AnyValue(string_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(double_value=value))


def _resource(service: str) -> dict[str, Any]:
    return {"attributes": [_kv("service.name", service), _kv("host.name", "capture-test")]}


def _span(scope: Any, trace_id: bytes, start: int, sid: int, parent: int, kind: int, name: str,
          offset_ms: float, ms: float, attrs: dict[str, Any] | None = None, error: bool = False) -> Span:  # fmt: skip
    span: Span = scope.spans.add(
        trace_id=trace_id,
        span_id=sid.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name=name,
        kind=kind,
        start_time_unix_nano=start + int(offset_ms * 1e6),
        end_time_unix_nano=start + int((offset_ms + ms) * 1e6),
        attributes=[_kv(k, v) for k, v in (attrs or {}).items()],
        status=Status(code=Status.STATUS_CODE_ERROR if error else Status.STATUS_CODE_OK),
    )
    return span


def trace_request(base_ns: int, traces: int, tag: str) -> ExportTraceServiceRequest:
    """`traces` purchases starting at `base_ns`, 1 s apart: frontend (server, then client) →
    cart-TAG (server) → postgresql (client span with db attributes); one span event each."""
    request = ExportTraceServiceRequest()
    front = request.resource_spans.add(resource=_resource(f"frontend-{tag}")).scope_spans.add(
        scope={"name": "capture-test", "version": "1"}
    )
    cart = request.resource_spans.add(resource=_resource(f"cart-{tag}")).scope_spans.add(
        scope={"name": "capture-test", "version": "1"}
    )
    for i in range(traces):
        trace_id = (i + 1).to_bytes(8, "big") + tag.encode().ljust(8, b"-")[:8]
        start = base_ns + i * NS
        ids = [i * 10 + k for k in range(5)]
        root = _span(front, trace_id, start, ids[1], 0, Span.SPAN_KIND_SERVER, "GET /checkout", 0, 40,
                     {"http.route": "/checkout"})  # fmt: skip
        root.events.add(time_unix_nano=start + 5_000_000, name="cache.miss", attributes=[_kv("attempt", i)])
        _span(front, trace_id, start, ids[2], ids[1], Span.SPAN_KIND_CLIENT, "POST /cart", 2, 30)
        _span(cart, trace_id, start, ids[3], ids[2], Span.SPAN_KIND_SERVER, "POST /cart", 3, 28, error=i % 3 == 0)
        _span(cart, trace_id, start, ids[4], ids[3], Span.SPAN_KIND_CLIENT, "SELECT carts", 5, 4,
              {"db.system.name": "postgresql", "server.address": "postgresql"})  # fmt: skip
    return request


def log_request(base_ns: int, count: int, tag: str) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add(resource=_resource(f"cart-{tag}")).scope_logs.add(scope={"name": "capture-test"})
    for i in range(count):
        scope.log_records.add(
            time_unix_nano=base_ns + i * NS + 7,
            observed_time_unix_nano=base_ns + i * NS + 1_000_007,
            severity_text="ERROR" if i % 2 else "INFO",
            severity_number=17 if i % 2 else 9,
            body=AnyValue(string_value=f"{tag} log line {i}"),
            attributes=[_kv("line", i)],
            trace_id=(i + 1).to_bytes(8, "big") + tag.encode().ljust(8, b"-")[:8],
        )
    return request


def metric_request(base_ns: int, points: int, tag: str) -> ExportMetricsServiceRequest:
    """A gauge, a cumulative sum and a histogram (with an exemplar per point)."""
    request = ExportMetricsServiceRequest()
    scope = request.resource_metrics.add(resource=_resource(f"cart-{tag}")).scope_metrics.add(
        scope={"name": "capture-test"}
    )
    gauge = scope.metrics.add(name=f"{tag}.queue.depth", unit="1").gauge
    total = scope.metrics.add(name=f"{tag}.requests", unit="1").sum
    total.aggregation_temporality = 2
    total.is_monotonic = True
    hist = scope.metrics.add(name=f"{tag}.latency", unit="ms").histogram
    hist.aggregation_temporality = 2
    for i in range(points):
        t = base_ns + i * NS
        gauge.data_points.add(time_unix_nano=t, as_double=1.5 * i, attributes=[_kv("queue", "q1")])
        total.data_points.add(start_time_unix_nano=base_ns - NS, time_unix_nano=t, as_int=10 * (i + 1))
        point = hist.data_points.add(
            start_time_unix_nano=base_ns - NS, time_unix_nano=t, count=3, sum=12.5 + i,
            bucket_counts=[1, 1, 1], explicit_bounds=[5.0, 10.0],
        )  # fmt: skip
        point.exemplars.add(time_unix_nano=t - 1000, as_double=4.5, span_id=b"\x01" * 8, trace_id=b"\x02" * 16)
    return request
