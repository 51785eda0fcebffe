"""Files and folders of OTLP/JSON: one export request per file, or one per line (the
collector's file exporter writes JSON lines), for any of the three signals.

OTLP/JSON differs from protobuf's canonical JSON in its ids: trace and span ids are hex,
not base64 (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding). They are
turned into base64 before protobuf's JSON parser reads the request.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from kokanee.importers import otlp
from kokanee.importers.jaeger import json_files
from kokanee.importers.types import Batch, FaultLabel, Problems, Signal

SUFFIXES = (".json", ".jsonl", ".ndjson")
_SIGNAL_KEYS: dict[str, Signal] = {
    "resourceSpans": "traces",
    "resource_spans": "traces",
    "resourceLogs": "logs",
    "resource_logs": "logs",
    "resourceMetrics": "metrics",
    "resource_metrics": "metrics",
}
_ID_KEYS = {"traceId": 16, "trace_id": 16, "spanId": 8, "span_id": 8, "parentSpanId": 8, "parent_span_id": 8}


class OtlpJsonSource:
    format = "otlp-json"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems = Problems()

    def files(self) -> list[Path]:
        return json_files(self.root, SUFFIXES)

    def labels(self) -> list[FaultLabel]:
        return []

    def read(self, path: Path, batch_size: int) -> Iterator[Batch]:
        # batch_size is not applied: a request is sent as it was recorded, the way the
        # exporter that wrote it batched it.
        for where, document in self._documents(path):
            batch = self._batch(document)
            if batch is None:
                self.problems.add(f"{where}: not an OTLP/JSON export request")
            else:
                yield batch

    def _documents(self, path: Path) -> Iterator[tuple[str, Any]]:
        if path.suffix == ".json":
            try:
                yield path.name, json.loads(path.read_bytes())
                return
            except json.JSONDecodeError as error:
                if "Extra data" not in error.msg:
                    self.problems.add(f"{path.name}: not JSON ({error})")
                    return
            except OSError as error:
                self.problems.add(f"{path.name}: unreadable ({error})")
                return
        # JSON lines, streamed: a collector file export can be larger than memory allows.
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield f"{path.name}:{number}", json.loads(line)
                except ValueError as error:
                    self.problems.add(f"{path.name}:{number}: not JSON ({error})")

    def _batch(self, document: Any) -> Batch | None:
        if not isinstance(document, dict):
            return None
        signal = next((s for key, s in _SIGNAL_KEYS.items() if key in document), None)
        if signal is None:
            return None
        request = otlp.new_request(signal)
        try:
            json_format.ParseDict(_hex_ids_to_base64(document), request, ignore_unknown_fields=True)
        except json_format.ParseError:
            return None
        return Batch(signal, request, otlp.count_items(signal, request))


def _hex_ids_to_base64(value: Any) -> Any:
    """A copy of an OTLP/JSON value with hex ids as protobuf JSON's base64."""
    if isinstance(value, list):
        return [_hex_ids_to_base64(item) for item in value]
    if not isinstance(value, dict):
        return value
    converted: dict[str, Any] = {}
    for key, item in value.items():
        size = _ID_KEYS.get(key)
        if size is not None and isinstance(item, str):
            raw = otlp.hex_id(item, size) if len(item) == size * 2 else b""
            converted[key] = base64.b64encode(raw).decode() if raw or not item else item
        else:
            converted[key] = _hex_ids_to_base64(item)
    return converted
