"""OTLP/JSON parsing: the spec's examples, hex ids in any case, and malformed bodies."""

from __future__ import annotations

from pathlib import Path

import pytest

from kokanee.ingest.decode import decode
from kokanee.ingest.otlp_json import parse_json
from kokanee.ingest.types import DecodeError, Signal

EXAMPLES = Path(__file__).parent / "testdata" / "otlp-examples"  # the OTLP spec's (Apache-2.0)
TESTDATA = Path(__file__).parent / "testdata"


@pytest.mark.parametrize(
    ("name", "signal", "tables"),
    [
        ("trace.json", "traces", {"otel_traces": 1}),
        ("logs.json", "logs", {"otel_logs": 1}),
        ("events.json", "logs", {"otel_logs": 1}),
        (
            "metrics.json",
            "metrics",
            {
                "otel_metrics_gauge": 1,
                "otel_metrics_sum": 1,
                "otel_metrics_histogram": 1,
                "otel_metrics_exponential_histogram": 1,
            },
        ),
    ],
)
def test_spec_examples_parse_and_decode(name: str, signal: Signal, tables: dict[str, int]) -> None:
    decoded = decode(signal, parse_json(signal, (EXAMPLES / name).read_bytes()))
    assert decoded.rejected == 0, decoded.errors
    assert {k: t.num_rows for k, t in decoded.tables.items()} == tables


def test_upper_case_hex_ids_and_int_enums() -> None:
    row = decode("traces", parse_json("traces", (EXAMPLES / "trace.json").read_bytes())).tables["otel_traces"]
    assert row["TraceId"][0].as_py() == "5b8efff798038103d269b633813fc60c"
    assert row["ParentSpanId"][0].as_py() == "eee19b7ec3c1b173"
    assert row["SpanKind"][0].as_py() == "Server"


def test_event_name_is_kept() -> None:
    logs = decode("logs", parse_json("logs", (EXAMPLES / "events.json").read_bytes())).tables["otel_logs"]
    assert logs["EventName"][0].as_py() == "browser.page_view"
    assert logs["Body"][0].as_py().startswith('{"referrer":')


def test_bad_ids_reject_only_their_span() -> None:
    body = (TESTDATA / "trace_bad_ids_mixed_case.json").read_bytes()
    decoded = decode("traces", parse_json("traces", body))
    assert decoded.accepted == 1
    assert decoded.rejected == 2
    assert "span 'bad span id'" in decoded.errors[0] and "span_id must be 8 bytes" in decoded.errors[0]
    assert "trace_id must be 16 bytes" in decoded.errors[1]
    table = decoded.tables["otel_traces"]
    assert table["TraceId"][0].as_py() == "5b8efff798038103d269b633813fc60c"
    assert table["SpanKind"][0].as_py() == "Client"
    assert table["StatusCode"][0].as_py() == "Error"
    assert table["StatusMessage"][0].as_py() == "boom"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "malformed OTLP/JSON traces request"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"resourceSpans": {"x": 1}}', "invalid OTLP/JSON traces request"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "abc"}]}]}]}',
            "invalid OTLP/JSON",
        ),
        (b"\xff\xfe", "malformed OTLP/JSON traces request"),
    ],
    ids=[
        "truncated JSON",
        "top level is a list",
        "resourceSpans is an object",
        "int64 that is not a number",
        "not UTF-8",
    ],
)
def test_malformed_bodies_raise_decode_error(body: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        parse_json("traces", body)


def test_empty_object_is_an_empty_request() -> None:
    decoded = decode("logs", parse_json("logs", b"{}"))
    assert decoded.accepted == 0 and decoded.tables == {}
