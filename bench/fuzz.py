"""Hostile-input benchmark: mutated OTLP bodies against a fresh `kokanee serve --capture off`.

Bodies are valid traces, logs and metrics requests (protobuf and JSON) mutated by bit flips,
byte overwrites, truncations, splices, random bytes, protobuf-aware edits (a field repeated, a
wire type changed, a oneof set twice, a value replaced, nesting deepened), gzip and deflate
(intact and broken) and wrong content types; sent over OTLP/HTTP and OTLP/gRPC. After the storm
a valid request is sent and timed until it is queryable. Prints status counts, 5xx, crashes,
quarantined records and the items acknowledged but not stored (goal 0 / 0 / 0 / 0, delay < 2 s).

    .venv/bin/python bench/fuzz.py [--count 1000000] [--seed 1] [--senders 4] [--seconds 0]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import http.client
import json
import multiprocessing
import os
import random
import re
import sys
import tempfile
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import grpc
import httpx
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.server import KokaneeServer  # noqa: E402

SIGNALS = ("traces", "logs", "metrics")
NOW = time.time_ns()
_GRPC_METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
}


# -- valid requests ---------------------------------------------------------------------------


def _value(rnd: random.Random, depth: int = 0) -> AnyValue:
    kind = rnd.randrange(7 if depth < 2 else 5)
    if kind == 0:
        return AnyValue(string_value=rnd.choice(["GET", "/cart", "ok", "日本", ""]))
    if kind == 1:
        return AnyValue(int_value=rnd.randrange(-(2**40), 2**40))
    if kind == 2:
        return AnyValue(double_value=rnd.random() * 1e6)
    if kind == 3:
        return AnyValue(bool_value=rnd.random() < 0.5)
    if kind == 4:
        return AnyValue(bytes_value=rnd.randbytes(rnd.randrange(6)))
    if kind == 5:
        value = AnyValue()
        value.array_value.values.extend(_value(rnd, depth + 1) for _ in range(rnd.randrange(4)))
        return value
    value = AnyValue()
    value.kvlist_value.values.extend(_attrs(rnd, rnd.randrange(3), depth + 1))
    return value


def _attrs(rnd: random.Random, count: int, depth: int = 0) -> list[KeyValue]:
    return [KeyValue(key=f"attr.{rnd.randrange(20)}", value=_value(rnd, depth)) for _ in range(count)]


def _resource(rnd: random.Random, resource: Any, service: str) -> None:
    resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value=service)))
    resource.attributes.extend(_attrs(rnd, rnd.randrange(3)))


def traces(rnd: random.Random, service: str, spans: int) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    _resource(rnd, rs.resource, service)
    ss = rs.scope_spans.add()
    ss.scope.name, ss.scope.version = "fuzz", "1.0"
    trace_id = rnd.randbytes(16)
    for i in range(spans):
        start = NOW - rnd.randrange(10**9)
        span = ss.spans.add(trace_id=trace_id, span_id=rnd.randbytes(8), name=f"op-{i % 5}", kind=rnd.randrange(6))
        span.start_time_unix_nano, span.end_time_unix_nano = start, start + rnd.randrange(10**8)
        if i:
            span.parent_span_id = rnd.randbytes(8)
        span.attributes.extend(_attrs(rnd, rnd.randrange(5)))
        span.status.code = rnd.randrange(3)
        if rnd.random() < 0.3:
            event = span.events.add(time_unix_nano=start + 10, name="event")
            event.attributes.extend(_attrs(rnd, 2))
        if rnd.random() < 0.2:
            span.links.add(trace_id=rnd.randbytes(16), span_id=rnd.randbytes(8)).attributes.extend(_attrs(rnd, 1))
    return req


def logs(rnd: random.Random, service: str, records: int) -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    _resource(rnd, rl.resource, service)
    sl = rl.scope_logs.add()
    sl.scope.name = "fuzz"
    for _ in range(records):
        record = sl.log_records.add(time_unix_nano=NOW - rnd.randrange(10**9), severity_number=rnd.randrange(25))
        record.severity_text = "INFO"
        record.body.CopyFrom(_value(rnd))
        record.attributes.extend(_attrs(rnd, rnd.randrange(4)))
        if rnd.random() < 0.5:
            record.trace_id, record.span_id = rnd.randbytes(16), rnd.randbytes(8)
    return req


def metrics(rnd: random.Random, service: str, points: int) -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    _resource(rnd, rm.resource, service)
    sm = rm.scope_metrics.add()
    sm.scope.name = "fuzz"
    for i in range(points):
        metric = sm.metrics.add(name=f"m.{i % 4}", unit="1")
        kind = rnd.randrange(5)
        t = NOW - rnd.randrange(10**9)
        if kind == 0:
            metric.gauge.data_points.add(time_unix_nano=t, as_double=rnd.random()).attributes.extend(_attrs(rnd, 2))
        elif kind == 1:
            metric.sum.aggregation_temporality, metric.sum.is_monotonic = 2, True
            metric.sum.data_points.add(time_unix_nano=t, start_time_unix_nano=t - 10, as_int=rnd.randrange(100))
        elif kind == 2:
            metric.histogram.aggregation_temporality = 2
            point = metric.histogram.data_points.add(time_unix_nano=t, count=3, sum=1.5)
            point.bucket_counts.extend([1, 2, 0])
            point.explicit_bounds.extend([0.1, 1.0])
        elif kind == 3:
            point = metric.exponential_histogram.data_points.add(time_unix_nano=t, count=2, scale=3, zero_count=0)
            point.positive.bucket_counts.extend([1, 1])
        else:
            point = metric.summary.data_points.add(time_unix_nano=t, count=2, sum=3.0)
            point.quantile_values.add(quantile=0.5, value=1.0)
    return req


_BUILDERS: dict[str, Callable[[random.Random, str, int], Any]] = {"traces": traces, "logs": logs, "metrics": metrics}


def otlp_json(message: Any) -> bytes:
    """OTLP/JSON as exporters write it: hex ids instead of proto3-JSON base64."""
    document = json_format.MessageToDict(message)
    _hexify(document)
    return json.dumps(document).encode()


def _hexify(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                _hexify(value)
    elif isinstance(node, list):
        for item in node:
            _hexify(item)


# -- mutations ----------------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("bad varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


Field = tuple[int, int, Any]  # number, wire type, value (int, bytes, or list of fields)


def parse_fields(data: bytes, depth: int = 0) -> list[Field]:
    """The wire-format tree: length-delimited values that parse fully as messages become subtrees."""
    fields: list[Field] = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field 0")
        if wire == 0:
            value, pos = _read_varint(data, pos)
            fields.append((number, 0, value))
        elif wire == 1:
            fields.append((number, 1, data[pos : pos + 8]))
            pos += 8
        elif wire == 5:
            fields.append((number, 5, data[pos : pos + 4]))
            pos += 4
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            chunk = data[pos : pos + length]
            if len(chunk) != length:
                raise ValueError("truncated")
            pos += length
            sub: Any = chunk
            if depth < 12 and chunk:
                try:
                    sub = parse_fields(chunk, depth + 1)
                except ValueError:
                    sub = chunk
            fields.append((number, 2, sub))
        else:
            raise ValueError("group")
        if pos > len(data):
            raise ValueError("truncated")
    return fields


def write_fields(fields: list[Field]) -> bytes:
    out = bytearray()
    for number, wire, value in fields:
        out += _varint(number << 3 | wire)
        if wire == 0:
            out += _varint(value)
        elif wire in (1, 5):
            out += value
        else:
            payload = write_fields(value) if isinstance(value, list) else value
            out += _varint(len(payload)) + payload
    return bytes(out)


def _nodes(fields: list[Field], out: list[tuple[list[Field], int]]) -> None:
    for i, (_, wire, value) in enumerate(fields):
        out.append((fields, i))
        if wire == 2 and isinstance(value, list):
            _nodes(value, out)


def proto_edit(rnd: random.Random, body: bytes) -> bytes:
    """One structural edit that keeps every length right, so the body still parses as protobuf:
    what a buggy exporter or a careful attacker sends."""
    try:
        tree = parse_fields(body)
    except ValueError:
        return body
    nodes: list[tuple[list[Field], int]] = []
    _nodes(tree, nodes)
    if not nodes:
        return body
    parent, i = rnd.choice(nodes)
    number, wire, value = parent[i]
    edit = rnd.randrange(8)
    if edit == 0:  # the field repeated (a oneof or a singular field set twice)
        parent.insert(i + 1, (number, wire, value))
    elif edit == 1:  # a sibling field of the same message with another number: a oneof set twice
        parent.insert(i + 1, (number + rnd.choice([-1, 1, 2, 3]) or 1, wire, value))
    elif edit == 2:  # a wire type the schema does not expect
        new_wire = rnd.choice([w for w in (0, 1, 2, 5) if w != wire])
        fake: Any = {0: rnd.randrange(2**64), 1: rnd.randbytes(8), 5: rnd.randbytes(4), 2: rnd.randbytes(5)}[new_wire]
        parent[i] = (number, new_wire, fake)
    elif edit == 3:  # a varint at an edge
        if wire == 0:
            parent[i] = (number, 0, rnd.choice([0, 1, 2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**63, 2**64 - 1]))
        else:
            parent[i] = (number, wire, rnd.randbytes(len(value) if isinstance(value, bytes) else 3))
    elif edit == 4:  # bytes that are not UTF-8, or an id of the wrong length
        parent[i] = (number, 2, rnd.choice([b"\xff\xfe", b"\xc3", rnd.randbytes(rnd.randrange(20))]))
    elif edit == 5:  # an unknown field
        parent.insert(i, (rnd.choice([17, 99, 1000, 2**29 - 1]), 0, rnd.randrange(2**32)))
    elif edit == 6:  # the field dropped
        del parent[i]
    else:  # a nested message wrapped in itself: deeper nesting
        if wire == 2:
            sub = value if isinstance(value, list) else []
            parent[i] = (number, 2, [(number, 2, sub)] * rnd.randrange(1, 4))
    return write_fields(tree)


def _bitflip(rnd: random.Random, body: bytes) -> bytes:
    data = bytearray(body)
    for _ in range(rnd.randrange(1, 9)):
        if data:
            data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
    return bytes(data)


def _overwrite(rnd: random.Random, body: bytes) -> bytes:
    data = bytearray(body)
    for _ in range(rnd.randrange(1, 4)):
        if data:
            data[rnd.randrange(len(data))] = rnd.choice([0, 0x7F, 0x80, 0xFF, rnd.randrange(256)])
    return bytes(data)


def _truncate(rnd: random.Random, body: bytes) -> bytes:
    return body[: rnd.randrange(len(body) + 1)]


def _insert(rnd: random.Random, body: bytes) -> bytes:
    at = rnd.randrange(len(body) + 1)
    return body[:at] + rnd.randbytes(rnd.randrange(1, 16)) + body[at:]


def _duplicate(rnd: random.Random, body: bytes) -> bytes:
    a = rnd.randrange(len(body) + 1)
    b = min(len(body), a + rnd.randrange(1, 64))
    return body[:b] + body[a:b] + body[b:]


def _random(rnd: random.Random, body: bytes) -> bytes:
    return rnd.randbytes(rnd.randrange(0, 512))


BYTE_MUTATORS: list[Callable[[random.Random, bytes], bytes]] = [
    _bitflip, _overwrite, _truncate, _insert, _duplicate, _random,
]  # fmt: skip


def _json_edit(rnd: random.Random, body: bytes) -> bytes:
    """A value in the JSON document replaced by one of another type or an edge value."""
    text = body.decode()
    spots = [m.start() for m in re.finditer(r'": ', text)]
    if not spots:
        return body
    at = rnd.choice(spots) + 3
    end = at
    while end < len(text) and text[end] not in ",}]":
        end += 1
    swap = rnd.choice(
        [
            '"x"',
            "1e400",
            "-1",
            "18446744073709551616",
            "null",
            "[]",
            "{}",
            '"\\ud800"',
            "true",
            '"zz"',
            '"' + "0" * 34 + '"',
        ]
    )
    return (text[:at] + swap + text[end:]).encode()


class Corpus:
    """Valid bodies per signal, each request's item count known, to mutate from."""

    def __init__(self, rnd: random.Random, per_signal: int = 24) -> None:
        self.messages: dict[str, list[Any]] = {
            s: [_BUILDERS[s](rnd, f"fuzz-{s}-{i}", rnd.randrange(1, 12)) for i in range(per_signal)] for s in SIGNALS
        }
        self.protobuf = {s: [m.SerializeToString() for m in ms] for s, ms in self.messages.items()}
        self.json = {s: [otlp_json(m) for m in ms] for s, ms in self.messages.items()}


