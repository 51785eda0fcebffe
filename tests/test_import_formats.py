"""The Jaeger, Zipkin and OTLP/JSON readers, format detection and time rebasing, on small
golden files in tests/testdata/import/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kokanee.importers import otlp, rebase
from kokanee.importers.detect import detect, make_source
from kokanee.importers.times import parse_iso_ns
from kokanee.importers.types import Batch, ImportFailed, Source

DATA = Path(__file__).parent / "testdata" / "import"


def read_all(source: Source, batch_size: int = 1000) -> list[Batch]:
    return [batch for path in source.files() for batch in source.read(path, batch_size)]


def spans_by_name(batches: list[Batch]) -> dict[str, tuple[dict[str, Any], Any]]:
    """name → (resource attributes, span) over every traces batch."""
    found: dict[str, tuple[dict[str, Any], Any]] = {}
    for batch in batches:
        for rs in batch.request.resource_spans:
            resource = {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in rs.resource.attributes}
            for ss in rs.scope_spans:
                for span in ss.spans:
                    found[span.name] = (resource, span)
    return found


def attributes(message: Any) -> dict[str, Any]:
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in message.attributes}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("jaeger-frontend-calls-backend.json", "jaeger"),
        ("zipkin-client-server.json", "zipkin"),
        ("otlp-traces.json", "otlp-json"),
        ("otlp-logs-and-metrics.jsonl", "otlp-json"),
    ],
)
def test_detects_each_format_from_its_first_bytes(name: str, expected: str) -> None:
    assert detect(DATA / name) == expected


def test_an_unknown_file_asks_for_format(tmp_path: Path) -> None:
    (tmp_path / "notes.json").write_text('{"hello": "world"}')
    with pytest.raises(ImportFailed, match="--format"):
        detect(tmp_path)


def test_jaeger_export_maps_kinds_status_events_links_and_typed_tags() -> None:
    batches = read_all(make_source(DATA / "jaeger-frontend-calls-backend.json"))
    assert [b.items for b in batches] == [2]
    spans = spans_by_name(batches)

    resource, server = spans["GET /dispatch"]
    assert resource == {"service.name": "frontend", "hostname": "web-1"}
    assert server.trace_id.hex() == "5b8aa5a2d2c872e8321cf37308d69df2"
    assert server.span_id.hex() == "051581bf3cb55c13"
    assert server.parent_span_id == b""
    assert server.kind == otlp.SPAN_KIND_SERVER
    assert server.start_time_unix_nano == 1674981768697000 * 1000
    assert server.end_time_unix_nano - server.start_time_unix_nano == 318316 * 1000
    assert attributes(server) == {"http.status_code": 200, "sampler.param": True}
    assert [(e.name, attributes(e)) for e in server.events] == [("cache miss", {"retries": 2})]

    resource, client = spans["SQL SELECT"]
    assert resource == {"service.name": "mysql-client"}
    assert client.kind == otlp.SPAN_KIND_CLIENT
    assert client.parent_span_id.hex() == "051581bf3cb55c13"
    assert client.status.code == otlp.STATUS_ERROR
    assert attributes(client) == {"db.latency_ratio": 0.25}
    assert [(link.trace_id.hex(), link.span_id.hex()) for link in client.links] == [
        ("00000000000000000000000000000abc", "0000000000000def")
    ]


def test_zipkin_spans_keep_kind_remote_peer_error_and_pad_64_bit_trace_ids() -> None:
    spans = spans_by_name(read_all(make_source(DATA / "zipkin-client-server.json")))
    resource, server = spans["get /api"]
    assert resource == {"service.name": "frontend"}
    assert server.trace_id.hex() == "000000000000000086154a4ba6e91385"
    assert server.kind == otlp.SPAN_KIND_SERVER
    assert server.status.code == otlp.STATUS_UNSET
    assert attributes(server) == {"http.method": "GET", "http.path": "/api"}
    assert [(e.time_unix_nano, e.name) for e in server.events] == [(1674981768698000000, "wr")]

    _, client = spans["get /backend"]
    assert client.parent_span_id.hex() == "86154a4ba6e91385"
    assert client.kind == otlp.SPAN_KIND_CLIENT
    assert client.end_time_unix_nano - client.start_time_unix_nano == 15_000_000
    assert (client.status.code, client.status.message) == (otlp.STATUS_ERROR, "connection reset")
    assert attributes(client) == {
        "peer.service": "backend",
        "network.peer.address": "172.17.0.9",
        "network.peer.port": 9000,
    }


def test_otlp_json_folder_reads_requests_and_json_lines_with_hex_ids() -> None:
    source = make_source(DATA, "otlp-json")
    batches = [b for path in source.files() if path.name.startswith("otlp-") for b in source.read(path, 10)]
    assert [(b.signal, b.items) for b in batches] == [("logs", 1), ("metrics", 2), ("traces", 1)]
    log = batches[0].request.resource_logs[0].scope_logs[0].log_records[0]
    assert (log.trace_id.hex(), log.span_id.hex(), log.body.string_value) == (
        "5b8efff798038103d269b633813fc60c",
        "eee19b7ec3c1b174",
        "card declined",
    )
    points = batches[1].request.resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points
    assert [p.as_int for p in points] == [7, 9]
    _, span = spans_by_name(batches[2:])["charge"]
    assert span.parent_span_id.hex() == "eee19b7ec3c1b173"
    assert (span.kind, span.status.code, span.status.message) == (
        otlp.SPAN_KIND_CLIENT,
        otlp.STATUS_ERROR,
        "card declined",
    )
    assert attributes(span) == {"retry": 3}


def test_broken_json_is_reported_and_the_rest_still_read(tmp_path: Path) -> None:
    good = (DATA / "otlp-logs-and-metrics.jsonl").read_text()
    (tmp_path / "mixed.jsonl").write_text(good + '{"resourceSpans": [\n' + "[1, 2]\n")
    source = make_source(tmp_path, "otlp-json")
    assert [b.signal for b in read_all(source)] == ["logs", "metrics"]
    assert source.problems.count == 2
    assert source.problems.messages[0].startswith("mixed.jsonl:4: not JSON")


def test_rebase_moves_every_timestamp_by_one_offset_so_the_end_lands_on_target() -> None:
    batches = read_all(make_source(DATA / "jaeger-frontend-calls-backend.json"))
    before = spans_by_name(batches)
    latest = max(rebase.latest_ns(b) for b in batches)
    assert latest == (1674981768697000 + 318316) * 1000
    target = rebase.target_ns("2030-01-01T00:00:00Z")
    for batch in batches:
        rebase.shift(batch, target - latest)
    after = spans_by_name(batches)
    offset = target - latest
    assert max(rebase.latest_ns(b) for b in batches) == target
    server_before, server_after = before["GET /dispatch"][1], after["GET /dispatch"][1]
    assert server_after.start_time_unix_nano == 1674981768697000000 + offset
    assert server_after.events[0].time_unix_nano == 1674981768700000000 + offset
    assert server_before is server_after  # shifted in place


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("now", 42),
        ("1700000000000000000", 1700000000000000000),
        ("2023-01-29T08:43:04Z", 1674981784000000000),
        ("2023-01-29 16:43:04+08:00", 1674981784000000000),
    ],
)
def test_rebase_targets(spec: str, expected: int) -> None:
    assert rebase.target_ns(spec, now_ns=42) == expected


def test_a_bad_rebase_target_says_what_is_accepted() -> None:
    with pytest.raises(ImportFailed, match="--rebase-time: 'yesterday' is not a time: use now, now-15m, RFC 3339"):
        rebase.target_ns("yesterday")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-01-29T08:42:22.383150913Z", 1674981742383150913),
        ("2023-01-29T08:42:22.38259894Z", 1674981742382598940),
        ("2023-01-29T09:20:29.295", 1674984029295000000),
        ("2023-01-29 08:43:04", 1674981784000000000),
    ],
)
def test_parse_iso_ns_is_exact(text: str, expected: int) -> None:
    assert parse_iso_ns(text) == expected


@pytest.mark.parametrize(
    ("pod", "service"),
    [
        ("ts-contacts-service-866bd68c97-xcqfx", "ts-contacts-service"),
        ("ts-gateway-service-6f6cfc45b-h5m2n", "ts-gateway-service"),
        ("fluentd-x7k2p", "fluentd"),
        ("redis-0", "redis"),
        ("ts-ui-dashboard", "ts-ui-dashboard"),
    ],
)
def test_service_from_pod_drops_kubernetes_suffixes(pod: str, service: str) -> None:
    assert otlp.service_from_pod(pod) == service
