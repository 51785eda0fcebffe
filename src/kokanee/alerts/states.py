"""The alert state machine, pure: an alert is a rule plus the labels of one series.

    (none) ──breach──► pending ──held for `for`──► firing ──clear──► resolved ──breach──► pending …
                          └──────────clear───────────────────────────►┘ (never fired: no notification)

A rule with `for: 0s` goes straight to firing. Each firing starts a new episode; the notification
ids are derived from (rule, labels, episode, event), so re-running a transition after a crash
produces the same ids and the outbox drops the repeat.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Literal

from kokanee.alerts.conditions import Observation
from kokanee.alerts.model import Rule, seconds

State = Literal["pending", "firing", "resolved"]
Event = Literal["firing", "resolved"]


def fingerprint(rule_id: str, labels: dict[str, str]) -> str:
    text = json.dumps([rule_id, sorted(labels.items())], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def notification_id(rule_id: str, fp: str, episode: int, event: Event) -> str:
    return hashlib.sha256(f"{rule_id}|{fp}|{episode}|{event}".encode()).hexdigest()[:24]


@dataclass(frozen=True)
class AlertState:
    rule_id: str
    fingerprint: str
    labels: dict[str, str]
    state: State
    severity: str
    episode: int
    active_since_ms: int
    fired_at_ms: int | None = None
    resolved_at_ms: int | None = None
    value: float = 0.0
    why: str = ""
    notified: bool = False  # whether its firing was sent (a silenced firing sends no resolve either)
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Transition:
    state: AlertState
    event: Event | None  # None: the state changed (or refreshed) without a notification


def step(rule: Rule, prev: AlertState | None, obs: Observation | None, at_ms: int) -> Transition | None:
    """The next state of one alert at `at_ms` given what its series looks like (None: no data)."""
    if obs is not None and obs.breaching:
        severity = obs.severity or rule.severity
        if prev is None or prev.state == "resolved":
            labels = {**rule.labels, **obs.labels}
            fp = prev.fingerprint if prev else fingerprint(rule.id, obs.labels)
            pending = AlertState(
                rule.id, fp, labels, "pending", severity, prev.episode if prev else 0, at_ms,
                value=obs.value, why=obs.why, extra=obs.extra,
            )  # fmt: skip
            return _fire_or_pend(rule, pending, at_ms)
        updated = replace(prev, value=obs.value, why=obs.why, severity=severity, extra=obs.extra or prev.extra)
        if prev.state == "pending":
            return _fire_or_pend(rule, updated, at_ms)
        return Transition(updated, None)
    if prev is None or prev.state == "resolved":
        return None
    why = obs.why if obs is not None else f"no data for {prev.labels.get('service', 'the series')} in the window"
    resolved = replace(prev, state="resolved", resolved_at_ms=at_ms, why=why, value=obs.value if obs else prev.value)
    return Transition(resolved, "resolved" if prev.state == "firing" else None)


def _fire_or_pend(rule: Rule, pending: AlertState, at_ms: int) -> Transition:
    if at_ms - pending.active_since_ms >= seconds(rule.for_) * 1000:
        fired = replace(pending, state="firing", fired_at_ms=at_ms, episode=pending.episode + 1, resolved_at_ms=None)
        return Transition(fired, "firing")
    return Transition(pending, None)
