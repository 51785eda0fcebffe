"""Notification channels: each turns alert events into its service's format and sends it.

A message is one event (sent at once) or several (a digest). Every message has a delivery id,
stable across retries, that receivers can use to drop repeats.

- Slack: incoming webhook, Block Kit (header, service/severity/state fields, the why, sample traces,
  a button to the kokanee page); `text` is the notification fallback.
- Webhook: the JSON body documented in docs/alerting.md; with a secret, `X-Kokanee-Signature:
  sha256=HEX` is HMAC-SHA256 over `TIMESTAMP.BODY` with `X-Kokanee-Timestamp: TIMESTAMP`.
- PagerDuty Events API v2: `trigger` on firing and `resolve` on resolved, `dedup_key` the alert's
  fingerprint, so PagerDuty itself folds repeats into one incident.
- Email: one message over SMTP (smtplib), Message-ID from the delivery id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
from email.message import EmailMessage
from typing import Any

import httpx

from kokanee.alerts.model import Channel, EmailChannel, PagerDutyChannel, SlackChannel, WebhookChannel

WEBHOOK_VERSION = "1"
_TIMEOUT_S = 10.0
_SEVERITY_EMOJI = {"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_blue_circle:"}
_PD_SEVERITY = {"critical": "critical", "warning": "warning", "info": "info"}


class DeliveryError(RuntimeError):
    """The receiver did not take the message (refused, unreachable, timed out); retried later."""


def _title(event: dict[str, Any]) -> str:
    state = "RESOLVED" if event["event"] == "resolved" else event["severity"].upper()
    return f"[{state}] {event['rule_name']}"


def _subject(event: dict[str, Any]) -> str:
    labels = event["labels"]
    return labels.get("service") or labels.get("incident_id") or ", ".join(f"{k}={v}" for k, v in labels.items())


def _many(events: list[dict[str, Any]], delivery_id: str) -> str:
    """The heading of a message with several events: a digest, or one rule's alerts grouped."""
    if delivery_id.startswith("digest-"):
        return f"kokanee digest: {len(events)} alert events"
    first = events[0]
    state = "RESOLVED" if first["event"] == "resolved" else first["severity"].upper()
    return _cut(f"[{state}] {first['rule_name']}: {len(events)} alerts", 150)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_body(events: list[dict[str, Any]], delivery_id: str) -> dict[str, Any]:
    if len(events) == 1:
        e = events[0]
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": _cut(_title(e), 150), "emoji": True}},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*Service*\n{_cut(_subject(e), 1900)}"},
                    {"type": "mrkdwn", "text": f"*Severity*\n{_SEVERITY_EMOJI.get(e['severity'], '')} {e['severity']}"},
                    {"type": "mrkdwn", "text": f"*State*\n{e['event']}"},
                    {"type": "mrkdwn", "text": f"*Rule*\n`{e['rule_id']}` ({e['kind']})"},
                ],
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(f"*Why*: {e['why']}", 3000)}},
        ]
        if e.get("narrative"):
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(e["narrative"], 3000)}})
        traces = e.get("sample_traces") or []
        if traces:
            links = "  ".join(f"<{t['url']}|{t['trace_id'][:16]}>" for t in traces[:5])
            blocks.append(
                {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(f"Sample traces: {links}", 3000)}]}
            )
        buttons = [
            {"type": "button", "text": {"type": "plain_text", "text": "Open in kokanee"}, "url": e["links"]["page"]}
        ]
        buttons.append(
            {"type": "button", "text": {"type": "plain_text", "text": "Alerts"}, "url": e["links"]["alerts"]}
        )
        blocks.append({"type": "actions", "block_id": _cut(f"kokanee-{delivery_id}", 255), "elements": buttons})
        return {"text": _cut(f"{_title(e)}: {e['why']}", 3000), "blocks": blocks}
    heading = _many(events, delivery_id)
    lines = [
        f"{_SEVERITY_EMOJI.get(e['severity'], '')} *{_cut(_title(e), 150)}* — {_cut(e['why'], 300)}" for e in events
    ]
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": heading}}]
    chunk: list[str] = []
    for line in lines:  # sections hold at most 3,000 characters; a message at most 50 blocks
        if sum(len(x) + 1 for x in chunk) + len(line) > 2900:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
    blocks = blocks[:49]
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"<{events[0]['links']['alerts']}|Alerts in kokanee>"}],
        }
    )
    return {"text": heading, "blocks": blocks}


