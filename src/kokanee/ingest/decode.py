"""The ingest entry points: request bytes → message → `Decoded`, whatever the signal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError as ProtoDecodeError
from google.protobuf.message import Message

from kokanee.ingest.decode_logs import decode_logs
from kokanee.ingest.decode_metrics import decode_metrics
from kokanee.ingest.decode_traces import decode_traces
from kokanee.ingest.types import Decoded, DecodeError, Signal
from kokanee.ingest.wire import RawLogs, RawMetrics, RawTraces

_RAW: dict[str, Any] = {"traces": RawTraces, "logs": RawLogs, "metrics": RawMetrics}
_DECODERS: dict[str, Callable[[Any], Decoded]] = {
    "traces": decode_traces,
    "logs": decode_logs,
    "metrics": decode_metrics,
}


def parse_protobuf(signal: Signal, body: bytes) -> Message:
    """Parse an Export*ServiceRequest body; raises `DecodeError` if it is not valid protobuf.

    The result is the `wire` shadow class (attributes as raw bytes), which the decoders read
    fastest; it serializes to the same bytes as the regular OTLP message.
    """
    try:
        message: Message = _RAW[signal].FromString(body)
    except ProtoDecodeError as exc:
        raise DecodeError(f"malformed OTLP/protobuf {signal} request: {exc}") from exc
    return message


def decode(signal: Signal, message: Message) -> Decoded:
    """Rows for the exporter's tables from a parsed request (protobuf or JSON)."""
    return _DECODERS[signal](message)
