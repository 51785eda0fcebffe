"""Hand-built telemetry for the AI tests: a small shop's traces and logs as OTLP requests, under
fresh service names, optionally carrying injected text in attributes, status messages and logs."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

MS = 1_000_000
SERVER, CLIENT, INTERNAL = Span.SPAN_KIND_SERVER, Span.SPAN_KIND_CLIENT, Span.SPAN_KIND_INTERNAL


def kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


@dataclass
class Shop:
    """Service names (fresh per instance) and the requests that describe their traffic."""

    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    injected: str = ""  # text put into attributes, status messages and log bodies

    def name(self, base: str) -> str:
        return f"{base}-{self.suffix}"

    @property
    def frontend(self) -> str:
        return self.name("frontend")

    @property
    def checkout(self) -> str:
        return self.name("checkout")

    @property
    def catalog(self) -> str:
        return self.name("catalog")

    def traces(self, minutes_ago: float = 5.0, count: int = 30) -> tuple[ExportTraceServiceRequest, list[str]]:
        """`count` browse traces (frontend → catalog, which queries its database 12 times per
        request: an N+1) and `count` checkout traces (frontend → checkout, half failing)."""
        req = ExportTraceServiceRequest()
        by_service: dict[str, list[Span]] = {}
        base = time.time_ns() - int(minutes_ago * 60_000) * MS
        ids = []
        for i in range(count):
            start = base + i * 2_000 * MS
            ids.append(self._browse(by_service, start, i))
            ids.append(self._checkout(by_service, start + 500 * MS, i, failing=i % 2 == 0))
        for service, spans in by_service.items():
            rs = ResourceSpans(resource=Resource(attributes=[kv("service.name", service)]))
            rs.scope_spans.append(ScopeSpans(spans=spans))
            req.resource_spans.append(rs)
        return req, ids

    def _span(self, trace: bytes, parent: bytes, name: str, kind: int, start: int, ms: float, **kw: object) -> Span:
        error = bool(kw.pop("error", False))
        attrs = dict(kw.pop("attrs", {}) or {})  # type: ignore[call-overload]
        if self.injected:
            attrs["user.comment"] = self.injected
        return Span(
            trace_id=trace, span_id=uuid.uuid4().bytes[:8], parent_span_id=parent, name=name, kind=kind,
            start_time_unix_nano=start, end_time_unix_nano=start + int(ms * MS),
            status=Status(code=Status.STATUS_CODE_ERROR, message=self.injected or "payment declined")
            if error else Status(),
            attributes=[kv(k, v) for k, v in attrs.items()],
        )  # fmt: skip

    def _browse(self, out: dict[str, list[Span]], start: int, i: int) -> str:
        trace = uuid.uuid4().bytes
        root = self._span(trace, b"", "GET /api/products", SERVER, start, 120,
                          attrs={"http.route": "/api/products", "http.request.method": "GET"})  # fmt: skip
        call = self._span(trace, root.span_id, "GET catalog", CLIENT, start + 5 * MS, 100)
        serve = self._span(trace, call.span_id, "ListProducts", SERVER, start + 6 * MS, 98)
        out.setdefault(self.frontend, []).extend([root, call])
        out.setdefault(self.catalog, []).append(serve)
        db = {"db.system.name": "postgresql", "db.query.text": "SELECT * FROM products WHERE id = ?"}
        for q in range(12):
            out[self.catalog].append(
                self._span(trace, serve.span_id, "SELECT products", CLIENT, start + (7 + q * 7) * MS, 6, attrs=db)
            )
        return trace.hex()

    def _checkout(self, out: dict[str, list[Span]], start: int, i: int, failing: bool) -> str:
        trace = uuid.uuid4().bytes
        root = self._span(trace, b"", "POST /api/checkout", SERVER, start, 400, error=failing,
                          attrs={"http.route": "/api/checkout", "http.request.method": "POST"})  # fmt: skip
        call = self._span(trace, root.span_id, "POST checkout", CLIENT, start + 5 * MS, 380, error=failing)
        serve = self._span(trace, call.span_id, "PlaceOrder", SERVER, start + 6 * MS, 375, error=failing)
        out.setdefault(self.frontend, []).extend([root, call])
        out.setdefault(self.checkout, []).append(serve)
        return trace.hex()

    def logs(self, minutes_ago: float = 5.0, count: int = 10) -> ExportLogsServiceRequest:
        req = ExportLogsServiceRequest()
        base = time.time_ns() - int(minutes_ago * 60_000) * MS
        records = [
            LogRecord(
                time_unix_nano=base + i * 1000 * MS,
                severity_number=17,
                severity_text="ERROR",
                body=AnyValue(string_value=self.injected or f"payment declined for order {i}"),
            )
            for i in range(count)
        ]
        rl = ResourceLogs(resource=Resource(attributes=[kv("service.name", self.checkout)]))
        rl.scope_logs.append(ScopeLogs(log_records=records))
        req.resource_logs.append(rl)
        return req
