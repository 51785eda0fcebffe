"""From an accepted request to stored rows: admission (back-pressure), the WAL, batched inserts.

    receiver ──submit()──► admission ──► WAL (group fsync) ──ack──► receiver
                                            │ on_durable, in log order
                                            ▼
                                     pending queue ──► inserter thread ──► store
                                                        (batches of whole records,
                                                         one dedup token per batch)

Memory is bounded by `max_pending_bytes`: past it, or while the store refuses inserts, new
requests are refused with a retryable error and exporters retry.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from kokanee import selfmetrics
from kokanee.pipeline.errors import PipelineFull, StoreDown
from kokanee.pipeline.wal import WalError, WalRecord, WriteAheadLog
from kokanee.store.client import Store, StoreUnavailable

log = logging.getLogger(__name__)

Tables = dict[str, pa.Table]


@dataclass(frozen=True)
class _Staged:
    tables: Tables
    nbytes: int


@dataclass
class _Item:
    seq: int
    tables: Tables
    nbytes: int
    rows: int


class Pipeline:
    """Owns the WAL and the inserter thread. `decode(signal, payload)` rebuilds tables on replay."""

    def __init__(
        self,
        wal: WriteAheadLog,
        store: Store,
        decode: Callable[[str, bytes], Tables],
        max_pending_bytes: int,
        flush_interval_s: float = 0.5,
        flush_rows: int = 200_000,
        consumers: Sequence[Callable[[Tables], None]] = (),
    ) -> None:
        self.wal = wal
        self.store = store
        self.decode = decode
        self.max_pending_bytes = max_pending_bytes
        self.flush_interval_s = flush_interval_s
        self.flush_rows = flush_rows
        self.consumers = list(consumers)
        self._pending: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._pending_bytes = 0  # admitted, not yet stored (includes requests still in the WAL queue)
        self._store_ok = True
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.wal.on_durable = self._on_durable

    # -- start and recovery --------------------------------------------------------------------

    def start(self) -> int:
        """Queues the WAL's unstored records for insertion, then starts writing. Returns their count."""
        replayed = 0
        for record in self.wal.recover():
            tables = self.decode(record.signal, record.payload)
            nbytes = _table_bytes(tables) + len(record.payload)
            with self._cond:
                self._pending_bytes += nbytes
            self._enqueue(record.seq, _Staged(tables, nbytes))
            replayed += 1
        selfmetrics.REPLAYED.inc(replayed)
        self.wal.start()
        self._thread = threading.Thread(target=self._insert_loop, name="kokanee-inserter", daemon=True)
        self._thread.start()
        return replayed

    # -- admission -------------------------------------------------------------------------------

    async def submit(self, signal: str, payload: bytes, tables: Tables) -> int:
        """Makes a decoded request durable and queues it for the store; returns its WAL sequence.

        Raises PipelineFull or StoreDown (both retryable) when the request must wait, and
        WalError when the log cannot be written.
        """
        nbytes = _table_bytes(tables) + len(payload)
        with self._cond:
            if not self._store_ok and self._pending_bytes > 0:
                raise StoreDown("the store is not accepting writes; retry later")
            if self._pending_bytes > 0 and self._pending_bytes + nbytes > self.max_pending_bytes:
                raise PipelineFull("kokanee is busy writing earlier data; retry later")
            self._pending_bytes += nbytes
            selfmetrics.QUEUE_BYTES.set(self._pending_bytes)
        future = self.wal.append(signal, payload, _Staged(tables, nbytes))
        try:
            return await asyncio.wrap_future(future)
        except WalError:
            self._release(nbytes)
            raise

    def _release(self, nbytes: int) -> None:
        with self._cond:
            self._pending_bytes -= nbytes
            selfmetrics.QUEUE_BYTES.set(self._pending_bytes)
            selfmetrics.QUEUE_ITEMS.set(len(self._pending))

    def _on_durable(self, record: WalRecord, context: object) -> None:
        assert isinstance(context, _Staged)
        self._enqueue(record.seq, context)

    def _enqueue(self, seq: int, staged: _Staged) -> None:
        rows = sum(t.num_rows for t in staged.tables.values())
        with self._cond:
            self._pending.append(_Item(seq, staged.tables, staged.nbytes, rows))
            selfmetrics.QUEUE_ITEMS.set(len(self._pending))
            self._cond.notify_all()

    # -- the inserter --------------------------------------------------------------------------

    def _take_batch(self) -> list[_Item]:
        with self._cond:
            while not self._pending and not self._stopping:
                self._cond.wait()
            if not self._pending:
                return []
            deadline = time.monotonic() + self.flush_interval_s
            while not self._stopping:
                rows = sum(item.rows for item in self._pending)
                remaining = deadline - time.monotonic()
                if rows >= self.flush_rows or remaining <= 0:
                    break
                self._cond.wait(remaining)
            batch, rows = [], 0
            intent = self.wal.checkpoint.batch
            while self._pending:
                item = self._pending[0]
                if intent is not None and item.seq <= intent[1]:
                    pass  # a batch interrupted by a crash is rebuilt exactly, whatever its size
                elif batch and rows + item.rows > self.flush_rows:
                    break
                batch.append(self._pending.popleft())
                rows += item.rows
            return batch

    def _insert_loop(self) -> None:
        while True:
            batch = self._take_batch()
            if not batch:
                return
            try:
                self._write(batch)
            except _Abandon:
                return
            self._release(sum(item.nbytes for item in batch))
            with self._cond:
                self._cond.notify_all()

    def _write(self, batch: list[_Item]) -> None:
        first, last = batch[0].seq, batch[-1].seq
        self.wal.begin_batch(first, last)
        merged = _merge(batch)
        token = f"{self.wal.epoch}-{first}-{last}"
        for name, table in merged.items():
            self._insert_with_retry(name, table, token)
        self.wal.mark_stored(last)
        for consume in self.consumers:
            try:
                consume(merged)
            except Exception:  # derivation must never fail ingest
                log.exception("a pipeline consumer failed")

    def _insert_with_retry(self, name: str, table: pa.Table, token: str) -> None:
        delay = 0.2
        while True:
            started = time.perf_counter()
            try:
                self.store.insert_arrow(name, table, token=token)
            except StoreUnavailable as e:
                self._set_store_ok(False)
                selfmetrics.INSERT_FAILURES.labels("unavailable").inc()
                log.warning("insert into %s failed, retrying in %.1fs: %s", name, delay, e)
            except Exception as e:
                # Unknown failures are retried too: acknowledged data must not be dropped.
                self._set_store_ok(False)
                selfmetrics.INSERT_FAILURES.labels("error").inc()
                log.error("insert into %s failed, retrying in %.1fs: %s", name, delay, e)
            else:
                self._set_store_ok(True)
                selfmetrics.INSERT_SECONDS.labels(name).observe(time.perf_counter() - started)
                selfmetrics.INSERTED_ROWS.labels(name).inc(table.num_rows)
                return
            with self._cond:
                if self._stopping:
                    raise _Abandon()
                self._cond.wait(delay)
            delay = min(delay * 2, 5.0)

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
        if self._thread is not None:
            self._thread.join(max(0.1, deadline - time.monotonic()))


class _Abandon(Exception):
    """Raised inside the inserter when stopping while the store is down: the WAL keeps the data."""


def _merge(batch: list[_Item]) -> Tables:
    by_table: dict[str, list[pa.Table]] = {}
    for item in batch:
        for name, table in item.tables.items():
            by_table.setdefault(name, []).append(table)
    return {
        name: tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")
        for name, tables in by_table.items()
    }


def _table_bytes(tables: Tables) -> int:
    return sum(t.nbytes for t in tables.values())
