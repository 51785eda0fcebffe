"""Helpers (no tests): runs the demo shop against in-memory SDK exporters, real SDK parts that record."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kokanee.demo.engine import DemoStats
from kokanee.demo.runner import DemoConfig, DemoRun
from kokanee.demo.schedule import parse_fault
from kokanee.demo.telemetry import Exporters


@dataclass
class Recorded:
    run: DemoRun
    stats: DemoStats
    spans: list[ReadableSpan]
    logs: list[ReadableLogRecord]
    metrics: dict[str, list[tuple[str, Any]]]  # metric name -> [(service, data point)]

    def service(self, span: ReadableSpan) -> str:
        return str(span.resource.attributes["service.name"])

    def by_id(self) -> dict[int, ReadableSpan]:
        return {s.context.span_id: s for s in self.spans}

    def select(
        self, service: str | None = None, kind: str | None = None, name: str | None = None
    ) -> list[ReadableSpan]:
        return [
            s
            for s in self.spans
            if (service is None or self.service(s) == service)
            and (kind is None or s.kind.name == kind)
            and (name is None or s.name == name)
        ]


def record(
    faults: tuple[str, ...] = (),
    seed: int = 7,
    duration_s: float = 60.0,
    rate: float = 5.0,
    labels_file: Path | None = None,
    control_port: int | None = None,
) -> Recorded:
    spans, logs, readers = InMemorySpanExporter(), InMemoryLogRecordExporter(), []

    def reader() -> InMemoryMetricReader:
        r = InMemoryMetricReader()
        readers.append(r)
        return r

    config = DemoConfig(
        rate=rate,
        duration_s=duration_s,
        seed=seed,
        realtime=False,
        labels_file=labels_file,
        faults=tuple(parse_fault(f) for f in faults),
        control_port=control_port,
        run_id=f"test-{seed}",
    )
    run = DemoRun(config, Exporters(spans, logs, reader, batch=False))
    # Collect as the run ends, before its faults are closed: gauges then show the faults' effects, as a
    # periodic reader would have seen them during the run.
    metrics: dict[str, list[tuple[str, Any]]] = {}
    real_stop_all = run.board.stop_all

    def collect_then_stop(at_ns: int) -> list[Any]:
        for service, r in zip(run.telemetry.services, readers, strict=True):
            data = r.get_metrics_data()
            for rm in data.resource_metrics if data else []:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        metrics.setdefault(m.name, []).extend((service, p) for p in m.data.data_points)
        return real_stop_all(at_ns)

    run.board.stop_all = collect_then_stop  # type: ignore[method-assign]
    stats = run.run(threading.Event())
    return Recorded(run, stats, list(spans.get_finished_spans()), list(logs.get_finished_logs()), metrics)


@cache
def recorded(faults: tuple[str, ...] = (), seed: int = 7, duration_s: float = 60.0) -> Recorded:
    """Cached: several tests read the same run."""
    return record(faults, seed, duration_s)
