"""Rule evaluation against the in-process store with hand-written derived rows: each rule kind, the
pending → firing → resolved machine with `for`, silences, the outbox's idempotency across a crash
between enqueue and state, digests, rate limits and retries, and the last-hour dry run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kokanee.alerts.channels import DeliveryError
from kokanee.alerts.config_store import ConfigStore
from kokanee.alerts.dispatcher import Dispatcher
from kokanee.alerts.evaluator import Evaluator, backtest
from kokanee.alerts.model import RULE_ADAPTER, Channel, Rule
from kokanee.alerts.narrative import incident_narrator
from kokanee.alerts.outbox import Outbox, backoff_s
from kokanee.alerts.service import IDLE_POLL_S, next_poll_s
from kokanee.store.client import Store
from kokanee.store.schema_derived import histogram

T0 = 1_900_000_020  # a minute boundary (Unix s) in 2030, far from any other test's data
NS = 1_000_000_000
_TABLES = ("kokanee_alert_config", "kokanee_alert_state", "kokanee_alert_outbox", "kokanee_alert_deliveries")


@pytest.fixture
def store(chdb_store: Store) -> Iterator[Store]:
    for table in _TABLES:
        chdb_store.command(f"TRUNCATE TABLE {table}")
    yield chdb_store


def red(store: Store, service: str, minute_s: int, requests: int, errors: int, ms: float, op: str = "GET /") -> None:
    """One minute of RED for a service, latency states built from `requests` durations of `ms`."""
    store.command(
        """INSERT INTO kokanee_red_1m SELECT toDateTime({m:Int64}), {s:String}, {op:String}, 'Server',
        {r:UInt64}, {e:UInt64}, {r:UInt64} * {d:UInt64}, """
        + histogram("toUInt64({d:UInt64})")
        + " FROM numbers({r:UInt64})",
        parameters={"m": minute_s, "s": service, "op": op, "r": requests, "e": errors, "d": int(ms * 1e6)},
    )


def rule(**body: Any) -> Rule:
    return RULE_ADAPTER.validate_python(body)


def setup(store: Store, rules: list[Rule], channels: list[dict[str, Any]] | None = None) -> Evaluator:
    config = ConfigStore(store)
    for r in rules:
        config.put("rule", r.id, r.model_dump(mode="json", by_alias=True))
    for c in channels if channels is not None else [{"id": "hook", "type": "webhook", "url": "http://127.0.0.1:9/"}]:
        config.put("channel", c["id"], c)
    return Evaluator(store, config, Outbox(store), settle_s=10)


def at(minute_s: int) -> int:
    """A wall time at which the minutes before `minute_s` are closed."""
    return (minute_s + 15) * NS


def outbox(store: Store) -> list[tuple[str, str, str]]:
    rows = store.query(
        "SELECT Event, Fingerprint, ChannelId FROM kokanee_alert_outbox FINAL ORDER BY CreatedAt, Id"
    ).rows
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def rules_by_id(ev: Evaluator) -> dict[str, Rule]:
    return {r.id: r for r in ev.config.rules()}


def states(ev: Evaluator) -> dict[str, str]:
    return {"/".join(s.labels.values()): s.state for s in ev.states.values()}


def test_error_rate_fires_resolves_and_notifies_each_once(store: Store) -> None:
    t0 = T0 + 17 * 3600  # an hour of its own: the rule watches every service
    for m in range(5):
        red(store, "err-a", t0 + m * 60, 100, 30 if m in (1, 2) else 0, 10)
        red(store, "err-b", t0 + m * 60, 100, 1, 10)
    ev = setup(store, [rule(id="e", kind="threshold", signal="error_rate", value=0.1, window="1m", service="*")])
    ev.run_once(at(t0 + 60))
    assert states(ev) == {}  # minute 0: healthy
    ev.run_once(at(t0 + 120))
    assert states(ev) == {"err-a": "firing"}
    state = next(iter(ev.states.values()))
    assert "error rate 30.0% (30 of 100 requests)" in state.why
    ev.run_once(at(t0 + 180))  # still firing: nothing new is sent
    ev.run_once(at(t0 + 240))
    assert states(ev) == {"err-a": "resolved"}
    assert [e for e, _, _ in outbox(store)] == ["firing", "resolved"]


def test_for_keeps_an_alert_pending_until_it_held_long_enough(store: Store) -> None:
    for m in range(6):
        red(store, "for-a", T0 + m * 60, 50, 0, 900 if m >= 1 else 50)
    ev = setup(
        store, [rule(id="slow", kind="threshold", signal="p95_ms", op=">", value=500, window="1m", **{"for": "2m"})]
    )
    ev.run_once(at(T0 + 120))
    assert states(ev) == {"for-a": "pending"}
    ev.run_once(at(T0 + 180))
    assert states(ev) == {"for-a": "pending"}
    assert outbox(store) == []
    ev.run_once(at(T0 + 240))
    assert states(ev) == {"for-a": "firing"}
    assert [e for e, _, _ in outbox(store)] == ["firing"]


def test_p95_over_a_window_merges_the_minutes_states(store: Store) -> None:
    red(store, "p95-a", T0, 100, 0, 100)
    red(store, "p95-a", T0 + 60, 10, 0, 1000)
    two = backtest(store, rule(id="p", kind="threshold", signal="p95_ms", value=500, window="2m", service="p95-a"),
                   at(T0 + 120), 10, hours=0.05)  # fmt: skip
    points = {p["at"]: p["value"] for p in two["series"][0]["points"]}
    # Over both minutes, 10 of 110 requests took 1 s: p95 is theirs, not an average of minute p95s.
    assert 900 < points["2030-03-17T17:49:00.000000000Z"] <= 1000
    one = rule(id="p1", kind="threshold", signal="p95_ms", value=500, window="1m", service="p95-a")
    first = backtest(store, one, at(T0 + 60), 10, hours=0.02)
    assert abs(first["series"][0]["points"][-1]["value"] - 100) < 5  # histogram buckets: within 4.4%


def test_operation_and_request_rate_scopes(store: Store) -> None:
    red(store, "op-a", T0, 600, 0, 5, op="GET /hot")
    red(store, "op-a", T0, 6, 0, 5, op="GET /cold")
    ev = setup(
        store,
        [rule(id="rate", kind="threshold", signal="request_rate", scope="operation", service="op-a",
              op=">", value=5, window="1m")],
    )  # fmt: skip
    ev.run_once(at(T0 + 60))
    assert states(ev) == {"op-a/GET /hot": "firing"}
    assert "request rate 10/s" in next(iter(ev.states.values())).why


def test_edge_threshold_reads_the_service_graph(store: Store) -> None:
    store.command(
        f"""INSERT INTO kokanee_service_edges_1m SELECT toDateTime({{m:Int64}}), 'edge-front', 'edge-cart', '',
        40, 20, {histogram("toUInt64(1000000)")}, {histogram("toUInt64(1000000)")} FROM numbers(1)""",
        parameters={"m": T0},
    )
    ev = setup(
        store,
        [
            rule(
                id="edge",
                kind="threshold",
                signal="error_rate",
                scope="edge",
                client="edge-front",
                value=0.25,
                window="1m",
            )
        ],
    )
    ev.run_once(at(T0 + 60))
    fired = next(iter(ev.states.values()))
    assert fired.state == "firing" and fired.labels == {
        "service": "edge-front",
        "client": "edge-front",
        "server": "edge-cart",
    }


def test_slo_burn_rate_pages_on_the_fast_pair_only_when_both_windows_burn(store: Store) -> None:
    start = T0 + 7 * 3600
    for m in range(60):  # an hour at 2% errors against a 99.9% SLO: burn rate 20 > 14.4
        red(store, "slo-a", start + m * 60, 100, 2, 10)
        red(store, "slo-b", start + m * 60, 100, 2 if m == 59 else 0, 10)  # only the last 5 minutes burn
    ev = setup(store, [rule(id="slo", kind="slo_burn", service="*", objective=0.999)])
    ev.run_once(at(start + 3600))
    assert states(ev) == {"slo-a": "firing"}
    fired = next(iter(ev.states.values()))
    assert fired.severity == "critical" and "burning 20× over 1h" in fired.why


def test_absence_fires_for_a_service_that_stopped_reporting(store: Store) -> None:
    start = T0 + 9 * 3600
    for m in range(30):
        red(store, "abs-a", start + m * 60, 10, 0, 10)
        if m < 20:
            red(store, "abs-b", start + m * 60, 10, 0, 10)
    ev = setup(store, [rule(id="gone", kind="absence", window="5m", lookback="1h")])
    ev.run_once(at(start + 30 * 60))
    assert {k: v for k, v in states(ev).items() if k.startswith("abs-")} == {"abs-b": "firing"}
    assert "abs-b: no requests for 10 min" in next(s.why for s in ev.states.values() if s.labels["service"] == "abs-b")


def test_log_count_matches_severity_and_text(store: Store) -> None:
    start = T0 + 11 * 3600
    store.command(
        """INSERT INTO otel_logs (Timestamp, SeverityText, SeverityNumber, ServiceName, Body)
        SELECT fromUnixTimestamp64Nano(toInt64(({t:Int64} + number) * 1000000000)),
        if(number % 2 = 0, 'ERROR', 'INFO'), if(number % 2 = 0, 17, 9), 'logs-a',
        if(number < 6, 'Payment declined: card expired', 'ok') FROM numbers(10)""",
        parameters={"t": start},
    )
    ev = setup(store, [rule(id="declined", kind="log_count", service="logs-a", contains="DECLINED", op=">=", value=3)])
    ev.run_once(at(start + 60))
    fired = next(iter(ev.states.values()))
    assert fired.state == "firing" and fired.value == 3  # rows 0, 2, 4: errors that mention it


def test_anomaly_and_incident_rules_read_the_detectors_tables(store: Store) -> None:
    start = T0 + 13 * 3600
    store.command(
        """INSERT INTO kokanee_anomalies (Timestamp, WindowEnd, Series, ServiceName, Operation, Signal, Detector,
        Expected, Actual, Score, Severity, IncidentId) VALUES (toDateTime({t:Int64}), toDateTime({t:Int64} + 60),
        'red:anom-a:p95', 'anom-a', 'GET /', 'p95_ms', 'robust_z', 120, 900, 8.5, 'critical', 'inc-anom-1')""",
        parameters={"t": start},
    )
    store.command(
        """INSERT INTO kokanee_incidents
        (IncidentId, OpenedAt, ResolvedAt, Status, Severity, Services, Title, UpdatedAt)
        VALUES ('inc-anom-1', fromUnixTimestamp64Milli({t:Int64} * 1000), NULL, 'open', 'critical', ['anom-a'],
        'anom-a p95 latency 7x', fromUnixTimestamp64Milli({t:Int64} * 1000))""",
        parameters={"t": start},
    )
    ev = setup(
        store,
        [rule(id="anom", kind="anomaly", service="anom-a"), rule(id="inc", kind="incident", service="anom-a")],
    )
    ev.run_once(at(start + 120))
    by_rule = {s.rule_id: s for s in ev.states.values()}
    assert by_rule["anom"].state == "firing" and by_rule["anom"].severity == "critical"
    assert "p95_ms 900 vs 120 expected" in by_rule["anom"].why
    assert by_rule["inc"].labels["incident_id"] == "inc-anom-1" and "anom-a p95 latency 7x" in by_rule["inc"].why
    # The notification carries the incident's narrative (the AI layer's evidence-filled template).
    ev.narrative = incident_narrator(store)
    payload = ev.event(rules_by_id(ev)["inc"], by_rule["inc"], "firing")
    assert payload["incident_id"] == "inc-anom-1" and "Incident inc-anom-1 is open" in (payload["narrative"] or "")
    store.command(  # resolved (a newer version of the row): the incident alert resolves
        """INSERT INTO kokanee_incidents
        (IncidentId, OpenedAt, ResolvedAt, Status, Severity, Services, Title, UpdatedAt)
        VALUES ('inc-anom-1', fromUnixTimestamp64Milli({t:Int64} * 1000),
        fromUnixTimestamp64Milli({t:Int64} * 1000), 'resolved', 'critical', ['anom-a'], 'anom-a p95 latency 7x',
        fromUnixTimestamp64Milli(({t:Int64} + 1) * 1000))""",
        parameters={"t": start + 300},
    )
    ev.run_once(at(start + 180))
    assert {s.rule_id: s.state for s in ev.states.values()}["inc"] == "resolved"


def test_silence_keeps_an_alert_quiet_and_its_resolve_too(store: Store) -> None:
    for m in range(3):
        red(store, "sil-a", T0 + m * 60, 10, 10 if m == 0 else 0, 10)
    ev = setup(store, [rule(id="e", kind="threshold", signal="error_rate", value=0.1, window="1m", service="sil-a")])
    ConfigStore(store).put(
        "silence", "s1", {"id": "s1", "matchers": {"service": "sil-*"}, "starts_at": 1, "ends_at": at(T0 + 3600)}
    )
    ev.run_once(at(T0 + 60))
    assert states(ev) == {"sil-a": "firing"}
    ev.run_once(at(T0 + 120))
    assert states(ev) == {"sil-a": "resolved"}
    assert outbox(store) == []


def test_a_transition_rerun_after_a_crash_adds_no_second_notification(store: Store) -> None:
    red(store, "crash-a", T0, 10, 10, 10)
    rules = [rule(id="e", kind="threshold", signal="error_rate", value=0.1, window="1m", service="crash-a")]
    setup(store, rules).run_once(at(T0 + 60))
    assert len(outbox(store)) == 1
    # The process died after enqueueing and before the state was recorded: a fresh start re-runs it.
    store.command("TRUNCATE TABLE kokanee_alert_state")
    again = Evaluator(store, ConfigStore(store), Outbox(store), settle_s=10)
    again.run_once(at(T0 + 60) + 5 * NS)
    assert states(again) == {"crash-a": "firing"} and len(outbox(store)) == 1


def test_routing_by_channel_and_min_severity(store: Store) -> None:
    red(store, "route-a", T0, 10, 10, 10)
    channels = [
        {"id": "pager", "type": "webhook", "url": "http://127.0.0.1:9/", "min_severity": "critical"},
        {"id": "chat", "type": "webhook", "url": "http://127.0.0.1:9/"},
        {"id": "other", "type": "webhook", "url": "http://127.0.0.1:9/"},
    ]
    ev = setup(
        store,
        [rule(id="w", kind="threshold", signal="error_rate", value=0.1, window="1m", service="route-a",
              severity="warning", channels=["pager", "chat"])],
        channels,
    )  # fmt: skip
    ev.run_once(at(T0 + 60))
    assert [c for _, _, c in outbox(store)] == ["chat"]


class Recorder:
    """Records what the dispatcher sends; refuses while `failing`."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[dict[str, Any]], str]] = []
        self.failing = False

    def __call__(self, channel: Channel, events: list[dict[str, Any]], delivery_id: str) -> str:
        if self.failing:
            raise DeliveryError("HTTP 503: down")
        self.sent.append((channel.id, events, delivery_id))
        return "ok"


