"""How `--max-memory-mib` is shared out: the embedded engine's limits and the pipeline's pending bound.

The process is the interpreter and its libraries (chDB's code among them), the acknowledged data
waiting for the store (the pipeline's pending bytes) and the engine's own allocations (queries,
inserts, merges, caches). Only the last two grow with load, and each has a bound here:

- pending bytes: `max_pending_mib`, or an eighth of the cap; past it receivers answer 429.
- the engine: `max_server_memory_usage` is what is left of the cap after the floor and twice the
  pending bound (the queue itself plus the copies an insert makes of a batch on its way in).
  ClickHouse counts only its own allocations against it (measured: Python's are not counted), and
  refuses a query or insert that would pass it with MEMORY_LIMIT_EXCEEDED, which the pipeline
  treats as "retry later" (the data stays in the WAL) and the receivers answer with 503.
- the engine's caches are sized from its share instead of ClickHouse's server defaults (5 GiB for
  each mark and index cache, 90% of RAM for the engine).

chDB applies server settings only when the engine starts, i.e. to the first connection a process
opens on a path; clickhouse-connect's `chdb://` DSN drops them, so the store passes them as the
client's `chdb_options` (see kokanee.store.client).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

MIB = 1024 * 1024

# Resident memory of an idle `kokanee serve` without the engine's data: the interpreter, pyarrow,
# FastAPI and chDB's library pages its start touches (measured: `import chdb` alone maps ~220 MiB,
# an idle server ~290 MiB RSS once chDB's code pages are handed back: release_engine_code).
PROCESS_FLOOR_MIB = 320
# Below this the engine cannot run kokanee's migrations and inserts in the memory left to it.
MIN_ENGINE_MIB = 128
MIN_PENDING_MIB = 32
MIN_MEMORY_MIB = PROCESS_FLOOR_MIB + MIN_ENGINE_MIB + 2 * MIN_PENDING_MIB
INSERT_BYTES_PER_ROW = 10 * 1024


@dataclass(frozen=True)
class MemoryBudget:
    """Byte limits derived from the process cap; `engine_settings` are chDB server settings."""

    total_bytes: int
    pending_bytes: int
    engine_bytes: int

    @classmethod
    def for_cap(cls, max_memory_mib: float, max_pending_mib: float | None = None) -> MemoryBudget:
        total = int(max_memory_mib * MIB)
        if max_pending_mib is not None:
            pending = int(max_pending_mib * MIB)
        else:
            # An eighth of the cap, less where the engine's minimum share would not fit beside it:
            # the shares must add up to no more than the cap (measured at 572 MiB before this:
            # floor + 2 x 71.5 + 128 = 591 MiB, and the process peaked at 610).
            room = (total - (PROCESS_FLOOR_MIB + MIN_ENGINE_MIB) * MIB) // 2
            pending = max(min(total // 8, room), MIN_PENDING_MIB * MIB)
        engine = max(total - PROCESS_FLOOR_MIB * MIB - 2 * pending, MIN_ENGINE_MIB * MIB)
        return cls(total, pending, engine)

    def batch_rows(self, flush_rows: int, streams: int = 1) -> int:
        """`flush_rows`, or fewer where `streams` inserts of that many at once would not fit half the
        engine's share (the other half is for merges and queries).

        Flattening OTLP in the engine takes ~10 KiB a span at its peak (measured: a 50,000-span
        insert of the bench's spans needs 450-700 MiB, a 20,000-span one fits 224 MiB)."""
        return max(1_000, min(flush_rows, self.engine_bytes // (2 * streams * INSERT_BYTES_PER_ROW)))

    @property
    def query_bytes(self) -> int:
        """One query's share (`max_memory_usage`): an API query cannot starve inserts and merges."""
        return self.engine_bytes // 2

    def engine_settings(self) -> dict[str, int]:
        """Server settings (applied when the engine starts) and this connection's query limit."""
        engine = self.engine_bytes
        return {
            "max_server_memory_usage": engine,
            # Merges wait while the engine uses more than this, so inserts keep their share.
            "merges_mutations_memory_usage_soft_limit": engine // 2,
            "mark_cache_size": max(engine // 16, 8 * MIB),
            "primary_index_cache_size": max(engine // 16, 8 * MIB),
            "index_mark_cache_size": max(engine // 32, 4 * MIB),
            "index_uncompressed_cache_size": max(engine // 32, 4 * MIB),
            "uncompressed_cache_size": 0,
            "query_condition_cache_size": max(engine // 32, 4 * MIB),
            "compiled_expression_cache_size": max(engine // 32, 4 * MIB),
            "vector_similarity_index_cache_size": 4 * MIB,  # kokanee has no vector indexes
            # Merges and mutations on two threads (ClickHouse's server default is 16; chDB's is 2,
            # kept here whatever a later chDB picks: a laptop's cores are shared with the senders).
            "background_pool_size": 2,
            "max_memory_usage": self.query_bytes,  # a query-level setting: every connection's default
            # A large ORDER BY spills to disk instead of failing under a small cap (measured: an
            # ORDER BY of 3M strings under a 65 MiB query limit). A GROUP BY's keys cannot all spill
            # (uniqExact over millions of spans still needs the memory: a bigger cap).
            "max_bytes_before_external_sort": self.query_bytes // 4,
        }

    def as_status(self) -> dict[str, int]:
        return {
            "max_memory_bytes": self.total_bytes,
            "max_pending_bytes": self.pending_bytes,
            "engine_max_memory_bytes": self.engine_bytes,
            "query_max_memory_bytes": self.query_bytes,
        }


def resident_bytes() -> int | None:
    """This process's resident memory (Linux), or None where it cannot be read cheaply."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def release_engine_code() -> int:
    """Hands back the pages of chDB's code and constants that the engine's start touched once.

    chDB is one ~530 MiB library; loading and starting it touches ~170 MiB of its code and read-only
    data that an idle server does not use again (static initialisers, function registration).
    Those pages are clean and file-backed: MADV_DONTNEED unmaps them from this process (they stay
    in the page cache and fault back in when used, as any page the kernel reclaims under pressure).
    Only read-only mappings without a private page are touched, never relocated or writable data.
    Linux only; returns the bytes advised (0 elsewhere or on any error).
    """
    if not sys.platform.startswith("linux"):
        return 0
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        advised = 0
        for start, end in _clean_code_mappings(_CHDB_LIBRARY):
            if libc.madvise(start, end - start, _MADV_DONTNEED) == 0:
                advised += end - start
        return advised
    except (OSError, AttributeError, ValueError):
        return 0


def _clean_code_mappings(library: str) -> list[tuple[int, int]]:
    """The library's read-only mappings (code, constants) with no private page: only those can be
    dropped without losing anything (a page written by relocation, e.g. RELRO, is private and keeps
    its mapping out)."""
    found: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if fields and "-" in fields[0] and len(fields) >= 5 and not fields[0].endswith(":"):
                start, end = (int(x, 16) for x in fields[0].split("-"))
                readonly = fields[1] in ("r-xp", "r--p")
                current = (start, end) if readonly and fields[-1].endswith(library) else None
            elif current is not None and fields[:1] == ["Anonymous:"]:
                if int(fields[1]) == 0:
                    found.append(current)
                current = None
    return found


_MADV_DONTNEED = 4
_CHDB_LIBRARY = "_chdb.abi3.so"
