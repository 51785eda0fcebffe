"""The one spelling of "in the time window" every read uses: [start, end), Unix ns parameters."""

from __future__ import annotations


def within(column: str) -> str:
    """SQL true when `column` (a DateTime64) falls in [{start}, {end}); bind `start`/`end` as ns."""
    return f"{column} >= fromUnixTimestamp64Nano({{start:Int64}}) AND {column} < fromUnixTimestamp64Nano({{end:Int64}})"