def test_digests_batch_lower_severities_and_critical_goes_at_once(store: Store) -> None:
    t0 = T0 + 19 * 3600  # an hour of its own: the rule watches every service
    for i in range(4):
        red(store, f"dig-{i}", t0, 10, 10, 10)
    channel = {"id": "chat", "type": "webhook", "url": "http://127.0.0.1:9/", "digest_interval": "10m"}
    ev = setup(
        store,
        [rule(id="warn", kind="threshold", signal="error_rate", value=0.1, window="1m", service="*",
              severity="warning"),
         rule(id="crit", kind="threshold", signal="error_rate", value=0.1, window="1m", service="dig-0",
              severity="critical")],
        [channel],
    )  # fmt: skip
    now_ms = at(t0 + 60) // 1_000_000
    ev.run_once(now_ms * 1_000_000)
    sender = Recorder()
    dispatcher = Dispatcher(Outbox(store), ConfigStore(store).channels, sender)
    dispatcher.run_once(now_ms)
    assert [(c, len(events), events[0]["rule_id"]) for c, events, _ in sender.sent] == [("chat", 1, "crit")]
    # The digest waits for its boundary: the dispatcher sleeps until then, at most IDLE_POLL_S at a time.
    due_ms = Outbox(store).next_due_ms()
    assert due_ms is not None and now_ms < due_ms <= now_ms + 600_000
    assert next_poll_s(due_ms, now_ms) == min((due_ms - now_ms) / 1000, IDLE_POLL_S)
    dispatcher.run_once(now_ms + 600_000)  # the next digest boundary
    assert len(sender.sent) == 2 and len(sender.sent[1][1]) == 4 and sender.sent[1][2].startswith("digest-")
    dispatcher.run_once(now_ms + 1_200_000)
    assert len(sender.sent) == 2  # nothing is sent twice


