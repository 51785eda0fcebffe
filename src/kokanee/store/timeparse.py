"""The one grammar for times and durations, used by every command, the API and config files.

Durations: a bare number of seconds (`90`, `0.5`) or number-unit parts (`90s`, `5m`, `1h30m`,
`500ms`, `2d`); units ns, us, ms, s, m, h, d, w. Times: `now`, `now-15m` (or `now+5m`), RFC 3339
(`2026-11-22T10:00:00Z`; no zone means UTC), or a Unix time whose unit is read from its size (10
digits: seconds, 13: milliseconds, 16: microseconds, 19: nanoseconds).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from decimal import Decimal

_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
}
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_PARTS = re.compile(r"(?:\d+(?:\.\d+)?(?:ns|us|ms|s|m|h|d|w))+")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h|d|w)")
_RELATIVE = re.compile(r"now\s*(?:([-+])\s*(.+))?")
_MAX_NS = 9_223_372_036_854_775_807  # DateTime64(9) ends in 2262
DURATION_HELP = "e.g. 90, 90s, 5m, 1h30m, 500ms"
TIME_HELP = "now, now-15m, RFC 3339 or Unix s/ms/ns"


def now_ns() -> int:
    return time.time_ns()


def parse_duration(value: str | float) -> int:
    """Nanoseconds in a duration (see the module's grammar); ValueError naming the text otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
        if seconds < 0:
            raise ValueError(f"duration {value!r} must not be negative")
        return int(seconds * 1_000_000_000)
    text = str(value).strip()
    if _NUMBER.fullmatch(text):
        return int(Decimal(text) * 1_000_000_000)
    if not _PARTS.fullmatch(text):
        raise ValueError(f"{value!r} is not a duration: use {DURATION_HELP}")
    return sum(int(Decimal(amount) * _UNIT_NS[unit]) for amount, unit in _PART.findall(text))


def duration_seconds(value: str | float) -> float:
    """Seconds in a duration (the grammar above): what CLI options and config fields in seconds take."""
    return parse_duration(value) / 1e9


def positive_seconds(value: str | float) -> float:
    """Like duration_seconds, refusing zero (a run or an interval of no time)."""
    seconds = duration_seconds(value)
    if seconds <= 0:
        raise ValueError(f"duration {value!r} must be more than zero ({DURATION_HELP})")
    return seconds


def parse_time(value: str, now: int | None = None) -> int:
    """Unix nanoseconds from a time (see the module's grammar); ValueError naming the text otherwise."""
    text = value.strip()
    if not text:
        raise ValueError(f"{value!r} is not a time: use {TIME_HELP}")
    relative = _RELATIVE.fullmatch(text)
    if relative:
        current = now if now is not None else now_ns()
        sign, amount = relative.groups()
        if amount is None:
            return current
        try:
            offset = parse_duration(amount)
        except ValueError as e:
            raise ValueError(f"time {value!r}: {e}") from e
        return current - offset if sign == "-" else current + offset
    if _NUMBER.fullmatch(text):
        return _unix(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as e:
        raise ValueError(f"{value!r} is not a time: use {TIME_HELP}") from e
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # datetime keeps microseconds; RFC 3339 fractions beyond them are read separately.
    fraction = re.search(r"T.*\.(\d+)", text)
    nanos = int((fraction.group(1) + "000000000")[:9]) if fraction else 0
    return int(parsed.replace(microsecond=0).timestamp()) * 1_000_000_000 + nanos


def _unix(text: str) -> int:
    """A Unix time in s, ms, us or ns, told apart by size (until 5138, seconds have at most 11 digits)."""
    whole = int(text.split(".")[0])
    if whole < 10**11:
        return int(Decimal(text) * 1_000_000_000)
    if "." in text:
        raise ValueError(f"time {text!r}: only Unix seconds take a fraction")
    if whole < 10**14:
        return whole * 1_000_000
    if whole < 10**17:
        return whole * 1_000
    if whole > _MAX_NS:
        raise ValueError(f"time {text} is out of range")
    return whole


def check_time(value: str) -> str:
    """`value` itself when it is a time in the grammar (for options passed on to the API as written)."""
    parse_time(value)
    return value


def rfc3339(ns: int) -> str:
    """Nanosecond-precise RFC 3339 in UTC."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{nanos:09d}Z"
