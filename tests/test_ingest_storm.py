"""A client that keeps sending bodies the store refuses as sent (a oneof set twice) costs one refused
insert, not one per batch: once the store has refused a signal's batch as sent, the next batches of
that signal are re-encoded before their first insert, until one needs no re-encoding."""

from __future__ import annotations

import uuid
from itertools import pairwise
from pathlib import Path

from prometheus_client import REGISTRY
from starlette.testclient import TestClient

from kokanee.ingest.http import otlp_http_app
from kokanee.ingest.receiver import Decoder
from kokanee.pipeline.pipeline import Pipeline
from kokanee.pipeline.wal import WriteAheadLog
from kokanee.store.client import Store
from kokanee.store.otlp_native import NATIVE_SIGNALS
from tests.test_backpressure import PB, wait_until
from tests.test_ingest_canonical import ONEOF_TWICE, trace_body


def _refused() -> float:
    return REGISTRY.get_sample_value("kokanee_store_insert_failures_total", {"reason": "rejected"}) or 0.0


def _stored(store: Store, service: str) -> int:
    sql = "SELECT count() FROM otel_traces WHERE ServiceName = {s:String}"
    return int(store.query(sql, parameters={"s": service}).rows[0][0])


def test_a_storm_of_refused_bodies_costs_one_refused_insert(chdb_store: Store, tmp_path: Path) -> None:
    decoder = Decoder(NATIVE_SIGNALS)
    pipeline = Pipeline(WriteAheadLog(tmp_path / "wal"), chdb_store, decoder.replay, 64 << 20, 0.05, 1_000_000)
    pipeline.start()
    refused: list[float] = []
    try:
        with TestClient(otlp_http_app(pipeline, decoder, 1 << 20)) as client:

            def send(tail: bytes) -> None:
                """One request in a batch of its own, stored before the next is sent."""
                service = f"storm-{uuid.uuid4().hex[:8]}"
                assert client.post("/v1/traces", content=trace_body(service, tail), headers=PB).status_code == 200
                wait_until(lambda: _stored(chdb_store, service) == 1)
                refused.append(_refused())

            refused.append(_refused())
            send(ONEOF_TWICE)  # refused as sent, re-encoded, stored
            send(ONEOF_TWICE)  # re-encoded first: no refusal
            send(ONEOF_TWICE)
            send(b"")  # canonical already: back to inserting as sent
            send(ONEOF_TWICE)  # refused as sent once more
    finally:
        pipeline.stop(30)
    assert [b - a for a, b in pairwise(refused)] == [1, 0, 0, 0, 1]
    assert not (tmp_path / "quarantine").exists()
