"""An OTLP/HTTP protobuf client for imports: gzip, a few requests in flight, retries.

Retries follow the OTLP/HTTP specification's list (429, 502, 503, 504 and lost
connections), waiting `Retry-After` when the server gives one and an exponential backoff
with jitter otherwise, up to `max_elapsed` seconds per request. Any other error status
stops the import with the server's own message: resending what it rejected cannot help.
A server that cannot be reached at all is named at its first failure, with the flag that
points elsewhere, so a wrong URL shows at once and not after the retry budget.
https://opentelemetry.io/docs/specs/otlp/#otlphttp-throttling
"""

from __future__ import annotations

import email.utils
import gzip
import json
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from kokanee.importers.types import MAX_PROBLEMS, Batch, Signal

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
_RESPONSES: dict[Signal, tuple[Any, str]] = {
    "traces": (ExportTraceServiceResponse, "rejected_spans"),
    "logs": (ExportLogsServiceResponse, "rejected_log_records"),
    "metrics": (ExportMetricsServiceResponse, "rejected_data_points"),
}


class SendError(Exception):
    """The server refused data for good, or stayed unavailable past the retry budget."""


@dataclass
class SendStats:
    """What the server acknowledged: items sent, and those it said it rejected."""

    sent: dict[Signal, int] = field(default_factory=lambda: {"traces": 0, "logs": 0, "metrics": 0})
    rejected: dict[Signal, int] = field(default_factory=lambda: {"traces": 0, "logs": 0, "metrics": 0})
    requests: int = 0
    retries: int = 0
    bytes_sent: int = 0
    messages: list[str] = field(default_factory=list)


class HttpPoster:
    """POSTs with the retry policy above; shared by OTLP export and the labels API."""

    def __init__(
        self,
        token: str | None = None,
        timeout: float = 30.0,
        max_elapsed: float = 300.0,
        connections: int = 4,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.client = httpx.Client(headers=headers, timeout=timeout, limits=limits)
        self.max_elapsed = max_elapsed
        self.retries = 0
        self.warn = warn
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def post(self, url: str, content: bytes, headers: dict[str, str], flag: str | None = None) -> httpx.Response:
        """`flag`: the command-line option that sets this URL, named when it cannot be reached."""
        deadline = time.monotonic() + self.max_elapsed
        backoff = 0.5
        while True:
            try:
                response = self.client.post(url, content=content, headers=headers)
            except httpx.TransportError as error:
                reason, wait = f"{type(error).__name__}: {error}", backoff
                self._unreachable(url, reason, flag)
            else:
                if response.is_success:
                    return response
                if response.status_code not in RETRYABLE_STATUS:
                    raise SendError(f"{url} answered {response.status_code}: {error_message(response)}")
                reason = f"{response.status_code} {error_message(response)}"
                after = _retry_after(response)
                wait = backoff if after is None else after
            if time.monotonic() + wait > deadline:
                hint = f" (is {flag} right?)" if flag and url in self._warned else ""
                raise SendError(f"{url} still failing after {self.max_elapsed:g} s: {reason}{hint}")
            with self._lock:
                self.retries += 1
            # ±20% jitter so parallel senders do not come back in lockstep (as the SDKs do).
            time.sleep(wait * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, 30.0)

    def post_json(self, url: str, body: Any, flag: str | None = None, token: str | None = None) -> Any:
        """`token`: a bearer token for this request instead of the poster's own."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.post(url, json.dumps(body).encode(), headers, flag)
        return response.json() if response.content else None

    def _unreachable(self, url: str, reason: str, flag: str | None) -> None:
        """Says once per URL, at its first failure, which URL is unreachable and how to change it."""
        with self._lock:
            if url in self._warned:
                return
            self._warned.add(url)
        if self.warn is not None:
            change = f"; if kokanee listens elsewhere, set {flag}" if flag else ""
            self.warn(f"cannot reach {url} ({reason}){change}. Retrying for up to {self.max_elapsed:g} s.")

    def close(self) -> None:
        self.client.close()


class OtlpSender:
    """Sends batches to `{endpoint}/v1/{signal}` with up to `in_flight` requests at once.

    `submit` blocks while `in_flight` requests are pending, so a fast reader cannot pile up
    batches in memory; a request that failed for good is raised by the next `submit` or
    by `flush`.
    """

    def __init__(self, endpoint: str, poster: HttpPoster, in_flight: int = 4, flag: str | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.poster = poster
        self.flag = flag  # the option that set `endpoint`, named if it cannot be reached
        self.stats = SendStats()
        self._pool = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="kokanee-import")
        self._slots = threading.BoundedSemaphore(in_flight)
        self._lock = threading.Lock()
        self._pending: set[Future[None]] = set()
        self._error: BaseException | None = None

    def submit(self, batch: Batch) -> None:
        self._raise_error()
        if batch.items == 0:
            return
        self._slots.acquire()
        future = self._pool.submit(self._send, batch)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def flush(self) -> SendStats:
        """Waits for every pending request; returns the totals so far."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.exception()
        self._raise_error()
        self.stats.retries = self.poster.retries
        return self.stats

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _send(self, batch: Batch) -> None:
        body = gzip.compress(batch.request.SerializeToString(), compresslevel=1)
        headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
        response = self.poster.post(f"{self.endpoint}/v1/{batch.signal}", body, headers, self.flag)
        rejected, message = _partial_success(batch.signal, response)
        with self._lock:
            self.stats.requests += 1
            self.stats.bytes_sent += len(body)
            self.stats.sent[batch.signal] += batch.items - rejected
            self.stats.rejected[batch.signal] += rejected
            if message and len(self.stats.messages) < MAX_PROBLEMS:
                self.stats.messages.append(message)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)
            error = None if future.cancelled() else future.exception()
            if error is not None and self._error is None:
                self._error = error
        self._slots.release()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error


def _partial_success(signal: Signal, response: httpx.Response) -> tuple[int, str]:
    """Rejected item count and message from an Export*ServiceResponse (protobuf or JSON)."""
    if not response.content:
        return 0, ""
    message_type, field_name = _RESPONSES[signal]
    if "json" in response.headers.get("content-type", ""):
        partial = response.json().get("partialSuccess") or {}
        camel = "".join(part.title() for part in field_name.split("_"))
        return int(partial.get(camel[0].lower() + camel[1:], 0)), str(partial.get("errorMessage", ""))
    try:
        parsed = message_type.FromString(response.content)
    except Exception:  # a 2xx with an odd body still means "accepted"
        return 0, ""
    partial = parsed.partial_success
    return int(getattr(partial, field_name)), str(partial.error_message)


def error_message(response: httpx.Response) -> str:
    """The server's explanation: a google.rpc.Status (OTLP/HTTP), JSON, or text."""
    content_type = response.headers.get("content-type", "")
    if "protobuf" in content_type:
        try:
            return str(status_pb2.Status.FromString(response.content).message) or response.reason_phrase
        except Exception:  # fall back to the raw text below
            pass
    if "json" in content_type:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            for key in ("message", "error", "detail"):
                if body.get(key):
                    return str(body[key])
    return response.text[:500] or response.reason_phrase


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
