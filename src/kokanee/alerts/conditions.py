"""Each rule kind as a query: what every series it watches looks like at a closed minute boundary.

`observe(store, rule, at_s)` returns one Observation per series with data (a service, an operation,
an edge, an incident), saying whether the condition holds and why. Series that return nothing are
not breaching (an alert on one resolves). Windows are whole closed minutes ending at `at_s`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from kokanee.alerts.model import (
    AbsenceRule,
    AnomalyRule,
    IncidentRule,
    LogCountRule,
    Rule,
    SloBurnRule,
    ThresholdRule,
    compare,
    every,
    seconds,
)
from kokanee.store.client import QueryError, Store
from kokanee.store.reads.red import merged_quantiles
from kokanee.store.schema_derived import QUANTILES

_LOG_SEVERITY = {"TRACE": 1, "DEBUG": 5, "INFO": 9, "WARN": 13, "ERROR": 17, "FATAL": 21}


class ConditionError(RuntimeError):
    """A rule cannot be evaluated now (a table it reads is missing); the message says what to do."""


@dataclass(frozen=True)
class Observation:
    labels: dict[str, str]
    value: float
    breaching: bool
    why: str
    severity: str | None = None  # overrides the rule's (burn-rate pairs, incidents)
    extra: dict[str, str] = field(default_factory=dict)


def _minutes(at_s: int, window: str) -> dict[str, object]:
    return {"lo": at_s - int(seconds(window)) // 60 * 60, "hi": at_s}


_IN_WINDOW = "Minute >= toDateTime({lo:Int64}) AND Minute < toDateTime({hi:Int64})"


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def observe(store: Store, rule: Rule, at_s: int) -> list[Observation]:
    try:
        if isinstance(rule, ThresholdRule):
            return _edge(store, rule, at_s) if rule.scope == "edge" else _red(store, rule, at_s)
        if isinstance(rule, SloBurnRule):
            return _burn(store, rule, at_s)
        if isinstance(rule, AbsenceRule):
            return _absence(store, rule, at_s)
        if isinstance(rule, LogCountRule):
            return _logs(store, rule, at_s)
        if isinstance(rule, AnomalyRule):
            return _anomalies(store, rule, at_s)
        return _incidents(store, rule)
    except QueryError as e:
        if "UNKNOWN_TABLE" in str(e) or "doesn't exist" in str(e) or "does not exist" in str(e):
            raise ConditionError(
                f"rule {rule.id!r} ({rule.kind}) reads a table this store does not have yet: {e}. "
                "Anomaly and incident rules need anomaly detection's tables (kokanee_anomalies, kokanee_incidents)."
            ) from e
        raise


def _signal_value(rule: ThresholdRule, requests: int, errors: int, qs: list[float]) -> float | None:
    if rule.signal == "error_rate":
        return errors / requests if requests else None
    if rule.signal == "request_rate":
        return requests / (int(seconds(rule.window)) // 60 * 60)
    q = QUANTILES.index(0.95 if rule.signal == "p95_ms" else 0.99)
    value = float(qs[q]) if qs else math.nan
    return None if math.isnan(value) else value / 1e6


def _describe(rule: ThresholdRule, value: float, subject: str, requests: int, errors: int) -> str:
    what = {
        "error_rate": f"error rate {value:.1%} ({errors} of {requests} requests)",
        "request_rate": f"request rate {_fmt(value)}/s",
        "p95_ms": f"p95 latency {_fmt(value)} ms",
        "p99_ms": f"p99 latency {_fmt(value)} ms",
    }[rule.signal]
    limit = f"{rule.value:.1%}" if rule.signal == "error_rate" else _fmt(rule.value)
    return f"{subject}: {what} over the last {rule.window} ({rule.op} {limit})"


def _red(store: Store, rule: ThresholdRule, at_s: int) -> list[Observation]:
    keys = ["ServiceName"] + (["SpanName"] if rule.scope == "operation" else [])
    where = [_IN_WINDOW]
    params: dict[str, object] = _minutes(at_s, rule.window)
    if not every(rule.service):
        where.append("ServiceName = {service:String}")
        params["service"] = rule.service
    if rule.scope == "operation" and not every(rule.operation):
        where.append("SpanName = {operation:String}")
        params["operation"] = rule.operation
    rows = store.query(
        f"""SELECT {", ".join(keys)}, sum(Requests) AS requests, sum(Errors) AS errors,
        {merged_quantiles("DurationHistogram")} AS qs
        FROM kokanee_red_1m WHERE {" AND ".join(where)} GROUP BY {", ".join(keys)}""",
        parameters=params,
    ).dicts()
    out = []
    rate = rule.signal == "request_rate"  # judged however few requests: "< 1/s" must see a drop to 0
    if rate and rule.scope == "service" and not every(rule.service) and not rows:
        rows = [{"ServiceName": rule.service, "requests": 0, "errors": 0, "qs": []}]
    for row in rows:
        requests, errors = int(row["requests"]), int(row["errors"])
        if requests < rule.min_requests and not rate:
            continue
        value = _signal_value(rule, requests, errors, list(row["qs"] or []))
        if value is None:
            continue
        labels = {"service": row["ServiceName"]}
        subject = row["ServiceName"]
        if rule.scope == "operation":
            labels["operation"] = row["SpanName"]
            subject += f" {row['SpanName']}"
        out.append(
            Observation(
                labels, value, compare(value, rule.op, rule.value), _describe(rule, value, subject, requests, errors)
            )
        )
    return out


def _edge(store: Store, rule: ThresholdRule, at_s: int) -> list[Observation]:
    where = [_IN_WINDOW]
    params: dict[str, object] = _minutes(at_s, rule.window)
    for column, name in (("Client", rule.client), ("Server", rule.server)):
        if not every(name):
            where.append(f"{column} = {{{column.lower()}:String}}")
            params[column.lower()] = name
    rows = store.query(
        f"""SELECT Client, Server, sum(Requests) AS requests, sum(Failures) AS errors,
        {merged_quantiles("ClientHistogram")} AS qs
        FROM kokanee_service_edges_1m WHERE {" AND ".join(where)} GROUP BY Client, Server""",
        parameters=params,
    ).dicts()
    out = []
    for row in rows:
        requests, errors = int(row["requests"]), int(row["errors"])
        if requests < rule.min_requests:
            continue
        value = _signal_value(rule, requests, errors, list(row["qs"] or []))
        if value is None:
            continue
        subject = f"{row['Client']} → {row['Server']}"
        labels = {"service": row["Client"], "client": row["Client"], "server": row["Server"]}
        out.append(
            Observation(
                labels, value, compare(value, rule.op, rule.value), _describe(rule, value, subject, requests, errors)
            )
        )
    return out


def _burn(store: Store, rule: SloBurnRule, at_s: int) -> list[Observation]:
    spans = sorted({int(seconds(w)) // 60 * 60 for pair in rule.windows for w in (pair.long, pair.short)})
    sums = ", ".join(
        f"sumIf(Requests, Minute >= toDateTime({{hi:Int64}} - {s})) AS r{s}, "
        f"sumIf(Errors, Minute >= toDateTime({{hi:Int64}} - {s})) AS e{s}"
        for s in spans
    )
    where = "Minute >= toDateTime({lo:Int64}) AND Minute < toDateTime({hi:Int64})"
    params: dict[str, object] = {"lo": at_s - max(spans), "hi": at_s}
    if not every(rule.service):
        where += " AND ServiceName = {service:String}"
        params["service"] = rule.service
    rows = store.query(
        f"SELECT ServiceName, {sums} FROM kokanee_red_1m WHERE {where} GROUP BY ServiceName", parameters=params
    ).dicts()
    out = []
    for row in rows:
        service = row["ServiceName"]
        budget = 1 - rule.objectives.get(service, rule.objective)

        def burn(window: str, row: dict[str, object] = row, budget: float = budget) -> float:
            s = int(seconds(window)) // 60 * 60
            requests, errors = int(row[f"r{s}"]), int(row[f"e{s}"])  # type: ignore[call-overload]
            return (errors / requests / budget) if requests else 0.0

        if not int(row[f"r{spans[-1]}"]):
            continue
        breaching = [p for p in rule.windows if burn(p.long) > p.factor and burn(p.short) > p.factor]
        worst = max(breaching, key=lambda p: p.factor) if breaching else max(rule.windows, key=lambda p: p.factor)
        value = min(burn(worst.long), burn(worst.short))
        target = rule.objectives.get(service, rule.objective)
        why = (
            f"{service}: error budget of a {target:.3%} SLO burning {_fmt(burn(worst.long))}× over {worst.long} "
            f"and {_fmt(burn(worst.short))}× over {worst.short} (limit {_fmt(worst.factor)}×)"
        )
        out.append(
            Observation({"service": service}, value, bool(breaching), why, worst.severity if breaching else None)
        )
    return out


def _absence(store: Store, rule: AbsenceRule, at_s: int) -> list[Observation]:
    window = int(seconds(rule.window)) // 60 * 60
    params: dict[str, object] = {"lo": at_s - int(seconds(rule.lookback)) // 60 * 60, "hi": at_s, "w": window}
    where = "Minute >= toDateTime({lo:Int64}) AND Minute < toDateTime({hi:Int64})"
    if not every(rule.service):
        where += " AND ServiceName = {service:String}"
        params["service"] = rule.service
    rows = store.query(
        f"""SELECT ServiceName, sumIf(Requests, Minute >= toDateTime({{hi:Int64}} - {{w:Int64}})) AS recent,
        toUnixTimestamp(max(Minute)) AS last FROM kokanee_red_1m WHERE {where} GROUP BY ServiceName""",
        parameters=params,
    ).dicts()
    seen = {row["ServiceName"]: row for row in rows}
    if not every(rule.service) and rule.service not in seen:
        return [
            Observation(
                {"service": str(rule.service)}, 0, True, f"{rule.service}: no requests in the last {rule.lookback}"
            )
        ]
    out = []
    for service, row in seen.items():
        recent = int(row["recent"])
        silent_min = (at_s - int(row["last"]) - 60) // 60
        why = (
            f"{service}: no requests for {silent_min} min (window {rule.window})"
            if not recent
            else f"{service}: reporting"
        )
        out.append(Observation({"service": service}, float(recent), recent == 0, why))
    return out


def _logs(store: Store, rule: LogCountRule, at_s: int) -> list[Observation]:
    params: dict[str, object] = {**_minutes(at_s, rule.window), "sev": _LOG_SEVERITY[rule.min_log_severity]}
    where = [
        "TimestampTime >= toDateTime({lo:Int64}) AND TimestampTime < toDateTime({hi:Int64})",
        "SeverityNumber >= {sev:UInt8}",
    ]
    if not every(rule.service):
        where.append("ServiceName = {service:String}")
        params["service"] = rule.service
    if rule.contains:
        where.append("positionCaseInsensitiveUTF8(Body, {contains:String}) > 0")
        params["contains"] = rule.contains
    rows = store.query(
        f"SELECT ServiceName, count() AS n FROM otel_logs WHERE {' AND '.join(where)} GROUP BY ServiceName",
        parameters=params,
    ).rows
    text = f" containing {rule.contains!r}" if rule.contains else ""
    return [
        Observation(
            {"service": str(service)},
            float(n),
            compare(float(n), rule.op, rule.value),
            f"{service}: {n} {rule.min_log_severity}+ log records{text} in the last {rule.window}"
            f" ({rule.op} {_fmt(rule.value)})",
        )
        for service, n in rows
    ]


_RANK_SQL = "multiIf(Severity = 'critical', 2, Severity = 'warning', 1, 0)"


def _anomalies(store: Store, rule: AnomalyRule, at_s: int) -> list[Observation]:
    params: dict[str, object] = {
        **_minutes(at_s, rule.window),
        "rank": {"info": 0, "warning": 1, "critical": 2}[rule.min_anomaly_severity],
    }
    where = (
        "WindowEnd > toDateTime({lo:Int64}) AND WindowEnd <= toDateTime({hi:Int64})"
        f" AND {_RANK_SQL} >= {{rank:UInt8}}"
    )
    if not every(rule.service):
        where += " AND ServiceName = {service:String}"
        params["service"] = rule.service
    rows = store.query(
        f"""SELECT ServiceName, Signal, count() AS n, max(Score) AS score, max({_RANK_SQL}) AS rank,
        argMax(Operation, Score) AS operation, argMax(Expected, Score) AS expected, argMax(Actual, Score) AS actual,
        argMax(Detector, Score) AS detector, argMax(IncidentId, Score) AS incident
        FROM kokanee_anomalies WHERE {where} GROUP BY ServiceName, Signal""",
        parameters=params,
    ).dicts()
    out = []
    for row in rows:
        op = f" {row['operation']}" if row["operation"] else ""
        why = (
            f"{row['ServiceName']}{op}: {row['Signal']} {_fmt(float(row['actual']))} vs {_fmt(float(row['expected']))} "
            f"expected ({row['detector']}, score {_fmt(float(row['score']))}, {row['n']} anomalies in {rule.window})"
        )
        extra = {"incident_id": str(row["incident"])} if row["incident"] else {}
        severity = ("info", "warning", "critical")[int(row["rank"])]
        out.append(
            Observation(
                {"service": row["ServiceName"], "signal": row["Signal"]},
                float(row["score"]),
                True,
                why,
                severity,
                extra,
            )
        )
    return out


def _incidents(store: Store, rule: IncidentRule) -> list[Observation]:
    params: dict[str, object] = {"rank": 2 if rule.min_incident_severity == "critical" else 1}
    where = f"Status = 'open' AND {_RANK_SQL} >= {{rank:UInt8}}"
    if not every(rule.service):
        where += " AND has(Services, {service:String})"
        params["service"] = rule.service
    rows = store.query(
        f"SELECT IncidentId, Severity, Services, Title FROM kokanee_incidents FINAL WHERE {where} ORDER BY OpenedAt",
        parameters=params,
    ).dicts()
    return [
        Observation(
            {"incident_id": row["IncidentId"], "service": (list(row["Services"]) or [""])[0]},
            1.0,
            True,
            f"incident: {row['Title']} (services {', '.join(row['Services'])})",
            str(row["Severity"]),
            {"incident_id": row["IncidentId"]},
        )
        for row in rows
    ]
