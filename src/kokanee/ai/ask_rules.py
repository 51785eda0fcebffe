"""The questions kokanee answers without a model: rate, errors and latency percentiles by service
or operation over a window (optionally over time), the slowest operations, the top errors, and
what changed against the window before. Each becomes plain SQL over kokanee's tables, run through
the same sandbox as anyone's SQL, so the answer shows the query that produced it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_MINUTE = 60
_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hr": 3600, "hour": 3600,
          "d": 86400, "day": 86400, "w": 604800, "week": 604800}  # fmt: skip
_WINDOW = re.compile(
    r"\b(?:last|past|previous|in the last|over the last)\s+(\d+)?\s*"
    r"(seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|[smhdw])\b",
    re.IGNORECASE,
)
_PERCENTILE = re.compile(r"\bp(50|90|95|99)\b|\b(50|90|95|99)(?:th)? percentile\b|\bmedian\b", re.IGNORECASE)
_Q_INDEX = {"50": 1, "90": 2, "95": 3, "99": 4}


@dataclass(frozen=True)
class Plan:
    """A question understood: what to compute, over which window, grouped how, filtered to whom."""

    intent: str  # rate | errors | latency | slowest | top_errors | changed
    window_s: int
    window_text: str
    by: str  # service | operation
    service: str | None
    over_time: bool
    percentile: str  # 50 | 90 | 95 | 99
    sql: str
    summary: str


def _window(question: str) -> tuple[int, str]:
    match = _WINDOW.search(question)
    if match:
        count = int(match.group(1) or 1)
        unit = match.group(2).lower().rstrip("s") or "s"
        seconds = count * _UNITS.get(unit, _UNITS.get(unit[:3], 60))
        word = {1: "second", 60: "minute", 3600: "hour", 86400: "day", 604800: "week"}[_UNITS.get(unit, 60)]
        return max(_MINUTE, seconds), f"the last {count} {word}{'s' if count != 1 else ''}"
    if re.search(r"\btoday\b", question, re.IGNORECASE):
        return 86400, "the last 24 hours"
    return 3600, "the last hour"


def _intent(q: str) -> str | None:
    if re.search(r"\bwhat(?:'s| has| have)? changed\b|\bchanges?\b.*\b(?:since|compared|vs)\b|\bregress", q):
        return "changed"
    if re.search(
        r"\b(?:top|most common|most frequent|which|what)\b.*\b(?:errors?|exceptions?|failures?)\b", q
    ) and not (re.search(r"\berror rate\b", q)):
        return "top_errors"
    if re.search(r"\bslowest\b|\bslow (?:operations|endpoints|requests|calls)\b", q):
        return "slowest"
    if _PERCENTILE.search(q) or re.search(r"\blatency|latencies|percentile|response time|duration|how slow\b", q):
        return "latency"
    if re.search(r"\berror|errors|failing|failures?|failed\b", q):
        return "errors"
    if re.search(
        r"\brate\b|throughput|requests? per|\brps\b|\bqps\b|traffic|how many requests|request count|\bload\b", q
    ):
        return "rate"
    return None


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def plan(question: str, services: Iterable[str], now_s: int) -> Plan | None:
    """The plan for a question this parser understands, or None."""
    q = question.lower()
    intent = _intent(q)
    if intent is None:
        return None
    window_s, window_text = _window(question)
    by = "operation" if re.search(r"\b(?:operations?|endpoints?|routes?|spans?|apis?)\b", q) else "service"
    if intent == "slowest":
        by = "operation"
    known = sorted(services, key=len, reverse=True)
    service = next((s for s in known if re.search(rf"(?<![\w-]){re.escape(s.lower())}(?![\w-])", q)), None)
    over_time = bool(re.search(r"over time|per minute|trend|timeline|time series|by minute|by hour", q))
    pct = _PERCENTILE.search(q)
    percentile = "50" if pct and "median" in pct.group(0).lower() else (pct.group(1) or pct.group(2)) if pct else "95"
    hi = (now_s // _MINUTE + 1) * _MINUTE  # through the current (partial) minute
    lo = hi - window_s
    sql = _sql(intent, lo, hi, by, service, over_time, percentile, window_s)
    scope = f" for {service}" if service else ""
    summary = {
        "rate": f"request rate by {by}{scope} over {window_text}",
        "errors": f"errors and error rate by {by}{scope} over {window_text}",
        "latency": f"p{percentile} latency by {by}{scope} over {window_text}",
        "slowest": f"slowest operations by p{percentile}{scope} over {window_text}",
        "top_errors": f"most frequent errors{scope} over {window_text}",
        "changed": f"what changed per service{scope}: {window_text} against the {window_text[9:]} before",
    }[intent]
    return Plan(intent, window_s, window_text, by, service, over_time, percentile, sql, summary)


def _sql(intent: str, lo: int, hi: int, by: str, service: str | None, over_time: bool, pct: str, window_s: int) -> str:
    minutes = f"Minute >= toDateTime({lo}) AND Minute < toDateTime({hi})"
    where = minutes + (f" AND ServiceName = {_quote(service)}" if service else "")
    group = ["ServiceName AS service"] + (["SpanName AS operation"] if by == "operation" else [])
    keys = ["service"] + (["operation"] if by == "operation" else [])
    q_merge = "kokanee_quantiles(sumMap(DurationHistogram))"
    step = max(_MINUTE, window_s // 60 // _MINUTE * _MINUTE)
    if over_time and intent in ("rate", "errors", "latency"):
        group = [f"toStartOfInterval(Minute, INTERVAL {step} SECOND) AS time", *group]
        keys = ["time", *keys]
        span_s = step
    else:
        span_s = window_s
    cols = ", ".join(group)
    keys_sql = ", ".join(keys)
    if intent == "rate":
        return (f"SELECT {cols}, sum(Requests) AS requests, round(sum(Requests) / {span_s}, 3) AS rate_per_s "
                f"FROM kokanee_red_1m WHERE {where} GROUP BY {keys_sql} "
                f"ORDER BY {'time, ' if over_time else ''}requests DESC LIMIT 200")  # fmt: skip
    if intent == "errors":
        return (f"SELECT {cols}, sum(Requests) AS requests, sum(Errors) AS errors, "
                f"round(sum(Errors) / sum(Requests), 4) AS error_rate "
                f"FROM kokanee_red_1m WHERE {where} GROUP BY {keys_sql} "
                f"ORDER BY {'time, ' if over_time else ''}error_rate DESC, errors DESC LIMIT 200")  # fmt: skip
    if intent in ("latency", "slowest"):
        limit = 10 if intent == "slowest" else 200
        quantile_cols = ", ".join(f"round({q_merge}[{i}] / 1e6, 2) AS p{p}_ms" for p, i in _Q_INDEX.items())
        return (f"SELECT {cols}, sum(Requests) AS requests, {quantile_cols} "
                f"FROM kokanee_red_1m WHERE {where} GROUP BY {keys_sql} "
                f"ORDER BY {'time, ' if over_time else ''}p{pct}_ms DESC LIMIT {limit}")  # fmt: skip
    if intent == "top_errors":
        span_where = (f"StatusCode = 'Error' AND Timestamp >= toDateTime64({lo}, 9) "
                      f"AND Timestamp < toDateTime64({hi}, 9)"
                      + (f" AND ServiceName = {_quote(service)}" if service else ""))  # fmt: skip
        return (f"SELECT ServiceName AS service, SpanName AS operation, StatusMessage AS message, count() AS errors, "
                f"any(TraceId) AS sample_trace_id FROM otel_traces WHERE {span_where} "
                f"GROUP BY service, operation, message ORDER BY errors DESC LIMIT 20")  # fmt: skip
    # changed: this window against the one before it, per service
    before = lo - window_s
    now = f"Minute >= toDateTime({lo})"
    scope = f"Minute >= toDateTime({before}) AND Minute < toDateTime({hi})" + (
        f" AND ServiceName = {_quote(service)}" if service else ""
    )
    return (f"SELECT ServiceName AS service, sumIf(Requests, {now}) AS requests_now, "
            f"sumIf(Requests, NOT ({now})) AS requests_before, "
            f"round(sumIf(Errors, {now}) / greatest(requests_now, 1), 4) AS error_rate_now, "
            f"round(sumIf(Errors, NOT ({now})) / greatest(requests_before, 1), 4) AS error_rate_before, "
            f"round(kokanee_quantiles(sumMapIf(DurationHistogram, {now}))[3] / 1e6, 2) AS p95_ms_now, "
            f"round(kokanee_quantiles(sumMapIf(DurationHistogram, NOT ({now})))[3] / 1e6, 2) "
            f"AS p95_ms_before "
            f"FROM kokanee_red_1m WHERE {scope} GROUP BY service "
            f"ORDER BY abs(error_rate_now - error_rate_before) + abs(p95_ms_now - p95_ms_before) / 1000 DESC "
            f"LIMIT 50")  # fmt: skip
