"""Sends what the outbox holds: due rows per channel, critical ones one by one at once, digest rows of a
channel together as one message when their digest is due; at most `max_per_minute` messages per
channel (the rest stay pending for the next minute: rate limits delay, never drop). A failed send
is retried with backoff (outbox.backoff_s) until it goes through, across restarts."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable

import httpx

from kokanee.alerts.channels import DeliveryError, send
from kokanee.alerts.model import Channel
from kokanee.alerts.outbox import Outbox, OutboxRow

log = logging.getLogger(__name__)

Sender = Callable[[Channel, list[dict[str, object]], str], str]


class Dispatcher:
    def __init__(self, outbox: Outbox, channels: Callable[[], list[Channel]], sender: Sender | None = None) -> None:
        self.outbox = outbox
        self.channels = channels
        self._client = httpx.Client(timeout=10.0)
        # Replaceable: the alerting service wraps it so report rows are formatted by reports.py.
        self.sender: Sender = sender or (lambda ch, events, did: send(ch, events, did, self._client))  # type: ignore[arg-type]
        self._sent: dict[str, deque[float]] = defaultdict(deque)

    def close(self) -> None:
        self._client.close()

    def _allowed(self, channel: Channel, now: float) -> bool:
        window = self._sent[channel.id]
        while window and window[0] <= now - 60:
            window.popleft()
        return len(window) < channel.max_per_minute

    def run_once(self, now_ms: int | None = None) -> int:
        """Sends what is due; returns how many messages went out."""
        now_ms = now_ms if now_ms is not None else time.time_ns() // 1_000_000
        due = self.outbox.due(now_ms)
        if not due:
            return 0
        channels = {c.id: c for c in self.channels()}
        by_channel: dict[str, list[OutboxRow]] = defaultdict(list)
        for row in due:
            by_channel[row.channel_id].append(row)
        sent = 0
        for channel_id, rows in by_channel.items():
            channel = channels.get(channel_id)
            if channel is None:
                for row in rows:
                    self.outbox.abandon(row, now_ms, f"channel {channel_id!r} no longer exists")
                continue
            digest = [r for r in rows if r.digest]
            groups: dict[str, list[OutboxRow]] = defaultdict(list)
            for r in rows:
                if not r.digest:
                    groups[r.group_key or r.id].append(r)
            batches = list(groups.values()) + ([digest] if digest else [])
            for batch in batches:
                if not self._allowed(channel, now_ms / 1000):
                    log.info(
                        "channel %s at its limit of %d/min; %d messages wait",
                        channel.id,
                        channel.max_per_minute,
                        len(batches),
                    )
                    break
                self._deliver(channel, batch, now_ms)
                self._sent[channel.id].append(now_ms / 1000)
                sent += 1
        return sent

    def _deliver(self, channel: Channel, batch: list[OutboxRow], now_ms: int) -> None:
        if len(batch) == 1:
            delivery_id = batch[0].id
        else:
            kind = "digest" if batch[0].digest else "group"
            delivery_id = f"{kind}-" + hashlib.sha256("|".join(sorted(r.id for r in batch)).encode()).hexdigest()[:24]
        try:
            detail = self.sender(channel, [r.payload | {"event": r.event} for r in batch], delivery_id)
        except Exception as e:  # DeliveryError, or a message that could not be built: retried with backoff
            for row in batch:
                updated = self.outbox.failed(
                    row, now_ms, f"{type(e).__name__}: {e}" if not isinstance(e, DeliveryError) else str(e)
                )
            log.warning(
                "notification %s to %s failed (attempt %d), retrying in %.0f s: %s",
                delivery_id, channel.id, updated.attempts, (updated.due_ms - now_ms) / 1000, e,
            )  # fmt: skip
            return
        for row in batch:
            self.outbox.delivered(row, now_ms, detail if len(batch) == 1 else f"{detail} (in {delivery_id})")
