"""A root-cause question built by hand, no store: two baseline minutes and a window minute."""

from __future__ import annotations

from collections.abc import Callable

from kokanee.analysis.rca.log_scorer import LogLine
from kokanee.analysis.rca.records import QuestionSpans, Records
from kokanee.analysis.rca.span_reads import RSpan, SpanTable

NS = 1_000_000_000

# A minute's spans and log lines, from (its start ns, whether it is the window, its baseline's
# index or -1 for the window).
Minute = Callable[[int, bool, int], tuple[list[RSpan], list[LogLine]]]


def question(minute: Minute) -> tuple[Records, tuple[int, int]]:
    """The records of a window (its 4th minute) and two baseline minutes before it."""
    bases = [(0, 60 * NS), (60 * NS, 120 * NS)]
    window = (180 * NS, 240 * NS)
    per_base, lines = [], []
    for p, (lo, _) in enumerate(bases):
        spans, logged = minute(lo, False, p)
        per_base.append(SpanTable.from_spans(spans))
        lines += logged
    spans, logged = minute(window[0], True, -1)
    return Records(bases, [], QuestionSpans(per_base, SpanTable.from_spans(spans)), lines + logged, {}), window
