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


def parse_full(signal: Signal, body: bytes) -> Message:
    """Parses a body with the regular OTLP classes (attributes included); raises `DecodeError`.

    Stricter than `parse_protobuf`: every string, attribute keys and values too, must be UTF-8
    (proto3 requires it), so a body that passes can always be re-encoded by `canonical`.
    """
    try:
        message: Message = full_class(signal).FromString(body)
    except ProtoDecodeError as exc:
        raise DecodeError(f"malformed OTLP/protobuf {signal} request: {exc}") from exc
    return message


def canonical(signal: Signal, body: bytes) -> bytes:
    """A body that `parse_full` accepts, re-encoded the way the store can always read it.

    ClickHouse's Protobuf reader is stricter than upb's parser. upb keeps the last of a oneof set
    twice, merges a singular message sent twice, and sets aside as unknown a known field with the
    wrong wire type; ClickHouse refuses all three ("OneOf has more than one value", "Protobuf
    messages are corrupted"). The re-encoded bytes hold exactly what upb understood, once, with
    unknown fields dropped. The same body always gives the same bytes (a replay repeats them).
    Returns `body` itself when it was canonical already. Costs ~3.5 µs a span, so the pipeline
    calls it only for a batch the store refused.
    """
    message = parse_full(signal, body)
    message.DiscardUnknownFields()
    encoded = message.SerializeToString()
    return body if encoded == body else encoded


def decode(signal: Signal, message: Message) -> Decoded:
    """Rows for the exporter's tables from a parsed request (protobuf or JSON)."""
    return _DECODERS[signal](message)
