"""OTLP/HTTP receiver: POST /v1/traces, /v1/metrics, /v1/logs, protobuf or JSON, gzip or deflate.

Spec: https://opentelemetry.io/docs/specs/otlp/#otlphttp. Every client mistake is a 4xx with a
google.rpc.Status body saying what was wrong; back-pressure is 429/503 with Retry-After.
"""

from __future__ import annotations

import hmac
import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kokanee import selfmetrics
from kokanee.ingest.body import BodyError, inflate, read_limited, too_large
from kokanee.ingest.errors import Backpressure, NotDurable, PipelineFull
from kokanee.ingest.receiver import Decoder, Sink, export
from kokanee.ingest.responses import HTTP_TO_GRPC, encode, export_response, status
from kokanee.ingest.types import DecodeError, Signal

log = logging.getLogger(__name__)

_ENCODINGS = {
    "application/x-protobuf": "protobuf",
    "application/protobuf": "protobuf",
    "application/json": "json",
}


def _error(http_status: int, message: str, encoding: str, retry_after_s: int | None = None) -> Response:
    body, content_type = encode(status(HTTP_TO_GRPC.get(http_status, 2), message, retry_after_s), encoding)
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return Response(body, status_code=http_status, media_type=content_type, headers=headers)


def _content_encoding(request: Request) -> str | None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return _ENCODINGS.get(content_type)


def authorized(header: str | None, token: str | None) -> bool:
    if token is None:
        return True
    expected = f"Bearer {token}".encode()
    return header is not None and hmac.compare_digest(header.encode(), expected)


def otlp_http_app(sink: Sink, decoder: Decoder, max_body_bytes: int, ingest_token: str | None = None) -> Starlette:
    """The receiver as an ASGI app; `sink` is where accepted requests go (the pipeline)."""

    def endpoint(signal: Signal):  # type: ignore[no-untyped-def]
        async def handle(request: Request) -> Response:
            encoding = _content_encoding(request)
            reply_encoding = encoding or "json"
            if not authorized(request.headers.get("authorization"), ingest_token):
                selfmetrics.ITEMS_REJECTED.labels(signal, "unauthorized").inc()
                return _error(401, "missing or wrong bearer token", reply_encoding)
            if encoding is None:
                selfmetrics.ITEMS_REJECTED.labels(signal, "unsupported_media_type").inc()
                got = request.headers.get("content-type") or "none"
                return _error(
                    415,
                    f"unsupported Content-Type {got!r}; use application/x-protobuf or application/json",
                    "json",
                )
            declared = request.headers.get("content-length", "")
            if declared and not declared.isdigit():
                return _error(400, "Content-Length is not a number", reply_encoding)
            try:
                if declared and int(declared) > max_body_bytes:
                    raise too_large(max_body_bytes)
                raw = await read_limited(request.stream(), max_body_bytes)
                body = inflate(raw, request.headers.get("content-encoding", ""), max_body_bytes)
                client = request.client
                source = f"http {client.host}:{client.port}" if client else "http"
                outcome = await export(sink, decoder, signal, body, encoding, "http", source)
            except (BodyError, DecodeError) as e:
                code = e.status if isinstance(e, BodyError) else 400
                if code == 413:
                    selfmetrics.ITEMS_REJECTED.labels(signal, "too_large").inc()
                return _error(code, str(e), reply_encoding)
            except Backpressure as e:
                code = 429 if isinstance(e, PipelineFull) else 503
                return _error(code, str(e), reply_encoding, e.retry_after_s)
            except NotDurable as e:
                log.error("cannot make data durable: %s", e)
                return _error(503, f"cannot write to the write-ahead log ({e}); retry later", reply_encoding, 5)
            if outcome.all_rejected:
                return _error(400, f"every item was rejected: {outcome.error_message}", reply_encoding)
            body_out, content_type = encode(export_response(signal, outcome), encoding)
            return Response(body_out, media_type=content_type)

        return handle

    routes = [Route(f"/v1/{signal}", endpoint(signal), methods=["POST"]) for signal in ("traces", "metrics", "logs")]
    return Starlette(routes=routes)
