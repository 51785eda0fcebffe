"""Shadow OTLP message classes whose `attributes` fields parse as raw bytes.

upb builds a Python wrapper for every KeyValue and AnyValue touched (~1 µs each), which makes
attributes the bulk of decode time. These classes are the real OTLP protos re-registered in a
private pool with every ``repeated KeyValue`` field (except inside AnyValue) retyped as
``repeated bytes``: the wire format is identical, so the same request bytes parse, and each
attribute arrives as its serialized KeyValue, which `attributes.AttrCache` converts once per
distinct (key, value) pair.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

_KEY_VALUE = ".opentelemetry.proto.common.v1.KeyValue"
# Nested values stay real messages: they are rare and go through the slow converter anyway.
_KEEP = {"KeyValueList"}


def _add(pool: descriptor_pool.DescriptorPool, file: Any, seen: set[str]) -> None:
    if file.name in seen:
        return
    for dep in file.dependencies:
        _add(pool, dep, seen)
    proto = descriptor_pb2.FileDescriptorProto()
    file.CopyToProto(proto)
    for message in proto.message_type:
        _retype(message)
    pool.Add(proto)
    seen.add(file.name)


def _retype(message: descriptor_pb2.DescriptorProto) -> None:
    for nested in message.nested_type:
        _retype(nested)
    if message.name in _KEEP:
        return
    for field in message.field:
        if field.type_name == _KEY_VALUE:
            field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
            field.ClearField("type_name")


def _build() -> dict[str, Any]:
    pool = descriptor_pool.DescriptorPool()
    seen: set[str] = set()
    classes: dict[str, Any] = {}
    for module, name in (
        (trace_service_pb2, "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"),
        (logs_service_pb2, "opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest"),
        (metrics_service_pb2, "opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest"),
    ):
        _add(pool, module.DESCRIPTOR, seen)
        classes[name.rsplit(".", 1)[1]] = message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
    return classes


_FULL: dict[str, Any] = {
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "logs": logs_service_pb2.ExportLogsServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
}


def full_class(signal: str) -> Any:
    """The regular OTLP request class of a signal (every field typed, attributes included)."""
    return _FULL[signal]


_CLASSES = _build()
RawTraces: Any = _CLASSES["ExportTraceServiceRequest"]
RawLogs: Any = _CLASSES["ExportLogsServiceRequest"]
RawMetrics: Any = _CLASSES["ExportMetricsServiceRequest"]
