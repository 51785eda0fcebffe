"""What users write: alert rules, notification channels, silences and scheduled reports (API bodies
and the YAML file).

Durations are written the way the rest of kokanee takes them (`90s`, `5m`, `1h`, or seconds as a
number) and kept as written; `seconds()` reads them.
"""

from __future__ import annotations

import fnmatch
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from kokanee.store.timeparse import parse_duration

SEVERITIES = ("info", "warning", "critical")
Severity = Literal["info", "warning", "critical"]
Op = Literal[">", ">=", "<", "<="]
_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


def seconds(duration: str) -> float:
    return parse_duration(duration) / 1e9


def _duration(value: Any, minimum_s: float = 0.0) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = f"{value}s"
    if not isinstance(value, str):
        raise ValueError("must be a duration such as 90s, 5m or 1h")
    try:
        s = seconds(value)
    except ValueError as e:
        raise ValueError(f"{value!r} is not a duration (use e.g. 90s, 5m, 1h)") from e
    if s < minimum_s:
        raise ValueError(f"must be at least {minimum_s:g}s")
    return value.strip()


def compare(value: float, op: str, threshold: float) -> bool:
    return {">": value > threshold, ">=": value >= threshold, "<": value < threshold, "<=": value <= threshold}[op]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _RuleBase(_Strict):
    id: str = Field(pattern=_ID, description="Unique id: letters, digits, '_', '.', '-'.")
    name: str = Field("", max_length=200, description="Shown in notifications; the id when empty.")
    severity: Severity = "warning"
    for_: str = Field("0s", alias="for", description="How long the condition must hold before firing.")
    channels: list[str] = Field(
        default_factory=list, max_length=20, description="Channel ids to notify; empty: every channel."
    )
    enabled: bool = True
    description: str = Field("", max_length=2000)
    labels: dict[str, str] = Field(default_factory=dict, description="Extra labels attached to its alerts.")
    group_by: list[str] | None = Field(
        None,
        description="Alerts of this rule that fire (or resolve) in the same evaluation and share these labels' "
        "values go out as one message ([]: all of them); unset: one message per alert.",
    )

    @field_validator("for_", mode="before")
    @classmethod
    def _for(cls, v: Any) -> str:
        return _duration(v)

    @property
    def title(self) -> str:
        return self.name or self.id


class ThresholdRule(_RuleBase):
    """RED of a service, an operation or a service-graph edge against a threshold."""

    kind: Literal["threshold"] = "threshold"
    signal: Literal["error_rate", "p95_ms", "p99_ms", "request_rate"]
    scope: Literal["service", "operation", "edge"] = "service"
    service: str | None = Field(None, description="Service (scope service/operation), '*' or empty: every one.")
    operation: str | None = Field(None, description="Operation (span name) for scope operation; empty: every one.")
    client: str | None = Field(None, description="Edge client for scope edge; empty: any.")
    server: str | None = Field(None, description="Edge server for scope edge; empty: any.")
    op: Op = ">"
    value: float
    window: str = "5m"
    min_requests: int = Field(
        1, ge=0, description="Series with fewer requests in the window are not judged (except request_rate)."
    )

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, v: Any) -> str:
        return _duration(v, 60)


class BurnWindow(_Strict):
    long: str
    short: str
    factor: float = Field(gt=0)
    severity: Severity

    @field_validator("long", "short", mode="before")
    @classmethod
    def _windows(cls, v: Any) -> str:
        return _duration(v, 60)


# The SRE workbook's multiwindow, multi-burn-rate pairs (page on 2% of a 30-day budget in an hour,
# ticket on 5% in six hours).
DEFAULT_BURN_WINDOWS = [
    BurnWindow(long="1h", short="5m", factor=14.4, severity="critical"),
    BurnWindow(long="6h", short="30m", factor=6.0, severity="warning"),
]


class SloBurnRule(_RuleBase):
    """Error-budget burn rate over pairs of windows: fires when both windows of a pair burn too fast."""

    kind: Literal["slo_burn"] = "slo_burn"
    service: str | None = Field(None, description="Service, '*' or empty: every one.")
    objective: float = Field(0.999, gt=0, lt=1, description="SLO target: share of requests without error.")
    objectives: dict[str, float] = Field(default_factory=dict, description="Per-service targets over `objective`.")
    windows: list[BurnWindow] = Field(default_factory=lambda: list(DEFAULT_BURN_WINDOWS), min_length=1)

    @field_validator("objectives")
    @classmethod
    def _targets(cls, v: dict[str, float]) -> dict[str, float]:
        for service, target in v.items():
            if not 0 < target < 1:
                raise ValueError(f"target of {service!r} must be between 0 and 1 (e.g. 0.999)")
        return v


