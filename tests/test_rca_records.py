"""What the root-cause reader takes from span and resource attributes, in the real chDB store: a
client span's peer (`peer.service`, else `server.address`) and a metric series' pod."""

from __future__ import annotations

import secrets

import pyarrow as pa

from kokanee.analysis.rca.params import RcaParams
from kokanee.analysis.rca.records import read_logs, read_span_table, series_pairs
from kokanee.store.client import Store

NS = 1_000_000_000
T0 = 1_760_000_000 * NS  # a day no other test writes
_MAP = pa.map_(pa.string(), pa.string())


def test_a_client_spans_peer_is_its_peer_service_else_its_server_address(chdb_store: Store) -> None:
    rows = [  # (kind, attributes) -> the peer read
        ("Client", [("peer.service", "cart"), ("server.address", "10.0.0.7")]),
        ("Client", [("server.address", "10.0.0.7"), ("peer.service", "cart")]),
        ("Client", [("peer.service", ""), ("server.address", "payments.internal")]),
        ("Client", [("server.address", "payments.internal")]),
        ("Client", [("http.method", "GET")]),
        ("Server", [("peer.service", "cart")]),
    ]
    expected = ["cart", "cart", "payments.internal", "payments.internal", "", ""]
    chdb_store.insert_arrow(
        "otel_traces",
        pa.table(
            {
                "Timestamp": pa.array([T0 + i * NS for i in range(len(rows))], pa.timestamp("ns")),
                "TraceId": [secrets.token_hex(16) for _ in rows],
                "SpanId": [f"{i:016x}" for i in range(len(rows))],
                "SpanName": ["call"] * len(rows),
                "SpanKind": [kind for kind, _ in rows],
                "ServiceName": ["checkout"] * len(rows),
                "Duration": pa.array([NS // 1000] * len(rows), pa.uint64()),
                "SpanAttributes": pa.array([attrs for _, attrs in rows], _MAP),
            }
        ),
    )
    spans = sorted(read_span_table(chdb_store, T0, T0 + 60 * NS, 1000).rows(), key=lambda s: s.start_ns)
    assert [s.peer for s in spans] == expected


def test_a_series_is_told_apart_by_its_pod(chdb_store: Store) -> None:
    t = T0 + 3600 * NS
    points = [(t + i * 15 * NS, pod, float(i)) for i in range(20) for pod in ("ad-7f9c", "")]
    chdb_store.insert_arrow(
        "otel_metrics_gauge",
        pa.table(
            {
                "ServiceName": ["ad"] * len(points),
                "MetricName": ["container.cpu.usage"] * len(points),
                "ResourceAttributes": pa.array(
                    [[("k8s.pod.name", pod)] if pod else [("host.name", "n1")] for _, pod, _ in points], _MAP
                ),
                "TimeUnix": pa.array([at for at, _, _ in points], pa.timestamp("ns")),
                "StartTimeUnix": pa.array([at for at, _, _ in points], pa.timestamp("ns")),
                "Value": pa.array([v for _, _, v in points], pa.float64()),
            }
        ),
    )
    pairs = series_pairs(chdb_store, t + 150 * NS, t + 300 * NS, [(t, t + 150 * NS)])
    assert sorted(p.name for p in pairs if p.service == "ad") == [
        "container.cpu.usage",
        "container.cpu.usage{pod=ad-7f9c}",
    ]
    # The history: every point from the given start to the window's, baseline windows or not.
    pairs = series_pairs(chdb_store, t + 150 * NS, t + 300 * NS, [(t + 90 * NS, t + 150 * NS)], t)
    history = {p.name: p.history.tolist() for p in pairs if p.service == "ad"}
    assert history["container.cpu.usage{pod=ad-7f9c}"] == [float(i) for i in range(10)], history


def test_log_lines_come_in_the_order_they_were_logged(chdb_store: Store) -> None:
    # Two services logging in turn, written in two inserts (two parts), the later lines first. The
    # template miner takes lines in the order it is given them: the order they were logged.
    t = T0 + 7200 * NS
    lines = [(t + i * NS, ("lg-a", "lg-b")[i % 2], f"step {i} done") for i in range(40)]
    for batch in (lines[20:], lines[:20]):
        chdb_store.insert_arrow(
            "otel_logs",
            pa.table(
                {
                    "Timestamp": pa.array([at for at, _, _ in batch], pa.timestamp("ns")),
                    "ServiceName": [service for _, service, _ in batch],
                    "SeverityText": ["INFO"] * len(batch),
                    "SeverityNumber": pa.array([9] * len(batch), pa.uint8()),
                    "Body": [body for _, _, body in batch],
                }
            ),
        )
    read = read_logs(chdb_store, (t + 30 * NS, t + 40 * NS), [(t, t + 30 * NS)], RcaParams())
    window = [line.body for line in read if line.in_window]
    assert window == [body for _, _, body in lines[30:]], window
    baseline = [line.body for line in read if not line.in_window]
    assert baseline == [body for _, _, body in lines[:30]], baseline
