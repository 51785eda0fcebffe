"""Training, versioning, scoring and feedback for the trace autoencoder, against the store.

Models live in `kokanee_models` (kind `trace_autoencoder`, version counting up from 1) with the
window they were trained on, their feature list and threshold; feedback in
`kokanee_model_feedback`.
"""

from __future__ import annotations

import base64
import pickle
from dataclasses import dataclass
from typing import Any

from kokanee.analysis.autoencoder import AutoencoderParams, TraceModel, fit
from kokanee.analysis.rca.records import read_spans
from kokanee.analysis.rca.span_reads import RSpan
from kokanee.analysis.trace_features import TraceSummary, group_traces, summarise, vectorise, vocabulary
from kokanee.store.client import Store

KIND = "trace_autoencoder"


@dataclass(frozen=True)
class ModelInfo:
    version: int
    trained_at: str
    start_ns: int
    end_ns: int
    traces: int
    features: list[str]
    threshold: float

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "version": self.version,
            "trained_at": self.trained_at,
            "start_time_unix_nano": self.start_ns,
            "end_time_unix_nano": self.end_ns,
            "traces": self.traces,
            "features": len(self.features),
            "threshold": self.threshold,
        }


def _summaries(spans: list[RSpan]) -> list[TraceSummary]:
    return [summarise(trace_id, group) for trace_id, group in group_traces(spans).items()]


def _feedback_spans(store: Store) -> list[RSpan]:
    ids = [
        str(r[0])
        for r in store.query(
            "SELECT TraceId FROM kokanee_model_feedback FINAL WHERE Kind = {k:String} AND Verdict = 'normal'",
            parameters={"k": KIND},
        ).rows
    ]
    if not ids:
        return []
    rows = store.query(
        """SELECT TraceId, SpanId, ParentSpanId, ServiceName, SpanName, SpanKind,
            toUnixTimestamp64Nano(Timestamp), Duration, StatusCode = 'Error'
        FROM otel_traces WHERE TraceId IN {ids:Array(String)}""",
        parameters={"ids": ids},
    ).rows
    return [
        RSpan(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), int(r[6]), int(r[7]), bool(r[8]))
        for r in rows
    ]


def train(store: Store, start_ns: int, end_ns: int, params: AutoencoderParams | None = None) -> ModelInfo:
    """Trains on the traces of [start, end) plus the traces users marked normal; stores the model
    as the next version."""
    params = params or AutoencoderParams()
    if end_ns <= start_ns:
        raise ValueError("the training window's start must be before its end")
    normal = _summaries(read_spans(store, start_ns, end_ns, params.max_spans))
    if len(normal) < 2:
        raise ValueError(f"only {len(normal)} traces in the training window: need at least 2")
    marked = _summaries(_feedback_spans(store))
    training = normal + marked * params.feedback_weight
    features = vocabulary(training)
    model = fit(vectorise(training, features), features, params)
    version = (
        int(
            store.query("SELECT max(Version) FROM kokanee_models WHERE Kind = {k:String}", parameters={"k": KIND}).rows[
                0
            ][0]
            or 0
        )
        + 1
    )
    blob = base64.b64encode(pickle.dumps(model)).decode()
    store.command(
        """INSERT INTO kokanee_models (Kind, Version, WindowStart, WindowEnd, Traces, Features, Threshold, Model)
        VALUES ({k:String}, {v:UInt32}, fromUnixTimestamp64Nano({s:Int64}), fromUnixTimestamp64Nano({e:Int64}),
            {n:UInt32}, {f:Array(String)}, {t:Float64}, {m:String})""",
        parameters={
            "k": KIND, "v": version, "s": start_ns, "e": end_ns, "n": len(training),
            "f": features, "t": model.threshold, "m": blob,
        },
    )  # fmt: skip
    info = get_model(store, version)
    if info is None:
        raise RuntimeError(f"model {version} was not stored")
    return info[0]


def list_models(store: Store) -> list[ModelInfo]:
    rows = store.query(
        """SELECT Version, toString(TrainedAt), toUnixTimestamp64Nano(WindowStart), toUnixTimestamp64Nano(WindowEnd),
            Traces, Features, Threshold FROM kokanee_models FINAL WHERE Kind = {k:String} ORDER BY Version DESC""",
        parameters={"k": KIND},
    ).rows
    return [ModelInfo(int(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), list(r[5]), float(r[6])) for r in rows]


def get_model(store: Store, version: int | None = None) -> tuple[ModelInfo, TraceModel] | None:
    """The model of `version`, or the latest; None when there is none."""
    where = "Kind = {k:String}" + (" AND Version = {v:UInt32}" if version is not None else "")
    rows = store.query(
        f"""SELECT Version, toString(TrainedAt), toUnixTimestamp64Nano(WindowStart), toUnixTimestamp64Nano(WindowEnd),
            Traces, Features, Threshold, Model FROM kokanee_models FINAL WHERE {where}
        ORDER BY Version DESC LIMIT 1""",
        parameters={"k": KIND, "v": version},
    ).rows
    if not rows:
        return None
    r = rows[0]
    info = ModelInfo(int(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), list(r[5]), float(r[6]))
    # The blob was written by this module's `train` into kokanee's own store.
    model: TraceModel = pickle.loads(base64.b64decode(r[7]))
    return info, model


def score(
    store: Store,
    start_ns: int,
    end_ns: int,
    version: int | None = None,
    limit: int = 100,
    params: AutoencoderParams | None = None,
) -> dict[str, Any]:
    """The window's traces scored by a model (latest by default): the flagged ones, worst first,
    each with the features that contributed most to its error."""
    params = params or AutoencoderParams()
    found = get_model(store, version)
    if found is None:
        raise LookupError("no trained model: train one first (kokanee model train)")
    info, model = found
    summaries = _summaries(read_spans(store, start_ns, end_ns, params.max_spans))
    flagged: list[dict[str, Any]] = []
    if summaries:
        x = vectorise(summaries, model.features)
        scores = model.scores(x)
        order = [int(i) for i in scores.argsort()[::-1] if scores[i] > model.threshold]
        for i in order[:limit]:
            t = summaries[i]
            flagged.append(
                {
                    "trace_id": t.trace_id,
                    "root_service": t.root_service,
                    "score": round(float(scores[i]), 6),
                    "duration_ms": round(t.duration_ms, 3),
                    "explanation": model.explain(x[i], params.explain_top),
                }
            )
        n_flagged = len(order)
    else:
        n_flagged = 0
    return {
        "model": info.to_json(),
        "traces": len(summaries),
        "flagged_count": n_flagged,
        "flagged": flagged,
    }


def add_feedback(store: Store, trace_id: str, verdict: str, version: int | None = None, note: str = "") -> None:
    if verdict not in ("normal", "anomalous"):
        raise ValueError("verdict must be 'normal' (a false positive) or 'anomalous'")
    store.command(
        """INSERT INTO kokanee_model_feedback (Kind, TraceId, Verdict, ModelVersion, Note)
        VALUES ({k:String}, {t:String}, {v:String}, {m:UInt32}, {n:String})""",
        parameters={"k": KIND, "t": trace_id, "v": verdict, "m": version or 0, "n": note},
    )
