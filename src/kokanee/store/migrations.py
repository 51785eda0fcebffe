"""Versioned schema migrations, applied in order at start; each runs once per store.

Several kokanee processes may start at once against one server or cluster (N ingest nodes, a
worker, query nodes). One of them migrates while the others wait: the lock is a table, since
ClickHouse creates a table exactly once (a second CREATE fails, also through ON CLUSTER's queue),
which needs no coordinator beyond the store itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from clickhouse_connect.driver.exceptions import DatabaseError

from kokanee.api.auth import schema as auth_schema
from kokanee.store import schema, schema_ai, schema_alerts, schema_anomaly, schema_capture, schema_derived
from kokanee.store.client import Store
from kokanee.store.cluster import Cluster
from kokanee.store.schema_models import STATEMENTS as MODEL_STATEMENTS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "exporter schema: traces, trace-id lookup, logs, metrics",
        (
            schema.TRACES,
            schema.TRACE_ID_TS,
            schema.TRACE_ID_TS_MV,
            schema.LOGS,
            schema.METRICS_GAUGE,
            schema.METRICS_SUM,
            schema.METRICS_HISTOGRAM,
            schema.METRICS_EXP_HISTOGRAM,
            schema.METRICS_SUMMARY,
        ),
    ),
    Migration(2, "fault labels", (schema.FAULT_LABELS,)),
    Migration(
        3,
        "derived at ingest: RED per minute, span index for the service graph, edges, derive state",
        (
            schema_derived.RED_1M,
            schema_derived.RED_1M_MV,
            schema_derived.RED_1H,
            schema_derived.RED_1H_MV,
            schema_derived.SPAN_INDEX,
            schema_derived.SPAN_INDEX_MV,
            schema_derived.SERVICE_EDGES_1M,
            schema_derived.SERVICE_EDGES_1H,
            schema_derived.SERVICE_EDGES_1H_MV,
            schema_derived.DERIVE_STATE,
        ),
    ),
    Migration(
        4,
        "raw capture: segment index, sessions, retention runs",
        (schema_capture.SEGMENTS, schema_capture.SESSIONS, schema_capture.RETENTION_RUNS),
    ),
    Migration(5, "alerting: rules, channels, silences, alert states, outbox, deliveries", schema_alerts.STATEMENTS),
    Migration(
        6,
        "anomaly detection: anomalies, incidents, log templates, drain state, cause feedback",
        (
            schema_anomaly.ANOMALIES,
            schema_anomaly.INCIDENTS,
            schema_anomaly.LOG_TEMPLATES,
            schema_anomaly.DRAIN_STATE,
            schema_anomaly.CAUSE_FEEDBACK,
        ),
    ),
    Migration(7, "AI layer: model interactions, dashboards", schema_ai.STATEMENTS),
    Migration(8, "learned detectors: versioned models, feedback on what they flagged", MODEL_STATEMENTS),
    Migration(
        9,
        "latency as fixed log-bucket histograms in the RED and edge tables (rebuilt: RED from the spans, "
        "edges by the deriver from the span index)",
        (
            "DROP VIEW IF EXISTS kokanee_red_1h_mv",
            "DROP VIEW IF EXISTS kokanee_red_1m_mv",
            "DROP VIEW IF EXISTS kokanee_service_edges_1h_mv",
            "DROP TABLE IF EXISTS kokanee_red_1h",
            "DROP TABLE IF EXISTS kokanee_red_1m",
            "DROP TABLE IF EXISTS kokanee_service_edges_1h",
            "DROP TABLE IF EXISTS kokanee_service_edges_1m",
            schema_derived.RED_1M,
            schema_derived.RED_1H,
            schema_derived.RED_1H_MV,
            schema_derived.SERVICE_EDGES_1M,
            schema_derived.SERVICE_EDGES_1H,
            schema_derived.SERVICE_EDGES_1H_MV,
            schema_derived.RED_1M_BACKFILL,
            schema_derived.RED_1M_MV,
            "TRUNCATE TABLE IF EXISTS kokanee_derive_state",
        ),
    ),
    Migration(10, "AI settings saved from the UI", (schema_ai.SETTINGS,)),
    Migration(
        11,
        "RED per service (minute and hour rollups of kokanee_red_1m); trace keys for reading a trace by id",
        (
            schema_derived.SERVICE_RED_1M,
            schema_derived.SERVICE_RED_1H,
            schema_derived.SERVICE_RED_1H_MV,
            schema_derived.SERVICE_RED_1M_BACKFILL,
            schema_derived.SERVICE_RED_1M_MV,
            schema_derived.TRACE_KEYS,
            schema_derived.TRACE_KEYS_BACKFILL,
            schema_derived.TRACE_KEYS_MV,
        ),
    ),
    Migration(
        12,
        "otel_traces: a compressed block per granule (parts written from now on, and merges)",
        (f"ALTER TABLE otel_traces MODIFY SETTING {schema.TRACES_BLOCKS}",),
    ),
    Migration(13, "users and API tokens (sign-in sessions among them)", auth_schema.STATEMENTS),
    Migration(
        14,
        "codecs measured by bench/storage.py on spans and their derived tables (parts written from now on, and merges)",
        (
            schema.recode("otel_traces", schema.TRACES_CODECS),
            schema.recode("otel_traces_trace_id_ts", schema.TRACE_ID_TS_CODECS),
            schema.recode("kokanee_trace_keys", schema_derived.TRACE_KEYS_CODECS),
            schema.recode("kokanee_span_index", schema_derived.SPAN_INDEX_CODECS),
        ),
    ),
    Migration(
        15,
        "the service-graph deriver reads otel_traces: the span index (~26 B a span for a day) gives way to "
        "a table of which minutes received spans, and when",
        (
            schema_derived.SPAN_ARRIVALS,
            schema_derived.SPAN_ARRIVALS_BACKFILL,
            schema_derived.SPAN_ARRIVALS_MV,
            "DROP VIEW IF EXISTS kokanee_span_index_mv",
            "DROP TABLE IF EXISTS kokanee_span_index",
        ),
    ),
)

_LEDGER = """
CREATE TABLE IF NOT EXISTS kokanee_schema_migrations (
    Version UInt32,
    Name String,
    AppliedAt DateTime64(3) DEFAULT now64(3)
) ENGINE = ReplacingMergeTree ORDER BY Version
"""


def applied_versions(store: Store) -> set[int]:
    return {int(row[0]) for row in store.query("SELECT Version FROM kokanee_schema_migrations FINAL").rows}


def migrate(store: Store, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Applies the migrations the store lacks; returns their versions.

    Statements are idempotent (IF NOT EXISTS), so a crash between a statement and the ledger
    row only means the migration runs again.
    """
    store.command(_LEDGER)
    _create_function(store)
    if all(m.version in applied_versions(store) for m in migrations):
        return []
    with schema_lock(store):
        return _apply(store, migrations)


