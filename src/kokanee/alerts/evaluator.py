"""The evaluator: every interval, each enabled rule over the last closed minutes, through the state
machine; transitions become outbox rows first and recorded states second (see outbox.py).

Minutes close `settle_s` after they end (spans still arrive just after a minute, and edges are
derived `servicegraph_wait_s` past it), so an evaluation at wall time T reads the minutes that end
at or before floor((T - settle) / 1 min).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from kokanee.alerts.conditions import ConditionError, Observation, observe
from kokanee.alerts.config_store import ConfigStore, next_version
from kokanee.alerts.model import Channel, Rule, Silence, seconds, severity_rank
from kokanee.alerts.outbox import Outbox, OutboxRow
from kokanee.alerts.states import AlertState, Event, Transition, fingerprint, notification_id, step
from kokanee.store.client import QueryError, Store
from kokanee.store.timeparse import rfc3339

log = logging.getLogger(__name__)

_MS = 1_000_000


def closed_boundary_s(now_ns: int, settle_s: float) -> int:
    return int((now_ns / 1e9 - settle_s) // 60 * 60)


@dataclass
class RuleStatus:
    last_eval_ms: int = 0
    error: str = ""
    series: int = 0


class Evaluator:
    """Holds the alerts' states (loaded from the store at start) and turns observations into them."""

    def __init__(
        self,
        store: Store,
        config: ConfigStore,
        outbox: Outbox,
        *,
        settle_s: float = 10.0,
        public_url: str = "http://127.0.0.1:8080",
        narrative: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.outbox = outbox
        self.settle_s = settle_s
        self.public_url = public_url.rstrip("/")
        # The incident narrative (alerts/narrative.py) when the AI layer is there: event → text or None.
        self.narrative = narrative
        self.states: dict[tuple[str, str], AlertState] = {}
        self.status: dict[str, RuleStatus] = {}
        self.loaded = False
        self.evaluating = False  # whether this process evaluates (else alerts() reads the stored states)

    def load(self) -> None:
        self.states.update(self._stored_states())
        self.loaded = True

    def _stored_states(self) -> dict[tuple[str, str], AlertState]:
        states: dict[tuple[str, str], AlertState] = {}
        rows = self.store.query(
            """SELECT RuleId, Fingerprint, Labels, State, Severity, Episode, toUnixTimestamp64Milli(ActiveSince) AS a,
            if(isNull(FiredAt), NULL, toUnixTimestamp64Milli(assumeNotNull(FiredAt))) AS f,
            if(isNull(ResolvedAt), NULL, toUnixTimestamp64Milli(assumeNotNull(ResolvedAt))) AS r,
            Value, Why, Notified FROM kokanee_alert_state FINAL"""
        ).dicts()
        for row in rows:
            state = AlertState(
                row["RuleId"], row["Fingerprint"], dict(row["Labels"]), row["State"], row["Severity"],
                int(row["Episode"]), int(row["a"]), None if row["f"] is None else int(row["f"]),
                None if row["r"] is None else int(row["r"]), float(row["Value"]), row["Why"], bool(row["Notified"]),
            )  # fmt: skip
            states[(state.rule_id, state.fingerprint)] = state
        return states

    def run_once(self, now_ns: int) -> int:
        """Evaluates every enabled rule; returns how many notifications were enqueued."""
        self.evaluating = True
        if not self.loaded:
            self.load()
        at_s = closed_boundary_s(now_ns, self.settle_s)
        rules = self.config.rules()
        channels = self.config.channels()
        silences = [s for s in self.config.silences() if s.active(now_ns)]
        enqueued = 0
        for rule in rules:
            status = self.status.setdefault(rule.id, RuleStatus())
            if not rule.enabled:
                continue
            try:
                observations = observe(self.store, rule, at_s)
            except (ConditionError, QueryError) as e:  # this rule cannot run now; the others still do
                if status.error != str(e):
                    log.warning("alert rule %s not evaluated: %s", rule.id, e)
                status.error = str(e)
                continue
            status.error, status.series, status.last_eval_ms = "", len(observations), now_ns // _MS
            enqueued += self._apply(rule, observations, at_s * 1000, channels, silences, now_ns // _MS)
        # Alerts of disabled rules resolve, and say so where their firing was sent; a deleted rule's
        # alerts resolve quietly (its channels are gone with it).
        by_id = {r.id: r for r in rules}
        for key, state in list(self.states.items()):
            owner = by_id.get(key[0])
            if state.state == "resolved" or (owner is not None and owner.enabled):
                continue
            why = "rule disabled" if owner is not None else "rule deleted"
            resolved = replace(state, state="resolved", resolved_at_ms=at_s * 1000, why=why)
            if owner is not None and state.state == "firing" and state.notified:
                enqueued += self._enqueue(owner, resolved, "resolved", channels, now_ns // _MS)
            self._record(resolved)
        return enqueued

    def _apply(
        self,
        rule: Rule,
        observations: list[Observation],
        at_ms: int,
        channels: list[Channel],
        silences: list[Silence],
        now_ms: int,
    ) -> int:
        seen: dict[str, Observation] = {fingerprint(rule.id, o.labels): o for o in observations}
        keys = set(seen) | {fp for (rid, fp), st in self.states.items() if rid == rule.id and st.state != "resolved"}
        enqueued = 0
        for fp in sorted(keys):
            prev = self.states.get((rule.id, fp))
            transition = step(rule, prev, seen.get(fp), at_ms)
            if transition is None:
                continue
            state = transition.state
            if transition.event == "firing":
                # A silenced firing sends nothing, and so its resolve sends nothing either.
                state = replace(state, notified=not any(s.matches(_silenceable(state)) for s in silences))
            if transition.event is not None and state.notified:
                enqueued += self._enqueue(rule, state, transition.event, channels, now_ms)
            self._record(state)
        return enqueued

    def event(self, rule: Rule, state: AlertState, event: Event) -> dict[str, Any]:
        """The alert event every channel formats (the webhook's documented `alert` object)."""
        service = state.labels.get("service", "")
        page = f"{self.public_url}/services/{service}" if service else f"{self.public_url}/alerts"
        traces = self._sample_traces(rule, state) if event == "firing" and service else []
        body: dict[str, Any] = {
            "event": event,
            "rule_id": rule.id,
            "rule_name": rule.title,
            "kind": rule.kind,
            "severity": state.severity,
            "labels": state.labels,
            "fingerprint": state.fingerprint,
            "episode": state.episode,
            "value": None if math.isnan(state.value) else state.value,
            "why": state.why,
            "started_at": rfc3339(state.active_since_ms * _MS),
            "fired_at": rfc3339(state.fired_at_ms * _MS) if state.fired_at_ms else None,
            "resolved_at": rfc3339(state.resolved_at_ms * _MS) if state.resolved_at_ms else None,
            "links": {"page": page, "alerts": f"{self.public_url}/alerts"},
            "sample_traces": [{"trace_id": t, "url": f"{self.public_url}/traces/{t}"} for t in traces],
            "incident_id": state.extra.get("incident_id") or state.labels.get("incident_id"),
            "narrative": None,
        }
        if self.narrative is not None:
            try:
                body["narrative"] = self.narrative(body)
            except Exception:  # the narrative is optional: a failing AI layer never blocks a notification
                log.exception("incident narrative unavailable for %s", state.fingerprint)
        return body

    def _sample_traces(self, rule: Rule, state: AlertState) -> list[str]:
        window = getattr(rule, "window", "5m")
        lo = (state.fired_at_ms or state.active_since_ms) // 1000 - int(seconds(window))
        hi = (state.fired_at_ms or state.active_since_ms) // 1000
        errors = rule.kind in ("threshold", "slo_burn") and getattr(rule, "signal", "error_rate") == "error_rate"
        order = "Duration DESC" if getattr(rule, "signal", "").startswith("p9") else "Timestamp DESC"
        rows = self.store.query(
            f"""SELECT TraceId FROM otel_traces WHERE ServiceName = {{s:String}}
            AND Timestamp >= toDateTime64({{lo:Int64}}, 9) AND Timestamp < toDateTime64({{hi:Int64}}, 9)
            {"AND StatusCode = 'Error'" if errors else ""} ORDER BY {order} LIMIT 3""",
            parameters={"s": state.labels["service"], "lo": lo, "hi": hi},
        ).rows
        return [str(r[0]) for r in rows]

    def _enqueue(self, rule: Rule, state: AlertState, event: Event, channels: list[Channel], now_ms: int) -> int:
        nid = notification_id(rule.id, state.fingerprint, state.episode, event)
        rank = severity_rank(state.severity)
        wanted = [
            c
            for c in channels
            if (not rule.channels or c.id in rule.channels) and rank >= severity_rank(c.min_severity)
        ]
        if not wanted:
            return 0
        done = self.outbox.existing(nid)
        payload = self.event(rule, state, event)
        group = ""
        if rule.group_by is not None:  # alerts of one evaluation (same now_ms) with the same values
            values = ",".join(f"{k}={state.labels.get(k, '')}" for k in rule.group_by)
            group = f"{rule.id}|{event}|{now_ms}|{values}"
        count = 0
        for channel in wanted:
            row_id = f"{nid}-{channel.id}"
            if row_id in done:
                continue  # written before a crash: the transition is being re-run
            digest = bool(channel.digest_interval) and state.severity != "critical"
            due = now_ms
            if digest and channel.digest_interval:
                step_ms = int(seconds(channel.digest_interval) * 1000)
                due = -(-now_ms // step_ms) * step_ms
            self.outbox.write(
                OutboxRow(
                    row_id,
                    nid,
                    channel.id,
                    rule.id,
                    state.fingerprint,
                    event,
                    state.severity,
                    digest,
                    payload,
                    now_ms,
                    due,
                    group_key=group,
                )
            )
            count += 1
        return count

    def _record(self, state: AlertState) -> None:
        self.store.command(
            """INSERT INTO kokanee_alert_state (RuleId, Fingerprint, Labels, State, Severity, Episode, ActiveSince,
            FiredAt, ResolvedAt, Value, Why, Notified, Version) VALUES ({r:String}, {fp:String},
            mapFromArrays({lk:Array(String)}, {lv:Array(String)}), {st:String}, {sev:String}, {ep:UInt32},
            fromUnixTimestamp64Milli({a:Int64}),
            if({f:Int64} = 0, NULL, fromUnixTimestamp64Milli({f:Int64})),
            if({rs:Int64} = 0, NULL, fromUnixTimestamp64Milli({rs:Int64})), {v:Float64}, {w:String}, {n:UInt8},
            {ver:UInt64})""",
            parameters={
                "r": state.rule_id, "fp": state.fingerprint, "lk": list(state.labels),
                "lv": list(state.labels.values()), "st": state.state, "sev": state.severity, "ep": state.episode,
                "a": state.active_since_ms, "f": state.fired_at_ms or 0,
                "rs": state.resolved_at_ms or 0, "v": 0.0 if math.isnan(state.value) else state.value,
                "w": state.why[:2000], "n": int(state.notified), "ver": next_version(),
            },
        )  # fmt: skip
        self.states[(state.rule_id, state.fingerprint)] = state

    def alerts(self, include_resolved: bool = False) -> list[dict[str, Any]]:
        # A query node: the worker evaluates, and its states are in the store.
        states = self.states if self.evaluating else self._stored_states()
        silences = [s for s in self.config.silences() if s.active(time.time_ns())]
        out = []
        for state in sorted(
            list(states.values()), key=lambda s: (-severity_rank(s.severity), s.rule_id, s.fingerprint)
        ):
            if state.state == "resolved" and not include_resolved:
                continue
            out.append(state_json(state, any(s.matches(_silenceable(state)) for s in silences)))
        return out


def _silenceable(state: AlertState) -> dict[str, str]:
    """What silences match: the alert's labels, and `rule` for its rule's id."""
    return {"rule": state.rule_id, **state.labels}


def state_json(state: AlertState, silenced: bool = False) -> dict[str, Any]:
    return {
        "rule_id": state.rule_id,
        "fingerprint": state.fingerprint,
        "labels": state.labels,
        "state": state.state,
        "severity": state.severity,
        "episode": state.episode,
        "value": state.value,
        "why": state.why,
        "silenced": silenced,
        "active_since": rfc3339(state.active_since_ms * _MS),
        "fired_at": rfc3339(state.fired_at_ms * _MS) if state.fired_at_ms else None,
        "resolved_at": rfc3339(state.resolved_at_ms * _MS) if state.resolved_at_ms else None,
    }


def backtest(store: Store, rule: Rule, now_ns: int, settle_s: float, hours: float = 1.0) -> dict[str, Any]:
    """What `rule` would have done over the last `hours`: evaluated at every closed minute from an
    empty state, the series it saw and the notifications it would have sent."""
    end_s = closed_boundary_s(now_ns, settle_s)
    states: dict[str, AlertState] = {}
    series: dict[str, dict[str, Any]] = {}
    events: list[dict[str, Any]] = []
    error = None
    for at_s in range(end_s - int(hours * 3600) + 60, end_s + 1, 60):
        try:
            observations = observe(store, rule, at_s)
        except ConditionError as e:
            error = str(e)
            break
        seen = {fingerprint(rule.id, o.labels): o for o in observations}
        for fp, o in seen.items():
            entry = series.setdefault(fp, {"labels": o.labels, "points": []})
            entry["points"].append({"at": rfc3339(at_s * 1_000_000_000), "value": o.value, "breaching": o.breaching})
        for fp in sorted(set(seen) | {k for k, s in states.items() if s.state != "resolved"}):
            t: Transition | None = step(rule, states.get(fp), seen.get(fp), at_s * 1000)
            if t is None:
                continue
            states[fp] = t.state
            if t.event is not None:
                events.append(
                    {"at": rfc3339(at_s * 1_000_000_000), "event": t.event, "labels": t.state.labels,
                     "severity": t.state.severity, "why": t.state.why}
                )  # fmt: skip
    return {
        "rule_id": rule.id,
        "from": rfc3339((end_s - int(hours * 3600)) * 1_000_000_000),
        "to": rfc3339(end_s * 1_000_000_000),
        "error": error,
        "series": list(series.values()),
        "events": events,
        "firing_now": [state_json(s) for s in states.values() if s.state == "firing"],
    }
