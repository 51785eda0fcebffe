"""Alerting over HTTP: rules, channels, silences, scheduled reports, what is firing, notification
history, and a rule's dry run over the last hour. Objects from the alerts file are read-only here (409)."""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import ValidationError

from kokanee.ai.router import Router
from kokanee.alerts.channels import DeliveryError, send
from kokanee.alerts.config_store import ConfigStore, OwnedByFile, format_errors, report_channel_problem
from kokanee.alerts.evaluator import backtest
from kokanee.alerts.model import CHANNEL_ADAPTER, RULE_ADAPTER, Channel, Report, Rule, Silence, masked, seconds
from kokanee.alerts.reports import period_end_s
from kokanee.alerts.service import Alerting
from kokanee.api.auth.access import requires
from kokanee.api.auth.roles import Role
from kokanee.api.errors import ApiError, BadRequest, NotFound
from kokanee.store.timeparse import rfc3339

router = APIRouter(prefix="/api/v1", tags=["alerts"])


class Conflict(ApiError):
    status = 409


class Unavailable(ApiError):
    status = 503


def _alerting(request: Request) -> Alerting:
    alerting: Alerting | None = getattr(request.app.state, "alerting", None)
    if alerting is None:
        raise Unavailable("alerting is not running on this server")
    return alerting


def _config(request: Request) -> ConfigStore:
    return _alerting(request).config


def _rule(body: Any) -> Rule:
    try:
        return RULE_ADAPTER.validate_python(body)
    except ValidationError as e:
        raise BadRequest(format_errors(e, body)) from e


def _channel(body: Any) -> Channel:
    try:
        return CHANNEL_ADAPTER.validate_python(body)
    except ValidationError as e:
        raise BadRequest(format_errors(e, body)) from e


def _rule_json(rule: Rule, source: str) -> dict[str, Any]:
    return {**rule.model_dump(mode="json", by_alias=True), "source": source}


def _check_channels(config: ConfigStore, rule: Rule) -> None:
    missing = sorted(set(rule.channels) - {c.id for c in config.channels()})
    if missing:
        raise BadRequest(f"channels: no channel with id {', '.join(repr(m) for m in missing)}")


@router.get("/alert-rules")
def list_rules(request: Request) -> dict[str, Any]:
    alerting = _alerting(request)
    sources = alerting.config.sources("rule")
    rules = []
    for rule in alerting.config.rules():
        status = alerting.evaluator.status.get(rule.id)
        rules.append(
            _rule_json(rule, sources.get(rule.id, "api"))
            | {
                "status": {"error": status.error, "series": status.series, "last_eval_ms": status.last_eval_ms}
                if status
                else None
            }
        )
    return {
        "rules": rules,
        "file": str(alerting.alerts_file) if alerting.alerts_file else None,
        "file_error": alerting.file_error or None,
    }


