"""What each span of a window did, computed over columns (numpy, Arrow) rather than span by span:
its children, its own time, whether an error started in it, the remote services it called.

`trace_scorer.span_stats` builds its per-service figures from these. A Python pass over every
span was most of a ranking's time (about 4 s for 12 minutes at 100 requests/s); the same
arithmetic over arrays takes a tenth of it. Keys are numbered in order of first appearance, so
every figure, and the order its keys come in, is the one a pass over the spans in order gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kokanee.analysis.rca.span_reads import SpanTable

if TYPE_CHECKING:
    from kokanee.analysis.rca.trace_scorer import SpanStats

Ints = np.ndarray[Any, np.dtype[np.int64]]
Flags = np.ndarray[Any, np.dtype[np.bool_]]
CALLERS = ("Client", "Producer")


def _joined(parts: Sequence[Any], dtypes: Sequence[Any]) -> list[Any]:
    """The fields of column records (`Times`, `Answers`) joined across `parts`, one dtype each."""
    names = [f.name for f in fields(parts[0])]
    return [
        np.concatenate([getattr(p, name) for p in parts]).astype(dtype, copy=False)
        for name, dtype in zip(names, dtypes, strict=True)
    ]


@dataclass(frozen=True)
class Times:
    """A list of (time ns, trace hash) as two arrays: what the shift tests take
    (`trace_scorer.pooled_shift`). `fill` keeps them beside the lists it makes from them: a
    Python pass over every time, then a conversion on every test, were a quarter of a ranking."""

    ns: Ints
    traces: Ints

    def __len__(self) -> int:
        return len(self.ns)

    @staticmethod
    def concat(parts: Sequence[Times]) -> Times:
        return parts[0] if len(parts) == 1 else Times(*_joined(parts, (np.int64, np.int64)))


@dataclass(frozen=True)
class Answers:
    """The calls one service made to one operation of another, one row per answer (the callee's
    server span): how long the answer took, and the calling span of the caller's own operation
    (its row in the window, unique only within one window) and whether an error started there."""

    ns: Ints
    row: Ints
    failed: Flags

    def __len__(self) -> int:
        return len(self.ns)

    @staticmethod
    def concat(parts: Sequence[Answers]) -> Answers:
        return parts[0] if len(parts) == 1 else Answers(*_joined(parts, (np.int64, np.int64, bool)))


def times_of(times: Sequence[tuple[int, int]]) -> Times:
    return Times(
        np.fromiter((t for t, _ in times), dtype=np.int64, count=len(times)),
        np.fromiter((trace for _, trace in times), dtype=np.int64, count=len(times)),
    )


def codes(values: Any) -> tuple[Ints, list[Any]]:
    """Each value's number (0, 1, ... in order of first appearance) and the values so numbered."""
    encoded = pa.array(values).dictionary_encode()
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64), encoded.dictionary.to_pylist()


def first_order(keys: Ints) -> tuple[Ints, Ints]:
    """`keys` renumbered 0, 1, ... in order of first appearance, and the original key of each number."""
    if len(keys) == 0:
        return keys, keys
    encoded = pa.array(keys).dictionary_encode()
    return (
        np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64),
        np.asarray(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=np.int64),
    )


@dataclass(frozen=True)
class Family:
    """Per span (row of the table) and per parent → child pair, in the table's order."""

    service: Ints  # codes into `services`
    services: list[str]
    op: Ints  # (service, name) codes into `ops`
    ops: list[tuple[str, str]]
    kind: list[str]  # per op code: the kind of its first span
    trace: Ints  # codes into `trace_ids`, which are sorted
    trace_ids: list[str]
    start: Ints
    own: Ints  # duration minus the union of its children's intervals (clipped to the span)
    error: Flags
    caller: Flags  # a client or producer span
    kids: Ints  # children at hand
    kid_error: Flags  # some child failed
    remote: Flags  # some child is in another service
    remote_error: Flags  # some child in another service failed
    lost: Flags  # a failed call with no child, to a service its attributes name
    peer: Ints  # per span: the service code its attributes name (-1: none at hand)
    parent: Ints  # pairs: the parent's row, ascending, then the child's
    child: Ints


