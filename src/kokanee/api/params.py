"""Query-string parsing shared by the API routes: time windows and `attr.KEY=VALUE` filters."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from kokanee.api.errors import BadRequest
from kokanee.store.timeparse import now_ns, parse_duration, parse_time

DEFAULT_WINDOW_NS = 3_600_000_000_000  # the last hour


@dataclass(frozen=True)
class Window:
    start_ns: int
    end_ns: int


def window(start: str | None, end: str | None, default_ns: int = DEFAULT_WINDOW_NS) -> Window:
    now = now_ns()
    try:
        end_ns = parse_time(end, now) if end else now
        start_ns = parse_time(start, now) if start else end_ns - default_ns
    except ValueError as e:
        raise BadRequest(str(e)) from e
    if start_ns >= end_ns:
        raise BadRequest("start must be before end")
    return Window(start_ns, end_ns)


def attribute_filters(request: Request) -> dict[str, str]:
    """`?attr.http.route=/cart&attr.user=x` to {"http.route": "/cart", "user": "x"}."""
    filters = {}
    for key, value in request.query_params.multi_items():
        if key.startswith("attr."):
            name = key[len("attr.") :]
            if not name:
                raise BadRequest("attribute filter needs a key: attr.KEY=VALUE")
            filters[name] = value
    return filters


def duration_ms(value: float | None, name: str) -> int | None:
    if value is None:
        return None
    if value < 0:
        raise BadRequest(f"{name} must not be negative")
    return int(value * 1_000_000)


def step(value: str | None, w: Window, points: int = 120) -> int:
    if value:
        try:
            ns = parse_duration(value)
        except ValueError as e:
            raise BadRequest(str(e)) from e
        if ns <= 0:
            raise BadRequest("step must be positive")
    else:
        ns = max(1_000_000_000, (w.end_ns - w.start_ns) // points)
    if (w.end_ns - w.start_ns) // ns > 11_000:
        raise BadRequest("step too small for the window: at most 11,000 points per series")
    return ns


def hex_id(value: str, length: int, what: str) -> str:
    text = value.strip().lower()
    if len(text) != length or any(c not in "0123456789abcdef" for c in text):
        raise BadRequest(f"{what} must be {length} hex characters, got {value[:80]!r}")
    return text
