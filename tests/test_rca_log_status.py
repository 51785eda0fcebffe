"""Spans whose instrumentation sets no status (`log_status`): the ERROR line logged in a span is
its status, so a failing callee is told from the callers that log its failures, as with status."""

from __future__ import annotations

import random

from kokanee.analysis.rca.log_scorer import LogLine
from kokanee.analysis.rca.log_status import service_names, with_log_status
from kokanee.analysis.rca.params import RcaParams
from kokanee.analysis.rca.ranker import rank_records
from kokanee.analysis.rca.records import Records
from kokanee.analysis.rca.span_reads import RSpan
from tests.rca_question import question

MS = 1_000_000
CALLERS = ("frontend", "checkout")


def _minute(
    rng: random.Random, t0: int, in_window: bool, part: int, rewritten: float, throws: float, status: bool = False
) -> tuple[list[RSpan], list[LogLine]]:
    """Two callers each calling cart once a request, 150 requests each. `rewritten`: the share of
    cart's answers a proxy in front of it turns into HTTP 500 (cart's own span and logs say nothing);
    `throws`: the share of cart's requests that throw inside cart (cart logs it). No span carries a
    status unless `status`; each failure is an ERROR line in the caller's span."""
    spans: list[RSpan] = []
    lines: list[LogLine] = []
    for c, caller in enumerate(CALLERS):
        for i in range(150):
            trace = f"{t0:x}{c}{i:05x}"
            at = t0 + (i * 400 + c * 200) * MS
            ms = int(rng.uniform(4, 6) * MS)
            thrown = rng.random() < throws
            failed = thrown or rng.random() < rewritten
            spans += [
                RSpan(trace, f"{trace}a", "", caller, "GET /", "Server", at, ms + 4 * MS, status and failed),
                RSpan(trace, f"{trace}b", f"{trace}a", caller, "GET cart", "Client", at + MS, ms + 2 * MS,
                      status and failed),
                RSpan(trace, f"{trace}c", f"{trace}b", "cart", "get cart", "Server", at + 2 * MS, ms,
                      status and thrown),
            ]  # fmt: skip
            lines.append(LogLine(caller, "handling GET /", False, f"{trace}a", in_window, "", at, part=part))
            if thrown:
                lines.append(
                    LogLine("cart", "NullPointerException in get cart", True, f"{trace}c", in_window, "", at, part=part)
                )
            if failed:
                body = "request to cart failed: HTTP 500"
                lines.append(LogLine(caller, body, True, f"{trace}a", in_window, "", at, part=part))
    return spans, lines


def _records(rewritten: float, throws: float, status: bool = False) -> tuple[Records, tuple[int, int]]:
    rng = random.Random(3)
    return question(
        lambda t0, in_window, part: _minute(
            rng, t0, in_window, part, rewritten if in_window else 0.0, throws if in_window else 0.0, status
        )
    )


def test_responses_rewritten_in_front_of_a_callee_blame_it_without_span_status() -> None:
    # Both callers log the failures of their calls into cart; cart's spans and lines are clean.
    records, window = _records(rewritten=0.4, throws=0.0)
    causes = rank_records(records, window, RcaParams())
    assert causes and causes[0].service == "cart", [(c.service, c.score) for c in causes]
    details = " ".join(str(e.get("detail")) for e in causes[0].evidence)
    assert "answered without error" in details, causes[0].evidence


def test_an_exception_in_the_callee_starts_its_errors_there_without_span_status() -> None:
    records, window = _records(rewritten=0.0, throws=0.4)
    causes = rank_records(records, window, RcaParams())
    assert causes and causes[0].service == "cart", [(c.service, c.score) for c in causes]
    assert any(e.get("signal") == "error_origin" for e in causes[0].evidence), causes[0].evidence
    assert all(c.service not in CALLERS or c.score <= causes[0].score / 2 for c in causes)


def test_the_error_lines_mark_the_span_they_were_logged_in_and_its_calls_into_the_named_service() -> None:
    records, _ = _records(rewritten=0.4, throws=0.0)
    marked = with_log_status([*records.spans.per_base, records.spans.window], records.logs)[-1].rows()
    failed_lines = {line.span_id for line in records.logs if line.error and line.in_window}
    by_id = {s.span_id: s for s in marked}
    assert failed_lines and all(by_id[i].error for i in failed_lines)
    calls = [s for s in marked if s.kind == "Client"]
    assert {s.parent_id in failed_lines for s in calls} == {True, False}
    assert all(s.error == (s.parent_id in failed_lines) for s in calls)
    assert not any(s.error for s in marked if s.service == "cart")


def test_spans_that_carry_status_are_left_as_they_are() -> None:
    records, _ = _records(rewritten=0.4, throws=0.0, status=True)
    tables = [*records.spans.per_base, records.spans.window]
    assert all(a is b for a, b in zip(with_log_status(tables, records.logs), tables, strict=True))


def test_a_line_names_services_as_words_in_order() -> None:
    naming = service_names(["ad", "cart", "cart-db"])
    assert naming("loaded cart-db, then cart and ad") == ["cart-db", "cart", "ad"]
    assert naming("nothing here: loaded, carts") == []
