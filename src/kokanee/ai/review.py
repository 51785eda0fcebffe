"""Architecture review of the observed system: deterministic detectors over sampled traces (and
RED for long tails), each finding with its evidence and sample traces, ranked by how much traffic
it touches.

Detectors: N+1 calls (many similar client/database spans under one parent), chatty edges (many
calls between two services per request), deep synchronous chains (many service hops in a row),
wide fan-out, retry storms (the same call repeated after failures), long tails (p99 far above p50,
as calls without timeouts show), single points of failure (a service on every entry's path), and
errors swallowed or re-thrown across services.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kokanee.store.client import Store
from kokanee.store.reads.entry_traces import load_traces, sample_entry_traces, top_entry_operations
from kokanee.store.reads.red import operation_red

Span = Mapping[str, Any]
N_PLUS_ONE_MIN = 5
CHATTY_MIN = 10
DEEP_CHAIN_MIN = 5
FAN_OUT_SERVICES = 6
FAN_OUT_CHILDREN = 20
RETRY_MIN = 3
TAIL_RATIO = 10.0
TAIL_MIN_MS = 1000.0
SPOF_SHARE = 0.9
_SAMPLES = 3


@dataclass
class Finding:
    kind: str
    title: str
    subject: str  # what the finding is about: a service, an edge, an operation
    traces: set[str] = field(default_factory=set)
    evidence: dict[str, Any] = field(default_factory=dict)
    weight: float = 1.0  # how bad one occurrence is, relative to other kinds

    @property
    def score(self) -> float:
        return round(self.weight * max(1, len(self.traces)), 2)

    @property
    def severity(self) -> str:
        return "high" if self.score >= 50 else "medium" if self.score >= 10 else "low"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "title": self.title, "subject": self.subject, "score": self.score,
            "severity": self.severity, "traces_affected": len(self.traces), "evidence": self.evidence,
            "sample_traces": sorted(self.traces)[:_SAMPLES],
        }  # fmt: skip


def _children(spans: Sequence[Span]) -> dict[str, list[Span]]:
    out: dict[str, list[Span]] = defaultdict(list)
    for s in spans:
        if s["parent_span_id"]:
            out[s["parent_span_id"]].append(s)
    return out


def _is_call(span: Span) -> bool:
    attrs = span.get("attributes") or {}
    return span["kind"] in ("Client", "Producer") or any(k.startswith(("db.", "rpc.")) for k in attrs)


def _target(span: Span) -> str:
    attrs = span.get("attributes") or {}
    return str(attrs.get("db.system.name") or attrs.get("db.system") or attrs.get("peer.service")
               or attrs.get("server.address") or span["name"])  # fmt: skip


class _Findings:
    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str], Finding] = {}

    def add(self, kind: str, subject: str, title: str, trace: str | None, weight: float, **evidence: Any) -> None:
        key = (kind, subject)
        found = self.by_key.get(key)
        if found is None:
            found = self.by_key[key] = Finding(kind, title, subject, weight=weight)
        if trace:
            found.traces.add(trace)
        for k, v in evidence.items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                found.evidence[f"max_{k}"] = max(found.evidence.get(f"max_{k}", v), v)
            else:
                found.evidence[k] = v


def review_traces(traces: Mapping[str, Sequence[Span]], findings: _Findings | None = None) -> _Findings:
    """Runs the per-trace detectors over loaded traces (trace id → spans)."""
    out = findings or _Findings()
    for trace_id, spans in traces.items():
        by_id = {s["span_id"]: s for s in spans}
        kids = _children(spans)
        for parent_id, children in kids.items():
            parent = by_id.get(parent_id)
            if parent is None:
                continue
            calls = Counter((c["service_name"], c["name"]) for c in children if _is_call(c))
            for (service, name), n in calls.items():
                if n >= N_PLUS_ONE_MIN:
                    subject = f"{service}: {parent['name']} → {name}"
                    out.add("n_plus_one", subject, f"N+1: {parent['name']} in {service} calls {name} "
                            f"repeatedly per request", trace_id, 2.0, calls_per_parent=n,
                            service=service, parent=parent["name"], call=name, target=_target(
                                next(c for c in children if c["name"] == name)))  # fmt: skip
                same = sorted((c for c in children if (c["service_name"], c["name"]) == (service, name)),
                              key=lambda c: c["start_time_unix_nano"])  # fmt: skip
                failed_first = sum(1 for c in same[:-1] if c["status_code"] == "Error")
                if n >= RETRY_MIN and failed_first >= RETRY_MIN - 1:
                    out.add("retry_storm", f"{service}: {name}", f"Retries: {service} repeats {name} after failures",
                            trace_id, 3.0, attempts=n, failed_attempts=failed_first)  # fmt: skip
            # Whom the parent reaches: services of direct children elsewhere, and for its client
            # spans the service that served them (or the peer they name).
            services = {c["service_name"] for c in children if c["service_name"] != parent["service_name"]}
            for c in children:
                if _is_call(c):
                    served = {g["service_name"] for g in kids.get(c["span_id"], [])}
                    services |= (served - {parent["service_name"]}) or {_target(c)}
            remote = [c for c in children if _is_call(c)]
            if len(services) >= FAN_OUT_SERVICES or len(remote) >= FAN_OUT_CHILDREN:
                out.add("fan_out", f"{parent['service_name']}: {parent['name']}",
                        f"Wide fan-out: {parent['name']} in {parent['service_name']} calls many at once",
                        trace_id, 1.0, children=len(children), services=len(services))  # fmt: skip
        _edges_and_depth(trace_id, spans, by_id, out)
        _errors(trace_id, spans, by_id, out)
    return out


def _edges_and_depth(trace_id: str, spans: Sequence[Span], by_id: Mapping[str, Span], out: _Findings) -> None:
    per_edge: Counter[tuple[str, str]] = Counter()
    depth: dict[str, int] = {}

    def hops(span: Span) -> int:
        seen = 0
        node: Span | None = span
        chain = 1
        while node is not None and seen < 1000:
            parent = by_id.get(node["parent_span_id"]) if node["parent_span_id"] else None
            if parent is not None and parent["service_name"] != node["service_name"]:
                chain += 1
            node, seen = parent, seen + 1
        return chain

    for s in spans:
        parent = by_id.get(s["parent_span_id"]) if s["parent_span_id"] else None
        if parent is not None and parent["service_name"] != s["service_name"]:
            per_edge[(parent["service_name"], s["service_name"])] += 1
        if s["kind"] in ("Server", "Consumer") or not s["parent_span_id"]:
            depth[s["span_id"]] = hops(s)
    for (a, b), n in per_edge.items():
        if n >= CHATTY_MIN:
            out.add("chatty_edge", f"{a} → {b}", f"Chatty: {a} calls {b} many times per request", trace_id, 1.5,
                    calls_per_request=n)  # fmt: skip
    deepest = max(depth.values(), default=0)
    if deepest >= DEEP_CHAIN_MIN:
        root = next((s for s in spans if not s["parent_span_id"]), spans[0])
        out.add("deep_chain", f"{root['service_name']}: {root['name']}",
                f"Deep synchronous chain under {root['name']}", trace_id, 1.5, service_hops=deepest)  # fmt: skip


def _errors(trace_id: str, spans: Sequence[Span], by_id: Mapping[str, Span], out: _Findings) -> None:
    for s in spans:
        if s["status_code"] != "Error" or not s["parent_span_id"]:
            continue
        parent = by_id.get(s["parent_span_id"])
        if parent is None:
            continue
        # Up the tree to the first span of another service: the caller that received the error.
        caller: Span | None = parent
        while caller is not None and caller["service_name"] == s["service_name"]:
            caller = by_id.get(caller["parent_span_id"]) if caller["parent_span_id"] else None
        if caller is None:
            continue
        caller_failed = caller["status_code"] == "Error" or any(
            p["status_code"] == "Error" for p in (parent,) if p["service_name"] == caller["service_name"]
        )
        if caller_failed:
            out.add("error_rethrown", f"{s['service_name']} → {caller['service_name']}",
                    f"Errors in {s['service_name']} are re-thrown by {caller['service_name']}", trace_id, 1.0,
                    operation=s["name"])  # fmt: skip
        else:
            out.add("error_swallowed", f"{s['service_name']} → {caller['service_name']}",
                    f"Errors in {s['service_name']} are swallowed by {caller['service_name']}", trace_id, 1.0,
                    operation=s["name"])  # fmt: skip


def single_points_of_failure(entries: Mapping[str, Iterable[Sequence[Span]]], out: _Findings) -> None:
    """Services (other than the entries' own) present in nearly every trace of every entry."""
    if len(entries) < 2:
        return
    shares: dict[str, list[float]] = defaultdict(list)
    roots = set()
    samples: dict[str, set[str]] = defaultdict(set)
    for traces in entries.values():
        trace_list = list(traces)
        counts: Counter[str] = Counter()
        for spans in trace_list:
            roots |= {s["service_name"] for s in spans if not s["parent_span_id"]}
            for service in {s["service_name"] for s in spans}:
                counts[service] += 1
                samples[service].add(spans[0]["trace_id"])
        for service, n in counts.items():
            shares[service].append(n / max(1, len(trace_list)))
    for service, values in shares.items():
        if service not in roots and len(values) == len(entries) and min(values) >= SPOF_SHARE:
            for trace in sorted(samples[service])[:_SAMPLES]:
                out.add("single_point_of_failure", service, f"{service} is on the path of every entry", trace,
                        4.0 * len(entries), entries=len(entries))  # fmt: skip


def review(store: Store, start_ns: int, end_ns: int, entries: int = 10, per_entry: int = 50) -> dict[str, Any]:
    """The ranked findings over [start, end): up to `per_entry` newest traces of the `entries`
    heaviest entry operations, and RED per operation for long tails."""
    found = _Findings()
    tops = top_entry_operations(store, start_ns, end_ns, None, entries)
    ids = {(e.service, e.operation): sample_entry_traces(store, e.operation, start_ns, end_ns, e.service, per_entry)
           for e in tops}  # fmt: skip
    loaded = load_traces(store, [t for group in ids.values() for t in group])
    review_traces(loaded.spans, found)
    single_points_of_failure(
        {f"{s} {o}": [loaded.spans[t] for t in group if t in loaded.spans] for (s, o), group in ids.items()}, found
    )
    for op in operation_red(store, start_ns, end_ns):
        p50, p99 = op.get("p50_ms"), op.get("p99_ms")
        if op["requests"] >= 20 and p50 and p99 and p99 >= TAIL_MIN_MS and p99 / p50 >= TAIL_RATIO:
            found.add("long_tail", f"{op['service']}: {op['operation']}",
                      f"Long tail: {op['operation']} in {op['service']} (p99 {p99} ms vs p50 {p50} ms)", None,
                      0.05 * op["requests"] / 20, p50_ms=p50, p99_ms=p99, requests=op["requests"])  # fmt: skip
    findings = sorted(found.by_key.values(), key=lambda f: (-f.score, f.kind, f.subject))
    return {
        "start_time_unix_nano": start_ns, "end_time_unix_nano": end_ns, "traces_reviewed": len(loaded.spans),
        "findings": [f.to_json() for f in findings],
        "summary": dict(Counter(f.kind for f in findings)),
    }  # fmt: skip
