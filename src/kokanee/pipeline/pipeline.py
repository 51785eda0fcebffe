"""From an accepted request to stored rows: admission (back-pressure), the WAL, batched inserts.

    receiver ──submit()──► admission ──► WAL (group fsync) ──ack──► receiver
                                            │ on_durable, in log order
                                            ▼
                                     pending queue ──► inserter threads ──► store
                                                        (batches of whole records,
                                                         one dedup token per batch)

With `insert_streams` > 1, inserters write consecutive batches side by side, each on its own
connection: ClickHouse flattens a batch's protobuf on one thread, so a second stream uses a
second core. The WAL's checkpoint moves only over an unbroken run of stored batches.

Memory is bounded by `max_pending_bytes`: past it, or while the store refuses inserts, new
requests are refused with a retryable error and exporters retry. A request resent after its
acknowledgement was lost is recognised by its digest (see `dedup`) and acknowledged again
without being written twice. A record the store refuses is found by halving its batch and set
aside alone (quarantine), so it costs one record and a few inserts, not the pipeline.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa

from kokanee import selfmetrics
from kokanee.ingest.decode import canonical
from kokanee.ingest.errors import Backpressure, PipelineFull, StoreDown
from kokanee.ingest.types import DecodeError, Rows
from kokanee.pipeline.dedup import request_digest
from kokanee.pipeline.wal import WalError, WalRecord, WriteAheadLog
from kokanee.store.client import Store, StoreUnavailable
from kokanee.store.memory import resident_bytes
from kokanee.store.otlp_native import NATIVE_SIGNALS as NATIVE_TARGETS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Staged:
    rows: Rows
    nbytes: int


@dataclass
class _Item:
    seq: int
    rows: Rows
    nbytes: int
    count: int
    payload: bytes
    queued_at: float = field(default_factory=time.monotonic)


class Pipeline:
    """Owns the WAL and the inserter thread. `decode(signal, body, encoding)` rebuilds rows on replay."""

    def __init__(
        self,
        wal: WriteAheadLog,
        store: Store,
        decode: Callable[[str, bytes, str], Rows],
        max_pending_bytes: int,
        flush_interval_s: float = 0.5,
        flush_rows: int = 50_000,
        spool_dir: Path | None = None,
        max_resident_bytes: int | None = None,
        insert_streams: int = 1,
    ) -> None:
        self.wal = wal
        self.store = store
        self.decode = decode
        self.spool_dir = spool_dir or wal.dir.parent / "spool"
        self.max_pending_bytes = max_pending_bytes
        self.max_resident_bytes = max_resident_bytes  # the process's cap (--max-memory-mib), if any
        self._resident = _ResidentCheck()
        self.flush_interval_s = flush_interval_s
        self.flush_rows = flush_rows
        self._pending: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._pending_bytes = 0  # admitted, not yet stored (includes requests still in the WAL queue)
        self._store_ok = True
        self._stopping = False
        self.insert_streams = max(1, insert_streams)
        self._threads: list[threading.Thread] = []
        self._replay: deque[tuple[int, int]] = deque()  # batches a crash interrupted, to rebuild exactly
        self._inflight: dict[bytes, Future[int]] = {}  # digest → append not yet durable (event loop only)
        self._reencode_first: set[str] = set()  # signals whose last batch the store refused as sent (inserters)
        self.wal.on_durable = self._on_durable

    # -- start and recovery --------------------------------------------------------------------

    def start(self) -> int:
        """Queues the WAL's unstored records for insertion, then starts writing. Returns their count."""
        replayed = 0
        for record in self.wal.recover():
            rows = self.decode(record.signal, record.payload, record.encoding)
            nbytes = rows.nbytes + len(record.payload)
            with self._cond:
                self._pending_bytes += nbytes
            self._enqueue(record, _Staged(rows, nbytes))
            replayed += 1
        selfmetrics.REPLAYED.inc(replayed)
        self._replay.extend(self.wal.checkpoint.batches)
        self.wal.start()
        for i in range(self.insert_streams):
            thread = threading.Thread(
                target=self._insert_loop, args=(i > 0,), name=f"kokanee-inserter-{i}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        return replayed

    # -- admission -------------------------------------------------------------------------------

    async def submit(
        self, signal: str, payload: bytes, rows: Rows, encoding: str = "protobuf", source: str = ""
    ) -> int:
        """Makes a decoded request durable and queues it for the store; returns its WAL sequence,
        or 0 when the same bytes were made durable within the retry horizon (a resend, not stored
        again).

        Raises PipelineFull or StoreDown (both retryable) when the request must wait, and
        WalError when the log cannot be written.
        """
        digest = request_digest(signal, encoding, payload) if self.wal.recent.enabled else None
        if digest is not None and (self.wal.recent.get(digest) is not None or digest in self._inflight):
            pending = self._inflight.get(digest)
            if pending is not None:
                await asyncio.wrap_future(pending)  # the first copy's outcome is this one's
            selfmetrics.DUPLICATES.labels(signal).inc()
            return 0
        # The store's protobuf is usually the body itself (see Decoder.payload): count it once.
        nbytes = rows.nbytes + (0 if rows.native and rows.native[1] is payload else len(payload))
        with self._cond:
            refusal = self._refusal(nbytes)
            if refusal is not None:
                raise refusal
            self._pending_bytes += nbytes
            selfmetrics.QUEUE_BYTES.set(self._pending_bytes)
        future = self.wal.append(
            signal, payload, _Staged(rows, nbytes), encoding=encoding, source=source, digest=digest
        )
        if digest is not None:
            self._inflight[digest] = future
        try:
            return await asyncio.wrap_future(future)
        except WalError:
            self._release(nbytes)
            raise
        finally:
            if digest is not None:
                self._inflight.pop(digest, None)

    def admit(self, signal: str, body: bytes, encoding: str) -> None:
        """Refuses a request before it is decoded when `submit` would refuse it anyway.

        Under overload most requests are refused; parsing each first cost as much CPU as accepting
        it and left the inserter a fraction of the machine (measured at 3x capacity: 27% of the
        capacity accepted). A resend of a durable request still goes through, to be acknowledged.
        """
        with self._cond:
            refusal = self._refusal(len(body))
        if refusal is None:
            return
        if self.wal.recent.enabled:
            digest = request_digest(signal, encoding, body)
            if self.wal.recent.get(digest) is not None or digest in self._inflight:
                return
        raise refusal

    def _refusal(self, nbytes: int) -> Backpressure | None:
        """Why a request of `nbytes` must wait now, if it must (called holding `_cond`)."""
        if not self._store_ok and self._pending_bytes > 0:
            return StoreDown("the store is not accepting writes; retry later")
        if self._pending_bytes > 0 and self._pending_bytes + nbytes > self.max_pending_bytes:
            return PipelineFull("kokanee is busy writing earlier data; retry later")
        if self._pending_bytes > 0 and self._resident.over(self.max_resident_bytes):
            # The bounds above hold but the process is past its cap (the engine's allocator keeps
            # freed memory a few seconds): wait for the inserter. Never with nothing pending, so
            # a process that stays above its cap still takes requests one insert at a time.
            return PipelineFull("kokanee is at its memory bound (--max-memory-mib); retry later")
        return None

    def _release(self, nbytes: int) -> None:
        with self._cond:
            self._pending_bytes -= nbytes
            selfmetrics.QUEUE_BYTES.set(self._pending_bytes)
            selfmetrics.QUEUE_ITEMS.set(len(self._pending))

    def _on_durable(self, record: WalRecord, context: object) -> None:
        assert isinstance(context, _Staged)
        self._enqueue(record, context)

    def _enqueue(self, record: WalRecord, staged: _Staged) -> None:
        with self._cond:
            self._pending.append(_Item(record.seq, staged.rows, staged.nbytes, staged.rows.count, record.payload))
            selfmetrics.QUEUE_ITEMS.set(len(self._pending))
            self._cond.notify_all()

    # -- the inserter --------------------------------------------------------------------------

    def _take_batch(self, full_only: bool = False) -> list[_Item]:
        """The next batch, once `flush_rows` are pending or the oldest has waited the flush interval.

        With `full_only` (the second and later inserters) only a full batch, i.e. a backlog: an
        insert costs ~0.2 s of CPU whatever its size, so a lone inserter keeps its batches whole
        until there is more than it can take alone.
        """
        with self._cond:
            while True:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if not self._pending or (self._stopping and full_only):
                    return []
                # The interval counts from the oldest request's arrival, not from when the inserter got
                # free: behind a backlog (a slow insert, a storm) batches go out back to back.
                deadline = self._pending[0].queued_at + self.flush_interval_s
                ready = self._stopping
                while not self._stopping and self._pending:
                    rows = sum(item.count for item in self._pending)
                    remaining = deadline - time.monotonic()
                    if rows >= self.flush_rows or (remaining <= 0 and not full_only):
                        ready = True
                        break
                    self._cond.wait(None if full_only else remaining)
                if self._pending and ready and not (self._stopping and full_only):
                    break  # else another inserter took them meanwhile, or this one leaves the rest
            batch: list[_Item] = []
            if self._replay and self._pending[0].seq <= self._replay[0][1]:
                # A batch interrupted by a crash is rebuilt exactly (same records, same token).
                _, last = self._replay.popleft()
                while self._pending and self._pending[0].seq <= last:
                    batch.append(self._pending.popleft())
                return batch
            rows = 0
            end = self._replay[0][0] if self._replay else None
            while self._pending and not (batch and rows + self._pending[0].count > self.flush_rows):
                if end is not None and self._pending[0].seq >= end:
                    break
                item = self._pending.popleft()
                batch.append(item)
                rows += item.count
            return batch

    def _insert_loop(self, full_only: bool = False) -> None:
        while True:
            batch = self._take_batch(full_only)
            if not batch:
                return
            try:
                self._write(batch)
            except _Abandon:
                return
            self._release(sum(item.nbytes for item in batch))
            self._hand_back_freed_memory()
            with self._cond:
                self._cond.notify_all()

    def _hand_back_freed_memory(self) -> None:
        """After an insert, once the process is within the pending bound of its cap, the engine
        returns what the insert freed, so the cap holds and admission is not refused for memory
        the engine would reuse anyway. Only near the cap: the next insert faults the pages back in
        (measured at the default cap: purging above half the cap cost 14% of the stored rate)."""
        if self.max_resident_bytes is None:
            return
        if not self._resident.over(self.max_resident_bytes - self.max_pending_bytes, fresh=True):
            return
        try:
            self.store.release_freed_memory()
        except Exception as e:  # an engine without jemalloc: the cap is then held by admission alone
            log.debug("the store could not release freed memory: %s", e)

    def _write(self, batch: list[_Item]) -> None:
        first, last = batch[0].seq, batch[-1].seq
        self.wal.begin_batch(first, last)
        token = f"{self.wal.epoch}-{first}-{last}"
        for target, items in _targets(batch).items():
            self._store_or_split(target, items, token, token)
        self.wal.finish_batch(first, last)

    def _insert(self, target: str, items: list[_Item], token: str) -> None:
        if target in NATIVE_TARGETS:
            payloads = [item.rows.native[1] for item in items if item.rows.native]
            self.store.insert_otlp(target, payloads, token, self.spool_dir)
        else:
            tables = [item.rows.tables[target] for item in items]
            merged = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")
            self.store.insert_arrow(target, merged, token=token)

    def _retrying(self, target: str, items: list[_Item], token: str, attempts_for_rejects: int = 3) -> None:
        """Inserts until it succeeds. While the store is unavailable that is forever (acknowledged
        data is never dropped); when the store rejects the data itself, _Rejected after a few tries."""
        delay, rejects = 0.2, 0
        while True:
            started = time.perf_counter()
            try:
                self._insert(target, items, token)
            except (StoreUnavailable, OSError) as e:  # OSError: the spool file could not be written
                self._set_store_ok(False)
                selfmetrics.INSERT_FAILURES.labels("unavailable").inc()
                log.warning("insert into %s failed, retrying in %.1fs: %s", target, delay, e)
            except Exception as e:
                rejects += 1
                selfmetrics.INSERT_FAILURES.labels("rejected").inc()
                # A warning: the caller re-encodes, halves or sets aside (and logs that as an error).
                log.warning(
                    "store refused an insert of %d records into %s (try %d): %s", len(items), target, rejects, e
                )
                if rejects >= attempts_for_rejects:
                    raise _Rejected(str(e)) from e
            else:
                self._set_store_ok(True)
                selfmetrics.INSERT_SECONDS.labels(target).observe(time.perf_counter() - started)
                selfmetrics.INSERTED_ROWS.labels(target).inc(sum(item.count for item in items))
                return
            with self._cond:
                if self._stopping:
                    raise _Abandon()
                self._cond.wait(delay)
            delay = min(delay * 2, 5.0)

    def _store_or_split(
        self, target: str, items: list[_Item], token: str, batch_token: str, reencoded: bool = False
    ) -> None:
        """Inserts `items`; if the store refuses them, re-encodes them once (protobuf the store
        flattens, see `canonical`), then inserts each half the same way, so a refused record ends
        up alone and is set aside while the rest are stored.

        One bad record among n costs about 2·log2(n) inserts. A part is refused after one try; a
        record alone gets three (in case the refusal was transient) before quarantine. Splits are
        deterministic and each part has its own token (`batch_token.first-last`), so a replay after
        a crash mid-split repeats the same inserts and the store drops those it has. A batch keeps
        its token whether sent as received or re-encoded: a refused insert stores nothing, so
        whichever encoding lands first holds the token, and a replay that takes the other path
        (it starts without knowing which one this process took) is dropped.
        """
        native = target in NATIVE_TARGETS
        if native and not reencoded and target in self._reencode_first:
            # The store refused this signal's last batch as sent (a client sending non-canonical
            # protobuf): re-encode up front rather than pay a refused insert per batch, until a
            # batch needs no re-encoding (the token stays the batch's, see above).
            reencoded = True
            if not _reencode(items):
                self._reencode_first.discard(target)
        tries = 3 if len(items) == 1 and (reencoded or not native) else 1
        try:
            self._retrying(target, items, token, attempts_for_rejects=tries)
            return
        except _Rejected as e:
            error = str(e)
        if native and not reencoded:
            if _reencode(items):
                self._reencode_first.add(target)
                self._store_or_split(target, items, token, batch_token, reencoded=True)
                return
            reencoded = True  # already canonical: the refusal is about something else
        if len(items) == 1:
            if tries == 1:  # not yet tried alone with retries
                self._store_or_split(target, items, f"{token}~1", batch_token, reencoded=True)
            else:
                self._quarantine(target, items[0], error)
            return
        half = len(items) // 2
        for part in (items[:half], items[half:]):
            self._store_or_split(target, part, f"{batch_token}.{part[0].seq}-{part[-1].seq}", batch_token, reencoded)

    def _quarantine(self, target: str, item: _Item, error: str) -> None:
        """Keeps a request the store refuses (its WAL bytes and the reason), so nothing acknowledged
        disappears silently and ingest goes on."""
        folder = self.spool_dir.parent / "quarantine"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{item.seq:020d}-{target}.pb").write_bytes(item.payload)
        (folder / f"{item.seq:020d}-{target}.txt").write_text(error + "\n")
        selfmetrics.QUARANTINED.labels(target).inc(item.count)
        log.error("set aside WAL record %d (%s) in %s: %s", item.seq, target, folder, error)

    def _set_store_ok(self, ok: bool) -> None:
        if ok != self._store_ok:
            log.info("store is %s", "accepting writes again" if ok else "refusing writes")
        self._store_ok = ok
        selfmetrics.STORE_UP.set(1 if ok else 0)

    @property
    def store_ok(self) -> bool:
        return self._store_ok

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    def stop(self, timeout: float = 30.0) -> None:
        """Stops taking requests, writes what is pending (up to `timeout`), closes the WAL.

        Whatever is not written in time stays in the WAL and is replayed at the next start.
        """
        self.wal.close()
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending and time.monotonic() < deadline and self._store_ok:
                self._cond.wait(0.05)
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))


