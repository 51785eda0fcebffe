"""An incident's candidate causes: the ranking kept to the services the incident touches.

Another incident at the same time has its own causes, so only the incident's services and the
services they call count (a callee that is quiet itself may be where the trouble starts). Where
the raw spans, logs and metrics show no cause among them, the incident's own anomalies rank them
(`anomaly_scorer`).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from kokanee.analysis.logpatterns import covering_pattern
from kokanee.analysis.rca.anomaly_scorer import rank_from_anomalies
from kokanee.analysis.rca.cause import Cause
from kokanee.analysis.rca.graph import downstream
from kokanee.analysis.rca.params import RcaParams
from kokanee.analysis.rca.ranker import default_baseline, rank_causes
from kokanee.analysis.rca.records import read_edges, read_volume
from kokanee.store.client import Store

# The service graph the walk and the filter use: the hour before the window as well.
_GRAPH_LOOKBACK_NS = 3600 * 1_000_000_000

FROM_ANOMALIES = (
    "The raw spans, logs and metrics show no cause yet (too few, or past their retention): these are "
    "ranked from the incident's anomalies, callees above their callers."
)


# The incident page refreshes every 30 s for each viewer, and its explanation asks again: ranking
# costs about half a second of CPU each time. One answer serves the same question over the same
# spans and logs (late data, or raw data past its retention, changes their counts) for a minute.
_CACHE_TTL_S = 60.0
_CACHE_SIZE = 64
Answer = tuple[list[Cause], str | None]
_cache: weakref.WeakKeyDictionary[Store, OrderedDict[tuple[Any, ...], tuple[float, Answer]]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def incident_causes(
    store: Store, services: Sequence[str], start_ns: int, end_ns: int, anomalies: Sequence[Mapping[str, Any]] = ()
) -> Answer:
    """Causes best first, and a note when they were ranked from `anomalies` (as the API returns them)."""
    key = (tuple(sorted(services)), start_ns, end_ns, len(anomalies), _counts(store, start_ns, end_ns))
    now = time.monotonic()
    with _lock:
        answers = _cache.setdefault(store, OrderedDict())
        hit = answers.get(key)
        if hit is not None and now - hit[0] < _CACHE_TTL_S:
            return hit[1]
    answer = _rank(store, services, start_ns, end_ns, anomalies)
    with _lock:
        answers[key] = (now, answer)
        answers.move_to_end(key)
        while len(answers) > _CACHE_SIZE:
            answers.popitem(last=False)
    return answer


def _counts(store: Store, start_ns: int, end_ns: int) -> tuple[int, int]:
    """Spans and log records in the window and what the ranking reads before it (its baseline, the
    service graph's hour)."""
    before = min(start_ns - _GRAPH_LOOKBACK_NS, default_baseline(start_ns, end_ns, RcaParams())[0])
    return read_volume(store, before, end_ns)


def _rank(
    store: Store, services: Sequence[str], start_ns: int, end_ns: int, anomalies: Sequence[Mapping[str, Any]]
) -> Answer:
    calls = read_edges(store, start_ns - _GRAPH_LOOKBACK_NS, end_ns)
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