def family(t: SpanTable) -> Family:
    n = len(t)
    service, services = codes(t.strings("service"))
    name, _ = codes(t.strings("name"))
    op, op_keys = first_order(service * (int(name.max(initial=0)) + 1) + name)
    names = t.strings("name")
    firsts = _first_rows(op, len(op_keys))
    ops = [(services[service[i]], str(names[i])) for i in firsts]
    kinds = t.strings("kind")
    kind = [str(kinds[i]) for i in firsts]
    trace_col = t.strings("trace_id")
    sorted_ids = pc.unique(trace_col).sort()
    trace = np.asarray(pc.index_in(trace_col, sorted_ids).to_numpy(zero_copy_only=False), dtype=np.int64)
    start, duration = t.ints("start_ns"), t.ints("duration_ns")
    error = t.flags("error")
    caller = np.asarray(pc.is_in(t.strings("kind"), pa.array(CALLERS)).to_numpy(zero_copy_only=False), dtype=bool)
    parent, child = _pairs(t, n)
    own = duration - _covered(parent, child, start, duration, n)
    kids = np.bincount(parent, minlength=n).astype(np.int64)
    kid_error = np.bincount(parent, weights=error[child], minlength=n) > 0
    is_remote = service[child] != service[parent]
    remote = np.bincount(parent[is_remote], minlength=n) > 0
    remote_error = np.bincount(parent[is_remote], weights=error[child[is_remote]], minlength=n) > 0
    peer_col = t.strings("peer")
    peer = np.asarray(pc.fill_null(pc.index_in(peer_col, pa.array(services)), -1).to_numpy(), dtype=np.int64)
    lost = caller & (kids == 0) & error & (peer >= 0) & (peer != service)
    return Family(
        service, services, op, ops, kind, trace, sorted_ids.to_pylist(), start, own, error, caller,
        kids, kid_error, remote, remote_error, lost, peer, parent, child,
    )  # fmt: skip


def _first_rows(code: Ints, count: int) -> Ints:
    """The first row of each code (codes numbered in order of first appearance)."""
    first = np.full(count, len(code), dtype=np.int64)
    np.minimum.at(first, code, np.arange(len(code), dtype=np.int64))
    return first