def webhook_body(events: list[dict[str, Any]], delivery_id: str) -> dict[str, Any]:
    if len(events) == 1:
        return {"version": WEBHOOK_VERSION, "id": delivery_id, "type": events[0]["event"], "alert": events[0]}
    kind = "digest" if delivery_id.startswith("digest-") else "group"
    return {"version": WEBHOOK_VERSION, "id": delivery_id, "type": kind, "alerts": events}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def pagerduty_body(channel: PagerDutyChannel, event: dict[str, Any]) -> dict[str, Any]:
    if event["event"] == "resolved":
        return {"routing_key": channel.routing_key, "event_action": "resolve", "dedup_key": event["fingerprint"]}
    body: dict[str, Any] = {
        "routing_key": channel.routing_key,
        "event_action": "trigger",
        "dedup_key": event["fingerprint"],
        "payload": {
            "summary": _cut(f"{_title(event)}: {event['why']}", 1024),
            "source": _subject(event) or "kokanee",
            "severity": _PD_SEVERITY.get(event["severity"], "warning"),
            "timestamp": event["fired_at"],
            "component": event["labels"].get("operation") or event["labels"].get("service", ""),
            "group": event["labels"].get("service", ""),
            "class": event["kind"],
            "custom_details": {
                "rule": event["rule_id"],
                "labels": event["labels"],
                "value": event["value"],
                "why": event["why"],
            },
        },
        "client": "kokanee",
        "client_url": event["links"]["alerts"],
        "links": [{"href": event["links"]["page"], "text": "Open in kokanee"}]
        + [{"href": t["url"], "text": f"Trace {t['trace_id'][:16]}"} for t in (event.get("sample_traces") or [])[:3]],
    }
    return body


def email_message(channel: EmailChannel, events: list[dict[str, Any]], delivery_id: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = channel.from_addr
    msg["To"] = ", ".join(channel.to)
    msg["Subject"] = _title(events[0]) if len(events) == 1 else _many(events, delivery_id)
    msg["Message-ID"] = f"<{delivery_id}@kokanee>"
    parts = []
    for e in events:
        traces = "\n".join(f"  {t['url']}" for t in e.get("sample_traces") or [])
        parts.append(
            f"{_title(e)}\nService: {_subject(e)}\nSeverity: {e['severity']}\nWhy: {e['why']}\n"
            f"Open: {e['links']['page']}\n"
            + (f"Sample traces:\n{traces}\n" if traces else "")
            + (f"\n{e['narrative']}\n" if e.get("narrative") else "")
        )
    msg.set_content("\n\n".join(parts))
    return msg


def _post(client: httpx.Client, url: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
    try:
        r = client.post(url, content=content, headers={"Content-Type": "application/json", **headers})
    except httpx.HTTPError as e:
        raise DeliveryError(f"{type(e).__name__}: {e}") from e
    if r.status_code >= 300:
        raise DeliveryError(f"HTTP {r.status_code}: {r.text[:300]}")
    return r


def send(channel: Channel, events: list[dict[str, Any]], delivery_id: str, client: httpx.Client | None = None) -> str:
    """Sends one message; returns what the receiver said, raises DeliveryError when it did not take it."""
    own = client is None
    http = client or httpx.Client(timeout=_TIMEOUT_S)
    try:
        if isinstance(channel, SlackChannel):
            r = _post(http, channel.url, json.dumps(slack_body(events, delivery_id)).encode(), {})
            return f"HTTP {r.status_code} {r.text[:100]}"
        if isinstance(channel, WebhookChannel):
            body = json.dumps(webhook_body(events, delivery_id)).encode()
            headers = {**channel.headers, "X-Kokanee-Delivery": delivery_id}
            if channel.secret:
                stamp = str(int(time.time()))
                headers["X-Kokanee-Timestamp"] = stamp
                headers["X-Kokanee-Signature"] = sign(channel.secret, stamp, body)
            r = _post(http, channel.url, body, headers)
            return f"HTTP {r.status_code}"
        if isinstance(channel, PagerDutyChannel):
            said = []
            for e in events:  # PagerDuty has no digests: one event each, folded by dedup_key
                r = _post(http, channel.url, json.dumps(pagerduty_body(channel, e)).encode(), {})
                said.append(f"HTTP {r.status_code}")
            return ", ".join(said)
        return _send_email(channel, email_message(channel, events, delivery_id))
    finally:
        if own:
            http.close()


def _send_email(channel: EmailChannel, msg: EmailMessage) -> str:
    try:
        with smtplib.SMTP(channel.host, channel.port, timeout=_TIMEOUT_S) as smtp:
            if channel.starttls:
                smtp.starttls()
            if channel.username:
                smtp.login(channel.username, channel.password or "")
            refused = smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as e:
        raise DeliveryError(f"SMTP {channel.host}:{channel.port}: {e}") from e
    if refused:  # the others have it: sending again would repeat it to them
        return f"SMTP accepted for {len(channel.to) - len(refused)} recipients, refused {', '.join(refused)}"
    return f"SMTP accepted for {len(channel.to)} recipients"