def test_rate_limit_delays_the_excess_and_failures_back_off(store: Store) -> None:
    t0 = T0 + 21 * 3600  # an hour of its own: the rule watches every service
    for i in range(5):
        red(store, f"rl-{i}", t0, 10, 10, 10)
    channel = {"id": "chat", "type": "webhook", "url": "http://127.0.0.1:9/", "max_per_minute": 2}
    ev = setup(
        store, [rule(id="e", kind="threshold", signal="error_rate", value=0.1, window="1m", service="*")], [channel]
    )
    ev.run_once(at(t0 + 60))
    now_ms = at(t0 + 60) // 1_000_000
    sender = Recorder()
    dispatcher = Dispatcher(Outbox(store), ConfigStore(store).channels, sender)
    sender.failing = True
    dispatcher.run_once(now_ms)
    pending = Outbox(store).due(now_ms + 10_000_000)
    assert sorted(r.attempts for r in pending) == [0, 0, 0, 1, 1]  # the limit held back three
    assert all(r.due_ms == now_ms + backoff_s(1) * 1000 for r in pending if r.attempts)
    # Rows due but held back by the limit are tried again each second...
    assert next_poll_s(Outbox(store).next_due_ms(), now_ms) == 1.0
    sender.failing = False
    for step in range(1, 6):
        dispatcher.run_once(now_ms + step * 60_000)
    assert sorted(e[0]["labels"]["service"] for _, e, _ in sender.sent) == [f"rl-{i}" for i in range(5)]
    assert Outbox(store).pending_count() == 0
    # ...and with nothing pending the dispatcher only looks now and then (it is woken for new rows).
    assert Outbox(store).next_due_ms() is None and next_poll_s(None, now_ms) == IDLE_POLL_S


