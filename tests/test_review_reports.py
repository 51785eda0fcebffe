"""Scheduled review reports: the architecture review sent through the alert outbox to a signed
webhook and a Slack stand-in (loopback receivers from test_notif_receivers), once per period across
a restart of the alerting component; the reports API on a real server; the alerts file's `reports`.

The schedule is driven with explicit times: the test shop's traces are placed just before an hour
boundary B, and the component is asked what is due at B - 1h (first sight) and just after B."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kokanee.alerts.config_store import AlertsFileError, ConfigStore, load_file
from kokanee.alerts.model import Report
from kokanee.alerts.reports import period_end_s
from kokanee.alerts.service import Alerting
from kokanee.store.client import Store
from tests import test_notif_receivers
from tests.llm.spans import Shop
from tests.server import KokaneeServer
from tests.test_alert_api import _call
from tests.test_alert_e2e import _wait
from tests.test_alert_rules import _TABLES
from tests.test_notif_receivers import SlackStandIn, WebhookReceiver

receivers = test_notif_receivers.receivers  # the loopback receivers fixture
NS = 1_000_000_000
PUBLIC = "https://kokanee.example"


@pytest.fixture
def store(chdb_store: Store) -> Iterator[Store]:
    for table in _TABLES:
        chdb_store.command(f"TRUNCATE TABLE {table}")
    yield chdb_store


def _utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("every", "at", "now", "end"),
    [
        ("24h", "09:00", "2026-03-04T10:30:00", "2026-03-04T09:00:00"),
        ("24h", "09:00", "2026-03-04T08:59:59", "2026-03-03T09:00:00"),
        ("7d", None, "2026-03-04T10:30:00", "2026-03-02T00:00:00"),  # a Wednesday: the Monday before
        ("1h", "00:15", "2026-03-04T10:14:00", "2026-03-04T09:15:00"),
    ],
    ids=["daily at nine, after nine", "daily at nine, just before nine", "weekly on Mondays", "hourly at :15"],
)
def test_periods_end_on_the_schedule(every: str, at: str | None, now: str, end: str) -> None:
    report = Report.model_validate({"id": "r", "every": every, "at": at, "channels": ["c"]})
    assert period_end_s(report, _utc(now)) == _utc(end)


def test_a_due_report_goes_out_once_per_period_across_a_restart(store: Store, receivers: Any, tmp_path: Path) -> None:
    wall = time.time()
    boundary = int(wall // 3600 * 3600)  # B: the hour that began last
    shop = Shop()
    req, trace_ids = shop.traces(minutes_ago=(wall - boundary) / 60 + 6, count=10)  # all before B
    store.insert_otlp("traces", [req.SerializeToString()], uuid.uuid4().hex, tmp_path)
    hook, slack = receivers(WebhookReceiver, "s3cret"), receivers(SlackStandIn)
    config = ConfigStore(store)
    config.put("channel", "hook", {"id": "hook", "type": "webhook", "url": hook.url, "secret": "s3cret"})
    config.put("channel", "chat", {"id": "chat", "type": "slack", "url": slack.url})
    report = {"id": "hourly", "name": "Hourly review", "every": "1h", "window": "30m", "channels": ["hook", "chat"]}
    config.put("report", "hourly", Report.model_validate(report | {"top": 50}).model_dump(mode="json"))

    alerting = Alerting(store, public_url=PUBLIC)
    assert alerting.reports.run_once((boundary - 3600 + 5) * NS) == 0  # first sight: from the next period on
    assert alerting.reports.run_once((boundary + 5) * NS) == 2  # B has passed: one row per channel
    assert alerting.reports.run_once((boundary + 20) * NS) == 0
    assert alerting.dispatcher.run_once() == 2
    assert not hook.problems and not slack.problems  # signed as documented; valid Block Kit

    [body] = hook.bodies()
    assert body["type"] == "report" and body["id"].endswith("-hook")
    sent = body["report"]
    hour = datetime.fromtimestamp(boundary, UTC).strftime("%Y-%m-%dT%H:%M")
    assert sent["report_id"] == "hourly" and sent["end"].startswith(hour)
    ours = {f["kind"]: f for f in sent["findings"] if shop.suffix in f["subject"]}
    n1 = ours["n_plus_one"]
    assert n1["subject"] == f"{shop.catalog}: ListProducts → SELECT products" and n1["traces_affected"] == 10
    assert n1["sample_traces"] and all(
        t["url"] == f"{PUBLIC}/traces/{t['trace_id']}" and t["trace_id"] in trace_ids for t in n1["sample_traces"]
    )
    assert sent["summary"]["source"] == "template" and "batch the repeated calls" in sent["summary"]["text"]
    assert sent["links"]["review"].startswith(f"{PUBLIC}/review?start=")
    slack_text = str(slack.bodies()[0])
    assert slack.bodies()[0]["text"].startswith("Architecture review: Hourly review")
    assert f"N+1: ListProducts in {shop.catalog}" in slack_text and f"{PUBLIC}/traces/" in slack_text

    # A restart of the component: the period is not sent again, later in it or at the same instant.
    alerting.stop()
    again = Alerting(store, public_url=PUBLIC)
    assert again.reports.run_once((boundary + 600) * NS) == 0
    # A crash after the rows were written and before the period was recorded: the rows are found.
    state = again.reports.states()["hourly"]
    again.config.put("report_state", "hourly", state | {"period_end_ms": (boundary - 3600) * 1000}, "state", api=False)
    assert again.reports.run_once((boundary + 600) * NS) == 0
    assert again.dispatcher.run_once() == 0 and len(hook.bodies()) == 1 and len(slack.bodies()) == 1

    # The next period is sent, and the history shows both like any notification.
    assert again.reports.run_once((boundary + 3600 + 5) * NS) == 2
    assert again.dispatcher.run_once((boundary + 3600 + 5) * 1000) == 2 and len(hook.bodies()) == 2
    history = again.outbox.history(rule_id="report:hourly")
    assert sorted((n["channel"], n["event"], n["status"]) for n in history) == [
        ("chat", "report", "delivered"), ("chat", "report", "delivered"),
        ("hook", "report", "delivered"), ("hook", "report", "delivered"),
    ]  # fmt: skip
    again.stop()


def test_a_disabled_report_skips_its_periods(store: Store, receivers: Any) -> None:
    hook = receivers(WebhookReceiver)
    config = ConfigStore(store)
    config.put("channel", "hook", {"id": "hook", "type": "webhook", "url": hook.url})
    body = {"id": "quiet", "every": "1h", "channels": ["hook"], "enabled": False}
    config.put("report", "quiet", Report.model_validate(body).model_dump(mode="json"))
    alerting = Alerting(store, public_url=PUBLIC)
    t0 = 1_900_000_800  # an hour boundary in 2030
    assert alerting.reports.run_once(t0 * NS) == 0
    assert alerting.reports.run_once((t0 + 3600) * NS) == 0
    config.put("report", "quiet", Report.model_validate(body | {"enabled": True}).model_dump(mode="json"))
    assert alerting.reports.run_once((t0 + 3700) * NS) == 0  # the skipped period is not made up
    assert alerting.reports.run_once((t0 + 7200) * NS) == 1
    alerting.stop()


FILE = """
channels:
  - {{id: hook, type: webhook, url: "{url}"}}
  - {{id: oncall, type: pagerduty, routing_key: R}}
