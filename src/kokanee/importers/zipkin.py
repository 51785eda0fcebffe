"""Zipkin v2 JSON (a list of spans, as `/api/v2/trace/{id}` or `/api/v2/spans` return) as
OTLP spans.

The mapping follows the collector's zipkin v2 translator: `localEndpoint.serviceName` is
the service, `kind` maps one to one, tags become string attributes, an `error` tag makes
the status Error with the tag as its message, annotations become events, and the remote
endpoint becomes `peer.service`, `network.peer.address` and `network.peer.port`.
Times are microseconds in Zipkin and nanoseconds in OTLP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kokanee.importers import otlp
from kokanee.importers.jaeger import json_files
from kokanee.importers.types import Batch, FaultLabel, Problems

_KINDS = {
    "CLIENT": otlp.SPAN_KIND_CLIENT,
    "SERVER": otlp.SPAN_KIND_SERVER,
    "PRODUCER": otlp.SPAN_KIND_PRODUCER,
    "CONSUMER": otlp.SPAN_KIND_CONSUMER,
}


class ZipkinSource:
    format = "zipkin"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems = Problems()

    def files(self) -> list[Path]:
        return json_files(self.root)

    def labels(self) -> list[FaultLabel]:
        return []

    def read(self, path: Path, batch_size: int) -> Iterator[Batch]:
        try:
            spans = json.loads(path.read_bytes())
        except (OSError, ValueError) as error:
            self.problems.add(f"{path.name}: not JSON ({error})")
            return
        if isinstance(spans, list) and spans and all(isinstance(s, list) for s in spans):
            # /api/v2/traces answers a list of traces, each a list of spans.
            spans = [span for trace in spans for span in trace]
        if not isinstance(spans, list):
            self.problems.add(f"{path.name}: no Zipkin spans (expected a JSON list)")
            return
        scopes: dict[str, Any] = {}
        request, count = otlp.new_request("traces"), 0
        for span in spans:
            if self._add_span(request, scopes, span, path):
                count += 1
            if count >= batch_size:
                yield Batch("traces", request, count)
                request, count, scopes = otlp.new_request("traces"), 0, {}
        if count:
            yield Batch("traces", request, count)

    def _add_span(self, request: Any, scopes: dict[str, Any], span: Any, path: Path) -> bool:
        if not isinstance(span, dict):
            self.problems.add(f"{path.name}: a span that is not an object")
            return False
        trace_id = otlp.hex_id(str(span.get("traceId", "")), 16)
        span_id = otlp.hex_id(str(span.get("id", "")), 8)
        if not trace_id or not span_id:
            self.problems.add(f"{path.name}: span without valid ids {span.get('id')!r}")
            return False
        local = span.get("localEndpoint") or {}
        service = str(local.get("serviceName") or "unknown_service")
        scope = scopes.get(service)
        if scope is None:
            resource_spans = request.resource_spans.add()
            otlp.add_attributes(resource_spans.resource.attributes, {"service.name": service})
            scope = scopes[service] = resource_spans.scope_spans.add()
        start = int(span.get("timestamp", 0)) * 1000
        tags = {str(k): str(v) for k, v in (span.get("tags") or {}).items()}
        error = tags.pop("error", None)
        out = scope.spans.add(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=otlp.hex_id(str(span.get("parentId", "")), 8),
            name=str(span.get("name", "")),
            kind=_KINDS.get(str(span.get("kind", "")).upper(), otlp.SPAN_KIND_UNSPECIFIED),
            start_time_unix_nano=start,
            end_time_unix_nano=start + int(span.get("duration", 0)) * 1000,
        )
        attributes: dict[str, otlp.AttrValue] = dict(tags)
        remote = span.get("remoteEndpoint") or {}
        if remote.get("serviceName"):
            attributes["peer.service"] = str(remote["serviceName"])
        if remote.get("ipv4") or remote.get("ipv6"):
            attributes["network.peer.address"] = str(remote.get("ipv4") or remote.get("ipv6"))
        if remote.get("port"):
            attributes["network.peer.port"] = int(remote["port"])
        otlp.add_attributes(out.attributes, attributes)
        if error is not None:
            out.status.code = otlp.STATUS_ERROR
            # Zipkin writes `error: ""` or `error: "true"` when there is nothing more to say.
            out.status.message = "" if error in ("", "true") else error
        for annotation in span.get("annotations") or []:
            out.events.add(
                time_unix_nano=int(annotation.get("timestamp", 0)) * 1000,
                name=str(annotation.get("value", "")),
            )
        return True
