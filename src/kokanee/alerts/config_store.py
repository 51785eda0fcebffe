"""Rules, channels, silences and scheduled reports in `kokanee_alert_config`, and the YAML file that
can own some of them.

Objects from the file carry Source 'file': the API shows them but refuses to change them (the file
in version control is their truth); the file is re-read when it changes. Kind 'report_state' holds
what the scheduler last sent per report (alerts/reports.py), not user configuration.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from kokanee.alerts.model import (
    CHANNEL_ADAPTER,
    REPORT_CHANNEL_TYPES,
    RULE_ADAPTER,
    AlertsFile,
    Channel,
    Report,
    Rule,
    Silence,
)
from kokanee.store.client import Store

Kind = Literal["rule", "channel", "silence", "report", "report_state"]


class AlertsFileError(ValueError):
    """The alerts file cannot be used; the message names the file and the field."""


class OwnedByFile(RuntimeError):
    """An object defined in the alerts file cannot be changed through the API."""


_version_lock = threading.Lock()
_last_version = 0


def next_version() -> int:
    """Increasing versions for ReplacingMergeTree rows written by this process (ns since the epoch)."""
    global _last_version
    with _version_lock:
        _last_version = max(_last_version + 1, time.time_ns())
        return _last_version


def _where(loc: tuple[Any, ...], data: Any) -> str:
    """`rules[2] (id 'high-errors').value` from a pydantic location; the union's tag is dropped."""
    out = ""
    node = data
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and node.get("id"):
                out += f" (id {node['id']!r})"
            continue
        if (
            i > 0
            and isinstance(loc[i - 1], int)
            and isinstance(node, dict)
            and part == node.get("kind", node.get("type"))
        ):
            continue  # the discriminator's branch name, not a field
        out += f".{part}" if out else str(part)
        node = node.get(part) if isinstance(node, dict) else None
    return out


def format_errors(e: ValidationError, data: Any) -> str:
    return "; ".join(f"{_where(tuple(err['loc']), data) or 'file'}: {err['msg']}" for err in e.errors())


def load_file(path: Path) -> AlertsFile:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise AlertsFileError(f"{path}: cannot read: {e.strerror or e}") from e
    except yaml.YAMLError as e:
        raise AlertsFileError(f"{path}: not valid YAML: {e}") from e
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise AlertsFileError(f"{path}: expected a mapping with `rules` and `channels`, got {type(data).__name__}")
    try:
        parsed = AlertsFile.model_validate(data)
    except ValidationError as e:
        raise AlertsFileError(f"{path}: {format_errors(e, data)}") from e
    missing = sorted({c for r in parsed.rules for c in r.channels} - {c.id for c in parsed.channels})
    if missing:
        raise AlertsFileError(f"{path}: rules name channels the file does not define: {', '.join(missing)}")
    types = {c.id: c.type for c in parsed.channels}
    for i, report in enumerate(parsed.reports):
        problem = report_channel_problem(report, types)
        if problem:
            raise AlertsFileError(f"{path}: reports[{i}] (id {report.id!r}).channels: {problem}")
    return parsed


def report_channel_problem(report: Report, types: Mapping[str, str]) -> str | None:
    """Why a report cannot go to its channels (`types`: channel id → type), or None."""
    missing = [c for c in report.channels if c not in types]
    if missing:
        return f"no channel with id {', '.join(repr(m) for m in missing)}"
    wrong = [f"{c!r} is {types[c]}" for c in report.channels if types[c] not in REPORT_CHANNEL_TYPES]
    if wrong:
        return f"reports go to slack or webhook channels; {', '.join(wrong)}"
    return None


class ConfigStore:
    """Reads and writes each kind; every read is current (FINAL over a small table)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _rows(self, kind: Kind) -> list[dict[str, Any]]:
        return self.store.query(
            "SELECT Id, Body, Source FROM kokanee_alert_config FINAL"
            " WHERE Kind = {k:String} AND Deleted = 0 ORDER BY Id",
            parameters={"k": kind},
        ).dicts()

    def sources(self, kind: Kind) -> dict[str, str]:
        return {row["Id"]: row["Source"] for row in self._rows(kind)}

    def rules(self) -> list[Rule]:
        return [RULE_ADAPTER.validate_python(json.loads(row["Body"])) for row in self._rows("rule")]

    def channels(self) -> list[Channel]:
        return [CHANNEL_ADAPTER.validate_python(json.loads(row["Body"])) for row in self._rows("channel")]

    def silences(self) -> list[Silence]:
        return [Silence.model_validate_json(row["Body"]) for row in self._rows("silence")]

    def reports(self) -> list[Report]:
        return [Report.model_validate_json(row["Body"]) for row in self._rows("report")]

    def report_states(self) -> dict[str, dict[str, Any]]:
        return {row["Id"]: json.loads(row["Body"]) for row in self._rows("report_state")}

    def put(self, kind: Kind, obj_id: str, body: dict[str, Any], source: str = "api", *, api: bool = True) -> None:
        if api and self.sources(kind).get(obj_id) == "file":
            raise OwnedByFile(f"{kind} {obj_id!r} is defined in the alerts file; change it there")
        self.store.command(
            "INSERT INTO kokanee_alert_config (Kind, Id, Body, Source, Deleted, Version)"
            " VALUES ({k:String}, {i:String}, {b:String}, {s:String}, 0, {v:UInt64})",
            parameters={"k": kind, "i": obj_id, "b": json.dumps(body), "s": source, "v": next_version()},
        )

    def delete(self, kind: Kind, obj_id: str, *, api: bool = True) -> bool:
        sources = self.sources(kind)
        if obj_id not in sources:
            return False
        if api and sources[obj_id] == "file":
            raise OwnedByFile(f"{kind} {obj_id!r} is defined in the alerts file; remove it there")
        self.store.command(
            "INSERT INTO kokanee_alert_config (Kind, Id, Body, Source, Deleted, Version)"
            " VALUES ({k:String}, {i:String}, '', {s:String}, 1, {v:UInt64})",
            parameters={"k": kind, "i": obj_id, "s": sources[obj_id], "v": next_version()},
        )
        return True

    def sync_file(self, parsed: AlertsFile) -> None:
        """Makes the file's rules, channels and reports current; ones removed from the file are deleted."""
        groups: list[tuple[Kind, list[Rule] | list[Channel] | list[Report]]] = [
            ("channel", parsed.channels), ("rule", parsed.rules), ("report", parsed.reports)
        ]  # fmt: skip
        for k, items in groups:
            taken = [i.id for i in items if self.sources(k).get(i.id) == "api"]
            if taken:
                raise AlertsFileError(
                    f"{k} ids in the alerts file were also created through the API: {', '.join(taken)}; "
                    "delete them through the API or rename them in the file"
                )
        for k, items in groups:
            sources = self.sources(k)
            wanted = {item.id for item in items}
            for item in items:
                self.put(k, item.id, item.model_dump(mode="json", by_alias=True), "file", api=False)
            for obj_id, source in sources.items():
                if source == "file" and obj_id not in wanted:
                    self.delete(k, obj_id, api=False)
