"""One request through a topology under the faults of the moment: its spans and log lines.

Nothing sleeps: the clock is simulated (Unix ns). A remote call's client span covers the request's
trip out (delayed by faults on the *caller's* pod: its packets leave late or get lost), the
callee's server span, and the response's trip back (delayed by faults on the *callee's* pod). Own
work is lognormal with a long tail, scaled by CPU faults and by the slow drift some services have
(a table that grows through the day).
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass, field

from kokanee.demo.chaos.faults import NS, Board
from kokanee.demo.chaos.topologies import Operation, Step, Topology

MS = 1_000_000
SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5  # OTLP SpanKind
_RTO_NS = 200 * MS  # TCP's first retransmission timeout
_TIMEOUT_NS = 3 * NS  # a caller gives up on a call after this long


@dataclass(slots=True)
class SpanRec:
    trace_id: bytes
    span_id: bytes
    parent_id: bytes
    service: str
    name: str
    kind: int
    start: int
    end: int
    error: str = ""  # the status message of a failed span
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class LogRec:
    service: str
    t: int
    severity: int  # OTLP SeverityNumber: 9 INFO, 13 WARN, 17 ERROR
    body: str
    trace_id: bytes
    span_id: bytes


class Failed(Exception):
    """A call that failed; the caller's span records it."""


@dataclass
class Drift:
    """A service whose database statements slow by `per_hour` (relative) per hour from `since_ns`."""

    service: str
    per_hour: float
    since_ns: int


