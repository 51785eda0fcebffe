"""One record the store refuses costs that record, not the pipeline: the batch is halved until the
refused request stands alone (set aside in quarantine), and the rest are stored without one
insert per request."""

from __future__ import annotations

import math
import uuid
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from starlette.testclient import TestClient

from kokanee.ingest.http import otlp_http_app
from kokanee.ingest.receiver import Decoder
from kokanee.pipeline.pipeline import Pipeline
from kokanee.pipeline.wal import WriteAheadLog
from kokanee.store.client import Store
from kokanee.store.otlp_native import NATIVE_SIGNALS
from tests.test_backpressure import PB, count, logs_body, wait_until


def _inserts() -> float:
    return REGISTRY.get_sample_value("kokanee_store_insert_seconds_count", {"table": "logs"}) or 0.0


def test_a_refused_record_in_a_big_batch_is_isolated_in_a_few_inserts(chdb_store: Store, tmp_path: Path) -> None:
    good, poison = f"good-{uuid.uuid4().hex[:8]}", f"poison-{uuid.uuid4().hex[:8]}"
    requests = 48
    decoder = Decoder(NATIVE_SIGNALS)
    # A long flush interval gathers every request into one batch, which the store refuses whole.
    pipeline = Pipeline(WriteAheadLog(tmp_path / "wal"), chdb_store, decoder.replay, 64 << 20, 5.0, 1_000_000)
    pipeline.start()
    chdb_store.command(f"ALTER TABLE otel_logs ADD CONSTRAINT no_poison CHECK ServiceName != '{poison}'")
    inserts_before = _inserts()
    try:
        with TestClient(otlp_http_app(pipeline, decoder, 1 << 20)) as client:
            for i in range(requests):
                service = poison if i == requests // 3 else good
                assert client.post("/v1/logs", content=logs_body(service, 5), headers=PB).status_code == 200
            wait_until(lambda: count(chdb_store, good) == 5 * (requests - 1))
            # A request sent after the bad one is stored like any other.
            late = f"late-{uuid.uuid4().hex[:8]}"
            assert client.post("/v1/logs", content=logs_body(late, 5), headers=PB).status_code == 200
            wait_until(lambda: count(chdb_store, late) == 5)
    finally:
        chdb_store.command("ALTER TABLE otel_logs DROP CONSTRAINT no_poison")
        pipeline.stop(30)
    assert count(chdb_store, poison) == 0
    kept = sorted((tmp_path / "quarantine").glob("*.pb"))
    assert len(kept) == 1 and poison.encode() in kept[0].read_bytes()
    # Halving: one successful insert per level (plus the late request), not one per request.
    assert _inserts() - inserts_before <= math.ceil(math.log2(requests)) + 2
    assert pipeline.store_ok


@pytest.mark.parametrize("position", ["first", "last"])
def test_the_refused_record_may_sit_at_either_end_of_its_batch(
    chdb_store: Store, tmp_path: Path, position: str
) -> None:
    good, poison = f"good-{uuid.uuid4().hex[:8]}", f"poison-{uuid.uuid4().hex[:8]}"
    decoder = Decoder(NATIVE_SIGNALS)
    pipeline = Pipeline(WriteAheadLog(tmp_path / "wal"), chdb_store, decoder.replay, 64 << 20, 2.0, 1_000_000)
    pipeline.start()
    services = [good] * 5
    services.insert(0 if position == "first" else 5, poison)
    chdb_store.command(f"ALTER TABLE otel_logs ADD CONSTRAINT no_poison CHECK ServiceName != '{poison}'")
    try:
        with TestClient(otlp_http_app(pipeline, decoder, 1 << 20)) as client:
            for service in services:
                assert client.post("/v1/logs", content=logs_body(service, 3), headers=PB).status_code == 200
            wait_until(lambda: count(chdb_store, good) == 15 and len(list((tmp_path / "quarantine").glob("*.pb"))) == 1)
    finally:
        chdb_store.command("ALTER TABLE otel_logs DROP CONSTRAINT no_poison")
        pipeline.stop(30)
    assert count(chdb_store, poison) == 0
