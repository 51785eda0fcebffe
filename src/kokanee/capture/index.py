"""The segment index in the store (`kokanee_capture_segments`): one row per segment, newest
version wins, so replay and retention find segments by time and signal without listing buckets."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from kokanee.capture.segment import SegmentMeta
from kokanee.store.client import Store

TABLE = "kokanee_capture_segments"
_counter = itertools.count()

# Aliases differ from the column names: ClickHouse would otherwise read them in WHERE too.
_COLUMNS = """Key, Signal, Tier, Location, FirstSeq, LastSeq,
    toUnixTimestamp64Nano(ArrivalStart) AS ArrivalStartNs, toUnixTimestamp64Nano(ArrivalEnd) AS ArrivalEndNs,
    toUnixTimestamp64Nano(EventStart) AS EventStartNs, toUnixTimestamp64Nano(EventEnd) AS EventEndNs,
    Services, Requests, Items, Bytes, RawBytes"""


def version() -> int:
    """Increasing within a process and across restarts (time-based), so a later state wins."""
    return time.time_ns() + next(_counter) % 1000


def insert(store: Store, metas: Iterable[SegmentMeta], deleted: bool = False) -> None:
    rows = list(metas)
    if not rows:
        return
    ts = pa.timestamp("ns")
    table = pa.table(
        {
            "Key": [m.key for m in rows],
            "Signal": [m.signal for m in rows],
            "Tier": [m.tier for m in rows],
            "Location": [m.location for m in rows],
            "FirstSeq": pa.array([m.first_seq for m in rows], pa.uint64()),
            "LastSeq": pa.array([m.last_seq for m in rows], pa.uint64()),
            "ArrivalStart": pa.array([m.arrival_start for m in rows], ts),
            "ArrivalEnd": pa.array([m.arrival_end for m in rows], ts),
            "EventStart": pa.array([m.event_start for m in rows], ts),
            "EventEnd": pa.array([m.event_end for m in rows], ts),
            "Services": pa.array([sorted(m.services) for m in rows], pa.list_(pa.string())),
            "Requests": pa.array([m.requests for m in rows], pa.uint32()),
            "Items": pa.array([m.items for m in rows], pa.uint64()),
            "Bytes": pa.array([m.bytes for m in rows], pa.uint64()),
            "RawBytes": pa.array([m.raw_bytes for m in rows], pa.uint64()),
            "Deleted": pa.array([1 if deleted else 0] * len(rows), pa.uint8()),
            "Version": pa.array([version() for _ in rows], pa.uint64()),
        }
    )
    store.insert_arrow(TABLE, table)


def exists(store: Store, key: str) -> bool:
    rows = store.query(f"SELECT count() FROM {TABLE} FINAL WHERE Key = {{key:String}}", parameters={"key": key}).rows
    return bool(rows and rows[0][0])


def find(
    store: Store,
    start_ns: int | None = None,
    end_ns: int | None = None,
    signals: Iterable[str] | None = None,
    tier: str | None = None,
    limit: int | None = None,
) -> list[SegmentMeta]:
    """Live segments whose arrival range meets [start, end), oldest first."""
    where, params = ["Deleted = 0"], dict[str, Any]()
    if start_ns is not None:
        where.append("ArrivalEnd >= fromUnixTimestamp64Nano({start:Int64})")
        params["start"] = start_ns
    if end_ns is not None:
        where.append("ArrivalStart < fromUnixTimestamp64Nano({end:Int64})")
        params["end"] = end_ns
    if signals is not None:
        where.append("Signal IN {signals:Array(String)}")
        params["signals"] = list(signals)
    if tier is not None:
        where.append("Tier = {tier:String}")
        params["tier"] = tier
    sql = f"SELECT {_COLUMNS} FROM {TABLE} FINAL WHERE {' AND '.join(where)} ORDER BY ArrivalStart, Key"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [_meta(row) for row in store.query(sql, parameters=params).dicts()]


def by_keys(store: Store, keys: list[str]) -> list[SegmentMeta]:
    sql = f"SELECT {_COLUMNS} FROM {TABLE} FINAL WHERE Deleted = 0 AND Key IN {{keys:Array(String)}} ORDER BY Key"
    return [_meta(row) for row in store.query(sql, parameters={"keys": keys}).dicts()]


def histogram(store: Store, start_ns: int, end_ns: int, step_s: int) -> list[dict[str, Any]]:
    """Segments, items and bytes per signal and time step (by arrival), for a chart."""
    sql = f"""
        SELECT toUnixTimestamp(toStartOfInterval(ArrivalStart, toIntervalSecond({{step:UInt32}}))) AS t,
               Signal AS signal, count() AS segments, sum(Items) AS items, sum(Bytes) AS bytes
        FROM {TABLE} FINAL
        WHERE Deleted = 0 AND ArrivalEnd >= fromUnixTimestamp64Nano({{start:Int64}})
          AND ArrivalStart < fromUnixTimestamp64Nano({{end:Int64}})
        GROUP BY t, signal ORDER BY t, signal"""
    rows = store.query(sql, parameters={"start": start_ns, "end": end_ns, "step": step_s}).dicts()
    return [{k: int(v) if k != "signal" else str(v) for k, v in row.items()} for row in rows]


def totals(store: Store) -> list[dict[str, Any]]:
    sql = f"""SELECT Signal AS signal, Tier AS tier, count() AS segments, sum(Items) AS items,
                     sum(Bytes) AS bytes, sum(RawBytes) AS raw_bytes
              FROM {TABLE} FINAL WHERE Deleted = 0 GROUP BY signal, tier ORDER BY signal, tier"""
    return [{k: v if k in ("signal", "tier") else int(v) for k, v in row.items()} for row in store.query(sql).dicts()]


def _meta(row: dict[str, Any]) -> SegmentMeta:
    return SegmentMeta(
        key=row["Key"],
        signal=row["Signal"],
        first_seq=int(row["FirstSeq"]),
        last_seq=int(row["LastSeq"]),
        arrival_start=int(row["ArrivalStartNs"]),
        arrival_end=int(row["ArrivalEndNs"]),
        event_start=int(row["EventStartNs"]),
        event_end=int(row["EventEndNs"]),
        services=list(row["Services"]),
        requests=int(row["Requests"]),
        items=int(row["Items"]),
        bytes=int(row["Bytes"]),
        raw_bytes=int(row["RawBytes"]),
        tier=row["Tier"],
        location=row["Location"],
    )
