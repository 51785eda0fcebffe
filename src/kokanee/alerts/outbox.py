"""The durable outbox: a notification is a row before it is anything else.

    evaluator: enqueue (row 'pending') ──► record the alert's new state
    dispatcher: read due rows ──► send ──► row 'delivered' (or attempts+1, due later with backoff)

Idempotency without transactions: a row's Id is (notification id, channel), and the notification id
is derived from the alert's rule, labels, episode and event. A crash after enqueue and before the
state is recorded re-runs the transition, which finds its rows already there and adds none. A crash
after a send and before 'delivered' is recorded sends again after the restart (at least once); every
message carries the Id (webhook `id` and `X-Kokanee-Delivery`, PagerDuty `dedup_key` per alert,
email Message-ID) so receivers can drop the repeat. Rows live in a ReplacingMergeTree: each update
inserts the whole row with a higher version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from kokanee.alerts.config_store import next_version
from kokanee.store.client import Store

# Retries: 2 s doubling to 5 minutes; after a day a notification is given up (status 'failed').
BACKOFF_BASE_S = 2.0
BACKOFF_MAX_S = 300.0
GIVE_UP_AFTER_S = 86_400.0


def backoff_s(attempts: int) -> float:
    return float(min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1)))


_COLUMNS = (
    "Id, NotificationId, ChannelId, RuleId, Fingerprint, Event, Severity, Digest, GroupKey, Payload, "
    "toUnixTimestamp64Milli(CreatedAt) AS created_ms, toUnixTimestamp64Milli(DueAt) AS due_ms, Status, Attempts, "
    "LastError, if(isNull(DeliveredAt), NULL, toUnixTimestamp64Milli(assumeNotNull(DeliveredAt))) AS delivered_ms"
)


@dataclass(frozen=True)
class OutboxRow:
    id: str
    notification_id: str
    channel_id: str
    rule_id: str
    fingerprint: str
    event: str
    severity: str
    digest: bool
    payload: dict[str, Any]
    created_ms: int
    due_ms: int
    status: str = "pending"
    attempts: int = 0
    last_error: str = ""
    delivered_ms: int | None = None
    group_key: str = ""  # rows of a channel with the same key go out as one message

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "notification_id": self.notification_id, "channel": self.channel_id,
            "rule_id": self.rule_id, "fingerprint": self.fingerprint, "event": self.event,
            "severity": self.severity, "digest": self.digest, "status": self.status, "attempts": self.attempts,
            "last_error": self.last_error, "created_ms": self.created_ms, "due_ms": self.due_ms,
            "delivered_ms": self.delivered_ms, "alert": self.payload,
        }  # fmt: skip


def _row(r: dict[str, Any]) -> OutboxRow:
    return OutboxRow(
        r["Id"], r["NotificationId"], r["ChannelId"], r["RuleId"], r["Fingerprint"], r["Event"], r["Severity"],
        bool(r["Digest"]), json.loads(r["Payload"]), int(r["created_ms"]), int(r["due_ms"]), r["Status"],
        int(r["Attempts"]), r["LastError"], None if r["delivered_ms"] is None else int(r["delivered_ms"]),
        r["GroupKey"],
    )  # fmt: skip


class Outbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    def existing(self, notification_id: str) -> set[str]:
        rows = self.store.query(
            "SELECT Id FROM kokanee_alert_outbox WHERE NotificationId = {n:String}", parameters={"n": notification_id}
        ).rows
        return {str(r[0]) for r in rows}

    def write(self, row: OutboxRow) -> None:
        self.store.command(
            """INSERT INTO kokanee_alert_outbox (Id, NotificationId, ChannelId, RuleId, Fingerprint, Event, Severity,
            Digest, GroupKey, Payload, CreatedAt, DueAt, Status, Attempts, LastError, DeliveredAt, Version) VALUES
            ({id:String}, {nid:String}, {ch:String}, {rule:String}, {fp:String}, {ev:String}, {sev:String},
            {dg:UInt8}, {gk:String}, {pl:String},
            fromUnixTimestamp64Milli({cr:Int64}), fromUnixTimestamp64Milli({due:Int64}),
            {st:String}, {at:UInt32}, {err:String},
            if({dl:Int64} = 0, NULL, fromUnixTimestamp64Milli({dl:Int64})), {v:UInt64})""",
            parameters={
                "id": row.id, "nid": row.notification_id, "ch": row.channel_id, "rule": row.rule_id,
                "fp": row.fingerprint, "ev": row.event, "sev": row.severity, "dg": int(row.digest), "gk": row.group_key,
                "pl": json.dumps(row.payload), "cr": row.created_ms, "due": row.due_ms, "st": row.status,
                "at": row.attempts, "err": row.last_error[:2000], "dl": row.delivered_ms or 0, "v": next_version(),
            },
        )  # fmt: skip

    def due(self, now_ms: int, limit: int = 500) -> list[OutboxRow]:
        rows = self.store.query(
            f"""SELECT {_COLUMNS} FROM kokanee_alert_outbox FINAL
            WHERE Status = 'pending' AND DueAt <= fromUnixTimestamp64Milli({{now:Int64}})
            ORDER BY CreatedAt, Id LIMIT {{limit:UInt32}}""",
            parameters={"now": now_ms, "limit": limit},
        ).dicts()
        return [_row(r) for r in rows]

    def next_due_ms(self) -> int | None:
        """When the earliest pending row falls due (Unix ms; it may be past), or None when none waits."""
        rows = self.store.query(
            "SELECT toUnixTimestamp64Milli(min(DueAt)), count() FROM kokanee_alert_outbox FINAL"
            " WHERE Status = 'pending'"
        ).rows
        return int(rows[0][0]) if rows and rows[0][1] else None

    def pending_count(self) -> int:
        rows = self.store.query("SELECT count() FROM kokanee_alert_outbox FINAL WHERE Status = 'pending'").rows
        return int(rows[0][0]) if rows else 0

    def delivered(self, row: OutboxRow, now_ms: int, detail: str) -> None:
        self.write(replace(row, status="delivered", attempts=row.attempts + 1, delivered_ms=now_ms, last_error=""))
        self._attempt(row.id, now_ms, row.attempts + 1, True, detail)

    def failed(self, row: OutboxRow, now_ms: int, error: str) -> OutboxRow:
        attempts = row.attempts + 1
        gave_up = now_ms - row.created_ms > GIVE_UP_AFTER_S * 1000
        updated = replace(
            row, attempts=attempts, last_error=error, status="failed" if gave_up else "pending",
            due_ms=now_ms + int(backoff_s(attempts) * 1000),
        )  # fmt: skip
        self.write(updated)
        self._attempt(row.id, now_ms, attempts, False, error)
        return updated

    def abandon(self, row: OutboxRow, now_ms: int, reason: str) -> None:
        self.write(replace(row, status="failed", last_error=reason))
        self._attempt(row.id, now_ms, row.attempts, False, reason)

    def _attempt(self, outbox_id: str, now_ms: int, attempt: int, ok: bool, detail: str) -> None:
        self.store.command(
            "INSERT INTO kokanee_alert_deliveries (OutboxId, At, Attempt, Ok, Detail) VALUES"
            " ({id:String}, fromUnixTimestamp64Milli({at:Int64}), {n:UInt32}, {ok:UInt8}, {d:String})",
            parameters={"id": outbox_id, "at": now_ms, "n": attempt, "ok": int(ok), "d": detail[:2000]},
        )

    def history(
        self, *, fingerprint: str | None = None, rule_id: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Notifications newest first, each with its delivery attempts."""
        where, params = ["1"], {"limit": limit}
        if fingerprint:
            where.append("Fingerprint = {fp:String}")
            params["fp"] = fingerprint  # type: ignore[assignment]
        if rule_id:
            where.append("RuleId = {rule:String}")
            params["rule"] = rule_id  # type: ignore[assignment]
        rows = [
            _row(r)
            for r in self.store.query(
                f"SELECT {_COLUMNS} FROM kokanee_alert_outbox FINAL WHERE {' AND '.join(where)}"
                " ORDER BY CreatedAt DESC, Id LIMIT {limit:UInt32}",
                parameters=params,
            ).dicts()
        ]
        attempts: dict[str, list[dict[str, Any]]] = {}
        if rows:
            for a in self.store.query(
                "SELECT OutboxId, toUnixTimestamp64Milli(At) AS at_ms, Attempt, Ok, Detail"
                " FROM kokanee_alert_deliveries"
                " WHERE OutboxId IN {ids:Array(String)} ORDER BY At",
                parameters={"ids": [r.id for r in rows]},
            ).dicts():
                attempts.setdefault(a["OutboxId"], []).append(
                    {"at_ms": int(a["at_ms"]), "attempt": int(a["Attempt"]), "ok": bool(a["Ok"]), "detail": a["Detail"]}
                )
        return [{**r.to_json(), "attempts_log": attempts.get(r.id, [])} for r in rows]
