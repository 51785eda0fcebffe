"""Versioned schema migrations, applied in order at start; each runs once per store."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kokanee.store import schema, schema_derived
from kokanee.store.client import Store

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