class AbsenceRule(_RuleBase):
    """A service that sent requests in the lookback and none in the window stopped reporting."""

    kind: Literal["absence"] = "absence"
    service: str | None = Field(None, description="Service, '*' or empty: every one seen in the lookback.")
    window: str = "5m"
    lookback: str = "1h"

    @field_validator("window", "lookback", mode="before")
    @classmethod
    def _windows(cls, v: Any) -> str:
        return _duration(v, 60)

    @model_validator(mode="after")
    def _longer(self) -> AbsenceRule:
        if seconds(self.lookback) <= seconds(self.window):
            raise ValueError("lookback must be longer than window")
        return self


class LogCountRule(_RuleBase):
    """Count of log records matching a minimum severity and body text, per service, over a window."""

    kind: Literal["log_count"] = "log_count"
    service: str | None = None
    min_log_severity: Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"] = "ERROR"
    contains: str = Field("", max_length=500, description="Case-insensitive text the body must contain.")
    op: Op = ">"
    value: float = 0
    window: str = "5m"

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, v: Any) -> str:
        return _duration(v, 60)


class AnomalyRule(_RuleBase):
    """Anomalies found by the detectors (kokanee_anomalies) at or above a severity."""

    kind: Literal["anomaly"] = "anomaly"
    service: str | None = None
    min_anomaly_severity: Severity = "warning"
    window: str = "5m"

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, v: Any) -> str:
        return _duration(v, 60)


class IncidentRule(_RuleBase):
    """Open incidents (kokanee_incidents) at or above a severity: one alert per incident."""

    kind: Literal["incident"] = "incident"
    service: str | None = None
    min_incident_severity: Literal["warning", "critical"] = "warning"


Rule = Annotated[
    ThresholdRule | SloBurnRule | AbsenceRule | LogCountRule | AnomalyRule | IncidentRule,
    Field(discriminator="kind"),
]
RULE_ADAPTER: TypeAdapter[Rule] = TypeAdapter(Rule)
RULE_KINDS = ("threshold", "slo_burn", "absence", "log_count", "anomaly", "incident")


def every(value: str | None) -> bool:
    return value is None or value in ("", "*")


class _ChannelBase(_Strict):
    id: str = Field(pattern=_ID)
    name: str = Field("", max_length=200)
    min_severity: Severity = Field("info", description="Alerts below this severity are not sent here.")
    digest_interval: str | None = Field(
        None, description="Batch alerts below critical into one digest this often (e.g. 10m); off if unset."
    )
    max_per_minute: int = Field(30, ge=1, le=10_000, description="Messages per minute; the rest wait, never drop.")

    @field_validator("digest_interval", mode="before")
    @classmethod
    def _digest(cls, v: Any) -> str | None:
        return None if v in (None, "") else _duration(v, 10)


class SlackChannel(_ChannelBase):
    type: Literal["slack"] = "slack"
    url: str = Field(pattern=r"^https?://", description="Slack incoming-webhook URL.")


class WebhookChannel(_ChannelBase):
    type: Literal["webhook"] = "webhook"
    url: str = Field(pattern=r"^https?://")
    secret: str | None = Field(None, description="Signs the body with HMAC-SHA256 (X-Kokanee-Signature).")
    headers: dict[str, str] = Field(default_factory=dict)


class PagerDutyChannel(_ChannelBase):
    type: Literal["pagerduty"] = "pagerduty"
    routing_key: str = Field(min_length=1, description="Events API v2 integration (routing) key.")
    url: str = Field("https://events.pagerduty.com/v2/enqueue", pattern=r"^https?://")


class EmailChannel(_ChannelBase):
    type: Literal["email"] = "email"
    host: str = Field(min_length=1)
    port: int = Field(25, ge=1, le=65535)
    from_addr: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    to: list[str] = Field(min_length=1)
    username: str | None = None
    password: str | None = None
    starttls: bool = False

    @field_validator("to")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        for address in v:
            if "@" not in address or any(c.isspace() for c in address):
                raise ValueError(f"{address!r} is not an email address")
        return v


