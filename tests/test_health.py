"""Health verdicts from RED numbers, SLO and baseline: a table of situations."""

from __future__ import annotations

import pytest

from kokanee.analysis.health import Health, Red, Slo, Status, classify, worst

MS = 1_000_000
CASES = [
    ("quiet and fast", Red(1000, 2, 40 * MS), Red(6000, 10, 35 * MS), Status.HEALTHY, "within SLO"),
    ("too few requests to judge", Red(3, 3, 900 * MS), None, Status.HEALTHY, "3 requests: too few to judge"),
    ("error rate over the degraded SLO", Red(1000, 20, 40 * MS), None, Status.DEGRADED, "error rate 2% > 1% SLO"),
    ("error rate over the critical SLO", Red(1000, 73, 40 * MS), None, Status.CRITICAL, "error rate 7.3% > 5% SLO"),
    ("error rate exactly at the SLO", Red(100, 1, 40 * MS), None, Status.HEALTHY, "within SLO"),
    ("p95 over 2x baseline and the SLO", Red(1000, 0, 600 * MS), Red(6000, 0, 250 * MS), Status.DEGRADED,
     "p95 600 ms vs 250 ms baseline"),
    ("p95 over 4x baseline and the SLO", Red(1000, 0, 1_200 * MS), Red(6000, 0, 120 * MS), Status.CRITICAL,
     "p95 1200 ms vs 120 ms baseline"),
    ("p95 more than doubled, still under the SLO latency", Red(1000, 0, 412 * MS), Red(6000, 0, 120 * MS),
     Status.DEGRADED, "p95 412 ms vs 120 ms baseline"),
    ("a network delay on a fast service", Red(1000, 0, 404 * MS), Red(6000, 0, 3.5 * MS), Status.CRITICAL,
     "p95 404 ms vs 3.5 ms baseline"),
    ("a small jump is noise", Red(1000, 0, 5 * MS), Red(6000, 0, 2 * MS), Status.HEALTHY, "within SLO"),
    ("always slow still breaks the SLO", Red(1000, 0, 900 * MS), Red(6000, 0, 800 * MS), Status.DEGRADED,
     "p95 900 ms > 500 ms SLO"),
    ("slow without a baseline: the SLO alone", Red(1000, 0, 15_000 * MS), None, Status.DEGRADED,
     "p95 15.0 s > 500 ms SLO"),
    ("baseline with too few requests is no baseline", Red(1000, 0, 700 * MS), Red(2, 0, 10 * MS), Status.DEGRADED,
     "p95 700 ms > 500 ms SLO"),
    ("both: the worst first", Red(1000, 20, 2_000 * MS), Red(6000, 0, 100 * MS), Status.CRITICAL,
     "p95 2000 ms vs 100 ms baseline; error rate 2% > 1% SLO"),
    ("no latency recorded", Red(1000, 0, None), Red(6000, 0, 100 * MS), Status.HEALTHY, "within SLO"),
]  # fmt: skip


@pytest.mark.parametrize(("current", "baseline", "status", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_classify(current: Red, baseline: Red | None, status: Status, reason: str) -> None:
    assert classify(current, baseline) == Health(status, reason)


def test_thresholds_are_configurable() -> None:
    strict = Slo(error_rate_degraded=0.001, error_rate_critical=0.002, latency_ns=50 * MS)
    assert classify(Red(1000, 3, 10 * MS), None, strict) == Health(Status.CRITICAL, "error rate 0.3% > 0.2% SLO")
    assert classify(Red(1000, 0, 60 * MS), None, strict).status is Status.DEGRADED


def test_sub_10ms_latencies_keep_a_decimal() -> None:
    assert (
        classify(Red(100, 0, 2.5 * MS), Red(100, 0, 0.5 * MS), Slo(latency_ns=MS, latency_min_increase_ns=0)).reason
        == "p95 2.5 ms vs 0.5 ms baseline"
    )


def test_worst_and_json() -> None:
    ok, bad = Health(Status.HEALTHY, "within SLO"), Health(Status.CRITICAL, "error rate 9% > 5% SLO")
    assert worst(ok, bad, ok) == bad
    assert bad.to_json() == {"status": "critical", "reason": "error rate 9% > 5% SLO"}
