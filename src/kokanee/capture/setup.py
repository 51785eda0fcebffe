"""Capture built from the server's settings (kept here so server.py only wires components)."""

from __future__ import annotations

from pathlib import Path

from kokanee.capture.objectstore import Locations, open_object_store
from kokanee.capture.writer import Capture, CaptureSettings
from kokanee.pipeline.wal import WriteAheadLog
from kokanee.store.client import Store

MIB = 1024 * 1024


def capture_url(location: str, data_dir: Path) -> str | None:
    """The object store URL a `--capture` value names; None when capture is off."""
    if location == "off":
        return None
    if location == "local":
        return f"file://{(data_dir / 'capture').resolve()}"
    return location


def open_capture(
    wal: WriteAheadLog,
    store: Store,
    data_dir: Path,
    location: str,
    endpoint: str | None,
    sample: dict[str, float],
    segment_mib: float,
    segment_s: float,
) -> tuple[Capture | None, Locations]:
    """Capture (None when switched off or sampled to nothing) and the object stores by URL.

    Call before the pipeline starts: capture's floor must hold the WAL before anything is stored.
    """
    locations = Locations(endpoint)
    url = capture_url(location, data_dir)
    if url is None or not any(sample.values()):
        return None, locations
    objects = locations.add(open_object_store(url, endpoint))
    settings = CaptureSettings(sample, int(segment_mib * MIB), segment_s)
    return Capture(wal, objects, store, data_dir / "capture-work", settings), locations
