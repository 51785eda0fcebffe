"""Node roles: which components one `kokanee serve` process runs.

One process runs everything (`all`, the default). Beyond one machine the parts split along what
scales and what must stay single (docs/deploying.md):

    ingest  ×N  OTLP receivers, write-ahead log, inserter, raw capture; stateless but its WAL
    query   ×M  the API and the UI
    worker  ×1  service-graph deriver, anomaly detector and incidents, alerts and scheduled
                reports, retention: jobs that must run once per store, so exactly one worker runs

Every role serves `/api/v1/health` and `/metrics` on the API port, for orchestrators' probes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["all", "ingest", "query", "worker"]


@dataclass(frozen=True)
class Parts:
    ingest: bool  # OTLP receivers, WAL, pipeline into the store, capture
    api: bool  # the full API and the UI (else only health and metrics)
    jobs: bool  # the singleton periodic jobs


def role_parts(role: Role) -> Parts:
    return Parts(ingest=role in ("all", "ingest"), api=role in ("all", "query"), jobs=role in ("all", "worker"))