def mutate(rnd: random.Random, corpus: Corpus) -> tuple[str, str, bytes, dict[str, str], str]:
    """One hostile request: (transport, signal, body, headers, mutation name)."""
    signal = rnd.choice(SIGNALS)
    use_json = rnd.random() < 0.3
    bodies = corpus.json[signal] if use_json else corpus.protobuf[signal]
    body = rnd.choice(bodies)
    roll = rnd.random()
    if use_json:
        if roll < 0.5:
            body, name = _json_edit(rnd, body), "json-edit"
        else:
            mutator = rnd.choice(BYTE_MUTATORS)
            body, name = mutator(rnd, body), mutator.__name__.strip("_")
    elif roll < 0.55:
        for _ in range(rnd.randrange(1, 4)):
            body = proto_edit(rnd, body)
        name = "proto-edit"
    elif roll < 0.65:
        other = rnd.choice(corpus.protobuf[rnd.choice(SIGNALS)])
        body, name = body[: rnd.randrange(len(body) + 1)] + other[rnd.randrange(len(other) + 1) :], "splice"
    else:
        mutator = rnd.choice(BYTE_MUTATORS)
        body, name = mutator(rnd, body), mutator.__name__.strip("_")
    content_type = "application/json" if use_json else "application/x-protobuf"
    headers = {"Content-Type": content_type}
    extra = rnd.random()
    if extra < 0.08:
        body, headers["Content-Encoding"], name = gzip.compress(body), "gzip", name + "+gzip"
    elif extra < 0.11:
        body, headers["Content-Encoding"], name = zlib.compress(body), "deflate", name + "+deflate"
    elif extra < 0.13:
        body, headers["Content-Encoding"], name = _truncate(rnd, gzip.compress(body)), "gzip", name + "+broken-gzip"
    elif extra < 0.16:
        headers["Content-Type"] = rnd.choice(["text/plain", "application/json", "application/x-protobuf", ""])
        name += "+content-type"
    transport = "grpc" if not use_json and "Content-Encoding" not in headers and rnd.random() < 0.25 else "http"
    return transport, signal, body, headers, name


