"""The schema on a ClickHouse cluster: each single-node DDL statement rendered for `ON CLUSTER`.

Signal tables, and the tables their materialized views fill, are sharded: a replicated local
table on every shard and a `Distributed` table under the exporter's name in front of them::

    INSERT INTO otel_traces ──► Distributed, cityHash64(TraceId) ──► otel_traces_local (shard n)
                                                                      │ ReplicatedMergeTree {shard}/{replica}
                                      materialized views, shard-local ▼
    SELECT ... FROM kokanee_red_1m ◄── Distributed ◄── kokanee_red_1m_local (ReplicatedAggregatingMergeTree)
         GROUP BY merges the shards' partial rows (sum, sumMap) as it merges parts on one node

A trace's spans, its lookup rows and its logs land on one shard, so reading a trace by id and
pairing its spans stay shard-local. Every other table (settings, alert state, dashboards,
incidents: small, often read with FINAL) is replicated on every node instead: one Keeper path for
all shards, so each node holds all its rows and FINAL sees them all.

`replicated=False` renders the non-replicated equivalent (MergeTree engines, no ON CLUSTER, the
same Distributed tables), which is what runs on chDB in the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LOCAL = "_local"

# Sharded tables and their sharding keys. Deterministic keys only: a replayed WAL batch must split
# into the same blocks per shard for their deduplication tokens to match.
_BY_TRACE = "cityHash64(TraceId)"
_BY_METRIC = "cityHash64(ServiceName, MetricName)"
SHARDED: dict[str, str] = {
    "otel_traces": _BY_TRACE,
    "otel_traces_trace_id_ts": _BY_TRACE,
    # A log follows its trace; logs outside traces spread by service and time, not all onto one shard.
    "otel_logs": "if(TraceId != '', cityHash64(TraceId), cityHash64(ServiceName, Timestamp))",
    "otel_metrics_gauge": _BY_METRIC,
    "otel_metrics_sum": _BY_METRIC,
    "otel_metrics_histogram": _BY_METRIC,
    "otel_metrics_exponential_histogram": _BY_METRIC,
    "otel_metrics_summary": _BY_METRIC,
    "kokanee_trace_keys": _BY_TRACE,
    "kokanee_span_index": _BY_TRACE,
    "kokanee_span_arrivals": "cityHash64(Minute)",
    # Filled shard-locally by views; the key only places rows inserted through the Distributed table.
    "kokanee_red_1m": "cityHash64(ServiceName)",
    "kokanee_red_1h": "cityHash64(ServiceName)",
    "kokanee_service_red_1m": "cityHash64(ServiceName)",
    "kokanee_service_red_1h": "cityHash64(ServiceName)",
    "kokanee_service_edges_1m": "cityHash64(Client, Server)",
    "kokanee_service_edges_1h": "cityHash64(Client, Server)",
}

_SHARD_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
_EVERYWHERE_PATH = "/clickhouse/tables/all/{database}/{table}"

_CREATE_TABLE = re.compile(r"\s*CREATE TABLE (IF NOT EXISTS )?(\w+)\s*(.*)", re.DOTALL)
_ENGINE = re.compile(r"\bENGINE = (\w*MergeTree)(?:\(([^()]*)\))?")
_CREATE_VIEW = re.compile(r"\s*CREATE MATERIALIZED VIEW (IF NOT EXISTS )?(\w+)\s+TO (\w+)\s+AS\b(.*)", re.DOTALL)
_DROP = re.compile(r"\s*DROP (TABLE|VIEW) (IF EXISTS )?(\w+)\s*$")
_TRUNCATE = re.compile(r"\s*TRUNCATE TABLE (IF EXISTS )?(\w+)\s*$")
_ALTER = re.compile(r"\s*ALTER TABLE (\w+)\s+(.*)", re.DOTALL)
_RENAME = re.compile(r"\s*RENAME TABLE (\w+) TO (\w+)\s*$")
_FUNCTION = re.compile(r"\s*CREATE FUNCTION (IF NOT EXISTS )?(\w+)\s+AS\b(.*)", re.DOTALL)
_DDL = re.compile(r"\s*(CREATE|DROP|TRUNCATE|ALTER|RENAME)\b", re.IGNORECASE)


class UnshardedView(ValueError):
    """A materialized view reads a sharded table but writes an unsharded one: name its table in SHARDED."""


def is_ddl(sql: str) -> bool:
    return bool(_DDL.match(sql))


@dataclass(frozen=True)
class Cluster:
    """A ClickHouse cluster by the name in the servers' `remote_servers`, with `{shard}` and
    `{replica}` macros defined on each node."""

    name: str
    replicated: bool = True

    def render(self, sql: str) -> list[str]:
        """The statements that do on the cluster what `sql` does on one node (in order)."""
        for pattern, render in (
            (_CREATE_TABLE, self._table),
            (_CREATE_VIEW, self._view),
            (_DROP, self._drop),
            (_TRUNCATE, self._truncate),
            (_ALTER, self._alter),
            (_RENAME, self._rename),
            (_FUNCTION, self._function),
        ):
            if m := pattern.match(sql):
                return render(m)
        # Anything else (inserts, backfills) runs as written through the Distributed tables; the store
        # sends distributed_product_mode = 'global' for the subqueries in it.
        return [sql]

    @property
    def _on(self) -> str:
        return f" ON CLUSTER {self.name}" if self.replicated else ""

    def _table(self, m: re.Match[str]) -> list[str]:
        exists, name, rest = m.group(1) or "", m.group(2), m.group(3)
        if name not in SHARDED:
            return [f"CREATE TABLE {exists}{name}{self._on} {self._engine(rest, _EVERYWHERE_PATH, everywhere=True)}"]
        local = name + LOCAL
        return [
            f"CREATE TABLE {exists}{local}{self._on} {self._engine(rest, _SHARD_PATH, everywhere=False)}",
            f"CREATE TABLE {exists}{name}{self._on} AS {local}\n"
            f"ENGINE = Distributed({self.name}, currentDatabase(), {local}, {SHARDED[name]})",
        ]

    def _engine(self, rest: str, path: str, everywhere: bool) -> str:
        if not self.replicated:
            return rest.strip()
        # A replica's name is unique in its Keeper path: across the whole cluster for tables on every node.
        replica = "{shard}-{replica}" if everywhere else "{replica}"

        def replicated(e: re.Match[str]) -> str:
            args = f", {e.group(2)}" if e.group(2) else ""
            return f"ENGINE = Replicated{e.group(1)}('{path}', '{replica}'{args})"

        # Replicated tables deduplicate inserts by token within their own window.
        return _ENGINE.sub(replicated, rest.strip(), count=1).replace(
            "non_replicated_deduplication_window", "replicated_deduplication_window"
        )

    def _view(self, m: re.Match[str]) -> list[str]:
        exists, name, target, select = m.group(1) or "", m.group(2), m.group(3), m.group(4)
        sources = {t for t in re.findall(r"\bFROM\s+(\w+)", select) if t in SHARDED}
        if sources and target not in SHARDED:
            raise UnshardedView(f"{name} reads the sharded {', '.join(sorted(sources))} into unsharded {target}")
        if target in SHARDED:
            target += LOCAL
            # The view fires on inserts into the shard's local table and writes the shard's local rollup.
            select = re.sub(r"\bFROM\s+(\w+)\b", lambda f: f"FROM {_local(f.group(1))}", select)
        return [f"CREATE MATERIALIZED VIEW {exists}{name}{self._on} TO {target} AS{select}"]

    def _drop(self, m: re.Match[str]) -> list[str]:
        kind, exists, name = m.group(1), m.group(2) or "", m.group(3)
        sync = " SYNC" if self.replicated else ""  # so a table made again can take its Keeper path at once
        names = [name, name + LOCAL] if name in SHARDED else [name]
        return [f"DROP {kind} {exists}{n}{self._on}{sync}" for n in names]

    def _truncate(self, m: re.Match[str]) -> list[str]:
        return [f"TRUNCATE TABLE {m.group(1) or ''}{_local(m.group(2))}{self._on}"]

    def _alter(self, m: re.Match[str]) -> list[str]:
        name, change = m.group(1), m.group(2)
        if name not in SHARDED:
            return [f"ALTER TABLE {name}{self._on} {change}"]
        statements = [f"ALTER TABLE {name + LOCAL}{self._on} {change}"]
        if re.search(r"\bCOLUMN\b", change):  # the Distributed table's columns follow the local table's
            statements.append(f"ALTER TABLE {name}{self._on} {change}")
        return statements

    def _rename(self, m: re.Match[str]) -> list[str]:
        old, new = m.group(1), m.group(2)
        if old in SHARDED:
            raise ValueError(f"renaming the sharded table {old} would leave its Distributed table behind")
        return [f"RENAME TABLE {old} TO {new}{self._on}"]

    def _function(self, m: re.Match[str]) -> list[str]:
        return [f"CREATE FUNCTION {m.group(1) or ''}{m.group(2)}{self._on} AS{m.group(3)}"]


def _local(table: str) -> str:
    return table + LOCAL if table in SHARDED else table
