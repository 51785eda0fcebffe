"""A capture segment: many WAL records of one signal, zstd-compressed into one object.

    segment = zstd( "KCS1" | signal u8 | record* )
    record  = seq u64 | received_ns u64 | encoding u8 | source length u16 | payload length u32
              | source | payload

Each payload is the request body exactly as the WAL kept it (protobuf or JSON, after
Content-Encoding was undone), so a segment can be replayed byte for byte.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import zstandard

from kokanee.pipeline.wal import WalRecord

MAGIC = b"KCS1"
SIGNALS = ("traces", "metrics", "logs")
ENCODINGS = ("protobuf", "json")
CONTENT_TYPES = {"protobuf": "application/x-protobuf", "json": "application/json"}
_RECORD = struct.Struct("<QQBHI")
# zstd can read up to this much when a frame does not state its size (streamed writers).
_MAX_SEGMENT_BYTES = 2 << 30


class SegmentError(ValueError):
    """Bytes that are not a capture segment (wrong magic, truncated, bad zstd)."""


def encode(signal: str, records: Iterable[WalRecord], level: int = 1) -> bytes:
    """Level 1: on OTLP it compresses within a few percent of level 3, at a good deal less CPU."""
    chunks = [MAGIC, bytes([SIGNALS.index(signal)])]
    for record in records:
        if record.signal != signal:
            raise ValueError(f"record {record.seq} is {record.signal}, segment is {signal}")
        source = record.source.encode()
        chunks.append(
            _RECORD.pack(
                record.seq, record.received_ns, ENCODINGS.index(record.encoding), len(source), len(record.payload)
            )
        )
        chunks.append(source)
        chunks.append(record.payload)
    return zstandard.ZstdCompressor(level=level).compress(b"".join(chunks))


def decode(data: bytes) -> tuple[str, list[WalRecord]]:
    """The signal and the records of a segment; SegmentError when `data` is not one."""
    try:
        raw = zstandard.ZstdDecompressor().decompress(data, max_output_size=_MAX_SEGMENT_BYTES)
    except zstandard.ZstdError as e:
        raise SegmentError(f"not a zstd capture segment: {e}") from e
    if raw[:4] != MAGIC or len(raw) < 5 or raw[4] >= len(SIGNALS):
        raise SegmentError("not a capture segment (bad magic)")
    signal = SIGNALS[raw[4]]
    records: list[WalRecord] = []
    offset = 5
    while offset < len(raw):
        if len(raw) - offset < _RECORD.size:
            raise SegmentError(f"truncated record header at byte {offset}")
        seq, received, encoding, source_len, length = _RECORD.unpack_from(raw, offset)
        start = offset + _RECORD.size
        end = start + source_len + length
        if end > len(raw) or encoding >= len(ENCODINGS):
            raise SegmentError(f"truncated or corrupt record {seq} at byte {offset}")
        source = raw[start : start + source_len].decode("utf-8", "replace")
        records.append(WalRecord(seq, signal, raw[start + source_len : end], received, ENCODINGS[encoding], source))
        offset = end
    return signal, records


@dataclass
class SegmentMeta:
    """What the index knows about a segment. Times are unix ns; `location` is the URL of the
    object store holding `key` (the hot store, or the archive once moved)."""

    key: str
    signal: str
    first_seq: int
    last_seq: int
    arrival_start: int
    arrival_end: int
    event_start: int
    event_end: int
    services: list[str] = field(default_factory=list)
    requests: int = 0
    items: int = 0
    bytes: int = 0
    raw_bytes: int = 0
    tier: str = "hot"
    location: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SegmentMeta:
        names = set(cls.__dataclass_fields__)
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown segment fields: {', '.join(sorted(unknown))}")
        return cls(**data)
