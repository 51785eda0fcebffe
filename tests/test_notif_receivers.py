"""Loopback receivers for notifications, and the channels' payloads checked against them.

Slack and PagerDuty cannot be reached from here: `SlackStandIn` and `PagerDutyStandIn` are STAND-INS
that check each request against the documented formats (Slack incoming webhooks with Block Kit;
PagerDuty Events API v2) and answer as those services do. Mail goes to a real SMTP server on
loopback (aiosmtpd). The generic webhook receiver verifies the HMAC signature as a user would.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from kokanee.alerts.channels import DeliveryError, send
from kokanee.alerts.model import CHANNEL_ADAPTER
from tests.server import free_port


class Receiver:
    """An HTTP server on 127.0.0.1 that records JSON bodies; `failing` makes it answer 503."""

    status_ok = 200

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []  # accepted: {"headers", "body", "raw"}
        self.refused = 0
        self.failing = False
        self.problems: list[str] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, reply = outer.handle(headers, raw)
                data = reply.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, headers: dict[str, str], raw: bytes) -> tuple[int, str]:
        with self._lock:
            if self.failing:
                self.refused += 1
                return 503, "down for maintenance"
            try:
                body = json.loads(raw)
            except ValueError:
                self.problems.append("body is not JSON")
                return 400, "invalid_payload"
            problems = self.check(headers, raw, body)
            if problems:
                self.problems.extend(problems)
                return 400, "; ".join(problems)
            self.requests.append({"headers": headers, "body": body, "raw": raw})
            return self.status_ok, self.reply(body)

    def check(self, headers: dict[str, str], raw: bytes, body: Any) -> list[str]:
        return []

    def reply(self, body: Any) -> str:
        return "ok"

    def bodies(self) -> list[Any]:
        with self._lock:
            return [r["body"] for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SlackStandIn(Receiver):
    """STAND-IN for a Slack incoming webhook: checks the Block Kit limits Slack documents
    (https://api.slack.com/reference/block-kit/blocks) and answers `ok` like Slack."""

    def check(self, headers: dict[str, str], raw: bytes, body: Any) -> list[str]:
        p: list[str] = []
        if not headers.get("content-type", "").startswith("application/json"):
            p.append("content-type must be application/json")
        if not isinstance(body.get("text"), str) or not body["text"]:
            p.append("text (the notification fallback) is required with blocks")
        blocks = body.get("blocks")
        if not isinstance(blocks, list) or not 1 <= len(blocks) <= 50:
            return [*p, "blocks must be a list of 1 to 50 blocks"]
        for i, b in enumerate(blocks):
            kind = b.get("type")
            if kind == "header":
                t = b.get("text", {})
                if t.get("type") != "plain_text" or not 0 < len(t.get("text", "")) <= 150:
                    p.append(f"blocks[{i}]: header text must be plain_text of 1-150 characters")
            elif kind == "section":
                if "text" not in b and "fields" not in b:
                    p.append(f"blocks[{i}]: section needs text or fields")
                if "text" in b and (
                    b["text"].get("type") not in ("mrkdwn", "plain_text") or len(b["text"]["text"]) > 3000
                ):
                    p.append(f"blocks[{i}]: section text must be mrkdwn/plain_text up to 3000 characters")
                fields = b.get("fields", [])
                if len(fields) > 10 or any(len(f.get("text", "")) > 2000 for f in fields):
                    p.append(f"blocks[{i}]: at most 10 fields of up to 2000 characters")
            elif kind == "context":
                if not 1 <= len(b.get("elements", [])) <= 10:
                    p.append(f"blocks[{i}]: context needs 1-10 elements")
            elif kind == "actions":
                elements = b.get("elements", [])
                if not 1 <= len(elements) <= 25 or len(b.get("block_id", "")) > 255:
                    p.append(f"blocks[{i}]: actions need 1-25 elements and a block_id up to 255 characters")
                for e in elements:
                    if (
                        e.get("type") != "button"
                        or e["text"].get("type") != "plain_text"
                        or len(e["text"]["text"]) > 75
                    ):
                        p.append(f"blocks[{i}]: buttons need plain_text up to 75 characters")
                    if not str(e.get("url", "")).startswith("http") or len(e["url"]) > 3000:
                        p.append(f"blocks[{i}]: button url must be an http(s) URL up to 3000 characters")
            else:
                p.append(f"blocks[{i}]: unexpected block type {kind!r}")
        return p


class PagerDutyStandIn(Receiver):
    """STAND-IN for PagerDuty's Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/):
    checks required fields and values, answers 202 with `status: success` and the dedup_key."""

    status_ok = 202

    def check(self, headers: dict[str, str], raw: bytes, body: Any) -> list[str]:
        p: list[str] = []
        if not body.get("routing_key"):
            p.append("routing_key is required")
        action = body.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            p.append("event_action must be trigger, acknowledge or resolve")
        if len(body.get("dedup_key", "")) > 255:
            p.append("dedup_key is at most 255 characters")
        if action in ("acknowledge", "resolve") and not body.get("dedup_key"):
            p.append(f"{action} needs the dedup_key of the trigger")
        if action == "trigger":
            payload = body.get("payload") or {}
            for name in ("summary", "source", "severity"):
                if not payload.get(name):
                    p.append(f"payload.{name} is required")
            if len(payload.get("summary", "")) > 1024:
                p.append("payload.summary is at most 1024 characters")
            if payload.get("severity") not in ("critical", "error", "warning", "info"):
                p.append("payload.severity must be critical, error, warning or info")
            for link in body.get("links", []):
                if not str(link.get("href", "")).startswith("http"):
                    p.append("links[].href must be a URL")
        return p

    def reply(self, body: Any) -> str:
        return json.dumps({"status": "success", "message": "Event processed", "dedup_key": body.get("dedup_key")})


class WebhookReceiver(Receiver):
    """A user's webhook endpoint that verifies kokanee's HMAC signature before accepting."""

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        super().__init__()

    def check(self, headers: dict[str, str], raw: bytes, body: Any) -> list[str]:
        if self.secret is None:
            return []
        stamp, signature = headers.get("x-kokanee-timestamp", ""), headers.get("x-kokanee-signature", "")
        expected = "sha256=" + hmac.new(self.secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return ["bad signature"]
        if abs(time.time() - int(stamp)) > 300:
            return ["stale timestamp"]
        return []


@pytest.fixture
def receivers() -> Iterator[Callable[..., Any]]:
    made: list[Receiver] = []

    def make(cls: type[Receiver] = Receiver, *args: Any) -> Any:
        r = cls(*args)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def _event(event: str = "firing", **over: Any) -> dict[str, Any]:
    base = {
        "event": event, "rule_id": "payment-errors", "rule_name": "Payment errors", "kind": "threshold",
        "severity": "critical", "labels": {"service": "payment"}, "fingerprint": "0123456789abcdef", "episode": 1,
        "value": 0.5, "why": "payment: error rate 50.0% (30 of 60 requests) over the last 1m (> 10.0%)",
        "started_at": "2026-11-22T08:00:00Z", "fired_at": "2026-11-22T08:00:00Z", "resolved_at": None,
        "links": {"page": "http://kokanee.example/services/payment", "alerts": "http://kokanee.example/alerts"},
        "sample_traces": [{"trace_id": "ab" * 16, "url": f"http://kokanee.example/traces/{'ab' * 16}"}],
        "incident_id": None, "narrative": None,
    }  # fmt: skip
    return base | over


def test_slack_message_is_valid_block_kit_with_service_severity_why_and_links(receivers: Any) -> None:
    slack = receivers(SlackStandIn)
    channel = CHANNEL_ADAPTER.validate_python({"id": "s", "type": "slack", "url": slack.url})
    send(channel, [_event()], "d1")
    send(channel, [_event(), _event("resolved", severity="warning")], "digest-d2")
    send(channel, [_event(), _event(labels={"service": "cart"})], "group-d3")  # one rule's alerts together
    assert not slack.problems
    first = json.dumps(slack.bodies()[0])
    for expected in ("payment", "critical", "error rate 50.0%", "http://kokanee.example/services/payment", "ab" * 8):
        assert expected in first
    assert "digest: 2 alert events" in slack.bodies()[1]["text"]
    assert slack.bodies()[2]["text"] == "[CRITICAL] Payment errors: 2 alerts"


def test_slack_refusal_is_a_delivery_error(receivers: Any) -> None:
    slack = receivers(SlackStandIn)
    channel = CHANNEL_ADAPTER.validate_python({"id": "s", "type": "slack", "url": slack.url})
    slack.failing = True
    with pytest.raises(DeliveryError, match="HTTP 503"):
        send(channel, [_event()], "d1")


def test_webhook_body_is_signed_with_hmac_sha256(receivers: Any) -> None:
    good = receivers(WebhookReceiver, "s3cret")
    channel = CHANNEL_ADAPTER.validate_python({"id": "w", "type": "webhook", "url": good.url, "secret": "s3cret"})
    send(channel, [_event()], "delivery-1")
    body = good.bodies()[0]
    assert body["version"] == "1" and body["id"] == "delivery-1" and body["type"] == "firing"
    assert body["alert"]["labels"] == {"service": "payment"}
    assert good.requests[0]["headers"]["x-kokanee-delivery"] == "delivery-1"
    wrong = CHANNEL_ADAPTER.validate_python({"id": "w2", "type": "webhook", "url": good.url, "secret": "other"})
    with pytest.raises(DeliveryError, match="HTTP 400"):
        send(wrong, [_event()], "delivery-2")
    assert good.problems == ["bad signature"]


def test_pagerduty_trigger_and_resolve_share_the_dedup_key(receivers: Any) -> None:
    pd = receivers(PagerDutyStandIn)
    channel = CHANNEL_ADAPTER.validate_python({"id": "p", "type": "pagerduty", "routing_key": "R0UT1NG", "url": pd.url})
    send(channel, [_event()], "d1")
    send(channel, [_event("resolved")], "d2")
    assert not pd.problems
    trigger, resolve = pd.bodies()
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == "0123456789abcdef"
    assert trigger["payload"]["severity"] == "critical" and "error rate" in trigger["payload"]["summary"]


def test_email_goes_through_a_real_smtp_server() -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    got: list[Any] = []

    class Keep(Message):  # type: ignore[misc]
        def handle_message(self, message: Any) -> None:
            got.append(message)

    port = free_port()
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        channel = CHANNEL_ADAPTER.validate_python(
            {"id": "e", "type": "email", "host": "127.0.0.1", "port": port,
             "from_addr": "kokanee@example.com", "to": ["oncall@example.com"]}
        )  # fmt: skip
        send(channel, [_event()], "d1")
    finally:
        controller.stop()
    assert len(got) == 1
    mail = got[0]
    assert mail["To"] == "oncall@example.com" and mail["Subject"] == "[CRITICAL] Payment errors"
    assert mail["Message-ID"] == "<d1@kokanee>"
    assert "error rate 50.0%" in mail.get_payload() and "http://kokanee.example/services/payment" in mail.get_payload()


def test_email_to_a_closed_port_is_a_delivery_error() -> None:
    channel = CHANNEL_ADAPTER.validate_python(
        {"id": "e", "type": "email", "host": "127.0.0.1", "port": free_port(), "from_addr": "a@b.c", "to": ["x@y.z"]}
    )
    with pytest.raises(DeliveryError, match="SMTP"):
        send(channel, [_event()], "d1")
