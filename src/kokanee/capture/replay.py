"""Replay: captured requests re-sent to any OTLP/HTTP endpoint, keeping their relative timing
(scaled by `speed`) and moving every timestamp by one offset, so traces stay whole.

The offset puts the latest event time of the replayed segments on `rebase_time` (as
`kokanee import --rebase-time` does); without it timestamps are sent as recorded. Sending,
retries and back-pressure (429/503 with Retry-After) are the importers' `OtlpSender`, and
the shifting is `importers.rebase.shift`: one client and one rebaser for both.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kokanee.capture import segment
from kokanee.capture.segment import SegmentMeta
from kokanee.capture.summary import POINT_KINDS, parse
from kokanee.importers.rebase import shift, target_ns
from kokanee.importers.sender import HttpPoster, OtlpSender
from kokanee.importers.types import Batch
from kokanee.pipeline.wal import WalRecord

log = logging.getLogger(__name__)

SIGNALS = ("traces", "logs", "metrics")
Loader = Callable[[SegmentMeta], bytes]


class ReplayError(ValueError):
    """Options that cannot work (bad signal, bad rebase time, nothing to replay)."""


@dataclass(frozen=True)
class ReplayOptions:
    to: str  # base URL of an OTLP/HTTP receiver: http://host:4318
    speed: float = 1.0  # 10 = ten times faster; 0 = no pauses at all
    rebase_time: str | None = None  # "now", ISO-8601 or unix ns: where the latest event time lands
    signals: tuple[str, ...] = SIGNALS
    start_ns: int | None = None  # only requests that arrived in [start, end)
    end_ns: int | None = None
    token: str | None = None  # the receiver's ingest token
    in_flight: int = 4


@dataclass
class ReplayProgress:
    total_requests: int = 0
    done_requests: int = 0
    sent_requests: int = 0
    sent_items: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIGNALS, 0))
    rejected_items: int = 0
    retries: int = 0
    offset_ns: int = 0
    state: str = "running"  # running, done, stopped, failed
    error: str = ""
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def check_options(options: ReplayOptions) -> None:
    unknown = set(options.signals) - set(SIGNALS)
    if unknown or not options.signals:
        raise ReplayError(f"signals must be among traces, logs, metrics (got {', '.join(options.signals)})")
    if options.speed < 0:
        raise ReplayError("speed must be 0 (no pauses) or more")
    if not options.to.startswith(("http://", "https://")):
        raise ReplayError(f"--to must be an http(s) URL of an OTLP/HTTP receiver, got {options.to!r}")
    if options.rebase_time is not None:
        try:
            target_ns(options.rebase_time)
        except Exception as e:
            raise ReplayError(str(e)) from e


def replay(
    metas: list[SegmentMeta],
    load: Loader,
    options: ReplayOptions,
    stop: threading.Event | None = None,
    on_progress: Callable[[ReplayProgress], None] | None = None,
    progress: ReplayProgress | None = None,
) -> ReplayProgress:
    """Sends the records of `metas` (in arrival order) to `options.to`; returns the totals."""
    check_options(options)
    stop = stop or threading.Event()
    progress = progress or ReplayProgress()
    chosen = [m for m in metas if m.signal in options.signals]
    progress.total_requests = sum(m.requests for m in chosen)
    if options.rebase_time is not None:
        latest = max((m.event_end for m in chosen), default=0)
        progress.offset_ns = target_ns(options.rebase_time) - latest if latest else 0
    poster = HttpPoster(options.token)
    sender = OtlpSender(options.to, poster, options.in_flight)
    state = "failed"
    try:
        _send_all(chosen, load, options, stop, progress, sender, on_progress)
        sender.flush()
        state = "stopped" if stop.is_set() else "done"
    except Exception as e:
        progress.error = str(e)
        log.error("replay to %s failed: %s", options.to, e)
    finally:
        sender.close()
        poster.close()
        progress.retries = poster.retries
        progress.sent_requests = sender.stats.requests
        progress.sent_items = {s: int(n) for s, n in sender.stats.sent.items()}
        progress.rejected_items = sum(sender.stats.rejected.values())
        progress.finished_at = time.time()
        # Last, so that a reader polling the job never sees it finished with its totals still unset.
        progress.state = state
        if on_progress is not None:
            on_progress(progress)
    return progress


def _send_all(
    metas: list[SegmentMeta],
    load: Loader,
    options: ReplayOptions,
    stop: threading.Event,
    progress: ReplayProgress,
    sender: OtlpSender,
    on_progress: Callable[[ReplayProgress], None] | None,
) -> None:
    streams = [_records([m for m in metas if m.signal == s], load) for s in options.signals]
    first_ns: int | None = None
    wall0 = time.monotonic()
    low = options.start_ns if options.start_ns is not None else -1
    high = options.end_ns if options.end_ns is not None else 1 << 63
    for record in heapq.merge(*streams, key=lambda r: r.received_ns):
        if stop.is_set():
            return
        if not low <= record.received_ns < high:
            progress.done_requests += 1
            continue
        if first_ns is None:
            first_ns = record.received_ns
        if options.speed > 0:
            due = wall0 + (record.received_ns - first_ns) / 1e9 / options.speed
            if due > time.monotonic() and stop.wait(due - time.monotonic()):
                return
        request = parse(record.signal, record.payload, record.encoding)
        batch = Batch(record.signal, request, count_items(record.signal, request))  # type: ignore[arg-type]
        shift(batch, progress.offset_ns)
        sender.submit(batch)
        progress.done_requests += 1
        progress.sent_requests = sender.stats.requests
        if on_progress is not None:
            on_progress(progress)


def _records(metas: list[SegmentMeta], load: Loader) -> Iterator[WalRecord]:
    """One signal's records, segment after segment, each loaded only when reached."""
    for meta in sorted(metas, key=lambda m: (m.arrival_start, m.first_seq)):
        _, records = segment.decode(load(meta))
        yield from sorted(records, key=lambda r: r.received_ns)


def count_items(signal: str, request: Any) -> int:
    if signal == "traces":
        return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    if signal == "logs":
        return sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)
    total = 0
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                if kind in POINT_KINDS:
                    total += len(getattr(metric, kind).data_points)
    return total
