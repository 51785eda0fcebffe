"""The import command against a recording HTTP server: what goes on the wire, retries on
back-pressure, loud failures, partial success, fault labels and rebasing."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import typer
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from typer.testing import CliRunner

from kokanee.importers.command import default_api_url, import_command, run_import
from kokanee.importers.sender import SendError

DATA = Path(__file__).parent / "testdata" / "import"


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingServer:
    """Answers from `plan` (status, headers, body) in order, then 200; records every request."""

    url: str = ""
    plan: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)

    def traces(self) -> list[Any]:
        return [
            ExportTraceServiceRequest.FromString(r.body)
            for r in self.requests
            if r.path == "/v1/traces" and r.headers.get("content-type") == "application/x-protobuf"
        ]


@pytest.fixture
def recorder() -> Iterator[RecordingServer]:
    state = RecordingServer()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
            with lock:
                state.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status, headers, answer = state.plan.pop(0) if state.plan else (200, {}, b"")
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("import")(import_command)
    app.command("noop")(lambda: None)  # two commands, so `import` is addressed by name
    return app


def test_cli_sends_gzipped_protobuf_with_the_bearer_token(recorder: RecordingServer) -> None:
    path = str(DATA / "jaeger-frontend-calls-backend.json")
    result = CliRunner().invoke(cli(), ["import", path, "--endpoint", recorder.url, "--token", "s3cret"])
    assert result.exit_code == 0, result.output
    assert [r.path for r in recorder.requests] == ["/v1/traces"]
    sent = recorder.requests[0]
    assert sent.headers["authorization"] == "Bearer s3cret"
    assert sent.headers["content-encoding"] == "gzip"
    names = [s.name for rs in recorder.traces()[0].resource_spans for s in rs.scope_spans[0].spans]
    assert sorted(names) == ["GET /dispatch", "SQL SELECT"]


def test_back_pressure_is_retried_after_the_servers_delay(recorder: RecordingServer) -> None:
    busy = (503, {"Retry-After": "0"}, b"")
    recorder.plan = [busy, (429, {"Retry-After": "0"}, b"")]
    report = run_import(DATA / "zipkin-client-server.json", endpoint=recorder.url)
    assert report.stats.retries == 2
    assert report.stats.sent["traces"] == 2
    assert len(recorder.requests) == 3
    assert recorder.requests[0].body == recorder.requests[2].body


def test_a_rejected_request_fails_loudly_with_the_servers_message(recorder: RecordingServer) -> None:
    status = status_pb2.Status(code=3, message="span name too long").SerializeToString()
    recorder.plan = [(400, {"Content-Type": "application/x-protobuf"}, status)]
    with pytest.raises(SendError, match="answered 400: span name too long"):
        run_import(DATA / "zipkin-client-server.json", endpoint=recorder.url)
    recorder.plan = [(400, {"Content-Type": "application/x-protobuf"}, status)]
    result = CliRunner().invoke(cli(), ["import", str(DATA / "zipkin-client-server.json"), "--endpoint", recorder.url])
    assert result.exit_code == 1
    assert "span name too long" in result.output


def test_partial_success_is_counted_as_rejected(recorder: RecordingServer) -> None:
    response = ExportTraceServiceResponse()
    response.partial_success.rejected_spans = 1
    response.partial_success.error_message = "span without a name"
    recorder.plan = [(200, {"Content-Type": "application/x-protobuf"}, response.SerializeToString())]
    report = run_import(DATA / "zipkin-client-server.json", endpoint=recorder.url)
    assert (report.stats.sent["traces"], report.stats.rejected["traces"]) == (1, 1)
    assert report.stats.messages == ["span without a name"]


def nezha_day(root: Path) -> Path:
    """A two-span Nezha day with one fault, in the artifact's layout."""
    day = root / "rca_data" / "2023-01-29"
    (day / "trace").mkdir(parents=True)
    (day / "trace" / "08_43_trace.csv").write_text(
        "TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration\n"
        "b0103bb0161ad7fa352fe1828eeb643a,520b067330e3ede5,root,ts-gateway-service-6f6cfc45b-h5m2n,/*,"
        "1674981768697000000,1674981769015316530,318316\n"
        "b0103bb0161ad7fa352fe1828eeb643a,a4424f20bffee416,520b067330e3ede5,ts-gateway-service-6f6cfc45b-h5m2n,"
        "HTTP POST,1674981768697763387,1674981769015072039,317308\n"
    )
    fault = {"inject_time": "2023-01-29 08:42:48", "inject_timestamp": "1674953044", "inject_type": "return"}
    fault["inject_pod"] = "ts-contacts-service-866bd68c97-xcqfx"
    (day / "2023-01-29-fault_list.json").write_text(json.dumps({"08": [fault]}))
    return root


def test_labels_go_to_the_api_and_rebase_moves_them_with_the_spans(recorder: RecordingServer, tmp_path: Path) -> None:
    report = run_import(
        nezha_day(tmp_path), endpoint=recorder.url, api_url=recorder.url, rebase_time="2030-01-01T00:00:00Z"
    )
    end = 1674981769015316530
    offset = 1893456000_000000000 - end
    assert report.offset_ns == offset
    spans = [s for rs in recorder.traces()[0].resource_spans for s in rs.scope_spans[0].spans]
    assert max(s.end_time_unix_nano for s in spans) == 1893456000_000000000
    assert sorted(s.start_time_unix_nano - offset for s in spans) == [
        1674981768697000000,
        1674981768697763387,
    ]
    labels = [json.loads(r.body) for r in recorder.requests if r.path == "/api/v1/fault-labels"]
    assert labels == [
        {
            "labels": [
                {
                    "start": 1674981768000000000 + offset,
                    "end": None,
                    "service": "ts-contacts-service",
                    "kind": "return",
                    "source": "nezha",
                    "detail": "return injected into pod ts-contacts-service-866bd68c97-xcqfx"
                    " at 2023-01-29 08:42:48 UTC",
                }
            ]
        }
    ]


@pytest.mark.parametrize(
    ("endpoint", "api"),
    [
        ("http://127.0.0.1:4318", "http://127.0.0.1:8080"),
        ("https://kokanee.example.com:4318/", "https://kokanee.example.com:8080"),
        ("http://[::1]:4318", "http://[::1]:8080"),
    ],
)
def test_the_api_defaults_to_the_endpoints_host_on_8080(endpoint: str, api: str) -> None:
    assert default_api_url(endpoint) == api


def test_labels_can_carry_their_own_api_token(recorder: RecordingServer, tmp_path: Path) -> None:
    """A server whose ingest token differs from its API tokens: each request carries the right one."""
    args = ["import", str(nezha_day(tmp_path)), "--endpoint", recorder.url, "--api-url", recorder.url]
    result = CliRunner().invoke(cli(), [*args, "--token", "ingest-secret", "--api-token", "editor-secret"])
    assert result.exit_code == 0, result.output
    sent = {r.path: r.headers["authorization"] for r in recorder.requests}
    assert sent == {"/api/v1/fault-labels": "Bearer editor-secret", "/v1/traces": "Bearer ingest-secret"}
