"""Replay on its own: every timestamp moves by one offset, timing and back-pressure are
honoured, and a stop request ends it cleanly. The receiver is a real HTTP server on
loopback that records what it gets (a stand-in for any OTLP/HTTP endpoint)."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from kokanee.capture import segment
from kokanee.capture.replay import ReplayError, ReplayOptions, check_options, replay
from kokanee.capture.segment import SegmentMeta
from kokanee.importers.rebase import shift
from kokanee.importers.types import Batch
from kokanee.pipeline.wal import WalRecord
from tests.test_capture_helpers import NS, log_request, metric_request, trace_request

BASE = 1_700_000_000 * NS
OFFSET = 123_456_789_012


def _all_kinds_of_points() -> ExportMetricsServiceRequest:
    request = metric_request(BASE, 2, "ts")
    metrics = request.resource_metrics[0].scope_metrics[0].metrics
    exp = metrics.add(name="exp").exponential_histogram.data_points.add(
        start_time_unix_nano=BASE - 5, time_unix_nano=BASE + 5, count=1
    )
    exp.exemplars.add(time_unix_nano=BASE + 3, as_int=1)
    metrics.add(name="summary").summary.data_points.add(start_time_unix_nano=BASE - 6, time_unix_nano=BASE + 6)
    return request


def _times(message: Any) -> list[int]:
    """Every *time_unix_nano field in a message tree, in order."""
    found: list[int] = []
    for descriptor, value in message.ListFields():
        if descriptor.name.endswith("time_unix_nano"):
            found.append(value)
        elif descriptor.type == descriptor.TYPE_MESSAGE:
            for item in [value] if hasattr(value, "ListFields") else value:
                if hasattr(item, "ListFields"):
                    found += _times(item)
    return found


@pytest.mark.parametrize(
    ("signal", "request_"),
    [
        ("traces", trace_request(BASE, 2, "ts")),
        ("logs", log_request(BASE, 3, "ts")),
        ("metrics", _all_kinds_of_points()),
    ],
)
def test_every_timestamp_moves_by_the_one_offset(signal: str, request_: Any) -> None:
    before = _times(request_)
    copy = type(request_).FromString(request_.SerializeToString())
    shift(Batch(signal, copy, 1), OFFSET)  # type: ignore[arg-type]
    assert _times(copy) == [t + OFFSET for t in before]
    assert len(before) == {"traces": 18, "logs": 6, "metrics": 17}[signal]  # span events, exemplars included
    copy.ClearField(copy.DESCRIPTOR.fields[0].name)
    original = type(request_).FromString(request_.SerializeToString())
    original.ClearField(original.DESCRIPTOR.fields[0].name)
    assert copy == original


def test_unset_times_stay_unset() -> None:
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.add(name="no times", end_time_unix_nano=BASE)
    shift(Batch("traces", request, 1), OFFSET)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    assert (span.start_time_unix_nano, span.end_time_unix_nano) == (0, BASE + OFFSET)


class _Receiver(BaseHTTPRequestHandler):
    got: list[tuple[float, str, bytes]]
    throttle: list[int]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.throttle:
            self.throttle.pop()
            self.send_response(429)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.got.append((time.monotonic(), self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Handler", (_Receiver,), {"got": [], "throttle": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()


def _segments(spacing_s: float) -> tuple[list[SegmentMeta], dict[str, bytes]]:
    """Two trace requests and one log request, arriving `spacing_s` apart."""
    gap = int(spacing_s * NS)
    bodies = [trace_request(BASE + i * NS, 1, f"r{i}").SerializeToString() for i in range(2)]
    traces = [WalRecord(i + 1, "traces", body, BASE + i * 2 * gap) for i, body in enumerate(bodies)]
    logs = [WalRecord(3, "logs", log_request(BASE, 1, "r").SerializeToString(), BASE + gap)]
    blobs = {"t": segment.encode("traces", traces), "l": segment.encode("logs", logs)}
    metas = [
        SegmentMeta("t", "traces", 1, 2, BASE, BASE + 2 * gap, BASE, BASE + NS + 40_000_000, requests=2, items=8),
        SegmentMeta("l", "logs", 3, 3, BASE + gap, BASE + gap, BASE + 7, BASE + 7, requests=1, items=1),
    ]
    return metas, blobs


def test_replay_keeps_arrival_order_and_scaled_gaps(receiver: tuple[str, type[_Receiver]]) -> None:
    url, handler = receiver
    metas, blobs = _segments(spacing_s=2.0)
    result = replay(metas, lambda m: blobs[m.key], ReplayOptions(url, speed=4.0, rebase_time=str(BASE + 100 * NS)))
    assert result.state == "done", result.error
    assert [path for _, path, _ in handler.got] == ["/v1/traces", "/v1/logs", "/v1/traces"]
    assert result.sent_items == {"traces": 8, "logs": 1, "metrics": 0}
    # Arrivals 2 s apart, at speed 4: sent at least 0.5 s apart (a lower bound: slowness only adds).
    times = [t for t, _, _ in handler.got]
    assert times[1] - times[0] >= 0.45 and times[2] - times[1] >= 0.45
    assert result.offset_ns == BASE + 100 * NS - (BASE + NS + 40_000_000)
    sent = ExportTraceServiceRequest.FromString(handler.got[2][2])
    assert sent.resource_spans[0].scope_spans[0].spans[0].start_time_unix_nano == BASE + NS + result.offset_ns


def test_replay_waits_out_429_with_retry_after(receiver: tuple[str, type[_Receiver]]) -> None:
    url, handler = receiver
    handler.throttle.extend([1, 1])  # the first two attempts are told to come back in a second
    metas, blobs = _segments(spacing_s=0.0)
    result = replay(metas, lambda m: blobs[m.key], ReplayOptions(url, speed=0))
    assert result.state == "done", result.error
    assert result.retries == 2
    assert sorted(path for _, path, _ in handler.got) == ["/v1/logs", "/v1/traces", "/v1/traces"]
    assert result.sent_items == {"traces": 8, "logs": 1, "metrics": 0}


def test_replay_filters_signals_and_stops_when_asked(receiver: tuple[str, type[_Receiver]]) -> None:
    url, handler = receiver
    metas, blobs = _segments(spacing_s=30.0)
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    result = replay(metas, lambda m: blobs[m.key], ReplayOptions(url, speed=1.0, signals=("traces",)), stop)
    assert result.state == "stopped"
    assert [path for _, path, _ in handler.got] == ["/v1/traces"]  # the second is a minute away
    assert result.offset_ns == 0


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (ReplayOptions("http://x", signals=("spans",)), "signals must be"),
        (ReplayOptions("http://x", speed=-1), "speed"),
        (ReplayOptions("localhost:4318"), "http"),
        (ReplayOptions("http://x", rebase_time="yesterday"), "rebase-time"),
    ],
)
def test_bad_replay_options_are_named(options: ReplayOptions, problem: str) -> None:
    with pytest.raises(ReplayError, match=problem):
        check_options(options)
