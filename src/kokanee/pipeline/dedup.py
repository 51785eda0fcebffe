"""Recognising a resent request: digests of recently acknowledged bodies, kept with the WAL.

An exporter whose request was made durable but whose acknowledgement never arrived (the
server was killed in between, a proxy dropped the answer) sends the same bytes again. The WAL
replays the first copy; storing the second would double it. So every durable request's digest
(SHA-256 of the body after Content-Encoding is undone, with its signal and encoding)
is remembered for a retry horizon, and a request whose digest is known is acknowledged without
being written again.

What survives a crash: the WAL segments still on disk are re-read at start (their records
carry the bodies), and digests of records in segments already deleted are saved beside the
log (`recent-digests`) before those segments go.

Two distinct requests with identical bytes inside the horizon are taken as one. For traces and
logs with ids that is right (same span ids, same records); for metrics and id-less logs,
identical bytes include identical timestamps, so they are the same points and lines sent twice.
The horizon is `horizon_s` (default 5 minutes, the Collector's longest retry) or the last
`max_entries` requests, whichever is shorter, which bounds memory (~120 B a request).
"""

from __future__ import annotations

import hashlib
import struct
import threading
import time
from pathlib import Path

_ENTRY = struct.Struct("<16sqQ")  # digest, received_ns, seq


def request_digest(signal: str, encoding: str, payload: bytes) -> bytes:
    """The identity of a request body: the first 16 bytes of SHA-256 over its kind and bytes.

    SHA-256 rather than BLAKE2b: the CPU's SHA extensions make it twice as fast here (0.27 ms
    for a 500 KB, 1,000-span request), and a client cannot make its request collide with another's.
    """
    digest = hashlib.sha256(f"{signal}/{encoding}\n".encode())
    digest.update(payload)
    return digest.digest()[:16]


class RecentDigests:
    """Digest → (received_ns, WAL sequence) of requests made durable within the horizon.

    Thread-safe: the WAL writer adds, receivers look up, the inserter saves.
    """

    def __init__(self, horizon_s: float = 300.0, max_entries: int = 100_000) -> None:
        self.horizon_ns = int(horizon_s * 1e9)
        self.max_entries = max_entries
        self._entries: dict[bytes, tuple[int, int]] = {}  # insertion order is age order
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.horizon_ns > 0 and self.max_entries > 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, digest: bytes) -> int | None:
        """The WAL sequence of a durable request with this digest, if within the horizon."""
        with self._lock:
            found = self._entries.get(digest)
        if found is None or found[0] < time.time_ns() - self.horizon_ns:
            return None
        return found[1]

    def add(self, digest: bytes, received_ns: int, seq: int) -> None:
        if not self.enabled or received_ns < time.time_ns() - self.horizon_ns:
            return
        with self._lock:
            self._entries.pop(digest, None)
            self._entries[digest] = (received_ns, seq)
            self._trim()

    def _trim(self) -> None:
        """Drops the oldest entries past the horizon or the cap. Caller holds the lock."""
        oldest = time.time_ns() - self.horizon_ns
        while self._entries:
            digest, (received_ns, _) = next(iter(self._entries.items()))
            if received_ns >= oldest and len(self._entries) <= self.max_entries:
                break
            del self._entries[digest]

    def dump(self) -> bytes:
        """The entries within the horizon, in the form `load` reads (the WAL writes it atomically)."""
        with self._lock:
            self._trim()
            return b"".join(_ENTRY.pack(d, ns, seq) for d, (ns, seq) in self._entries.items())

    def load(self, path: Path) -> None:
        """Adds the entries saved at `path` (a torn file's last partial entry is ignored)."""
        if not path.exists():
            return
        data = path.read_bytes()
        for offset in range(0, len(data) - _ENTRY.size + 1, _ENTRY.size):
            digest, received_ns, seq = _ENTRY.unpack_from(data, offset)
            self.add(digest, received_ns, seq)
