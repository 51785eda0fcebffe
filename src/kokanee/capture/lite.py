"""Just-enough OTLP messages for the index: service names and event times, nothing else.

Parsing a request with these skips attributes, bodies and ids (unknown fields to these
messages), which makes summarising a captured request several times cheaper than a full
Export*ServiceRequest parse. Field numbers are those of opentelemetry-proto.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message_factory import GetMessageClass

_F = descriptor_pb2.FieldDescriptorProto
_SCHEMA: dict[str, list[tuple[str, int, int, str | None, bool]]] = {
    # message: [(field, number, type, message type, repeated)]
    "AnyValue": [("string_value", 1, _F.TYPE_STRING, None, False)],
    "KeyValue": [("key", 1, _F.TYPE_STRING, None, False), ("value", 2, _F.TYPE_MESSAGE, "AnyValue", False)],
    "Resource": [("attributes", 1, _F.TYPE_MESSAGE, "KeyValue", True)],
    "Span": [("start_time_unix_nano", 7, _F.TYPE_FIXED64, None, False),
             ("end_time_unix_nano", 8, _F.TYPE_FIXED64, None, False)],
    "ScopeSpans": [("spans", 2, _F.TYPE_MESSAGE, "Span", True)],
    "ResourceSpans": [("resource", 1, _F.TYPE_MESSAGE, "Resource", False),
                      ("scope_spans", 2, _F.TYPE_MESSAGE, "ScopeSpans", True)],
    "Traces": [("resource_spans", 1, _F.TYPE_MESSAGE, "ResourceSpans", True)],
    "LogRecord": [("time_unix_nano", 1, _F.TYPE_FIXED64, None, False),
                  ("observed_time_unix_nano", 11, _F.TYPE_FIXED64, None, False)],
    "ScopeLogs": [("log_records", 2, _F.TYPE_MESSAGE, "LogRecord", True)],
    "ResourceLogs": [("resource", 1, _F.TYPE_MESSAGE, "Resource", False),
                     ("scope_logs", 2, _F.TYPE_MESSAGE, "ScopeLogs", True)],
    "Logs": [("resource_logs", 1, _F.TYPE_MESSAGE, "ResourceLogs", True)],
    "Point": [("time_unix_nano", 3, _F.TYPE_FIXED64, None, False)],
    "Points": [("data_points", 1, _F.TYPE_MESSAGE, "Point", True)],
    "Metric": [("gauge", 5, _F.TYPE_MESSAGE, "Points", False), ("sum", 7, _F.TYPE_MESSAGE, "Points", False),
               ("histogram", 9, _F.TYPE_MESSAGE, "Points", False),
               ("exponential_histogram", 10, _F.TYPE_MESSAGE, "Points", False),
               ("summary", 11, _F.TYPE_MESSAGE, "Points", False)],
    "ScopeMetrics": [("metrics", 2, _F.TYPE_MESSAGE, "Metric", True)],
    "ResourceMetrics": [("resource", 1, _F.TYPE_MESSAGE, "Resource", False),
                        ("scope_metrics", 2, _F.TYPE_MESSAGE, "ScopeMetrics", True)],
    "Metrics": [("resource_metrics", 1, _F.TYPE_MESSAGE, "ResourceMetrics", True)],
}  # fmt: skip


def _classes() -> dict[str, Any]:
    file = descriptor_pb2.FileDescriptorProto(name="kokanee_capture_lite.proto", package="kokanee.lite")
    file.syntax = "proto3"
    for name, fields in _SCHEMA.items():
        message = file.message_type.add(name=name)
        for field, number, kind, type_name, repeated in fields:
            f = message.field.add(name=field, number=number, type=kind)  # type: ignore[arg-type]
            f.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
            if type_name:
                f.type_name = f".kokanee.lite.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {n: GetMessageClass(pool.FindMessageTypeByName(f"kokanee.lite.{n}")) for n in ("Traces", "Logs", "Metrics")}


REQUESTS = dict(zip(("traces", "logs", "metrics"), _classes().values(), strict=True))
