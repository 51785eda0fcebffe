"""Pulling SQL and JSON out of a model's reply, which may wrap them in prose and code fences."""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)
_SQL_START = re.compile(r"\b(SELECT|WITH)\b", re.IGNORECASE)


def extract_sql(text: str) -> str | None:
    """The first SQL statement in the reply: a ```sql fence, any fence that starts with SELECT or
    WITH, or else the text from the first SELECT/WITH to the end of that paragraph."""
    fences = _FENCE.findall(text)
    for lang, body in fences:
        if lang.lower() in ("sql", "clickhouse") and body.strip():
            return _trim(body)
    for _, body in fences:
        if _SQL_START.match(body.strip()):
            return _trim(body)
    match = _SQL_START.search(text)
    if match is None:
        return None
    return _trim(re.split(r"\n\s*\n", text[match.start() :], maxsplit=1)[0])


def _trim(sql: str) -> str:
    return sql.strip().rstrip(";").strip()


def extract_json(text: str) -> Any | None:
    """The first JSON object or array in the reply (a ```json fence first), or None."""
    for lang, body in _FENCE.findall(text):
        if lang.lower() in ("json", ""):
            try:
                return json.loads(body)
            except ValueError:
                pass
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        return value
    return None
