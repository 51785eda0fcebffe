"""Spans as the trace scorers take them: one span (`RSpan`), or a window's spans as columns
(`SpanTable`, what `records.read_records` reads: a Python object per span costs more than the
scoring). Records only; reading them is `records`' job.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True, slots=True)
class RSpan:
    trace_id: str
    span_id: str
    parent_id: str
    service: str
    name: str
    kind: str
    start_ns: int
    duration_ns: int
    error: bool
    # The service a client span calls, as its attributes name it (peer.service, server.address):
    # where a call that got no answer at all was going.
    peer: str = ""


COLUMNS = ("trace_id", "span_id", "parent_id", "service", "name", "kind", "start_ns", "duration_ns", "error", "peer")
_SCHEMA = pa.schema(
    [
        *((name, pa.string()) for name in COLUMNS[:6]),
        ("start_ns", pa.int64()),
        ("duration_ns", pa.int64()),
        ("error", pa.bool_()),
        ("peer", pa.string()),
    ]
)


@dataclass(frozen=True)
class SpanTable:
    """Spans as an Arrow table with `COLUMNS` (the fields of `RSpan`), in the order read."""

    table: Any  # pa.Table

    @classmethod
    def of(cls, table: Any) -> SpanTable:
        """A table with `COLUMNS` in that order, cast to their types, each column one chunk (a read
        comes in a hundred; each computation over the columns would otherwise join them again)."""
        return cls(table.rename_columns(list(COLUMNS)).cast(_SCHEMA).combine_chunks())

    @classmethod
    def from_spans(cls, spans: Sequence[RSpan]) -> SpanTable:
        return cls(pa.table({name: [getattr(s, name) for s in spans] for name in COLUMNS}, schema=_SCHEMA))

    @classmethod
    def concat(cls, tables: Sequence[SpanTable]) -> SpanTable:
        if not tables:
            return cls.from_spans([])
        return cls(pa.concat_tables([t.table for t in tables]))

    def __len__(self) -> int:
        return int(self.table.num_rows)

    def strings(self, name: str) -> Any:
        """A string column as one Arrow array."""
        return self.table.column(name).combine_chunks()

    def ints(self, name: str) -> np.ndarray[Any, np.dtype[np.int64]]:
        return np.asarray(self.table.column(name).to_numpy(), dtype=np.int64)

    def flags(self, name: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
        return np.asarray(self.table.column(name).to_numpy(zero_copy_only=False), dtype=bool)

    def rows(self, indices: Any = None) -> list[RSpan]:
        """The spans (those at `indices`) as `RSpan`s."""
        table = self.table if indices is None else self.table.take(pa.array(indices, type=pa.int64()))
        columns = [table.column(name).to_pylist() for name in COLUMNS]
        return [RSpan(*values) for values in zip(*columns, strict=True)]

    def traces_involving(self, services: Collection[str], limit: int) -> list[RSpan]:
        """The spans of the first `limit` traces (by trace id) that have a span of `services`: what
        `path_shift` walks, without making a Python object of every other span."""
        if not services or len(self) == 0:
            return []
        traces = self.table.column("trace_id")
        involved = pc.unique(pc.filter(traces, pc.is_in(self.table.column("service"), pa.array(sorted(services)))))
        chosen = pc.array_sort_indices(involved)[:limit]
        keep = pc.is_in(traces, pc.take(involved, chosen))
        return self.rows(np.flatnonzero(keep.to_numpy(zero_copy_only=False)))
