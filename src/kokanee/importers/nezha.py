"""The Nezha artifact's layout: `<root>/{rca_data,construct_data}/<date>/{trace,log,metric}/*.csv`
plus `rca_data/<date>/<date>-fault_list.json` (Yu et al., ESEC/FSE 2023).

Any folder inside that tree can be imported (the whole artifact, one day, one signal
folder) or a single CSV. `traceid/` folders only list ids already in the traces and are
not read. `construct_data` repeats the day's metric files byte for byte, so metric files
are read once per (name, size).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from kokanee.importers import otlp
from kokanee.importers.nezha_logs import read_logs
from kokanee.importers.nezha_metrics import read_metrics
from kokanee.importers.nezha_traces import read_traces
from kokanee.importers.times import parse_iso_ns
from kokanee.importers.types import Batch, FaultLabel, ImportFailed, Problems

SIGNAL_DIRS = ("trace", "log", "metric")


def looks_like_nezha(path: Path) -> bool:
    """True for a Nezha tree, date folder, signal folder or CSV in one."""
    if path.is_file():
        return path.suffix == ".csv" and path.parent.name in SIGNAL_DIRS
    if path.name in SIGNAL_DIRS and any(path.glob("*.csv")):
        return True
    return any(path.glob("**/*fault_list.json")) or any(path.glob("**/trace/*_trace.csv"))


class NezhaSource:
    """Reads a Nezha recording; see the module docstring for the layout."""

    format = "nezha"

    def __init__(self, root: Path) -> None:
        if not root.exists():
            raise ImportFailed(f"{root} does not exist")
        self.root = root
        self.problems = Problems()

    def files(self) -> list[Path]:
        if self.root.is_file():
            return [self.root]
        found: dict[str, list[Path]] = {name: [] for name in SIGNAL_DIRS}
        for csv_path in sorted(self.root.rglob("*.csv")):
            if csv_path.parent.name in found:
                found[csv_path.parent.name].append(csv_path)
        metrics: dict[tuple[str, int], Path] = {}
        for metric_path in found["metric"]:
            metrics.setdefault((metric_path.name, metric_path.stat().st_size), metric_path)
        # Traces first: they are what the derived tables are built from and what a user
        # looks for first while the rest is still loading.
        return [*found["trace"], *found["log"], *metrics.values()]

    def read(self, path: Path, batch_size: int) -> Iterator[Batch]:
        kind = path.parent.name
        if kind == "trace":
            return read_traces(path, batch_size, self.problems)
        if kind == "log":
            return read_logs(path, batch_size, self.problems)
        if kind == "metric":
            return read_metrics(path, batch_size, self.problems)
        raise ImportFailed(f"{path}: not in a trace/, log/ or metric/ folder of a Nezha recording")

    def labels(self) -> list[FaultLabel]:
        if self.root.is_file():
            return []
        # The fault list sits beside the signal folders: look from the root and, when a
        # signal folder or a day was given, from the day folder above it.
        day = self.root.parent if self.root.name in SIGNAL_DIRS else self.root
        labels: dict[FaultLabel, None] = {}
        for fault_list in sorted(day.rglob("*fault_list.json")):
            for label in read_fault_list(fault_list, self.problems):
                labels[label] = None
        return list(labels)


def read_fault_list(path: Path, problems: Problems) -> list[FaultLabel]:
    """Faults from a Nezha fault list: `{"<hour>": [{"inject_time", "inject_pod",
    "inject_type", "inject_timestamp"}, ...]}`.

    `inject_time` is read as UTC: it matches the minute file names, while
    `inject_timestamp` is 8 hours off for most faults of 2023-01-29 (datasets/README.md).
    The end of a fault is not recorded, so `end` is None.
    """
    try:
        hours = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        problems.add(f"{path.name}: unreadable fault list ({error})")
        return []
    labels: list[FaultLabel] = []
    for faults in hours.values() if isinstance(hours, dict) else []:
        for fault in faults if isinstance(faults, list) else []:
            try:
                start = parse_iso_ns(fault["inject_time"])
                pod, kind = str(fault["inject_pod"]), str(fault["inject_type"])
            except (KeyError, TypeError, ValueError):
                problems.add(f"{path.name}: unreadable fault {fault!r}")
                continue
            detail = f"{kind} injected into pod {pod} at {fault['inject_time']} UTC"
            labels.append(FaultLabel(start, None, otlp.service_from_pod(pod), kind, "nezha", detail))
    return labels
