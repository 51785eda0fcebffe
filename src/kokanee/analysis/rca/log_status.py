"""Span status read off ERROR lines, for services whose instrumentation sets none.

SkyWalking-converted traces (Nezha's) and many hand-rolled tracers record no span status: a
failure shows only in the ERROR line its service logs in the span that was active, an exception
where it is thrown, a failed call at its caller ("request to cart failed: HTTP 500"). Where a
service's spans carry no error status in any of the question's windows, each span one of its
ERROR lines was logged in failed, and so did that span's calls into a service the line names.
Those are the failures a status would have marked, so the trace scorer reads them as it reads
statuses: a proxy rewriting a callee's responses leaves the callee's spans clean while its
callers' calls fail (the callee's side, counted by the share of its callers that see it), and an
exception thrown in one operation starts its errors there, not at each caller that logs it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kokanee.analysis.rca.span_reads import SpanTable

if TYPE_CHECKING:
    from kokanee.analysis.rca.log_scorer import LogLine

_CALLERS = ("Client", "Producer")


def service_names(services: Collection[str]) -> Callable[[str], list[str]]:
    """The services a text names, as words ("ad" is not in "loaded"), in the order it names them."""
    if not services:
        return lambda text: []
    names = "|".join(re.escape(name) for name in sorted(services, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w.-])({names})(?![\w-])")
    return lambda text: [m.group(1) for m in pattern.finditer(text)]


def with_log_status(tables: Sequence[SpanTable], lines: Sequence[LogLine]) -> list[SpanTable]:
    """The question's span tables (each window's) with the failures the ERROR lines of status-less
    services say (see the module)."""
    with_status = set()
    for t in tables:
        if len(t):
            failed = pc.filter(t.table.column("service"), t.table.column("error"))
            with_status.update(pc.unique(failed).to_pylist())
    named: dict[str, set[str]] = {}  # span id -> the other services its ERROR lines name
    naming: Callable[[str], list[str]] | None = None
    for line in lines:
        if not line.error or not line.span_id or line.service in with_status:
            continue
        if naming is None:
            services = {logged.service for logged in lines}
            for t in tables:
                services.update(pc.unique(t.table.column("service")).to_pylist())
            naming = service_names(services)
        others = {s for s in naming(line.body + line.tail) if s != line.service}
        named.setdefault(line.span_id, set()).update(others)
    if not named:
        return list(tables)
    return [_mark(t, named, with_status) for t in tables]


def _mark(t: SpanTable, named: dict[str, set[str]], with_status: set[str]) -> SpanTable:
    if not len(t):
        return t
    table = t.table
    span_id, parent_id, service = (table.column(c) for c in ("span_id", "parent_id", "service"))
    logged = pa.array(list(named))
    statusless = pc.invert(pc.is_in(service, pa.array(sorted(with_status), pa.string())))
    error = _flags(table.column("error")) | _flags(pc.and_(pc.is_in(span_id, logged), statusless))
    # Calls made from a logged span: each fails when the line names the service it called (its
    # peer attribute, or the service of the spans it reached).
    is_call = pc.is_in(table.column("kind"), pa.array(_CALLERS))
    calls = pa.array(np.flatnonzero(_flags(pc.and_(pc.and_(pc.is_in(parent_id, logged), statusless), is_call))))
    if len(calls):
        ids = pc.take(span_id, calls).to_pylist()
        reached = pa.array(np.flatnonzero(_flags(pc.is_in(parent_id, pa.array(ids)))))
        callers, callees = pc.take(parent_id, reached).to_pylist(), pc.take(service, reached).to_pylist()
        callee_of = dict(zip(callers, callees, strict=True))
        parents = pc.take(parent_id, calls).to_pylist()
        peers = pc.take(table.column("peer"), calls).to_pylist()
        for row, sid, parent, peer in zip(calls.to_pylist(), ids, parents, peers, strict=True):
            if {peer, callee_of.get(sid, "")} & named[parent]:
                error[row] = True
    return SpanTable(table.set_column(table.schema.get_field_index("error"), "error", pa.array(error)))


def _flags(column: Any) -> np.ndarray[Any, np.dtype[np.bool_]]:
    return np.array(column.to_numpy(zero_copy_only=False), dtype=bool)
