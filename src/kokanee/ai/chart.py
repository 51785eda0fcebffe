"""Choosing a chart from a result's shape: a time column makes a line, one category a bar, a
single row of numbers a stat, anything else a table."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

_TIME_NAMES = ("time", "minute", "hour", "day", "t", "ts", "timestamp", "bucket")


def _numeric(values: list[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present)


def _temporal(name: str, values: list[Any]) -> bool:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, datetime | date) for v in present):
        return True
    return name.lower() in _TIME_NAMES and _numeric(values)


def choose_chart(columns: list[str], rows: list[list[Any]] | list[tuple[Any, ...]]) -> dict[str, Any]:
    """{"kind": line|bar|stat|table, "x": column, "y": [columns], "series": column|None}."""
    if not rows or not columns:
        return {"kind": "table", "x": None, "y": [], "series": None}
    values = {c: [row[i] for row in rows] for i, c in enumerate(columns)}
    times = [c for c in columns if _temporal(c, values[c])]
    numbers = [c for c in columns if c not in times and _numeric(values[c])]
    categories = [c for c in columns if c not in times and c not in numbers]
    if times and numbers:
        series = categories[0] if len(categories) == 1 else None
        return {"kind": "line", "x": times[0], "y": numbers[:4], "series": series}
    if len(rows) == 1 and numbers and len(numbers) <= 4:
        return {"kind": "stat", "x": None, "y": numbers, "series": None}
    if categories and numbers and len(rows) <= 50:
        return {"kind": "bar", "x": categories[0], "y": numbers[:3], "series": None}
    return {"kind": "table", "x": None, "y": [], "series": None}
