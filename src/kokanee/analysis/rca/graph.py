"""The dependency walk: a service whose own callees are anomalous is more likely a symptom.

Calls come from the traces (a span's service calling its child's service) or, without traces in
hand, from `kokanee_service_edges_1m` (`records.read_edges`). A service keeps
`(1 - symptom_discount * explained)` of its score, where `explained` = min(1, best downstream
score / its own score), the best downstream score taken over every service it reaches through
calls (a fault deep in the graph explains the whole chain above it). A service with no anomalous
callee keeps its score; a cause whose callees are quiet keeps all of it, so it rises above the
callers it made slow or made fail.
"""

from __future__ import annotations

from collections.abc import Mapping

Calls = dict[str, set[str]]


def downstream(calls: Calls, service: str) -> set[str]:
    seen: set[str] = set()
    todo = list(calls.get(service, ()))
    while todo:
        s = todo.pop()
        if s in seen or s == service:
            continue
        seen.add(s)
        todo.extend(calls.get(s, ()))
    return seen


def discount_symptoms(scores: Mapping[str, float], calls: Calls, discount: float) -> dict[str, float]:
    """Scores after the walk (see the module docstring), with which callee explained each."""
    out: dict[str, float] = {}
    for service, score in scores.items():
        if score <= 0:
            out[service] = score
            continue
        below = max((scores.get(s, 0.0) for s in downstream(calls, service)), default=0.0)
        explained = min(1.0, below / score)
        out[service] = score * (1.0 - discount * explained)
    return out


def explaining_callee(scores: Mapping[str, float], calls: Calls, service: str) -> str | None:
    below = [(scores.get(s, 0.0), s) for s in downstream(calls, service)]
    best = max(below, default=(0.0, ""))
    return best[1] if best[0] > 0 else None
