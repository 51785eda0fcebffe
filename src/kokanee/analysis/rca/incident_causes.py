"""An incident's candidate causes: the ranking kept to the services the incident touches.

Another incident at the same time has its own causes, so only the incident's services and the
services they call count (a callee that is quiet itself may be where the trouble starts). Where
the raw spans, logs and metrics show no cause among them, the incident's own anomalies rank them
(`anomaly_scorer`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kokanee.analysis.logpatterns import covering_pattern
from kokanee.analysis.rca.anomaly_scorer import rank_from_anomalies
from kokanee.analysis.rca.cause import Cause
from kokanee.analysis.rca.graph import downstream, edges_from_store
from kokanee.analysis.rca.ranker import rank_causes
from kokanee.store.client import Store

# The service graph the walk and the filter use: the hour before the window as well.
_GRAPH_LOOKBACK_NS = 3600 * 1_000_000_000

FROM_ANOMALIES = (
    "The raw spans, logs and metrics show no cause yet (too few, or past their retention): these are "
    "ranked from the incident's anomalies, callees above their callers."
)


def incident_causes(
    store: Store, services: Sequence[str], start_ns: int, end_ns: int, anomalies: Sequence[Mapping[str, Any]] = ()
) -> tuple[list[Cause], str | None]:
    """Causes best first, and a note when they were ranked from `anomalies` (as the API returns them)."""
    calls = edges_from_store(store, start_ns - _GRAPH_LOOKBACK_NS, end_ns)
    related = set(services).union(*(downstream(calls, s) for s in services))
    causes = [c for c in rank_causes(store, start_ns, end_ns) if c.service in related]
    if causes or not anomalies:
        _link_patterns(store, causes, start_ns - _GRAPH_LOOKBACK_NS, end_ns)
        return causes, None
    return rank_from_anomalies(anomalies, calls), FROM_ANOMALIES


def _link_patterns(store: Store, causes: list[Cause], start_ns: int, end_ns: int) -> None:
    """Each log template among the evidence gets `pattern_id`, the stored log pattern that holds its
    lines (a vanished one has them only before the window), where one does."""
    lo, hi = start_ns // 1_000_000_000, -(-end_ns // 1_000_000_000)
    for cause in causes:
        for e in cause.evidence:
            if e.get("kind") == "log_template" and e.get("template"):
                found = covering_pattern(store, cause.service, str(e["template"]), lo, hi)
                if found is not None:
                    e["pattern_id"] = found
