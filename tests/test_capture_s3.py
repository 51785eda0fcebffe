"""Raw capture into the real S3 API (moto_server on loopback): capture → session → replay into
a second kokanee gives the same data and the same service map; the object store going away
during ingest loses nothing."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from google.protobuf import json_format

from kokanee.capture import segment
from tests.server import KokaneeServer
from tests.test_capture_helpers import AWS_ENV, NS, MotoServer, log_request, metric_request, moto, trace_request

__all__ = ["moto"]  # the fixture

MINUTE = 60 * NS


def _post(server: KokaneeServer, path: str, body: Any = None, status: int = 200) -> Any:
    r = httpx.post(f"{server.api_url}{path}", json=body, timeout=60)
    assert r.status_code == status, r.text
    return r.json()


def _send(server: KokaneeServer, signal: str, message: Any, as_json: bool = False) -> None:
    if as_json:
        document = json_format.MessageToDict(message)
        for rl in document.get("resourceLogs", []):  # OTLP/JSON ids are hex, not base64
            for sl in rl["scopeLogs"]:
                for record in sl["logRecords"]:
                    record["traceId"] = __import__("base64").b64decode(record["traceId"]).hex()
        body, headers = json.dumps(document).encode(), {"Content-Type": "application/json"}
    else:
        body = gzip.compress(message.SerializeToString())
        headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
    r = httpx.post(f"{server.otlp_http_url}/v1/{signal}", content=body, headers=headers, timeout=30)
    assert r.status_code == 200, r.text


def _poll(what: str, check: Callable[[], Any], timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.3)


SPANS = """SELECT TraceId, SpanId, ParentSpanId, ServiceName, SpanName, SpanKind, Duration, StatusCode,
    toUnixTimestamp64Nano(Timestamp) AS t, arrayMap(x -> toUnixTimestamp64Nano(x), Events.Timestamp) AS et,
    Events.Name AS en FROM otel_traces WHERE ServiceName LIKE '%-{tag}%' ORDER BY TraceId, SpanId"""
LOGS = """SELECT TraceId, Body, SeverityText, ServiceName, toUnixTimestamp64Nano(Timestamp) AS t
    FROM otel_logs WHERE ServiceName = 'cart-{tag}' ORDER BY Body"""
GAUGES = """SELECT MetricName, Value, toUnixTimestamp64Nano(TimeUnix) AS t FROM otel_metrics_gauge
    WHERE ServiceName = 'cart-{tag}' ORDER BY t"""
SUMS = """SELECT MetricName, Value, toUnixTimestamp64Nano(TimeUnix) AS t, toUnixTimestamp64Nano(StartTimeUnix) AS st
    FROM otel_metrics_sum WHERE ServiceName = 'cart-{tag}' ORDER BY t"""
HISTOGRAMS = """SELECT MetricName, Count, Sum, BucketCounts, toUnixTimestamp64Nano(TimeUnix) AS t,
    toUnixTimestamp64Nano(StartTimeUnix) AS st, arrayMap(x -> toUnixTimestamp64Nano(x), Exemplars.TimeUnix) AS xt,
    Exemplars.Value AS xv FROM otel_metrics_histogram WHERE ServiceName = 'cart-{tag}' ORDER BY t"""


def _shifted(rows: list[dict[str, Any]], offset: int, *time_columns: str) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        row = dict(row)
        for column in time_columns:
            value = row[column]
            row[column] = [v + offset for v in value] if isinstance(value, list) else value + offset
        out.append(row)
    return out


def _map(server: KokaneeServer, start: int, end: int) -> tuple[set[tuple[str, str]], set[tuple[str, str, int]]]:
    topo = server.get("/api/v1/topology", start=start, end=end)
    nodes = {(n["name"], n["type"]) for n in topo["nodes"]}
    edges = {(e["source"], e["target"], int(e["red"]["requests"])) for e in topo["edges"]}
    return nodes, edges


def test_capture_session_and_replay_into_a_second_kokanee(
    moto: MotoServer, start_kokanee: Callable[..., KokaneeServer]
) -> None:
    moto.client().create_bucket(Bucket="capture-a")
    a = start_kokanee(
        "--capture", "s3://capture-a/raw", "--capture-endpoint", moto.endpoint, "--capture-segment-s", "1",
        "--servicegraph-wait-s", "1", env=AWS_ENV,
    )  # fmt: skip
    tag = "rp"
    # Event times ten minutes back, so both servers' service graphs close those minutes at once.
    base = (time.time_ns() // MINUTE - 10) * MINUTE + 5 * NS
    session = _post(a, "/api/v1/capture/sessions", {"name": "baseline", "labels": {"case": "replay"}}, 201)
    assert session["recording"] is True
    _send(a, "traces", trace_request(base, 10, tag))
    _send(a, "traces", trace_request(base + 20 * NS, 10, tag + "2"))
    _send(a, "logs", log_request(base, 6, tag), as_json=True)  # OTLP/JSON is captured as JSON
    _send(a, "metrics", metric_request(base, 5, tag))
    stopped = _post(a, f"/api/v1/capture/sessions/{session['id']}/stop")
    assert stopped["recording"] is False

    def captured() -> Any:
        body = a.get(f"/api/v1/capture/sessions/{session['id']}")
        return body if body["items"] == {"traces": 80, "logs": 6, "metrics": 15} else None

    detail = _poll("the session's segments in the index", captured)
    keys = moto.keys("capture-a", "raw/")
    assert {f"raw/{m['key']}" for m in detail["segment_list"]} <= keys
    assert {m["signal"] for m in detail["segment_list"]} == {"traces", "logs", "metrics"}
    assert {"frontend-rp", "cart-rp"} <= {s for m in detail["segment_list"] for s in m["services"]}

    b = start_kokanee("--capture", "off", "--servicegraph-wait-s", "1")
    target = (time.time_ns() // MINUTE - 4) * MINUTE + 30 * NS
    run = subprocess.run(
        [sys.executable, "-m", "kokanee", "replay", session["id"], "--to", b.otlp_http_url, "--api", a.api_url,
         "--speed", "10", "--rebase-time", str(target)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "done: 4 requests" in run.stderr

    latest = max(m["event_end"] for m in detail["segment_list"])
    offset = target - latest
    for sql, times, expected_rows in (
        (SPANS, ("t", "et"), 80),
        (LOGS, ("t",), 6),
        (GAUGES, ("t",), 5),
        (SUMS, ("t", "st"), 5),
        (HISTOGRAMS, ("t", "st", "xt"), 5),
    ):
        query = sql.format(tag=tag)
        original = a.wait_for(query, lambda rows, n=expected_rows: len(rows) == n, 60)
        replayed = b.wait_for(query, lambda rows, n=expected_rows: len(rows) == n, 60)
        assert replayed == _shifted(original, offset, *times), query

    # The same service map, over windows holding the original and the shifted times.
    _poll("the first server's map", lambda: _map(a, base - MINUTE, base + 2 * MINUTE)[1])
    window_b = (base + offset - MINUTE, base + offset + 2 * MINUTE)

    def same_map() -> bool:
        return _map(b, *window_b) == _map(a, base - MINUTE, base + 2 * MINUTE)

    _poll("the replayed service map", same_map)
    nodes, edges = _map(b, *window_b)
    assert {("frontend-rp", "cart-rp", 10), ("cart-rp", "postgresql", 10)} <= edges
    assert ("postgresql", "database") in nodes


def _segments_everywhere(moto: MotoServer, bucket: str, snapshot: dict[str, bytes]) -> dict[str, bytes]:
    client = moto.client()
    found = dict(snapshot)
    for key in moto.keys(bucket):
        found[key] = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return found


def test_the_object_store_going_away_loses_nothing(
    moto: MotoServer, start_kokanee: Callable[..., KokaneeServer], tmp_path: Any
) -> None:
    bucket = "capture-b"
    moto.client().create_bucket(Bucket=bucket)
    args = ("--capture", f"s3://{bucket}/raw", "--capture-endpoint", moto.endpoint, "--capture-segment-s", "1")
    data_dir = tmp_path / "kokanee-b"
    server = start_kokanee(*args, data_dir=data_dir, env=AWS_ENV)
    base = time.time_ns() - 30 * MINUTE
    sent: list[bytes] = []

    def send(i: int) -> None:
        message = trace_request(base + i * NS, 2, f"o{i}")
        _send(server, "traces", message)
        sent.append(message.SerializeToString())

    def status(s: KokaneeServer) -> dict[str, Any]:
        return s.get("/api/v1/capture/status")  # type: ignore[no-any-return]

    def drained(s: KokaneeServer) -> bool:
        st = status(s)
        return st["object_store_ok"] and st["outbox_segments"] == 0 and not st["open_segments"]

    for i in range(5):
        send(i)
    _poll("the first segments uploaded", lambda: drained(server) and moto.keys(bucket))
    # moto keeps objects in memory: what it held before it dies is remembered here.
    snapshot = _segments_everywhere(moto, bucket, {})

    moto.stop()
    for i in range(5, 15):  # ingest goes on, acknowledged, while the store is gone
        send(i)
    _poll("uploads to fail", lambda: not status(server)["object_store_ok"] and status(server)["outbox_segments"])
    server.kill9()  # and kokanee dies too: the outbox and the WAL must carry everything
    server = start_kokanee(*args, data_dir=data_dir, env=AWS_ENV)
    for i in range(15, 20):
        send(i)

    moto.start()  # back, empty: the bucket is made again
    moto.client().create_bucket(Bucket=bucket)
    _poll("the outbox to drain", lambda: drained(server))
    stored = _segments_everywhere(moto, bucket, snapshot)

    payloads: list[bytes] = []
    seqs: list[int] = []
    for data in stored.values():
        signal, records = segment.decode(data)
        assert signal == "traces"
        payloads += [r.payload for r in records]
        seqs += [r.seq for r in records]
    assert sorted(payloads) == sorted(sent)  # each acknowledged request exactly once
    assert len(seqs) == len(set(seqs)) == 20
    listed = server.get("/api/v1/capture/segments", start="now-2h")
    assert {f"raw/{m['key']}" for m in listed["segments"]} == set(stored)
    assert listed["items"] == 20 * 2 * 4
