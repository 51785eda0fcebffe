"""Why a request was not accepted now. Each is retryable: the exporter should send it again.

Declared with the receivers that answer them; the pipeline, a later stage, raises them.
"""

from __future__ import annotations


class Backpressure(RuntimeError):
    """The request was not accepted and may be sent again after `retry_after_s`."""

    retry_after_s: int = 1


class PipelineFull(Backpressure):
    """Acknowledged data waiting for the store has reached its memory bound (HTTP 429)."""

    retry_after_s = 1


class StoreDown(Backpressure):
    """The store refuses writes (down, disk full); acknowledged data waits in the WAL (HTTP 503)."""

    retry_after_s = 5


class NotDurable(RuntimeError):
    """The request could not be made durable (disk full, I/O error): HTTP 503, retry later."""
