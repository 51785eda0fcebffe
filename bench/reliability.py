"""Reliability benchmark: kill -9 under load with retrying exporters, then an overload run.

Kill run: sender threads post OTLP/HTTP protobuf trace requests (every span id unique) to a fresh
`kokanee serve --capture off` and, like an OTLP exporter, resend the same bytes after a dropped
connection, a 429 or a 503 until the request is acknowledged. Every `--interval` seconds the
server is killed with SIGKILL and started again. At the end every request has been acknowledged;
the store should hold each span exactly once. Prints lost and duplicated spans, peak RSS and the
time from each restart to health 200.

Overload run: `--overload-senders` threads post flat out for `--overload-seconds` against a server
with a small `--max-pending-mib`; prints the answers (429/503 with Retry-After), peak RSS, and the
seconds from the load dropping until every acknowledged span is queryable and a new request is
acknowledged at idle latency.

    .venv/bin/python bench/reliability.py [--kills 20] [--interval 3] [--senders 4] [--overload-seconds 120]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import random
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import psutil
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from tests.server import KokaneeServer  # noqa: E402

from ingest import build_request  # noqa: E402


class Template:
    """A realistic request whose span ids are replaced per copy, so each request is unique."""

    def __init__(self, spans: int) -> None:
        full = ExportTraceServiceRequest.FromString(build_request(random.Random(1), time.time_ns()))
        del full.resource_spans[0].scope_spans[0].spans[spans:]
        self.message = full

    def body(self, rnd: random.Random) -> bytes:
        message = ExportTraceServiceRequest()
        message.CopyFrom(self.message)
        for span in message.resource_spans[0].scope_spans[0].spans:
            span.span_id = rnd.randbytes(8)
        return message.SerializeToString()

    @property
    def spans(self) -> int:
        return len(self.message.resource_spans[0].scope_spans[0].spans)


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answers: Counter[str] = Counter()
        self.acked_requests = 0
        self.retry_after_missing = 0
        self.latencies: list[float] = []

    def answer(self, key: str) -> None:
        with self.lock:
            self.answers[key] += 1


def exporter(
    server: KokaneeServer, template: Template, seed: int, stop: threading.Event, stats: Stats, pace_s: float = 0.0
) -> None:
    """Sends unique requests until `stop`; each is resent (same bytes) until acknowledged."""
    rnd = random.Random(seed)
    conn: http.client.HTTPConnection | None = None
    while not stop.is_set():
        body = template.body(rnd)
        while True:  # a request, once started, is delivered: the exporter retries it
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
                started = time.perf_counter()
                conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                stats.answer("connection error")
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.2)
                continue
            stats.answer(str(response.status))
            if response.status == 200:
                with stats.lock:
                    stats.acked_requests += 1
                    stats.latencies.append(time.perf_counter() - started)
                break
            if response.status in (429, 503):
                retry_after = response.getheader("Retry-After")
                if retry_after is None:
                    with stats.lock:
                        stats.retry_after_missing += 1
                time.sleep(min(float(retry_after or 1), 1.0) * rnd.uniform(0.5, 1.0))
                continue
            raise RuntimeError(f"unexpected answer {response.status}")
        if pace_s:
            time.sleep(pace_s)
    if conn is not None:
        conn.close()


class RssWatch:
    """Peak RSS of whatever process the server runs as (it changes at every restart)."""

    def __init__(self, server: KokaneeServer) -> None:
        self.server, self.peak, self._stop = server, 0, threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.is_set():
            proc = self.server.proc
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(psutil.Error):
                    self.peak = max(self.peak, psutil.Process(proc.pid).memory_info().rss)
            time.sleep(0.05)

    def stop(self) -> float:
        self._stop.set()
        return self.peak / 2**20


def stored_spans(server: KokaneeServer) -> tuple[int, int]:
    row = server.query("SELECT count() AS n, uniqExact(SpanId) AS ids FROM otel_traces")[0]
    return int(row["n"]), int(row["ids"])


def wait_stored(server: KokaneeServer, expected: int, timeout: float = 600) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if stored_spans(server)[1] >= expected:
            break
        time.sleep(0.2)
    return time.monotonic() - started


def kill_run(args: argparse.Namespace, template: Template) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="kokanee-reliability-")) / "data"
    server = KokaneeServer(data_dir, "--capture", "off").start()
    watch, stats, stop = RssWatch(server), Stats(), threading.Event()
    senders = [
        threading.Thread(target=exporter, args=(server, template, 100 + i, stop, stats, args.pace))
        for i in range(args.senders)
    ]
    for t in senders:
        t.start()
    recoveries = []
    for _ in range(args.kills):
        time.sleep(args.interval)
        server.stop(signal.SIGKILL)
        started = time.monotonic()
        server.start(timeout=120)
        recoveries.append(time.monotonic() - started)
    time.sleep(args.interval)
    stop.set()
    for t in senders:
        t.join()
    acked = stats.acked_requests * template.spans
    drain = wait_stored(server, acked)
    rows, ids = stored_spans(server)
    peak = watch.stop()
    server.stop()
    print(
        f"kill -9 run: {args.kills} kills every {args.interval:g} s, {args.senders} retrying exporters, "
        f"{template.spans}-span requests"
    )
    print(f"  requests acknowledged {stats.acked_requests:,} ({acked:,} spans); answers {dict(stats.answers)}")
    print(
        f"  lost {max(0, acked - ids):,} spans; duplicated {rows - ids:,} spans "
        f"({100 * (rows - ids) / max(1, acked):.3f}%); stored {ids:,} distinct spans"
    )
    print(
        f"  restart to health 200: median {sorted(recoveries)[len(recoveries) // 2]:.1f} s, "
        f"max {max(recoveries):.1f} s; everything queryable {drain:.1f} s after the last kill's load; "
        f"peak RSS {peak:,.0f} MiB"
    )


def _probe_latency(server: KokaneeServer, template: Template) -> float:
    body = template.body(random.Random(time.time_ns()))
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
    started = time.perf_counter()
    conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
    response = conn.getresponse()
    response.read()
    conn.close()
    return time.perf_counter() - started if response.status == 200 else float("inf")


def overload_run(args: argparse.Namespace, template: Template) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="kokanee-overload-")) / "data"
    extra = ["--capture", "off", "--max-pending-mib", str(args.max_pending_mib)]
    server = KokaneeServer(data_dir, *extra).start()
    idle = sorted(_probe_latency(server, template) for _ in range(5))[2]
    watch, stats, stop = RssWatch(server), Stats(), threading.Event()
    senders = [
        threading.Thread(target=exporter, args=(server, template, 500 + i, stop, stats))
        for i in range(args.overload_senders)
    ]
    started = time.monotonic()
    for t in senders:
        t.start()
    time.sleep(args.overload_seconds)
    stop.set()
    for t in senders:
        t.join()
    dropped = time.monotonic()
    elapsed = dropped - started
    acked = (stats.acked_requests + 5) * template.spans
    drain = wait_stored(server, acked)
    back = float("inf")
    while time.monotonic() - dropped < 300:
        if _probe_latency(server, template) <= max(2 * idle, idle + 0.05):
            back = time.monotonic() - dropped
            break
        time.sleep(0.2)
    rows, ids = stored_spans(server)
    peak = watch.stop()
    server.stop()
    print(
        f"overload run: {args.overload_senders} exporters flat out for {elapsed:.0f} s, "
        f"--max-pending-mib {args.max_pending_mib:g}"
    )
    print(
        f"  answers {dict(stats.answers)}; 429/503 without Retry-After: {stats.retry_after_missing}; "
        f"accepted {stats.acked_requests * template.spans / elapsed:,.0f} spans/s"
    )
    print(
        f"  peak RSS {peak:,.0f} MiB; all acknowledged spans queryable {drain:.1f} s after the load dropped; "
        f"idle ack latency ({1000 * idle:.0f} ms) back after {back:.1f} s; lost {max(0, acked - ids):,}, "
        f"duplicated {rows - ids:,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--interval", type=float, default=3.0, help="seconds of load between kills")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--spans", type=int, default=200, help="spans per request")
    parser.add_argument("--pace", type=float, default=0.0, help="pause between a sender's requests (s)")
    parser.add_argument("--overload-seconds", type=float, default=120.0)
    parser.add_argument("--overload-senders", type=int, default=8)
    parser.add_argument("--max-pending-mib", type=float, default=16.0)
    parser.add_argument("--skip", choices=["kills", "overload"], help="leave one run out")
    args = parser.parse_args()
    template = Template(args.spans)
    if args.skip != "kills":
        kill_run(args, template)
    if args.skip != "overload":
        overload_run(args, template)


if __name__ == "__main__":
    main()
