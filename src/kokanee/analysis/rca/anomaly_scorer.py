"""Causes ranked from an incident's own anomalies, for when the raw telemetry shows nothing.

The detector judges the derived per-minute series (RED per service, operation and edge), which
outlive the raw spans and logs and count every request; the ranker reads the raw signals, and over
an incident's first minute, or raw data past its retention, may find too little to say anything.
Then the incident's anomalies are the evidence: a service scores its strongest anomaly (the
detector's robust z), and the same dependency walk as `rank_causes` puts a callee above the callers
its failure shows up in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kokanee.analysis.rca import graph
from kokanee.analysis.rca.cause import Cause, KindScores
from kokanee.analysis.rca.params import RcaParams
from kokanee.analysis.rca.ranker import combine

# Evidence kept per service: its strongest series, one anomaly each.
_EVIDENCE_PER_SERVICE = 5


def score_anomalies(anomalies: Sequence[Mapping[str, Any]]) -> KindScores:
    """`anomalies` as the API returns them (service, operation, series, expected, actual, score)."""
    kind = KindScores("anomaly")
    strongest: dict[tuple[str, str], Mapping[str, Any]] = {}
    for a in anomalies:
        key = (str(a["service"]), str(a["series"]))
        if key not in strongest or abs(a["score"] or 0.0) > abs(strongest[key]["score"] or 0.0):
            strongest[key] = a
    by_service: dict[str, list[Mapping[str, Any]]] = {}
    for (service, _), a in strongest.items():
        by_service.setdefault(service, []).append(a)
    for service, found in by_service.items():
        found.sort(key=lambda a: -abs(a["score"] or 0.0))
        for a in found[:_EVIDENCE_PER_SERVICE]:
            kind.add(service, abs(a["score"] or 0.0), {
                "kind": "anomaly", "series": a["series"], "time_unix_nano": a["time_unix_nano"],
                "detail": f"{a['series']}: {_value(a['actual'])} against {_value(a['expected'])} expected "
                          f"(score {abs(a['score'] or 0.0):.1f})",
            }, operation=str(a.get("operation") or "") or None)  # fmt: skip
    return kind


def _value(v: float | None) -> str:
    return "?" if v is None else f"{v:.4g}"


def rank_from_anomalies(
    anomalies: Sequence[Mapping[str, Any]], calls: graph.Calls, params: RcaParams | None = None
) -> list[Cause]:
    """Candidate causes from anomalies alone, best first."""
    return combine([score_anomalies(anomalies)], calls, params or RcaParams())
