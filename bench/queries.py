"""Read-latency benchmark: topology, service RED and trace by id on stores of 10M and 50M spans.

Spans are generated inside ClickHouse (`INSERT INTO otel_traces SELECT ... FROM numbers_mt(...)`, in
chunks), so the materialized views fire exactly as at ingest (kokanee_red_1m and its per-service
rollup, the span arrivals, the trace-id lookups). Shape: 20 services, traces of 10 spans
(client/server pairs sharing the trace id, a Postgres and a Redis client span), ~2% errors,
lognormal durations, ~10 span attributes, spread over the last 24 h.

Each size is its own store, written in one pass in time order, as ingest writes spans (a store
that got a second pass over the same day holds two rollup rows per service and minute until
ClickHouse merges them; no ingest does that). The stores are then measured in turns, each round a
fresh process per store (chDB opens one path per process), so load changes on a shared machine hit
both alike. The first round pairs the queried hour's minutes and the hour before (the Deriver's
`run_minute`, filling kokanee_service_edges_1m) and is not counted. Prints median and p95 per query
and store, and the ratio of the last size to the first.

Targets (the issue): topology and RED for a one-hour window p95 <= 50 ms, growing no more than
1.5x from 10M to 50M spans; trace by id <= 50 ms.

    .venv/bin/python bench/queries.py [--sizes 10,50] [--reps 30] [--rounds 4] [--data-dir DIR]

Stores kept with `--data-dir` (DIR/10M, DIR/50M) can be measured again: `--compare DIR/10M,DIR/50M`.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from kokanee.derive.servicegraph import MINUTE_NS, run_minute  # noqa: E402
from kokanee.store.client import Store  # noqa: E402
from kokanee.store.migrations import migrate  # noqa: E402
from kokanee.store.reads.red import red_series, service_red  # noqa: E402
from kokanee.store.reads.topology import read_topology  # noqa: E402
from kokanee.store.reads.traces import get_trace  # noqa: E402

NS = 1_000_000_000
HOUR_NS = 3600 * NS
SPANS_PER_TRACE = 10
# A day of data, as the queries were first measured on.
SPREAD_NS = 23 * HOUR_NS + 50 * MINUTE_NS
WAIT_NS = 10 * NS  # the Deriver's default wait
RED_SERVICE = "checkout"

console = Console(width=160)

# One trace, span i (0-based): parent index, kind, role of its service, offset (ms), base duration (ms).
#   0 entry Server ── 1 Client ─► 2 mid Server ── 3 Client ─► 4 back Server ── 5 DB Client (postgresql)
#                  └─ 6 Client ─► 7 leaf Server ── 8 Internal
#                                               └─ 9 DB Client (redis)
_PARENT = [-1, 0, 1, 2, 3, 4, 0, 6, 7, 7]
_KIND = ["Server", "Client", "Server", "Client", "Server", "Client", "Client", "Server", "Internal", "Client"]
_OFFSET_MS = [0, 2, 4, 30, 33, 40, 70, 72, 75, 90]
_BASE_MS = [120, 60, 55, 25, 22, 4, 40, 35, 6, 1]

_ENTRY = ["frontend", "api-gateway"]
_MID = ["cart", "checkout", "catalog", "search", "account", "recommendation"]
_BACK = ["pricing", "inventory", "payment", "shipping", "auth", "currency"]
_LEAF = ["email", "notification", "ad", "review", "fraud", "ledger"]
_ROUTES = ["/", "/cart", "/checkout", "/product/{id}", "/search", "/account/orders"]
_OPS = ["get", "list", "update", "create"]


def _arr(values: list[Any]) -> str:
    return "[" + ", ".join(f"'{v}'" if isinstance(v, str) else str(v) for v in values) + "]"


# Spans number*: trace t = number / 10, span i = number % 10. Ids are hashes of (t, i), so a span's
# parent id is the hash of (t, parent index). Stage-local trace index spreads traces over the window.
GENERATE = f"""
INSERT INTO otel_traces
    (Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, ResourceAttributes,
     ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage)
