"""Shapes shared by the OTLP receivers: what decoding a request yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

Signal = Literal["traces", "metrics", "logs"]
SIGNALS: tuple[Signal, ...] = ("traces", "metrics", "logs")

# partial_success.error_message keeps the first few reasons; a request with 10k bad spans
# must not answer with a 10k-line message.
MAX_ERROR_MESSAGES = 5


@dataclass
class Decoded:
    """One OTLP export request flattened into rows of the exporter's tables.

    `tables` maps a table name (``otel_traces``, ``otel_metrics_sum``, ...) to an Arrow table
    whose column names are that table's columns. `native` means there are no tables: the store
    flattens the request's protobuf itself. `accepted` and `rejected` count items (spans, log
    records, metric data points); `errors` explains the rejected ones.
    """

    signal: Signal
    tables: dict[str, pa.Table] = field(default_factory=dict)
    native: bool = False
    accepted: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    def reject(self, count: int, reason: str) -> None:
        self.rejected += count
        if len(self.errors) < MAX_ERROR_MESSAGES and reason not in self.errors:
            self.errors.append(reason)

    @property
    def error_message(self) -> str:
        return "; ".join(self.errors)


class DecodeError(ValueError):
    """The request as a whole cannot be read (malformed protobuf or JSON): a 400, nothing kept."""


Tables = dict[str, pa.Table]


@dataclass(frozen=True)
class Rows:
    """What one request adds to the store: Arrow tables, or protobuf for the store to flatten."""

    tables: Tables
    count: int  # items (spans, log records, points) the rows hold
    native: tuple[str, bytes] | None = None  # (signal, Export*ServiceRequest bytes)

    @property
    def nbytes(self) -> int:
        return int(sum(t.nbytes for t in self.tables.values())) + (len(self.native[1]) if self.native else 0)
