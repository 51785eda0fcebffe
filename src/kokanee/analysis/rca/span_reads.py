"""Spans of a window, read for the trace detectors; hash-sampled by trace when there are many."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kokanee.store.client import Store
from kokanee.store.reads.window import within


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


def read_spans(store: Store, start_ns: int, end_ns: int, max_spans: int) -> list[RSpan]:
    """Spans starting in [start, end); whole traces kept or dropped together when over `max_spans`."""
    params = {"start": start_ns, "end": end_ns}
    where = within("Timestamp")
    count = int(store.query(f"SELECT count() FROM otel_traces WHERE {where}", parameters=params).rows[0][0])
    if count == 0:
        return []
    keep = max(1, -(-count // max_spans))
    sample = f" AND cityHash64(TraceId) % {keep} = 0" if keep > 1 else ""
    rows = store.query(
        f"""SELECT TraceId, SpanId, ParentSpanId, ServiceName, SpanName, SpanKind,
            toUnixTimestamp64Nano(Timestamp), Duration, StatusCode = 'Error',
            if(SpanKind = 'Client', coalesce(nullIf(SpanAttributes['peer.service'], ''),
                SpanAttributes['server.address']), '')
        FROM otel_traces WHERE {where}{sample}""",
        parameters=params,
    ).rows
    return [
        RSpan(
            str(r[0]),
            str(r[1]),
            str(r[2]),
            str(r[3]),
            str(r[4]),
            str(r[5]),
            int(r[6]),
            int(r[7]),
            bool(r[8]),
            str(r[9]),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class QuestionSpans:
    """The spans of each baseline window, in order, and of the window."""

    per_base: list[list[RSpan]]
    window: list[RSpan]

    @property
    def base(self) -> list[RSpan]:
        return [s for spans in self.per_base for s in spans]


def read_question(
    store: Store, window: tuple[int, int], baselines: Sequence[tuple[int, int]], max_spans: int
) -> QuestionSpans:
    """At most `max_spans` for the window and as many for the baseline windows together."""
    per_base = [read_spans(store, lo, hi, max_spans // len(baselines)) for lo, hi in baselines]
    return QuestionSpans(per_base, read_spans(store, *window, max_spans))
