"""OTLP/gRPC receiver: TraceService, MetricsService and LogsService Export on one grpc.aio server.

Requests arrive as raw bytes (no deserializer), so the WAL keeps exactly what was sent and the
decoder parses once. Back-pressure answers RESOURCE_EXHAUSTED with RetryInfo (which OTLP
clients treat as retryable) or UNAVAILABLE, per https://opentelemetry.io/docs/specs/otlp/#failures.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import grpc
from google.rpc import code_pb2

from kokanee.ingest.errors import Backpressure, NotDurable, PipelineFull
from kokanee.ingest.http import authorized
from kokanee.ingest.receiver import Decoder, Sink, export
from kokanee.ingest.responses import export_response, status
from kokanee.ingest.types import DecodeError, Signal

log = logging.getLogger(__name__)

_SERVICES: dict[Signal, str] = {
    "traces": "opentelemetry.proto.collector.trace.v1.TraceService",
    "metrics": "opentelemetry.proto.collector.metrics.v1.MetricsService",
    "logs": "opentelemetry.proto.collector.logs.v1.LogsService",
}


async def _abort(context: grpc.aio.ServicerContext, code: int, message: str, retry_after_s: int | None = None) -> None:
    details = status(code, message, retry_after_s).SerializeToString()
    await context.abort(
        grpc.StatusCode[code_pb2.Code.Name(code)],
        message,
        trailing_metadata=(("grpc-status-details-bin", details),),
    )


def _handler(
    sink: Sink, decoder: Decoder, signal: Signal, ingest_token: str | None
) -> Callable[[bytes, grpc.aio.ServicerContext], Awaitable[bytes]]:
    async def export_rpc(body: bytes, context: grpc.aio.ServicerContext) -> bytes:
        metadata = dict(context.invocation_metadata() or ())
        if not authorized(metadata.get("authorization"), ingest_token):
            await _abort(context, code_pb2.UNAUTHENTICATED, "missing or wrong bearer token")
        try:
            outcome = await export(sink, decoder, signal, body, "protobuf", "grpc", f"grpc {context.peer()}")
        except DecodeError as e:
            await _abort(context, code_pb2.INVALID_ARGUMENT, str(e))
        except Backpressure as e:
            code = code_pb2.RESOURCE_EXHAUSTED if isinstance(e, PipelineFull) else code_pb2.UNAVAILABLE
            await _abort(context, code, str(e), e.retry_after_s)
        except NotDurable as e:
            log.error("cannot make data durable: %s", e)
            await _abort(context, code_pb2.UNAVAILABLE, f"cannot write to the write-ahead log ({e})", 5)
        if outcome.all_rejected:
            await _abort(context, code_pb2.INVALID_ARGUMENT, f"every item was rejected: {outcome.error_message}")
        return bytes(export_response(signal, outcome).SerializeToString())

    return export_rpc


def otlp_grpc_server(
    sink: Sink, decoder: Decoder, address: str, max_message_bytes: int, ingest_token: str | None
) -> grpc.aio.Server:
    """A grpc.aio server bound to `address`, not started."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
        ],
    )
    for signal, service in _SERVICES.items():
        method = grpc.unary_unary_rpc_method_handler(
            _handler(sink, decoder, signal, ingest_token),
            request_deserializer=None,
            response_serializer=None,
        )
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {"Export": method}),))
    server.add_insecure_port(address)
    return server
