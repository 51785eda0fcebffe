"""The statistical detector on real chDB: seasonal baselines, robustness, and level shifts.

Spans go into otel_traces and the store's own materialized views make the per-minute RED the
detector reads; each test owns its services and its day, so they never see each other's data.
"""

from __future__ import annotations

import random

from kokanee.analysis.detector import Detector
from kokanee.store.client import Store
from tests.test_anomaly_helpers import NS, anomalies_of, minute, write_metric, write_spans

BATCH = (9 * 60, 9 * 60 + 10)  # a daily batch job: 10x the traffic for ten minutes from 09:00


def _daily_load(m: int, rng: random.Random) -> int:
    of_day = (m % 86_400) // 60
    return 200 if BATCH[0] <= of_day < BATCH[1] else 20 + rng.randint(0, 4)


def _minutes(lo: int, hi: int) -> range:
    return range(lo, hi, 60)


def test_seasonal_spike_is_flagged_and_the_daily_pattern_is_not(chdb_store: Store) -> None:
    rng = random.Random(7)
    seasoned, fresh = "seasonal-shop", "seasonal-newcomer"
    day = 8
    history = [
        m
        for d in range(1, day)
        for lo, hi in ((minute(d, 8, 20), minute(d, 9, 40)), (minute(d, 12, 50), minute(d, 14, 20)))
        for m in _minutes(lo, hi)
    ]
    today = [*_minutes(minute(day, 7, 30), minute(day, 9, 30)), *_minutes(minute(day, 12, 30), minute(day, 14, 10))]
    spike = minute(day, 14, 5)

    def load(m: int) -> int:
        return 300 if m == spike else _daily_load(m, rng)

    write_spans(chdb_store, seasoned, [(m, load(m), 0, 40.0) for m in history + today])
    write_spans(chdb_store, fresh, [(m, load(m), 0, 40.0) for m in today])

    detector = Detector(chdb_store)
    detector.judge(minute(day, 8, 30), minute(day, 9, 30))
    detector.judge(minute(day, 13, 0), minute(day, 14, 10))

    found = anomalies_of(chdb_store, seasoned)
    # The only anomaly of the day is the spike, judged against the previous days' same minutes.
    assert [(a["t"], a["Metric"], a["Detector"]) for a in found if a["Operation"] == ""] == [
        (spike, "requests", "daily")
    ]
    top = next(a for a in found if a["Operation"] == "")
    assert top["Actual"] == 300 and 20 <= float(top["Expected"]) <= 24 and top["Severity"] == "critical"
    # Without previous days the same batch job looks like a surge: the seasonal baseline is what
    # keeps the seasoned service quiet at 09:00.
    newcomer = {(a["t"], a["Metric"]) for a in anomalies_of(chdb_store, fresh) if a["Operation"] == ""}
    assert (minute(day, 9, 0), "requests") in newcomer and (spike, "requests") in newcomer


def test_one_outlier_in_history_moves_neither_expectation_nor_scale(chdb_store: Store) -> None:
    rng = random.Random(11)
    service, day = "outlier-shop", 20
    lo = minute(day, 10, 0)
    rows = [(m, 20 + rng.randint(-2, 2), 0, 40.0) for m in _minutes(lo, lo + 3600)]
    rows[30] = (rows[30][0], 2000, 0, 40.0)  # one wild minute half an hour before
    rows += [(lo + 3600, 60, 0, 40.0), (lo + 3660, 21, 0, 40.0)]
    write_spans(chdb_store, service, rows)

    Detector(chdb_store).judge(lo + 3600, lo + 3720)

    found = [a for a in anomalies_of(chdb_store, service) if a["Operation"] == ""]
    # A mean and standard deviation would put the expectation near 50 and the spread near 250,
    # hiding the tripling; the median and MAD do not move.
    assert [(a["t"], a["Metric"]) for a in found] == [(lo + 3600, "requests")]
    assert 18 <= float(found[0]["Expected"]) <= 22 and float(found[0]["Score"]) >= 5


def test_level_shift_is_found_once_by_change_point_detection(chdb_store: Store) -> None:
    rng = random.Random(5)
    service, day = "shifting-shop", 30
    lo, shift = minute(day, 8, 0), minute(day, 9, 30)
    rows = [(m, 20, 0, (100.0 if m < shift else 140.0) + rng.uniform(-5, 5)) for m in _minutes(lo, lo + 3 * 3600)]
    write_spans(chdb_store, service, rows)

    Detector(chdb_store).judge(minute(day, 9, 0), minute(day, 10, 30))

    found = [a for a in anomalies_of(chdb_store, service) if a["Operation"] == ""]
    # +40% is 4 robust standard deviations: under the point threshold every minute, but a
    # sustained shift that the CUSUM finds, dated to where it began, and reported once.
    assert [(a["t"], a["Metric"], a["Detector"]) for a in found] == [(shift, "p50_ms", "cusum")]
    assert 95 <= float(found[0]["Expected"]) <= 105 and 135 <= float(found[0]["Actual"]) <= 145


def test_quiet_service_has_no_anomalies(chdb_store: Store) -> None:
    rng = random.Random(3)
    service, day = "steady-shop", 35
    lo = minute(day, 6, 0)
    rows = [
        (m, 30 + rng.randint(-5, 5), rng.randint(0, 1), 50.0 + rng.uniform(-10, 10))
        for m in _minutes(lo, lo + 4 * 3600)
    ]
    write_spans(chdb_store, service, rows)

    Detector(chdb_store).judge(lo + 3600, lo + 4 * 3600)

    assert anomalies_of(chdb_store, service) == []


def test_metrics_gauges_and_counter_rates_are_judged(chdb_store: Store) -> None:
    rng = random.Random(9)
    service, day = "metric-shop", 36
    lo, jump = minute(day, 10, 0), minute(day, 11, 0)
    minutes = list(_minutes(lo, jump + 120))
    # A gauge sampled every 15 s that triples at 11:00, and a cumulative counter whose rate (not
    # its ever-growing value) jumps from ~100/min to ~400/min at the same minute.
    write_metric(
        chdb_store,
        "otel_metrics_gauge",
        service,
        "queue.depth",
        [((m + s) * NS, (30.0 if m >= jump else 10.0) + rng.uniform(-1, 1)) for m in minutes for s in (0, 15, 30, 45)],
    )
    total, counter = 0.0, []
    for m in minutes:
        total += (400 if m >= jump else 100) + rng.randint(-5, 5)
        counter.append((m * NS + 59 * NS, total))
    write_metric(chdb_store, "otel_metrics_sum", service, "jobs.done", counter, monotonic=True)

    Detector(chdb_store).judge(lo + 1800, jump + 60)

    found = {(a["t"], a["Signal"], a["Operation"]): a for a in anomalies_of(chdb_store, service)}
    assert set(found) == {(jump, "metric", "queue.depth"), (jump, "metric", "jobs.done")}
    assert 9 <= float(found[(jump, "metric", "queue.depth")]["Expected"]) <= 11
    assert 90 <= float(found[(jump, "metric", "jobs.done")]["Expected"]) <= 110
    assert 390 <= float(found[(jump, "metric", "jobs.done")]["Actual"]) <= 410