def test_last_hour_dry_run_reports_what_would_have_fired(store: Store) -> None:
    start = T0 + 15 * 3600
    for m in range(60):
        red(store, "dry-a", start + m * 60, 20, 10 if 20 <= m < 30 else 0, 10)
    result = backtest(
        store, rule(id="dry", kind="threshold", signal="error_rate", value=0.2, window="1m", service="dry-a"),
        at(start + 3600), 10,
    )  # fmt: skip
    assert [(e["event"], e["at"][11:16]) for e in result["events"]] == [("firing", "09:08"), ("resolved", "09:18")]
    assert len(result["series"][0]["points"]) == 60 and result["firing_now"] == []


def test_disabling_a_firing_rule_resolves_its_alerts_and_says_so(store: Store) -> None:
    t0 = T0 + 23 * 3600
    red(store, "off-a", t0, 10, 10, 10)
    first = rule(id="off", kind="threshold", signal="error_rate", value=0.1, window="5m", service="off-a")
    ev = setup(store, [first])
    ev.run_once(at(t0 + 60))
    ConfigStore(store).put("rule", "off", first.model_dump(mode="json", by_alias=True) | {"enabled": False})
    ev.run_once(at(t0 + 120))
    assert states(ev) == {"off-a": "resolved"} and next(iter(ev.states.values())).why == "rule disabled"
    assert [e for e, _, _ in outbox(store)] == ["firing", "resolved"]


