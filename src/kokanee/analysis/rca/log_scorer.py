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

Templates are mined fresh for each question from the baseline's and window's lines, one miner per
service so one service's chatter cannot absorb another's lines.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

from kokanee.analysis.rca.cause import KindScores
from kokanee.analysis.rca.params import RcaParams
from kokanee.analysis.rca.trace_scorer import log2_ratio, poisson_z
from kokanee.store.client import Store
from kokanee.store.reads.window import within

_MASKS = (
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "UUID"),
    (r"\b[0-9a-fA-F]{16,}\b", "HEX"),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "IP"),
    (r"(?<![A-Za-z_])-?\d+(?:\.\d+)?", "NUM"),
)
# Only a line's head is mined: a template is told by its first words, and payload dumps are long.
_HEAD = 300


@dataclass(frozen=True, slots=True)
class LogLine:
    service: str
    body: str
    error: bool
    span_id: str
    in_window: bool


def read_logs(
    store: Store, window: tuple[int, int], baselines: Sequence[tuple[int, int]], params: RcaParams
) -> list[LogLine]:
    out: list[LogLine] = []
    for (lo, hi), in_window in (*((b, False) for b in baselines), (window, True)):
        p = {"start": lo, "end": hi}
        count = int(store.query(f"SELECT count() FROM otel_logs WHERE {within('Timestamp')}", parameters=p).rows[0][0])
        if count == 0:
            continue
        keep = max(1, -(-count // params.max_logs))
        sample = f" AND cityHash64(Timestamp, Body) % {keep} = 0" if keep > 1 else ""
        rows = store.query(
            f"""SELECT ServiceName, substring(Body, 1, {_HEAD}), SeverityNumber >= {{sev:UInt8}}
                OR upper(SeverityText) IN ('ERROR', 'FATAL', 'CRITICAL'), SpanId
            FROM otel_logs WHERE {within("Timestamp")} AND Body != ''{sample}""",
            parameters={**p, "sev": params.error_severity},
        ).rows
        out.extend(LogLine(str(r[0]), str(r[1]), bool(r[2]), str(r[3]), in_window) for r in rows)
    return out


def _miner(similarity: float) -> TemplateMiner:
    config = TemplateMinerConfig()
    config.drain_sim_th = similarity
    config.masking_instructions = [MaskingInstruction(p, name) for p, name in _MASKS]
    config.snapshot_interval_minutes = 10**6
    return TemplateMiner(None, config)


# (service, cluster id, logged at error level): Drain would fold "ERROR ... Code not found" into
# the INFO template of the same words; the level is kept apart so an error that starts to be
# logged is not hidden by a frequent INFO line that looks like it.
Key = tuple[str, int, bool]


def score_logs(
    lines: list[LogLine],
    span_ops: Mapping[str, tuple[str, str]],
    op_counts: tuple[Mapping[tuple[str, str], int], Mapping[tuple[str, str], int]],
    base_s: float,
    win_s: float,
    params: RcaParams,
) -> list[KindScores]:
    """`span_ops`: span id → (service, operation) of the spans at hand; `op_counts`: spans per
    operation in (baseline, window)."""
    miners: dict[str, TemplateMiner] = {}
    cache: dict[tuple[str, str], int] = {}
    base: Counter[Key] = Counter()
    win: Counter[Key] = Counter()
    ops: dict[Key, Counter[tuple[str, str]]] = defaultdict(Counter)
    totals: list[Counter[str]] = [Counter(), Counter()]
    for line in lines:
        miner = miners.get(line.service)
        if miner is None:
            miner = miners[line.service] = _miner(params.log_template_similarity)
        cid = cache.get((line.service, line.body))
        if cid is None:
            cid = cache[(line.service, line.body)] = int(miner.add_log_message(line.body)["cluster_id"])
        key = (line.service, cid, line.error)
        (win if line.in_window else base)[key] += 1
        totals[line.in_window][line.service] += 1
        if not line.in_window and line.span_id in span_ops:
            ops[key][span_ops[line.span_id]] += 1

    def template(key: Key) -> str:
        cluster = miners[key[0]].drain.id_to_cluster.get(key[1])
        return cluster.get_template() if cluster is not None else ""

    surge, vanish = KindScores("log_error"), KindScores("log_vanish")
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
                    "observed": o, "expected": round(e, 3),
                })  # fmt: skip
            continue
        rate_per_min = b / (base_s / 60) if base_s > 0 else 0.0
        if b < params.vanish_min_count or rate_per_min < params.vanish_min_rate_per_min:
            continue
        by_op = ops.get(key)
        if by_op:
            op = by_op.most_common(1)[0][0]
            e = b * op_counts[1].get(op, 0) / max(1, op_counts[0].get(op, 0))
        else:
            others_base = totals[0][service] - b
            others_win = totals[1][service] - o
            e = b * others_win / others_base if others_base > 0 else b * time_scale
        if e >= params.vanish_min_count and o <= params.vanish_ratio * e:
            vanish.add(service, log2_ratio(e, o), {
                "kind": "log_template", "signal": "vanished", "template": template(key),
                "detail": f"frequent template vanished: {o} lines against {e:.1f} expected",
                "observed": o, "expected": round(e, 3),
            })  # fmt: skip
    return [surge, vanish]
