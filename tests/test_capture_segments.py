"""Capture on its own: segment encoding, request summaries, sampling, the WAL tail and floor,
and the WAL → outbox → object store → index path in-process (with a crash in the middle)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import zstandard
from google.protobuf import json_format

from kokanee.capture import index, segment
from kokanee.capture.objectstore import LocalObjectStore, ObjectStoreError, open_object_store
from kokanee.capture.setup import capture_url
from kokanee.capture.summary import summarize
from kokanee.capture.writer import Capture, CaptureSettings, sampled
from kokanee.config import ConfigError, load_config, parse_sample
from kokanee.pipeline.wal import WalRecord, WriteAheadLog
from kokanee.store.client import Store
from tests.test_capture_helpers import NS, log_request, metric_request, trace_request

BASE = 1_700_000_000 * NS


def test_a_segment_gives_back_every_record_byte_for_byte() -> None:
    records = [
        WalRecord(7, "traces", trace_request(BASE, 2, "s").SerializeToString(), BASE + 1, "protobuf", "http 1.2.3.4:5"),
        WalRecord(9, "traces", b'{"resourceSpans": []}', BASE + 2, "json", "grpc ipv6:[::1]:7"),
        WalRecord(10, "traces", b"", BASE + 3, "protobuf", ""),
    ]  # fmt: skip
    data = segment.encode("traces", records)
    assert data[:4] == b"\x28\xb5\x2f\xfd"  # a zstd frame
    assert segment.decode(data) == ("traces", records)


def test_a_segment_refuses_mixed_signals_and_damaged_bytes() -> None:
    with pytest.raises(ValueError, match="record 1 is logs"):
        segment.encode("traces", [WalRecord(1, "logs", b"x")])
    with pytest.raises(segment.SegmentError, match="zstd"):
        segment.decode(b"not zstd at all")
    with pytest.raises(segment.SegmentError, match="bad magic"):
        segment.decode(zstandard.ZstdCompressor().compress(b"XXXX\x00"))
    whole = zstandard.ZstdDecompressor().decompress(segment.encode("logs", [WalRecord(1, "logs", b"abcdef")]))
    with pytest.raises(segment.SegmentError, match="truncated"):
        segment.decode(zstandard.ZstdCompressor().compress(whole[:-2]))


def test_summaries_name_services_count_items_and_span_event_time() -> None:
    traces = summarize("traces", trace_request(BASE, 3, "sum").SerializeToString(), "protobuf")
    assert traces.services == {"frontend-sum", "cart-sum"}
    assert traces.items == 12
    assert traces.event_start == BASE and traces.event_end == BASE + 2 * NS + 40_000_000
    logs = log_request(BASE, 4, "sum")
    document = json_format.MessageToDict(logs)
    for record in document["resourceLogs"][0]["scopeLogs"][0]["logRecords"]:
        record.pop("traceId")
    as_json = summarize("logs", json.dumps(document).encode(), "json")
    assert (as_json.services, as_json.items, as_json.event_start, as_json.event_end) == (
        {"cart-sum"}, 4, BASE + 7, BASE + 3 * NS + 7,
    )  # fmt: skip
    metrics = summarize("metrics", metric_request(BASE, 2, "sum").SerializeToString(), "protobuf")
    assert (metrics.items, metrics.event_end) == (6, BASE + NS)


def test_sampling_is_per_record_deterministic_and_near_its_fraction() -> None:
    kept = [seq for seq in range(1, 20_001) if sampled(seq, 0.1)]
    assert 1_600 < len(kept) < 2_400
    assert kept == [seq for seq in range(1, 20_001) if sampled(seq, 0.1)]
    assert all(sampled(s, 1.0) for s in range(100)) and not any(sampled(s, 0.0) for s in range(100))


def _wal(directory: Path, segment_bytes: int = 1 << 20) -> WriteAheadLog:
    wal = WriteAheadLog(directory, segment_bytes)
    list(wal.recover())
    wal.start()
    return wal


def test_the_tail_follows_the_log_across_segments_and_the_floor_keeps_them(tmp_path: Path) -> None:
    wal = _wal(tmp_path, segment_bytes=64)
    floor = 0
    wal.add_floor(lambda: floor)
    for i in range(6):
        wal.append("logs", f"payload-{i}".encode() * 5, source="t").result(10)
    tail = wal.tail(2)
    assert [r.seq for r in tail.read()] == [3, 4, 5, 6]
    assert tail.read() == []
    wal.append("traces", b"later").result(10)
    assert [(r.seq, r.signal, r.payload) for r in tail.read()] == [(7, "traces", b"later")]
    assert len(wal.segments()) > 3
    wal.mark_stored(7)  # the store is done, but the floor (capture) is not
    assert int(wal.segments()[0].stem) == 1
    floor = 4
    wal.prune()
    assert int(wal.segments()[0].stem) <= 5 and [r.seq for r in wal.tail(4).read()] == [5, 6, 7]
    wal.close()


def _capture(wal: WriteAheadLog, store: Store, tmp_path: Path, age_s: float = 0.2) -> Capture:
    objects = LocalObjectStore(tmp_path / "objects")
    settings = CaptureSettings({"traces": 1.0, "logs": 1.0}, 1 << 20, age_s)
    return Capture(wal, objects, store, tmp_path / "work", settings)


def _indexed(store: Store, location: str) -> list[segment.SegmentMeta]:
    return [m for m in index.find(store) if m.location == location]


def test_capture_turns_the_wal_into_indexed_segments_across_a_restart(chdb_store: Store, tmp_path: Path) -> None:
    wal = _wal(tmp_path / "wal")
    capture = _capture(wal, chdb_store, tmp_path)
    capture.start()
    sent = []
    for i in range(4):
        body = trace_request(BASE + i * NS, 1, f"c{i}").SerializeToString()
        wal.append("traces", body, source="test").result(10)
        sent.append(body)
    wal.append("metrics", metric_request(BASE, 1, "cm").SerializeToString()).result(10)  # not sampled
    deadline = time.monotonic() + 30
    while sum(m.requests for m in _indexed(chdb_store, capture.objects.url)) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    # Records written while capture is down are picked up from the WAL by the next one
    # (kill -9 in the middle is tests/test_capture_s3.py's).
    capture.stop(10)
    wal.append("traces", b"after the crash").result(10)
    wal.append("logs", log_request(BASE, 2, "cl").SerializeToString()).result(10)
    wal.close()
    wal = _wal(tmp_path / "wal")
    again = _capture(wal, chdb_store, tmp_path)
    again.start()
    wal.append("traces", b"after the restart").result(10)
    wal.close()
    again.stop(10)
    metas = _indexed(chdb_store, again.objects.url)
    payloads = []
    for meta in metas:
        signal, records = segment.decode(again.objects.get(meta.key))
        assert (signal, records[0].seq, records[-1].seq) == (
            meta.signal, meta.first_seq, meta.last_seq,
        )  # fmt: skip
        payloads += [(signal, r.payload) for r in records]
    expected = [("traces", p) for p in sent] + [("traces", b"after the crash"), ("traces", b"after the restart")]
    assert sorted(payloads) == sorted([*expected, ("logs", log_request(BASE, 2, "cl").SerializeToString())])
    assert {m.signal for m in metas} == {"traces", "logs"}
    assert sum(m.items for m in metas if m.signal == "traces") == 16
    assert list((tmp_path / "work" / "outbox").iterdir()) == []


def test_object_store_urls() -> None:
    assert open_object_store("/tmp/x").url == "file:///tmp/x"
    s3 = open_object_store("s3://bucket/some/prefix/", "http://127.0.0.1:1")
    assert s3.url == "s3://bucket/some/prefix"
    with pytest.raises(ValueError, match="needs a bucket"):
        open_object_store("s3:///prefix")
    with pytest.raises(ValueError, match="must be s3://"):
        open_object_store("ftp://host/x")
    with pytest.raises(ObjectStoreError, match="leaves the store"):
        LocalObjectStore(Path("/tmp/objects")).put("../../etc/x", b"")


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"capture": "ftp://host/x"}, "capture: Value error, must be off, local"),
        ({"capture": "s3:///prefix"}, "needs a bucket"),
        ({"capture_sample": "spans=1"}, "the signal must be traces, logs or metrics"),
        ({"capture_sample": "traces=2"}, "between 0 and 1"),
        ({"capture_segment_s": 0}, "capture_segment_s: Value error, must be greater than 0"),
    ],
)
def test_bad_capture_settings_are_named(values: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_config(values)


def test_capture_settings() -> None:
    config = load_config({"capture": "s3://bucket/raw", "capture_sample": "traces=0.1,logs"})
    assert parse_sample(config.capture_sample) == {"traces": 0.1, "logs": 1.0}
    assert capture_url("local", Path("/data")) == "file:///data/capture"
    assert capture_url("off", Path("/data")) is None
