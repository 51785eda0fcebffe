"""What both OTLP transports do with a request body: decode, validate, make durable, answer.

Transports differ only in how they read the body and spell the answer (HTTP status and
encoding, gRPC status codes); the decision is made here once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from kokanee import selfmetrics
from kokanee.ingest.decode import decode as decode_message
from kokanee.ingest.decode import parse_full, parse_protobuf
from kokanee.ingest.otlp_json import parse_json
from kokanee.ingest.types import Decoded, DecodeError, Rows, Signal
from kokanee.ingest.validate import validate

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where accepted requests go: the pipeline, or a recording sink in tests."""

    async def submit(self, signal: str, payload: bytes, rows: Rows, encoding: str, source: str) -> int:
        """Makes the request durable; returns its WAL sequence, or 0 for a resend already durable."""
        ...

    def admit(self, signal: str, body: bytes, encoding: str) -> None:
        """Raises a retryable error (Backpressure) if a request of this size would be refused now."""
        ...


@dataclass(frozen=True)
class Outcome:
    """The result of one export: how many items were kept and why others were not."""

    accepted: int
    rejected: int
    error_message: str

    @property
    def all_rejected(self) -> bool:
        return self.accepted == 0 and self.rejected > 0


class Decoder:
    """Turns request bodies into rows. Signals in `native` are only validated here; the store
    flattens their protobuf itself (fast). Others are flattened in Python to Arrow."""

    def __init__(self, native: frozenset[str] = frozenset()) -> None:
        self.native = native

    def _decode(self, signal: Signal, message: Any) -> Decoded:
        if signal in self.native:
            return validate(signal, message)
        return decode_message(signal, message)

    def payload(self, signal: Signal, body: bytes, encoding: str) -> tuple[Decoded, bytes]:
        """Parses a body (`protobuf` or `json`); returns the result and the request as protobuf.

        A body the store flattens is parsed in full (`parse_full`), so it is acknowledged only if
        it can be re-encoded into bytes the store reads (`canonical`, which the pipeline applies
        when the store refuses the body as sent).
        """
        if encoding == "json":
            message = parse_json(signal, body)
            decoded = self._decode(signal, message)
            return decoded, message.SerializeToString() if decoded.accepted and decoded.native else b""
        if signal in self.native:
            decoded = validate(signal, parse_full(signal, body))
            return decoded, body if decoded.accepted else b""
        return decode_message(signal, parse_protobuf(signal, body)), body

    def rows(self, decoded: Decoded, payload: bytes) -> Rows:
        native = (decoded.signal, payload) if decoded.native else None
        return Rows(decoded.tables, decoded.accepted, native)

    def replay(self, signal: str, body: bytes, encoding: str) -> Rows:
        """Rebuilds a logged request's rows; the same bytes always give the same rows."""
        sig: Signal = signal  # type: ignore[assignment]
        decoded, protobuf = self.payload(sig, body, encoding)
        return self.rows(decoded, protobuf)


async def export(
    sink: Sink, decoder: Decoder, signal: Signal, body: bytes, encoding: str, transport: str, source: str = ""
) -> Outcome:
    """Decodes and stores one request. Raises DecodeError for unreadable bodies and the sink's
    retryable errors (Backpressure, WalError) when nothing could be accepted now."""
    try:
        sink.admit(signal, body, encoding)  # before the parse: under overload a refusal must cost little
    except Exception:
        selfmetrics.REQUESTS.labels(signal, transport, "throttled").inc()
        raise
    try:
        decoded, payload = decoder.payload(signal, body, encoding)
    except DecodeError:
        selfmetrics.ITEMS_REJECTED.labels(signal, "malformed").inc()
        selfmetrics.REQUESTS.labels(signal, transport, "rejected").inc()
        raise
    if decoded.rejected:
        selfmetrics.ITEMS_REJECTED.labels(signal, "invalid").inc(decoded.rejected)
    if decoded.accepted:
        try:
            # The WAL keeps the body as received; the store gets protobuf.
            seq = await sink.submit(signal, body, decoder.rows(decoded, payload), encoding, source)
        except Exception:
            selfmetrics.REQUESTS.labels(signal, transport, "throttled").inc()
            selfmetrics.ITEMS_REJECTED.labels(signal, "throttled").inc(decoded.accepted)
            raise
        if seq == 0:  # a resend of a request already durable: same answer, nothing stored twice
            selfmetrics.REQUESTS.labels(signal, transport, "duplicate").inc()
            return Outcome(decoded.accepted, decoded.rejected, decoded.error_message)
        selfmetrics.ITEMS_ACCEPTED.labels(signal).inc(decoded.accepted)
    outcome = "ok" if not decoded.rejected else ("partial" if decoded.accepted else "rejected")
    selfmetrics.REQUESTS.labels(signal, transport, outcome).inc()
    return Outcome(decoded.accepted, decoded.rejected, decoded.error_message)
