"""Tables of the learned detectors: versioned models and users' verdicts on what they flagged."""

from __future__ import annotations

# One row per trained model. `Model` is the fitted model, pickled and base64-encoded (String
# columns carry text safely through every client); `Features` names the input columns in order.
MODELS = """
CREATE TABLE IF NOT EXISTS kokanee_models (
    Kind LowCardinality(String),
    Version UInt32,
    TrainedAt DateTime64(3) DEFAULT now64(3),
    WindowStart DateTime64(9),
    WindowEnd DateTime64(9),
    Traces UInt32,
    Features Array(String),
    Threshold Float64,
    Model String CODEC(ZSTD(3))
) ENGINE = ReplacingMergeTree(TrainedAt)
ORDER BY (Kind, Version)
"""

# A user's verdict on a flagged trace: 'normal' (a false positive) is trained on as normal next time.
MODEL_FEEDBACK = """
CREATE TABLE IF NOT EXISTS kokanee_model_feedback (
    Kind LowCardinality(String),
    TraceId String,
    Verdict LowCardinality(String),
    ModelVersion UInt32,
    Note String,
    At DateTime64(3) DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(At)
ORDER BY (Kind, TraceId)
"""

STATEMENTS = (MODELS, MODEL_FEEDBACK)
