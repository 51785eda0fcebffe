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
from kokanee.ingest.wire import RawLogs, RawMetrics, RawTraces, full_class

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


def parse_canonical(signal: Signal, body: bytes) -> tuple[Message, bytes]:
    """Parses a body with the real OTLP classes and re-encodes it: (message, canonical bytes).

    ClickHouse's Protobuf reader is stricter than upb's parser. upb keeps the last of a oneof set
    twice, merges a singular message sent twice, and sets aside as unknown a known field with the
    wrong wire type; ClickHouse refuses all three ("OneOf has more than one value", "Protobuf
    messages are corrupted"). The re-encoded bytes hold exactly what upb understood, once, with
    unknown fields dropped, so what is acknowledged is what the store can take. Strings are
    checked for UTF-8 here (proto3 requires it), attribute values included. The same body always
    gives the same bytes, so a replay rebuilds the same rows. Returns `body` itself when it was
    canonical already (the usual case), so no second copy is held.
    """
    try:
        message: Message = full_class(signal).FromString(body)
    except ProtoDecodeError as exc:
        raise DecodeError(f"malformed OTLP/protobuf {signal} request: {exc}") from exc
    message.DiscardUnknownFields()
    canonical = message.SerializeToString()
    return message, body if canonical == body else canonical


def decode(signal: Signal, message: Message) -> Decoded:
    """Rows for the exporter's tables from a parsed request (protobuf or JSON)."""
    return _DECODERS[signal](message)
