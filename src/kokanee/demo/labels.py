"""Fault ground truth: one JSON line per fault start and stop, and the same label posted to kokanee.

A label is written with `end: null` when a fault starts and again with its end when it stops, both to
the labels file and to `POST {api_url}/api/v1/fault-labels` (kokanee_fault_labels replaces the open
row by its key). Posting is best effort: the demo's job is to produce data, so a kokanee that is down
or older costs a warning, never the run.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import httpx

from kokanee.demo.faults import ActiveFault

log = logging.getLogger(__name__)

LABELS_PATH = "/api/v1/fault-labels"


def label_dict(fault: ActiveFault, run_id: str) -> dict[str, Any]:
    """The label in the API's shape: unix-ns start and end (None while running)."""
    return {
        "start": fault.start_ns,
        "end": fault.end_ns,
        "service": fault.service,
        "kind": fault.kind,
        "source": "demo",
        "detail": fault.detail(run_id),
    }


class LabelWriter:
    """Receives board changes (it is the board's `on_change`); thread safe: the control API calls it too."""

    def __init__(
        self, run_id: str, path: Path | None = None, api_url: str | None = None, api_token: str | None = None
    ) -> None:
        self.run_id = run_id
        self.path = path
        self.api_url = api_url.rstrip("/") if api_url else None
        self.written: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        headers = {"Authorization": f"Bearer {api_token}"} if api_token else None
        self._client = httpx.Client(timeout=3.0, headers=headers) if self.api_url else None
        self._warned = False
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, fault: ActiveFault) -> None:
        label = label_dict(fault, self.run_id)
        with self._lock:
            self.written.append(label)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(label, sort_keys=True) + "\n")
            self._post(label)

    def _post(self, label: dict[str, Any]) -> None:
        if self._client is None:
            return
        try:
            r = self._client.post(f"{self.api_url}{LABELS_PATH}", json={"labels": [label]})
            r.raise_for_status()
        except httpx.HTTPError as exc:
            # Warn once: a missing endpoint fails every post the same way, and the file keeps the truth.
            level = logging.DEBUG if self._warned else logging.WARNING
            log.log(
                level,
                "could not post fault label to %s: %s (the labels file still has it)",
                self.api_url,
                exc,
            )
            self._warned = True

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def read_labels(path: Path) -> list[dict[str, Any]]:
    """Labels in a file, the last line per (kind, service, start) winning, as kokanee's table does."""
    latest: dict[tuple[str, str, int], dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            label = json.loads(line)
            latest[(label["kind"], label["service"], label["start"])] = label
    return sorted(latest.values(), key=lambda label: (label["start"], label["kind"]))