class Simulator:
    def __init__(self, topo: Topology, board: Board, rng: random.Random, drifts: list[Drift]) -> None:
        self.topo, self.board, self.rng = topo, board, rng
        self.drift = {d.service: d for d in drifts}
        self.spans: list[SpanRec] = []
        self.logs: list[LogRec] = []
        self.busy_ns: dict[str, int] = {}  # own work per service, for the CPU metric
        self.answered_wrong = False  # whether the operation that just returned returned a wrong value
        self.bad_argument = False  # whether the operation about to be called gets a wrong value

    def _id(self, n: int) -> bytes:
        return self.rng.getrandbits(8 * n).to_bytes(n, "big")

    def _sample(self, base_ms: float) -> int:
        tail = self.rng.uniform(3.0, 8.0) if self.rng.random() < 0.01 else 1.0
        return int(base_ms * self.rng.lognormvariate(0.0, 0.3) * tail * MS)

    def request(self, t: int) -> None:
        """One user request into an entry operation at `t`."""
        weights = [w for _, _, w in self.topo.entries]
        service, op, _ = self.rng.choices(self.topo.entries, weights)[0]
        trace = self._id(16)
        root = self._id(8)
        # The load generator's client span is the trace's root, so callers of the entry exist.
        try:
            end = self._serve(service, op, t + self._hop(), trace, root)
            self.spans.append(SpanRec(trace, root, b"", "load-generator", op, CLIENT, t, end + self._hop()))
        except Failed as e:
            self.spans.append(SpanRec(trace, root, b"", "load-generator", op, CLIENT, t, e.args[1], str(e.args[0])))

    def _hop(self) -> int:
        return int(0.3 * MS * self.rng.lognormvariate(0.0, 0.3))

    def _leave(self, sender: str, t: int) -> tuple[int, bool]:
        """When a message sent by `sender` at `t` arrives, and whether it got through at all."""
        t += self._hop() + self.board.delay_ns(sender, t)
        loss = self.board.loss(sender, t)
        rto = _RTO_NS
        for _ in range(3):
            if loss <= 0 or self.rng.random() >= loss:
                return t, True
            t += rto
            rto *= 2
        return t, False

    def _work(self, service: str, base_ms: float, t: int) -> int:
        ns = int(self._sample(base_ms) * self.board.cpu_factor(service, t))
        self.busy_ns[service] = self.busy_ns.get(service, 0) + ns
        return ns

    def _serve(self, service: str, op_name: str, t: int, trace: bytes, parent: bytes, kind: int = SERVER) -> int:
        """Runs an operation from `t`; returns when its response leaves (raises Failed(message, t))."""
        op: Operation = self.topo.services[service][op_name]
        span = SpanRec(trace, self._id(8), parent, service, op_name, kind, t, t)
        self.spans.append(span)
        now = t + self._work(service, op.work_ms * 0.5, t)
        pause = self.board.active(service, "memory_stress", t)
        if (
            pause is not None
            and service in self.topo.jvm
            and self.rng.random() < 0.1 + 0.4 * self.board.memory_pressure(service, t)
        ):
            gc = int(pause.value * self.rng.uniform(0.5, 1.5) * MS)
            now += gc
            self.logs.append(
                LogRec(service, now, 13, f"GC pause (G1 Evacuation Pause) {gc // MS} ms", trace, span.span_id)
            )
        returner = self.board.active(service, "return_value", t)
        hit = returner is not None and returner.operation == op_name and self.rng.random() < returner.value
        broken = hit and returner is not None and returner.internal
        # A bad argument passed in (`_broken`) is answered at once, as a wrong value is returned.
        given_bad, self.bad_argument = self.bad_argument, False
        wrong = (hit and not broken) or given_bad
        error = ""
        try:
            if broken:
                now = self._broken(service, op.steps, now, trace, span.span_id)
            elif not wrong:
                now = self._steps(service, op.steps, now, trace, span.span_id)
            thrower = self.board.active(service, "exception", t)
            if thrower is not None and thrower.operation == op_name and self.rng.random() < thrower.value:
                raise Failed(f"java.lang.IllegalStateException: {op_name} failed", now)
        except Failed as e:
            error, now = str(e.args[0]), int(e.args[1])
            self.logs.append(LogRec(service, now, 17, f"{op_name} failed: {error}", trace, span.span_id))
        if not wrong:  # the body's own work; a returned value skips it with the calls
            now += self._work(service, op.work_ms * 0.5, t)
        span.end, span.error = now, error
        if not error:
            self.logs.append(LogRec(service, now, 9, f"{op_name} completed", trace, span.span_id))
        if error:
            raise Failed(f"{service}: {error}", now)
        # For the caller, which reads it as soon as this returns (a bad argument's answer is not wrong).
        self.answered_wrong = wrong and not given_bad
        return now

    def _broken(self, service: str, steps: list[Step], t: int, trace: bytes, parent: bytes) -> int:
        """An internal method returned a wrong value: the operation fails on it, at once or, half
        the time, after passing it on in its first call (raises Failed)."""
        calls = [step for step in steps if step.kind == "rpc"]
        if calls and self.rng.random() < 0.5:
            self.bad_argument = True
            try:
                t = self._call(service, calls[0], t, trace, parent)
            finally:
                self.bad_argument = False  # unread where the call never reached the callee
        raise Failed("java.lang.NullPointerException", t)

    def _steps(self, service: str, steps: list[Step], t: int, trace: bytes, parent: bytes) -> int:
        """Steps in order; consecutive parallel steps start together and the next waits for all."""
        cursor, group_start, group_end = t, None, t
        for step in steps:
            if step.probability < 1.0 and self.rng.random() >= step.probability:
                continue
            if step.parallel:
                group_start = cursor if group_start is None else group_start
                group_end = max(group_end, self._step(service, step, group_start, trace, parent))
                continue
            if group_start is not None:
                cursor, group_start = group_end, None
            cursor = group_end = self._step(service, step, cursor, trace, parent)
        return group_end if group_start is not None else cursor

    def _step(self, service: str, step: Step, t: int, trace: bytes, parent: bytes) -> int:
        if step.kind == "db":
            return self._db(service, step, t, trace, parent)
        if step.kind == "queue":
            return self._publish(service, step, t, trace, parent)
        return self._call(service, step, t, trace, parent)

    def _db(self, service: str, step: Step, t: int, trace: bytes, parent: bytes) -> int:
        factor = 1.0
        if (d := self.drift.get(service)) is not None and t > d.since_ns:
            factor += d.per_hour * (t - d.since_ns) / (3600 * NS)
        slow = self.board.active(service, "slow_query", t)
        if slow is not None and slow.operation == step.target:
            factor *= slow.value
        sent, ok = self._leave(service, t)
        end = sent + int(self._sample(step.db_ms) * factor) + self._hop()
        name = f"SELECT {step.operation}"
        attrs = {"db.system": "postgresql", "db.name": step.target, "server.address": step.target}
        error = "" if ok else "connection timed out"
        if not ok:
            end = t + _TIMEOUT_NS
        self.spans.append(SpanRec(trace, self._id(8), parent, service, name, CLIENT, t, end, error, attrs))
        if error:
            raise Failed(f"{step.target}: {error}", end)
        return end

    def _publish(self, service: str, step: Step, t: int, trace: bytes, parent: bytes) -> int:
        span = SpanRec(trace, self._id(8), parent, service, f"{step.operation} publish", PRODUCER, t, t)
        sent, ok = self._leave(service, t)
        span.end = sent + int(0.5 * MS)
        span.attrs = {"messaging.system": "kafka", "messaging.destination.name": step.operation}
        self.spans.append(span)
        if ok and not self.board.down(step.target, sent):
            lag = int(self.rng.uniform(5, 50) * MS)
            with contextlib.suppress(Failed):  # a consumer's failure does not reach the producer
                self._serve(step.target, step.operation, sent + lag, trace, span.span_id, CONSUMER)
        return span.end

    def _call(self, service: str, step: Step, t: int, trace: bytes, parent: bytes) -> int:
        callee = step.target
        client = SpanRec(trace, self._id(8), parent, service, step.operation, CLIENT, t, t)
        client.attrs = {"server.address": callee}
        self.spans.append(client)
        arrive, ok = self._leave(service, t)
        error, wrong = "", False
        if not ok:
            end, error = t + _TIMEOUT_NS, f"call to {callee} timed out"
        elif self.board.down(callee, arrive):
            end, error = arrive + self._hop(), f"connection refused by {callee}"
        else:
            try:
                done = self._serve(callee, step.operation, arrive, trace, client.span_id)
                wrong = self.answered_wrong
                back, ok = self._leave(callee, done)
                end = back if ok else t + _TIMEOUT_NS
                if not ok:
                    error = f"call to {callee} timed out"
                else:
                    injected = self.board.active(callee, "http_errors", done)
                    if injected is not None and self.rng.random() < injected.value:
                        error = f"HTTP 500 from {callee}"
            except Failed as e:
                back, _ = self._leave(callee, int(e.args[1]))
                end, error = back, f"HTTP 500 from {callee}: {e.args[0]}"
        client.end, client.error = end, error
        if error:
            self.logs.append(LogRec(service, end, 17, f"request to {callee} failed: {error}", trace, parent))
            raise Failed(error, end)
        if wrong:  # the call went well; what it returned fails the caller's own code
            raise Failed("java.lang.NullPointerException", end)
        return end
