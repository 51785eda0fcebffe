"""Root-cause ranking for any window (`POST /api/v1/rca`) and the trace autoencoder: train,
list, score, feedback (`/api/v1/models/...`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from kokanee.analysis import autoencoder_store
from kokanee.analysis.rca.ranker import rank_window
from kokanee.api.auth.access import requires
from kokanee.api.auth.roles import Role
from kokanee.api.errors import BadRequest, NotFound
from kokanee.api.params import hex_id, window
from kokanee.store.client import Store

router = APIRouter(prefix="/api/v1")

Time = str | int


class Interval(BaseModel):
    start: Time = Field(description="RFC 3339, Unix ns, or now-1h")
    end: Time = Field(description="RFC 3339, Unix ns, or now")


class RcaRequest(BaseModel):
    start: Time = Field(description="Window start: RFC 3339, Unix ns, or now-15m")
    end: Time = Field(description="Window end: RFC 3339, Unix ns, or now")
    baseline_start: Time | None = Field(
        default=None,
        description="Baseline start (default: recent windows of the window's length that were clean, "
        "further back on a recording with gaps, and the same time the day before; the answer's "
        "`baselines` says which)",
    )
    baseline_end: Time | None = Field(default=None, description="Baseline end (default: the window's start)")
    baselines: list[Interval] | None = Field(
        default=None,
        max_length=8,
        description="Several baseline windows taken together instead, e.g. a known-good stretch and the "
        "minutes just before the window; a change must hold against each",
    )


def _text(value: Time | None) -> str | None:
    return None if value is None else str(value)


@router.post("/rca", tags=["analysis"], dependencies=[requires(Role.viewer)])
def rca(request: Request, body: RcaRequest) -> dict[str, Any]:
    """Candidate root-cause services (and operations) for what changed in [start, end) against a
    baseline, best first, each with its evidence (series, traces, log templates, edges)."""
    w = window(_text(body.start), _text(body.end))
    baseline: list[tuple[int, int]] | None = None
    if (body.baseline_start is None) != (body.baseline_end is None):
        raise BadRequest("give both baseline_start and baseline_end, or neither")
    if body.baseline_start is not None:
        if body.baselines is not None:
            raise BadRequest("give baseline_start and baseline_end, or baselines, not both")
        only = window(_text(body.baseline_start), _text(body.baseline_end))
        baseline = [(only.start_ns, only.end_ns)]
    elif body.baselines is not None:
        if not body.baselines:
            raise BadRequest("baselines is empty: leave it out for the default baseline")
        baseline = []
        for i, interval in enumerate(body.baselines):
            try:
                one = window(_text(interval.start), _text(interval.end))
            except BadRequest as e:
                raise BadRequest(f"baselines[{i}]: {e}") from e
            baseline.append((one.start_ns, one.end_ns))
    store: Store = request.app.state.store
    try:
        causes, used = rank_window(store, w.start_ns, w.end_ns, baseline=baseline)
    except ValueError as e:
        raise BadRequest(str(e)) from e
    return {
        "start_time_unix_nano": w.start_ns,
        "end_time_unix_nano": w.end_ns,
        # The windows the change was judged against: those given, or the recent clean ones picked.
        "baselines": [{"start_time_unix_nano": lo, "end_time_unix_nano": hi} for lo, hi in used],
        "baselines_picked": baseline is None,
        "causes": [c.to_json() for c in causes],
    }


class WindowRequest(BaseModel):
    start: Time = Field(description="RFC 3339, Unix ns, or now-1h")
    end: Time = Field(description="RFC 3339, Unix ns, or now")


class ScoreRequest(WindowRequest):
    version: int | None = Field(default=None, description="Model version (default: the latest)")
    limit: int = Field(default=100, ge=1, le=10_000, description="Flagged traces to return at most")


class FeedbackRequest(BaseModel):
    trace_id: str = Field(description="A trace a model flagged")
    verdict: str = Field(default="normal", description="'normal' (a false positive) or 'anomalous'")
    version: int | None = Field(default=None, description="The model version that flagged it")
    note: str = ""


@router.post("/models/train", tags=["analysis"], dependencies=[requires(Role.editor)])
def train_model(request: Request, body: WindowRequest) -> dict[str, Any]:
    """Trains the next version of the trace autoencoder on [start, end) (a normal period) plus the
    traces marked normal through feedback."""
    w = window(_text(body.start), _text(body.end))
    try:
        info = autoencoder_store.train(request.app.state.store, w.start_ns, w.end_ns)
    except ValueError as e:
        raise BadRequest(str(e)) from e
    return info.to_json()


@router.get("/models", tags=["analysis"])
def models(request: Request) -> dict[str, Any]:
    """Trained trace autoencoders, newest first."""
    return {"models": [m.to_json() for m in autoencoder_store.list_models(request.app.state.store)]}


@router.post("/models/score", tags=["analysis"], dependencies=[requires(Role.viewer)])
def score_traces(request: Request, body: ScoreRequest) -> dict[str, Any]:
    """The window's traces through a model: those flagged, worst first, each with the features
    that contributed most to its reconstruction error."""
    w = window(_text(body.start), _text(body.end))
    try:
        return autoencoder_store.score(request.app.state.store, w.start_ns, w.end_ns, body.version, body.limit)
    except LookupError as e:
        raise NotFound(str(e)) from e


@router.post("/models/feedback", tags=["analysis"], dependencies=[requires(Role.editor)])
def feedback(request: Request, body: FeedbackRequest) -> dict[str, Any]:
    """A verdict on a flagged trace; 'normal' ones are trained on as normal by the next model."""
    trace_id = hex_id(body.trace_id, 32, "trace_id")
    try:
        autoencoder_store.add_feedback(request.app.state.store, trace_id, body.verdict, body.version, body.note)
    except ValueError as e:
        raise BadRequest(str(e)) from e
    return {"trace_id": trace_id, "verdict": body.verdict}
