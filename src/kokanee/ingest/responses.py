"""OTLP answers: Export*ServiceResponse with partial_success, and google.rpc.Status for errors.

Spec: https://opentelemetry.io/docs/specs/otlp/#partial-success — a fully accepted request
leaves partial_success unset; a partly accepted one counts and explains what was rejected.
"""

from __future__ import annotations

from google.protobuf import json_format
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from kokanee.ingest.receiver import Outcome
from kokanee.ingest.types import Signal

_REJECTED_FIELD = {
    "traces": "rejected_spans",
    "metrics": "rejected_data_points",
    "logs": "rejected_log_records",
}


def export_response(signal: Signal, outcome: Outcome) -> Message:
    response: Message
    if signal == "traces":
        response = trace_service_pb2.ExportTraceServiceResponse()
    elif signal == "metrics":
        response = metrics_service_pb2.ExportMetricsServiceResponse()
    else:
        response = logs_service_pb2.ExportLogsServiceResponse()
    if outcome.rejected or outcome.error_message:
        partial = response.partial_success  # type: ignore[attr-defined]
        setattr(partial, _REJECTED_FIELD[signal], outcome.rejected)
        partial.error_message = outcome.error_message
    return response


def status(code: int, message: str, retry_after_s: int | None = None) -> status_pb2.Status:
    """A google.rpc.Status; with `retry_after_s` it carries RetryInfo, which OTLP clients honour."""
    # The message may quote the request (a JSON string with a lone surrogate): keep it encodable.
    message = message.encode("utf-8", "replace").decode("utf-8")
    result = status_pb2.Status(code=code, message=message)
    if retry_after_s is not None:
        info = error_details_pb2.RetryInfo(retry_delay=Duration(seconds=retry_after_s))
        result.details.add().Pack(info)
    return result


def encode(message: Message, encoding: str) -> tuple[bytes, str]:
    """The message in the request's encoding, with its content type."""
    if encoding == "json":
        return json_format.MessageToJson(message, indent=None).encode(), "application/json"
    return message.SerializeToString(), "application/x-protobuf"


HTTP_TO_GRPC = {
    400: code_pb2.INVALID_ARGUMENT,
    401: code_pb2.UNAUTHENTICATED,
    413: code_pb2.INVALID_ARGUMENT,
    415: code_pb2.INVALID_ARGUMENT,
    429: code_pb2.RESOURCE_EXHAUSTED,
    503: code_pb2.UNAVAILABLE,
}
