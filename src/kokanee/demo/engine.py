"""The simulation's primitives: a time cursor inside one service's span, and the calls it can make.

Nothing sleeps: a `Call` carries a simulated clock `t` (unix ns). Work advances it; a remote call
opens a CLIENT span at `t`, injects the W3C context into a dict carrier, extracts it on the callee's
side to start the SERVER span, runs the callee's handler there, and closes the client span when the
response is back. Spans get explicit start and end times, so latencies are exact and reproducible.

    caller  |==== CLIENT ==============================|
    network      >hop                          hop<
    callee       |==== SERVER (handler: work, calls) ==|

Failures are Python exceptions: a handler raises `ShopError`, the server span records it (exception
event, status ERROR), and the caller sees `UpstreamError`, so errors travel up the chain as they do in
the real shop.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

from opentelemetry._logs import SeverityNumber
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AnyValue, AttributeValue

from kokanee.demo.faults import FaultBoard
from kokanee.demo.state import ShopState
from kokanee.demo.telemetry import ServiceTelemetry, Telemetry
from kokanee.demo.topology import BASE_WORK_MS, SERVICES

Attrs = Mapping[str, AttributeValue]
Handler = Callable[["Call"], None]

# The demo's own propagator, not the global one: an embedding process may have configured that differently.
PROPAGATOR = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])

SEVERITY_NUMBERS = {"DEBUG": 5, "INFO": 9, "WARN": 13, "ERROR": 17, "FATAL": 21}
GRPC_CODES = {"OK": 0, "UNKNOWN": 2, "NOT_FOUND": 5, "INTERNAL": 13, "UNAVAILABLE": 14}


class ShopError(Exception):
    """A failure a service answers with; says how each protocol reports it."""

    grpc_code = "INTERNAL"
    http_status = 500


class UpstreamError(ShopError):
    """Raised in a caller when the service it called failed; keeps the callee's codes."""

    def __init__(self, message: str, cause: ShopError) -> None:
        super().__init__(message)
        self.grpc_code = cause.grpc_code if cause.grpc_code != "OK" else "UNKNOWN"
        self.http_status = cause.http_status


@dataclass
class DemoStats:
    journeys: int = 0
    requests: int = 0
    spans: int = 0
    logs: int = 0
    errors: int = 0  # server spans that ended in error


class Sim:
    """Shared simulation context: telemetry, faults, gauges state, one seeded RNG, counters."""

    def __init__(self, telemetry: Telemetry, board: FaultBoard, state: ShopState, rng: random.Random) -> None:
        self.telemetry, self.board, self.state, self.rng = telemetry, board, state, rng
        self.stats = DemoStats()
        self.load = 1.0  # current load relative to the mean; a little queueing latency comes with it

    def sample_ms(self, base_ms: float) -> float:
        """A long-tailed duration around `base_ms`: lognormal body, 1.5% of calls 3-10x slower."""
        tail = self.rng.uniform(3.0, 10.0) if self.rng.random() < 0.015 else 1.0
        return base_ms * self.rng.lognormvariate(0.0, 0.35) * tail * (0.85 + 0.15 * self.load)

    def cpu_factor(self, service: str, now_ns: int) -> float:
        factor = self.board.value("cpu_contention", service) or 1.0
        ad = self.board.value("ad_high_cpu", service)
        if ad is not None:
            # The real flag spins a busy loop; its effect builds up over the first minute.
            factor *= 1.0 + (ad - 1.0) * min(1.0, 0.25 + self.board.minutes_on("ad_high_cpu", service, now_ns))
        flood = self.board.value("homepage_flood", service)
        if flood is not None:
            factor *= 1.0 + 0.1 * flood
        return factor

    def hop_ns(self, target: str) -> int:
        """One-way network time into `target`; network_delay adds half its round trip each way."""
        ms = 0.25 * self.rng.lognormvariate(0.0, 0.3)
        delay = self.board.value("network_delay", target)
        if delay is not None:
            ms += delay / 2.0
        return int(ms * 1e6)


