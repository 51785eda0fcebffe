"""Write-ahead log: every acknowledged OTLP request, fsynced in groups, replayed after a crash.

A record is the request as protobuf bytes; decoding is deterministic, so a replay rebuilds the
same rows. Segments are named by their first sequence number::

    wal/EPOCH                           random id of this log, part of every dedup token
    wal/checkpoint.json                 {"stored": S, "batches": [[A, B], ...], "batch": [A, B] or null}
    wal/00000000000000000001.wal        records 1 .. (next segment's first - 1)
    wal/00000000000000000932.wal        the open segment
    wal/recent-digests                  digests of requests in deleted segments, within the
                                        retry horizon (see `dedup`)

    record = magic "KW02" | length u32 | crc32 u32 | seq u64 | signal u8 | received_ns u64
             | encoding u8 | source length u16 | source | payload (length bytes)

The payload is the request body as received (after Content-Encoding is undone), protobuf or
JSON, with when and from where it came: the record is also what raw capture keeps.

`stored` is the last sequence number known to be in the store; `batches` are the ranges the
inserters are writing right now (several inserters write consecutive ranges side by side), and
any range finished before an earlier one: `stored` moves only over an unbroken run of finished
ranges. After a crash each range is inserted again with the same deduplication token (the
store drops those it has), then everything after them: the store sees each record exactly
once. `batch` is the first range, for readers of the one-inserter format.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from signal import SIGKILL

from kokanee import selfmetrics
from kokanee.ingest.errors import NotDurable
from kokanee.pipeline.dedup import RecentDigests, request_digest

log = logging.getLogger(__name__)

_MAGIC = b"KW02"
_HEADER = struct.Struct("<4sIIQBQBH")
_SIGNALS = ("traces", "metrics", "logs")
_ENCODINGS = ("protobuf", "json")
_DIGESTS = "recent-digests"
# Test failpoint: with this set, the process kills itself (SIGKILL) right after the first group
# of records is fsynced and before any of them is acknowledged, which is the moment whose retry
# `dedup` exists for. Tests set it; nothing else should.
FAILPOINT_ENV = "KOKANEE_TEST_FAILPOINT"


class WalError(NotDurable):
    """The log cannot be written (disk full, I/O error): the request is not durable, retry later."""


@dataclass(frozen=True)
class WalRecord:
    seq: int
    signal: str
    payload: bytes
    received_ns: int = 0
    encoding: str = "protobuf"  # of the payload: "protobuf" or "json"
    source: str = ""  # the client, e.g. "http 10.0.0.7:52144"


@dataclass(frozen=True)
class Checkpoint:
    stored: int
    batches: tuple[tuple[int, int], ...] = ()  # begun and not yet under `stored`, in order

    @property
    def batch(self) -> tuple[int, int] | None:
        return self.batches[0] if self.batches else None


@dataclass
class _Pending:
    record: WalRecord  # seq 0 until written
    context: object
    future: Future[int]
    digest: bytes | None = None


class WriteAheadLog:
    """Append-only segments with group commit: one fsync covers every record that arrived meanwhile.

    `on_durable(record, context)` is called on the writer thread, in sequence order, after the
    record's fsync and before its future resolves, so downstream sees records in log order.
    """

    def __init__(self, directory: Path, segment_bytes: int = 64 * 1024 * 1024, dedup_horizon_s: float = 300.0) -> None:
        self.dir = directory
        self.segment_bytes = segment_bytes
        self.dir.mkdir(parents=True, exist_ok=True)
        self.epoch = self._load_epoch()
        self.on_durable: Callable[[WalRecord, object], None] = lambda record, context: None
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._closed = False
        self._thread: threading.Thread | None = None
        self._file: int | None = None
        self._file_size = 0
        self.checkpoint = self._read_checkpoint()
        self._checkpoint_lock = threading.Lock()  # inserters begin and finish batches side by side
        self._finished: set[tuple[int, int]] = set()  # ranges stored ahead of an earlier one
        self._prune_lock = threading.Lock()
        self.last_seq = self.checkpoint.stored
        # Other readers of the log (raw capture) say how far they have got; no segment they
        # still need is deleted. Each returns the last sequence number it no longer needs.
        self._floors: list[Callable[[], int]] = []
        # Digests of durable requests, to acknowledge a resent one without writing it twice.
        self.recent = RecentDigests(dedup_horizon_s)
        self._failpoint = os.environ.get(FAILPOINT_ENV, "")

    # -- start-up ---------------------------------------------------------------------------

    def _load_epoch(self) -> str:
        path = self.dir / "EPOCH"
        if not path.exists():
            _write_atomically(path, uuid.uuid4().hex.encode())
        return path.read_text().strip()

    def _read_checkpoint(self) -> Checkpoint:
        path = self.dir / "checkpoint.json"
        if not path.exists():
            return Checkpoint(0)
        data = json.loads(path.read_text())
        batch = data.get("batch")
        ranges = data.get("batches", [batch] if batch else [])
        return Checkpoint(int(data["stored"]), tuple((int(a), int(b)) for a, b in ranges))

    def segments(self) -> list[Path]:
        return sorted(self.dir.glob("*.wal"))

    def recover(self) -> Iterator[WalRecord]:
        """Yields the records not yet stored, in order, and truncates a torn tail.

        Must be called once, before `start()`. Also remembers the digests of every record in
        the log (and those saved from deleted segments) that is within the retry horizon.
        """
        self.recent.load(self.dir / _DIGESTS)
        oldest = time.time_ns() - self.recent.horizon_ns
        for path in self.segments():
            for record in self._read_segment(path):
                self.last_seq = max(self.last_seq, record.seq)
                if self.recent.enabled and record.received_ns >= oldest:
                    self.recent.add(record_digest(record), record.received_ns, record.seq)
                if record.seq > self.checkpoint.stored:
                    yield record

    def _read_segment(self, path: Path) -> Iterator[WalRecord]:
        with path.open("rb") as f:
            data = f.read()
        offset = 0
        for record, end in _parse(data):
            yield record
            offset = end
        if offset < len(data):
            # A crash mid-write leaves a partial record; it was never acknowledged.
            log.warning("WAL %s: dropping %d bytes of torn or corrupt tail", path.name, len(data) - offset)
            with path.open("r+b") as f:
                f.truncate(offset)
                os.fsync(f.fileno())

    # -- writing ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._writer, name="kokanee-wal", daemon=True)
        self._thread.start()

    def append(
        self,
        signal: str,
        payload: bytes,
        context: object = None,
        *,
        encoding: str = "protobuf",
        source: str = "",
        received_ns: int | None = None,
        digest: bytes | None = None,
    ) -> Future[int]:
        """Queues a record; the future resolves to its sequence number once it is on disk.

        `context` travels with the record to `on_durable` (the decoded tables, say); `digest`
        (`record_digest` of it) is remembered once the record is durable.
        """
        record = WalRecord(0, signal, payload, received_ns or time.time_ns(), encoding, source[:200])
        future: Future[int] = Future()
        with self._cond:
            if self._closed:
                future.set_exception(WalError("the write-ahead log is closed"))
                return future
            self._queue.append(_Pending(record, context, future, digest))
            self._cond.notify()
        return future

    def _writer(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                batch, self._queue = self._queue, []
                if not batch and self._closed:
                    break
            try:
                records = self._write_group(batch)
            except OSError as e:
                for pending in batch:
                    pending.future.set_exception(WalError(f"write-ahead log: {e.strerror or e}"))
                continue
            for record, pending in zip(records, batch, strict=True):
                if pending.digest is not None:
                    self.recent.add(pending.digest, record.received_ns, record.seq)
            if self._failpoint == "kill-after-wal-fsync":
                os.kill(os.getpid(), SIGKILL)  # test failpoint: durable, never acknowledged
            for record, pending in zip(records, batch, strict=True):
                self.on_durable(record, pending.context)
                pending.future.set_result(record.seq)
        if self._file is not None:
            os.close(self._file)
            self._file = None

    def _write_group(self, batch: list[_Pending]) -> list[WalRecord]:
        if self._file is None or self._file_size >= self.segment_bytes:
            self._roll()
        assert self._file is not None
        seq = self.last_seq
        records, chunks = [], []
        for pending in batch:
            seq += 1
            r = pending.record
            record = WalRecord(seq, r.signal, r.payload, r.received_ns, r.encoding, r.source)
            records.append(record)
            source = r.source.encode()
            crc = zlib.crc32(r.payload, zlib.crc32(source))
            signal, encoding = _SIGNALS.index(r.signal), _ENCODINGS.index(r.encoding)
            header = _HEADER.pack(_MAGIC, len(r.payload), crc, seq, signal, r.received_ns, encoding, len(source))
            chunks.append(header)
            chunks.append(source)
            chunks.append(r.payload)
        blob = b"".join(chunks)
        started = time.perf_counter()
        try:
            os.write(self._file, blob)
            os.fsync(self._file)
        except OSError:
            # Leave no half-written group behind: those requests get an error, not an ack.
            os.ftruncate(self._file, self._file_size)
            raise
        selfmetrics.WAL_FSYNC.observe(time.perf_counter() - started)
        self._file_size += len(blob)
        self.last_seq = seq
        return records

    def _roll(self) -> None:
        if self._file is not None:
            os.close(self._file)
        path = self.dir / f"{self.last_seq + 1:020d}.wal"
        self._file = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._file_size = os.fstat(self._file).st_size
        fsync_dir(self.dir)

    # -- progress of the store ----------------------------------------------------------------

    def begin_batch(self, first: int, last: int) -> None:
        """Records that records `first`..`last` are about to be inserted as one batch."""
        with self._checkpoint_lock:
            ranges = sorted({*self.checkpoint.batches, (first, last)})
            self._save_checkpoint(Checkpoint(self.checkpoint.stored, tuple(ranges)))

    def finish_batch(self, first: int, last: int) -> None:
        """Records that a begun batch is in the store; `stored` moves over every finished range
        that follows it without a gap (a later range finished first waits for the earlier one)."""
        with self._checkpoint_lock:
            self._finished.add((first, last))
            stored = self.checkpoint.stored
            while (following := next((r for r in self._finished if r[0] == stored + 1), None)) is not None:
                self._finished.discard(following)
                stored = following[1]
            self._set_stored(stored)

    def mark_stored(self, seq: int) -> None:
        """Records that everything up to `seq` is in the store, and drops whole segments below it."""
        with self._checkpoint_lock:
            self._set_stored(seq)

    def _set_stored(self, seq: int) -> None:
        ranges = tuple(r for r in self.checkpoint.batches if r[0] > seq)
        if (seq, ranges) != (self.checkpoint.stored, self.checkpoint.batches):
            self._save_checkpoint(Checkpoint(seq, ranges))
        self.prune()

    def add_floor(self, floor: Callable[[], int]) -> None:
        """Keeps every segment holding a record after `floor()` (a second consumer's durable cursor)."""
        self._floors.append(floor)

    def prune(self) -> None:
        """Drops whole segments every consumer (the store and each floor) has passed."""
        with self._prune_lock:  # the inserters and raw capture prune from their own threads
            done = min([self.checkpoint.stored, *(floor() for floor in self._floors)])
            segments = self.segments()
            gone = [path for path, following in itertools.pairwise(segments) if int(following.stem) - 1 <= done]
            if gone and self.recent.enabled:
                # Their digests must outlive them, for a retry that comes after a crash.
                _write_atomically(self.dir / _DIGESTS, self.recent.dump())
            for path in gone:
                path.unlink(missing_ok=True)
        selfmetrics.WAL_BYTES.set(self.size_bytes())

    def tail(self, after: int) -> WalTail:
        """A reader of the records after `after`, following the log as it is written."""
        return WalTail(self, after)

    def _save_checkpoint(self, checkpoint: Checkpoint) -> None:
        body = {
            "stored": checkpoint.stored,
            "batches": [list(r) for r in checkpoint.batches],
            "batch": list(checkpoint.batch) if checkpoint.batch else None,
        }
        _write_atomically(self.dir / "checkpoint.json", json.dumps(body).encode())
        self.checkpoint = checkpoint

    def size_bytes(self) -> int:
        total = 0
        for path in self.segments():
            with contextlib.suppress(FileNotFoundError):  # pruned meanwhile by another consumer
                total += path.stat().st_size
        return total

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()


class WalTail:
    """Reads durable records after a sequence number from the segment files, while the writer
    appends. Only records up to `last_seq` as read before the bytes are returned: those were
    fsynced, so a group whose write failed (and was truncated) is never seen."""

    def __init__(self, wal: WriteAheadLog, after: int) -> None:
        self.wal = wal
        self.position = after
        self._path: Path | None = None
        self._offset = 0
        self.skipped = 0  # records no longer in the log when the reader got there

    def read(self, max_bytes: int = 8 * 1024 * 1024) -> list[WalRecord]:
        durable = self.wal.last_seq
        records: list[WalRecord] = []
        size = 0
        while size < max_bytes and self.position < durable:
            if self._path is None and not self._open():
                break
            assert self._path is not None
            data = self._bytes(max_bytes)
            consumed = 0
            for record, end in _parse(data):
                if record.seq > durable:
                    break
                consumed = end
                if record.seq > self.position:
                    records.append(record)
                    size += len(record.payload)
                    self.position = record.seq
            self._offset += consumed
            if consumed == 0 and not self._next_segment():
                break
        return records

    def _bytes(self, max_bytes: int) -> bytes:
        assert self._path is not None
        try:
            with self._path.open("rb") as f:
                f.seek(self._offset)
                data = f.read(max_bytes)
                if len(data) == max_bytes and len(data) >= _HEADER.size:
                    length, source_len = _HEADER.unpack_from(data)[1], _HEADER.unpack_from(data)[7]
                    if _HEADER.size + source_len + length > len(data):
                        data += f.read(_HEADER.size + source_len + length - len(data))  # one large record
                return data
        except FileNotFoundError:
            return b""

    def _open(self) -> bool:
        """Positions at the segment holding the record after `position`."""
        segments = self.wal.segments()
        if not segments:
            return False
        chosen = segments[0]
        for path in segments:
            if int(path.stem) <= self.position + 1:
                chosen = path
        if int(chosen.stem) > self.position + 1:
            self.skipped += int(chosen.stem) - 1 - self.position
            log.warning("WAL records %d..%d are gone before capture read them", self.position + 1, int(chosen.stem) - 1)
            self.position = int(chosen.stem) - 1
        self._path, self._offset = chosen, 0
        return True

    def _next_segment(self) -> bool:
        """Moves to the following segment once this one is finished (a newer one exists)."""
        assert self._path is not None
        later = [path for path in self.wal.segments() if path.name > self._path.name]
        if not later:
            return False
        self._path, self._offset = later[0], 0
        return True


def record_digest(record: WalRecord) -> bytes:
    return request_digest(record.signal, record.encoding, record.payload)


def _parse(data: bytes) -> Iterator[tuple[WalRecord, int]]:
    """Complete, intact records from the start of `data`, each with the offset just after it."""
    offset = 0
    while len(data) - offset >= _HEADER.size:
        magic, length, crc, seq, signal, received, encoding, source_len = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        body = data[start : start + source_len + length]
        if (
            magic != _MAGIC
            or len(body) != source_len + length
            or zlib.crc32(body) != crc
            or signal >= len(_SIGNALS)
            or encoding >= len(_ENCODINGS)
        ):
            return
        source = body[:source_len].decode("utf-8", "replace")
        offset = start + source_len + length
        yield WalRecord(seq, _SIGNALS[signal], body[source_len:], received, _ENCODINGS[encoding], source), offset


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Makes a directory's entries (files created, renamed) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
