"""Ingest benchmark: OTLP/HTTP protobuf requests of 1,000 realistic spans against `kokanee serve
--capture off` (as issue 23 measured; `--serve-arg=--capture=local` to include raw capture).

One run per fresh server, in this order: start to health 200; idle RSS/USS 5 s after start;
ack latency at a fixed offered load (`--rate`, 20,000 spans/s: rate-limited senders, latency
counted from when each request was due, so a server that falls behind is charged for it); then
saturating load from several sender processes for `--seconds`: accepted spans/s, ack latency,
peak server RSS, stored spans/s sustained until every acknowledged span is queryable, spans
acknowledged but missing (must be 0); finally bytes per span of every table after merges.
Prints each run, the medians as issue 23's table, and rotel (a Rust OTLP collector, pip
`rotel`) exporting to its blackhole under the same saturating load, side by side. Duplicates
after kill -9 are `bench/reliability.py`'s; hostile input is `bench/fuzz.py`'s.

    .venv/bin/python bench/ingest.py [--runs 3] [--seconds 10] [--senders 2] [--rate 20000]
        [--serve-arg=--flush-rows=100000 ...] [--no-rotel]
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
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


def _paced_sender(port: int, bodies: list[bytes], rate_rps: float, seconds: float, results: Any) -> None:
    """Sends at a fixed rate; a latency runs from when the request was due, not when it left."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    latencies, failed = [], 0
    start = time.perf_counter() + 0.2
    for i in range(min(len(bodies), int(rate_rps * seconds))):
        due = start + i / rate_rps
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        conn.request("POST", "/v1/traces", bodies[i], {"Content-Type": "application/x-protobuf"})
        response = conn.getresponse()
        response.read()
        if response.status == 200:
            latencies.append(time.perf_counter() - due)
        else:
            failed += 1
    results.put((latencies, failed))


def _offered(port: int, bodies: list[list[bytes]], spans_per_s: float, seconds: float) -> tuple[list[float], int]:
    """Latencies (sorted) and refusals at `spans_per_s` offered, spread over the sender processes."""
    results: Any = mp.Queue()
    rate = spans_per_s / SPANS_PER_REQUEST / len(bodies)
    workers = [mp.Process(target=_paced_sender, args=(port, b, rate, seconds, results)) for b in bodies]
    for w in workers:
        w.start()
    outcomes = [results.get() for _ in workers]
    for w in workers:
        w.join()
    return sorted(x for o in outcomes for x in o[0]), sum(o[1] for o in outcomes)


def _pct(latencies: list[float], q: float) -> float:
    return 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * q))] if latencies else float("nan")


def _prebuild(seed: int, count: int, queue: Any) -> None:
    rnd = random.Random(seed)
    now = time.time_ns()
    queue.put([build_request(rnd, now) for _ in range(count)])


def _bodies(senders: int, per_sender: int, seed_offset: int = 0) -> list[list[bytes]]:
    """Pre-built requests per sender; every set has its own seeds (a body sent twice is a resend)."""
    queue: Any = mp.Queue()
    seed = int(time.time()) + seed_offset
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


def one_run(
    seconds: float, bodies: list[list[bytes]], extra: list[str], rate: float, rate_bodies: list[list[bytes]]
) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix="kokanee-bench-"))
    api, otlp = free_ports(2)
    launched = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, "-m", "kokanee", "serve", "--data-dir", str(data_dir), "--http-port", str(api),
         "--otlp-http-port", str(otlp), "--otlp-grpc-port", "0", "--capture", "off", *extra],
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
    paced, paced_failed, acked = [], 0, 0
    if rate:
        # 2 s at the same rate first (the first requests pay lazy imports and the first insert).
        measured = int(rate * seconds / SPANS_PER_REQUEST / len(rate_bodies))
        warm, _ = _offered(otlp, [b[measured:] for b in rate_bodies], rate, 2.0)
        paced, paced_failed = _offered(otlp, rate_bodies, rate, seconds)
        acked = (len(warm) + len(paced)) * SPANS_PER_REQUEST
    base = _wait_stored(api, acked)
    peak, stop_watch = [0], threading.Event()
    threading.Thread(target=_peak_rss, args=(server.pid, stop_watch, peak), daemon=True).start()
    started = time.monotonic()
    cpu_before = sum(psutil.Process(server.pid).cpu_times()[:2])
    accepted, latencies, refused, elapsed = _drive(otlp, bodies, seconds)
    stored = 0
    for _ in range(3000):
        stored = _count(api) - base
        if stored >= accepted:
            break
        time.sleep(0.2)
    stored_elapsed = time.monotonic() - started
    # The server's CPU (user + system, the engine's threads included) per span received and
    # stored: unlike the rates, it holds still when other work shares the machine.
    cpu_s = sum(psutil.Process(server.pid).cpu_times()[:2]) - cpu_before
    stop_watch.set()
    server.terminate()
    server.wait(60)
    traces_bytes, all_bytes = _bytes_on_disk(data_dir)
    spans = stored + base
    return {
        "start_s": start_s,
        "idle_rss_mib": idle.rss / 2**20,
        "idle_uss_mib": idle.uss / 2**20,
        "paced_p50_ms": _pct(paced, 0.5),
        "paced_p99_ms": _pct(paced, 0.99),
        "paced_refused": paced_failed,
        "spans_per_s": accepted / elapsed,
        "stored_spans_per_s": stored / stored_elapsed,
        "p50_ms": _pct(latencies, 0.5),
        "p99_ms": _pct(latencies, 0.99),
        "server_cpu_us_per_span": 1e6 * cpu_s / stored if stored else float("nan"),
        "peak_rss_mib": peak[0] / 2**20,
        "missing": accepted - stored,
        "traces_bytes_per_span": traces_bytes / spans if spans else float("nan"),
        "all_bytes_per_span": all_bytes / spans if spans else float("nan"),
        "refused": refused,
    }


