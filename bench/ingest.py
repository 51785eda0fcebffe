"""Ingest benchmark: OTLP/HTTP protobuf requests of 1,000 realistic spans against `kokanee serve`.

Several sender processes post pre-built requests (every span id unique) for a fixed time.
Prints, per run and as the median of the runs: start to health 200, idle RSS/USS 5 s after
start, accepted spans/s, ack latency p50/p99, peak server RSS, spans acknowledged but missing
from the store afterwards (must be 0), and stored bytes per span after merges. Hostile input
is `bench/fuzz.py`'s; kill -9 and overload are `bench/reliability.py`'s.

    .venv/bin/python bench/ingest.py [--runs 3] [--seconds 10] [--senders 2]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.server import free_ports  # noqa: E402

SPANS_PER_REQUEST = 1000
SERVICES = ["cart", "checkout", "frontend", "payment", "shipping", "currency"]
ROUTES = ["/cart/{id}", "/checkout", "/product/{id}", "/api/recommendations", "/"]


def _kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def build_request(rnd: random.Random, now_ns: int) -> bytes:
    """1,000 spans of one service: ~12 span attributes, 8 resource attributes, events on some."""
    service = rnd.choice(SERVICES)
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    resource = {
        "service.name": service, "service.version": "1.8.0", "deployment.environment.name": "prod",
        "host.name": f"node-{rnd.randrange(8)}", "k8s.pod.name": f"{service}-7d9f{rnd.randrange(100)}",
        "process.pid": rnd.randrange(1, 32768), "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.language": "python",
    }  # fmt: skip
    rs.resource.attributes.extend(_kv(k, v) for k, v in resource.items())
    ss = rs.scope_spans.add()
    ss.scope.name, ss.scope.version = "opentelemetry.instrumentation.flask", "0.48b0"
    trace_id = rnd.randbytes(16)
    for i in range(SPANS_PER_REQUEST):
        if i % 10 == 0:
            trace_id = rnd.randbytes(16)
        route = rnd.choice(ROUTES)
        span = ss.spans.add(trace_id=trace_id, span_id=rnd.randbytes(8), name=f"GET {route}")
        if i % 10:
            span.parent_span_id = rnd.randbytes(8)
        span.kind = 2 if i % 3 else 3
        span.start_time_unix_nano = now_ns - rnd.randrange(10**9)
        span.end_time_unix_nano = span.start_time_unix_nano + int(rnd.lognormvariate(15, 1))
        error = rnd.random() < 0.03
        attrs = {
            "http.request.method": "GET", "http.route": route, "http.response.status_code": 500 if error else 200,
            "url.full": f"http://{service}:8080{route.replace('{id}', str(rnd.randrange(10**4)))}",
            "server.address": service, "server.port": 8080, "network.protocol.version": "1.1",
            "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64)", "client.address": f"10.0.0.{rnd.randrange(255)}",
            "http.response.body.size": rnd.randrange(10**5), "enduser.id": f"user-{rnd.randrange(500)}",
            "thread.name": f"worker-{i % 8}",
        }  # fmt: skip
        span.attributes.extend(_kv(k, v) for k, v in attrs.items())
        if error:
            span.status.code = 2
            span.status.message = "upstream failed"
        if i % 4 == 0:
            event = span.events.add(time_unix_nano=span.start_time_unix_nano + 1000, name="cache.lookup")
            event.attributes.extend([_kv("cache.hit", rnd.random() < 0.8), _kv("cache.key", f"k{rnd.randrange(1000)}")])
    return req.SerializeToString()


def _sender(port: int, bodies: list[bytes], deadline: float, results: Any) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    accepted, latencies, refused = 0, [], 0
    for body in bodies:
        if time.monotonic() >= deadline:
            break
        while True:
            started = time.perf_counter()
            conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                latencies.append(time.perf_counter() - started)
                accepted += SPANS_PER_REQUEST
                break
            if response.status in (429, 503):
                refused += 1
                time.sleep(float(response.getheader("Retry-After") or 1) / 10)
                continue
            raise RuntimeError(f"unexpected {response.status}")
    results.put((accepted, latencies, refused))


def _prebuild(seed: int, count: int, queue: Any) -> None:
    rnd = random.Random(seed)
    now = time.time_ns()
    queue.put([build_request(rnd, now) for _ in range(count)])


def _bodies(senders: int, per_sender: int) -> list[list[bytes]]:
    queue: Any = mp.Queue()
    seed = int(time.time())
    builders = [mp.Process(target=_prebuild, args=(seed + 1000 * i, per_sender, queue)) for i in range(senders)]
    for b in builders:
        b.start()
    bodies = [queue.get() for _ in builders]
    for b in builders:
        b.join()
    return bodies


def _drive(port: int, bodies: list[list[bytes]], seconds: float) -> tuple[int, list[float], int, float]:
    """Sends from one process per body list; returns acknowledged spans, latencies, refusals, elapsed s."""
    results: Any = mp.Queue()
    started = time.monotonic()
    workers = [mp.Process(target=_sender, args=(port, b, started + seconds, results)) for b in bodies]
    for w in workers:
        w.start()
    outcomes = [results.get() for _ in workers]
    elapsed = time.monotonic() - started
    for w in workers:
        w.join()
    return sum(o[0] for o in outcomes), sorted(x for o in outcomes for x in o[1]), sum(o[2] for o in outcomes), elapsed


def _peak_rss(pid: int, stop: threading.Event, out: list[int]) -> None:
    proc = psutil.Process(pid)
    while not stop.is_set():
        out[0] = max(out[0], proc.memory_info().rss)
        time.sleep(0.05)


def one_run(seconds: float, bodies: list[list[bytes]], extra: list[str]) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix="kokanee-bench-"))
    api, otlp = free_ports(2)
    launched = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, "-m", "kokanee", "serve", "--data-dir", str(data_dir), "--http-port", str(api),
         "--otlp-http-port", str(otlp), "--otlp-grpc-port", "0", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{api}/api/v1/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    start_s = time.monotonic() - launched
    time.sleep(5)  # idle memory as the issue measures it: 5 s after start
    idle = psutil.Process(server.pid).memory_full_info()
    peak, stop_watch = [0], threading.Event()
    threading.Thread(target=_peak_rss, args=(server.pid, stop_watch, peak), daemon=True).start()
    started = time.monotonic()
    accepted, latencies, refused, elapsed = _drive(otlp, bodies, seconds)
    stored = 0
    for _ in range(600):
        sql = {"sql": "SELECT count() FROM otel_traces"}
        stored = int(httpx.post(f"http://127.0.0.1:{api}/api/v1/query", json=sql, timeout=60).json()["rows"][0][0])
        if stored >= accepted:
            break
        time.sleep(0.2)
    stored_elapsed = time.monotonic() - started
    stop_watch.set()
    server.terminate()
    server.wait(60)
    size = _bytes_on_disk(data_dir)
    return {
        "start_s": start_s,
        "idle_rss_mib": idle.rss / 2**20,
        "idle_uss_mib": idle.uss / 2**20,
        "spans_per_s": accepted / elapsed,
        "stored_spans_per_s": stored / stored_elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else float("nan"),
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else float("nan"),
        "peak_rss_mib": peak[0] / 2**20,
        "missing": accepted - stored,
        "bytes_per_span": size / stored if stored else float("nan"),
        "refused": refused,
    }


def rotel_run(agent: str, seconds: float, bodies: list[list[bytes]]) -> float:
    """The same load into rotel (a Rust OTLP collector) exporting to its blackhole: the ceiling of
    OTLP handling on this machine, run in the same session for a ratio."""
    port, grpc_port = free_ports(2)
    proc = subprocess.Popen(
        [agent, "start", "--otlp-http-endpoint", f"127.0.0.1:{port}", "--otlp-grpc-endpoint",
         f"127.0.0.1:{grpc_port}", "--exporter", "blackhole"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.5)
    try:
        accepted, _, _, elapsed = _drive(port, bodies, seconds)
    finally:
        proc.terminate()
        proc.wait(30)
    return accepted / elapsed


def _bytes_on_disk(data_dir: Path) -> float:
    """Merges everything, then reads part sizes: what the spans cost at rest."""
    import chdb

    session = chdb.session.Session(str(data_dir / "store"))
    session.query("OPTIMIZE TABLE otel_traces FINAL")
    result = session.query("SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND table = 'otel_traces'", "CSV")
    session.close()
    return float(str(result).strip() or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--requests-per-sender", type=int, default=400)
    parser.add_argument("--decoder", choices=["native", "python"], default="native")
    parser.add_argument("--flush-rows", type=int, default=None)
    parser.add_argument("--rotel", help="path of a rotel-agent binary (pip install rotel) to run as the peer")
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} cores; {args.senders} senders x 1,000-span OTLP/HTTP protobuf requests; "
        f"decoder={args.decoder}"
    )
    bodies = _bodies(args.senders, args.requests_per_sender)
    runs = []
    for i in range(args.runs):
        extra = ["--decoder", args.decoder]
        if args.flush_rows:
            extra += ["--flush-rows", str(args.flush_rows)]
        result = one_run(args.seconds, bodies, extra)
        runs.append(result)
        print(f"run {i + 1}: " + ", ".join(f"{k}={v:,.1f}" for k, v in result.items()), flush=True)
    print("median: " + ", ".join(f"{k}={statistics.median(r[k] for r in runs):,.1f}" for k in runs[0]))
    if args.rotel:
        peer = statistics.median(rotel_run(args.rotel, args.seconds, bodies) for _ in range(args.runs))
        ours = statistics.median(r["spans_per_s"] for r in runs)
        print(f"peer rotel (blackhole) median: spans_per_s={peer:,.1f}; kokanee/rotel = {ours / peer:.2f}")


if __name__ == "__main__":
    main()
