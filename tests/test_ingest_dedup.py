"""A request resent because its acknowledgement was lost is stored once: the WAL remembers the
digests of durable requests, across a kill -9 and after their segments are deleted."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from kokanee.pipeline.dedup import request_digest
from kokanee.pipeline.wal import FAILPOINT_ENV, WriteAheadLog
from tests.server import KokaneeServer
from tests.test_bad_input import request

PB = {"Content-Type": "application/x-protobuf"}


def spans_body(service: str, count: int) -> bytes:
    return request(service, [{"name": f"op-{i}"} for i in range(count)]).SerializeToString()


def post(server: KokaneeServer, body: bytes) -> httpx.Response:
    return httpx.post(f"{server.otlp_http_url}/v1/traces", content=body, headers=PB, timeout=30)


def stored(server: KokaneeServer, service: str) -> int:
    return int(server.query(f"SELECT count() AS n FROM otel_traces WHERE ServiceName = '{service}'")[0]["n"])


def wait_stored(server: KokaneeServer, service: str, n: int) -> None:
    server.wait_for(
        f"SELECT count() AS n FROM otel_traces WHERE ServiceName = '{service}'", lambda r: int(r[0]["n"]) >= n
    )


def test_a_request_resent_after_a_kill_between_durability_and_ack_is_stored_once(
    start_kokanee: Callable[..., KokaneeServer],
) -> None:
    server = start_kokanee("--capture", "off", env={FAILPOINT_ENV: "kill-after-wal-fsync"})
    service = f"resent-{uuid.uuid4().hex[:8]}"
    body = spans_body(service, 7)
    try:
        post(server, body)
        raise AssertionError("the failpoint should have killed the server before it answered")
    except httpx.HTTPError:
        pass  # the exporter sees the connection drop, so it will send the same bytes again
    assert server.proc is not None and server.proc.wait(30) == -9

    del server.env[FAILPOINT_ENV]
    server.start()
    assert post(server, body).status_code == 200  # the exporter's retry
    # A later request is stored after everything before it in the log: once it is there, a
    # second copy of the resent one would be too.
    sentinel = f"sentinel-{uuid.uuid4().hex[:8]}"
    assert post(server, spans_body(sentinel, 1)).status_code == 200
    wait_stored(server, sentinel, 1)
    assert stored(server, service) == 7


def test_the_same_bytes_sent_twice_are_stored_once_and_both_acknowledged(kokanee_server: KokaneeServer) -> None:
    service = f"twice-{uuid.uuid4().hex[:8]}"
    body = spans_body(service, 4)
    assert post(kokanee_server, body).status_code == 200
    assert post(kokanee_server, body).status_code == 200
    sentinel = f"sentinel-{uuid.uuid4().hex[:8]}"
    assert post(kokanee_server, spans_body(sentinel, 1)).status_code == 200
    wait_stored(kokanee_server, sentinel, 1)
    assert stored(kokanee_server, service) == 4
    other = spans_body(service, 4)  # same service, new ids: a different request, stored
    assert post(kokanee_server, other).status_code == 200
    wait_stored(kokanee_server, service, 8)


def test_digests_outlive_the_segments_that_held_their_requests(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path / "wal", segment_bytes=200)
    list(wal.recover())
    wal.start()
    bodies = [f"request {i}".encode() * 40 for i in range(6)]  # one segment each
    for body in bodies:
        wal.append("logs", body, digest=request_digest("logs", "protobuf", body)).result(timeout=10)
    wal.mark_stored(6)  # the store has them all: every segment but the open one goes
    wal.close()
    assert len(wal.segments()) == 1

    reopened = WriteAheadLog(tmp_path / "wal")
    assert list(reopened.recover()) == []
    for seq, body in enumerate(bodies, start=1):
        assert reopened.recent.get(request_digest("logs", "protobuf", body)) == seq
    assert reopened.recent.get(request_digest("logs", "protobuf", b"never sent")) is None
    assert reopened.recent.get(request_digest("traces", "protobuf", bodies[0])) is None  # other signal


def test_digests_older_than_the_horizon_are_forgotten(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path / "wal", dedup_horizon_s=60)
    list(wal.recover())
    wal.start()
    old = b"sent long ago"
    wal.append("logs", old, received_ns=time.time_ns() - 120 * 10**9, digest=request_digest("logs", "protobuf", old))
    wal.append("logs", b"just now", digest=request_digest("logs", "protobuf", b"just now")).result(timeout=10)
    wal.close()
    assert wal.recent.get(request_digest("logs", "protobuf", old)) is None
    assert wal.recent.get(request_digest("logs", "protobuf", b"just now")) == 2
