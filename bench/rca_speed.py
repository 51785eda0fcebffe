"""How long one root-cause ranking takes at 100 requests/s (issue 20's target: under 2 s).

12 minutes of the demo shop at 100 requests/s (the chaos suite's generator, a CPU stress on
`currency` in the last 3 minutes) are generated once into a chDB store under
/tmp/kokanee-rca-bench/speed-data (delete it to regenerate). Then, `--repeat` times each:

- window: the fault's 3 minutes, window only (kokanee picks baselines from the 9 minutes before);
- ten: a 10-minute window (minutes 2-12), window only.

Prints each timing and the median. `--profile FILE` writes a cProfile of one window question.

    nice .venv/bin/python bench/rca_speed.py --repeat 5
"""

from __future__ import annotations

import argparse
import cProfile
import os
import shutil
import statistics
import time
from pathlib import Path

from kokanee.analysis.rca.ranker import rank_window
from kokanee.demo.chaos.faults import ChaosFault
from kokanee.demo.chaos.otlp import store_requests
from kokanee.demo.chaos.suite import NS, Scenario, generate
from kokanee.demo.chaos.topologies import shop
from kokanee.store.client import Store
from kokanee.store.migrations import migrate

DATA_DIR = Path(os.environ.get("RCA_BENCH_SCRATCH", "/tmp/kokanee-rca-bench")) / "speed-data"
RATE = 100.0
START_NS = 1_767_225_600 * NS


def scenario() -> tuple[Scenario, ChaosFault]:
    sc = Scenario(shop(), 0, 0, RATE, slots=0, clean_slots=0)  # the 12-minute reference stretch only
    sc.start_ns = START_NS
    fault = ChaosFault("cpu_stress", "currency", sc.start_ns + 9 * 60 * NS, sc.end_ns, 5.0)
    sc.faults.append(fault)
    return sc, fault


def build(sc: Scenario) -> Store:
    ready = DATA_DIR / "ready"
    if not ready.exists():
        if DATA_DIR.exists():
            shutil.rmtree(DATA_DIR)
        DATA_DIR.mkdir(parents=True)
        store = Store(f"chdb://{DATA_DIR / 'store'}")
        migrate(store)
        began = time.monotonic()
        items = store_requests(store, list(generate(sc)), DATA_DIR / "spool", "speed")
        print(f"generated and stored {items} items in {time.monotonic() - began:.0f} s")
        store.close()
        ready.write_text("1")
    return Store(f"chdb://{DATA_DIR / 'store'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", help="write a cProfile of one window question here")
    args = parser.parse_args()
    sc, fault = scenario()
    store = build(sc)
    questions = {
        "window": (fault.start_ns, fault.start_ns + 180 * NS),
        "ten": (sc.start_ns + 2 * 60 * NS, sc.start_ns + 12 * 60 * NS),
    }
    rank_window(store, *questions["window"])  # warm: imports, chDB caches
    for name, (lo, hi) in questions.items():
        times = []
        for _ in range(args.repeat):
            began = time.monotonic()
            causes, used = rank_window(store, lo, hi)
            times.append(time.monotonic() - began)
        top = [f"{c.service} {c.score:.3f}" for c in causes[:3]]
        print(
            f"{name}: median {statistics.median(times):.2f} s over {len(times)} "
            f"({', '.join(f'{t:.2f}' for t in times)}); {len(used)} baselines; top {top}"
        )
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        rank_window(store, *questions["window"])
        profiler.disable()
        profiler.dump_stats(args.profile)
    print(f"load average {os.getloadavg()}")
    store.close()


if __name__ == "__main__":
    main()