def _pairs(t: SpanTable, n: int) -> tuple[Ints, Ints]:
    """Every (parent row, child row): a span is the child of each span at hand whose id is its
    parent id, sorted by parent row, then child row."""
    ids, _ = codes(pa.concat_arrays([t.strings("span_id"), t.strings("parent_id")]))
    span_id, parent_id = ids[:n], ids[n:]
    has_parent = np.asarray(pc.not_equal(t.strings("parent_id"), "").to_numpy(zero_copy_only=False), dtype=bool)
    order = np.argsort(span_id, kind="stable")
    sorted_ids = span_id[order]
    rows = np.flatnonzero(has_parent)
    lo = np.searchsorted(sorted_ids, parent_id[rows], "left")
    hi = np.searchsorted(sorted_ids, parent_id[rows], "right")
    count = hi - lo
    child = np.repeat(rows, count)
    offsets = np.arange(int(count.sum()), dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    parent = order[np.repeat(lo, count) + offsets]
    by = np.argsort(parent.astype(np.int64) * n + child, kind="stable")  # by parent, then child: one key
    return parent[by].astype(np.int64), child[by].astype(np.int64)


def _covered(parent: Ints, child: Ints, start: Ints, duration: Ints, n: int) -> Ints:
    """Per span: the length of the union of its children's intervals, clipped to its own."""
    lo = start[parent]
    a = np.maximum(start[child], lo) - lo
    b = np.minimum(start[child] + duration[child], lo + duration[parent]) - lo
    ok = b > a
    p, a, b = parent[ok], a[ok], b[ok]
    covered = np.zeros(n, dtype=np.int64)
    if len(p) == 0:
        return covered
    width = int(duration.max()) + 1
    if n * width >= 2**62:  # spans of hours: the offsets below would overflow
        by = np.lexsort((a, p))
        for q, lo_i, hi_i in _runs(p[by]):
            covered[q] = _union(list(zip(a[by][lo_i:hi_i].tolist(), b[by][lo_i:hi_i].tolist(), strict=True)))
        return covered
    # Sorted by (parent, start): each interval adds what reaches past the furthest end before it
    # in the same parent (offsetting each parent by `width` keeps the running maximum within it).
    by = np.lexsort((a, p))
    p, a, b = p[by], a[by] + p[by] * width, b[by] + p[by] * width
    reach = np.maximum.accumulate(b)
    before = np.concatenate(([np.int64(-1)], reach[:-1]))
    np.add.at(covered, p, np.maximum(0, b - np.maximum(a, before)))
    return covered


def _runs(sorted_keys: Ints) -> list[tuple[int, int, int]]:
    """(key, first index, end index) of each run of equal keys."""
    edges = np.flatnonzero(np.diff(sorted_keys)) + 1
    starts = np.concatenate(([0], edges)).astype(np.int64)
    ends = np.concatenate((edges, [len(sorted_keys)])).astype(np.int64)
    return [(int(sorted_keys[i]), int(i), int(j)) for i, j in zip(starts, ends, strict=True)]


def _union(intervals: list[tuple[int, int]]) -> int:
    total, end = 0, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total, end = total + b - a, b
        elif b > end:
            total, end = total + b - end, b
    return total


def fill(stats: SpanStats, t: SpanTable, examples: int) -> None:
    """Fills an empty `stats` with the figures of `t`'s spans (see `SpanStats`)."""
    if len(t) == 0:
        return
    f = family(t)
    hashes = [hash(trace) for trace in f.trace_ids]
    stats.trace_ids.update(zip(hashes, f.trace_ids, strict=True))
    stats.traces = len(stats.trace_ids)
    h = np.asarray(hashes, dtype=np.int64)[f.trace]
    svc, ops = f.services, f.ops
    stats.spans.update(_counts(f.service, lambda k: svc[k]))
    edge = f.caller & f.remote
    # A call span with children in other services is an edge: its own time is the wait between
    # them, one entry per distinct callee service; any other span's own time is its operation's.
    is_remote = f.service[f.child] != f.service[f.parent]
    rp, callee = f.parent[is_remote], f.service[f.child[is_remote]]
    keep = edge[rp]
    rp, callee = rp[keep], callee[keep]
    width = len(svc)
    _, distinct = first_order(rp * width + callee)
    rp, callee = distinct // width, distinct % width
    edge_key = f.service[rp] * width + callee
    for key, rows in _groups(edge_key):
        edge_name = (svc[key // width], svc[key % width])
        stats.edge_times[edge_name].extend(_timed(f.own[rp[rows]], h[rp[rows]]))
        stats.edge_arrays[edge_name] = Times(f.own[rp[rows]], h[rp[rows]])
    failed = f.error[rp] & ~f.remote_error[rp]
    stats.edge_failures.update(_counts(edge_key[failed], lambda k: (svc[k // width], svc[k % width])))
    mine = np.flatnonzero(~edge)
    for key, rows in _groups(f.op[mine]):
        stats.self_times[ops[key]].extend(_timed(f.own[mine[rows]], h[mine[rows]]))
        stats.self_arrays[ops[key]] = Times(f.own[mine[rows]], h[mine[rows]])
    lost = np.flatnonzero(f.lost)
    stats.unanswered_failures.update(
        _counts(f.service[lost] * width + f.peer[lost], lambda k: (svc[k // width], svc[k % width]))
    )
    origin = np.flatnonzero(f.error & ~f.kid_error & ~edge & ~f.lost)
    _answers(stats, f, t.ints("duration_ns"), edge, origin)
    stats.error_origins.update(_counts(f.service[origin], lambda k: svc[k]))
    stats.error_traces.update(
        _latest(f.service[origin], f.trace[origin], f.start[origin], f, examples, lambda k: svc[k])
    )
    stats.parents.update(_counts(f.op, lambda k: ops[k]))
    stats.parent_kind.update(zip(ops, f.kind, strict=True))
    stats.parent_traces.update(_latest(f.op, f.trace, f.start, f, examples, lambda k: ops[k]))
    nops = len(ops)
    pair = f.op[f.parent] * nops + f.op[f.child]
    pair_name = lambda k: (ops[k // nops], ops[k % nops])  # noqa: E731
    stats.pairs.update(_counts(pair, pair_name))
    stats.pair_traces.update(_latest(pair, f.trace[f.parent], f.start[f.parent], f, examples, pair_name))
    unanswered = np.flatnonzero(f.caller & (f.kids == 0))
    stats.unanswered.update(_counts(f.op[unanswered], lambda k: ops[k]))
    called = set(zip(f.service[f.parent[is_remote]].tolist(), f.service[f.child[is_remote]].tolist(), strict=True))
    stats.calls.update((svc[a], svc[b]) for a, b in called)


def _answers(stats: SpanStats, f: Family, duration: Ints, edge: Flags, origin: Ints) -> None:
    """Per (caller service, callee operation), the callee's answers (`Answers`). The calling span is
    the caller's operation: the client span's parent where the call has its own client span (a
    failure that starts in the caller's code after the call returned starts there)."""
    remote = f.service[f.child] != f.service[f.parent]
    parent, child = f.parent[remote], f.child[remote]
    if len(parent) == 0:
        return
    up = np.full(len(f.service), -1, dtype=np.int64)
    up[f.child] = f.parent
    above = up[parent]
    wrapped = edge[parent] & (above >= 0)
    wrapped[wrapped] &= f.service[above[wrapped]] == f.service[parent[wrapped]]
    calling = np.where(wrapped, above, parent)
    failed = np.zeros(len(f.service), dtype=bool)
    failed[origin] = True
    nops = len(f.ops)
    for key, rows in _groups(f.service[parent] * nops + f.op[child]):
        name = (f.services[key // nops], f.ops[key % nops])
        stats.answers[name] = Answers(duration[child[rows]], calling[rows], failed[calling[rows]])


def _timed(own: Ints, hashes: Ints) -> list[tuple[int, int]]:
    return list(zip(own.tolist(), hashes.tolist(), strict=True))


def _counts(keys: Ints, name: Any) -> dict[Any, int]:
    """How often each key comes, by `name(key)`, in order of first appearance."""
    new, old = first_order(keys)
    counts = np.bincount(new, minlength=len(old)).tolist()
    return {name(int(k)): c for k, c in zip(old.tolist(), counts, strict=True)}


def _groups(keys: Ints) -> list[tuple[int, Ints]]:
    """Each key (in order of first appearance) and the positions that hold it, in order."""
    if len(keys) == 0:
        return []
    new, old = first_order(keys)
    order = np.argsort(new, kind="stable")
    bounds = np.cumsum(np.bincount(new, minlength=len(old)))[:-1]
    return list(zip(old.tolist(), np.split(order, bounds), strict=True))


def _latest(
    keys: Ints, trace: Ints, start: Ints, f: Family, examples: int, name: Any
) -> dict[Any, list[tuple[int, str]]]:
    """Per key (by `name(key)`), its latest `examples` distinct traces as (start, trace id), latest
    first: a trace by its first span of the key, ties to the greater trace id."""
    if len(keys) == 0:
        return {}
    new, old = first_order(keys)
    # One entry per (key, trace): its first span's start (a trace's later spans of the key do not
    # make it a later example). Keys combined into one number where it fits, so each sort is on
    # fewer keys (these sorts were a third of `fill`); the order is the same.
    traces = len(f.trace_ids)
    if len(old) * traces < 2**62:
        pair = new * traces + trace
        by = np.argsort(pair)
        pair = pair[by]
        first = np.flatnonzero(np.concatenate(([True], pair[1:] != pair[:-1])))
        k, tr, st = pair[first] // traces, pair[first] % traces, np.minimum.reduceat(start[by], first)
    else:
        by = np.lexsort((start, trace, new))
        k, tr, st = new[by], trace[by], start[by]
        keep = np.ones(len(k), dtype=bool)
        keep[1:] = (k[1:] != k[:-1]) | (tr[1:] != tr[:-1])
        k, tr, st = k[keep], tr[keep], st[keep]
    # Latest first within each key: key ascending, start descending, then trace id descending.
    latest = int(st.max())
    span = latest - int(st.min()) + 1
    by = np.lexsort((-tr, k * span + (latest - st)) if len(old) * span < 2**62 else (-tr, -st, k))
    k, tr, st = k[by], tr[by], st[by]
    first = np.concatenate(([0], np.flatnonzero(np.diff(k)) + 1))
    rank = np.arange(len(k)) - np.repeat(first, np.diff(np.concatenate((first, [len(k)]))))
    top = rank < examples
    out: dict[Any, list[tuple[int, str]]] = {}
    ids = f.trace_ids
    for key, at, t in zip(k[top].tolist(), st[top].tolist(), tr[top].tolist(), strict=True):
        out.setdefault(name(int(old[key])), []).append((at, ids[t]))
    return out