# -- the run --------------------------------------------------------------------------------------


class Tally:
    """One sender's counts (a sender is a process: the server's answers, not the client's GIL, bound
    the rate)."""

    def __init__(self) -> None:
        self.status: Counter[str] = Counter()
        self.by_mutation: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()

    def add(self, key: str, mutation: str) -> None:
        self.status[key] += 1
        self.by_mutation[f"{mutation} {key}"] += 1

    def merge(self, other: Tally) -> None:
        self.status += other.status
        self.by_mutation += other.by_mutation
        self.errors += other.errors


_SHARED: dict[str, Any] = {}  # in a sender process: the run's progress counter and stop event


def _share(progress: Any, stop: Any) -> None:
    _SHARED.update(progress=progress, stop=stop)  # handed over at the process's start (not picklable later)


def _sender(http_port: int, grpc_endpoint: str, corpus_seed: int, seed: int, count: int) -> Tally:
    """Sends `count` hostile requests from one process; bumps the shared progress every 500 bodies,
    stops early once the shared stop event is set."""
    progress, stop = _SHARED["progress"], _SHARED["stop"]
    corpus, rnd, tally = Corpus(random.Random(corpus_seed)), random.Random(seed), Tally()
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=60)
    channel = grpc.insecure_channel(grpc_endpoint)
    calls = {s: channel.unary_unary(m) for s, m in _GRPC_METHODS.items()}
    for n in range(count):
        if n % 500 == 0:
            if stop.is_set():
                break
            if n:
                with progress.get_lock():
                    progress.value += 500
        transport, signal, body, headers, mutation = mutate(rnd, corpus)
        if transport == "grpc":
            try:
                calls[signal](body, timeout=30)
                key = "grpc OK"
            except grpc.RpcError as e:
                key = f"grpc {e.code().name}"  # type: ignore[attr-defined]
            tally.add(key, mutation)
            continue
        try:
            conn.request("POST", f"/v1/{signal}", body, {k: v for k, v in headers.items() if v})
            response = conn.getresponse()
            response.read()
            tally.add(f"http {response.status}", mutation)
            if response.status >= 500 and response.status != 503:
                tally.errors[f"{response.status} {mutation}"] += 1
        except (OSError, http.client.HTTPException) as e:
            tally.add("http connection-error", mutation)
            tally.errors[type(e).__name__] += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=60)
    channel.close()
    return tally


