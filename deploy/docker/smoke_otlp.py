"""The image smoke test's client: sends OTLP to a running kokanee container from the host, with the
OpenTelemetry Python SDK's own exporters (gRPC and HTTP/protobuf), and reads it back through the API.

    KOKANEE_API_TOKEN=... python deploy/docker/smoke_otlp.py GRPC_ENDPOINT OTLP_HTTP_URL API_URL

Exits non-zero, saying what is missing, when the data does not come back within a minute.
"""

from __future__ import annotations

import os
import sys
import time
import uuid

import httpx
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind


def send(grpc_endpoint: str, http_url: str, service: str) -> None:
    resource = Resource.create({"service.name": service})
    for exporter in (
        GrpcSpanExporter(endpoint=grpc_endpoint, insecure=True, timeout=10),
        HttpSpanExporter(endpoint=f"{http_url}/v1/traces", timeout=10),
    ):
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("kokanee-smoke")
        with (
            tracer.start_as_current_span("GET /smoke", kind=SpanKind.SERVER),
            tracer.start_as_current_span("SELECT smoke", kind=SpanKind.CLIENT) as span,
        ):
            span.set_attribute("db.system", "postgresql")
        provider.shutdown()
    logs = LoggerProvider(resource=resource)
    logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{http_url}/v1/logs")))
    logs.get_logger("kokanee-smoke").emit(body="smoke test log line", severity_number=SeverityNumber.INFO)
    logs.shutdown()


def query(api_url: str, sql: str) -> list[list[object]]:
    token = os.environ.get("KOKANEE_API_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = httpx.post(f"{api_url}/api/v1/query", json={"sql": sql}, headers=headers, timeout=30)
    r.raise_for_status()
    rows: list[list[object]] = r.json()["rows"]
    return rows


def main(grpc_endpoint: str, http_url: str, api_url: str) -> int:
    service = f"smoke-{uuid.uuid4().hex[:8]}"
    send(grpc_endpoint, http_url, service)
    want = {"spans": 4, "logs": 1}
    got: dict[str, object] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got["spans"] = query(api_url, f"SELECT count() FROM otel_traces WHERE ServiceName = '{service}'")[0][0]
        got["logs"] = query(api_url, f"SELECT count() FROM otel_logs WHERE ServiceName = '{service}'")[0][0]
        if got == want:
            break
        time.sleep(1)
    else:
        print(f"smoke: stored {got}, expected {want} for {service}", file=sys.stderr)
        return 1
    ui = httpx.get(f"{api_url}/", timeout=10)
    if ui.status_code != 200 or "<html" not in ui.text.lower():
        print(f"smoke: the UI page did not come back ({ui.status_code})", file=sys.stderr)
        return 1
    print(f"smoke: {service}: 4 spans (gRPC and HTTP) and 1 log stored and read back; the UI is served")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