WITH
    intDiv(number, {SPANS_PER_TRACE}) AS t,
    toUInt8(number % {SPANS_PER_TRACE}) AS i,
    cityHash64(t, 'trace') AS h,
    {_PARENT}[i + 1] AS parent,
    {_arr(_KIND)}[i + 1] AS kind,
    {_arr(_ENTRY)}[1 + h % 2] AS s0,
    bitShiftRight(h, 8) % 6 AS mid,
    {_arr(_MID)}[1 + mid] AS s1,
    {_arr(_BACK)}[1 + (mid + bitShiftRight(h, 16) % 2) % 6] AS s2,
    {_arr(_LEAF)}[1 + bitShiftRight(h, 24) % 6] AS s3,
    multiIf(i IN (0, 1, 6), s0, i IN (2, 3), s1, i IN (4, 5), s2, s3) AS service,
    -- the service a client span calls (its server child's), for names and server.address
    multiIf(i = 1, s1, i = 3, s2, i = 6, s3, '') AS callee,
    {_arr(_OPS)}[1 + bitShiftRight(h, 32) % 4] AS op,
    if(op IN ('get', 'list'), 'GET', 'POST') AS method,
    multiIf(
        i = 0, {_arr(_ROUTES)}[1 + bitShiftRight(h, 40) % 6],
        i IN (1, 2), concat('/api/', s1, '/', op),
        i IN (3, 4), concat('/api/', s2, '/', op),
        i IN (6, 7), concat('/api/', s3, '/', op),
        ''
    ) AS route,
    cityHash64(number, 'status') % 100 < 2 AS failed,
    {{t0:UInt64}} AS stage_t0,
    {{lo:Int64}} + toInt64(t - stage_t0) * {{step:Int64}} + toInt64(h % {{step:UInt64}}) AS trace_start
SELECT
    fromUnixTimestamp64Nano(trace_start + {_OFFSET_MS}[i + 1] * 1000000 + toInt64(cityHash64(number) % 1000000)),
    leftPad(lower(hex(h)), 16, '0') || leftPad(lower(hex(cityHash64(t, 'trace2'))), 16, '0'),
    leftPad(lower(hex(cityHash64(t, i))), 16, '0'),
    if(parent < 0, '', leftPad(lower(hex(cityHash64(t, toUInt8(parent)))), 16, '0')),
    multiIf(
        i IN (0, 1, 2, 3, 4, 6, 7), concat(method, ' ', route),
        i = 5, concat(if(op IN ('get', 'list'), 'SELECT ', 'UPDATE '), s2, '.', op, '_items'),
        i = 8, concat('render ', op),
        method
    ),
    kind,
    service,
    map(
        'service.name', service, 'service.version', '2.3.' || toString(h % 3),
        'host.name', 'node-' || toString(h % 8), 'k8s.pod.name', service || '-7d9f8c6b5-' || toString(h % 3),
        'k8s.namespace.name', 'shop', 'deployment.environment.name', 'prod',
        'telemetry.sdk.name', 'opentelemetry', 'telemetry.sdk.language', 'java'
    ),
    multiIf(i = 5, 'io.opentelemetry.jdbc', i = 9, 'io.opentelemetry.lettuce-5.1',
            kind = 'Client', 'io.opentelemetry.java-http-client', 'io.opentelemetry.tomcat-10.0'),
    '2.10.0-alpha',
    multiIf(
        i = 5, map(
            'db.system.name', 'postgresql', 'db.namespace', s2 || '_db', 'db.operation.name',
            if(op IN ('get', 'list'), 'SELECT', 'UPDATE'), 'db.collection.name', op || '_items',
            'db.query.text', 'SELECT id, name, price FROM ' || op || '_items WHERE id = ?',
            'server.address', 'pg-' || s2, 'server.port', '5432',
            'network.peer.address', '10.1.0.' || toString(h % 250),
            'thread.name', 'http-nio-8080-exec-' || toString(h % 50), 'db.response.returned_rows', toString(h % 20)),
        i = 9, map(
            'db.system.name', 'redis', 'db.namespace', '0', 'db.operation.name', 'GET',
            'db.query.text', 'GET cache:' || op, 'server.address', 'redis-cache', 'server.port', '6379',
            'network.peer.address', '10.2.0.7', 'thread.name', 'lettuce-nioEventLoop-4-1',
            'db.redis.database_index', '0', 'code.function.name', 'get'),
        i = 8, map(
            'code.function.name', 'render', 'code.namespace', 'com.example.' || service, 'thread.name',
            'http-nio-8080-exec-' || toString(h % 50), 'app.items', toString(h % 40), 'app.cache_hit',
            if(h % 3 = 0, 'true', 'false'), 'app.tenant', 'tenant-' || toString(h % 17), 'app.region', 'eu-west-1',
            'app.variant', 'b', 'app.step', op),
        map(
            'http.request.method', method, 'http.route', route,
            'http.response.status_code', if(failed, '500', '200'),
            'url.path', replace(route, '{{id}}', toString(h % 10000)), 'url.scheme', 'http',
            'server.address', if(kind = 'Client', callee, service), 'server.port', '8080',
            'network.protocol.version', '1.1', 'user_agent.original', 'Java-http-client/21.0.2',
            'client.address', '10.0.' || toString(h % 20) || '.' || toString(h % 250))
    ),
    toUInt64({_BASE_MS}[i + 1] * 1000000 * exp(randNormal(0, 0.36))),
    if(failed, 'Error', 'Unset'),
    if(failed, 'HTTP 500', '')
FROM numbers_mt({{first:UInt64}}, {{count:UInt64}})
"""


def span_count(store: Store) -> int:
    return int(store.query("SELECT count() FROM otel_traces").rows[0][0])


def generate(store: Store, first: int, count: int, lo_ns: int, chunk: int) -> float:
    """Adds `count` spans (span numbers from `first`) spread over [lo_ns, lo_ns + SPREAD_NS)."""
    traces = count // SPANS_PER_TRACE
    step = max(1, SPREAD_NS // traces)
    t0 = first // SPANS_PER_TRACE
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]generating[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(f"{count / 1e6:g}M spans", total=count, rate="")
        done = 0
        while done < count:
            n = min(chunk, count - done)
            store.command(
                GENERATE,
                parameters={"first": first + done, "count": n, "t0": t0, "lo": lo_ns, "step": step},
                settings={"max_insert_threads": 2},
            )
            done += n
            rate = done / (time.perf_counter() - started)
            progress.update(task, completed=done, rate=f"{rate / 1e3:.0f}k spans/s")
    return time.perf_counter() - started


def wait_for_merges(store: Store, timeout_s: float = 180.0) -> float:
    """Lets background merges settle (as on a store between ingest bursts); returns seconds waited."""
    started = time.perf_counter()
    quiet = 0
    while time.perf_counter() - started < timeout_s and quiet < 3:
        busy = int(store.query("SELECT count() FROM system.merges").rows[0][0])
        quiet = quiet + 1 if busy == 0 else 0
        time.sleep(1.0)
    return time.perf_counter() - started


def derive(store: Store, start_ns: int, end_ns: int) -> float:
    """Runs the Deriver's minute pairing over [start, end); edges of an earlier measurement of the
    store are dropped first (TRUNCATE also clears the dedup tokens)."""
    store.command("TRUNCATE TABLE kokanee_service_edges_1m")
    minutes = range(start_ns, end_ns, MINUTE_NS)
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]pairing[/] minutes"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("", total=len(minutes))
        for minute in minutes:
            run_minute(store, minute, WAIT_NS)
            progress.advance(task)
    return time.perf_counter() - started


def timed(fn: Callable[[int], Any], reps: int, warmup: int) -> list[float]:
    """Milliseconds per call of fn(rep) over `reps` calls, after `warmup` calls."""
    for k in range(warmup):
        fn(-1 - k)
    out = []
    for k in range(reps):
        started = time.perf_counter()
        fn(k)
        out.append((time.perf_counter() - started) * 1e3)
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def measure(store: Store, hour: tuple[int, int], reps: int, warmup: int, seed: int = 7) -> dict[str, list[float]]:
    lo, hi = hour
    rng = random.Random(seed)
    ids = [str(r[0]) for r in store.query("SELECT TraceId FROM otel_traces_trace_id_ts LIMIT 100000").rows]
    trace_ids = rng.sample(ids, reps + warmup)
    topo = read_topology(store, lo, hi)
    assert topo.edges and topo.nodes, "no topology for the hour"
    red = service_red(store, lo, hi, RED_SERVICE)
    assert red[RED_SERVICE].requests > 0
    sizes = {len(get_trace(store, trace_ids[k])) for k in range(3)}
    assert sizes == {SPANS_PER_TRACE}, sizes
    console.print(
        f"  hour: {len(topo.nodes)} nodes, {len(topo.edges)} edges; {RED_SERVICE}: {red[RED_SERVICE].requests} requests"
    )
    return {
        "topology (1 h)": timed(lambda _: read_topology(store, lo, hi), reps, warmup),
        "service_red (1 h, one service)": timed(lambda _: service_red(store, lo, hi, RED_SERVICE), reps, warmup),
        "service_red (1 h, all services)": timed(lambda _: service_red(store, lo, hi), reps, warmup),
        "red_series (1 h, 1 min step)": timed(
            lambda _: red_series(store, RED_SERVICE, lo, hi, MINUTE_NS), reps, warmup
        ),
        "get_trace (random id)": timed(lambda k: get_trace(store, trace_ids[k]), reps, warmup),
    }


def table_sizes(store: Store) -> str:
    rows = store.query(
        """SELECT table, sum(rows), count(), formatReadableSize(sum(bytes_on_disk)) FROM system.parts
        WHERE active AND database = currentDatabase() AND table IN
            ('otel_traces', 'kokanee_red_1m', 'kokanee_service_red_1m', 'kokanee_span_arrivals',
             'kokanee_service_edges_1m', 'otel_traces_trace_id_ts', 'kokanee_trace_keys')
        GROUP BY table ORDER BY table"""
    ).rows
    return "; ".join(f"{t}: {int(r):,} rows in {p} parts, {size}" for t, r, p, size in rows)


def _measure_store(path: Path, hour_start_ns: int, reps: int, warmup: int, prepare: bool, seed: int) -> None:
    """One store, one round: prints {"spans": N, "timings": {query: [ms, ...]}} as JSON."""
    store = Store(f"chdb://{path}/store")
    migrate(store)
    hour = (hour_start_ns, hour_start_ns + HOUR_NS)
    if prepare:
        derive(store, hour[0] - HOUR_NS, hour[1])
        wait_for_merges(store)
    timings = measure(store, hour, reps, warmup, seed)
    print(json.dumps({"spans": span_count(store), "timings": timings}))
    store.close()


def compare(paths: list[Path], rounds: int, reps: int, warmup: int) -> None:
    """Measures stores in turns, each round in a fresh process per store; prints one table."""
    hour_start = (time.time_ns() // HOUR_NS - 4) * HOUR_NS
    samples: dict[Path, dict[str, list[float]]] = {p: {} for p in paths}
    spans: dict[Path, int] = {}
    for r in range(rounds + 1):  # round 0 pairs the hour's minutes in each store
        for path in paths:
            args = [sys.executable, __file__, "--measure-store", str(path), "--hour-start-ns", str(hour_start)]
            # Other trace ids each round (the same in both stores): a trace read in an earlier round
            # would come from caches.
            args += ["--reps", str(reps), "--warmup", str(warmup), "--seed", str(r)]
            args += ["--prepare"] if r == 0 else []
            out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
            answer = json.loads(out.strip().splitlines()[-1])
            spans[path] = answer["spans"]
            if r:
                for name, values in answer["timings"].items():
                    samples[path].setdefault(name, []).extend(values)
        console.print(f"round {r}/{rounds} done")
    first = paths[0]
    table = Table(title=f"read latency, ms (median / p95 of {rounds} rounds x {reps} runs, stores measured in turns)")
    table.add_column("query")
    sizes = [f"{spans[path] / 1e6:g}M" for path in paths]
    # Two stores of one size (a store against its copy: the noise floor) are told apart by folder.
    names = {p: s if sizes.count(s) == 1 else f"{s} {p.name}" for p, s in zip(paths, sizes, strict=True)}
    for path in paths:
        table.add_column(f"{names[path]} p50", justify="right")
        table.add_column(f"{names[path]} p95", justify="right")
    for path in paths[1:]:
        table.add_column(f"p50 {names[path]} / {names[first]}", justify="right")
        table.add_column(f"p95 {names[path]} / {names[first]}", justify="right")
    for name in samples[first]:
        cells = []
        for path in paths:
            cells += [f"{statistics.median(samples[path][name]):.1f}", f"{p95(samples[path][name]):.1f}"]
        a = samples[first][name]
        for path in paths[1:]:
            b = samples[path][name]
            cells += [f"{statistics.median(b) / statistics.median(a):.2f}x", f"{p95(b) / p95(a):.2f}x"]
        table.add_row(name, *cells)
    console.print(table)


def _build_store(path: Path, size: int, now_ns: int, chunk: int) -> None:
    """One store of `size` spans, generated in one pass in time order as ingest writes them; what it
    took goes to built.json beside it."""
    store = Store(f"chdb://{path}/store")
    migrate(store)
    console.rule(f"{size / 1e6:g}M spans in {path}")
    gen_s = generate(store, 0, size, now_ns - SPREAD_NS, chunk)
    merge_s = wait_for_merges(store)
    note = (
        f"{size / 1e6:g}M: generated in {gen_s:.0f} s ({size / gen_s / 1e3:.0f}k spans/s), "
        f"merges settled in {merge_s:.0f} s; {table_sizes(store)}"
    )
    store.close()
    (path / "built.json").write_text(json.dumps({"note": note}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,50", help="store sizes in millions of spans, ascending")
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4, help="turns per store")
    parser.add_argument("--chunk", type=int, default=2_000_000, help="spans per INSERT ... SELECT")
    parser.add_argument("--data-dir", type=Path, default=None, help="where the stores are kept (default: temporary)")
    parser.add_argument("--compare", default=None, help="DIR_A,DIR_B: stores from earlier runs, measured in turns")
    parser.add_argument("--build-store", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--now-ns", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--measure-store", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--hour-start-ns", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_store:
        _build_store(args.build_store, args.size, args.now_ns, args.chunk)
        return
    if args.measure_store:
        _measure_store(args.measure_store, args.hour_start_ns, args.reps, args.warmup, args.prepare, args.seed)
        return
    if args.compare:
        compare([Path(p) for p in args.compare.split(",")], args.rounds, args.reps, args.warmup)
        return
    sizes = [int(float(s) * 1_000_000) for s in args.sizes.split(",")]
    assert sizes == sorted(sizes) and args.reps >= 20

    tmp = tempfile.TemporaryDirectory(prefix="kokanee-bench-")
    root = args.data_dir or Path(tmp.name)
    now = time.time_ns() // MINUTE_NS * MINUTE_NS
    paths, notes = [], []
    for size in sizes:
        path = root / f"{size / 1e6:g}M"
        # A process per store: chDB opens one path per process.
        subprocess.run(
            [sys.executable, __file__, "--build-store", str(path), "--size", str(size), "--now-ns", str(now),
             "--chunk", str(args.chunk)],
            check=True,
        )  # fmt: skip
        notes.append(json.loads((path / "built.json").read_text())["note"])
        paths.append(path)
    compare(paths, args.rounds, args.reps, args.warmup)
    for note in notes:
        console.print(note)
    tmp.cleanup()


if __name__ == "__main__":
    main()
