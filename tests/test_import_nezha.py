"""The Nezha reader on the real Train Ticket day, and that recording imported into a server.

The recording is tests/testdata/nezha: the Nezha artifact's day cut down to one minute of spans,
two log files that hold its oddities and a few metric files (tests/testdata/README.md says how).
Expected values are read from those CSVs with the csv module, independently of the importer;
the 28 fault labels are the day's whole fault list, kept as it is.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kokanee.importers import otlp
from kokanee.importers.command import run_import
from kokanee.importers.detect import detect
from kokanee.importers.nezha import NezhaSource
from kokanee.importers.types import Batch, Problems
from tests.server import KokaneeServer

NEZHA = Path(__file__).parent / "testdata" / "nezha"


@pytest.fixture(scope="session")
def nezha_root() -> Path:
    return NEZHA


@pytest.fixture(scope="session")
def day(nezha_root: Path) -> Path:
    return nezha_root / "rca_data" / "2023-01-29"


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def read(source: NezhaSource, path: Path, batch_size: int = 1000) -> list[Batch]:
    return list(source.read(path, batch_size))


def test_detects_the_layout_at_every_level(nezha_root: Path, day: Path) -> None:
    for path in (nezha_root, day, day / "trace", day / "log" / "10_06_log.csv"):
        assert detect(path) == "nezha", path


def test_trace_file_becomes_exactly_its_spans(day: Path) -> None:
    path = day / "trace" / "08_43_trace.csv"
    rows = csv_rows(path)
    source = NezhaSource(path)
    batches = read(source, path, batch_size=1000)
    assert [b.items for b in batches[:-1]] == [1000] * (len(batches) - 1)
    assert sum(b.items for b in batches) == len(rows)
    spans: dict[str, tuple[dict[str, Any], Any]] = {}
    for batch in batches:
        for rs in batch.request.resource_spans:
            resource = {kv.key: kv.value.string_value for kv in rs.resource.attributes}
            for span in rs.scope_spans[0].spans:
                spans[span.span_id.hex()] = (resource, span)
    assert len(spans) == len(rows)
    for row in rows[:: max(1, len(rows) // 50)]:
        resource, span = spans[row["SpanID"]]
        assert span.trace_id.hex() == row["TraceID"]
        assert span.parent_span_id.hex() == ("" if row["ParentID"] == "root" else row["ParentID"])
        assert span.name == row["OperationName"]
        assert resource["k8s.pod.name"] == row["PodName"]
        assert resource["service.name"] == row["PodName"].rsplit("-", 2)[0]
        assert span.start_time_unix_nano == int(row["StartTimeUnixNano"])
        assert span.end_time_unix_nano == int(row["EndTimeUnixNano"])
        # Duration is in µs; the end keeps the sub-µs part it rounds away.
        assert abs(span.end_time_unix_nano - span.start_time_unix_nano - int(row["Duration"]) * 1000) < 1000
    assert source.problems.count == 0


def test_span_kinds_are_inferred_only_where_the_data_says(day: Path) -> None:
    path = day / "trace" / "08_43_trace.csv"
    rows = {row["SpanID"]: row for row in csv_rows(path)}
    kinds: dict[str, int] = {}
    for batch in read(NezhaSource(path), path):
        for rs in batch.request.resource_spans:
            for span in rs.scope_spans[0].spans:
                kinds[span.span_id.hex()] = span.kind
    for span_id, row in rows.items():
        parent = rows.get(row["ParentID"])
        if row["OperationName"].startswith("HTTP "):
            expected = otlp.SPAN_KIND_CLIENT
        elif row["ParentID"] == "root" or (
            parent and parent["OperationName"].startswith("HTTP ") and parent["PodName"] != row["PodName"]
        ):
            expected = otlp.SPAN_KIND_SERVER
        else:
            expected = otlp.SPAN_KIND_UNSPECIFIED
        assert kinds[span_id] == expected, row
    assert otlp.SPAN_KIND_SERVER in kinds.values() and otlp.SPAN_KIND_CLIENT in kinds.values()


def test_corrupt_log_lines_are_reported_and_skipped(day: Path) -> None:
    path = day / "log" / "10_06_log.csv"
    source = NezhaSource(path)
    records = [r for b in read(source, path) for rl in b.request.resource_logs for r in rl.scope_logs[0].log_records]
    good = 0
    for row in csv_rows(path):
        try:
            json.loads(row["Log"])
        except ValueError:
            continue
        good += None not in row  # DictReader files surplus fields under None
    assert len(records) == good
    assert source.problems.count >= 1
    assert all("10_06_log.csv" in m and "corrupt" in m for m in source.problems.messages)


def test_multiline_exception_logs_take_their_time_from_timestamp(day: Path) -> None:
    path = day / "log" / "09_21_log.csv"
    rows = csv_rows(path)
    broken = [row for row in rows if row["TimeUnixNano"].startswith("-")]
    assert broken, "the recording is expected to have broken TimeUnixNano values here"
    by_body: dict[str, Any] = {}
    for batch in read(NezhaSource(path), path):
        for rl in batch.request.resource_logs:
            for record in rl.scope_logs[0].log_records:
                by_body[record.body.string_value] = record
    sample = broken[0]
    record = by_body[json.loads(sample["Log"])["log"].rstrip("\n")]
    when = datetime.fromisoformat(sample["Timestamp"].rstrip("Z")).replace(tzinfo=UTC)
    assert record.time_unix_nano == int(when.timestamp()) * 10**9 + when.microsecond * 1000
    assert record.severity_text == "ERROR"
    assert record.severity_number == otlp.SEVERITY_NUMBERS["ERROR"]
    assert record.trace_id.hex() == sample["TraceID"]
    assert record.span_id.hex() == sample["SpanID"]


def test_metric_file_becomes_gauges_per_column_without_nan(day: Path) -> None:
    path = next((day / "metric").glob("ts-auth-service-*_metric.csv"))
    rows = csv_rows(path)
    batches = read(NezhaSource(path), path, batch_size=2000)
    points: dict[tuple[str, int], float] = {}
    for batch in batches:
        for rm in batch.request.resource_metrics:
            resource = {kv.key: kv.value.string_value for kv in rm.resource.attributes}
            assert resource == {"service.name": "ts-auth-service", "k8s.pod.name": rows[0]["PodName"]}
            for metric in rm.scope_metrics[0].metrics:
                for point in metric.gauge.data_points:
                    points[(metric.name + (f"({metric.unit})" if metric.unit else ""), point.time_unix_nano)] = (
                        point.as_double
                    )
    columns = [c for c in rows[0] if c not in ("Time", "TimeStamp", "PodName")]
    expected = {
        (column, int(row["TimeStamp"]) * 10**9): float(row[column])
        for row in rows
        for column in columns
        if row[column] not in ("", "NaN")
    }
    assert points == expected
    assert sum(b.items for b in batches) == len(expected)


def test_the_fault_list_gives_28_labels_at_inject_time_utc(nezha_root: Path) -> None:
    labels = NezhaSource(nezha_root).labels()
    assert len(labels) == 28
    first = min(labels, key=lambda label: label.start)
    assert (first.start, first.end, first.service, first.kind, first.source) == (
        1674981784000000000,
        None,
        "ts-contacts-service",
        "return",
        "nezha",
    )
    assert "ts-contacts-service-866bd68c97-xcqfx" in first.detail


def test_metric_files_repeated_in_construct_data_are_read_once(nezha_root: Path) -> None:
    files = NezhaSource(nezha_root).files()
    metric_names = [f.name for f in files if f.parent.name == "metric"]
    assert len(metric_names) == len(set(metric_names)) == len(list((nezha_root / "rca_data").rglob("metric/*.csv")))
    assert not [f for f in files if f.parent.name == "traceid"]


def test_importing_the_day_stores_exactly_the_spans_in_the_csvs(
    nezha_root: Path, start_kokanee: Callable[..., KokaneeServer]
) -> None:
    server = start_kokanee()
    trace_rows = [row for path in sorted(nezha_root.rglob("trace/*.csv")) for row in csv_rows(path)]
    report = run_import(nezha_root, endpoint=server.otlp_http_url, api_url=server.api_url)
    assert report.stats.sent["traces"] == len(trace_rows)
    assert report.stats.rejected == {"traces": 0, "logs": 0, "metrics": 0}
    assert report.labels == 28
    assert isinstance(report.problems, Problems) and report.problems.count >= 1  # 10_06_log.csv

    server.wait_for(
        "SELECT count() AS n FROM otel_traces",
        lambda rows: rows[0]["n"] == len(trace_rows),
        timeout=240,
    )
    sample = trace_rows[:: len(trace_rows) // 40]
    ids = ", ".join(f"'{row['SpanID']}'" for row in sample)
    stored = {
        row["SpanId"]: row
        for row in server.query(
            "SELECT TraceId, SpanId, ParentSpanId, SpanName, ServiceName,"
            " ResourceAttributes['k8s.pod.name'] AS pod, toUnixTimestamp64Nano(Timestamp) AS start,"
            " Duration FROM otel_traces"
            f" WHERE SpanId IN ({ids})"
        )
    }
    for row in sample:
        got = stored[row["SpanID"]]
        assert got["TraceId"] == row["TraceID"]
        assert got["ParentSpanId"] == ("" if row["ParentID"] == "root" else row["ParentID"])
        assert got["SpanName"] == row["OperationName"]
        assert got["pod"] == row["PodName"]
        assert got["ServiceName"] == row["PodName"].rsplit("-", 2)[0]
        assert int(got["start"]) == int(row["StartTimeUnixNano"])
        assert abs(int(got["Duration"]) - int(row["Duration"]) * 1000) < 1000

    # Logs and metric points: everything the server acknowledged is stored.
    server.wait_for(
        "SELECT (SELECT count() FROM otel_logs) AS logs, (SELECT count() FROM otel_metrics_gauge) AS points",
        lambda rows: (rows[0]["logs"], rows[0]["points"]) == (report.stats.sent["logs"], report.stats.sent["metrics"]),
        timeout=240,
    )
    errors = server.query(
        "SELECT ServiceName, SeverityNumber, TraceId FROM otel_logs WHERE SeverityText = 'ERROR' LIMIT 5"
    )
    assert errors and all(row["SeverityNumber"] == 17 and len(row["TraceId"]) == 32 for row in errors)
    assert all(row["ServiceName"].startswith("ts-") for row in errors)

    labels = server.wait_for(
        "SELECT Start, End, ServiceName, Kind, Source, Detail FROM kokanee_fault_labels WHERE Source = 'nezha'",
        lambda rows: len(rows) == 28,
    )
    faults = json.loads((nezha_root / "rca_data" / "2023-01-29" / "2023-01-29-fault_list.json").read_text())
    expected = sorted(
        (fault["inject_type"], fault["inject_pod"].rsplit("-", 2)[0]) for hour in faults.values() for fault in hour
    )
    assert sorted((row["Kind"], row["ServiceName"]) for row in labels) == expected


def test_rebase_now_lands_the_recording_at_the_present(kokanee_server: KokaneeServer, tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    trace.mkdir()
    pod = "import-rebase-service-6f6cfc45b-h5m2n"
    (trace / "08_43_trace.csv").write_text(
        "TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration\n"
        f"c0103bb0161ad7fa352fe1828eeb643a,620b067330e3ede5,root,{pod},/*,1674981768697000000,1674981769015316530,318316\n"
        f"c0103bb0161ad7fa352fe1828eeb643a,b4424f20bffee416,620b067330e3ede5,{pod},HTTP GET,"
        "1674981768697763387,1674981769015072039,317308\n"
    )
    before = time.time_ns()
    report = run_import(trace, endpoint=kokanee_server.otlp_http_url, rebase_time="now")
    rows = kokanee_server.wait_for(
        "SELECT SpanKind, toUnixTimestamp64Nano(Timestamp) AS start, Duration FROM otel_traces"
        " WHERE ServiceName = 'import-rebase-service' ORDER BY start",
        lambda rows: len(rows) == 2,
    )
    assert before - 10**9 <= 1674981769015316530 + report.offset_ns <= time.time_ns()
    assert [int(row["start"]) for row in rows] == [
        1674981768697000000 + report.offset_ns,
        1674981768697763387 + report.offset_ns,
    ]
    assert [(row["SpanKind"], int(row["Duration"])) for row in rows] == [
        ("Server", 318316530),
        ("Client", 317308652),
    ]
