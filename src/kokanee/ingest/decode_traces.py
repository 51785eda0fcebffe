"""ExportTraceServiceRequest → one Arrow table shaped like the exporter's `otel_traces`.

One pass over the spans appends into per-column lists; resource and scope values are kept once
per (resource, scope) group and repeated by index with `take`; ids are hexed in bulk.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from kokanee.ingest.attributes import AttrCache, hex_ids, lists_array, paused_gc
from kokanee.ingest.types import Decoded
from kokanee.ingest.validate import label, span_problem
from kokanee.ingest.wire import RawTraces

KINDS = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
STATUS_CODES = ("Unset", "Ok", "Error")
TS = pa.timestamp("ns")


def as_raw(message: Any, raw_class: Any) -> Any:
    """The request as a `wire` shadow message, re-parsing a regular one (JSON path) if needed."""
    if isinstance(message, raw_class):
        return message
    return raw_class.FromString(message.SerializeToString())


def decode_traces(req: Any) -> Decoded:
    """Flatten spans into `otel_traces` rows; invalid spans are counted in `rejected`, not raised.

    `req` is an ExportTraceServiceRequest or its `wire.RawTraces` shadow (what
    `decode.parse_protobuf` returns); a malformed attribute raises `DecodeError`.
    """
    with paused_gc():
        return _decode(as_raw(req, RawTraces))


def _decode(raw: Any) -> Decoded:
    out = Decoded("traces")
    cache = AttrCache()
    lookup = cache.__getitem__
    g_service: list[str] = []
    g_res_off = [0]
    g_res: list[int] = []
    g_scope: list[str] = []
    g_version: list[str] = []
    group: list[int] = []
    starts: list[int] = []
    durations: list[int] = []
    tids: list[bytes] = []
    sids: list[bytes] = []
    pids: list[bytes] = []
    states: list[str] = []
    names: list[str] = []
    kinds: list[str] = []
    codes: list[str] = []
    messages: list[str] = []
    a_off = [0]
    attrs: list[int] = []
    ev_off = [0]
    lk_off = [0]
    events = _Events(cache)
    links = _Links(cache)
    n_kinds = len(KINDS)
    for rs in raw.resource_spans:
        res_attrs = list(map(lookup, rs.resource.attributes))
        service = cache.value_of(rs.resource.attributes, "service.name")
        for ss in rs.scope_spans:
            gi = len(g_service)
            g_service.append(service)
            g_res.extend(res_attrs)
            g_res_off.append(len(g_res))
            scope = ss.scope
            g_scope.append(scope.name)
            g_version.append(scope.version)
            first = len(starts)
            for s in ss.spans:
                problem = span_problem(s)
                if problem is not None:
                    out.reject(1, f"{label('span', s.name, s.trace_id)}: {problem}")
                    continue
                tid, sid, pid = s.trace_id, s.span_id, s.parent_span_id
                start, end = s.start_time_unix_nano, s.end_time_unix_nano
                events.add(s.events)
                ev_off.append(len(events.times))
                lks = s.links
                if lks:
                    links.add(lks)
                lk_off.append(len(links.states))
                tids.append(tid)
                sids.append(sid)
                pids.append(pid)
                starts.append(start)
                durations.append(end - start)
                states.append(s.trace_state)
                names.append(s.name)
                kind = s.kind
                kinds.append(KINDS[kind] if 0 <= kind < n_kinds else "")
                status = s.status
                code = status.code
                codes.append(STATUS_CODES[code] if 0 <= code < 3 else "")
                messages.append(status.message)
                attrs.extend(map(lookup, s.attributes))
                a_off.append(len(attrs))
            group.extend([gi] * (len(starts) - first))
    out.accepted = len(starts)
    if not starts:
        return out
    take = pa.array(group, pa.int32())
    out.tables["otel_traces"] = pa.table(
        {
            "Timestamp": pa.array(starts, TS),
            "TraceId": hex_ids(tids),
            "SpanId": hex_ids(sids),
            "ParentSpanId": hex_ids(pids),
            "TraceState": pa.array(states, pa.string()),
            "SpanName": pa.array(names, pa.string()),
            "SpanKind": pa.array(kinds, pa.string()),
            "ServiceName": pa.array(g_service, pa.string()).take(take),
            "ResourceAttributes": cache.map_array(g_res_off, g_res).take(take),
            "ScopeName": pa.array(g_scope, pa.string()).take(take),
            "ScopeVersion": pa.array(g_version, pa.string()).take(take),
            "SpanAttributes": cache.map_array(a_off, attrs),
            "Duration": pa.array(durations, pa.uint64()),
            "StatusCode": pa.array(codes, pa.string()),
            "StatusMessage": pa.array(messages, pa.string()),
            "Events.Timestamp": lists_array(ev_off, pa.array(events.times, TS)),
            "Events.Name": lists_array(ev_off, pa.array(events.names, pa.string())),
            "Events.Attributes": lists_array(ev_off, cache.map_array(events.a_off, events.attrs)),
            "Links.TraceId": lists_array(lk_off, pa.array(links.trace_ids, pa.string())),
            "Links.SpanId": lists_array(lk_off, pa.array(links.span_ids, pa.string())),
            "Links.TraceState": lists_array(lk_off, pa.array(links.states, pa.string())),
            "Links.Attributes": lists_array(lk_off, cache.map_array(links.a_off, links.attrs)),
        }
    )
    return out


class _Events:
    """Events of the accepted spans, flattened; the caller keeps one offset per span."""

    def __init__(self, cache: AttrCache) -> None:
        self._lookup = cache.__getitem__
        self.times: list[int] = []
        self.names: list[str] = []
        self.a_off = [0]
        self.attrs: list[int] = []

    def add(self, events: Any) -> None:
        """Append one (valid) span's events."""
        for ev in events:
            self.times.append(ev.time_unix_nano)
            self.names.append(ev.name)
            self.attrs.extend(map(self._lookup, ev.attributes))
            self.a_off.append(len(self.attrs))


class _Links:
    """Links of the accepted spans, flattened; ids are stored as hex whatever their length."""

    def __init__(self, cache: AttrCache) -> None:
        self._lookup = cache.__getitem__
        self.trace_ids: list[str] = []
        self.span_ids: list[str] = []
        self.states: list[str] = []
        self.a_off = [0]
        self.attrs: list[int] = []

    def add(self, links: Any) -> None:
        for lk in links:
            self.trace_ids.append(lk.trace_id.hex())
            self.span_ids.append(lk.span_id.hex())
            self.states.append(lk.trace_state)
            self.attrs.extend(map(self._lookup, lk.attributes))
            self.a_off.append(len(self.attrs))
