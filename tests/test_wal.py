"""The write-ahead log on its own: append, close, reopen, torn tails, checkpoints."""

from __future__ import annotations

from pathlib import Path

from kokanee.pipeline.wal import WriteAheadLog


def _write(wal_dir: Path, payloads: list[bytes], segment_bytes: int = 1 << 20) -> WriteAheadLog:
    wal = WriteAheadLog(wal_dir, segment_bytes)
    list(wal.recover())
    wal.start()
    # One at a time, so each append is its own group and segments can roll between them.
    seqs = [wal.append("traces", p).result(timeout=10) for p in payloads]
    wal.close()
    assert seqs == list(range(seqs[0], seqs[0] + len(payloads)))
    return wal


def test_records_come_back_in_order_after_reopen(tmp_path: Path) -> None:
    _write(tmp_path, [b"a", b"bb", b"ccc"])
    records = list(WriteAheadLog(tmp_path).recover())
    assert [(r.seq, r.signal, r.payload) for r in records] == [
        (1, "traces", b"a"),
        (2, "traces", b"bb"),
        (3, "traces", b"ccc"),
    ]


def test_stored_records_are_not_replayed_and_numbering_continues(tmp_path: Path) -> None:
    wal = _write(tmp_path, [b"one", b"two", b"three"])
    wal.mark_stored(2)
    again = WriteAheadLog(tmp_path)
    assert [r.payload for r in again.recover()] == [b"three"]
    again.start()
    assert again.append("logs", b"four").result(timeout=10) == 4
    again.close()


def test_a_torn_tail_is_dropped_and_earlier_records_survive(tmp_path: Path) -> None:
    _write(tmp_path, [b"whole", b"also whole"])
    segment = sorted(tmp_path.glob("*.wal"))[-1]
    data = segment.read_bytes()
    segment.write_bytes(data + data[:24])  # a header and part of a payload, as a crash mid-write leaves
    records = list(WriteAheadLog(tmp_path).recover())
    assert [r.payload for r in records] == [b"whole", b"also whole"]
    assert segment.stat().st_size == len(data)


def test_a_corrupt_record_ends_replay_of_its_segment(tmp_path: Path) -> None:
    _write(tmp_path, [b"good", b"flipped"])
    segment = sorted(tmp_path.glob("*.wal"))[-1]
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF  # the checksum of the second record no longer matches
    segment.write_bytes(bytes(data))
    assert [r.payload for r in WriteAheadLog(tmp_path).recover()] == [b"good"]


def test_whole_segments_below_the_checkpoint_are_deleted(tmp_path: Path) -> None:
    wal = _write(tmp_path, [b"x" * 100] * 10, segment_bytes=150)
    assert len(list(tmp_path.glob("*.wal"))) >= 3
    wal.mark_stored(10)
    # Only the newest segment stays: it may still be written to.
    assert len(list(tmp_path.glob("*.wal"))) == 1
    assert list(WriteAheadLog(tmp_path).recover()) == []


def test_an_interrupted_batch_is_remembered(tmp_path: Path) -> None:
    wal = _write(tmp_path, [b"a", b"b", b"c"])
    wal.mark_stored(1)
    wal.begin_batch(2, 3)
    assert WriteAheadLog(tmp_path).checkpoint.batch == (2, 3)
    assert WriteAheadLog(tmp_path).epoch == wal.epoch


def test_the_checkpoint_moves_only_over_an_unbroken_run_of_stored_batches(tmp_path: Path) -> None:
    """Two inserters side by side: the later batch may be stored first. Until the earlier one is
    stored too, the checkpoint stays behind both and remembers both (a crash replays both)."""
    wal = _write(tmp_path, [b"r"] * 6)
    wal.begin_batch(1, 3)
    wal.begin_batch(4, 6)
    wal.finish_batch(4, 6)
    after_crash = WriteAheadLog(tmp_path).checkpoint
    assert (after_crash.stored, after_crash.batches) == (0, ((1, 3), (4, 6)))
    wal.finish_batch(1, 3)
    done = WriteAheadLog(tmp_path).checkpoint
    assert (done.stored, done.batches) == (6, ())


def test_records_keep_how_when_and_from_where_they_came(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    list(wal.recover())
    wal.start()
    wal.append("logs", b'{"resourceLogs": []}', encoding="json", source="http 10.1.2.3:5555", received_ns=42).result(10)
    wal.close()
    [record] = WriteAheadLog(tmp_path).recover()
    assert (record.signal, record.encoding, record.source, record.received_ns) == (
        "logs",
        "json",
        "http 10.1.2.3:5555",
        42,
    )
    assert record.payload == b'{"resourceLogs": []}'
