"""Reliability benchmark: kill -9 under load with retrying exporters, then an overload run.

Kill run: sender threads post OTLP/HTTP protobuf trace requests (every span id unique) to a fresh
`kokanee serve --capture off` and, like an OTLP exporter, resend the same bytes after a dropped
connection, a 429 or a 503 until the request is acknowledged. Every `--interval` seconds the
server is killed with SIGKILL and started again. At the end every request has been acknowledged;
the store should hold each span exactly once. Prints lost and duplicated spans, peak RSS and the
time from each restart to health 200.

Overload run: a fresh server under `--max-memory-mib`; `--overload-senders` sender processes
(exporters: a refused request is sent again after its Retry-After, up to `--max-tries` times)
first post flat out for `--capacity-seconds` (the capacity: the rate accepted over its second half,
once the pending buffer is full), then offer `--overload-factor` (3) times
that for `--overload-seconds`, then flat out again. Prints the answers (429/503, with or without
Retry-After), peak RSS against the cap, lost and duplicated spans, and how many seconds after the
load dropped the accepted rate was back to 90% of capacity.

    .venv/bin/python bench/reliability.py [--kills 20] [--interval 3] [--senders 4] [--overload-seconds 120]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import multiprocessing as mp
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

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


def stored_spans(server: KokaneeServer, parts: int = 8) -> tuple[int, int]:
    """Rows and distinct span ids, counted in `parts` by hash so a small --max-memory-mib's query
    limit holds (uniqExact over a million ids needs ~130 MiB at once)."""
    rows = ids = 0
    for part in range(parts):
        where = f"cityHash64(SpanId) % {parts} = {part}"
        for attempt in range(30):  # a 503 while the engine is at its limit (inserts, merges): retry
            try:
                row = server.query(f"SELECT count() AS n, uniqExact(SpanId) AS ids FROM otel_traces WHERE {where}")[0]
                break
            except AssertionError:
                if attempt == 29:
                    raise
                time.sleep(1)
        rows, ids = rows + int(row["n"]), ids + int(row["ids"])
    return rows, ids


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


class PatchedTemplate:
    """A serialized request whose span ids are overwritten in place per copy: a unique request
    costs microseconds, so sender processes can offer several times the server's capacity."""

    def __init__(self, template: Template) -> None:
        self.body = template.message.SerializeToString()
        self.offsets = [
            self.body.index(span.span_id) for span in template.message.resource_spans[0].scope_spans[0].spans
        ]
        self.spans = template.spans

    def copy(self) -> bytes:
        body = bytearray(self.body)
        ids = os.urandom(8 * len(self.offsets))
        for i, at in enumerate(self.offsets):
            body[at : at + 8] = ids[8 * i : 8 * i + 8]
        return bytes(body)


def sender_process(port: int, template: PatchedTemplate, rate: float, seconds: float, max_tries: int, out: Any) -> None:
    """An exporter in its own process: a new request every 1/`rate` s (flat out if 0); a refused one
    (429/503) is sent again after its Retry-After, up to `max_tries` times, beside the new ones.
    Puts (acks as (time, spans), answers, refused without Retry-After, given up, new requests)."""
    acks: list[tuple[float, int]] = []
    answers: Counter[str] = Counter()
    missing_retry_after = given_up = new = 0
    retries: list[tuple[float, bytes, int]] = []  # (due, body, tries so far)
    conn: http.client.HTTPConnection | None = None
    started = time.monotonic()
    next_new = started
    while time.monotonic() - started < seconds:
        now = time.monotonic()
        due = [r for r in retries if r[0] <= now]
        if due:
            retries.remove(due[0])
            _, body, tries = due[0]
        elif rate == 0 or now >= next_new:
            body, tries = template.copy(), 0
            new += 1
            next_new = max(next_new + 1 / rate, now - 1.0) if rate else now
        else:
            time.sleep(min(next_new - now, 0.005))
            continue
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            answers["connection error"] += 1
            if conn is not None:
                conn.close()
            conn = None
            retries.append((time.monotonic() + 0.2, body, tries))
            continue
        answers[str(response.status)] += 1
        if response.status == 200:
            acks.append((time.time(), template.spans))
        elif response.status in (429, 503):
            retry_after = response.getheader("Retry-After")
            missing_retry_after += retry_after is None
            if tries + 1 < max_tries:
                retries.append((time.monotonic() + float(retry_after or 1) * random.uniform(0.5, 1.0), body, tries + 1))
            else:
                given_up += 1
        else:
            raise RuntimeError(f"unexpected answer {response.status}")
    if conn is not None:
        conn.close()
    out.put((acks, answers, missing_retry_after, given_up + len(retries), new))


