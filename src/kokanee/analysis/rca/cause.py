"""A candidate root cause and the evidence that ranks it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# One piece of evidence: {"kind": "series"|"trace"|"log_template"|"edge"|"metric"|"structure",
# "detail": human text, plus the ids and numbers that back it (series name, trace id, template,
# baseline and window values, score)}.
Evidence = dict[str, Any]


@dataclass(frozen=True)
class Cause:
    service: str
    operation: str | None
    score: float
    evidence: list[Evidence] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "operation": self.operation,
            "score": round(self.score, 6),
            "evidence": self.evidence,
        }


@dataclass
class KindScores:
    """One detector's verdict: a score per service (0 = nothing unusual), the operation it points
    at where it can tell, and the evidence behind each score, strongest first."""

    kind: str
    scores: dict[str, float] = field(default_factory=dict)
    operations: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)

    def add(self, service: str, score: float, evidence: Evidence, operation: str | None = None) -> None:
        """Keeps the service's best score (and its operation); evidence accumulates."""
        if score > self.scores.get(service, 0.0):
            self.scores[service] = score
            if operation is not None:
                self.operations[service] = operation
        self.evidence.setdefault(service, []).append(evidence)