reports:
  - {{id: weekly, kind: review, every: 7d, at: "09:00", window: 24h, channels: [hook]}}
"""


def test_reports_in_the_alerts_file_name_the_field_at_fault(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(FILE.format(url="http://127.0.0.1:9/"))
    [weekly] = load_file(path).reports
    assert (weekly.every, weekly.at, weekly.window, weekly.top) == ("7d", "09:00", "24h", 10)
    for old, new, message in [
        ("channels: [hook]}", "channels: [oncall]}",
         "reports[0] (id 'weekly').channels: reports go to slack or webhook channels; 'oncall' is pagerduty"),
        ("channels: [hook]}", "channels: [nope]}", "reports[0] (id 'weekly').channels: no channel with id 'nope'"),
        ("every: 7d", "every: often", "reports[0] (id 'weekly').every: Value error, 'often' is not a duration"),
        ('at: "09:00"', 'at: "9am"', "reports[0] (id 'weekly').at: Value error, '9am' is not a time of day"),
        ("window: 24h", "window: 60d", "reports[0] (id 'weekly').window: Value error, must be at most 30d"),
    ]:  # fmt: skip
        path.write_text(FILE.format(url="http://127.0.0.1:9/").replace(old, new))
        with pytest.raises(AlertsFileError) as e:
            load_file(path)
        assert message in str(e.value)


def test_the_reports_api(start_kokanee: Callable[..., KokaneeServer], receivers: Any, tmp_path: Path) -> None:
    hook = receivers(WebhookReceiver)
    alerts_file = tmp_path / "alerts.yaml"
    alerts_file.write_text(FILE.format(url=hook.url))
    server = start_kokanee("--alerts-file", str(alerts_file), "--public-url", PUBLIC)

    status, body = _call(server, "GET", "/reports")
    [weekly] = body["reports"]
    assert status == 200 and weekly["id"] == "weekly" and weekly["source"] == "file" and weekly["last_sent"] is None
    assert "T09:00:00" in weekly["next_at"]

    # File-owned reports are read-only here.
    status, body = _call(server, "PUT", "/reports/weekly", {"every": "24h", "channels": ["hook"]})
    assert status == 409 and "defined in the alerts file" in body["error"]
    assert _call(server, "DELETE", "/reports/weekly")[0] == 409

    # Bad bodies are 400s that name the field.
    good = {"id": "daily", "every": "24h", "at": "09:00", "channels": ["hook"]}
    for bad, message in [
        ({**good, "every": "soon"}, "every: Value error, 'soon' is not a duration"),
        ({**good, "every": "10m"}, "every: Value error, must be at least 3600s"),
        ({**good, "at": "25:00"}, "at: Value error, '25:00' is not a time of day"),
        ({**good, "kind": "weekly"}, "kind: Input should be 'review'"),
        ({**good, "colour": "red"}, "colour: Extra inputs are not permitted"),
        ({k: v for k, v in good.items() if k != "channels"}, "channels: Field required"),
        ({**good, "channels": ["nowhere"]}, "channels: no channel with id 'nowhere'"),
        ({**good, "channels": ["oncall"]}, "channels: reports go to slack or webhook channels; 'oncall' is pagerduty"),
    ]:
        status, body = _call(server, "POST", "/reports", bad)
        assert status == 400 and message in body["error"], body

    # Create, change, read, delete.
    status, body = _call(server, "POST", "/reports", good)
    assert status == 201 and body["source"] == "api" and body["window"] is None and body["top"] == 10
    assert _call(server, "POST", "/reports", good)[0] == 409
    status, body = _call(server, "PUT", "/reports/daily", {**good, "top": 5})
    assert status == 200 and body["top"] == 5
    assert [r["id"] for r in _call(server, "GET", "/reports")[1]["reports"]] == ["daily", "weekly"]
    assert _call(server, "DELETE", "/reports/daily")[0] == 200
    assert _call(server, "GET", "/reports/daily")[0] == 404

    # Send now: through the outbox, to the receiver, into the history.
    assert _call(server, "POST", "/reports/nope/send")[0] == 404
    status, body = _call(server, "POST", "/reports/weekly/send")
    assert status == 200 and body["channels"] == 1
    nid = body["notification_id"]
    delivered = _wait("the report at the webhook", lambda: hook.bodies(), 60, server)
    assert delivered[0]["type"] == "report" and delivered[0]["id"] == f"{nid}-hook"
    assert delivered[0]["report"]["report_id"] == "weekly" and "findings" in delivered[0]["report"]
    history = server.get("/api/v1/notifications", rule_id="report:weekly")["notifications"]
    assert [(n["notification_id"], n["channel"], n["event"]) for n in history] == [(nid, "hook", "report")]
    status, body = _call(server, "GET", "/reports/weekly")
    assert body["last_notification_id"] == nid and body["last_sent"]
