"""Retention against the real S3 API (moto_server): it deletes and archives exactly the expected
segments and keeps the rest; a dry run changes nothing; table TTLs follow event-time policies."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kokanee.capture import index, segment
from kokanee.capture.objectstore import Locations, S3ObjectStore
from kokanee.capture.retention import MIB, PolicyError, Retention, parse_policies, ttl_statements
from kokanee.capture.segment import SegmentMeta
from kokanee.pipeline.wal import WalRecord
from kokanee.store.client import Store
from tests.test_capture_helpers import AWS_ENV, MotoServer, moto

__all__ = ["moto"]

DAY = 86_400 * 1_000_000_000
NOW = time.time_ns()
METRIC_TABLES = [f"otel_metrics_{k}" for k in ("gauge", "sum", "histogram", "exponential_histogram", "summary")]


@pytest.fixture
def no_ttl_left(chdb_store: Store) -> Iterator[None]:
    """The policies below set TTLs on the shared store's metric tables; take them off after."""
    yield
    for table in METRIC_TABLES:
        if "TTL" in chdb_store.query(f"SHOW CREATE TABLE {table}").rows[0][0]:
            chdb_store.command(f"ALTER TABLE {table} REMOVE TTL")


def _segment(store: S3ObjectStore, key: str, signal: str, arrival_days: float, event_days: float,
             size: int = 100, tier: str = "hot") -> SegmentMeta:  # fmt: skip
    arrival, event = NOW - int(arrival_days * DAY), NOW - int(event_days * DAY)
    body = segment.encode(signal, [WalRecord(1, signal, key.encode() * size, arrival)])
    store.put(key, body)
    return SegmentMeta(key, signal, 1, 1, arrival, arrival, event, event, ["svc"], 1, 1, len(body), size,
                       tier, store.url)  # fmt: skip


def _state(chdb_store: Store, moto: MotoServer, prefix: str) -> tuple[set[str], set[str], set[tuple[str, str]]]:
    hot, cold = moto.keys("hot"), moto.keys("cold")
    indexed = {(m.key, m.tier) for m in index.find(chdb_store) if m.key.startswith(prefix)}
    return hot, cold, indexed


