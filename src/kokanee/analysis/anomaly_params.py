"""Every hyperparameter of the statistical anomaly detector, in one place, with its reason.

They are fixed defaults, not tuned per data set or per fault: the same values run on the demo,
on imported recordings and on a user's own services. Scores are in robust standard deviations
(1.4826 × MAD, which equals the standard deviation for normal data).
"""

from __future__ import annotations

from dataclasses import dataclass

MINUTE_S = 60
DAY_S = 86_400
WEEK_S = 7 * DAY_S


@dataclass(frozen=True)
class DetectionParams:
    # --- baselines -------------------------------------------------------------------------
    # Recent history: the minutes before the point. An hour reacts to deploys within the hour and
    # still holds enough points for a stable median.
    recent_minutes: int = 60
    # Fewer known history points than this and the series is not judged (a new service).
    min_history_points: int = 10
    # Seasonal baselines: the same minute of day on the previous days (and of week on previous
    # weeks), pooled over ± this many minutes so jitter in a daily job's start does not matter.
    seasonal_half_width_minutes: int = 5
    seasonal_days: int = 7
    seasonal_weeks: int = 4
    # How many previous days (weeks) must hold data before the seasonal baseline replaces the
    # recent one; fewer, and one odd day would become the expectation.
    min_seasonal_days: int = 3
    min_seasonal_weeks: int = 2

    # --- point anomalies -------------------------------------------------------------------
    warning_score: float = 5.0
    critical_score: float = 10.0
    # Floors on the scale, so a flat history (MAD 0) does not turn noise into huge scores.
    min_relative_scale: float = 0.1  # of the expected value (latency: log1p of it, on the log scale; metrics)
    min_latency_scale_ms: float = 2.0
    min_error_rate_scale: float = 0.01
    # A change must also be big in plain terms, not only in scores.
    min_relative_change: float = 0.3  # |actual - expected| / |expected| for latency, volume and metrics
    min_error_rate_increase: float = 0.05  # absolute: 5 percentage points
    min_errors: int = 3  # errors in the minute, for an error-rate anomaly
    min_requests: int = 10  # requests in the minute, for a latency judgement (a p95 of fewer is noise)
    min_volume_change: float = 5.0  # requests or log lines per minute, for volume anomalies

    # --- change points (two-sided CUSUM on robustly standardised values) --------------------
    cusum_reference_minutes: int = 60  # the reference segment, before the test segment
    cusum_test_minutes: int = 30  # where a shift may start
    cusum_drift: float = 1.0  # k: shifts under one scale unit are noise
    cusum_threshold: float = 8.0  # h
    min_shift_points: int = 3  # a shift lasts at least this many minutes (a spike is not one)
    min_shift_score: float = 2.5  # the shifted segment's median, in scale units

    # --- log templates (Drain) -------------------------------------------------------------
    drain_similarity: float = 0.4  # drain3's default sim_th
    drain_depth: int = 4
    # A template is only "new" once its service has logged for this long; before that every
    # template is new.
    new_template_warmup_minutes: int = 30
    max_log_bodies_per_minute: int = 20_000  # distinct bodies mined per minute (counts stay exact)

    # --- incidents -------------------------------------------------------------------------
    # An anomaly joins an open incident when its service is in it or next to one of its
    # services on the service graph, within this many minutes of the incident's last anomaly.
    incident_merge_gap_minutes: int = 5
    # An incident is resolved after this many minutes without anomalies.
    incident_resolve_minutes: int = 5
    # A group of warnings opens an incident only when one of its services was also anomalous in
    # one of the previous this-many minutes (a critical anomaly opens one at once).
    incident_confirm_minutes: int = 2
    # Service-graph adjacency comes from the edges seen in this many minutes before the point.
    graph_minutes: int = 60

    # --- the scheduled detector ------------------------------------------------------------
    wait_s: float = 30.0  # after a minute ends, before it is judged (late data, service-graph pairing)
    interval_s: float = 10.0
    max_minutes_per_tick: int = 30


DEFAULT_PARAMS = DetectionParams()
