"""Storage benchmark: bytes on disk per span in every table, after merges.

Ingests bench/ingest.py's requests (1,000 spans of one service each: ~12 span attributes, 8
resource attributes, an event on every fourth span), spread in time at `--rate` spans/s, into a
fresh embedded store through the store's native OTLP insert (the path the pipeline takes, the
materialized views included), runs the service-graph deriver over every minute, merges every
table (OPTIMIZE FINAL), and prints bytes per span per table and for the largest columns.

The data is the same on every run (fixed seed and start time), so runs of two schema versions
compare like for like. `--alter` tries a codec on the stored data (ALTER ... MODIFY COLUMN, then
merged again) and prints the table once more:

    .venv/bin/python bench/storage.py [--spans 1000000] [--rate 1000] [--columns 25]
    .venv/bin/python bench/storage.py --alter 'otel_traces.Duration=UInt64 CODEC(T64, ZSTD(3))'
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.ingest import SPANS_PER_REQUEST, build_request  # noqa: E402

from kokanee.derive.runner import Deriver  # noqa: E402
from kokanee.store.client import Store  # noqa: E402
from kokanee.store.migrations import migrate  # noqa: E402

T0_NS = 1_767_607_200 * 10**9  # 2026-01-05 10:00 UTC: fixed, so every run stores the same bytes
BATCH_REQUESTS = 20  # 20,000 spans an insert, about what the pipeline's batches hold under load


def ingest(store: Store, spool: Path, spans: int, rate: float, seed: int) -> int:
    rnd = random.Random(seed)
    requests = max(1, spans // SPANS_PER_REQUEST)
    step_ns = int(SPANS_PER_REQUEST / rate * 1e9)  # each request spans one step of time
    batch: list[bytes] = []
    started = time.monotonic()
    for i in range(requests):
        batch.append(build_request(rnd, T0_NS + (i + 1) * step_ns))
        if len(batch) == BATCH_REQUESTS or i == requests - 1:
            store.insert_otlp("traces", batch, uuid.uuid4().hex, spool)
            batch = []
            print(f"\r  {i + 1:,} / {requests:,} requests", end="", file=sys.stderr, flush=True)
    print(f"\r  {requests:,} requests in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return requests * SPANS_PER_REQUEST


def derive_edges(store: Store, end_ns: int) -> tuple[int, float]:
    """Closes every minute of the data, as the deriver would once its wait has passed (its default
    wait of 10 s, read on either side of each minute); returns the minutes closed and the seconds."""
    deriver = Deriver(store, wait_s=10, max_minutes_per_tick=1000)
    started, minutes = time.perf_counter(), 0
    while closed := deriver.run_once(end_ns + 120 * 10**9):
        minutes += closed
    return minutes, time.perf_counter() - started


def edges_digest(store: Store) -> str:
    """The service graph the deriver wrote, summed: equal between schema versions when pairing is."""
    rows = store.query(
        """SELECT ConnectionType, count(), sum(Requests), sum(Failures), sum(arraySum(ClientHistogram.2)),
            sum(arraySum(ServerHistogram.2)) FROM kokanee_service_edges_1m GROUP BY ConnectionType ORDER BY 1"""
    ).rows
    return "; ".join(
        f"{t or 'service'}: {n} rows, {r} requests, {f} failed, {c}/{s} timed" for t, n, r, f, c, s in rows
    )


def merge_all(store: Store) -> None:
    for (table,) in store.query(
        "SELECT DISTINCT table FROM system.parts WHERE active AND database = currentDatabase()"
    ).rows:
        store.command(f"OPTIMIZE TABLE {table} FINAL")


def report(store: Store, spans: int, columns: int) -> float:
    """Prints bytes per span per table and for the `columns` largest columns; returns the total."""
    tables = store.query(
        """
        SELECT table, sum(rows), sum(bytes_on_disk), sum(data_compressed_bytes), sum(data_uncompressed_bytes), count()
        FROM system.parts WHERE active AND database = currentDatabase()
        GROUP BY table ORDER BY sum(bytes_on_disk) DESC
        """
    ).rows
    total = sum(int(r[2]) for r in tables)
    print(f"\n{'table':<36} {'rows':>11} {'parts':>5} {'B/span':>8} {'share':>6} {'ratio':>6}")
    for table, rows, on_disk, compressed, uncompressed, parts in tables:
        ratio = int(uncompressed) / int(compressed) if int(compressed) else 0.0
        share = int(on_disk) / total
        print(f"{table:<36} {int(rows):>11,} {int(parts):>5} {int(on_disk) / spans:>8.2f} {share:>6.1%} {ratio:>6.1f}")
    print(f"{'all tables':<36} {'':>11} {'':>5} {total / spans:>8.2f}")
    # The span index is a working set (TTL a day after arrival): spans older than that cost it nothing.
    lasting = total - sum(int(r[2]) for r in tables if r[0] == "kokanee_span_index")
    print(f"{'all but the span index (after its TTL)':<54} {lasting / spans:>8.2f}")
    cols = store.query(
        """
        SELECT table, name, type, compression_codec, data_compressed_bytes, data_uncompressed_bytes
        FROM system.columns WHERE database = currentDatabase() AND data_compressed_bytes > 0
        ORDER BY data_compressed_bytes DESC LIMIT {n:UInt32}
        """,
        parameters={"n": columns},
    ).rows
    print(f"\n{'column':<48} {'B/span':>8} {'ratio':>6}  codec")
    for table, name, _type, codec, compressed, uncompressed in cols:
        ratio = int(uncompressed) / int(compressed)
        print(f"{table + '.' + name:<48} {int(compressed) / spans:>8.2f} {ratio:>6.1f}  {codec or '(default)'}")
    indices = store.query(
        """
        SELECT table, name, data_compressed_bytes FROM system.data_skipping_indices
        WHERE database = currentDatabase() AND data_compressed_bytes > 0 ORDER BY data_compressed_bytes DESC
        """
    ).rows
    print("\nskip indices (B/span): " + ", ".join(f"{t}.{n} {int(b) / spans:.2f}" for t, n, b in indices))
    return total / spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="spans per second of data time")
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--columns", type=int, default=25, help="how many of the largest columns to list")
    parser.add_argument("--data", type=Path, help="store directory (default: a temporary one)")
    parser.add_argument(
        "--alter", action="append", default=[], help="TABLE.COLUMN=TYPE CODEC(...) to try after the first report"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kokanee-storage-") as tmp:
        data = args.data or Path(tmp)
        store = Store(f"chdb://{data.resolve()}/store")
        migrate(store)
        started = time.monotonic()
        spans = ingest(store, data / "spool", args.spans, args.rate, args.seed)
        insert_s = time.monotonic() - started
        minutes, derive_s = derive_edges(store, T0_NS + int(spans / args.rate * 1e9))
        merge_all(store)
        print(f"{spans:,} spans at {args.rate:,.0f} spans/s of data time; generated and inserted in {insert_s:.0f} s")
        print(f"service graph: {minutes} minutes closed in {derive_s:.1f} s; {edges_digest(store)}")
        report(store, spans, args.columns)
        for change in args.alter:
            column, _, definition = change.partition("=")
            table, _, name = column.partition(".")
            store.command(f"ALTER TABLE {table} MODIFY COLUMN {name} {definition}")
            print(f"\n--alter {table}.{name} {definition}")
        if args.alter:
            merge_all(store)
            report(store, spans, args.columns)
        store.close()


if __name__ == "__main__":
    main()
