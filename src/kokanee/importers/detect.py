"""Which recording format a path holds, and the reader for it.

Detection looks at the Nezha folder layout first, then at the first few kilobytes of the
first JSON files: cheap, and decisive for the formats supported, whose top-level keys
differ (`data`/`processes` for Jaeger, a list of `traceId`+`localEndpoint` spans for
Zipkin, `resourceSpans`/`resourceLogs`/`resourceMetrics` for OTLP).
"""

from __future__ import annotations

from pathlib import Path

from kokanee.importers.jaeger import JaegerSource, json_files
from kokanee.importers.nezha import NezhaSource, looks_like_nezha
from kokanee.importers.otlp_files import SUFFIXES, OtlpJsonSource
from kokanee.importers.types import ImportFailed, Source
from kokanee.importers.zipkin import ZipkinSource

FORMATS = ("nezha", "jaeger", "zipkin", "otlp-json")
_SNIFF_BYTES = 65536
_SNIFF_FILES = 5
_OTLP_KEYS = (
    "resourceSpans",
    "resourceLogs",
    "resourceMetrics",
    "resource_spans",
    "resource_logs",
    "resource_metrics",
)


def make_source(path: Path, format: str | None = None) -> Source:
    """The reader for `path` in `format`, detected when None."""
    if not path.exists():
        raise ImportFailed(f"{path} does not exist")
    chosen = format or detect(path)
    if chosen == "nezha":
        return NezhaSource(path)
    if chosen == "jaeger":
        return JaegerSource(path)
    if chosen == "zipkin":
        return ZipkinSource(path)
    if chosen == "otlp-json":
        return OtlpJsonSource(path)
    raise ImportFailed(f"unknown format {chosen!r}: use one of {', '.join(FORMATS)}")


def detect(path: Path) -> str:
    """The format of a file or folder; ImportFailed when it cannot tell."""
    if looks_like_nezha(path):
        return "nezha"
    for candidate in json_files(path, SUFFIXES)[:_SNIFF_FILES]:
        found = sniff(candidate)
        if found is not None:
            return found
    raise ImportFailed(f"cannot tell the format of {path}; pass --format ({'|'.join(FORMATS)})")


def sniff(path: Path) -> str | None:
    """The format of one JSON file from its first bytes, or None."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES).decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    except OSError:
        return None
    if head.startswith("{"):
        if any(f'"{key}"' in head for key in _OTLP_KEYS):
            return "otlp-json"
        if '"traceID"' in head and ('"processes"' in head or '"spans"' in head):
            return "jaeger"
    if head.startswith("["):
        if '"traceID"' in head and '"spans"' in head:
            return "jaeger"
        if '"traceId"' in head and ('"localEndpoint"' in head or '"timestamp"' in head):
            return "zipkin"
    return None
