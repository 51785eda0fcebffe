"""Capture as a second consumer of the WAL: records become per-signal segments in a local
outbox, then the uploader moves them to the object store and the index.

    WAL segment files ──tail──► open segment per signal ──close (size or age)──► outbox/
                                                                                   │ upload, retried
                                                                                   ▼
                                                                  object store + kokanee_capture_segments

The WAL keeps every segment file holding a record capture has not yet closed into the outbox
(its floor, saved in cursor.json before it moves), so a crash loses no acknowledged request:
open segments are rebuilt from the WAL at the next start, closed ones wait in the outbox.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kokanee.capture import index, metrics, segment
from kokanee.capture.objectstore import ObjectStore, ObjectStoreError
from kokanee.capture.segment import SegmentMeta
from kokanee.capture.summary import Summary, summarize
from kokanee.pipeline.wal import WalRecord, WalTail, WriteAheadLog, fsync_dir
from kokanee.store.client import Store

log = logging.getLogger(__name__)

_GOLDEN = 0x9E3779B97F4A7C15


@dataclass(frozen=True)
class CaptureSettings:
    sample: dict[str, float]  # fraction of requests kept per signal; a missing signal is not captured
    segment_bytes: int = 16 * 1024 * 1024  # raw bytes at which a segment closes
    segment_age_s: float = 60.0  # longest a segment stays open
    max_backoff_s: float = 10.0  # longest wait between upload attempts while the store is down


def sampled(seq: int, fraction: float) -> bool:
    """Deterministic per record, so a segment rebuilt after a crash keeps the same records."""
    if fraction >= 1:
        return True
    if fraction <= 0:
        return False
    return ((seq * _GOLDEN) & 0xFFFFFFFFFFFFFFFF) / 2**64 < fraction


@dataclass
class _Open:
    signal: str
    opened: float = field(default_factory=time.monotonic)
    records: list[WalRecord] = field(default_factory=list)
    raw_bytes: int = 0
    summary: Summary = field(default_factory=Summary)

    def add(self, record: WalRecord) -> None:
        self.records.append(record)
        self.raw_bytes += len(record.payload)
        self.summary.merge(summarize(record.signal, record.payload, record.encoding))


class Capture:
    """A component (start/stop): the WAL tail, the segment builder and the uploader threads."""

    def __init__(
        self, wal: WriteAheadLog, objects: ObjectStore, store: Store, work_dir: Path, settings: CaptureSettings
    ) -> None:
        self.wal = wal
        self.objects = objects
        self.store = store
        self.settings = settings
        self.work_dir = work_dir
        self.outbox = work_dir / "outbox"
        self.outbox.mkdir(parents=True, exist_ok=True)
        self._cursor_path = work_dir / "cursor.json"
        self.floor, self.closed = self._load_cursor()
        self._open: dict[str, _Open] = {}
        self._stop = threading.Event()
        self._wake_uploader = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.object_store_ok = True
        self.last_upload_error = ""
        # Registered now, before the pipeline starts storing, so no segment capture needs is dropped.
        wal.add_floor(lambda: self.floor)

    # -- cursor ---------------------------------------------------------------------------------

    def _load_cursor(self) -> tuple[int, dict[str, int]]:
        floor, closed = 0, {}
        if self._cursor_path.exists():
            data = json.loads(self._cursor_path.read_text())
            floor, closed = int(data["floor"]), {k: int(v) for k, v in data["closed"].items()}
        # A segment written to the outbox just before a crash, cursor not yet saved: keep it,
        # and do not capture its records a second time.
        for meta in self._outbox_metas():
            closed[meta.signal] = max(closed.get(meta.signal, 0), meta.last_seq)
        return floor, closed

    def _save_cursor(self, floor: int, closed: dict[str, int] | None = None) -> None:
        closed = self.closed if closed is None else closed
        body = json.dumps({"floor": floor, "closed": closed}).encode()
        tmp = self._cursor_path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._cursor_path)
        fsync_dir(self.work_dir)
        self.floor, self.closed = floor, closed

    def _current_floor(self, position: int) -> int:
        if self._open:
            return min(seg.records[0].seq for seg in self._open.values()) - 1
        return position

    # -- the segment builder -----------------------------------------------------------------

    def start(self) -> None:
        tail = self.wal.tail(self.floor)
        self._threads = [
            threading.Thread(target=self._build_loop, args=(tail,), name="kokanee-capture", daemon=True),
            threading.Thread(target=self._upload_loop, name="kokanee-capture-upload", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _build_loop(self, tail: WalTail) -> None:
        last_save = time.monotonic()
        while True:
            stopping = self._stop.is_set()
            records: list[WalRecord] = []
            try:
                records = tail.read()
                for record in records:
                    self._add(record)
                now = time.monotonic()
                for signal, seg in list(self._open.items()):
                    if stopping or now - seg.opened >= self.settings.segment_age_s:
                        self._close(signal)
                floor = self._current_floor(tail.position)
                if floor != self.floor and (now - last_save >= 1.0 or stopping):
                    self._save_cursor(floor)
                    last_save = now
                    self.wal.prune()
            except Exception:  # a full disk, say: keep the WAL (the floor stays) and try again
                log.exception("capture could not write a segment; retrying in 5 s")
                if self._stop.wait(5.0) and not records:
                    return
                continue
            if stopping and not records:
                return
            if not records:
                self._stop.wait(0.2)

    def _add(self, record: WalRecord) -> None:
        signal = record.signal
        if record.seq <= self.closed.get(signal, 0):
            return
        if not sampled(record.seq, self.settings.sample.get(signal, 0.0)):
            metrics.SAMPLED_OUT.labels(signal).inc()
            return
        seg = self._open.setdefault(signal, _Open(signal))
        seg.add(record)
        metrics.CAPTURED_REQUESTS.labels(signal).inc()
        if seg.raw_bytes >= self.settings.segment_bytes:
            self._close(signal)

    def _close(self, signal: str) -> None:
        seg = self._open[signal]  # removed only once it is safely in the outbox
        records = seg.records
        data = segment.encode(signal, records)
        first = records[0]
        arrival_start = min(r.received_ns for r in records)
        hour = datetime.fromtimestamp(arrival_start / 1e9, UTC).strftime("%Y/%m/%d/%H")
        key = f"{signal}/{hour}/{first.seq:020d}-{records[-1].seq:020d}-{self.wal.epoch[:8]}.kcs.zst"
        meta = SegmentMeta(
            key=key,
            signal=signal,
            first_seq=first.seq,
            last_seq=records[-1].seq,
            arrival_start=arrival_start,
            arrival_end=max(r.received_ns for r in records),
            event_start=seg.summary.event_start,
            event_end=seg.summary.event_end,
            services=sorted(seg.summary.services),
            requests=len(records),
            items=seg.summary.items,
            bytes=len(data),
            raw_bytes=seg.raw_bytes,
            tier="hot",
            location=self.objects.url,
        )
        name = key.replace("/", "__")
        _write_synced(self.outbox / f"{name}.seg", data)
        _write_synced(self.outbox / f"{name}.json", json.dumps(meta.to_json()).encode())
        fsync_dir(self.outbox)
        del self._open[signal]
        # The cursor moves before the uploader may take the segment (see _load_cursor for the other order).
        self._save_cursor(self._current_floor(meta.last_seq), {**self.closed, signal: meta.last_seq})
        metrics.SEGMENTS_CLOSED.labels(signal).inc()
        self._wake_uploader.set()

    # -- the uploader --------------------------------------------------------------------------

    def _outbox_metas(self) -> list[SegmentMeta]:
        metas = []
        for path in sorted(self.outbox.glob("*.json")):
            try:
                metas.append(SegmentMeta.from_json(json.loads(path.read_text())))
            except (OSError, ValueError) as e:
                log.error("capture outbox: unreadable %s: %s", path.name, e)
        return metas

    def _upload_loop(self) -> None:
        delay = 0.5
        while True:
            try:
                self.upload_pending()
            except Exception as e:  # the store or the object store is down: keep the outbox, retry
                metrics.UPLOAD_FAILURES.inc()
                metrics.OBJECT_STORE_UP.set(0)
                if self.object_store_ok:
                    log.warning("capture upload failing, segments wait in %s: %s", self.outbox, e)
                self.object_store_ok = False
                self.last_upload_error = str(e)[:500]
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, self.settings.max_backoff_s)
                continue
            if not self.object_store_ok:
                log.info("capture uploads work again")
            self.object_store_ok = True
            metrics.OBJECT_STORE_UP.set(1)
            delay = 0.5
            if self._stop.is_set():
                return
            self._wake_uploader.wait(1.0)
            self._wake_uploader.clear()

    def upload_pending(self) -> int:
        """Uploads and indexes every closed segment in the outbox; returns how many."""
        done = 0
        with self._lock:
            for meta in self._outbox_metas():
                if meta.last_seq > self.closed.get(meta.signal, 0):
                    continue  # not yet behind the saved cursor
                name = meta.key.replace("/", "__")
                data = (self.outbox / f"{name}.seg").read_bytes()
                self.objects.put(meta.key, data)
                if not index.exists(self.store, meta.key):
                    index.insert(self.store, [meta])
                (self.outbox / f"{name}.seg").unlink()
                (self.outbox / f"{name}.json").unlink()
                metrics.SEGMENTS_UPLOADED.labels(meta.signal).inc()
                metrics.UPLOADED_BYTES.inc(len(data))
                done += 1
            metrics.OUTBOX_BYTES.set(self.outbox_bytes())
        return done

    def outbox_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.outbox.glob("*.seg") if path.exists())

    def status(self) -> dict[str, object]:
        return {
            "location": self.objects.url,
            "sample": self.settings.sample,
            "object_store_ok": self.object_store_ok,
            "last_upload_error": "" if self.object_store_ok else self.last_upload_error,
            "outbox_segments": len(list(self.outbox.glob("*.seg"))),
            "outbox_bytes": self.outbox_bytes(),
            "open_segments": self._open_counts(),
        }

    def _open_counts(self) -> dict[str, int]:
        try:
            return {s: len(seg.records) for s, seg in list(self._open.items())}
        except RuntimeError:  # changed while read by the builder thread; the next poll sees it
            return {}

    def stop(self, timeout: float = 10.0) -> None:
        """Closes open segments (after the WAL is closed, so all records are read) and tries to
        upload them for up to `timeout`; what is left waits in the outbox for the next start."""
        self._stop.set()
        self._wake_uploader.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        try:
            self.upload_pending()
        except (ObjectStoreError, Exception) as e:  # anything left stays in the outbox
            log.warning("capture: %d segments stay in the outbox for the next start: %s", len(self._outbox_metas()), e)


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