def test_a_silence_can_match_the_rule_by_id(store: Store) -> None:
    t0 = T0 + 25 * 3600
    red(store, "silr-a", t0, 10, 10, 10)
    rules = [
        rule(id="quiet", kind="threshold", signal="error_rate", value=0.1, window="1m", service="silr-a"),
        rule(id="loud", kind="threshold", signal="error_rate", value=0.2, window="1m", service="silr-a"),
    ]
    ev = setup(store, rules)
    ConfigStore(store).put("silence", "s2", {"id": "s2", "matchers": {"rule": "quiet"}, "ends_at": at(t0 + 3600)})
    ev.run_once(at(t0 + 60))
    assert {s.rule_id: s.state for s in ev.states.values()} == {"quiet": "firing", "loud": "firing"}
    assert {s.rule_id: s.notified for s in ev.states.values()} == {"quiet": False, "loud": True}
    assert {a["rule_id"]: a["silenced"] for a in ev.alerts()} == {"quiet": True, "loud": False}
    assert len(outbox(store)) == 1


def test_group_by_sends_one_rules_alerts_that_change_together_as_one_message(store: Store) -> None:
    t0 = T0 + 27 * 3600
    for i in range(3):
        red(store, f"grp-{i}", t0, 10, 10, 10)
    grouped = rule(id="g", kind="threshold", signal="error_rate", value=0.1, window="1m", service="*", group_by=[])
    ev = setup(store, [grouped])
    ev.run_once(at(t0 + 60))
    sender = Recorder()
    dispatcher = Dispatcher(Outbox(store), ConfigStore(store).channels, sender)
    dispatcher.run_once(at(t0 + 60) // 1_000_000)
    assert [(len(events), did[:6]) for _, events, did in sender.sent] == [(3, "group-")]
    assert sorted(e["labels"]["service"] for e in sender.sent[0][1]) == ["grp-0", "grp-1", "grp-2"]
    ev.run_once(at(t0 + 120))  # all three resolve in one evaluation: one message again
    dispatcher.run_once(at(t0 + 120) // 1_000_000)
    assert [(len(events), events[0]["event"]) for _, events, _ in sender.sent[1:]] == [(3, "resolved")]


def test_a_request_rate_floor_fires_when_a_named_service_goes_quiet(store: Store) -> None:
    t0 = T0 + 29 * 3600
    red(store, "floor-a", t0, 120, 0, 10)
    floor = rule(id="floor", kind="threshold", signal="request_rate", service="floor-a", op="<", value=1, window="1m")
    ev = setup(store, [floor])
    ev.run_once(at(t0 + 60))
    assert states(ev) == {}  # 2/s
    ev.run_once(at(t0 + 120))  # no rows at all in the window: a rate of 0
    assert states(ev) == {"floor-a": "firing"} and "request rate 0/s" in next(iter(ev.states.values())).why
