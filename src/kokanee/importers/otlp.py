"""Small builders for OTLP protobuf messages, shared by the format readers.

Readers append into the request's repeated fields (`add()`) instead of constructing
messages and copying them in: with upb a copy costs as much as building the message again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from kokanee.importers.types import Signal

AttrValue = str | bool | int | float

SPAN_KIND_UNSPECIFIED = trace_pb2.Span.SPAN_KIND_UNSPECIFIED
SPAN_KIND_INTERNAL = trace_pb2.Span.SPAN_KIND_INTERNAL
SPAN_KIND_SERVER = trace_pb2.Span.SPAN_KIND_SERVER
SPAN_KIND_CLIENT = trace_pb2.Span.SPAN_KIND_CLIENT
SPAN_KIND_PRODUCER = trace_pb2.Span.SPAN_KIND_PRODUCER
SPAN_KIND_CONSUMER = trace_pb2.Span.SPAN_KIND_CONSUMER
STATUS_UNSET = trace_pb2.Status.STATUS_CODE_UNSET
STATUS_OK = trace_pb2.Status.STATUS_CODE_OK
STATUS_ERROR = trace_pb2.Status.STATUS_CODE_ERROR

# Severity numbers from the OTLP logs data model for the usual level words.
SEVERITY_NUMBERS: dict[str, int] = {
    "TRACE": logs_pb2.SEVERITY_NUMBER_TRACE,
    "DEBUG": logs_pb2.SEVERITY_NUMBER_DEBUG,
    "INFO": logs_pb2.SEVERITY_NUMBER_INFO,
    "WARN": logs_pb2.SEVERITY_NUMBER_WARN,
    "WARNING": logs_pb2.SEVERITY_NUMBER_WARN,
    "ERROR": logs_pb2.SEVERITY_NUMBER_ERROR,
    "FATAL": logs_pb2.SEVERITY_NUMBER_FATAL,
}

SCOPE_NAME = "kokanee.importers"


def new_request(signal: Signal) -> Any:
    """An empty Export*ServiceRequest for `signal`."""
    if signal == "traces":
        return ExportTraceServiceRequest()
    if signal == "logs":
        return ExportLogsServiceRequest()
    return ExportMetricsServiceRequest()


def hex_id(value: str, size: int) -> bytes:
    """A hex trace id (size 16) or span id (size 8) as bytes; b"" when absent or invalid.

    Shorter hex is left-padded with zeros: Jaeger and Zipkin allow 64-bit trace ids, which
    OTLP carries as 128-bit ids with the high half zero (as the collector's translators do).
    """
    if len(value) != size * 2:
        if not value or len(value) > size * 2:
            return b""
        value = value.rjust(size * 2, "0")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return b""
    # fromhex skips whitespace, so a short result means the text was not all hex digits.
    return raw if len(raw) == size else b""


def set_value(target: Any, value: AttrValue) -> None:
    """Fills an AnyValue from a Python scalar (bool before int: bool is an int subclass)."""
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    else:
        target.string_value = str(value)


def add_attributes(repeated: Any, attributes: Mapping[str, AttrValue]) -> None:
    """Appends key/values to a repeated KeyValue field."""
    for key, value in attributes.items():
        kv = repeated.add()
        kv.key = key
        set_value(kv.value, value)


@lru_cache(maxsize=4096)
def service_from_pod(pod: str) -> str:
    """The workload name of a Kubernetes pod: `ts-contacts-service-866bd68c97-xcqfx` →
    `ts-contacts-service`.

    Kubernetes draws pod and ReplicaSet hash suffixes from an alphabet with no vowels and no
    0/1/3 (k8s.io/apimachinery rand.SafeEncodeString), so a trailing `-service` is never
    taken for a hash. A StatefulSet's `-0` ordinal is removed too.
    """
    for pattern in (_DEPLOYMENT_POD, _SHORT_POD, _STATEFUL_POD):
        match = pattern.match(pod)
        if match:
            return match.group(1)
    return pod


_SAFE = "bcdfghjklmnpqrstvwxz2456789"
_DEPLOYMENT_POD = re.compile(rf"^(.+)-[{_SAFE}]{{6,10}}-[{_SAFE}]{{5}}$")
_SHORT_POD = re.compile(rf"^(.+)-[{_SAFE}]{{5}}$")
_STATEFUL_POD = re.compile(r"^(.+)-\d+$")


def count_items(signal: Signal, request: Any) -> int:
    """Spans, log records or metric data points in a request."""
    total = 0
    if signal == "traces":
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                total += len(ss.spans)
    elif signal == "logs":
        for rl in request.resource_logs:
            for sl in rl.scope_logs:
                total += len(sl.log_records)
    else:
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    kind = metric.WhichOneof("data")
                    if kind is not None:
                        total += len(getattr(metric, kind).data_points)
    return total
