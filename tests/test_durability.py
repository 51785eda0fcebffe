"""Acknowledged means durable: kill -9 loses nothing acknowledged, and replay never doubles it."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kokanee.ingest.decode import canonical
from kokanee.ingest.receiver import Decoder
from kokanee.pipeline.pipeline import Pipeline
from kokanee.pipeline.wal import WriteAheadLog
from kokanee.store.client import Store
from kokanee.store.otlp_native import NATIVE_SIGNALS
from tests.server import KokaneeServer
from tests.test_ingest_canonical import ONEOF_TWICE, trace_body


def make_spans(service: str, count: int) -> list[ReadableSpan]:
    """Real SDK spans, recorded in memory so the test decides when and where they are exported."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("durability")
    for i in range(count):
        with tracer.start_as_current_span(f"op-{i % 7}") as span:
            span.set_attribute("i", i)
    provider.shutdown()
    return list(memory.get_finished_spans())


def span_ids(server: KokaneeServer, service: str) -> list[str]:
    return [r["SpanId"] for r in server.query(f"SELECT SpanId FROM otel_traces WHERE ServiceName = '{service}'")]


def test_kill_9_while_exporting_loses_no_acknowledged_span(start_kokanee: Callable[..., KokaneeServer]) -> None:
    # A long flush interval keeps acknowledged data in the WAL only when the kill lands.
    server = start_kokanee("--flush-interval-s", "3")
    service = f"kill9-{uuid.uuid4().hex[:8]}"
    spans = make_spans(service, 3000)
    batches = [spans[i : i + 100] for i in range(0, len(spans), 100)]
    exporter = OTLPSpanExporter(endpoint=f"{server.otlp_http_url}/v1/traces", timeout=5)
    acknowledged: list[ReadableSpan] = []
    refused = 0
    done = threading.Event()

    def send() -> None:
        nonlocal refused
        for batch in batches:
            if exporter.export(batch) == SpanExportResult.SUCCESS:
                acknowledged.extend(batch)
            else:
                refused += 1
            time.sleep(0.02)
        done.set()

    sender = threading.Thread(target=send)
    sender.start()
    while len(acknowledged) < 1000:
        time.sleep(0.01)
    server.kill9()  # mid-stream: some batches acknowledged, some in flight, some not yet sent
    time.sleep(1)
    server.start()
    sender.join(120)
    assert done.is_set()
    exporter.shutdown()

    expected = {format(s.context.span_id, "016x") for s in acknowledged}
    assert len(expected) >= 1000
    server.wait_for(
        f"SELECT count() AS n FROM otel_traces WHERE ServiceName = '{service}'",
        lambda r: int(r[0]["n"]) >= len(expected),
    )
    stored = span_ids(server, service)
    assert expected <= set(stored), f"{len(expected - set(stored))} acknowledged spans are missing"
    assert len(stored) == len(set(stored)), "a span was stored twice"


def test_replaying_records_already_in_the_store_does_not_double_them(
    start_kokanee: Callable[..., KokaneeServer],
) -> None:
    """A crash between the insert and the checkpoint: the restart re-inserts the same batch,
    and the store drops it by its deduplication token."""
    # The replay batches every record after the checkpoint together; a flush interval longer
    # than the sends makes the first run batch them the same way (same records, same token).
    server = start_kokanee("--flush-interval-s", "5")
    service = f"replay-{uuid.uuid4().hex[:8]}"
    exporter = OTLPSpanExporter(endpoint=f"{server.otlp_http_url}/v1/traces", timeout=10)
    spans = make_spans(service, 500)
    for i in range(0, 500, 50):
        assert exporter.export(spans[i : i + 50]) == SpanExportResult.SUCCESS
    exporter.shutdown()
    server.wait_for(
        f"SELECT count() AS n FROM otel_traces WHERE ServiceName = '{service}'", lambda r: int(r[0]["n"]) == 500
    )
    server.stop()
    checkpoint = server.data_dir / "wal" / "checkpoint.json"
    stored_to = json.loads(checkpoint.read_text())["stored"]
    assert stored_to > 0
    checkpoint.write_text(json.dumps({"stored": 0, "batch": None}))  # as if the checkpoint never moved

    server.start()
    assert "replaying" in server.log()
    deadline = time.monotonic() + 60
    while json.loads(checkpoint.read_text())["stored"] < stored_to:  # the replay has gone through the store
        if time.monotonic() > deadline:
            pytest.fail("the replay never finished")
        time.sleep(0.1)
    assert len(span_ids(server, service)) == 500


