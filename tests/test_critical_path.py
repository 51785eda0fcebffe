"""The critical path of one trace, on hand-built traces drawn as boxes (1 character = 5 ns)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kokanee.analysis.critical_path import CPSpan, CriticalPath, cpspans, critical_path


def S(span_id: str, parent: str, start: int, end: int, kind: str) -> CPSpan:
    return CPSpan(span_id, parent, f"svc-{span_id}", f"op-{span_id}", kind, start, end)


CASES = [
    #         0    25   50   75   100
    # root    [===================]    0-100 Server
    pytest.param(
        [S("root", "", 0, 100, "Server")],
        [("root", 0, 100)],
        [],
        id="a lone root is the whole path",
    ),
    #         0    25   50   75   100
    # root    [===================]    0-100 Server
    #   A       [=====]                10-40 Client
    #   B             [=========]      40-90 Client
    pytest.param(
        [S("root", "", 0, 100, "Server"), S("A", "root", 10, 40, "Client"), S("B", "root", 40, 90, "Client")],
        [("root", 0, 10), ("A", 10, 40), ("B", 40, 90), ("root", 90, 100)],
        [],
        id="back-to-back children both lie on the path",
    ),
    #         0    25   50   75   100
    # root    [===================]    0-100 Server
    #   A       [=====]                10-40 Client
    #   B           [=======]          30-70 Client
    #   C                    [==]      75-90 Client
    pytest.param(
        [
            S("root", "", 0, 100, "Server"),
            S("A", "root", 10, 40, "Client"),
            S("B", "root", 30, 70, "Client"),
            S("C", "root", 75, 90, "Client"),
        ],
        [("root", 0, 30), ("B", 30, 70), ("root", 70, 75), ("C", 75, 90), ("root", 90, 100)],
        [],
        id="of overlapping children only the last-finishing one before each point counts",
    ),
    #         0    25   50   75   100
    # root    [===================]    0-100 Server
    #   A       [=================]    10-100 Client
    #   B               [=========]    50-100 Client
    pytest.param(
        [S("root", "", 0, 100, "Server"), S("A", "root", 10, 100, "Client"), S("B", "root", 50, 100, "Client")],
        [("root", 0, 10), ("A", 10, 100)],
        [],
        id="children ending together: the earlier start covers more of the wait and wins",
    ),
    #         0    25   50   75   100  125
    # root    [===================]          0-100 Server
    #   A       [=====]                      10-40 Client
    #   B               [===============]    50-130 Client
    pytest.param(
        [S("root", "", 0, 100, "Server"), S("A", "root", 10, 40, "Client"), S("B", "root", 50, 130, "Client")],
        [("root", 0, 10), ("A", 10, 40), ("root", 40, 50), ("B", 50, 100)],
        [],
        id="a child overflowing its parent's end is truncated to it",
    ),
    #         0    25   50   75   100
    # root        [===============]    20-100 Server
    #   A     [=========]              0-50 Client
    pytest.param(
        [S("root", "", 20, 100, "Server"), S("A", "root", 0, 50, "Client")],
        [("A", 20, 50), ("root", 50, 100)],
        [],
        id="a child starting before its parent is clipped to the parent's start",
    ),
    #         0    25   50   75   100  125
    # root    [===================]         0-100 Server
    #   A         [=====]                   20-50 Client
    #     G               [===]             60-80 Server
    #   X                          [===]    105-125 Client
    #     Y                         [=]     110-120 Server
    pytest.param(
        [
            S("root", "", 0, 100, "Server"),
            S("A", "root", 20, 50, "Client"),
            S("G", "A", 60, 80, "Server"),
            S("X", "root", 105, 125, "Client"),
            S("Y", "X", 110, 120, "Server"),
        ],
        [("root", 0, 20), ("A", 20, 50), ("root", 50, 100)],
        [],
        id="children starting after their parent's end are dropped with their subtree",
    ),
    #         0    25   50   75   100  125  150
    # root    [===================]              0-100 Server
    #   P       [=========]                      10-60 Producer
    #     C         [=======================]    30-150 Consumer
    #       D         [===================]      40-140 Client
    pytest.param(
        [
            S("root", "", 0, 100, "Server"),
            S("P", "root", 10, 60, "Producer"),
            S("C", "P", 30, 150, "Consumer"),
            S("D", "C", 40, 140, "Client"),
        ],
        [("root", 0, 10), ("P", 10, 60), ("root", 60, 100)],
        [],
        id="a consumer under a producer does not block it, nor does its subtree",
    ),
    #         0    25   50   75   100
    # root    [===================]    0-100 Server
    #   A       [=========]            10-60 Client
    #     C         [===]              30-50 Consumer
    pytest.param(
        [S("root", "", 0, 100, "Server"), S("A", "root", 10, 60, "Client"), S("C", "A", 30, 50, "Consumer")],
        [("root", 0, 10), ("A", 10, 30), ("C", 30, 50), ("A", 50, 60), ("root", 60, 100)],
        [],
        id="a consumer under a span that is not a producer still blocks it",
    ),
    #         0    25   50   75   100
    # root    [===================]    0-100 Server
    #   A       [===============]      10-90 Internal
    #     B       [=====]              20-50 Client
    #       C       [==]               30-45 Server
    #     D              [=====]       55-85 Client
    pytest.param(
        [
            S("root", "", 0, 100, "Server"),
            S("A", "root", 10, 90, "Internal"),
            S("B", "A", 20, 50, "Client"),
            S("C", "B", 30, 45, "Server"),
            S("D", "A", 55, 85, "Client"),
        ],
        [
            ("root", 0, 10),
            ("A", 10, 20),
            ("B", 20, 30),
            ("C", 30, 45),
            ("B", 45, 50),
            ("A", 50, 55),
            ("D", 55, 85),
            ("A", 85, 90),
            ("root", 90, 100),
        ],
        [],
        id="nested spans hand the path down and back up each level",
    ),
    #         0    25   50   75   100
    # root    [===================]    0-100 Server
    #   Z               |              50-50 Internal
    pytest.param(
        [S("root", "", 0, 100, "Server"), S("Z", "root", 50, 50, "Internal")],
        [("root", 0, 100)],
        [],
        id="a zero-length child leaves its parent's stretch whole",
    ),
    #         0    25   50   75   100
    # R1      [=========]              0-50 Server
    # R2      [===================]    0-100 Server
    #   X       [=]                    10-20 Client
    pytest.param(
        [S("R1", "", 0, 50, "Server"), S("R2", "", 0, 100, "Server"), S("X", "R2", 10, 20, "Client")],
        [("R2", 0, 10), ("X", 10, 20), ("R2", 20, 100)],
        ["2 root spans", "R1"],
        id="with several roots the longest is followed and the others reported",
    ),
    #         0    25   50   75   100
    # root    [===================]    0-100 Server
    # O         [=====]                10-40 Server, child of ghost
    pytest.param(
        [S("root", "", 0, 100, "Server"), S("O", "ghost", 10, 40, "Server")],
        [("root", 0, 100)],
        ["missing parent ghost", "2 root spans"],
        id="a span whose parent is missing becomes a root and is reported",
    ),
    #         0    25   50   75   100
    # A       [=]                      0-10 Internal, child of B
    # B       [===]                    0-20 Internal, child of A
    pytest.param(
        [S("A", "B", 0, 10, "Internal"), S("B", "A", 0, 20, "Internal")],
        [],
        ["no root span found"],
        id="spans that are each other's parent leave no root",
    ),
]


@pytest.mark.parametrize(("spans", "expected", "errors"), CASES)
def test_critical_path(spans: list[CPSpan], expected: list[tuple[str, int, int]], errors: list[str]) -> None:
    path = critical_path(spans)
    assert [(s.span_id, s.start_ns, s.end_ns) for s in path.segments] == expected
    for fragment in errors:
        assert any(fragment in e for e in path.errors), (fragment, path.errors)
    if not errors:
        assert path.errors == ()
    # The segments tile the chosen root: contiguous, and summing to the total.
    assert all(a.end_ns == b.start_ns for a, b in zip(path.segments, path.segments[1:], strict=False))
    assert path.total_ns == sum(s.duration_ns for s in path.segments)
    assert path.total_ns == sum(s.self_time_ns for s in path.spans)


#         0    25   50   75   100
# root    [===================]    0-100 Server
#   A       [=====]                10-40 Client
#   B           [=======]          30-70 Client
#   C                    [==]      75-90 Client
OVERLAPPING = [
    S("root", "", 0, 100, "Server"),
    S("A", "root", 10, 40, "Client"),
    S("B", "root", 30, 70, "Client"),
    S("C", "root", 75, 90, "Client"),
]


def test_self_time_per_span_sums_each_span_s_segments_largest_first() -> None:
    path = critical_path(OVERLAPPING)
    assert [(s.span_id, s.service, s.name, s.self_time_ns) for s in path.spans] == [
        ("root", "svc-root", "op-root", 45),
        ("B", "svc-B", "op-B", 40),
        ("C", "svc-C", "op-C", 15),
    ]
    assert path.root_span_id == "root"
    assert path.total_ns == 100


def test_input_is_not_mutated() -> None:
    spans = list(reversed(OVERLAPPING))  # an order the walk must not depend on, nor change
    before = copy.deepcopy(spans)
    first = critical_path(spans)
    assert spans == before
    assert critical_path(spans) == first
    with pytest.raises(AttributeError):
        spans[0].end_ns = 0  # frozen: records cannot be changed, by the walk or anyone


def test_duplicate_span_ids_keep_the_first_and_say_so() -> None:
    path = critical_path([S("root", "", 0, 100, "Server"), S("root", "", 0, 10, "Server")])
    assert [(s.span_id, s.end_ns) for s in path.segments] == [("root", 100)]
    assert path.errors == ("duplicate span id root: kept the first",)


def test_empty_trace_has_no_root() -> None:
    assert critical_path([]) == CriticalPath(None, (), (), 0, ("no root span found",))


def test_a_deep_chain_does_not_hit_the_recursion_limit() -> None:
    depth = 5000
    spans = [S(f"s{i}", f"s{i - 1}" if i else "", i, 2 * depth - i, "Internal") for i in range(depth)]
    path = critical_path(spans)
    assert len(path.segments) == 2 * depth - 1
    assert path.total_ns == 2 * depth


def test_spans_read_from_the_store_become_cpspans_and_the_answer_is_json_ready() -> None:
    stored: list[dict[str, Any]] = [
        {"span_id": "aa", "parent_span_id": "", "service_name": "front", "name": "GET /", "kind": "Server",
         "start_time_unix_nano": 1_000, "end_time_unix_nano": 2_000, "attributes": {"x": "y"}},
        {"span_id": "bb", "parent_span_id": "aa", "service_name": "db", "name": "SELECT", "kind": "Client",
         "start_time_unix_nano": 1_200, "end_time_unix_nano": 1_700},
    ]  # fmt: skip
    before = copy.deepcopy(stored)
    spans = cpspans(stored)
    assert spans[1] == CPSpan("bb", "aa", "db", "SELECT", "Client", 1_200, 1_700)
    assert stored == before
    body = critical_path(spans).to_dict()
    assert body["root_span_id"] == "aa"
    assert body["total_ns"] == 1_000
    assert [(s["service"], s["duration_ns"]) for s in body["segments"]] == [("front", 200), ("db", 500), ("front", 300)]
    assert body["segments"][1] == {
        "span_id": "bb", "service": "db", "name": "SELECT",
        "start_time_unix_nano": 1_200, "end_time_unix_nano": 1_700, "duration_ns": 500,
    }  # fmt: skip
    assert body["spans"][0] == {"span_id": "aa", "service": "front", "name": "GET /", "self_time_ns": 500}
    assert body["errors"] == []
