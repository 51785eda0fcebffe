"""Wrong return values: a callee operation that answered, fast and without error, with a value its
caller's code then failed on.

ChaosBlade's jvm return, like a bug that returns null or an empty list, makes an operation answer
without running its body: its span is clean and shorter than the baseline's answers (the body's
work, calls and statements skipped). The failure starts in the caller's own code after the call
returned, so the caller's spans are where the errors start and nothing at the callee says so.

A callee operation explains a caller's errors when
1. the caller's failed operations got a fast answer from it more often than chance (the share of
   fast answers to everything else it answered, the baseline's and the window's calls that did
   not fail), binomial p under `latency_p_max`; and
2. the caller's failures *without* such an answer are no more than its baseline error rate
   predicts (Poisson z under `metric_z_min`): a wrong value fails the code that uses it every
   time, so it accounts for all of the new errors.
A service whose own code goes wrong (an internal method's wrong value, an exception) and passes a
bad argument on gets fast answers to some of its failed requests (a callee answers nonsense
quickly) but not to all of them: its errors stand as its own.

"Fast" mirrors "slow": an answer `latency_ratio_min` times faster than the baseline's answers'
(1 - `self_time_quantile`) quantile, with the 1 ms floor of every latency ratio.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from kokanee.analysis.rca.params import RcaParams
from kokanee.analysis.rca.span_columns import Answers

_FLOOR_NS = 1_000_000

Op = tuple[str, str]
Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class WrongAnswer:
    callee: Op
    failed: int  # the caller's failed operations that got a fast answer from `callee`
    with_answer: int  # the caller's failed operations that got any answer from it
    fast_ns: float  # the fast answers' median
    base_ns: float  # the baseline's low quantile


def _fast(ns: Array, low: float, ratio: float) -> Array:
    """Answers `ratio` times faster than `low` (the 1 ms floor included in both)."""
    return np.asarray((ns + _FLOOR_NS) * ratio <= low)


def wrong_answers(
    base: Mapping[tuple[str, Op], Answers],
    win: Mapping[tuple[str, Op], Answers],
    callers: Collection[str],
    params: RcaParams,
) -> dict[str, WrongAnswer]:
    """Per caller service of `callers` (those whose new errors are significant), the callee
    operation whose fast answers its failed operations got more often than chance (1. above), the
    one that got the most. Whether they account for all of its new errors (2.) is the caller's
    error count's to say (`trace_scorer.score_traces`)."""
    out: dict[str, WrongAnswer] = {}
    for (caller, callee), answers in win.items():
        before = base.get((caller, callee))
        if caller not in callers or before is None or len(before) < params.min_spans:
            continue
        low = float(np.quantile(before.ns, 1.0 - params.self_time_quantile)) + _FLOOR_NS
        fast = partial(_fast, low=low, ratio=params.latency_ratio_min)
        fast_failed = answers.failed & fast(answers.ns)
        if not fast_failed.any():
            continue
        from scipy.stats import binom  # scipy.stats takes seconds to import: not at server start

        ok = ~answers.failed
        chance = (int(np.count_nonzero(fast(answers.ns[ok]))) + int(np.count_nonzero(fast(before.ns))) + 1) / (
            int(np.count_nonzero(ok)) + len(before) + 2
        )
        failed_rows = np.unique(answers.row[answers.failed])
        hit_rows = np.unique(answers.row[fast_failed])
        if float(binom.sf(len(hit_rows) - 1, len(failed_rows), chance)) >= params.latency_p_max:
            continue
        fast_ns = float(np.median(answers.ns[fast_failed]))
        found = WrongAnswer(callee, len(hit_rows), len(failed_rows), fast_ns, low - _FLOOR_NS)
        if caller not in out or found.failed > out[caller].failed:
            out[caller] = found
    return out
