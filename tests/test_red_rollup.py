"""RED per service: kokanee_service_red_1m/1h roll up kokanee_red_1m as it is written (counted once
under WAL replay, like the table they come from), and migration 11 fills them for a store that
already holds spans. Quantiles read in Python from merged histograms equal the SQL reading.
Migration 14's codecs apply to a store that already holds spans, which stay readable once merged."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import pytest

from kokanee.store.client import Store
from kokanee.store.reads.red import service_red
from kokanee.store.schema_derived import QUANTILES, bucket_quantiles
from tests.own_process import run_script
from tests.test_servicegraph import T0, S, ingest

MINUTE_NS = 60_000_000_000


@pytest.mark.parametrize("seed", range(5))
def test_python_quantiles_equal_the_sql_function(chdb_store: Store, seed: int) -> None:
    rng = random.Random(seed)
    buckets = sorted(rng.sample(range(480), rng.randint(1, 60)))
    counts = [rng.choice([1, 1, 2, 5, 40, 1000]) for _ in buckets]
    sql = chdb_store.query(
        "SELECT kokanee_quantiles(({b:Array(UInt16)}, {c:Array(UInt64)}))", parameters={"b": buckets, "c": counts}
    ).rows[0][0]
    assert bucket_quantiles(buckets, counts) == pytest.approx(sql, rel=1e-9)


def test_an_empty_histogram_has_no_quantiles() -> None:
    assert bucket_quantiles([], []) == tuple(None for _ in QUANTILES)


def test_quantiles_come_back_in_the_order_asked() -> None:
    buckets, counts = [10, 40, 41, 200], [5, 0, 90, 5]
    ascending = bucket_quantiles(buckets, counts, (0.01, 0.5, 0.99))
    assert bucket_quantiles(buckets, counts, (0.99, 0.01, 0.5)) == (ascending[2], ascending[0], ascending[1])
    assert ascending[0] < ascending[1] < ascending[2]


def test_service_rows_sum_the_operations_and_count_a_replay_once(chdb_store: Store, tmp_path: Path) -> None:
    svc = f"rollup-{uuid.uuid4().hex[:8]}"
    spans = [
        S(svc, "server", 1, ms=10, trace=901),
        S(svc, "consumer", 2, ms=30, error=True, trace=902),
        S(svc, "server", 3, ms=50, at=61, trace=903),  # the next minute
        S(svc, "client", 4, 3, at=61.1, ms=5, trace=903),  # not an entry span: not counted
    ]
    ingest(chdb_store, tmp_path, *spans, token="rollup-replay")
    ingest(chdb_store, tmp_path, *spans, token="rollup-replay")  # the WAL replays the batch

    per_minute = chdb_store.query(
        """SELECT toUnixTimestamp(Minute), sum(Requests), sum(Errors) FROM kokanee_service_red_1m
        WHERE ServiceName = {s:String} GROUP BY Minute ORDER BY Minute""",
        parameters={"s": svc},
    ).rows
    base = T0 // 1_000_000_000
    assert [(int(t) - base, int(r), int(e)) for t, r, e in per_minute] == [(0, 2, 1), (60, 1, 0)]
    hourly = chdb_store.query(
        "SELECT sum(Requests), sum(Errors) FROM kokanee_service_red_1h WHERE ServiceName = {s:String}",
        parameters={"s": svc},
    ).rows
    assert [tuple(map(int, r)) for r in hourly] == [(3, 1)]

    red = service_red(chdb_store, T0, T0 + 2 * MINUTE_NS, svc)[svc]
    assert (red.requests, red.errors) == (3, 1)
    assert red.quantiles_ns[0] == pytest.approx(30_000_000, rel=0.045)  # p50 of 10, 30, 50 ms


_MIGRATION_SCRIPT = """
import json, sys, uuid
from pathlib import Path
from kokanee.store.client import Store
from kokanee.store.migrations import MIGRATIONS, migrate
from kokanee.store.reads.red import service_red
from kokanee.store.reads.traces import get_trace, trace_scope
from tests.test_servicegraph import T0, S, request

data = Path(sys.argv[1])
store = Store(f"chdb://{data}/store")
migrate(store, tuple(m for m in MIGRATIONS if m.version < 11))
spans = [S("shop", "server", i, at=i, ms=10 + i, trace=7) for i in range(1, 6)]
store.insert_otlp("traces", [request(*spans).SerializeToString()], uuid.uuid4().hex, data)
applied = migrate(store)
red = service_red(store, T0, T0 + 60 * 10**9, "shop")["shop"]
trace = (7).to_bytes(16, "big").hex()
keyed = "(ServiceName, SpanName) IN" in trace_scope(store, [trace])[0]
# A part written with the new codecs beside the old one, then both merged into one with them.
later = [S("shop", "server", i, at=i, ms=10 + i, trace=8) for i in range(11, 14)]
store.insert_otlp("traces", [request(*later).SerializeToString()], uuid.uuid4().hex, data)
for table in ("otel_traces", "kokanee_trace_keys", "otel_traces_trace_id_ts"):
    store.command(f"OPTIMIZE TABLE {table} FINAL")
codecs = store.query(
    "SELECT table || '.' || name, compression_codec FROM system.columns WHERE database = currentDatabase()"
).rows
print(json.dumps({
    "applied": applied,
    "requests": red.requests,
    "keyed": keyed,
    "spans": len(get_trace(store, trace)),
    "later": len(get_trace(store, (8).to_bytes(16, "big").hex())),
    "parts": store.query("SELECT count() FROM system.parts WHERE active AND table = 'otel_traces'").rows[0][0],
    "mutations": store.query("SELECT count() FROM system.mutations").rows[0][0],
    "codecs": dict(codecs),
    "engine": store.query("SELECT engine_full FROM system.tables WHERE name = 'otel_traces'").rows[0][0],
}))
"""


def test_migrations_from_10_on_a_store_that_has_spans(tmp_path: Path) -> None:
    """Migration 11 fills the new tables from what is stored; 12 changes otel_traces' block size;
    14 changes codecs without rewriting parts (no mutation), and merges take them.
    In a process of its own: chDB opens one data path per process."""
    result = run_script(_MIGRATION_SCRIPT, str(tmp_path))
    # The trace is recent (within the hour before the migration), so its keys were backfilled.
    engine, codecs, applied = result.pop("engine"), result.pop("codecs"), result.pop("applied")
    assert {11, 12, 14} <= set(applied), applied
    assert result == {"requests": 5, "keyed": True, "spans": 5, "later": 3, "parts": 1, "mutations": 0}
    assert "min_compress_block_size = 4096" in engine, engine
    assert codecs["otel_traces.SpanAttributes"] == "CODEC(ZSTD(6))"
    assert codecs["otel_traces.ResourceAttributes"] == "CODEC(ZSTD(6))"
    assert codecs["otel_traces.Timestamp"] == "CODEC(T64, ZSTD(3))"
    assert codecs["otel_traces.Duration"] == "CODEC(T64, ZSTD(3))"
    assert codecs["otel_traces_trace_id_ts.Start"] == "CODEC(T64, ZSTD(3))"
    assert codecs["kokanee_trace_keys.LastStart"] == "CODEC(T64, ZSTD(3))"
    assert not any(column.startswith("kokanee_span_index.") for column in codecs)  # dropped by 15
