"""Jaeger UI JSON exports (`{"data": [{"traceID", "spans", "processes"}]}`) as OTLP spans.

The mapping follows the collector's jaeger translator (pkg/translator/jaeger): process
tags become resource attributes, `span.kind`, `otel.status_code`, `otel.status_description`
and `error` become the span's kind and status, `otel.scope.*` its scope, span logs become
events (named by their `event` field), the first CHILD_OF reference is the parent and every
other reference a link. Times are microseconds in Jaeger and nanoseconds in OTLP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kokanee.importers import otlp
from kokanee.importers.types import Batch, FaultLabel, Problems

_KINDS = {
    "client": otlp.SPAN_KIND_CLIENT,
    "server": otlp.SPAN_KIND_SERVER,
    "producer": otlp.SPAN_KIND_PRODUCER,
    "consumer": otlp.SPAN_KIND_CONSUMER,
    "internal": otlp.SPAN_KIND_INTERNAL,
}
_SPECIAL_TAGS = frozenset(
    {"span.kind", "otel.status_code", "otel.status_description", "error", "otel.scope.name",
     "otel.scope.version", "otel.library.name", "otel.library.version"}
)  # fmt: skip


def json_files(root: Path, suffixes: tuple[str, ...] = (".json",)) -> list[Path]:
    """`root` itself, or the files under it with one of `suffixes`, sorted."""
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in suffixes)


class JaegerSource:
    format = "jaeger"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems = Problems()

    def files(self) -> list[Path]:
        return json_files(self.root)

    def labels(self) -> list[FaultLabel]:
        return []

    def read(self, path: Path, batch_size: int) -> Iterator[Batch]:
        try:
            document = json.loads(path.read_bytes())
        except (OSError, ValueError) as error:
            self.problems.add(f"{path.name}: not JSON ({error})")
            return
        traces = document.get("data") if isinstance(document, dict) else document
        if not isinstance(traces, list):
            self.problems.add(f"{path.name}: no Jaeger traces (expected a 'data' list)")
            return
        resources: dict[str, Any] = {}
        request, count = otlp.new_request("traces"), 0
        for trace in traces:
            if not isinstance(trace, dict):
                self.problems.add(f"{path.name}: a trace that is not an object")
                continue
            processes = trace.get("processes") or {}
            for span in trace.get("spans") or []:
                process = span.get("process") or processes.get(span.get("processID"), {})
                if self._add_span(request, resources, span, process, path):
                    count += 1
                if count >= batch_size:
                    yield Batch("traces", request, count)
                    request, count, resources = otlp.new_request("traces"), 0, {}
        if count:
            yield Batch("traces", request, count)

    def _add_span(
        self,
        request: Any,
        resources: dict[str, Any],
        span: dict[str, Any],
        process: dict[str, Any],
        path: Path,
    ) -> bool:
        trace_id = otlp.hex_id(str(span.get("traceID", "")), 16)
        span_id = otlp.hex_id(str(span.get("spanID", "")), 8)
        if not trace_id or not span_id:
            self.problems.add(f"{path.name}: span without valid ids {span.get('spanID')!r}")
            return False
        tags = _tag_dict(span.get("tags"))
        scope_key = (
            json.dumps(process, sort_keys=True)
            + f"|{tags.get('otel.scope.name') or tags.get('otel.library.name') or ''}"
            + f"|{tags.get('otel.scope.version') or tags.get('otel.library.version') or ''}"
        )
        scope = resources.get(scope_key)
        if scope is None:
            resource_spans = request.resource_spans.add()
            attributes: dict[str, otlp.AttrValue] = {"service.name": str(process.get("serviceName", "unknown_service"))}
            attributes.update(_tag_dict(process.get("tags")))
            otlp.add_attributes(resource_spans.resource.attributes, attributes)
            scope = resources[scope_key] = resource_spans.scope_spans.add()
            scope.scope.name = str(tags.get("otel.scope.name") or tags.get("otel.library.name") or "")
            scope.scope.version = str(tags.get("otel.scope.version") or tags.get("otel.library.version") or "")
        start = int(span.get("startTime", 0)) * 1000
        out = scope.spans.add(
            trace_id=trace_id,
            span_id=span_id,
            name=str(span.get("operationName", "")),
            kind=_KINDS.get(str(tags.get("span.kind", "")).lower(), otlp.SPAN_KIND_UNSPECIFIED),
            start_time_unix_nano=start,
            end_time_unix_nano=start + int(span.get("duration", 0)) * 1000,
        )
        otlp.add_attributes(out.attributes, {k: v for k, v in tags.items() if k not in _SPECIAL_TAGS})
        _set_status(out, tags)
        _add_references(out, span.get("references") or [], trace_id)
        for log in span.get("logs") or []:
            fields = _tag_dict(log.get("fields"))
            event = out.events.add(time_unix_nano=int(log.get("timestamp", 0)) * 1000)
            event.name = str(fields.pop("event", "log"))
            otlp.add_attributes(event.attributes, fields)
        return True


def _tag_dict(tags: Any) -> dict[str, otlp.AttrValue]:
    """Jaeger `[{"key", "type", "value"}]` as typed Python values."""
    result: dict[str, otlp.AttrValue] = {}
    for tag in tags if isinstance(tags, list) else []:
        key, kind, value = str(tag.get("key", "")), str(tag.get("type", "string")).lower(), tag.get("value")
        try:
            if kind == "bool":
                result[key] = value if isinstance(value, bool) else str(value).lower() == "true"
            elif kind == "int64":
                result[key] = int(value)
            elif kind == "float64":
                result[key] = float(value)
            else:
                result[key] = str(value)
        except (TypeError, ValueError):
            result[key] = str(value)
    return result


def _set_status(span: Any, tags: dict[str, otlp.AttrValue]) -> None:
    code = str(tags.get("otel.status_code", "")).upper()
    if code == "ERROR" or (not code and tags.get("error") in (True, "true")):
        span.status.code = otlp.STATUS_ERROR
        span.status.message = str(tags.get("otel.status_description", ""))
    elif code == "OK":
        span.status.code = otlp.STATUS_OK


def _add_references(span: Any, references: list[Any], trace_id: bytes) -> None:
    for reference in references:
        ref_trace = otlp.hex_id(str(reference.get("traceID", "")), 16)
        ref_span = otlp.hex_id(str(reference.get("spanID", "")), 8)
        if not ref_span:
            continue
        if not span.parent_span_id and reference.get("refType") == "CHILD_OF" and ref_trace == trace_id:
            span.parent_span_id = ref_span
        else:
            span.links.add(trace_id=ref_trace or trace_id, span_id=ref_span)
