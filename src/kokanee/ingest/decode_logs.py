"""ExportLogsServiceRequest → one Arrow table shaped like the exporter's `otel_logs`."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from kokanee.ingest.attributes import AttrCache, any_value_to_str, hex_ids, paused_gc
from kokanee.ingest.decode_traces import TS, as_raw
from kokanee.ingest.types import Decoded
from kokanee.ingest.validate import label, log_problem
from kokanee.ingest.wire import RawLogs


def decode_logs(req: Any) -> Decoded:
    """Flatten log records into `otel_logs` rows; invalid records are counted, not raised.

    Timestamp is time_unix_nano, or observed_time_unix_nano when that is 0 (as the exporter).
    `req` is an ExportLogsServiceRequest or its `wire.RawLogs` shadow.
    """
    with paused_gc():
        return _decode(as_raw(req, RawLogs))


def _decode(raw: Any) -> Decoded:
    out = Decoded("logs")
    cache = AttrCache()
    lookup = cache.__getitem__
    g: dict[str, list[Any]] = {k: [] for k in ("service", "res_url", "scope_url", "scope", "version")}
    g_res_off, g_scope_off = [0], [0]
    g_res: list[int] = []
    g_scope: list[int] = []
    group: list[int] = []
    times: list[int] = []
    tids: list[bytes] = []
    sids: list[bytes] = []
    flags: list[int] = []
    sev_texts: list[str] = []
    sev_numbers: list[int] = []
    bodies: list[str] = []
    events: list[str] = []
    a_off = [0]
    attrs: list[int] = []
    for rl in raw.resource_logs:
        res_attrs = list(map(lookup, rl.resource.attributes))
        service = cache.value_of(rl.resource.attributes, "service.name")
        for sl in rl.scope_logs:
            gi = len(g["service"])
            g["service"].append(service)
            g["res_url"].append(rl.schema_url)
            g["scope_url"].append(sl.schema_url)
            scope = sl.scope
            g["scope"].append(scope.name)
            g["version"].append(scope.version)
            g_res.extend(res_attrs)
            g_res_off.append(len(g_res))
            g_scope.extend(map(lookup, scope.attributes))
            g_scope_off.append(len(g_scope))
            first = len(times)
            for rec in sl.log_records:
                problem = log_problem(rec)
                if problem is not None:
                    name = rec.event_name or rec.severity_text
                    out.reject(1, f"{label('log record', name, rec.trace_id)}: {problem}")
                    continue
                tid, sid = rec.trace_id, rec.span_id
                t = rec.time_unix_nano or rec.observed_time_unix_nano
                times.append(t)
                tids.append(tid)
                sids.append(sid)
                flags.append(rec.flags & 0xFF)
                sev_texts.append(rec.severity_text)
                number = rec.severity_number
                sev_numbers.append(number if 0 <= number <= 255 else 0)
                body = rec.body
                bodies.append(
                    body.string_value if body.WhichOneof("value") == "string_value" else any_value_to_str(body)
                )
                events.append(rec.event_name)
                attrs.extend(map(lookup, rec.attributes))
                a_off.append(len(attrs))
            group.extend([gi] * (len(times) - first))
    out.accepted = len(times)
    if not times:
        return out
    take = pa.array(group, pa.int32())

    def per_group(values: list[Any]) -> pa.Array:
        return pa.array(values, pa.string()).take(take)

    out.tables["otel_logs"] = pa.table(
        {
            "Timestamp": pa.array(times, TS),
            "TraceId": hex_ids(tids),
            "SpanId": hex_ids(sids),
            "TraceFlags": pa.array(flags, pa.uint8()),
            "SeverityText": pa.array(sev_texts, pa.string()),
            "SeverityNumber": pa.array(sev_numbers, pa.uint8()),
            "ServiceName": per_group(g["service"]),
            "Body": pa.array(bodies, pa.string()),
            "ResourceSchemaUrl": per_group(g["res_url"]),
            "ResourceAttributes": cache.map_array(g_res_off, g_res).take(take),
            "ScopeSchemaUrl": per_group(g["scope_url"]),
            "ScopeName": per_group(g["scope"]),
            "ScopeVersion": per_group(g["version"]),
            "ScopeAttributes": cache.map_array(g_scope_off, g_scope).take(take),
            "LogAttributes": cache.map_array(a_off, attrs),
            "EventName": pa.array(events, pa.string()),
        }
    )
    return out
