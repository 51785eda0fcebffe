"""What both OTLP transports do with a request body: decode, validate, make durable, answer.

Transports differ only in how they read the body and spell the answer (HTTP status and
encoding, gRPC status codes); the decision is made here once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from kokanee import selfmetrics
from kokanee.ingest.decode import parse_protobuf
from kokanee.ingest.decode import decode as decode_message
from kokanee.ingest.otlp_json import parse_json
from kokanee.ingest.types import DecodeError, Decoded, Signal

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where accepted requests go: the pipeline, or a recording sink in tests."""

    async def submit(self, signal: str, payload: bytes, tables: dict[str, Any]) -> int: ...


@dataclass(frozen=True)
class Outcome:
    """The result of one export: how many items were kept and why others were not."""

    accepted: int
    rejected: int
    error_message: str

    @property
    def all_rejected(self) -> bool:
        return self.accepted == 0 and self.rejected > 0


def decode_payload(signal: Signal, body: bytes, encoding: str) -> tuple[Decoded, bytes]:
    """Parses a body (`protobuf` or `json`) into rows, and returns the protobuf bytes the WAL keeps."""
    if encoding == "json":
        message = parse_json(signal, body)
        decoded = decode_message(signal, message)
        return decoded, message.SerializeToString() if decoded.accepted else b""
    message = parse_protobuf(signal, body)
    return decode_message(signal, message), body


async def export(sink: Sink, signal: Signal, body: bytes, encoding: str, transport: str) -> Outcome:
    """Decodes and stores one request. Raises DecodeError for unreadable bodies and the sink's
    retryable errors (Backpressure, WalError) when nothing could be accepted now."""
    try:
        decoded, payload = decode_payload(signal, body, encoding)
    except DecodeError:
        selfmetrics.ITEMS_REJECTED.labels(signal, "malformed").inc()
        selfmetrics.REQUESTS.labels(signal, transport, "rejected").inc()
        raise
    if decoded.rejected:
        selfmetrics.ITEMS_REJECTED.labels(signal, "invalid").inc(decoded.rejected)
    if decoded.accepted:
        try:
            await sink.submit(signal, payload, decoded.tables)
        except Exception:
            selfmetrics.REQUESTS.labels(signal, transport, "throttled").inc()
            selfmetrics.ITEMS_REJECTED.labels(signal, "throttled").inc(decoded.accepted)
            raise
        selfmetrics.ITEMS_ACCEPTED.labels(signal).inc(decoded.accepted)
    outcome = "ok" if not decoded.rejected else ("partial" if decoded.accepted else "rejected")
    selfmetrics.REQUESTS.labels(signal, transport, outcome).inc()
    return Outcome(decoded.accepted, decoded.rejected, decoded.error_message)
