"""A learned detector of unusual traces: an autoencoder over per-trace feature vectors.

The model (scikit-learn's MLPRegressor trained to reproduce its input through a narrow middle
layer) learns what normal traces look like; a trace it cannot reproduce well is unusual. It sees
what per-service statistics cannot: a trace that skips a call it always made, takes a path no
trace took, or is slow in a combination of places each of which is normal on its own.

- Features: `analysis.trace_features` (per service time, span count and errors, per call count,
  shape). Standardised with the training set's mean and spread (at least `std_floor`, so a
  feature that never varied in training scores large when it moves).
- Score: the mean squared standardised reconstruction error of a trace. Threshold: the
  training errors' `threshold_quantile`, times `threshold_margin`.
- Explanation: the features with the largest squared error, with the value seen and the value
  the model expected.
- Feedback: traces a user marked normal are added to the next training set `feedback_weight`
  times, so the next model learns them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # scikit-learn (with scipy and pandas) takes seconds to import: only when training
    from sklearn.neural_network import MLPRegressor


@dataclass(frozen=True)
class AutoencoderParams:
    hidden: int = 32  # outer layers' width (capped by the feature count)
    bottleneck: int = 6  # the middle layer: what the model must squeeze a trace through
    max_iter: int = 400
    std_floor: float = 0.1  # in feature units (log1p of counts and ms)
    threshold_quantile: float = 0.99
    threshold_margin: float = 1.5
    max_spans: int = 300_000  # spans read for training (whole traces, hash-sampled)
    feedback_weight: int = 10
    explain_top: int = 5
    seed: int = 0


@dataclass
class TraceModel:
    features: list[str]
    mean: np.ndarray
    scale: np.ndarray
    net: MLPRegressor
    threshold: float

    def errors(self, x: np.ndarray) -> np.ndarray:
        """Per trace and feature, the squared standardised reconstruction error."""
        z = (x - self.mean) / self.scale
        out = np.asarray(self.net.predict(z)).reshape(z.shape)
        return np.asarray((z - out) ** 2)

    def scores(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.errors(x).mean(axis=1))

    def explain(self, x_row: np.ndarray, top: int) -> list[dict[str, Any]]:
        z = (x_row - self.mean) / self.scale
        out = np.asarray(self.net.predict(z.reshape(1, -1))).reshape(-1)
        err = (z - out) ** 2
        expected = out * self.scale + self.mean
        order = np.argsort(-err)[:top]
        return [
            {
                "feature": self.features[i],
                "actual": round(float(x_row[i]), 4),
                "expected": round(float(expected[i]), 4),
                "contribution": round(float(err[i] / max(err.sum(), 1e-12)), 4),
            }
            for i in order
            if err[i] > 0
        ]


def fit(x: np.ndarray, features: list[str], params: AutoencoderParams) -> TraceModel:
    """Trains on `x` (rows = normal traces); the threshold comes from the training errors."""
    if len(x) < 2:
        raise ValueError("need at least 2 traces to train on")
    mean = x.mean(axis=0)
    scale = np.maximum(x.std(axis=0), params.std_floor)
    z = (x - mean) / scale
    width = max(2, min(params.hidden, x.shape[1]))
    middle = max(1, min(params.bottleneck, width // 2))
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    net = MLPRegressor(
        hidden_layer_sizes=(width, middle, width),
        activation="tanh",
        max_iter=params.max_iter,
        random_state=params.seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net.fit(z, z)
    model = TraceModel(features, mean, scale, net, 0.0)
    train_scores = model.scores(x)
    model.threshold = float(np.quantile(train_scores, params.threshold_quantile)) * params.threshold_margin
    return model