def _metric(server: KokaneeServer, name: str) -> dict[str, float]:
    """A Prometheus counter's samples by label set, from the server's /metrics."""
    text = httpx.get(f"{server.api_url}/metrics", timeout=30).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name):
            key, _, value = line.rpartition(" ")
            out[key[len(name) :]] = float(value)
    return out


def _stored(server: KokaneeServer) -> dict[str, int]:
    tables = {
        "traces": ["otel_traces"],
        "logs": ["otel_logs"],
        "metrics": [
            "otel_metrics_gauge", "otel_metrics_sum", "otel_metrics_histogram",
            "otel_metrics_exponential_histogram", "otel_metrics_summary",
        ],
    }  # fmt: skip
    out = {}
    for signal, names in tables.items():
        sql = " + ".join(f"(SELECT count() FROM {t})" for t in names)
        out[signal] = int(server.query(f"SELECT {sql} AS n")[0]["n"])
    return out


def _drained(server: KokaneeServer, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = _metric(server, "kokanee_pipeline_pending_requests")
        if sum(pending.values()) == 0:
            return True
        time.sleep(0.5)
    return False


def valid_request_delay(server: KokaneeServer, timeout: float = 900.0, seed: int = 7) -> tuple[float, float]:
    """Seconds from sending a valid trace request to its acknowledgement, and to its spans being
    queryable."""
    service = f"after-storm-{uuid.uuid4().hex[:8]}"
    body = traces(random.Random(seed), service, 10).SerializeToString()
    started = time.monotonic()
    while True:
        r = httpx.post(
            f"{server.otlp_http_url}/v1/traces", content=body, headers={"Content-Type": "application/x-protobuf"}
        )
        if r.status_code == 200:
            break
        time.sleep(0.1)  # 429/503 while the storm drains: the exporter would retry
    acked = time.monotonic() - started
    while time.monotonic() - started < timeout:
        if server.query(f"SELECT count() AS n FROM otel_traces WHERE ServiceName = '{service}'")[0]["n"] == 10:
            return acked, time.monotonic() - started
        time.sleep(0.05)
    return acked, float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000, help="bodies to send (all senders together)")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the data directory (quarantined bodies)")
    parser.add_argument(
        "--seconds",
        type=float,
        default=0.0,
        help="end the storm after this long even if --count is not sent (0: never)",
    )
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="kokanee-fuzz-")) / "data"
    server = KokaneeServer(data_dir, "--capture", "off").start()
    tally = Tally()
    # Spawned, not forked: a forked gRPC runtime is unsafe, and each sender builds its own corpus.
    context = multiprocessing.get_context("spawn")
    progress, stop = context.Value("q", 0), context.Event()
    started = time.monotonic()
    per = args.count // args.senders
    crashed = False
    with ProcessPoolExecutor(args.senders, context, _share, (progress, stop)) as pool:
        futures = [
            pool.submit(
                _sender, server.http_port, server.otlp_grpc_endpoint, args.seed, args.seed * 1000 + i,
                per + (1 if i < args.count % args.senders else 0),
            )
            for i in range(args.senders)
        ]  # fmt: skip
        last_report = started
        while not all(f.done() for f in futures):
            wait(futures, timeout=0.5)
            if server.proc is not None and server.proc.poll() is not None:
                crashed = True
                stop.set()
            if args.seconds and time.monotonic() - started > args.seconds:
                stop.set()  # the senders stop at their next 500 bodies
            if time.monotonic() - last_report >= 60:
                last_report = time.monotonic()
                done = progress.value
                print(f"  {done:,} bodies in {last_report - started:.0f} s ({done / (last_report - started):,.0f}/s)",
                      file=sys.stderr, flush=True)  # fmt: skip
        for f in futures:
            tally.merge(f.result())
    storm_s = time.monotonic() - started
    sent = sum(tally.status.values())
    print(
        f"sent {sent:,} bodies in {storm_s:.0f} s ({sent / storm_s:,.0f}/s), seed {args.seed}, {args.senders} senders"
    )
    if sent < args.count:
        print(f"  (stopped at --seconds {args.seconds:.0f}: {args.count:,} asked)")
    for key, n in sorted(tally.status.items()):
        print(f"  {key:<28} {n:>9,}")
    if crashed:
        print("CRASH: the server exited\n" + server.log()[-3000:])
        sys.exit(1)
    backlog = int(sum(_metric(server, "kokanee_pipeline_pending_requests").values()))
    ack_s, delay = valid_request_delay(server)
    drained = _drained(server, 300)
    idle = sorted(valid_request_delay(server, seed=8 + i)[1] for i in range(3))
    accepted = _metric(server, "kokanee_items_accepted_total")
    quarantined = _metric(server, "kokanee_quarantined_items_total")
    stored = _stored(server)
    files = list((data_dir / "quarantine").glob("*.pb"))
    five_xx = sum(n for k, n in tally.status.items() if k.split()[-1].startswith("5") and not k.endswith("503"))
    five_xx += sum(n for k, n in tally.status.items() if k in ("grpc INTERNAL", "grpc UNKNOWN"))
    print(f"5xx (not 503): {five_xx}; crashes: {int(crashed)}; quarantined records: {len(files)} "
          f"({int(sum(quarantined.values()))} items); pipeline drained: {drained}")  # fmt: skip
    for signal in SIGNALS:
        acked = int(sum(v for k, v in accepted.items() if f'signal="{signal}"' in k))
        print(f"  {signal:<8} items acknowledged {acked:>10,}  stored {stored[signal]:>10,}  "
              f"acknowledged but not stored {acked - stored[signal]:>8,}")  # fmt: skip
    print(
        f"valid request queryable {delay:.2f} s after the storm (acknowledged after {ack_s:.2f} s; "
        f"{backlog} requests were pending); on the idle server {idle[1]:.2f} s (median of "
        f"{', '.join(f'{x:.2f}' for x in idle)})"
    )
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if tally.errors:
        print("errors:", dict(tally.errors.most_common(10)))
    server.stop()
    if args.keep or files:
        print(f"data directory kept: {data_dir}")


if __name__ == "__main__":
    main()
