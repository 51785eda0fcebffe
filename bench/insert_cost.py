"""Where an insert's CPU goes: chDB alone, the bench's spans from a prepared file, stage by stage.

Builds requests as `bench/ingest.py` does, writes them as one length-delimited batch, and times
(process CPU, merges stopped) four statements over the same file, each adding one stage: reading
the Protobuf and flattening it, the exporter's columns, writing the `otel_traces` part, and the
full insert with its materialized views. One request shows the fixed cost of an insert.

    .venv/bin/python bench/insert_cost.py [--sizes 1,25,50,100] [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
from ingest import build_request  # noqa: E402
from kokanee.store import otlp_native as native  # noqa: E402
from kokanee.store.client import Store  # noqa: E402
from kokanee.store.migrations import migrate  # noqa: E402


def stages(path: str) -> dict[str, str]:
    source = f"file({native._quote(path)}, 'Protobuf', {native._quote(native._STRUCTURES['traces'])})"
    select = native._SELECT_EMBEDDED["traces"].replace("{source}", source)
    settings = {**native.format_settings("traces"), "insert_deduplication_token": f"t{time.time_ns()}"}
    clause = f" SETTINGS {native._settings_clause(settings)}"
    flatten = (
        f"SELECT sum(length(s.name)) FROM {source} ARRAY JOIN resource_spans AS rs "
        "ARRAY JOIN rs.scope_spans AS ss ARRAY JOIN ss.spans AS s"
    )
    return {
        "read the Protobuf, flatten (ARRAY JOIN)": f"{flatten}{clause} FORMAT Null",
        "+ the exporter's columns (SELECT)": f"{select}{clause} FORMAT Null",
        "+ write the otel_traces part": f"INSERT INTO bare ({native._COLUMNS['traces']}){clause} {select}",
        "+ the views (the full insert)": native.insert_from_file("traces", path, settings),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,25,50,100", help="batch sizes in 1,000-span requests")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    rnd, now = random.Random(7), time.time_ns()
    bodies = [build_request(rnd, now) for _ in range(max(sizes))]
    folder = Path(tempfile.mkdtemp(prefix="kokanee-insert-cost-"))
    store = Store(f"chdb://{folder}/store")
    migrate(store)
    for sql in native.create_functions():  # as Store.insert_otlp does before its first insert
        store.command(sql)
    store.command("SYSTEM STOP MERGES")  # an insert's own CPU, not the merges it sets off
    store.command("CREATE TABLE bare AS otel_traces")  # the same table without views
    client = store.client()
    print(f"load average {os.getloadavg()[0]:.1f}; median of {args.reps} after one warm-up, process CPU")
    for size in sizes:
        path = folder / f"batch-{size}.pb"
        path.write_bytes(native.length_delimited(bodies[:size]))
        for name in stages(str(path)):
            times = []
            for _ in range(args.reps + 1):
                sql = stages(str(path))[name]  # a fresh token each time
                started = time.process_time()
                client.command(sql)
                times.append(time.process_time() - started)
            cpu = statistics.median(times[1:])
            print(f"{size:>4}k spans  {name:42s} {1000 * cpu:8.1f} ms  {1e6 * cpu / (size * 1000):6.2f} µs/span")


if __name__ == "__main__":
    main()