def drive(
    port: int, template: PatchedTemplate, processes: int, spans_per_s: float, seconds: float, max_tries: int
) -> dict[str, Any]:
    """Runs `processes` senders offering `spans_per_s` in all (0: flat out); their results merged."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    rate = spans_per_s / template.spans / processes if spans_per_s else 0.0
    procs = [
        ctx.Process(target=sender_process, args=(port, template, rate, seconds, max_tries, out))
        for _ in range(processes)
    ]
    for proc in procs:
        proc.start()
    results = [out.get() for _ in procs]
    for proc in procs:
        proc.join()
    acks = sorted(a for r in results for a in r[0])
    answers: Counter[str] = sum((r[1] for r in results), Counter())
    return {
        "acks": acks,
        "answers": answers,
        "missing_retry_after": sum(r[2] for r in results),
        "given_up": sum(r[3] for r in results),
        "spans": sum(n for _, n in acks),
        "new_requests": sum(r[4] for r in results),
    }


def _probe_latency(server: KokaneeServer, template: PatchedTemplate) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
    started = time.perf_counter()
    conn.request("POST", "/v1/traces", template.copy(), {"Content-Type": "application/x-protobuf"})
    response = conn.getresponse()
    response.read()
    conn.close()
    return time.perf_counter() - started if response.status == 200 else float("inf")


def overload_run(args: argparse.Namespace, template: Template) -> None:
    """Capacity flat out, then 3x that offered for `--overload-seconds`, then flat out again: how
    soon the accepted rate is back to capacity. Peak RSS against `--max-memory-mib`."""
    patched = PatchedTemplate(template)
    data_dir = Path(tempfile.mkdtemp(prefix="kokanee-overload-")) / "data"
    extra = ["--capture", "off", "--max-memory-mib", str(args.max_memory_mib)]
    if args.max_pending_mib:
        extra += ["--max-pending-mib", str(args.max_pending_mib)]
    server = KokaneeServer(data_dir, *extra).start()
    idle = sorted(_probe_latency(server, patched) for _ in range(5))[2]
    watch = RssWatch(server)
    port, procs = server.http_port, args.overload_senders
    capacity_run = drive(port, patched, procs, 0, args.capacity_seconds, args.max_tries)
    # The sustained rate: the second half, once the pending buffer is full (the first half fills it).
    half = capacity_run["acks"][-1][0] - args.capacity_seconds / 2 if capacity_run["acks"] else 0.0
    capacity = sum(n for at, n in capacity_run["acks"] if at >= half) / (args.capacity_seconds / 2)
    offered = args.overload_factor * capacity
    over = drive(port, patched, procs, offered, args.overload_seconds, args.max_tries)
    dropped = time.time()
    after = drive(port, patched, procs, 0, args.recovery_seconds, args.max_tries)
    # Back to full speed: the first second after the drop whose accepted spans reach 90% of capacity.
    per_second: Counter[int] = Counter()
    for at, n in after["acks"]:
        per_second[int(at - dropped)] += n
    full = next((s for s in sorted(per_second) if per_second[s] >= 0.9 * capacity), None)
    acked = (capacity_run["spans"] + over["spans"] + after["spans"]) + 5 * patched.spans
    drain = wait_stored(server, acked)
    rows, ids = stored_spans(server)
    peak = watch.stop()
    server.stop()
    refused = {k: v for k, v in over["answers"].items() if k in ("429", "503")}
    print(
        f"overload run: {procs} sender processes, {patched.spans}-span requests, "
        f"--max-memory-mib {args.max_memory_mib:g}"
        + (f", --max-pending-mib {args.max_pending_mib:g}" if args.max_pending_mib else "")
    )
    print(
        f"  capacity (flat out for {args.capacity_seconds:g} s): {capacity:,.0f} spans/s accepted over the second "
        f"half (the first fills the pending buffer: {capacity_run['spans'] / args.capacity_seconds:,.0f} over all)"
    )
    print(
        f"  overload: {offered:,.0f} spans/s offered ({args.overload_factor:g}x) for {args.overload_seconds:g} s, "
        f"{over['new_requests'] * patched.spans / args.overload_seconds:,.0f} spans/s of new requests sent; "
        f"accepted {over['spans'] / args.overload_seconds:,.0f} spans/s; answers {dict(over['answers'])}; "
        f"429/503 {sum(refused.values()):,}, without Retry-After {over['missing_retry_after']}; "
        f"given up by the exporters after {args.max_tries} tries {over['given_up']:,} requests"
    )
    print(
        f"  peak RSS {peak:,.0f} MiB against the cap of {args.max_memory_mib:g} MiB "
        f"({'under' if peak <= args.max_memory_mib else 'OVER'}); "
        f"lost {max(0, acked - ids):,}, duplicated {rows - ids:,} spans of {acked:,} acknowledged"
    )
    back = f"not within {args.recovery_seconds:g} s" if full is None else f"{full + 1} s"
    print(
        f"  after the load dropped: accepted rate back to 90% of capacity in {back} "
        f"(per second: {', '.join(f'{per_second[s]:,}' for s in sorted(per_second)[:12])}); "
        f"every acknowledged span queryable {drain:.1f} s after the recovery phase; "
        f"idle ack latency {1000 * idle:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--interval", type=float, default=3.0, help="seconds of load between kills")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--spans", type=int, default=200, help="spans per request")
    parser.add_argument("--pace", type=float, default=0.0, help="pause between a sender's requests (s)")
    parser.add_argument("--overload-seconds", type=float, default=120.0)
    parser.add_argument("--overload-spans", type=int, default=1000, help="spans per request in the overload run")
    parser.add_argument("--overload-factor", type=float, default=3.0, help="offered load, times the capacity")
    parser.add_argument("--overload-senders", type=int, default=8, help="sender processes")
    parser.add_argument("--capacity-seconds", type=float, default=40.0)
    parser.add_argument("--recovery-seconds", type=float, default=30.0)
    parser.add_argument("--max-tries", type=int, default=5, help="tries of a refused request before giving up")
    parser.add_argument("--max-memory-mib", type=float, default=1024.0)
    parser.add_argument("--max-pending-mib", type=float, default=None, help="default: the server's (cap / 8)")
    parser.add_argument("--skip", choices=["kills", "overload"], help="leave one run out")
    args = parser.parse_args()
    template = Template(args.spans)
    if args.skip != "kills":
        kill_run(args, template)
    if args.skip != "overload":
        overload_run(args, Template(args.overload_spans))


if __name__ == "__main__":
    main()
