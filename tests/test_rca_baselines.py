"""Judging a window against baselines kokanee picked itself (a window-only question): several recent
windows, some of which may hold an earlier fault's after-effects or a passing traffic mix. A call
or a log statement that only one of them holds was not the normal, so its absence from the window
is no change; one every window holds, gone from the window, still is. Hand-built records, no store.
The first test of each pair fails with the ranking before this rule (a pooled rate, diluted by the
other windows, passed for a frequent call or statement).

Then the candidates themselves on a sparse recording (`baselines.choose`): too few in the last hour
to screen, looked for beyond a gap, as hand-made requests and once in the shared chDB store."""

from __future__ import annotations

import random
from collections.abc import Sequence

from kokanee.analysis.rca.log_scorer import LogLine, score_logs
from kokanee.analysis.rca.params import RcaParams
from kokanee.analysis.rca.span_reads import RSpan
from kokanee.analysis.rca.trace_scorer import merged, score_traces, span_stats
from kokanee.store.client import Store
from kokanee.store.reads.rca_baselines import WindowHealth

NS = 1_000_000_000
MS = 1_000_000
P = RcaParams()
WINDOW_S = 180


def _requests(rng: random.Random, t0: int, n: int, handled: int) -> list[RSpan]:
    """`n` requests to travel's `trips`, the first `handled` of which also call its error handler."""
    spans: list[RSpan] = []
    for i in range(n):
        trace, server = f"{rng.getrandbits(64):016x}", f"{rng.getrandbits(32):08x}"
        t = t0 + i * (WINDOW_S * NS // n)
        spans.append(RSpan(trace, server, "", "travel", "trips", "Server", t, 20 * MS, False))
        if i < handled:
            child = f"{rng.getrandbits(32):08x}"
            spans.append(RSpan(trace, child, server, "travel", "error handler", "Internal", t + MS, 2 * MS, False))
    return spans


def _vanished_calls(handled_per_window: list[int]) -> dict[str, float]:
    rng = random.Random(3)
    parts = [span_stats(_requests(rng, i * WINDOW_S * NS, 60, h)) for i, h in enumerate(handled_per_window)]
    win = span_stats(_requests(rng, 10 * WINDOW_S * NS, 120, 0))  # twice the traffic, no handler calls
    kinds = score_traces(merged(parts), win, WINDOW_S * len(parts), WINDOW_S, P, parts)
    return next(k for k in kinds if k.kind == "structure").scores


def test_calls_one_picked_window_made_during_an_earlier_fault_have_not_vanished() -> None:
    # An earlier exception sent 12 of one window's 60 requests to the error handler; the other
    # three windows made no such call. Pooled, 6 calls were "expected" in the window (twice the
    # traffic); none came. They were that window's after-effect, not the normal.
    assert "travel" not in _vanished_calls([12, 0, 0, 0])


def test_calls_every_picked_window_made_have_vanished() -> None:
    assert _vanished_calls([12, 12, 12, 12]).get("travel", 0.0) > 0


def _lines(part: int, t0: int, body: str, location: str, n: int) -> list[LogLine]:
    step = WINDOW_S * NS // n
    return [LogLine("svc", body, False, "", part == -1, location, t0 + i * step, part=part) for i in range(n)]


def _vanished_statements(retries_per_window: list[int]) -> dict[str, float]:
    lines: list[LogLine] = []
    parts = []
    for i, retries in enumerate(retries_per_window):
        t0 = i * WINDOW_S * NS
        lines += _lines(i, t0, "served order", "OrderService.java:10", 100)
        if retries:
            lines += _lines(i, t0, "retrying the payment call", "OrderService.java:20", retries)
        parts.append((float(WINDOW_S), t0 + WINDOW_S * NS, {}))
    lines += _lines(-1, 10 * WINDOW_S * NS, "served order", "OrderService.java:10", 100)
    kinds = score_logs(lines, {}, ({}, {}), WINDOW_S * len(parts), WINDOW_S, P, parts)
    return next(k for k in kinds if k.kind == "log_vanish").scores


def test_a_statement_one_picked_window_logged_has_not_vanished() -> None:
    # One window logged 30 retries (an earlier fault downstream); the other three none. Pooled,
    # that is 2.5 lines a minute, a frequent statement, and 7.5 expected in the window.
    assert "svc" not in _vanished_statements([30, 0, 0, 0])


def test_a_statement_every_picked_window_logged_has_vanished() -> None:
    assert _vanished_statements([30, 30, 30, 30]).get("svc", 0.0) > 0


def test_a_statement_the_picked_windows_nearest_the_question_did_not_log_has_not_vanished() -> None:
    # The two windows furthest back logged it, the two nearest did not: it stopped with the
    # traffic's mix before the last windows the anomaly detector judged clean. Not "vanished
    # before the window", which is asked only of baselines given with the question.
    assert "svc" not in _vanished_statements([30, 30, 0, 0])


def test_a_window_with_a_sliver_of_traffic_is_not_picked() -> None:
    from kokanee.analysis.rca.baselines import pick

    # Five candidates, most recent first; the second holds 30 requests against about 1000 in the
    # others (a gap in the recording): its quiet minutes are no normal, and a full window is taken.
    def health(requests: int) -> dict[str, WindowHealth]:
        return {"pay": WindowHealth(requests, 0, 5 * MS)}

    windows = [(-(k + 1) * 60, -k * 60) for k in range(5)]
    figures = [health(1000), health(30), health(980), health(1010), health(990)]
    chosen = pick(windows, figures, [set() for _ in windows], P)
    assert chosen == sorted([windows[0], windows[2], windows[3], windows[4]])


def test_a_window_whose_status_less_service_logged_its_failures_is_not_picked() -> None:
    from kokanee.analysis.rca.baselines import pick

    # "pay" records no span status: its earlier failures, in the third candidate, are 120 ERROR
    # lines against about 3. "cart" sets status and logs an error per failed span besides: its
    # lines count for nothing, its statuses for it. Four clean windows are left without the third.
    def health(pay_lines: int, cart_errors: int = 1) -> dict[str, WindowHealth]:
        return {"pay": WindowHealth(1000, 0, 5 * MS, pay_lines), "cart": WindowHealth(500, cart_errors, 3 * MS, 90)}

    windows = [(-(k + 1) * 60, -k * 60) for k in range(6)]
    figures = [health(3), health(2), health(120), health(4), health(3), health(2)]
    assert pick(windows, figures, [set() for _ in windows], P) == sorted(windows[i] for i in (0, 1, 3, 4))


def test_thin_packet_loss_is_found_against_picked_windows_too_short_to_judge_its_edges_alone() -> None:
    # 5% loss on "notify": its calls from "order" and its statement to its database wait a
    # retransmission timeout now and then; the messages "feed" sends it through a queue do not
    # wait on it. Against four picked windows of 3 minutes, only the busy queue edge has calls
    # enough in one window to place its p99, and it shows nothing: judged on it alone, each window
    # said "no loss". The edges too quiet to judge in one window keep their pooled figures.
    from kokanee.analysis.rca.ranker import combine

    rng = random.Random(6)

    def spans(t0: int, n: int, loss: float) -> list[RSpan]:
        out: list[RSpan] = []
        for i in range(n):
            t = t0 + i * (WINDOW_S * NS // n)
            trace = f"{rng.getrandbits(64):016x}"
            ids = [f"{rng.getrandbits(32):08x}" for _ in range(4)]
            wire = int((200.0 if rng.random() < loss else 0.6 * rng.uniform(0.8, 1.25)) * MS)
            query = int((200.0 if rng.random() < loss else 2.0 * rng.uniform(0.8, 1.25)) * MS)
            out += [
                RSpan(trace, ids[0], "", "order", "call notify", "Client", t, 4 * MS + wire + query, False, "notify"),
                RSpan(trace, ids[1], ids[0], "notify", "serve notify", "Server", t + wire // 2, 4 * MS + query, False),
                RSpan(trace, ids[2], ids[1], "notify", "SELECT notify", "Client", t + wire // 2 + MS, query, False),
            ]
            for _ in range(3):
                send, take = f"{rng.getrandbits(32):08x}", f"{rng.getrandbits(32):08x}"
                q = int(0.6 * rng.uniform(0.8, 1.25) * MS)
                out += [
                    RSpan(trace, send, "", "feed", "publish notify", "Client", t, 2 * MS + q, False, "notify"),
                    RSpan(trace, take, send, "notify", "consume feed", "Server", t + q, 2 * MS, False),
                ]
        return out

    parts = [span_stats(spans(i * WINDOW_S * NS, 60, 0.0)) for i in range(4)]
    win = span_stats(spans(10 * WINDOW_S * NS, 180, 0.05))
    kinds = score_traces(merged(parts), win, WINDOW_S * 4, WINDOW_S, P, parts)
    causes = combine(kinds, {"order": {"notify"}, "feed": {"notify"}}, P)
    assert causes and causes[0].service == "notify", [(c.service, c.score) for c in causes]


# A recording as the baseline reads see it: requests as (start, service, duration, failed).
Request = tuple[int, str, int, bool]


def _stretch(t0: int, minutes: int, contacts_ms: float) -> list[Request]:
    """`minutes` of traffic from t0: 2 requests a second to "orders", 1 to "contacts"."""
    out: list[Request] = []
    for s in range(minutes * 60):
        t = t0 + s * NS
        out += [(t, "orders", 8 * MS, False), (t + NS // 2, "orders", 9 * MS, False)]
        out.append((t + NS // 4, "contacts", int((contacts_ms + (s % 5) * 0.2) * MS), False))
    return out


class _Recording:
    """The figures `store.reads.rca_baselines.candidate_health` reads, computed from hand-made
    requests; counts the reads (each one query against a store)."""

    def __init__(self, requests: list[Request]) -> None:
        self.requests = requests
        self.reads = 0
        self.widest = 0  # the most windows one read asked for
        self.looks = 0  # looks for the latest traffic before what was read

    def health(self, windows: Sequence[tuple[int, int]]) -> list[dict[str, WindowHealth]]:
        import numpy as np

        self.reads += 1
        self.widest = max(self.widest, len(windows))
        out = []
        for lo, hi in windows:
            by: dict[str, list[Request]] = {}
            for r in self.requests:
                if lo <= r[0] < hi:
                    by.setdefault(r[1], []).append(r)
            out.append(
                {
                    s: WindowHealth(len(rs), sum(r[3] for r in rs), float(np.quantile([r[2] for r in rs], 0.9)))
                    for s, rs in by.items()
                }
            )
        return out

    def latest(self, lo: int, hi: int) -> int | None:
        """Where the latest request in [lo, hi) ends (`records.latest_traffic`)."""
        self.looks += 1
        starts = [r[0] for r in self.requests if lo <= r[0] < hi]
        return max(starts) + 1 if starts else None


def _none_flagged(windows: Sequence[tuple[int, int]]) -> list[set[str]]:
    return [set() for _ in windows]


FAULT_AT = 2 * 86_400 * NS  # the question: the 3 minutes from here
MINUTE = 60 * NS


def test_a_sparse_recording_is_looked_further_back_for_clean_windows() -> None:
    # The recording keeps a few minutes around each event. In the last hour only three candidates
    # hold traffic, and one of them held an earlier fault of "contacts" (p90 90 ms against 5 ms):
    # the fill-up took all three. Further back (70-300 minutes) lie clean stretches; widened,
    # four clean windows are found and the poisoned one is left out.
    from kokanee.analysis.rca.baselines import candidates, choose, pick

    requests = _stretch(FAULT_AT - 3 * MINUTE, 3, 5.0)  # the window just before the fault
    poisoned = FAULT_AT - 21 * MINUTE
    requests += _stretch(poisoned, 3, 90.0)
    requests += _stretch(FAULT_AT - 45 * MINUTE, 3, 5.0)
    for back in (72, 102, 150, 201, 300):
        requests += _stretch(FAULT_AT - back * MINUTE, 3, 5.0)
    recording = _Recording(requests)
    end = FAULT_AT + 3 * MINUTE

    hour = candidates(FAULT_AT, end, P)
    before = pick(hour, recording.health(hour), _none_flagged(hour), P)
    assert (poisoned, poisoned + 3 * MINUTE) in before  # the previous rule: too few to choose from

    chosen = choose(FAULT_AT, end, P, recording.health, _none_flagged, recording.latest)
    assert (poisoned, poisoned + 3 * MINUTE) not in chosen
    assert [lo for lo, _ in chosen] == sorted(FAULT_AT - b * MINUTE for b in (3, 45, 72, 102))
    assert recording.widest == len(hour)  # an hour further back at a time, never a day's windows at once


def test_a_lookback_with_traffic_throughout_is_not_widened() -> None:
    # Traffic throughout the last hour, one window with the earlier fault: the picks are those of
    # the hour's candidates alone, read in one query.
    from kokanee.analysis.rca.baselines import candidates, choose, pick

    poisoned = FAULT_AT - 6 * MINUTE
    requests = _stretch(FAULT_AT - 62 * MINUTE, 62, 5.0)
    requests = [r for r in requests if not poisoned <= r[0] < poisoned + 3 * MINUTE]
    requests += _stretch(poisoned, 3, 90.0)
    recording = _Recording(requests)
    end = FAULT_AT + 3 * MINUTE

    chosen = choose(FAULT_AT, end, P, recording.health, _none_flagged, recording.latest)
    assert recording.reads == 1
    hour = candidates(FAULT_AT, end, P)
    assert chosen == pick(hour, recording.health(hour), _none_flagged(hour), P)
    assert [lo for lo, _ in chosen] == sorted(FAULT_AT - b * MINUTE for b in (3, 9, 12, 15))

    # A question of 30 minutes: the hour holds two such windows, both with traffic. That is all the
    # recent past offers, not a sparse recording: not widened either.
    long_end = FAULT_AT + 30 * MINUTE
    recording.reads = 0
    chosen = choose(FAULT_AT, long_end, P, recording.health, _none_flagged, recording.latest)
    assert recording.reads == 1
    assert chosen == [(FAULT_AT - 60 * MINUTE, FAULT_AT - 30 * MINUTE), (FAULT_AT - 30 * MINUTE, FAULT_AT)]


def test_a_widened_lookback_takes_only_as_many_windows_as_were_missing() -> None:
    # "contacts" drifts through the day: 9 ms in the last hour, 5 ms three hours before. Four
    # candidates of the hour hold traffic; looked further back, the third hour holds five more. Taken
    # all, the old windows would outvote the recent ones in the screen's median, the recent ones
    # would look slow and the picks would go back three hours, where the window's 9 ms is a change.
    # Only the three that were missing are taken: the recent windows stay the normal.
    from kokanee.analysis.rca.baselines import choose

    recent = (3, 21, 33, 45)
    requests = [r for back in recent for r in _stretch(FAULT_AT - back * MINUTE, 3, 9.0)]
    for back in range(130, 230, 10):
        requests += _stretch(FAULT_AT - back * MINUTE, 3, 5.0)
    recording = _Recording(requests)
    chosen = choose(FAULT_AT, FAULT_AT + 3 * MINUTE, P, recording.health, _none_flagged, recording.latest)
    assert [lo for lo, _ in chosen] == sorted(FAULT_AT - b * MINUTE for b in recent)


def test_a_recording_that_begins_just_before_the_question_is_looked_over_once() -> None:
    # Twelve minutes recorded, the question at their end: four candidates hold traffic, and one
    # look says nothing lies further back. The picks are the four, as before.
    from kokanee.analysis.rca.baselines import candidates, choose, pick

    recording = _Recording(_stretch(FAULT_AT - 12 * MINUTE, 12, 5.0))
    end = FAULT_AT + 3 * MINUTE
    chosen = choose(FAULT_AT, end, P, recording.health, _none_flagged, recording.latest)
    assert (recording.reads, recording.looks) == (1, 1)
    hour = candidates(FAULT_AT, end, P)
    assert chosen == pick(hour, recording.health(hour), _none_flagged(hour), P)
    assert len(chosen) == 4


def test_a_repeat_fault_on_a_sparse_recording_is_found_against_windows_further_back(chdb_store: Store) -> None:
    # In the shared chDB store, through POST /api/v1/rca with start and end only. The recording
    # keeps 3 minutes around each event: in the last hour, two of the three stretches held an
    # earlier fault of "sparse-contacts" (90 ms against 5), so their median hid its repeat in the
    # window. Further back, beyond a gap, four clean stretches: with them the earlier fault's
    # windows stand out and are not picked, the repeat is ranked first, and the answer's
    # `baselines` names the windows from beyond the gap.
    from kokanee.api.routes_rca import router
    from tests.api_client import api_client
    from tests.test_rca import Span, call_chain, write_spans

    t0 = 1_770_000_000 * NS  # a day no other test writes
    rng = random.Random(8)

    def stretch(at: int, contacts_ms: float) -> list[Span]:
        return [
            s
            for i in range(90)
            for s in call_chain(
                at + i * 2 * NS,
                ["sparse-web", "sparse-contacts"],
                [2 * rng.uniform(0.8, 1.25), contacts_ms * rng.uniform(0.8, 1.25)],
            )
        ]

    spans = stretch(t0, 90.0)  # the window: the repeat
    for back, ms in ((3, 5.0), (21, 90.0), (45, 90.0), (129, 5.0), (159, 5.0), (189, 5.0), (219, 5.0)):
        spans += stretch(t0 - back * MINUTE, ms)
    write_spans(chdb_store, spans)

    r = api_client(chdb_store, router).post("/api/v1/rca", json={"start": t0, "end": t0 + 3 * MINUTE})
    assert r.status_code == 200, r.text
    body = r.json()
    used = [(b["start_time_unix_nano"], b["end_time_unix_nano"]) for b in body["baselines"]]
    starts = sorted(lo for lo, _ in used)
    assert starts == sorted(t0 - back * MINUTE for back in (3, 129, 159, 189)), [(t0 - lo) / MINUTE for lo in starts]
    assert [c["service"] for c in body["causes"]][:1] == ["sparse-contacts"], body["causes"]
