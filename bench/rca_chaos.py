"""The chaos suite (kokanee.demo.chaos) through kokanee's ranking, under both protocols.

The suite's telemetry is generated as OTLP protobuf and stored through kokanee's ingest decoder in
a chDB store under /tmp/kokanee-rca-bench/chaos-data (cached while its manifest exists: delete the
folder to regenerate). The manifest holds the labels; it is read only to score.

Protocols, for each labelled fault and each fault-free window ([start, start + 3 min)):
- reference: the scenario's clean stretch and the minute before the window are given as baselines
  (as Nezha's evaluation does);
- window: only start and end, kokanee picks the baseline (as a user's question would).

Seeds: scenarios with seed < SEEDS / 2 are the train half, the rest the test half. Parameters are
chosen on train only; the test half is what is reported.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from kokanee.analysis.rca import rank_causes
from kokanee.demo.chaos.otlp import store_requests
from kokanee.demo.chaos.suite import FAULT_S, generate, plan
from kokanee.demo.chaos.topologies import topologies
from kokanee.store.client import Store
from kokanee.store.migrations import migrate

DATA_DIR = Path(os.environ.get("RCA_BENCH_SCRATCH", "/tmp/kokanee-rca-bench")) / "chaos-data"
MANIFEST = DATA_DIR / "manifest.json"
NS = 1_000_000_000
SEEDS = 4  # per topology: 0, 1 train; 2, 3 test
RATE = 2.0  # mean requests per second
BEFORE_S = 60
# Bump when the suite's generation changes (2: slow_query only on statements requests run; 3: about
# a third of scenarios record no span status, failures in ERROR log lines only; 4: a ninth kind,
# a wrong return value, so every schedule is drawn anew; 5: half of the wrong return values are an
# internal method's, on which the service itself fails: schedules as in 4).
VERSION = 5
PROTOCOLS = ("reference", "window")


def build(console: Console) -> dict[str, Any]:
    if MANIFEST.exists():
        manifest = json.loads(MANIFEST.read_text())
        if manifest.get("version") == VERSION:
            return dict(manifest)
    if DATA_DIR.exists():
        shutil.rmtree(DATA_DIR)
    DATA_DIR.mkdir(parents=True)
    store = Store(f"chdb://{DATA_DIR / 'store'}")
    migrate(store)
    began = time.monotonic()
    scenarios = []
    stored = 0
    plans = [plan(topo, seed, ti * SEEDS + seed, RATE) for ti, topo in enumerate(topologies()) for seed in range(SEEDS)]
    with Progress(console=console) as progress:
        task = progress.add_task("chaos suite: generate + store", total=len(plans))
        for sc in plans:
            requests = list(generate(sc))
            stored += store_requests(store, requests, DATA_DIR / "spool", f"{sc.topology.name}-{sc.seed}")
            scenarios.append(sc.labels())
            progress.advance(task)
    store.close()
    manifest = {"version": VERSION, "seconds": time.monotonic() - began, "items": stored, "scenarios": scenarios}
    MANIFEST.write_text(json.dumps(manifest))
    return manifest


def chaos(console: Console, split: str | None = None, protocols: tuple[str, ...] = PROTOCOLS) -> list[dict[str, Any]]:
    """One result per (window, protocol): set, kind, split, protocol, rank (None: not ranked), and
    for fault-free windows the top cause's score. `split` ("train" or "test"): that half only (while
    choosing a parameter, rank the train half alone); `protocols`: which (a change to how baselines
    are picked moves only "window")."""
    manifest = build(console)
    console.print(
        f"chaos suite: {manifest['items']} spans, log records and points generated and stored in "
        f"{manifest['seconds']:.0f} s (cached in {DATA_DIR})"
    )
    store = Store(f"chdb://{DATA_DIR / 'store'}")
    questions = []
    for sc in manifest["scenarios"]:
        half = "train" if sc["seed"] < SEEDS // 2 else "test"
        if split is not None and half != split:
            continue
        ref = tuple(sc["reference"])
        for f in sc["faults"]:
            kind = "return_internal" if f.get("internal") else f["kind"]  # two faces of one fault type
            questions.append((half, sc["topology"], kind, f["service"], f["start_ns"], ref))
        for lo, _ in sc["clean"]:
            questions.append((half, sc["topology"], "no fault", "", lo, ref))
    results: list[dict[str, Any]] = []
    began = time.monotonic()
    with Progress(console=console) as progress:
        task = progress.add_task("chaos suite: rank", total=len(protocols) * len(questions))
        for split, topo, kind, truth, start, ref in questions:
            end = start + FAULT_S * NS
            for protocol in protocols:
                baseline = [ref, (start - BEFORE_S * NS, start)] if protocol == "reference" else None
                t0 = time.monotonic()
                causes = rank_causes(store, start, end, baseline=baseline)
                services = [c.service for c in causes]
                results.append(
                    {
                        "set": "chaos",
                        "topology": topo,
                        "kind": kind,
                        "split": split,
                        "protocol": protocol,
                        "truth": truth,
                        "rank": services.index(truth) + 1 if truth in services else None,
                        "top": services[:3],
                        "top_level": causes[0].level if causes and hasattr(causes[0], "level") else None,
                        "top_score": causes[0].score if causes else 0.0,
                        "seconds": time.monotonic() - t0,
                    }
                )
                progress.advance(task)
    store.close()
    console.print(f"chaos suite: {len(results)} rankings in {time.monotonic() - began:.0f} s")
    return results
