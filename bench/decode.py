"""Decode throughput: 1,000-item OTLP requests shaped like real service telemetry.

Prints spans/s, log records/s and metric points/s (median of 5 runs), for decode alone and
for protobuf parse + decode. Run: .venv/bin/python bench/decode.py
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from ingest import _kv as kv  # bench/ingest.py, beside this script
from kokanee.ingest.decode import decode, parse_protobuf
from kokanee.ingest.types import Signal

N = 1000
T0 = 1_700_000_000_000_000_000
RESOURCE = {
    "service.name": "cart",
    "service.version": "1.4.2",
    "deployment.environment": "prod",
    "host.name": "node-7",
    "k8s.pod.name": "cart-7d9f-abc",
    "process.pid": 4242,
    "telemetry.sdk.name": "opentelemetry",
    "telemetry.sdk.language": "python",
}


def span_attrs(i: int, rnd: random.Random) -> list[KeyValue]:
    return [
        kv(k, v)
        for k, v in {
            "http.request.method": "GET",
            "http.route": "/cart/{id}",
            "http.response.status_code": 200 if i % 10 else 500,
            "url.full": f"http://cart:8080/cart/{rnd.randrange(10**6)}",
            "server.port": 8080,
            "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64)",
            "network.protocol.version": "1.1",
            "error": i % 10 == 0,
            "http.response.body.size": rnd.randrange(10**5),
            "app.cache.hit_ratio": rnd.random(),
            "enduser.id": f"user-{rnd.randrange(500)}",
            "thread.name": f"worker-{i % 8}",
        }.items()
    ]


def traces() -> bytes:
    rnd = random.Random(1)
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend(kv(k, v) for k, v in RESOURCE.items())
    ss = rs.scope_spans.add()
    ss.scope.name, ss.scope.version = "opentelemetry.instrumentation.flask", "0.48b0"
    for i in range(N):
        s = ss.spans.add(trace_id=rnd.randbytes(16), span_id=rnd.randbytes(8), name="GET /cart/{id}")
        if i % 5:
            s.parent_span_id = rnd.randbytes(8)
        s.kind = 2 if i % 2 else 3
        s.start_time_unix_nano = T0 + i * 1000
        s.end_time_unix_nano = s.start_time_unix_nano + rnd.randrange(10**7)
        s.attributes.extend(span_attrs(i, rnd))
        if i % 4 == 0:
            ev = s.events.add(time_unix_nano=s.start_time_unix_nano + 5, name="exception")
            ev.attributes.extend([kv("exception.type", "ValueError"), kv("exception.message", f"bad item {i}")])
        s.status.code = 2 if i % 10 == 0 else 0
    return req.SerializeToString()


def logs() -> bytes:
    rnd = random.Random(2)
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.extend(kv(k, v) for k, v in RESOURCE.items())
    sl = rl.scope_logs.add()
    sl.scope.name = "cart.handlers"
    for i in range(N):
        rec = sl.log_records.add(time_unix_nano=T0 + i, severity_number=9, severity_text="INFO")
        rec.trace_id, rec.span_id, rec.flags = rnd.randbytes(16), rnd.randbytes(8), 1
        rec.body.string_value = f"checkout {rnd.randrange(10**6)} completed in {rnd.random():.3f}s"
        rec.attributes.extend([kv("code.function", "checkout"), kv("code.lineno", 120 + i % 7), kv("user", f"u{i}")])
    return req.SerializeToString()


def metrics() -> bytes:
    rnd = random.Random(3)
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend(kv(k, v) for k, v in RESOURCE.items())
    sm = rm.scope_metrics.add()
    sm.scope.name = "cart.meter"
    hist = sm.metrics.add(name="http.server.request.duration", unit="s").histogram
    total = sm.metrics.add(name="http.server.requests").sum
    gauge = sm.metrics.add(name="process.memory.usage").gauge
    for i in range(N):
        attrs = [
            kv("http.route", f"/r{i % 20}"),
            kv("http.response.status_code", 200),
            kv("pod", f"p{i % 5}"),
        ]
        if i % 3 == 0:
            p = hist.data_points.add(time_unix_nano=T0, start_time_unix_nano=T0 - 10**10, count=10, sum=1.5)
            p.bucket_counts.extend([rnd.randrange(5) for _ in range(11)])
            p.explicit_bounds.extend([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5])
        elif i % 3 == 1:
            p = total.data_points.add(time_unix_nano=T0, as_int=rnd.randrange(10**6))
        else:
            p = gauge.data_points.add(time_unix_nano=T0, as_double=rnd.random() * 1e9)
        p.attributes.extend(attrs)
    return req.SerializeToString()


def per_second(run: Callable[[], int], repeats: int = 5) -> float:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        items = run()
        rates.append(items / (time.perf_counter() - start))
    return statistics.median(rates)


def measure(sig: Signal, unit: str, body: bytes) -> None:
    decode(sig, parse_protobuf(sig, body))  # warm caches and imports
    messages = [parse_protobuf(sig, body) for _ in range(5)]
    decode_only = per_second(lambda: decode(sig, messages.pop()).accepted)
    end_to_end = per_second(lambda: decode(sig, parse_protobuf(sig, body)).accepted)
    print(
        f"{sig:8} {decode_only:>10,.0f} {unit}/s decode   {end_to_end:>10,.0f} {unit}/s parse+decode"
        f"   ({len(body) / N:.0f} B/{unit[:-1]})"
    )


def main() -> None:
    measure("traces", "spans", traces())
    measure("logs", "logs", logs())
    measure("metrics", "points", metrics())


if __name__ == "__main__":
    main()
