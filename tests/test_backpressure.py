"""Back-pressure, in process with the real pipeline, WAL and embedded store:
a full pipeline answers 429, a store that refuses writes 503, both with Retry-After, and
everything acknowledged is written once the store takes writes again; a request the store
refuses outright is set aside, not retried forever."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from starlette.testclient import TestClient

from kokanee.ingest.http import otlp_http_app
from kokanee.ingest.receiver import Decoder
from kokanee.pipeline.pipeline import Pipeline
from kokanee.pipeline.wal import WriteAheadLog
from kokanee.store.client import Store
from kokanee.store.otlp_native import NATIVE_SIGNALS

PB = {"Content-Type": "application/x-protobuf"}


def logs_body(service: str, n: int = 20) -> bytes:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value=service)))
    sl = rl.scope_logs.add()
    for i in range(n):
        sl.log_records.add(time_unix_nano=time.time_ns(), severity_number=9, body=AnyValue(string_value=f"line {i}"))
    return req.SerializeToString()


def count(store: Store, service: str) -> int:
    return int(store.query(f"SELECT count() FROM otel_logs WHERE ServiceName = '{service}'").rows[0][0])


def wait_until(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail("condition never held")
        time.sleep(0.05)


@pytest.fixture
def pipeline_app(
    chdb_store: Store, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Pipeline, TestClient]]:
    max_pending, flush_s = request.param
    decoder = Decoder(NATIVE_SIGNALS)
    pipeline = Pipeline(WriteAheadLog(tmp_path / "wal"), chdb_store, decoder.replay, max_pending, flush_s, 50_000)
    pipeline.start()
    with TestClient(otlp_http_app(pipeline, decoder, 1 << 20)) as client:
        yield pipeline, client
    pipeline.stop(30)


@pytest.mark.parametrize("pipeline_app", [(1_000, 1.5)], indirect=True)
def test_a_full_pipeline_answers_429_until_it_has_written(
    pipeline_app: tuple[Pipeline, TestClient], chdb_store: Store
) -> None:
    pipeline, client = pipeline_app
    service = f"full-{uuid.uuid4().hex[:8]}"
    assert client.post("/v1/logs", content=logs_body(service), headers=PB).status_code == 200
    refused = client.post("/v1/logs", content=logs_body(service), headers=PB)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    wait_until(lambda: pipeline.pending_bytes == 0)
    assert client.post("/v1/logs", content=logs_body(service), headers=PB).status_code == 200
    wait_until(lambda: count(chdb_store, service) == 40)


@pytest.mark.parametrize("pipeline_app", [(64 << 20, 0.05)], indirect=True)
def test_a_store_refusing_writes_gets_503_and_loses_nothing(
    pipeline_app: tuple[Pipeline, TestClient], chdb_store: Store
) -> None:
    pipeline, client = pipeline_app
    service = f"down-{uuid.uuid4().hex[:8]}"
    chdb_store.command("TRUNCATE TABLE otel_logs")
    assert client.post("/v1/logs", content=logs_body(service), headers=PB).status_code == 200
    wait_until(lambda: count(chdb_store, service) == 20)
    # One part exists; with this setting every further insert fails with TOO_MANY_PARTS, the way a
    # struggling ClickHouse refuses writes.
    chdb_store.command("ALTER TABLE otel_logs MODIFY SETTING parts_to_throw_insert = 1")
    try:
        assert client.post("/v1/logs", content=logs_body(service), headers=PB).status_code == 200
        wait_until(lambda: not pipeline.store_ok)
        refused = client.post("/v1/logs", content=logs_body(service), headers=PB)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "5"
        assert "not accepting writes" in refused.text
    finally:
        chdb_store.command("ALTER TABLE otel_logs MODIFY SETTING parts_to_throw_insert = 3000")
    wait_until(lambda: pipeline.store_ok and count(chdb_store, service) == 40)
    assert client.post("/v1/logs", content=logs_body(service), headers=PB).status_code == 200
    wait_until(lambda: count(chdb_store, service) == 60)


@pytest.mark.parametrize("pipeline_app", [(64 << 20, 0.5)], indirect=True)
def test_a_request_the_store_refuses_is_set_aside_and_the_rest_written(
    pipeline_app: tuple[Pipeline, TestClient], chdb_store: Store, tmp_path: Path
) -> None:
    pipeline, client = pipeline_app
    good, poison = f"good-{uuid.uuid4().hex[:8]}", f"poison-{uuid.uuid4().hex[:8]}"
    chdb_store.command(f"ALTER TABLE otel_logs ADD CONSTRAINT no_poison CHECK ServiceName != '{poison}'")
    try:
        for service in (good, poison, good):  # one insert batch; the store refuses the whole of it
            assert client.post("/v1/logs", content=logs_body(service), headers=PB).status_code == 200
        wait_until(lambda: count(chdb_store, good) == 40)
    finally:
        chdb_store.command("ALTER TABLE otel_logs DROP CONSTRAINT no_poison")
    assert count(chdb_store, poison) == 0
    kept = sorted((tmp_path / "quarantine").glob("*-logs.*"))
    assert [p.suffix for p in kept] == [".pb", ".txt"]
    assert "no_poison" in kept[1].read_text()
    assert poison.encode() in kept[0].read_bytes()  # the request as received, ready to replay
    assert pipeline.store_ok