def _wait_stored(api: int, acked: int) -> int:
    """The spans stored once the `acked` spans of the paced phase are all queryable."""
    for _ in range(3000):
        count = _count(api)
        if count >= acked:
            return count
        time.sleep(0.2)
    return _count(api)


def _count(api: int) -> int:
    """Spans stored so far. A small cap's engine may answer 503 (at its memory limit while inserts
    run): asked again, as a client would."""
    sql = {"sql": "SELECT count() FROM otel_traces"}
    for _ in range(120):
        response = httpx.post(f"http://127.0.0.1:{api}/api/v1/query", json=sql, timeout=60)
        if response.status_code != 503:
            return int(response.json()["rows"][0][0])
        time.sleep(0.5)
    raise RuntimeError(f"the spans could not be counted: {response.text[:200]}")


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


def _store_alone(seconds: float, bodies: list[bytes], max_memory_mib: float, flush_rows: int, out: Any) -> None:
    """In a process of its own: kokanee's insert (`Store.insert_otlp`) into a fresh embedded store
    with the server's memory budget and rows per insert, batches back to back, merges running; no
    receiver, no senders, no write-ahead log."""
    sys.path.insert(0, str(ROOT / "src"))
    from kokanee.store.client import Store, StoreUnavailable
    from kokanee.store.memory import MemoryBudget
    from kokanee.store.migrations import migrate

    folder = Path(tempfile.mkdtemp(prefix="kokanee-bench-store-"))
    budget = MemoryBudget.for_cap(max_memory_mib)
    store = Store(f"chdb://{folder}/store", memory=budget)
    migrate(store)
    per_batch = max(1, budget.batch_rows(flush_rows) // SPANS_PER_REQUEST)
    stored, batch, cpu, started = 0, 0, time.process_time(), time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            chunk = [bodies[(batch * per_batch + i) % len(bodies)] for i in range(per_batch)]
            try:
                store.insert_otlp("traces", chunk, f"bench-{batch}", folder / "spool")
            except StoreUnavailable:  # the engine at its memory limit: retried, as the pipeline does
                time.sleep(0.2)
                continue
            stored, batch = stored + per_batch * SPANS_PER_REQUEST, batch + 1
        elapsed = time.monotonic() - started
        out.put((stored / elapsed, 1e6 * (time.process_time() - cpu) / max(stored, 1), per_batch * SPANS_PER_REQUEST))
    except BaseException as e:
        out.put(e)
        raise


def store_alone_run(seconds: float, bodies: list[list[bytes]], extra: list[str]) -> tuple[float, float, int]:
    """The store's own ceiling on this machine: stored spans/s, CPU µs a span and rows per insert
    when nothing but kokanee's insert runs (what the server's stored rate is measured against)."""
    from kokanee.config import ServeConfig

    cap = float(_serve_option(extra, "--max-memory-mib") or ServeConfig.model_fields["max_memory_mib"].default)
    rows = int(_serve_option(extra, "--flush-rows") or ServeConfig.model_fields["flush_rows"].default)
    out: Any = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(
        target=_store_alone, args=(seconds, [b for chunk in bodies for b in chunk], cap, rows, out)
    )
    proc.start()
    result = out.get()
    proc.join()
    if isinstance(result, BaseException):
        raise RuntimeError(f"the store-alone run failed: {result}")
    return tuple(result)  # type: ignore[return-value]


def _serve_option(extra: list[str], name: str) -> str | None:
    for i, arg in enumerate(extra):
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
        if arg == name and i + 1 < len(extra):
            return extra[i + 1]
    return None


def _bytes_on_disk(data_dir: Path) -> tuple[float, float]:
    """Merges every table, then reads part sizes: what the spans cost at rest, in `otel_traces`
    and in every table (the views' rollups, span index and trace keys included)."""
    import chdb

    session = chdb.session.Session(str(data_dir / "store"))
    tables = str(session.query("SELECT name FROM system.tables WHERE database = currentDatabase() "
                               "AND engine LIKE '%MergeTree' AND total_rows > 0", "CSV")).split()  # fmt: skip
    for table in tables:
        session.query(f"OPTIMIZE TABLE {table.strip(chr(34))} FINAL")
    sizes = "SELECT sumIf(bytes_on_disk, table = 'otel_traces'), sum(bytes_on_disk) FROM system.parts WHERE active"
    traces, total = (float(x or 0) for x in str(session.query(sizes, "CSV")).strip().split(","))
    session.close()
    return traces, total


_TABLE = [  # issue 23's figures: label, key, format
    ("start to ready (health 200), s", "start_s", "{:.1f}"),
    ("resident memory idle, 5 s after start, MiB RSS (USS)", ("idle_rss_mib", "idle_uss_mib"), "{:.0f} ({:.0f})"),
    ("peak RSS under saturating load, MiB", "peak_rss_mib", "{:.0f}"),
    ("accepted spans/s (durably acknowledged), saturating", "spans_per_s", "{:,.0f}"),
    ("stored spans/s, sustained until every acked span is queryable", "stored_spans_per_s", "{:,.0f}"),
    ("server CPU per span, receiving and storing (user + system), µs", "server_cpu_us_per_span", "{:.1f}"),
    ("ack latency p50 / p99 at {rate} spans/s offered, ms", ("paced_p50_ms", "paced_p99_ms"), "{:.1f} / {:.1f}"),
    ("ack latency p50 / p99 saturated, ms", ("p50_ms", "p99_ms"), "{:.1f} / {:.1f}"),
    (
        "bytes on disk per span after merges, all tables (otel_traces)",
        ("all_bytes_per_span", "traces_bytes_per_span"),
        "{:.1f} ({:.1f})",
    ),
    ("acknowledged but missing afterwards", "missing", "{:.0f}"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--requests-per-sender", type=int, default=400)
    parser.add_argument("--rate", type=float, default=20_000, help="spans/s offered in the fixed-rate phase (0: skip)")
    parser.add_argument("--rate-senders", type=int, default=4)
    parser.add_argument("--decoder", choices=["native", "python"], default="native")
    parser.add_argument("--flush-rows", type=int, default=None)
    parser.add_argument("--serve-arg", action="append", default=[], help="extra `kokanee serve` argument (repeat)")
    parser.add_argument("--rotel", help="rotel-agent binary (default: the one pip `rotel` installs)")
    parser.add_argument("--no-rotel", action="store_true", help="skip the rotel peer")
    args = parser.parse_args()
    extra = ["--decoder", args.decoder, *args.serve_arg]
    if args.flush_rows:
        extra += ["--flush-rows", str(args.flush_rows)]
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {args.senders} senders x 1,000-span "
        f"OTLP/HTTP protobuf requests; serve {' '.join(extra)}",
        flush=True,
    )
    bodies = _bodies(args.senders, args.requests_per_sender)
    rate_bodies = (
        _bodies(args.rate_senders, int(args.rate * (args.seconds + 2) / 1000 / args.rate_senders) + 2, 10**6)
        if args.rate
        else []
    )
    runs = []
    for i in range(args.runs):
        result = one_run(args.seconds, bodies, extra, args.rate, rate_bodies)
        runs.append(result)
        print(f"run {i + 1}: " + ", ".join(f"{k}={v:,.1f}" for k, v in result.items()), flush=True)
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print("median: " + ", ".join(f"{k}={v:,.1f}" for k, v in median.items()))
    print(f"\n| figure (median of {args.runs}, load average {os.getloadavg()[0]:.1f}) | kokanee |\n|---|---|")
    for label, key, fmt in _TABLE:
        keys = key if isinstance(key, tuple) else (key,)
        print(f"| {label.format(rate=f'{args.rate:,.0f}')} | {fmt.format(*(median[k] for k in keys))} |")
    print("| duplicates after 20 kill -9s under load | bench/reliability.py |")
    alone = [store_alone_run(args.seconds, bodies, extra) for _ in range(args.runs)]
    ceiling = statistics.median(a[0] for a in alone)
    print(
        f"ceiling: the store alone (kokanee's insert, {alone[0][2]:,} rows an insert, no receiver or senders), "
        f"median of {args.runs}: stored spans/s={ceiling:,.0f} ({', '.join(f'{a[0]:,.0f}' for a in alone)}), "
        f"{statistics.median(a[1] for a in alone):.1f} µs of CPU a span; "
        f"kokanee stored / store alone = {median['stored_spans_per_s'] / ceiling:.2f}"
    )
    agent = None if args.no_rotel else args.rotel or _rotel_agent()
    if agent:
        peers = [rotel_run(agent, args.seconds, bodies) for _ in range(args.runs)]
        peer = statistics.median(peers)
        ours = median["spans_per_s"]
        print(
            f"peer rotel (blackhole), same load, median of {args.runs}: spans_per_s={peer:,.0f} "
            f"({', '.join(f'{p:,.0f}' for p in peers)}); kokanee accepted / rotel = {ours / peer:.2f}"
        )


def _rotel_agent() -> str | None:
    spec = importlib.util.find_spec("rotel")
    if spec is None or not spec.submodule_search_locations:
        print("peer rotel: not installed (pip install rotel)")
        return None
    return str(Path(next(iter(spec.submodule_search_locations))) / "rotel-agent")


if __name__ == "__main__":
    main()