class Call:
    """A cursor inside one service: where its current span is (`ctx`) and what time it is (`t`, ns)."""

    def __init__(self, sim: Sim, service: str, ctx: Context, t: int) -> None:
        self.sim, self.service, self.ctx, self.t = sim, service, ctx, t

    @property
    def tel(self) -> ServiceTelemetry:
        return self.sim.telemetry.services[self.service]

    @property
    def rng(self) -> random.Random:
        return self.sim.rng

    def work(self, ms: float | None = None) -> None:
        """Own processing time (CPU): jittered, long-tailed, scaled by CPU faults on this service."""
        base = BASE_WORK_MS[self.service] if ms is None else ms
        ns = int(self.sim.sample_ms(base) * self.sim.cpu_factor(self.service, self.t) * 1e6)
        self.sim.state.busy(self.service, ns)
        self.t += ns

    def wait(self, ms: float) -> None:
        """Time spent not computing (I/O, timers): no CPU, no CPU-fault scaling."""
        self.t += int(ms * 1e6)

    def log(self, severity: str, body: str, attrs: Attrs | None = None) -> None:
        self.tel.logger.emit(
            timestamp=self.t,
            context=self.ctx,
            severity_number=SeverityNumber(SEVERITY_NUMBERS[severity]),
            severity_text=severity,
            body=body,
            attributes=cast(Mapping[str, AnyValue], dict(attrs or {})),
        )
        self.sim.stats.logs += 1

    def _start(self, name: str, kind: SpanKind, attrs: Attrs, ctx: Context, links: list[Link] | None = None) -> Span:
        self.sim.stats.spans += 1
        return self.tel.tracer.start_span(name, ctx, kind, dict(attrs), links, start_time=self.t)

    def internal(self, name: str, attrs: Attrs, ms: float | None = None) -> None:
        span = self._start(name, SpanKind.INTERNAL, attrs, self.ctx)
        self.work(ms)
        span.end(end_time=self.t)

    def grpc(self, target: str, method: str, handler: Handler, attrs: Attrs | None = None) -> None:
        svc = SERVICES[target]
        name = f"{svc.rpc_service}/{method}"
        common: dict[str, AttributeValue] = {
            "rpc.system": "grpc",
            "rpc.service": svc.rpc_service,
            "rpc.method": method,
        }
        client: dict[str, AttributeValue] = {
            **common,
            "server.address": target,
            "server.port": svc.port,
            **(attrs or {}),
        }
        server: dict[str, AttributeValue] = {
            **common,
            "server.address": target,
            "server.port": svc.port,
            **(attrs or {}),
        }
        self._remote(target, name, client, name, server, handler)

    def http(
        self, target: str, method: str, route: str, path: str, handler: Handler, attrs: Attrs | None = None
    ) -> None:
        port = SERVICES[target].port
        client: dict[str, AttributeValue] = {
            "http.request.method": method,
            "url.full": f"http://{target}:{port}{path}",
            "url.template": route,
            "server.address": target,
            "server.port": port,
            "network.protocol.version": "1.1",
            **(attrs or {}),
        }
        server: dict[str, AttributeValue] = {
            "http.request.method": method,
            "http.route": route,
            "url.path": path,
            "url.scheme": "http",
            "server.address": target,
            "server.port": port,
            "network.protocol.version": "1.1",
            "user_agent.original": "python-requests/2.32.3" if self.service == "load-generator" else "node",
        }
        self._remote(target, f"{method} {route}", client, f"{method} {route}", server, handler)

    def _remote(
        self,
        target: str,
        client_name: str,
        client_attrs: Attrs,
        server_name: str,
        server_attrs: Attrs,
        handler: Handler,
    ) -> None:
        span = self._start(client_name, SpanKind.CLIENT, client_attrs, self.ctx)
        carrier: dict[str, str] = {}
        PROPAGATOR.inject(carrier, context=set_span_in_context(span, self.ctx))
        callee = Call(self.sim, target, PROPAGATOR.extract(carrier), self.t + self.sim.hop_ns(target))
        error = callee.serve(server_name, server_attrs, handler)
        self.t = callee.t + self.sim.hop_ns(target)
        http = SERVICES[target].protocol.value == "http"
        if http:
            span.set_attribute("http.response.status_code", error.http_status if error else 200)
        else:
            span.set_attribute("rpc.grpc.status_code", GRPC_CODES[error.grpc_code] if error else 0)
        if error is not None:
            upstream = UpstreamError(_upstream_message(target, http, error), error)
            span.set_attribute("error.type", str(error.http_status) if http else error.grpc_code)
            span.record_exception(upstream, timestamp=self.t)
            span.set_status(Status(StatusCode.ERROR, str(upstream)))
        span.end(end_time=self.t)
        if error is not None:
            raise upstream from error

    def serve(
        self,
        name: str,
        attrs: Attrs,
        handler: Handler,
        kind: SpanKind = SpanKind.SERVER,
        links: list[Link] | None = None,
    ) -> ShopError | None:
        """Runs `handler` inside a span of this service; returns the error it failed with, if any."""
        span = self._start(name, kind, attrs, self.ctx, links)
        start, self.ctx = self.t, set_span_in_context(span, self.ctx)
        error: ShopError | None = None
        try:
            handler(self)
        except ShopError as exc:
            error = exc
            span.record_exception(exc, timestamp=self.t, escaped=True)
            span.set_status(Status(StatusCode.ERROR, str(exc)))
            self.sim.stats.errors += 1
        protocol = SERVICES[self.service].protocol.value
        tel, seconds = self.tel, (self.t - start) / 1e9
        if protocol == "http" and kind is SpanKind.SERVER:
            status = error.http_status if error else 200
            span.set_attribute("http.response.status_code", status)
            if error is not None:
                span.set_attribute("error.type", str(status))
            if tel.http_duration is not None:
                tel.http_duration.record(
                    seconds,
                    {
                        "http.request.method": str(attrs["http.request.method"]),
                        "http.route": str(attrs["http.route"]),
                        "http.response.status_code": status,
                        "url.scheme": "http",
                    },
                )
        elif protocol == "grpc" and kind is SpanKind.SERVER:
            code = GRPC_CODES[error.grpc_code] if error else 0
            span.set_attribute("rpc.grpc.status_code", code)
            if tel.rpc_duration is not None:
                tel.rpc_duration.record(
                    seconds * 1000,
                    {
                        "rpc.system": "grpc",
                        "rpc.service": str(attrs["rpc.service"]),
                        "rpc.method": str(attrs["rpc.method"]),
                        "rpc.grpc.status_code": code,
                    },
                )
        span.end(end_time=self.t)
        return error

    def parallel(self, *branches: Handler) -> None:
        """Runs branches concurrently from the same instant; continues when the slowest is done."""
        if not branches:
            return
        t0, ends, first_error = self.t, [], None
        for branch in branches:
            self.t = t0
            try:
                branch(self)
            except ShopError as exc:
                first_error = first_error or exc
            ends.append(self.t)
        self.t = max(ends)
        if first_error is not None:
            raise first_error


def _upstream_message(target: str, http: bool, error: ShopError) -> str:
    if http:
        return f"HTTP {error.http_status} from {target}: {error}"
    code = "".join(part.title() for part in error.grpc_code.split("_"))
    return f"rpc error: code = {code} desc = {error}"
