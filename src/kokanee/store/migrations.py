"""Versioned schema migrations, applied in order at start; each runs once per store."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kokanee.api.auth import schema as auth_schema
from kokanee.store import schema, schema_ai, schema_alerts, schema_anomaly, schema_capture, schema_derived
from kokanee.store.client import Store
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
    store.command(schema_derived.QUANTILES_FUNCTION)
    done = applied_versions(store)
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
