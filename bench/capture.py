"""Capture overhead: the ingest benchmark's load (OTLP/HTTP protobuf, 1,000 spans a request)
against `kokanee serve` with raw capture on (local folder) and off, alternating.

Prints the capture thread's CPU time per request (measured in this process), then per run and
as medians: acknowledged spans/s, and with capture on the compressed
bytes of segments per span, how long after the last ack the outbox was drained into the
store, and the spans counted by the index (must equal those acknowledged).

    .venv/bin/python bench/capture.py [--runs 3] [--seconds 10] [--senders 2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from tests.server import free_ports  # noqa: E402

from ingest import _bodies, _drive  # noqa: E402


def _wait_healthy(api: int) -> None:
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{api}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)


def one_run(capture: bool, seconds: float, bodies: list[list[bytes]]) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix="kokanee-bench-capture-"))
    api, otlp = free_ports(2)
    extra = ["--capture-segment-s", "5"] if capture else ["--capture", "off"]
    server = subprocess.Popen(
        [sys.executable, "-m", "kokanee", "serve", "--data-dir", str(data_dir), "--http-port", str(api),
         "--otlp-http-port", str(otlp), "--otlp-grpc-port", "0", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_healthy(api)
        accepted, _, _, elapsed = _drive(otlp, bodies, seconds)
        result = {"spans_per_s": accepted / elapsed, "accepted": accepted}
        if capture:
            acked = time.monotonic()
            indexed = 0
            for _ in range(1200):
                status = httpx.get(f"http://127.0.0.1:{api}/api/v1/capture/status", timeout=30).json()
                indexed = sum(t["items"] for t in status["totals"] if t["signal"] == "traces")
                if indexed >= accepted and status["outbox_segments"] == 0:
                    break
                time.sleep(0.25)
            captured = sum(p.stat().st_size for p in (data_dir / "capture").rglob("*.zst"))
            result.update(
                indexed_spans=indexed,
                drained_after_s=time.monotonic() - acked,
                captured_bytes_per_span=captured / accepted if accepted else float("nan"),
            )
        return result
    finally:
        server.terminate()
        server.wait(60)


def capture_cpu(bodies: list[bytes], requests: int = 200) -> float:
    """CPU seconds of the capture thread's work per request: WAL tail, summary, segment encode
    and outbox write (uploads left out), measured in this process with thread_time."""
    from kokanee.capture.objectstore import LocalObjectStore
    from kokanee.capture.writer import Capture, CaptureSettings
    from kokanee.pipeline.wal import WriteAheadLog

    work = Path(tempfile.mkdtemp(prefix="kokanee-bench-capture-cpu-"))
    wal = WriteAheadLog(work / "wal")
    list(wal.recover())
    wal.start()
    for i in range(requests):
        wal.append("traces", bodies[i % len(bodies)])
    wal.append("traces", bodies[0]).result()
    settings = CaptureSettings({"traces": 1.0}, 16 << 20, 60.0)
    capture = Capture(wal, LocalObjectStore(work / "objects"), None, work / "work", settings)  # type: ignore[arg-type]
    tail = wal.tail(0)
    started = time.thread_time()
    while records := tail.read():
        for record in records:
            capture._add(record)
    for signal in list(capture._open):
        capture._close(signal)
    spent = time.thread_time() - started
    wal.close()
    return spent / (requests + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--requests-per-sender", type=int, default=400)
    args = parser.parse_args()
    bodies = _bodies(args.senders, args.requests_per_sender)
    cpu = [capture_cpu(bodies[0]) for _ in range(3)]
    print(f"capture thread CPU per 1,000-span request: {', '.join(f'{1000 * c:.1f}' for c in cpu)} ms", flush=True)
    on, off = [], []
    for i in range(args.runs):
        off.append(one_run(False, args.seconds, bodies))
        print(f"run {i + 1} capture off: {off[-1]['spans_per_s']:,.0f} spans/s", flush=True)
        on.append(one_run(True, args.seconds, bodies))
        r = on[-1]
        print(
            f"run {i + 1} capture on:  {r['spans_per_s']:,.0f} spans/s, {r['captured_bytes_per_span']:.1f} bytes/span "
            f"captured, outbox drained {r['drained_after_s']:.1f} s after the last ack, "
            f"{int(r['indexed_spans']):,} of {int(r['accepted']):,} spans indexed",
            flush=True,
        )
    off_rate = statistics.median(r["spans_per_s"] for r in off)
    on_rate = statistics.median(r["spans_per_s"] for r in on)
    print(f"median capture off: {off_rate:,.0f} spans/s")
    print(f"median capture on:  {on_rate:,.0f} spans/s ({100 * (on_rate / off_rate - 1):+.1f}%)")
    print(f"median captured bytes per span: {statistics.median(r['captured_bytes_per_span'] for r in on):.1f}")
    print(f"median outbox drained after: {statistics.median(r['drained_after_s'] for r in on):.1f} s")


if __name__ == "__main__":
    main()