Channel = Annotated[SlackChannel | WebhookChannel | PagerDutyChannel | EmailChannel, Field(discriminator="type")]
CHANNEL_ADAPTER: TypeAdapter[Channel] = TypeAdapter(Channel)
SECRET_FIELDS = ("secret", "routing_key", "password")


def masked(channel: Channel) -> dict[str, Any]:
    """A channel as the API shows it: secrets replaced by '***'; Slack's URL holds its secret too."""
    body = channel.model_dump(mode="json")
    for name in SECRET_FIELDS:
        if body.get(name):
            body[name] = "***"
    if body["type"] == "slack":
        body["url"] = body["url"].rsplit("/", 1)[0] + "/***"
    return body


class Silence(_Strict):
    """Alerts whose labels (and `rule`, the rule's id) match every matcher (exact or a `*` glob)
    send nothing until `ends_at`."""

    id: str = Field("", description="Assigned when empty.")
    matchers: dict[str, str] = Field(min_length=1, description="label → value or glob, e.g. {service: cart}.")
    starts_at: int = Field(0, ge=0, description="Unix ns; 0: now.")
    ends_at: int = Field(gt=0, description="Unix ns when it expires.")
    comment: str = Field("", max_length=2000)
    created_by: str = Field("", max_length=200)

    def matches(self, labels: dict[str, str]) -> bool:
        return all(fnmatch.fnmatchcase(labels.get(k, ""), v) for k, v in self.matchers.items())

    def active(self, now_ns: int) -> bool:
        return self.starts_at <= now_ns < self.ends_at


# Reports go to channels that take a formatted message: Slack and webhooks (PagerDuty pages people,
# and the email formatter knows only alerts).
REPORT_CHANNEL_TYPES = ("slack", "webhook")


class Report(_Strict):
    """The architecture review sent on a schedule. Periods end at Monday 1970-01-05 00:00 UTC plus
    `at` plus whole multiples of `every` (so `every: 7d` goes out on Mondays); each report covers the
    `window` before its period's end."""

    id: str = Field(pattern=_ID, description="Unique id: letters, digits, '_', '.', '-'.")
    name: str = Field("", max_length=200, description="Shown in the message; the id when empty.")
    kind: Literal["review"] = "review"
    every: str = Field(description="How often: 1h to 30d, e.g. 24h or 7d.")
    at: str | None = Field(None, description="Time of day (UTC, HH:MM) the periods are shifted by; unset: 00:00.")
    window: str | None = Field(None, description="What one report covers (5m to 30d); unset: `every`.")
    channels: list[str] = Field(min_length=1, max_length=20, description="Slack or webhook channel ids.")
    top: int = Field(10, ge=1, le=50, description="Findings listed in the message, highest score first.")
    enabled: bool = True

    @field_validator("every", mode="before")
    @classmethod
    def _every(cls, v: Any) -> str:
        value = _duration(v, 3600)
        if seconds(value) > 30 * 86_400:
            raise ValueError("must be at most 30d")
        return value

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, v: Any) -> str | None:
        if v in (None, ""):
            return None
        value = _duration(v, 300)
        if seconds(value) > 30 * 86_400:
            raise ValueError("must be at most 30d")
        return value

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, v: Any) -> str | None:
        if v in (None, ""):
            return None
        hours, _, minutes = str(v).partition(":")
        if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and int(hours) < 24 and int(minutes) < 60):
            raise ValueError(f"{v!r} is not a time of day (use HH:MM in UTC, e.g. 09:00)")
        return f"{int(hours):02d}:{minutes}"

    @property
    def title(self) -> str:
        return self.name or self.id

    def window_s(self) -> float:
        return seconds(self.window or self.every)


class AlertsFile(_Strict):
    """The YAML file: `rules`, `channels` and `reports` lists."""

    rules: list[Rule] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)
    reports: list[Report] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> AlertsFile:
        groups: tuple[tuple[str, list[Any]], ...] = (
            ("rule", self.rules), ("channel", self.channels), ("report", self.reports)
        )  # fmt: skip
        for what, items in groups:
            ids = [item.id for item in items]
            dup = sorted({i for i in ids if ids.count(i) > 1})
            if dup:
                raise ValueError(f"{what} ids must be unique; repeated: {', '.join(dup)}")
        return self
