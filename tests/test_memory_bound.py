"""`--max-memory-mib`: a real `kokanee serve` with a small cap opens its embedded chDB with the
limits derived from it (reported with health, read back from the engine's own
system.server_settings), and with acknowledged data pending past its bound answers 429 with
Retry-After over HTTP and RESOURCE_EXHAUSTED with RetryInfo over gRPC instead of growing. The
engine keeps working once the pages its start touched are handed back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from typer.testing import CliRunner

from kokanee.cli import app
from kokanee.store.client import Store
from kokanee.store.memory import MIB, MIN_MEMORY_MIB, PROCESS_FLOOR_MIB, MemoryBudget, release_engine_code
from tests.own_process import run_script
from tests.server import KokaneeServer

CAP_MIB = 512
PENDING_MIB = 0.001  # one small request fills it: the next one must wait


def traces_body(n: int = 5) -> bytes:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value="bounded")))
    scope = resource_spans.scope_spans.add()
    now = time.time_ns()
    for i in range(n):
        scope.spans.add(
            trace_id=bytes(15) + bytes([i + 1]), span_id=bytes(7) + bytes([i + 1]), name="op",
            start_time_unix_nano=now, end_time_unix_nano=now + 1000,
        )  # fmt: skip
    return request.SerializeToString()


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KokaneeServer]:
    data_dir: Path = tmp_path_factory.mktemp("bounded") / "data"
    # A flush interval far beyond the test keeps the first request pending while the rest arrive.
    server = KokaneeServer(
        data_dir, "--capture", "off", "--max-memory-mib", str(CAP_MIB), "--max-pending-mib", str(PENDING_MIB),
        "--flush-interval-s", "600",
    ).start()  # fmt: skip
    try:
        yield server
    finally:
        server.kill9()  # pending data stays in the WAL; a graceful stop would wait for the flush


def test_the_engine_runs_with_the_limits_derived_from_the_cap(bounded: KokaneeServer) -> None:
    memory = bounded.get("/api/v1/health")["memory"]
    expected = MemoryBudget.for_cap(CAP_MIB, PENDING_MIB)
    assert memory["max_memory_bytes"] == CAP_MIB * MIB
    assert memory["max_pending_bytes"] == expected.pending_bytes
    engine = memory["engine"]  # read back from the engine, not from kokanee's settings
    assert engine["max_server_memory_usage"] == expected.engine_bytes == memory["engine_max_memory_bytes"]
    assert engine["max_server_memory_usage"] < CAP_MIB * MIB
    assert engine["max_memory_usage"] == expected.query_bytes
    assert engine["mark_cache_size"] == expected.engine_settings()["mark_cache_size"]
    assert engine["mark_cache_size"] < 64 * MIB  # ClickHouse's server default is 5 GiB
    assert engine["background_pool_size"] == 2
    assert memory["resident_bytes"] > 0


def test_pending_past_its_bound_is_answered_429_and_resource_exhausted(bounded: KokaneeServer) -> None:
    url = f"{bounded.otlp_http_url}/v1/traces"
    headers = {"Content-Type": "application/x-protobuf"}
    first = httpx.post(url, content=traces_body(), headers=headers, timeout=30)
    assert first.status_code == 200  # admitted with nothing pending: a request always gets through alone
    refused = httpx.post(url, content=traces_body(50), headers=headers, timeout=30)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    status = status_pb2.Status.FromString(refused.content)
    assert "retry later" in status.message

    with grpc.insecure_channel(bounded.otlp_grpc_endpoint) as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        with pytest.raises(grpc.RpcError) as raised:
            export(traces_body(60), timeout=30)
    error = raised.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    details = dict(error.trailing_metadata())  # type: ignore[attr-defined]
    retry = status_pb2.Status.FromString(details["grpc-status-details-bin"]).details[0]
    info = error_details_pb2.RetryInfo()
    assert retry.Unpack(info) and info.retry_delay.seconds == 1

    assert bounded.get("/api/v1/health")["pipeline_pending_bytes"] > 0


def test_a_cap_below_what_kokanee_needs_is_refused_by_name() -> None:
    result = CliRunner().invoke(app, ["serve", "--max-memory-mib", "300"])
    assert result.exit_code == 2
    assert "max_memory_mib" in result.output and f"at least {MIN_MEMORY_MIB}" in result.output


def test_the_pending_bound_defaults_to_an_eighth_of_the_cap() -> None:
    assert MemoryBudget.for_cap(1024).pending_bytes == 128 * MIB  # the old fixed default, at the default cap
    assert MemoryBudget.for_cap(2048, 64).pending_bytes == 64 * MIB


def test_the_shares_never_add_up_to_more_than_the_cap() -> None:
    """At small caps the pending bound gives way, so the engine's minimum share still fits."""
    for cap in (MIN_MEMORY_MIB, 572, 600, 640, 1024, 4096):
        budget = MemoryBudget.for_cap(cap)
        floor = budget.total_bytes - budget.engine_bytes - 2 * budget.pending_bytes
        assert floor >= PROCESS_FLOOR_MIB * MIB, cap  # the interpreter, libraries and chDB's code
        assert budget.pending_bytes <= budget.total_bytes // 8


def test_the_engine_works_after_its_start_up_pages_are_handed_back(chdb_store: Store) -> None:
    chdb_store.command("CREATE TABLE IF NOT EXISTS memory_bound_probe (n UInt64) ENGINE = MergeTree ORDER BY n")
    released = release_engine_code()
    assert released > 0  # chDB's code and constants, on Linux
    chdb_store.command("INSERT INTO memory_bound_probe SELECT number FROM numbers(1000)")
    assert chdb_store.query("SELECT sum(n) FROM memory_bound_probe").rows == [(499500,)]


def test_memory_an_insert_freed_is_handed_back_to_the_system() -> None:
    """The engine's allocator keeps what an insert freed; without handing it back the process
    stays far above what the engine counts as used, and above a small cap."""
    measured = run_script(
        """
        import json, sys, tempfile, time
        from pathlib import Path
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
        from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
        from kokanee.store.client import Store
        from kokanee.store.memory import MemoryBudget, resident_bytes
        from kokanee.store.migrations import migrate

        def request(r):
            req = ExportTraceServiceRequest()
            rs = req.resource_spans.add()
            rs.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value=f"s{r}")))
            spans, now = rs.scope_spans.add().spans, time.time_ns()
            for i in range(1000):
                span = spans.add(
                    trace_id=(r + 1).to_bytes(8, "big") + i.to_bytes(8, "big"), span_id=(i + 1).to_bytes(8, "big"),
                    name=f"op {i % 7}", start_time_unix_nano=now, end_time_unix_nano=now + i,
                )
                span.attributes.extend(
                    KeyValue(key=f"k{k}", value=AnyValue(string_value=f"value {i} {k}")) for k in range(12)
                )
            return req.SerializeToString()

        folder = Path(tempfile.mkdtemp())
        store = Store(f"chdb://{folder}/store", memory=MemoryBudget.for_cap(640))
        migrate(store)
        store.insert_otlp("traces", [request(r) for r in range(8)], "t1", folder / "spool")
        before = resident_bytes()
        store.release_freed_memory()
        after = resident_bytes()
        stored = store.query("SELECT count() FROM otel_traces").rows[0][0]
        print(json.dumps({"before": before, "after": after, "stored": stored}))
        """
    )
    assert measured["stored"] == 8000
    assert measured["after"] < measured["before"] - 16 * MIB  # measured: ~75 MiB for such an insert
