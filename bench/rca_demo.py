"""The demo shop's own faults, ranked through a real kokanee's `POST /api/v1/rca`.

A `kokanee serve` in a scratch data dir receives `kokanee demo`'s telemetry for DURATION_S with
the faults of FAULTS (two minutes each, a gap between them; the first ones after a fault-free
start). The run is cached under /tmp/kokanee-rca-bench/demo-data while its marker exists. Each
fault's window is its first two minutes; the baseline is the fault-free start of the run plus the
minute before the fault. The labels (kokanee_fault_labels, source demo) are read after ranking,
only to score.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.server import KokaneeServer  # noqa: E402

DATA_DIR = Path("/tmp/kokanee-rca-bench/demo-data")
MARKER = DATA_DIR / "demo-run.json"
NS = 1_000_000_000
FAULTS = (
    "payment_failure@+2m:2m",
    "network_delay/shipping@+5m30s:2m",
    "cpu_contention/currency@+9m:2m",
    "ad_high_cpu@+12m30s:2m",
    "cart_failure@+16m:2m",
    "product_catalog_failure@+19m30s:2m",
)
DURATION_S = 22 * 60
WINDOW_S = 120
BEFORE_S = 60


def run_demo(console: Console) -> dict[str, int]:
    if MARKER.exists():
        return dict(json.loads(MARKER.read_text()))
    if DATA_DIR.exists():  # a run stopped part way: its faults' labels would be scored too
        shutil.rmtree(DATA_DIR)
    DATA_DIR.parent.mkdir(parents=True, exist_ok=True)
    server = KokaneeServer(DATA_DIR).start(timeout=120)
    try:
        began = time.time_ns()
        cmd = [
            sys.executable, "-m", "kokanee", "demo", "--endpoint", server.otlp_http_url,
            "--api-url", server.api_url, "--rate", "3", "--duration", str(DURATION_S), "--control-port", "0",
            *(arg for fault in FAULTS for arg in ("--fault", fault)),
        ]  # fmt: skip
        with Progress(console=console) as progress:
            task = progress.add_task("demo shop running", total=DURATION_S)
            demo = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while demo.poll() is None:
                time.sleep(5)
                progress.update(task, completed=min(DURATION_S, (time.time_ns() - began) / NS))
        if demo.returncode != 0:
            raise SystemExit(f"kokanee demo exited with {demo.returncode}")
        time.sleep(10)  # the pipeline's last flush
    finally:
        server.stop(timeout=120)
    run = {"began_ns": began, "api": 0}
    MARKER.write_text(json.dumps(run))
    return run


def demo(console: Console) -> dict[str, float]:
    run = run_demo(console)
    server = KokaneeServer(DATA_DIR).start(timeout=120)
    try:
        labels = server.query(
            "SELECT toUnixTimestamp64Nano(Start) AS start, ServiceName AS service, Kind AS kind "
            "FROM kokanee_fault_labels FINAL WHERE Source = 'demo' ORDER BY Start"
        )
        starts = [int(r["start"]) for r in labels]
        quiet = (run["began_ns"] + 20 * NS, min(starts))
        rankings = []
        for start in starts:
            body = {
                "start": start,
                "end": start + WINDOW_S * NS,
                "baselines": [
                    {"start": quiet[0], "end": quiet[1]},
                    {"start": start - BEFORE_S * NS, "end": start},
                ],
            }
            t0 = time.monotonic()
            r = httpx.post(f"{server.api_url}/api/v1/rca", json=body, timeout=600)
            r.raise_for_status()
            rankings.append(([c["service"] for c in r.json()["causes"]], time.monotonic() - t0))
    finally:
        server.stop(timeout=120)
    table = Table(title=f"demo shop faults ({len(labels)}), ranked by POST /api/v1/rca")
    for column in ("fault", "service", "rank", "top 3", "s"):
        table.add_column(column)
    ranks = []
    for label, (services, secs) in zip(labels, rankings, strict=True):
        rank = services.index(label["service"]) + 1 if label["service"] in services else None
        ranks.append(rank)
        table.add_row(label["kind"], label["service"], str(rank), ", ".join(services[:3]), f"{secs:.1f}")
    console.print(table)
    out = {f"AS@{k}": 100 * sum(1 for r in ranks if r is not None and r <= k) / len(ranks) for k in (1, 3, 5)}
    console.print("  ".join(f"{k} {v:.1f}%" for k, v in out.items()))
    return out
