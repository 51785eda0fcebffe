"""What the scheduled anomaly detector finds on the demo shop, with and without a fault.

Starts a real `kokanee serve` in a temporary directory, backfills the demo into it (simulated
time, as fast as the server takes it), waits until the detector has judged every minute, and
prints the anomalies and incidents it stored, read through the API.

    .venv/bin/python bench/anomaly_demo.py --minutes 25 --rate 3                       # no fault
    .venv/bin/python bench/anomaly_demo.py --minutes 25 --rate 3 --fault payment_failure=1@+15m:4m
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from kokanee.demo.runner import DemoConfig, DemoRun
from kokanee.demo.schedule import parse_fault

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.server import KokaneeServer

NS = 1_000_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=25.0, help="simulated minutes of demo traffic")
    parser.add_argument("--rate", type=float, default=3.0, help="journeys per second")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--fault", action="append", default=[], help="a demo fault spec, repeatable")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kokanee-anomaly-") as tmp:
        server = KokaneeServer(Path(tmp) / "data").start()
        try:
            t0 = time.monotonic()
            run = DemoRun(
                DemoConfig(
                    endpoint=server.otlp_http_url,
                    api_url=server.api_url,
                    rate=args.rate,
                    duration_s=args.minutes * 60,
                    seed=args.seed,
                    realtime=False,
                    faults=tuple(parse_fault(f) for f in args.fault),
                    run_id=f"anomaly-bench-{uuid.uuid4().hex[:6]}",
                    export_interval_s=10,
                )
            )
            run.run(threading.Event())
            took = time.monotonic() - t0
            print(f"backfilled {args.minutes:g} min at {args.rate:g}/s: {run.sim.stats.spans} spans in {took:.0f} s")
            assert run.end_ns is not None
            last_minute = run.end_ns // NS // 60 * 60 - 60
            deadline = time.monotonic() + 900
            judged = 0
            while time.monotonic() < deadline:
                judged = (server.get("/api/v1/anomalies", start="now-1m").get("judged_until_unix_nano") or 0) // NS
                if judged >= last_minute:
                    break
                time.sleep(2)
            print(f"detector judged up to the run's last closed minute after {time.monotonic() - t0:.0f} s")
            window = {"start": str(run.origin_ns - 3600 * NS), "end": str(run.end_ns + 600 * NS)}
            anomalies = server.get("/api/v1/anomalies", limit=10000, **window)["anomalies"]
            print(f"\nanomalies: {len(anomalies)}")
            for (signal, severity, detector), n in Counter(
                (a["signal"], a["severity"], a["detector"]) for a in anomalies
            ).most_common():
                print(f"  {n:4d}  {signal:12s} {severity:9s} {detector}")
            for a in sorted(anomalies, key=lambda a: a["time_unix_nano"]):
                offset = (a["time_unix_nano"] - run.origin_ns) // NS
                print(
                    f"  +{offset:5d}s {a['series'][:70]:70s} {a['detector']:8s} expected {a['expected']:.4g} "
                    f"actual {a['actual']:.4g} score {a['score']:.1f} {a['severity']} {a['incident_id'] or ''}"
                )
            incidents = server.get("/api/v1/incidents", **window)["incidents"]
            print(f"\nincidents: {len(incidents)}")
            for i in incidents:
                offset = (i["opened_unix_nano"] - run.origin_ns) // NS
                print(f"  +{offset}s {i['status']} {i['severity']} {i['title']} services={i['services']}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