def test_a_batch_cut_short_by_a_crash_is_replayed_exactly(chdb_store: Store, tmp_path: Path) -> None:
    """The crash came after the store took records 1-3 but before the checkpoint said so. The
    replay must rebuild exactly that batch (same token), not fold in records 4-5, or 1-3 double."""
    service = f"cut-{uuid.uuid4().hex[:8]}"
    bodies = [logs_request(service, i) for i in range(5)]
    wal = _wal_holding(tmp_path / "wal", "logs", bodies)
    wal.begin_batch(1, 3)
    chdb_store.insert_otlp("logs", bodies[:3], f"{wal.epoch}-1-3", tmp_path / "spool")

    decoder = Decoder(NATIVE_SIGNALS)
    pipeline = Pipeline(WriteAheadLog(tmp_path / "wal"), chdb_store, decoder.replay, 1 << 26, 0.05)
    assert pipeline.start() == 5
    _replay_until_stored(pipeline, 5)
    rows = chdb_store.query(f"SELECT Body FROM otel_logs WHERE ServiceName = '{service}' ORDER BY Body").rows
    assert [r[0] for r in rows] == [f"record {i}" for i in range(5)]


def test_two_inserters_cut_short_by_a_crash_store_each_record_once(chdb_store: Store, tmp_path: Path) -> None:
    """Two inserters were writing records 1-3 and 4-5 side by side; the store took 4-5 (the later
    batch) and the crash came before 1-3 was stored. Both batches are rebuilt exactly and the
    store drops the one it has."""
    service = f"two-{uuid.uuid4().hex[:8]}"
    bodies = [logs_request(service, i) for i in range(7)]
    wal = _wal_holding(tmp_path / "wal", "logs", bodies)
    wal.begin_batch(1, 3)
    wal.begin_batch(4, 5)
    chdb_store.insert_otlp("logs", bodies[3:5], f"{wal.epoch}-4-5", tmp_path / "spool")
    wal.finish_batch(4, 5)

    decoder = Decoder(NATIVE_SIGNALS)
    pipeline = Pipeline(WriteAheadLog(tmp_path / "wal"), chdb_store, decoder.replay, 1 << 26, 0.05, insert_streams=2)
    assert pipeline.start() == 7
    _replay_until_stored(pipeline, 7)
    rows = chdb_store.query(f"SELECT Body FROM otel_logs WHERE ServiceName = '{service}' ORDER BY Body").rows
    assert [r[0] for r in rows] == [f"record {i}" for i in range(7)]


def logs_request(service: str, i: int) -> bytes:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value=service)))
    rl.scope_logs.add().log_records.add(time_unix_nano=time.time_ns(), body=AnyValue(string_value=f"record {i}"))
    return req.SerializeToString()


def test_a_batch_stored_re_encoded_before_a_crash_is_stored_once(chdb_store: Store, tmp_path: Path) -> None:
    """The store refused a batch as sent and took it re-encoded; the crash came before the
    checkpoint said so. The replay tries it as sent, is refused, re-encodes it: the store must drop
    that insert as one it has (both encodings carry the batch's token), not store the span twice."""
    service = f"reenc-{uuid.uuid4().hex[:8]}"
    body = trace_body(service, ONEOF_TWICE)
    wal = _wal_holding(tmp_path / "wal", "traces", [body])
    wal.begin_batch(1, 1)
    chdb_store.insert_otlp("traces", [canonical("traces", body)], f"{wal.epoch}-1-1", tmp_path / "spool")

    pipeline = Pipeline(WriteAheadLog(tmp_path / "wal"), chdb_store, Decoder(NATIVE_SIGNALS).replay, 1 << 26, 0.05)
    assert pipeline.start() == 1
    _replay_until_stored(pipeline, 1)
    rows = chdb_store.query(f"SELECT count() FROM otel_traces WHERE ServiceName = '{service}'").rows
    assert rows[0][0] == 1


def _replay_until_stored(pipeline: Pipeline, records: int) -> None:
    """Waits (a bound on waiting, not a figure) until the replay has stored `records`, then stops."""
    try:
        deadline = time.monotonic() + 60
        while pipeline.wal.checkpoint.stored < records:
            if time.monotonic() > deadline:
                pytest.fail("the replay never finished")
            time.sleep(0.05)
    finally:
        pipeline.stop()


def _wal_holding(path: Path, signal: str, bodies: list[bytes]) -> WriteAheadLog:
    """A closed write-ahead log holding `bodies` as records 1..n, as a crash would leave it."""
    wal = WriteAheadLog(path)
    list(wal.recover())
    wal.start()
    for body in bodies:
        wal.append(signal, body).result(timeout=10)
    wal.close()
    return wal
