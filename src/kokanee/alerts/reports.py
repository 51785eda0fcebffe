"""Scheduled review reports: the architecture review (ai/review.py) with its summary, sent to Slack
or webhook channels through the alert outbox, so it is durable, retried and in the notification
history like any alert.

    evaluate tick ──► period ended since the last one recorded? ──► review + summary
                  ──► one outbox row per channel ──► record the period (kind 'report_state')

A period's notification id is derived from (report, period end), so a crash between the rows and
the record re-runs the period, finds its rows and adds none; a restart neither repeats a period nor
skips the one that ended while the server was down (only the latest: no backlog of old reports).
A report seen for the first time starts at the next period end; `send_now` sends one at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from kokanee.ai.review import review
from kokanee.ai.review_summary import summarize
from kokanee.ai.router import Router
from kokanee.alerts.channels import WEBHOOK_VERSION, DeliveryError, sign
from kokanee.alerts.config_store import ConfigStore
from kokanee.alerts.dispatcher import Sender
from kokanee.alerts.model import REPORT_CHANNEL_TYPES, Channel, Report, SlackChannel, WebhookChannel, seconds
from kokanee.alerts.outbox import Outbox, OutboxRow
from kokanee.store.client import Store
from kokanee.store.timeparse import rfc3339

log = logging.getLogger(__name__)

REPORT_EVENT = "report"
_ANCHOR_S = 4 * 86_400  # Monday 1970-01-05 00:00 UTC: weekly periods end on Mondays
_NS = 1_000_000_000
_TIMEOUT_S = 10.0


def period_end_s(report: Report, now_s: float) -> int:
    """The end (Unix s) of the latest period that has ended at `now_s`."""
    every = int(seconds(report.every))
    hours, minutes = (int(x) for x in (report.at or "00:00").split(":"))
    offset = _ANCHOR_S + hours * 3600 + minutes * 60
    return offset + int((now_s - offset) // every) * every


def report_notification_id(report_id: str, period: str) -> str:
    return hashlib.sha256(f"report|{report_id}|{period}".encode()).hexdigest()[:24]


def outbox_rule_id(report_id: str) -> str:
    """What the outbox and the history show in the rule column: ids cannot hold ':', so no rule clashes."""
    return f"report:{report_id}"


class Reports:
    """Decides which reports are due, builds them and writes their outbox rows."""

    def __init__(
        self,
        store: Store,
        config: ConfigStore,
        outbox: Outbox,
        *,
        public_url: str = "http://127.0.0.1:8080",
        router: Router | None = None,
        entries: int = 10,
    ) -> None:
        self.store = store
        self.config = config
        self.outbox = outbox
        self.public_url = public_url.rstrip("/")
        self.router = router  # set by the server when the AI layer is configured; None: template summaries
        self.entries = entries

    def run_once(self, now_ns: int) -> int:
        """Enqueues every report whose period has ended since its last one; returns rows written."""
        reports = self.config.reports()
        if not reports:
            return 0
        states = self.config.report_states()
        now_ms = now_ns // 1_000_000
        written = 0
        for report in reports:
            end_ms = period_end_s(report, now_ns / _NS) * 1000
            state = states.get(report.id)
            if state is not None and int(state["period_end_ms"]) >= end_ms:
                continue
            if state is None or not report.enabled:  # first sight or switched off: from the next period on
                self._record(report.id, end_ms, state or {})
                continue
            nid = report_notification_id(report.id, str(end_ms))
            try:
                written += self._enqueue(report, nid, end_ms * 1_000_000, now_ms, self.router)
            except Exception:  # a loop boundary: one report failing must not stop the others or alerting
                log.exception("scheduled report %s not built; retrying next evaluation", report.id)
                continue
            self._record(report.id, end_ms, {"sent_ms": now_ms, "notification_id": nid})
        return written

    def send_now(self, report: Report, now_ns: int, router: Router | None = None) -> tuple[str, int]:
        """Sends the report over the window ending now, whatever the schedule; returns the
        notification id and how many channels it was queued for. The schedule is not moved."""
        now_ms = now_ns // 1_000_000
        nid = report_notification_id(report.id, f"now-{now_ns}")
        count = self._enqueue(report, nid, now_ns, now_ms, router if router is not None else self.router)
        if not count:
            return nid, 0
        state = self.config.report_states().get(report.id)
        end_ms = int(state["period_end_ms"]) if state else period_end_s(report, now_ns / _NS) * 1000
        self._record(report.id, end_ms, {"sent_ms": now_ms, "notification_id": nid})
        return nid, count

    def states(self) -> dict[str, dict[str, Any]]:
        """Per report id: `period_end_ms` (the last period handled), `sent_ms` (0: never), `notification_id`."""
        return self.config.report_states()

    def build(self, report: Report, end_ns: int, router: Router | None) -> dict[str, Any]:
        """The message every channel formats (the webhook's documented `report` object)."""
        start_ns = end_ns - int(report.window_s() * _NS)
        found = review(self.store, start_ns, end_ns, self.entries)
        try:
            narrative = summarize(found, router)
        except Exception:  # the model is optional: the template still summarises the findings
            log.exception("report %s: model summary failed; using the template", report.id)
            narrative = summarize(found, None)
        findings = [
            {
                **f,
                "sample_traces": [{"trace_id": t, "url": f"{self.public_url}/traces/{t}"} for t in f["sample_traces"]],
            }
            for f in found["findings"][: report.top]
        ]
        bounds = {"start": _iso(start_ns), "end": _iso(end_ns)}  # what the UI's time range reads
        review_url = f"{self.public_url}/review?" + urlencode(bounds)
        return {
            "report_id": report.id, "rule_name": report.title, "kind": report.kind,
            "labels": {"report": report.id}, "start": rfc3339(start_ns), "end": rfc3339(end_ns),
            "traces_reviewed": found["traces_reviewed"], "findings_total": len(found["findings"]),
            "counts": found["summary"], "findings": findings,
            "summary": {k: narrative[k] for k in ("source", "text", "model") if k in narrative},
            "why": f"{len(found['findings'])} findings in {found['traces_reviewed']} traces reviewed",
            "links": {"review": review_url, "alerts": f"{self.public_url}/alerts"},
        }  # fmt: skip

    def _enqueue(self, report: Report, nid: str, end_ns: int, now_ms: int, router: Router | None) -> int:
        types = {c.id: c.type for c in self.config.channels()}
        wanted = [c for c in report.channels if types.get(c) in REPORT_CHANNEL_TYPES]
        for c in sorted(set(report.channels) - set(wanted)):
            log.warning("report %s: channel %r is missing or not slack/webhook; not sent there", report.id, c)
        done = self.outbox.existing(nid)
        todo = [c for c in wanted if f"{nid}-{c}" not in done]  # rows written before a crash stay
        if not todo:
            return 0
        payload = self.build(report, end_ns, router)
        for channel_id in todo:
            row_id = f"{nid}-{channel_id}"
            row = OutboxRow(
                id=row_id, notification_id=nid, channel_id=channel_id, rule_id=outbox_rule_id(report.id),
                fingerprint=nid[:16], event=REPORT_EVENT, severity="info", digest=False, payload=payload,
                created_ms=now_ms, due_ms=now_ms,
            )  # fmt: skip
            self.outbox.write(row)
        return len(todo)

    def _record(self, report_id: str, period_end_ms: int, sent: dict[str, Any]) -> None:
        body = {"sent_ms": 0, "notification_id": "", **sent, "period_end_ms": period_end_ms}
        self.config.put("report_state", report_id, body, "state", api=False)


def slack_report_body(report: dict[str, Any]) -> dict[str, Any]:
    """Block Kit: a header, the period, the summary, then one line per finding with trace links."""
    heading = _cut(f"Architecture review: {report['rule_name']}", 150)
    period = f"{report['start'][:16].replace('T', ' ')} – {report['end'][:16].replace('T', ' ')} UTC"
    intro = f"*{period}* · {report['why']}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": heading, "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(intro, 3000)}},
    ]
    if report["summary"].get("text"):
        source = "model" if report["summary"].get("source") == "model" else "kokanee"
        summary = _cut(f"*Summary* ({source}): {report['summary']['text']}", 3000)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": summary}})
    lines = []
    for i, f in enumerate(report["findings"], 1):
        links = " ".join(f"<{t['url']}|{t['trace_id'][:8]}>" for t in f["sample_traces"])
        lines.append(_cut(f"{i}. *{f['severity']}* {f['title']} — {f['traces_affected']} traces {links}", 1000))
    chunk: list[str] = []
    for line in lines:  # sections hold at most 3,000 characters
        if sum(len(x) + 1 for x in chunk) + len(line) > 2900:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
    blocks = blocks[:49]
    link = f"<{report['links']['review']}|Open the review in kokanee>"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": link}]})
    return {"text": _cut(f"{heading}: {report['why']}", 3000), "blocks": blocks}


