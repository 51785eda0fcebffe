"""Log detectors: templates (Drain, via drain3) whose rate changed between baseline and window.

- log_error: a template with lines at error level (SeverityNumber >= `error_severity`) that is new
  or logged `surge_ratio` times as often as the baseline predicts (its baseline count scaled by
  how much all services logged in the window against the baseline), with a Poisson z of at
  least `metric_z_min`, so three lines against none count but 110 against 100 do not).
- log_vanish: a template the service logged often in the baseline that falls below
  `vanish_ratio` of what is expected. Expected is the baseline count scaled by the traffic of
  what logged it: the operation of the spans the lines belong to when logs carry span ids and the
  spans are at hand, else the service's other templates. A service that stops working halfway
  through a request (an exception) loses its later lines while its traffic stays; a service that
  simply gets less traffic (its caller gave up earlier) loses everything at once and is not blamed.
  A statement has also vanished when it *stopped*: none of it after its last line in the window,
  where the lines logged beside it say `vanish_tail_min_expected` would have come (a fault that
  starts halfway through the window). With several baseline windows, a statement frequent in one
  of them that is as silent in the last stretch before the window as in the window vanished before
  the window (`_gone_since_before`; baselines given, not picked): pooled, that stretch's silence
  would hide it. With baselines kokanee picked (three windows or more), a statement must be
  usual, logged in most of them, before its absence counts (`_usual`): one window's burst is an
  earlier fault's after-effect or a passing traffic mix, not the normal.

Where lines say which statement wrote them (analysis.log_statements), templates are counted per
statement, and a stop is judged per statement whatever its payload.

Templates are mined fresh for each question from the baseline's and window's lines, one miner per
service so one service's chatter cannot absorb another's lines.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from kokanee.analysis.log_statements import masking, template_of
from kokanee.analysis.rca.cause import KindScores
from kokanee.analysis.rca.log_status import service_names
from kokanee.analysis.rca.params import RcaParams
from kokanee.analysis.rca.trace_scorer import EXAMPLES, log2_ratio, poisson_z


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, fifteen
# times the cost of a plain one, and a window's lines are tens of thousands (nothing changes them).
@dataclass(slots=True, unsafe_hash=True)
class LogLine:
    service: str
    body: str
    error: bool
    span_id: str
    in_window: bool
    location: str  # where the statement that wrote it is, when the line says
    at: int  # Unix ns
    tail: str = ""  # an error line's text past the head
    part: int = -1  # which baseline window it is from (-1: the window)
    trace_id: str = ""
    # The (service, operation) of its span, where the reader found the span among the question's;
    # else `score_logs` looks `span_id` up in its `span_ops`.
    op: tuple[str, str] | None = None
    # Lines alike in all the scorer reads of a baseline line (not its time, span or trace) may
    # come as one, counted.
    count: int = 1


def _miner(similarity: float) -> TemplateMiner:
    config = TemplateMinerConfig()
    config.drain_sim_th = similarity
    config.masking_instructions = masking()
    config.snapshot_interval_minutes = 10**6
    return TemplateMiner(None, config)


# (service, cluster id, logged at error level, code location): Drain would fold "ERROR ... Code
# not found" into the INFO template of the same words; the level is kept apart so an error that
# starts to be logged is not hidden by a frequent INFO line that looks like it, and the location
# so a statement that stops being reached is not hidden by its twin a few lines up.
Key = tuple[str, int, bool, str]
Op = tuple[str, str]  # (service, span name)
Part = tuple[float, int, Mapping[Op, int]]  # a baseline window's seconds, end (Unix ns), spans per operation


def score_logs(
    lines: list[LogLine],
    span_ops: Mapping[str, Op],
    op_counts: tuple[Mapping[Op, int], Mapping[Op, int]],
    base_s: float,
    win_s: float,
    params: RcaParams,
    parts: Sequence[Part] = (),
    traces_of: Callable[[Op], list[str]] = lambda op: [],
    span_services: Collection[str] = (),
) -> list[KindScores]:
    """`span_ops`: span id → (service, operation) of the spans at hand; `op_counts`: spans per
    operation in (baseline, window); `parts`: each baseline window's length, end and spans per
    operation, in the order `read_logs` was given them, when the baseline is several windows;
    `traces_of`: the window's latest traces of an operation, the requests a statement is missing from;
    `span_services`: the services of all the spans at hand (`span_ops` may hold only the lines' spans)."""
    miners: dict[str, TemplateMiner] = {}
    cache: dict[tuple[str, str], int] = {}
    base: Counter[Key] = Counter()
    win: Counter[Key] = Counter()
    ops: dict[Key, Counter[Op]] = defaultdict(Counter)
    totals: list[Counter[str]] = [Counter(), Counter()]
    base_op_lines: Counter[Op] = Counter()
    stmt_base: Counter[Key] = Counter()
    stmt_win: Counter[Key] = Counter()
    stmt_ops: dict[Key, Counter[Op]] = defaultdict(Counter)
    stmt_at: dict[Key, Counter[int]] = defaultdict(Counter)  # lines per baseline window (-1: the window)
    service_at: dict[str, Counter[int]] = defaultdict(Counter)
    example: dict[Key, Key] = {}  # statement -> one of its templates, to show
    window_lines: dict[str, list[tuple[int, Key, Op | None]]] = defaultdict(list)
    error_traces: dict[Key, list[tuple[int, str]]] = defaultdict(list)
    names_other = _naming(lines, span_ops, span_services)
    # A line's template and statement, by what they follow from: a window's lines are tens of
    # thousands of a few hundred kinds (Drain is still asked in the lines' order, once per body).
    keys: dict[tuple[str, str, bool, str], tuple[Key, Key]] = {}
    for line in lines:
        n, service, error = line.count, line.service, line.error
        totals[line.in_window][service] += n
        service_at[service][line.part] += n
        if error and names_other(line):
            # "No instances available for ts-basic-service", "call to inventory failed": an error
            # about a service it called makes the logger a witness of that failure, not a suspect.
            continue
        found = keys.get((service, line.body, error, line.location))
        if found is None:
            miner = miners.get(service)
            if miner is None:
                miner = miners[service] = _miner(params.log_template_similarity)
            cid = cache.get((service, line.body))
            if cid is None:
                cid = cache[(service, line.body)] = int(miner.add_log_message(line.body)["cluster_id"])
            key = (service, cid, error, line.location)
            found = keys[(service, line.body, error, line.location)] = (key, _statement(key))
        key, stmt = found
        (win if line.in_window else base)[key] += n
        if error and line.in_window and line.trace_id:
            error_traces[key].append((line.at, line.trace_id))
        example.setdefault(stmt, key)
        (stmt_win if line.in_window else stmt_base)[stmt] += n
        stmt_at[stmt][line.part] += n
        op = line.op or span_ops.get(line.span_id)
        if line.in_window:
            if n == 1:  # a window's lines come one by one
                window_lines[service].append((line.at, stmt, op))
            else:
                window_lines[service].extend([(line.at, stmt, op)] * n)
        elif op is not None:
            ops[key][op] += n
            stmt_ops[stmt][op] += n
            base_op_lines[op] += n
    timelines = {service: _Timeline(events) for service, events in window_lines.items()}

    def template(key: Key) -> str:
        return template_of(miners[key[0]], key[1], key[3])

    robust = len(parts) >= params.robust_baselines_min

    def usual(stmt: Key) -> bool:
        return not robust or _usual(stmt_at[stmt], service_at[stmt[0]], range(len(parts)))

    surge, vanish = KindScores("log_error"), KindScores("log_vanish")
    changed = set[Key]()  # statements found vanished or stopped
    # Errors are expected in proportion to all the logging (every service's): the recording may
    # hold less of the window than its length says, and traffic may change.
    all_base, all_win = sum(totals[0].values()), sum(totals[1].values())
    time_scale = all_win / all_base if all_base else 0.0
    for key in set(base) | set(win):
        service = key[0]
        o = win.get(key, 0)
        b = base.get(key, 0)
        if key[2]:
            e = b * time_scale
            z = poisson_z(o, e)
            r = log2_ratio(o, e)
            if z >= params.metric_z_min and (o + 1) >= params.surge_ratio * (e + 1):
                surge.add(service, r, {
                    "kind": "log_template", "signal": "new" if b == 0 else "surge", "template": template(key),
                    "detail": f"error template {'new' if b == 0 else 'surging'}: {o} lines against {e:.1f} expected",
                    "observed": o, "expected": round(e, 3), "trace_ids": _latest(error_traces.get(key, [])),
                })  # fmt: skip
            continue
        rate_per_min = b / (base_s / 60) if base_s > 0 else 0.0
        if b < params.vanish_min_count or rate_per_min < params.vanish_min_rate_per_min:
            continue
        if not usual(_statement(key)):
            continue
        op = _main_op(ops.get(key))
        if op is not None:
            e = b * op_counts[1].get(op, 0) / max(1, op_counts[0].get(op, 0))
        else:
            others_base = totals[0][service] - b
            others_win = totals[1][service] - o
            e = b * others_win / others_base if others_base > 0 else b * time_scale
        if e >= params.vanish_min_count and o <= params.vanish_ratio * e:
            changed.add(_statement(key))
            vanish.add(service, log2_ratio(e, o), {
                "kind": "log_template", "signal": "vanished", "template": template(key),
                "detail": f"frequent template vanished: {o} lines against {e:.1f} expected",
                "observed": o, "expected": round(e, 3), "trace_ids": traces_of(op) if op else [],
            })  # fmt: skip
    # A request that starts to fail halfway through the window silences the statements after the
    # failing call from then on, while the lines logged before it (by the same operation, else by
    # the service) go on: after a statement's last line, its baseline share of those lines is
    # what was expected of it.
    for stmt in set(stmt_base) & set(stmt_win):
        service, b = stmt[0], stmt_base[stmt]
        rate_per_min = b / (base_s / 60) if base_s > 0 else 0.0
        if stmt[2] or b < params.vanish_min_count or rate_per_min < params.vanish_min_rate_per_min:
            continue
        if not usual(stmt):
            continue
        by_op = stmt_ops.get(stmt)
        op = _main_op(by_op)
        mine = by_op[op] if by_op and op is not None else b
        clock_base = (base_op_lines[op] if op is not None else totals[0][service]) - mine
        if clock_base <= 0:
            continue
        timeline = timelines[service]
        last = timeline.last[stmt]
        e_tail = mine * timeline.lines_after(last, op) / clock_base
        if e_tail >= params.vanish_tail_min_expected:
            changed.add(stmt)
            at = timeline.at[last]
            vanish.add(service, log2_ratio(e_tail, 0), {
                "kind": "log_template", "signal": "stopped", "template": template(example[stmt]),
                "detail": f"template stopped: none of it after {_clock(at)} against {e_tail:.1f} expected"
                f" from the lines logged beside it ({stmt_win[stmt]} lines before)",
                "observed": 0, "expected": round(e_tail, 3), "last_seen": at,
                "trace_ids": traces_of(op) if op else [],
            })  # fmt: skip
    if 1 < len(parts) < params.robust_baselines_min:
        counts = _Counts(stmt_at, service_at, stmt_ops, parts, op_counts[1])
        _gone_since_before(counts, changed, lambda stmt: template(example[stmt]), traces_of, params, vanish)
    return [surge, vanish]


@dataclass(frozen=True, slots=True)
class _Counts:
    """Lines per statement and per service in each baseline window (-1: the question's window),
    the operations a statement's lines belong to, and the spans per operation behind them."""

    stmt_at: Mapping[Key, Counter[int]]
    service_at: Mapping[str, Counter[int]]
    stmt_ops: Mapping[Key, Counter[Op]]
    parts: Sequence[Part]
    win_ops: Mapping[Op, int]

    def op(self, stmt: Key) -> Op | None:
        """The operation most of a statement's baseline lines belong to, when they name spans at hand."""
        return _main_op(self.stmt_ops.get(stmt))

    def traffic(self, stmt: Key, at: int) -> int:
        """What a statement's count is in proportion to, in baseline window `at` (-1: the window):
        its operation's spans when its lines name spans at hand, else the service's other lines."""
        op = self.op(stmt)
        if op is not None:
            return (self.win_ops if at < 0 else self.parts[at][2]).get(op, 0)
        return self.service_at[stmt[0]][at] - self.stmt_at[stmt][at]


def _gone_since_before(
    counts: _Counts,
    changed: set[Key],
    describe: Callable[[Key], str],
    traces_of: Callable[[Op], list[str]],
    params: RcaParams,
    out: KindScores,
) -> None:
    """Statements that vanished before the window began: frequent in a baseline window, and as
    silent in the baseline window just before the question's as in the question's. Fault labels
    and alerts lag what they label, so the minute before belongs with the window then; pooled with
    the baseline, its silence would dilute the rate the statement is judged by (below the
    frequency floor, or the expected count below `vanish_min_count`) and hide it.

    Asked only of baselines given with the question (a known-good stretch and the minutes
    before). Windows kokanee picked (`robust_baselines_min` or more) were each judged clean by the
    anomaly detector, the one nearest the window too: a statement silent there as in the window
    stopped with the traffic's mix, before anything went wrong that the detector saw."""
    parts = counts.parts
    nearest = max(range(len(parts)), key=lambda i: parts[i][1])
    for stmt, at in counts.stmt_at.items():
        if stmt[2] or stmt in changed:
            continue
        for i, (seconds, _, _) in enumerate(parts):
            b, traffic = at[i], counts.traffic(stmt, i)
            if i == nearest or traffic <= 0:
                continue
            if b < params.vanish_min_count or b / (seconds / 60) < params.vanish_min_rate_per_min:
                continue
            e_win = b * counts.traffic(stmt, -1) / traffic
            e_near = b * counts.traffic(stmt, nearest) / traffic
            o_win, o_near = at[-1], at[nearest]
            # The window alone must be able to show it, as for any vanished statement; the two
            # together must make chance silence as unlikely as a stop (`vanish_tail_min_expected`).
            if (
                e_win >= params.vanish_min_count
                and e_win + e_near >= params.vanish_tail_min_expected
                and o_win <= params.vanish_ratio * e_win
                and o_near <= params.vanish_ratio * e_near
            ):
                out.add(stmt[0], log2_ratio(e_win + e_near, o_win + o_near), {
                    "kind": "log_template", "signal": "vanished", "template": describe(stmt),
                    "detail": f"frequent template vanished before the window: {o_win} lines in it and {o_near} "
                              f"in the baseline's last stretch, against {e_win:.1f} and {e_near:.1f} expected",
                    "observed": o_win, "expected": round(e_win, 3), "expected_before": round(e_near, 3),
                    "trace_ids": traces_of(op) if (op := counts.op(stmt)) else [],
                })  # fmt: skip
                break


def _usual(at: Counter[int], logged: Counter[int], windows: Sequence[int]) -> bool:
    """Whether a statement was part of the normal: logged in most of the baseline `windows` where
    its service logged at all. Asked with `robust_baselines_min` windows or more (picked ones, from
    the hour before): one that only one of them holds (an earlier fault's after-effects, a passing
    traffic mix) was not the normal, and its absence from the question's window is no change;
    pooled, that window's burst would pass for a frequent statement. With fewer windows (a
    reference stretch and the minute before) every statement is judged as pooled."""
    live = [i for i in windows if logged[i] > 0]
    return 2 * sum(1 for i in live if at[i] > 0) > len(live)


def _main_op(by_op: Counter[Op] | None) -> Op | None:
    """The operation most of some lines belong to, when they name spans at hand."""
    return by_op.most_common(1)[0][0] if by_op else None


def _latest(examples: Sequence[tuple[int, str]]) -> list[str]:
    return list(dict.fromkeys(trace for _, trace in sorted(examples, reverse=True)))[:EXAMPLES]


def _naming(
    lines: Sequence[LogLine], span_ops: Mapping[str, Op], span_services: Collection[str] = ()
) -> Callable[[LogLine], bool]:
    """Whether a line names a service other than its own."""
    services = {line.service for line in lines} | {op[0] for op in span_ops.values()} | set(span_services)
    naming = service_names(services)
    return lambda line: any(name != line.service for name in naming(line.body + line.tail))


def _statement(key: Key) -> Key:
    """The log statement a template belongs to: its code location where the line says, whatever
    the payload (Drain may split one statement by what it logs); else the template itself."""
    return (key[0], -1, key[2], key[3]) if key[3] else key


class _Timeline:
    """A service's window lines in time order: where each statement last logged, and how many lines
    each operation logged after any point."""

    def __init__(self, events: list[tuple[int, Key, Op | None]]) -> None:
        events.sort(key=itemgetter(0))
        self.at = [event[0] for event in events]
        self.last = {stmt: i for i, (_, stmt, _) in enumerate(events)}
        self._by_op: dict[Op, list[int]] = defaultdict(list)
        for i, (_, _, op) in enumerate(events):
            if op is not None:
                self._by_op[op].append(i)

    def lines_after(self, i: int, op: Op | None) -> int:
        if op is None:
            return len(self.at) - i - 1
        positions = self._by_op.get(op, [])
        return len(positions) - bisect_right(positions, i)


def _clock(at_ns: int) -> str:
    return datetime.fromtimestamp(at_ns / 1e9, tz=UTC).strftime("%H:%M:%S")
