"""Wrong return values (`wrong_answers`): a callee that answers fast, without error, with a value
its caller's code then fails on, is the cause; a caller whose own code went wrong, and which passed
a bad argument on to a callee that answered it quickly, is."""

from __future__ import annotations

import random

from kokanee.analysis.rca.log_scorer import LogLine
from kokanee.analysis.rca.params import RcaParams
from kokanee.analysis.rca.ranker import rank_records
from kokanee.analysis.rca.records import Records
from kokanee.analysis.rca.span_reads import RSpan
from tests.rca_question import question

MS = 1_000_000


def _minute(
    rng: random.Random, t0: int, in_window: bool, part: int, returns: float, own: float, status: bool
) -> tuple[list[RSpan], list[LogLine]]:
    """300 requests: frontend's `GET /` calls cart's `get cart`, which queries its database.
    `returns`: the share of cart's answers that return a wrong value without running the body (no
    query, a fraction of the time), on which frontend then throws; `own`: the share of requests
    where frontend's own code goes wrong and throws, half of them after passing the bad value to
    cart, which answers it at once (no query). Without `status` the failures are ERROR lines only."""
    spans: list[RSpan] = []
    lines: list[LogLine] = []
    for i in range(300):
        trace = f"{t0:x}{i:05x}"
        at = t0 + i * 200 * MS
        wrong = rng.random() < returns
        broken = rng.random() < own
        hollow = wrong or (broken and rng.random() < 0.5)
        failed = wrong or broken
        work = rng.uniform(4, 6) * MS
        answer = int(rng.uniform(0.2, 0.4) * MS) if hollow else int(work + 3 * MS)
        spans += [
            RSpan(trace, f"{trace}a", "", "frontend", "GET /", "Server", at, answer + 4 * MS, status and failed),
            RSpan(trace, f"{trace}b", f"{trace}a", "frontend", "GET cart", "Client", at + MS, answer + 2 * MS, False),
            RSpan(trace, f"{trace}c", f"{trace}b", "cart", "get cart", "Server", at + 2 * MS, answer, False),
        ]
        if not hollow:
            spans.append(
                RSpan(
                    trace,
                    f"{trace}d",
                    f"{trace}c",
                    "cart",
                    "SELECT carts",
                    "Client",
                    at + 2 * MS + int(work),
                    2 * MS,
                    False,
                )
            )
        lines.append(LogLine("frontend", "handling GET /", False, f"{trace}a", in_window, "", at, part=part))
        if failed:
            lines.append(
                LogLine("frontend", "java.lang.NullPointerException", True, f"{trace}a", in_window, "", at, part=part)
            )
    return spans, lines


def _records(returns: float, own: float, status: bool = True) -> tuple[Records, tuple[int, int]]:
    rng = random.Random(5)
    return question(
        lambda t0, in_window, part: _minute(
            rng, t0, in_window, part, returns if in_window else 0.0, own if in_window else 0.0, status
        )
    )


def _top(returns: float, own: float, status: bool = True) -> tuple[str, list[str]]:
    records, window = _records(returns, own, status)
    causes = rank_records(records, window, RcaParams())
    assert causes, "nothing ranked"
    return causes[0].service, [str(e.get("signal")) for e in causes[0].evidence]


def test_a_callee_returning_a_wrong_value_is_the_cause_of_its_callers_errors() -> None:
    service, signals = _top(returns=0.3, own=0.0)
    assert service == "cart", signals
    assert "wrong_answer" in signals


def test_a_wrong_value_is_read_from_error_lines_where_spans_have_no_status() -> None:
    service, signals = _top(returns=0.3, own=0.0, status=False)
    assert service == "cart", signals


def test_a_caller_failing_on_its_own_bad_value_stays_the_cause_though_its_callee_answered_fast() -> None:
    # Only about half of frontend's failures got a fast answer from cart: cart's answers do not
    # account for the rest, so the errors are frontend's own.
    service, signals = _top(returns=0.0, own=0.3)
    assert service == "frontend", signals
    assert "wrong_answer" not in signals
