"""OTLP/JSON request bodies → Export*ServiceRequest messages.

Follows the OTLP/JSON encoding (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):
trace and span ids are hex strings (any case) rather than proto3-JSON base64, enums may be
integers or names, 64-bit integers strings or numbers, unknown fields are ignored, and both
lowerCamelCase and original snake_case field names are accepted. Ids are rewritten to base64
in place, then `json_format` does the rest.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from kokanee.ingest.types import DecodeError, Signal

_HEX = re.compile(r"[0-9a-fA-F]*")
# A malformed id becomes this 1-byte id: a length no id field accepts, so the decoder rejects
# just that span or record ("must be 16 bytes, got 1") and keeps the rest of the request.
_BAD_ID = base64.b64encode(b"\xff").decode("ascii")
_ID_FIELDS = ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id")
_MESSAGES: dict[str, type[Message]] = {
    "traces": ExportTraceServiceRequest,
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
}
_METRIC_KINDS = ("gauge", "sum", "histogram", "exponentialHistogram", "exponential_histogram", "summary")


def parse_json(signal: Signal, body: bytes) -> Message:
    """Parse an OTLP/JSON body; raises `DecodeError` naming what is wrong if it cannot."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"malformed OTLP/JSON {signal} request: {exc}") from exc
    if not isinstance(document, dict):
        raise DecodeError(f"OTLP/JSON {signal} request must be a JSON object, got {type(document).__name__}")
    for item in _items(document, signal):
        _hex_ids(item)
    message = _MESSAGES[signal]()
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, OverflowError, SystemError) as exc:
        # OverflowError: 1e400 where an integer belongs; SystemError: upb refusing a lone
        # surrogate ("\ud800") as a field name. Both are the body's fault, not ours.
        raise DecodeError(f"invalid OTLP/JSON {signal} request: {exc}") from exc
    return message


def _list(parent: Any, *names: str) -> list[Any]:
    """The first of `names` that holds a list in `parent`; wrong shapes are left for
    json_format to report."""
    if isinstance(parent, dict):
        for name in names:
            value = parent.get(name)
            if isinstance(value, list):
                return value
    return []


def _items(document: dict[str, Any], signal: Signal) -> list[Any]:
    """Every JSON object in the request that may carry trace/span ids."""
    found: list[Any] = []
    if signal == "traces":
        for rs in _list(document, "resourceSpans", "resource_spans"):
            for ss in _list(rs, "scopeSpans", "scope_spans"):
                for span in _list(ss, "spans"):
                    found.append(span)
                    found.extend(_list(span, "links"))
    elif signal == "logs":
        for rl in _list(document, "resourceLogs", "resource_logs"):
            for sl in _list(rl, "scopeLogs", "scope_logs"):
                found.extend(_list(sl, "logRecords", "log_records"))
    else:
        for rm in _list(document, "resourceMetrics", "resource_metrics"):
            for sm in _list(rm, "scopeMetrics", "scope_metrics"):
                for metric in _list(sm, "metrics"):
                    if not isinstance(metric, dict):
                        continue
                    for kind in _METRIC_KINDS:
                        for point in _list(metric.get(kind), "dataPoints", "data_points"):
                            found.extend(_list(point, "exemplars"))
    return found


def _hex_ids(item: Any) -> None:
    if not isinstance(item, dict):
        return
    for name in _ID_FIELDS:
        value = item.get(name)
        if isinstance(value, str):
            if len(value) % 2 == 0 and _HEX.fullmatch(value):
                item[name] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
            else:
                item[name] = _BAD_ID
