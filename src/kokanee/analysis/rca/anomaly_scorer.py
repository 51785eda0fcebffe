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
    for a in sorted(anomalies, key=_z):
        strongest[(str(a["service"]), str(a["series"]))] = a
    kept: dict[str, int] = {}
    for (service, _), a in sorted(strongest.items(), key=lambda item: -_z(item[1])):
        kept[service] = kept.get(service, 0) + 1
        if kept[service] > _EVIDENCE_PER_SERVICE:
            continue
        kind.add(service, _z(a), {
            "kind": "anomaly", "series": a["series"], "time_unix_nano": a["time_unix_nano"],
            "detail": f"{a['series']}: {_value(a['actual'])} against {_value(a['expected'])} expected "
                      f"(score {_z(a):.1f})",
        }, operation=str(a.get("operation") or "") or None)  # fmt: skip
    return kind


def _z(anomaly: Mapping[str, Any]) -> float:
    return abs(float(anomaly["score"] or 0.0))


def _value(v: float | None) -> str:
    return "?" if v is None else f"{v:.4g}"


def rank_from_anomalies(
    anomalies: Sequence[Mapping[str, Any]], calls: graph.Calls, params: RcaParams | None = None
) -> list[Cause]:
    """Candidate causes from anomalies alone, best first."""
    return combine([score_anomalies(anomalies)], calls, params or RcaParams())
