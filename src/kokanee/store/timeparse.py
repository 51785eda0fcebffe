"""Times as users write them (RFC 3339, Unix nanoseconds, relative like `now-15m`) to Unix nanoseconds."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

_RELATIVE = re.compile(r"^now(?:-(\d+)(ns|us|ms|s|m|h|d|w))?$")
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
_MAX_NS = 9_223_372_036_854_775_807  # DateTime64(9) ends in 2262


def now_ns() -> int:
    return time.time_ns()


def parse_time(value: str, now: int | None = None) -> int:
    """Unix nanoseconds from RFC 3339 (`2026-11-22T10:00:00Z`), an integer (s, ms or ns by
    magnitude: a Unix time in seconds has 10 digits, in ns 19), or `now`/`now-1h`."""
    text = value.strip()
    if not text:
        raise ValueError("empty time")
    current = now if now is not None else now_ns()
    match = _RELATIVE.match(text)
    if match:
        amount, unit = match.groups()
        return current - (int(amount) * _UNIT_NS[unit] if amount else 0)
    if text.isdigit():
        number = int(text)
        if number < 10**11:
            return number * 1_000_000_000
        if number < 10**14:
            return number * 1_000_000
        if number > _MAX_NS:
            raise ValueError(f"time {text} is out of range")
        return number
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as e:
        raise ValueError(f"time {value!r} is neither RFC 3339, Unix nanoseconds, nor now-<n><unit>") from e
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # datetime keeps microseconds; RFC 3339 fractions beyond them are read separately.
    fraction = re.search(r"\.(\d+)", text)
    nanos = int((fraction.group(1) + "000000000")[:9]) if fraction else 0
    return int(parsed.replace(microsecond=0).timestamp()) * 1_000_000_000 + nanos


def parse_duration(value: str) -> int:
    """Nanoseconds from `15m`, `1h`, `30s`, `500ms`, or a bare number of seconds."""
    text = value.strip()
    if text.replace(".", "", 1).isdigit():
        return int(float(text) * 1_000_000_000)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h|d|w)", text)
    if not match:
        raise ValueError(f"duration {value!r} must look like 30s, 15m, 1h or 7d")
    return int(float(match.group(1)) * _UNIT_NS[match.group(2)])


def rfc3339(ns: int) -> str:
    """Nanosecond-precise RFC 3339 in UTC."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{nanos:09d}Z"