class _ResidentCheck:
    """Whether the process's resident memory is above a cap, read at most every 50 ms."""

    def __init__(self) -> None:
        self._at = 0.0
        self._bytes: int | None = None

    def over(self, cap: int | None, fresh: bool = False) -> bool:
        if cap is None:
            return False
        now = time.monotonic()
        if fresh or now - self._at > 0.05:
            self._at, self._bytes = now, resident_bytes()
        return self._bytes is not None and self._bytes > cap


class _Abandon(Exception):
    """Raised inside the inserter when stopping while the store is down: the WAL keeps the data."""


class _Rejected(Exception):
    """The store refuses this data (not a transient failure)."""


def _reencode(items: list[_Item]) -> bool:
    """Replaces each item's protobuf with its canonical encoding; True if any changed."""
    changed = False
    for item in items:
        if item.rows.native is None:
            continue
        signal, body = item.rows.native
        try:
            encoded = canonical(signal, body)  # type: ignore[arg-type]
        except DecodeError:  # never acknowledged in the first place; leave it to quarantine
            continue
        if encoded is not body:
            item.rows = replace(item.rows, native=(signal, encoded))
            changed = True
    return changed


def _targets(batch: list[_Item]) -> dict[str, list[_Item]]:
    """Items by where they go: a table name (Arrow rows) or a signal (protobuf the store flattens)."""
    targets: dict[str, list[_Item]] = {}
    for item in batch:
        if item.rows.native is not None:
            targets.setdefault(item.rows.native[0], []).append(item)
        for name in item.rows.tables:
            targets.setdefault(name, []).append(item)
    return targets