def test_retention_deletes_and_archives_exactly_the_expected_segments(
    moto: MotoServer, chdb_store: Store, no_ttl_left: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    s3 = moto.client()
    s3.create_bucket(Bucket="hot")
    s3.create_bucket(Bucket="cold")
    # Size caps count every segment of a signal: start from an empty index (capture tests share it).
    chdb_store.command("TRUNCATE TABLE kokanee_capture_segments")
    hot = S3ObjectStore("hot", "raw", moto.endpoint)
    cold = S3ObjectStore("cold", "arch", moto.endpoint)
    p = f"ret{NOW}/"
    logs = [_segment(hot, f"{p}l-{age}", "logs", age, age, size=50 * age) for age in (3, 2, 1)]
    metas = [
        _segment(hot, f"{p}t-old", "traces", 40, 40),
        _segment(hot, f"{p}t-mid", "traces", 10, 10),
        _segment(hot, f"{p}t-new", "traces", 1, 1),
        _segment(hot, f"{p}t-imported", "traces", 1, 400),  # old events, arrived yesterday
        _segment(cold, f"{p}t-arch-old", "traces", 100, 100, tier="archive"),
        _segment(cold, f"{p}t-arch-new", "traces", 50, 50, tier="archive"),
        *logs,
        _segment(hot, f"{p}m-event-old", "metrics", 1, 4000),
        _segment(hot, f"{p}m-new", "metrics", 1, 1),
    ]
    index.insert(chdb_store, metas)
    cap_mib = (logs[1].bytes + logs[2].bytes) / MIB
    policies = parse_policies(
        {
            "archive": "s3://cold/arch",
            "interval_minutes": 0,
            "policy": [
                {"signal": "traces", "tier": "hot", "archive_after_days": 7, "delete_after_days": 30},
                {"signal": "traces", "tier": "archive", "delete_after_days": 90},
                {"signal": "logs", "max_total_mib": cap_mib},
                {"signal": "metrics", "delete_after_days": 3650, "age_from": "event"},
            ],
        }
    )
    locations = Locations(moto.endpoint)
    locations.add(hot)
    locations.add(cold)
    retention = Retention(chdb_store, locations, policies)
    expected = {
        ("delete", f"{p}t-old"), ("archive", f"{p}t-mid"), ("delete", f"{p}t-arch-old"),
        ("delete", f"{p}l-3"), ("delete", f"{p}m-event-old"),
    }  # fmt: skip

    before = _state(chdb_store, moto, p)
    runs_before = chdb_store.query("SELECT count() FROM kokanee_retention_runs").rows[0][0]
    dry = retention.run(dry_run=True)
    assert {(a.action, a.key) for a in dry.actions if a.key.startswith(p)} == expected
    assert _state(chdb_store, moto, p) == before  # a dry run changes nothing
    assert chdb_store.query("SELECT count() FROM kokanee_retention_runs").rows[0][0] == runs_before
    assert "TTL" not in chdb_store.query("SHOW CREATE TABLE otel_metrics_gauge").rows[0][0]

    done = retention.run()
    assert done.errors == []
    assert {(a.action, a.key) for a in done.actions if a.key.startswith(p)} == expected
    hot_keys, cold_keys, indexed = _state(chdb_store, moto, p)
    assert hot_keys >= {f"raw/{p}{k}" for k in ("t-new", "t-imported", "l-2", "l-1", "m-new")}
    assert not hot_keys & {f"raw/{p}{k}" for k in ("t-old", "t-mid", "l-3", "m-event-old")}
    assert {k for k in cold_keys if p in k} == {f"arch/{p}t-mid", f"arch/{p}t-arch-new"}
    assert indexed == {
        (f"{p}t-new", "hot"), (f"{p}t-imported", "hot"), (f"{p}l-2", "hot"), (f"{p}l-1", "hot"),
        (f"{p}m-new", "hot"), (f"{p}t-mid", "archive"), (f"{p}t-arch-new", "archive"),
    }  # fmt: skip
    moved = index.by_keys(chdb_store, [f"{p}t-mid"])[0]
    assert moved.location == "s3://cold/arch"
    assert segment.decode(cold.get(f"{p}t-mid"))[1][0].payload == f"{p}t-mid".encode() * 100
    for table in METRIC_TABLES:
        assert (
            "TTL toDateTime(TimeUnix) + toIntervalSecond(315360000)"
            in (chdb_store.query(f"SHOW CREATE TABLE {table}").rows[0][0])
        )
    assert "TTL" not in chdb_store.query("SHOW CREATE TABLE otel_traces").rows[0][0]
    assert retention.last() is not None and retention.last()["deleted"] == done.to_json()["deleted"]

    again = retention.run()  # nothing left to do
    assert [a for a in again.actions if a.key.startswith(p)] == []


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"policy": [{"signal": "spans", "delete_after_days": 1}]}, "signal must be"),
        ({"policy": [{"tier": "warm", "delete_after_days": 1}]}, "tier must be"),
        ({"policy": [{"delete_after_days": -1}]}, "greater than 0"),
        ({"policy": [{"signal": "logs"}]}, "set archive_after_days"),
        ({"policy": [{"archive_after_days": 3}]}, "needs archive"),
        ({"policy": [{"tier": "archive", "archive_after_days": 3}], "archive": "s3://b"}, "hot tier only"),
        ({"policy": [{"delete_after_days": 1, "keep": True}]}, "unknown key"),
        ({"retain": 1}, "unknown setting"),
        ({"policy": [{"delete_after_days": 1}, {"delete_after_days": 2}]}, "second policy"),
    ],
)
def test_bad_policies_are_named(data: dict[str, object], problem: str) -> None:
    with pytest.raises(PolicyError, match=problem):
        parse_policies(data)


def test_only_event_time_policies_set_table_ttls() -> None:
    traces = {"signal": "traces", "delete_after_days": 7}
    logs = {"signal": "logs", "delete_after_days": 2, "age_from": "event"}
    statements = ttl_statements(parse_policies({"policy": [traces, logs]}))
    assert statements == ["ALTER TABLE otel_logs MODIFY TTL toDateTime(Timestamp) + toIntervalSecond(172800)"]


def test_the_server_refuses_a_bad_policy_file(tmp_path: Path) -> None:
    bad = tmp_path / "retention.toml"
    bad.write_text('[[policy]]\nsignal = "traces"\ndelete_after_days = "soon"\n')
    run = subprocess.run(
        [sys.executable, "-m", "kokanee", "serve", "--data-dir", str(tmp_path / "d"), "--capture-retention", str(bad)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2
    assert "delete_after_days must be a number" in run.stderr
