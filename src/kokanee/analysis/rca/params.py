"""The root-cause ranker's hyperparameters, fixed and in one place.

They were chosen once, from what the methods need (enough baseline points for a robust spread,
a z-score large enough to be unusual), and are the same for every dataset and every fault: the
benchmarks in `bench/rca_eval.py` run with these defaults and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RcaParams:
    # Baseline when the caller gives none (`baselines.choose`): this many clean windows of the
    # window's length, from those of the last `baseline_lookback_s` and the day before.
    baseline_windows: int = 4
    baseline_lookback_s: float = 3600.0
    # When fewer candidates than this hold traffic and some of the lookback's windows hold none (a
    # sparse recording, a gap), the lookback grows by `baseline_lookback_s` until this many do or
    # it reaches `baseline_max_lookback_s` (a day: the day before is a candidate anyway). The
    # screen's median holds while fewer than half the candidates are troubled, and
    # `baseline_windows` clean ones must remain beside them: 2 x 4 - 1 = 7.
    baseline_min_candidates: int = 7
    baseline_max_lookback_s: float = 86_400.0
    # A candidate with under this share of the median candidate's requests is a gap (in the
    # recording, the pipeline), not a quiet normal: not picked.
    baseline_min_traffic_share: float = 0.25
    # Metrics are slow (one point a minute is common): their baseline is the baseline window plus
    # this much just before the window, so a median and an IQR are computed from enough points.
    metric_baseline_min_s: float = 1800.0
    # A metric point usually summarises the interval that ends at it (a scrape, a one-minute rate):
    # the window for metrics reaches this far past the window's end to take the interval's last one.
    metric_window_extension_s: float = 60.0
    # A series' spread: IQR of the baseline (its standard deviation when the IQR is 0), and at least
    # this share of max(1, |median|): moves under 1% of a series' level are never large.
    metric_flat_scale: float = 0.01
    # A series' normal also includes the level this many separate excursions reached in the
    # `metric_history_s` before the window: a periodic job's spikes. Three make a pattern (two
    # intervals); one or two are as likely earlier faults, which must not hide a repeat.
    metric_history_s: float = 6 * 3600.0
    metric_history_repeats: int = 3
    # A metric z-score below this is noise and gives no evidence.
    metric_z_min: float = 3.0
    # Traces: at most this many spans are read per window (hash-sampled by trace when more).
    max_spans: int = 200_000
    # A service needs this many spans, from as many requests, in each window before its latency is
    # compared.
    min_spans: int = 5
    # Self-time quantile compared between windows.
    self_time_quantile: float = 0.9
    # A latency shift counts only when this many window spans above the baseline's quantile would
    # happen by chance with at most this probability (a few dozen spans make quantiles jumpy).
    latency_p_max: float = 0.001
    # Latency ratios below this are not evidence (1.5 = 50% slower).
    latency_ratio_min: float = 1.5
    # A call edge's tail is judged too, at this quantile, where p90 did not move (packet loss delays
    # a few calls by a retransmission timeout): the baseline needs 1 / (1 - q) calls on the edge.
    tail_quantile: float = 0.99
    # Logs: at most this many log records are read per window (hash-sampled when more).
    max_logs: int = 200_000
    # A template is "frequent" in the baseline (so its disappearance means something) at this many
    # records per minute of baseline, and at least `vanish_min_count` records in all.
    vanish_min_rate_per_min: float = 2.0
    vanish_min_count: int = 5
    # A template has vanished when its rate falls below this share of its baseline rate.
    vanish_ratio: float = 0.1
    # A template has stopped when none of it follows its last line in the window although the
    # lines logged beside it say this many would have (a Poisson count is 0 with e^-7 < 0.1%).
    vanish_tail_min_expected: float = 7.0
    # An error template surges when its rate grows by this factor (new templates always count).
    surge_ratio: float = 3.0
    # Drain's similarity threshold for two lines to share a template. Stricter than drain3's 0.4:
    # "[Get Route By Ids][Success]" and "[Get Route By Ids][Route IDs: ...]" must stay apart for one
    # to be seen vanishing while the other goes on.
    log_template_similarity: float = 0.9
    # Error-like log severities (SeverityNumber >= this: WARN is 13, ERROR 17).
    error_severity: int = 17
    # Evidence weights when combining kinds (scores are first normalised to [0, 1] per kind).
    weight_metric: float = 0.5
    weight_latency: float = 1.0
    weight_error: float = 1.0
    weight_log: float = 1.0
    weight_structure: float = 1.0
    weight_edge: float = 1.0
    # Dependency walk: a service whose callee (transitively) is at least this anomalous, relative to
    # itself, is a symptom and keeps (1 - symptom_discount) of its score.
    symptom_discount: float = 0.5
    # Errors pass up calls one for one: the part of a caller's error evidence (errors, error logs,
    # vanished lines and calls) that a callee's error evidence accounts for is taken off whole.
    error_explained: float = 1.0
    # With this many baseline windows or more, a change is judged by its median over them (one
    # poisoned window is outvoted); with fewer it must hold against each.
    robust_baselines_min: int = 3
    # Evidence units (log2 of the effect over its threshold) are bounded softly by this (2^10 =
    # 1000x its threshold), a metric's by the lower cap.
    units_cap: float = 10.0
    metric_units_cap: float = 4.0
    # A service's kinds of evidence combine as strongest + decay x next + decay^2 x ...
    corroboration: float = 0.5
    # How many causes to return.
    top: int = 10