@router.post("/alert-rules", status_code=201, dependencies=[requires(Role.editor)])
def create_rule(request: Request, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """A rule (JSON as in the alerts file); 409 when the id exists."""
    config = _config(request)
    rule = _rule(body)
    if rule.id in config.sources("rule"):
        raise Conflict(f"rule {rule.id!r} exists; PUT /api/v1/alert-rules/{rule.id} changes it")
    _check_channels(config, rule)
    config.put("rule", rule.id, rule.model_dump(mode="json", by_alias=True))
    return _rule_json(rule, "api")


@router.post("/alert-rules/test", dependencies=[requires(Role.editor)])
def test_new_rule(request: Request, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """What a rule (not yet saved) would have done over the last hour."""
    alerting = _alerting(request)
    return backtest(alerting.store, _rule(body), time.time_ns(), alerting.settle_s)


@router.get("/alert-rules/{rule_id}")
def get_rule(request: Request, rule_id: str) -> dict[str, Any]:
    config = _config(request)
    for rule in config.rules():
        if rule.id == rule_id:
            return _rule_json(rule, config.sources("rule").get(rule_id, "api"))
    raise NotFound(f"no rule {rule_id!r}")


@router.put("/alert-rules/{rule_id}", dependencies=[requires(Role.editor)])
def put_rule(request: Request, rule_id: str, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    config = _config(request)
    rule = _rule({**body, "id": rule_id} if "id" not in body else body)
    if rule.id != rule_id:
        raise BadRequest(f"id: the body says {rule.id!r} but the path says {rule_id!r}")
    _check_channels(config, rule)
    try:
        config.put("rule", rule.id, rule.model_dump(mode="json", by_alias=True))
    except OwnedByFile as e:
        raise Conflict(str(e)) from e
    return _rule_json(rule, "api")


@router.delete("/alert-rules/{rule_id}", dependencies=[requires(Role.editor)])
def delete_rule(request: Request, rule_id: str) -> dict[str, Any]:
    try:
        if not _config(request).delete("rule", rule_id):
            raise NotFound(f"no rule {rule_id!r}")
    except OwnedByFile as e:
        raise Conflict(str(e)) from e
    return {"deleted": rule_id}


@router.post("/alert-rules/{rule_id}/test", dependencies=[requires(Role.editor)])
def test_rule(request: Request, rule_id: str) -> dict[str, Any]:
    """What a saved rule would have done over the last hour, evaluated at every closed minute."""
    alerting = _alerting(request)
    for rule in alerting.config.rules():
        if rule.id == rule_id:
            return backtest(alerting.store, rule, time.time_ns(), alerting.settle_s)
    raise NotFound(f"no rule {rule_id!r}")


@router.get("/channels")
def list_channels(request: Request) -> dict[str, Any]:
    config = _config(request)
    sources = config.sources("channel")
    return {"channels": [masked(c) | {"source": sources.get(c.id, "api")} for c in config.channels()]}


@router.post("/channels", status_code=201, dependencies=[requires(Role.admin)])
def create_channel(request: Request, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    config = _config(request)
    channel = _channel(body)
    if channel.id in config.sources("channel"):
        raise Conflict(f"channel {channel.id!r} exists; PUT /api/v1/channels/{channel.id} changes it")
    config.put("channel", channel.id, channel.model_dump(mode="json"))
    return masked(channel) | {"source": "api"}


@router.put("/channels/{channel_id}", dependencies=[requires(Role.admin)])
def put_channel(request: Request, channel_id: str, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    config = _config(request)
    channel = _channel({**body, "id": channel_id} if "id" not in body else body)
    if channel.id != channel_id:
        raise BadRequest(f"id: the body says {channel.id!r} but the path says {channel_id!r}")
    try:
        config.put("channel", channel.id, channel.model_dump(mode="json"))
    except OwnedByFile as e:
        raise Conflict(str(e)) from e
    return masked(channel) | {"source": "api"}


@router.delete("/channels/{channel_id}", dependencies=[requires(Role.admin)])
def delete_channel(request: Request, channel_id: str) -> dict[str, Any]:
    try:
        if not _config(request).delete("channel", channel_id):
            raise NotFound(f"no channel {channel_id!r}")
    except OwnedByFile as e:
        raise Conflict(str(e)) from e
    return {"deleted": channel_id}


@router.post("/channels/{channel_id}/test", dependencies=[requires(Role.editor)])
def test_channel(request: Request, channel_id: str) -> dict[str, Any]:
    """Sends a test message to the channel now (not through the outbox) and says what it answered."""
    config = _config(request)
    channel = next((c for c in config.channels() if c.id == channel_id), None)
    if channel is None:
        raise NotFound(f"no channel {channel_id!r}")
    alerting = _alerting(request)
    base = alerting.evaluator.public_url
    event = {
        "event": "firing", "rule_id": "kokanee-test", "rule_name": "kokanee test notification", "kind": "test",
        "severity": "info", "labels": {"service": "kokanee"}, "fingerprint": "test-" + channel.id, "episode": 0,
        "value": None, "why": f"a test message for channel {channel.id!r}, sent from the API",
        "started_at": rfc3339(time.time_ns()), "fired_at": rfc3339(time.time_ns()), "resolved_at": None,
        "links": {"page": f"{base}/alerts", "alerts": f"{base}/alerts"}, "sample_traces": [],
        "incident_id": None, "narrative": None,
    }  # fmt: skip
    try:
        detail = send(channel, [event], f"test-{secrets.token_hex(8)}")
    except DeliveryError as e:
        return {"ok": False, "detail": str(e)}
    return {"ok": True, "detail": detail}


@router.get("/alerts")
def alerts(request: Request, state: str = "active") -> dict[str, Any]:
    """Pending and firing alerts (`state=all` adds resolved ones), most severe first."""
    if state not in ("active", "all"):
        raise BadRequest("state must be 'active' or 'all'")
    return {"alerts": _alerting(request).evaluator.alerts(include_resolved=state == "all")}


@router.get("/silences")
def list_silences(request: Request, expired: bool = False) -> dict[str, Any]:
    now = time.time_ns()
    silences = [s for s in _config(request).silences() if expired or s.ends_at > now]
    return {"silences": [s.model_dump() | {"active": s.active(now)} for s in silences]}


@router.post("/silences", status_code=201, dependencies=[requires(Role.editor)])
def create_silence(request: Request, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """`{"matchers": {"service": "cart"}, "ends_at": ..., "comment": ...}`; times as Unix ns."""
    try:
        silence = Silence.model_validate(body)
    except ValidationError as e:
        raise BadRequest(format_errors(e, body)) from e
    now = time.time_ns()
    silence = silence.model_copy(
        update={"id": silence.id or secrets.token_hex(8), "starts_at": silence.starts_at or now}
    )
    if silence.ends_at <= silence.starts_at:
        raise BadRequest("ends_at: must be after starts_at (and in the future)")
    _config(request).put("silence", silence.id, silence.model_dump())
    return silence.model_dump() | {"active": silence.active(now)}


@router.delete("/silences/{silence_id}", dependencies=[requires(Role.editor)])
def expire_silence(request: Request, silence_id: str) -> dict[str, Any]:
    if not _config(request).delete("silence", silence_id):
        raise NotFound(f"no silence {silence_id!r}")
    return {"expired": silence_id}


@router.get("/notifications")
def notifications(
    request: Request, fingerprint: str | None = None, rule_id: str | None = None, limit: int = 200
) -> dict[str, Any]:
    """Notification history, newest first: each with its channel, status and delivery attempts."""
    if not 1 <= limit <= 5000:
        raise BadRequest("limit must be between 1 and 5000")
    outbox = _alerting(request).outbox
    return {
        "notifications": outbox.history(fingerprint=fingerprint, rule_id=rule_id, limit=limit),
        "pending": outbox.pending_count(),
    }


def _report(body: Any, report_id: str | None = None) -> Report:
    if report_id is not None and isinstance(body, dict) and "id" not in body:
        body = {**body, "id": report_id}
    try:
        report = Report.model_validate(body)
    except ValidationError as e:
        raise BadRequest(format_errors(e, body)) from e
    if report_id is not None and report.id != report_id:
        raise BadRequest(f"id: the body says {report.id!r} but the path says {report_id!r}")
    return report


def _check_report_channels(config: ConfigStore, report: Report) -> None:
    problem = report_channel_problem(report, {c.id: c.type for c in config.channels()})
    if problem:
        raise BadRequest(f"channels: {problem}")


def _report_json(report: Report, source: str, state: dict[str, Any] | None) -> dict[str, Any]:
    next_s = period_end_s(report, time.time()) + int(seconds(report.every))
    sent_ms = int(state["sent_ms"]) if state else 0
    return report.model_dump(mode="json") | {
        "source": source,
        "last_sent": rfc3339(sent_ms * 1_000_000) if sent_ms else None,
        "last_notification_id": (state or {}).get("notification_id") or None,
        "next_at": rfc3339(next_s * 1_000_000_000) if report.enabled else None,
    }


def _find_report(config: ConfigStore, report_id: str) -> Report:
    report = next((r for r in config.reports() if r.id == report_id), None)
    if report is None:
        raise NotFound(f"no report {report_id!r}")
    return report


@router.get("/reports")
def list_reports(request: Request) -> dict[str, Any]:
    """Scheduled review reports with when each was last sent and when the next goes out."""
    config = _config(request)
    sources, states = config.sources("report"), config.report_states()
    return {"reports": [_report_json(r, sources.get(r.id, "api"), states.get(r.id)) for r in config.reports()]}


@router.post("/reports", status_code=201, dependencies=[requires(Role.editor)])
def create_report(request: Request, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """A report (JSON as in the alerts file's `reports`); 409 when the id exists."""
    config = _config(request)
    report = _report(body)
    if report.id in config.sources("report"):
        raise Conflict(f"report {report.id!r} exists; PUT /api/v1/reports/{report.id} changes it")
    _check_report_channels(config, report)
    config.put("report", report.id, report.model_dump(mode="json"))
    return _report_json(report, "api", None)


@router.get("/reports/{report_id}")
def get_report(request: Request, report_id: str) -> dict[str, Any]:
    config = _config(request)
    report = _find_report(config, report_id)
    return _report_json(report, config.sources("report").get(report_id, "api"), config.report_states().get(report_id))


@router.put("/reports/{report_id}", dependencies=[requires(Role.editor)])
def put_report(request: Request, report_id: str, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    config = _config(request)
    report = _report(body, report_id)
    _check_report_channels(config, report)
    try:
        config.put("report", report.id, report.model_dump(mode="json"))
    except OwnedByFile as e:
        raise Conflict(str(e)) from e
    return _report_json(report, "api", config.report_states().get(report_id))


@router.delete("/reports/{report_id}", dependencies=[requires(Role.editor)])
def delete_report(request: Request, report_id: str) -> dict[str, Any]:
    config = _config(request)
    try:
        if not config.delete("report", report_id):
            raise NotFound(f"no report {report_id!r}")
    except OwnedByFile as e:
        raise Conflict(str(e)) from e
    config.delete("report_state", report_id, api=False)  # a new report of this id starts afresh
    return {"deleted": report_id}


@router.post("/reports/{report_id}/send", dependencies=[requires(Role.editor)])
def send_report_now(request: Request, report_id: str) -> dict[str, Any]:
    """Builds the report over the window ending now and queues it in the outbox for its channels
    (delivered, retried and recorded like any notification); the schedule is unchanged."""
    alerting = _alerting(request)
    report = _find_report(alerting.config, report_id)
    router_ai: Router | None = getattr(request.app.state, "ai_router", None)
    nid, queued = alerting.reports.send_now(report, time.time_ns(), router_ai)
    if not queued:
        raise BadRequest(f"channels: none of {', '.join(report.channels)} is a slack or webhook channel")
    alerting.wake()
    return {"notification_id": nid, "channels": queued}
