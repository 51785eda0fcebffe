"""Retention of captured segments: policies per signal and tier, a dry run, a schedule, and
ClickHouse table TTLs that agree with the policies.

Policies come from a TOML file (`--capture-retention`)::

    interval_minutes = 60                  # how often the schedule runs; 0 = only on demand
    archive = "s3://cold-bucket/kokanee"   # where archived segments go (any capture URL)

    [[policy]]
    signal = "traces"                      # traces, logs, metrics or "*" (any other)
    tier = "hot"                           # hot (the capture store) or archive
    archive_after_days = 7                 # hot only: move to `archive`
    delete_after_days = 30
    max_total_mib = 10240                  # oldest deleted first while the tier is larger
    age_from = "arrival"                   # or "event": the data's own timestamps

Age counts from arrival unless a policy says `age_from = "event"`, so imported history is
not deleted the moment it lands. A table TTL can only count event time, so only event-time
policies with `delete_after_days` set one (on the signal's otel_* tables); arrival-counted
policies leave the tables alone.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kokanee.capture import index, metrics
from kokanee.capture.objectstore import Locations
from kokanee.capture.segment import SegmentMeta
from kokanee.store.client import Store
from kokanee.ticker import Ticker

log = logging.getLogger(__name__)

DAY_NS = 86_400 * 1_000_000_000
MIB = 1024 * 1024
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "traces": (("otel_traces", "Timestamp"), ("otel_traces_trace_id_ts", "Start"), ("kokanee_trace_keys", "Start")),
    "logs": (("otel_logs", "Timestamp"),),
    "metrics": tuple(
        (f"otel_metrics_{kind}", "TimeUnix")
        for kind in ("gauge", "sum", "histogram", "exponential_histogram", "summary")
    ),
}
_POLICY_KEYS = {"signal", "tier", "archive_after_days", "delete_after_days", "max_total_mib", "age_from"}


class PolicyError(ValueError):
    """A retention file that cannot be used; the message names the problem."""


@dataclass(frozen=True)
class Policy:
    signal: str = "*"
    tier: str = "hot"
    archive_after_days: float | None = None
    delete_after_days: float | None = None
    max_total_mib: float | None = None
    age_from: str = "arrival"


@dataclass(frozen=True)
class Policies:
    policies: tuple[Policy, ...] = ()
    archive: str | None = None
    interval_minutes: float = 60.0

    def to_json(self) -> dict[str, Any]:
        return {
            "archive": self.archive,
            "interval_minutes": self.interval_minutes,
            "policies": [asdict(p) for p in self.policies],
        }

    def for_segment(self, signal: str, tier: str) -> Policy | None:
        exact = [p for p in self.policies if p.tier == tier and p.signal == signal]
        if exact:
            return exact[0]
        other = [p for p in self.policies if p.tier == tier and p.signal == "*"]
        return other[0] if other else None


def parse_policies(data: dict[str, Any], where: str = "retention") -> Policies:
    unknown = set(data) - {"policy", "archive", "interval_minutes"}
    if unknown:
        raise PolicyError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    raw = data.get("policy", [])
    if not isinstance(raw, list):
        raise PolicyError(f"{where}: [[policy]] must be a list of tables")
    policies: list[Policy] = []
    for i, item in enumerate(raw, 1):
        name = f"{where}: policy {i}"
        if not isinstance(item, dict):
            raise PolicyError(f"{name} must be a table")
        bad = set(item) - _POLICY_KEYS
        if bad:
            raise PolicyError(f"{name}: unknown key(s) {', '.join(sorted(bad))}")
        signal, tier, age_from = item.get("signal", "*"), item.get("tier", "hot"), item.get("age_from", "arrival")
        if signal not in ("traces", "logs", "metrics", "*"):
            raise PolicyError(f"{name}: signal must be traces, logs, metrics or *")
        if tier not in ("hot", "archive"):
            raise PolicyError(f"{name}: tier must be hot or archive")
        if age_from not in ("arrival", "event"):
            raise PolicyError(f"{name}: age_from must be arrival or event")
        numbers: dict[str, float | None] = {}
        for key in ("archive_after_days", "delete_after_days", "max_total_mib"):
            value = item.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
                raise PolicyError(f"{name}: {key} must be a number greater than 0")
            numbers[key] = None if value is None else float(value)
        if numbers["archive_after_days"] is not None and tier != "hot":
            raise PolicyError(f"{name}: archive_after_days applies to the hot tier only")
        if not any(v is not None for v in numbers.values()):
            raise PolicyError(f"{name}: set archive_after_days, delete_after_days or max_total_mib")
        policy = Policy(signal, tier, numbers["archive_after_days"], numbers["delete_after_days"],
                        numbers["max_total_mib"], age_from)  # fmt: skip
        if any(p.signal == signal and p.tier == tier for p in policies):
            raise PolicyError(f"{name}: a second policy for {signal} in tier {tier}")
        policies.append(policy)
    archive = data.get("archive")
    if archive is not None and not isinstance(archive, str):
        raise PolicyError(f"{where}: archive must be a URL string")
    if any(p.archive_after_days for p in policies) and not archive:
        raise PolicyError(f'{where}: archive_after_days needs archive = "s3://bucket/prefix" (or a folder)')
    interval = data.get("interval_minutes", 60)
    if isinstance(interval, bool) or not isinstance(interval, int | float) or interval < 0:
        raise PolicyError(f"{where}: interval_minutes must be a number, 0 or more")
    return Policies(tuple(policies), archive, float(interval))


def load_policies(path: Path | None) -> Policies:
    if path is None:
        return Policies()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise PolicyError(f"{path}: {e}") from e
    return parse_policies(data, str(path))


@dataclass
class Action:
    action: str  # delete or archive
    key: str
    signal: str
    tier: str
    bytes: int
    reason: str


@dataclass
class RunResult:
    at: float
    dry_run: bool
    actions: list[Action] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ttl: list[str] = field(default_factory=list)  # table TTL statements (run, or that would run)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "dry_run": self.dry_run,
            "deleted": sum(1 for a in self.actions if a.action == "delete"),
            "archived": sum(1 for a in self.actions if a.action == "archive"),
            "freed_bytes": sum(a.bytes for a in self.actions),
            "actions": [asdict(a) for a in self.actions],
            "errors": self.errors,
            "ttl": self.ttl,
        }


def plan(segments: list[SegmentMeta], policies: Policies, now_ns: int) -> list[Action]:
    """What the policies ask for now: age actions first, then size caps on what is left."""
    actions: list[Action] = []
    survivors: dict[tuple[Policy, str], list[tuple[int, SegmentMeta]]] = {}
    for meta in segments:
        policy = policies.for_segment(meta.signal, meta.tier)
        if policy is None:
            continue
        born = meta.event_end if policy.age_from == "event" and meta.event_end else meta.arrival_end
        age_days = (now_ns - born) / DAY_NS
        if policy.delete_after_days is not None and age_days >= policy.delete_after_days:
            actions.append(Action("delete", meta.key, meta.signal, meta.tier, meta.bytes,
                                  f"older than {policy.delete_after_days:g} days ({age_days:.2f})"))  # fmt: skip
        elif meta.tier == "hot" and policy.archive_after_days is not None and age_days >= policy.archive_after_days:
            actions.append(Action("archive", meta.key, meta.signal, meta.tier, meta.bytes,
                                  f"older than {policy.archive_after_days:g} days ({age_days:.2f})"))  # fmt: skip
        else:
            survivors.setdefault((policy, meta.tier), []).append((born, meta))
    for (policy, tier), kept in survivors.items():
        if policy.max_total_mib is None:
            continue
        cap = int(policy.max_total_mib * MIB)
        total = sum(meta.bytes for _, meta in kept)
        for _, meta in sorted(kept, key=lambda item: (item[0], item[1].key)):
            if total <= cap:
                break
            actions.append(Action("delete", meta.key, meta.signal, tier, meta.bytes,
                                  f"{tier} {policy.signal} over {policy.max_total_mib:g} MiB"))  # fmt: skip
            total -= meta.bytes
    return actions


def ttl_statements(policies: Policies) -> list[str]:
    statements = []
    for signal, tables in TABLES.items():
        days = [
            p.delete_after_days
            for p in policies.policies
            if p.signal in (signal, "*") and p.age_from == "event" and p.delete_after_days is not None
        ]
        if not days:
            continue
        seconds = int(max(days) * 86_400)
        for table, column in tables:
            statements.append(f"ALTER TABLE {table} MODIFY TTL toDateTime({column}) + toIntervalSecond({seconds})")
    return statements


class Retention:
    """Runs the policies on demand (`run`) and on a schedule (a component: start/stop)."""

    def __init__(self, store: Store, locations: Locations, policies: Policies) -> None:
        self.store = store
        self.locations = locations
        self.policies = policies
        self.last_run: RunResult | None = None
        self._lock = threading.Lock()
        interval_s = policies.interval_minutes * 60
        self.ticker = Ticker(
            "kokanee-retention",
            self._tick,
            retry_s=interval_s,
            on_failure=metrics.RETENTION_RUNS.labels("failed").inc,
            first_wait_s=interval_s,
        )

    def run(self, dry_run: bool = False, now_ns: int | None = None) -> RunResult:
        with self._lock:
            result = RunResult(time.time(), dry_run)
            segments = index.find(self.store)
            result.actions = plan(segments, self.policies, now_ns or time.time_ns())
            result.ttl = ttl_statements(self.policies)
            if dry_run:
                return result
            by_key = {m.key: m for m in segments}
            for action in result.actions:
                try:
                    self._apply(action, by_key[action.key])
                except Exception as e:  # one failed segment must not stop the others
                    result.errors.append(f"{action.action} {action.key}: {e}")
            for statement in result.ttl:
                try:
                    self.store.command(statement, settings={"materialize_ttl_after_modify": 0})
                except Exception as e:
                    result.errors.append(f"{statement}: {e}")
            self._record(result)
            self.last_run = result
            return result

    def _apply(self, action: Action, meta: SegmentMeta) -> None:
        source = self.locations.get(meta.location)
        if action.action == "archive":
            assert self.policies.archive is not None
            target = self.locations.get(self.policies.archive)
            target.put(meta.key, source.get(meta.key))
            moved = SegmentMeta(**{**meta.to_json(), "tier": "archive", "location": target.url})
            index.insert(self.store, [moved])
            source.delete(meta.key)
        else:
            source.delete(meta.key)
            index.insert(self.store, [meta], deleted=True)
        metrics.RETENTION_ACTIONS.labels(action.action, meta.signal).inc()
        if meta.tier == "hot":
            metrics.RETENTION_FREED_BYTES.inc(meta.bytes)

    def _record(self, result: RunResult) -> None:
        body = result.to_json()
        metrics.RETENTION_RUNS.labels("errors" if result.errors else "ok").inc()
        self.store.command(
            "INSERT INTO kokanee_retention_runs (At, DryRun, Deleted, Archived, FreedBytes, Errors, Actions) "
            "VALUES (fromUnixTimestamp64Milli({at:Int64}), 0, {d:UInt32}, {a:UInt32}, {f:UInt64}, {e:UInt32}, "
            "{actions:String})",
            parameters={
                "at": int(result.at * 1000), "d": body["deleted"], "a": body["archived"], "f": body["freed_bytes"],
                "e": len(result.errors), "actions": json.dumps(body),
            },
        )  # fmt: skip

    def last(self) -> dict[str, Any] | None:
        """The last real run (this process's, or the latest recorded in the store)."""
        if self.last_run is not None:
            return self.last_run.to_json()
        rows = self.store.query("SELECT Actions FROM kokanee_retention_runs ORDER BY At DESC LIMIT 1").rows
        return json.loads(rows[0][0]) if rows else None

    # -- the schedule -------------------------------------------------------------------------

    def start(self) -> None:
        if not self.policies.policies or self.policies.interval_minutes <= 0:
            return
        self.ticker.start()

    def _tick(self) -> float:
        result = self.run()
        if result.actions or result.errors:
            log.info("retention: %s", {k: v for k, v in result.to_json().items() if k != "actions"})
        return self.policies.interval_minutes * 60

    def stop(self, timeout: float = 10.0) -> None:
        self.ticker.stop(timeout)