def _apply(store: Store, migrations: tuple[Migration, ...]) -> list[int]:
    done = applied_versions(store)  # read again under the lock: another process may have finished
    applied = []
    for migration in migrations:
        if migration.version in done:
            continue
        for statement in migration.statements:
            store.command(statement)
        store.command(
            "INSERT INTO kokanee_schema_migrations (Version, Name) VALUES ({v:UInt32}, {n:String})",
            parameters={"v": migration.version, "n": migration.name},
        )
        log.info("applied migration %d: %s", migration.version, migration.name)
        applied.append(migration.version)
    return applied


def _create_function(store: Store) -> None:
    """kokanee_quantiles is for people writing SQL; a user without the CREATE FUNCTION grant goes on without it
    (SQL functions are server-wide, not per database)."""
    try:
        store.command(schema_derived.QUANTILES_FUNCTION)
    except DatabaseError as e:
        log.warning("cannot create the SQL function kokanee_quantiles (%s); queries that use it will fail", e)


SCHEMA_LOCK = "kokanee_schema_lock"
LOCK_LEASE_S = 600.0  # a holder that died mid-migration blocks the others this long at most


@contextlib.contextmanager
def schema_lock(store: Store, lease_s: float = LOCK_LEASE_S, poll_s: float = 0.5) -> Iterator[None]:
    """Held by one process of all those sharing a store. The table's comment names its holder and
    the end of its lease; a lock whose lease ended is taken over (its holder is gone). An embedded
    store has one process by construction and takes no lock, so a crash leaves nothing behind."""
    if store.embedded:
        yield
        return
    holder = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
    waited_for = ""
    while True:
        until = time.time() + lease_s
        try:
            comment = f"{holder} until {until:.0f}".replace("\\", "").replace("'", "")
            store.command(f"CREATE TABLE {SCHEMA_LOCK} (Holder String) ENGINE = Memory COMMENT '{comment}'")
            break
        except DatabaseError as e:
            if "TABLE_ALREADY_EXISTS" not in str(e) and "already exists" not in str(e):
                raise
        other, other_until = _lock_holder(store)
        if other and other_until < time.time():
            log.warning("taking over the schema lock of %s, whose lease ended", other)
            with contextlib.suppress(DatabaseError):
                store.command(f"RENAME TABLE {SCHEMA_LOCK} TO {SCHEMA_LOCK}_stale_{uuid.uuid4().hex[:8]}")
            continue
        if other != waited_for:
            log.info("waiting for %s to finish migrating the schema", other or "another process")
            waited_for = other
        time.sleep(poll_s)
    try:
        yield
    finally:
        store.command(f"DROP TABLE IF EXISTS {SCHEMA_LOCK}")


def _lock_holder(store: Store) -> tuple[str, float]:
    rows = store.query(
        "SELECT comment FROM system.tables WHERE database = currentDatabase() AND name = {n:String}",
        parameters={"n": SCHEMA_LOCK},
    ).rows
    holder, _, until = str(rows[0][0]).rpartition(" until ") if rows else ("", "", "0")
    try:
        return holder, float(until)
    except ValueError:
        return holder, 0.0


def schema_statements(cluster: Cluster | None = None, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[str]:
    """Every statement `migrate` runs on an empty store, in order (rendered for `cluster`)."""
    statements = [_LEDGER, schema_derived.QUANTILES_FUNCTION]
    statements += [s for m in migrations for s in m.statements]
    if cluster is None:
        return [s.strip() for s in statements]
    return [r.strip() for s in statements for r in cluster.render(s)]
