"""Critical paths across traces: shares per service and operation, and the recurring sequences."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from kokanee.analysis.critical_path import CPSpan, CriticalPath, critical_path
from kokanee.analysis.critical_path_aggregate import Share, aggregate, dominant_sequences, percentile, service_sequence


def span(span_id: str, parent: str, service: str, name: str, start: int, end: int) -> CPSpan:
    return CPSpan(span_id, parent, service, name, "Server" if not parent else "Client", start, end)


#         0    25   50   75   100
# front   [===================]    GET /checkout
#   pay     [===============]      Charge           front 20, pay 80
SLOW_PAY = critical_path([span("f", "", "front", "GET /checkout", 0, 100), span("p", "f", "pay", "Charge", 10, 90)])
#         0    25   50   75   100
# front   [===================]    GET /checkout
#   pay             [=]            Charge           front 90, pay 10
FAST_PAY = critical_path([span("f", "", "front", "GET /checkout", 0, 100), span("p", "f", "pay", "Charge", 50, 60)])
#         0    25   50   75   100
# front   [===================]    GET /checkout    front 100 (cached: no payment)
CACHED = critical_path([span("f", "", "front", "GET /checkout", 0, 100)])


def shares(rows: Sequence[Share]) -> dict[tuple[str, str | None], tuple[int, float, float, float]]:
    """(traces, mean, p50, p95) per row, rounded so float sums compare exactly."""
    return {
        (r.service, r.operation): (r.traces, round(r.share_mean, 9), round(r.share_p50, 9), round(r.share_p95, 9))
        for r in rows
    }


def test_a_service_missing_from_a_trace_counts_as_zero_share_there() -> None:
    b = aggregate([SLOW_PAY, FAST_PAY, CACHED])
    assert b.traces == 3
    assert b.skipped == 0
    got = shares(b.services)
    # pay's shares are 0.8, 0.1 and 0: p50 0.1, p95 interpolated between 0.1 and 0.8.
    assert got[("pay", None)] == (2, 0.3, 0.1, 0.73)
    # front's are 0.2, 0.9 and 1.0.
    assert got[("front", None)] == (3, 0.7, 0.9, 0.99)
    assert [r.service for r in b.services] == ["front", "pay"]  # largest mean first
    assert sum(r.share_mean for r in b.services) == pytest.approx(1.0)


def test_self_time_percentiles_are_in_nanoseconds() -> None:
    pay = next(r for r in aggregate([SLOW_PAY, FAST_PAY, CACHED]).services if r.service == "pay")
    assert (pay.self_time_p50_ns, pay.self_time_p95_ns) == (10, 73)


def test_operations_are_keyed_by_service_and_span_name() -> None:
    #         0    25   50   75   100
    # front   [===================]    GET /checkout
    #   pay     [=====]                Charge
    #   pay             [=========]    Refund
    two_calls = critical_path(
        [
            span("f", "", "front", "GET /checkout", 0, 100),
            span("c", "f", "pay", "Charge", 10, 40),
            span("r", "f", "pay", "Refund", 50, 100),
        ]
    )
    b = aggregate([two_calls])
    assert shares(b.operations) == {
        ("pay", "Refund"): (1, 0.5, 0.5, 0.5),
        ("pay", "Charge"): (1, 0.3, 0.3, 0.3),
        ("front", "GET /checkout"): (1, 0.2, 0.2, 0.2),
    }
    assert shares(b.services)[("pay", None)] == (1, 0.8, 0.8, 0.8)


def test_paths_with_nothing_on_them_are_skipped_and_counted() -> None:
    no_root = critical_path([])
    zero_length = critical_path([span("f", "", "front", "GET /", 5, 5)])
    b = aggregate([SLOW_PAY, no_root, zero_length])
    assert (b.traces, b.skipped) == (1, 2)
    assert shares(b.services)[("pay", None)] == (1, 0.8, 0.8, 0.8)


def test_nothing_to_aggregate_gives_empty_lists() -> None:
    assert aggregate([]).to_dict() == {"traces": 0, "skipped": 0, "services": [], "operations": [], "sequences": []}


def test_sequences_follow_the_path_and_collapse_repeats_in_a_row() -> None:
    #         0    25   50   75   100
    # front   [===================]
    #   front   [===============]      an internal span of the same service
    #     db      [=====]
    #     cache           [===]
    path = critical_path(
        [
            span("f", "", "front", "GET /", 0, 100),
            span("i", "f", "front", "render", 10, 90),
            span("d", "i", "db", "SELECT", 20, 50),
            span("c", "i", "cache", "GET", 60, 80),
        ]
    )
    assert service_sequence(path) == ("front", "db", "front", "cache", "front")


def test_dominant_sequences_most_frequent_first_then_top_n() -> None:
    paths = [SLOW_PAY, CACHED, FAST_PAY, SLOW_PAY]
    top = dominant_sequences(paths, top=5)
    assert [(s.services, s.traces, s.share) for s in top] == [
        (("front", "pay", "front"), 3, 0.75),
        (("front",), 1, 0.25),
    ]
    assert [s.services for s in dominant_sequences(paths, top=1)] == [("front", "pay", "front")]
    assert aggregate(paths, top_sequences=1).to_dict()["sequences"] == [
        {"services": ["front", "pay", "front"], "traces": 3, "share": 0.75}
    ]


def test_to_dict_uses_snake_case_and_leaves_operation_out_of_service_rows() -> None:
    body = aggregate([SLOW_PAY]).to_dict()
    assert body["services"][0] == {
        "service": "pay", "traces": 1, "share_mean": 0.8, "share_p50": 0.8, "share_p95": 0.8,
        "self_time_p50_ns": 80, "self_time_p95_ns": 80,
    }  # fmt: skip
    assert body["operations"][0]["operation"] == "Charge"


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        pytest.param([], 0.5, 0.0, id="no values give zero"),
        pytest.param([7.0], 0.95, 7.0, id="one value is every percentile"),
        pytest.param([3.0, 1.0, 2.0], 0.5, 2.0, id="the median of an odd count is the middle value"),
        pytest.param([1.0, 2.0, 3.0, 4.0], 0.5, 2.5, id="the median of an even count interpolates"),
        pytest.param([0.0, 10.0], 0.95, 9.5, id="p95 interpolates between the closest ranks"),
    ],
)
def test_percentile(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_partial_paths_still_count() -> None:
    # aggregate takes the per-trace results as they come, errors and all: a partial path still counts.
    partial = critical_path([span("f", "", "front", "GET /", 0, 10), span("o", "ghost", "x", "y", 0, 5)])
    assert isinstance(partial, CriticalPath) and partial.errors
    assert aggregate([partial]).traces == 1