def webhook_report_body(report: dict[str, Any], delivery_id: str) -> dict[str, Any]:
    return {"version": WEBHOOK_VERSION, "id": delivery_id, "type": REPORT_EVENT, "report": report}


def send_report(channel: Channel, report: dict[str, Any], delivery_id: str) -> str:
    """Sends one report; returns what the receiver said, raises DeliveryError when it did not take it."""
    headers = {"Content-Type": "application/json"}
    if isinstance(channel, SlackChannel):
        body = json.dumps(slack_report_body(report)).encode()
    elif isinstance(channel, WebhookChannel):
        body = json.dumps(webhook_report_body(report, delivery_id)).encode()
        headers |= {**channel.headers, "X-Kokanee-Delivery": delivery_id}
        if channel.secret:
            stamp = str(int(time.time()))
            headers |= {"X-Kokanee-Timestamp": stamp, "X-Kokanee-Signature": sign(channel.secret, stamp, body)}
    else:
        raise DeliveryError(f"reports go to slack or webhook channels; {channel.id!r} is {channel.type}")
    try:
        r = httpx.post(channel.url, content=body, headers=headers, timeout=_TIMEOUT_S)
    except httpx.HTTPError as e:
        raise DeliveryError(f"{type(e).__name__}: {e}") from e
    if r.status_code >= 300:
        raise DeliveryError(f"HTTP {r.status_code}: {r.text[:300]}")
    return f"HTTP {r.status_code}"


def with_reports(inner: Sender) -> Sender:
    """A dispatcher sender that formats report rows here and hands alert rows to `inner`."""

    def send_any(channel: Channel, events: list[dict[str, object]], delivery_id: str) -> str:
        if len(events) == 1 and events[0].get("event") == REPORT_EVENT:
            return send_report(channel, dict(events[0]), delivery_id)
        return inner(channel, events, delivery_id)

    return send_any


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns // _NS, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
