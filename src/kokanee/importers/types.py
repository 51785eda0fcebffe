"""Shapes shared by the importers: what a reader yields and what the command reports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

Signal = Literal["traces", "metrics", "logs"]

# A problem list must stay readable when a file is badly broken: keep the first few.
MAX_PROBLEMS = 20


@dataclass
class Batch:
    """One OTLP export request ready to send.

    `request` is an ExportTraceServiceRequest, ExportLogsServiceRequest or
    ExportMetricsServiceRequest matching `signal`; `items` counts its spans, log records or
    metric data points.
    """

    signal: Signal
    request: Any
    items: int


@dataclass(frozen=True)
class FaultLabel:
    """A known fault in the recorded period; times in unix ns, `end` None when unknown."""

    start: int
    end: int | None
    service: str
    kind: str
    source: str
    detail: str

    def to_json(self, offset_ns: int = 0) -> dict[str, Any]:
        return {
            "start": self.start + offset_ns,
            "end": None if self.end is None else self.end + offset_ns,
            "service": self.service,
            "kind": self.kind,
            "source": self.source,
            "detail": self.detail,
        }


@dataclass
class Problems:
    """Records that could not be read: counted, the first few explained, never fatal."""

    count: int = 0
    messages: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.messages) < MAX_PROBLEMS:
            self.messages.append(message)


class Source(Protocol):
    """A recording in one format: files to read, in order, and the labels it carries.

    `read` streams one file as batches of at most `batch_size` items; problems in single
    records go to `problems` and the file goes on.
    """

    format: str
    problems: Problems

    def files(self) -> list[Path]: ...

    def read(self, path: Path, batch_size: int) -> Iterator[Batch]: ...

    def labels(self) -> list[FaultLabel]: ...


class ImportFailed(Exception):
    """The recording cannot be imported as asked (unknown format, unreadable file)."""
