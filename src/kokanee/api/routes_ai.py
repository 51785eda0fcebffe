"""The AI layer over HTTP: questions to SQL, model interactions and their comparison, the AI
settings (read, saved, forgotten), grounded explanations, generated dashboards and the
architecture review."""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from kokanee.ai.ask import ask
from kokanee.ai.config import TASKS, AiConfig, AiConfigError
from kokanee.ai.dashboards import DashboardSpec, Role, delete, generate, list_dashboards, save
from kokanee.ai.dashboards import get as get_saved
from kokanee.ai.evidence import EvidenceSet, for_incident, for_service, for_trace
from kokanee.ai.interactions import compare_models, list_interactions
from kokanee.ai.naming import name_paths
from kokanee.ai.narrative import explain
from kokanee.ai.providers.base import ChatRequest, Message, ProviderError
from kokanee.ai.review import review
from kokanee.ai.review_summary import summarize
from kokanee.ai.router import Router
from kokanee.ai.settings import AiSettings
from kokanee.api.auth.access import requires
from kokanee.api.auth.roles import Role as UserRole  # Role here is a dashboard's audience
from kokanee.api.errors import BadRequest, NotFound
from kokanee.api.params import hex_id, window
from kokanee.api.routes_query import _json_value
from kokanee.store.client import Store
from kokanee.store.reads.entry_traces import top_entry_operations
from kokanee.store.timeparse import now_ns

router = APIRouter(prefix="/api/v1")


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _router(request: Request) -> Router | None:
    ai: Router | None = getattr(request.app.state, "ai_router", None)
    return ai


class AskBody(BaseModel):
    question: str = Field(min_length=1, max_length=2000, description="A question about the telemetry, in words")


@router.post("/ask", tags=["ai"], dependencies=[requires(UserRole.viewer)])
def ask_question(request: Request, body: AskBody) -> dict[str, Any]:
    """The answer: SQL, rows, a chart kind chosen from the result's shape, and a sentence.

    `answered` false (still 200) when neither the deterministic parser nor a model could answer;
    `needs_model` says a configured model would."""
    return ask(_store(request), _router(request), body.question.strip()).to_json(_json_value)


@router.get("/ai/interactions", tags=["ai"])
def interactions(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    task: str | None = None,
    conversation: str | None = None,
) -> dict[str, Any]:
    """Every model call (and deterministic fallback), newest first: prompt, reply, latency, tokens, cost, outcome."""
    return {"interactions": list_interactions(_store(request), limit, task, conversation)}


@router.get("/ai/models", tags=["ai"])
def models(request: Request, hours: Annotated[int, Query(ge=1, le=24 * 365)] = 24 * 30) -> dict[str, Any]:
    """Per task and model: calls, success rate, latency percentiles, tokens and cost."""
    return {"models": compare_models(_store(request), hours)}


def _config_body(ai: Router | None, source: str) -> dict[str, Any]:
    """The live configuration: as shown (providers never with their keys, each task's chain and its
    budget use today) and, under `settings`, in the shape PUT takes back."""
    config = ai.config if ai is not None else AiConfig.model_validate({})
    if ai is None:
        return {"configured": False, "source": "none", "providers": [], "tasks": [], "settings": _editable(config)}
    tasks = []
    for task in TASKS:
        route = config.route(task)
        tokens, cost = ai.budget.used(task)
        tasks.append({
            "task": task, "models": route.models, "max_tokens": route.max_tokens,
            "budget_tokens_per_day": route.budget_tokens_per_day, "budget_usd_per_day": route.budget_usd_per_day,
            "tokens_today": tokens, "cost_usd_today": round(cost, 6),
        })  # fmt: skip
    providers = [
        {"name": name, "kind": p.kind, "base_url": p.base_url, "api_key_env": p.api_key_env,
         "has_key": bool(p.key(os.environ)), "timeout_s": p.timeout_s, "max_retries": p.max_retries}
        for name, p in config.providers.items()
    ]  # fmt: skip
    return {
        "configured": config.configured, "source": source, "providers": providers, "tasks": tasks,
        "settings": _editable(config),
    }  # fmt: skip


def _editable(config: AiConfig) -> dict[str, Any]:
    # Keys stay on the server: a PUT that leaves `api_key` out keeps the stored one.
    body = config.model_dump()
    for provider in body["providers"].values():
        del provider["api_key"]
    return body


def _live(request: Request) -> tuple[AiSettings, Router]:
    """The server builds both at start; an app made without them (tests, embedding) gets them here."""
    state = request.app.state
    settings: AiSettings | None = getattr(state, "ai_settings", None)
    if settings is None:
        settings = state.ai_settings = AiSettings(_store(request), None)
    ai = _router(request)
    if ai is None:
        ai = state.ai_router = Router(settings.effective(), _store(request))
    return settings, ai


def _source(request: Request) -> str:
    settings: AiSettings | None = getattr(request.app.state, "ai_settings", None)
    return settings.source if settings is not None else "none"


@router.get("/ai/config", tags=["ai"])
def ai_config(request: Request) -> dict[str, Any]:
    """Configured providers (never their keys), each task's model chain and its budget use today;
    `source` says where the configuration comes from: `ui` (saved here), `file`, `env` or `none`;
    `settings` is the editable form that PUT takes."""
    return _config_body(_router(request), _source(request))


@router.put("/ai/config", tags=["ai"], dependencies=[requires(UserRole.admin)])
def put_ai_config(request: Request, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Saves AI settings (the `--ai-config` file's shape as JSON: providers, tasks, prices, repairs)
    and routes by them at once, no restart; they win over the file and environment from now on.
    A provider without `api_key` keeps its stored key (same name, protocol and base URL); keys are
    never returned. 400 naming the key when something is wrong, and then nothing changes."""
    settings, ai = _live(request)
    try:
        settings.apply(ai, body)
    except AiConfigError as e:
        raise BadRequest(str(e)) from e
    return _config_body(ai, settings.source)


@router.delete("/ai/config", tags=["ai"], dependencies=[requires(UserRole.admin)])
def delete_ai_config(request: Request) -> dict[str, Any]:
    """Forgets the settings saved here: back to `--ai-config` and the environment (read again)."""
    settings, ai = _live(request)
    try:
        settings.revert(ai)
    except AiConfigError as e:
        raise BadRequest(str(e)) from e
    return _config_body(ai, settings.source)


class ProbeBody(BaseModel):
    provider: str = Field(min_length=1, description="a configured provider's name")
    model: str = Field(min_length=1, description="a model it serves")


@router.post("/ai/config/test", tags=["ai"], dependencies=[requires(UserRole.admin)])
def probe_provider(request: Request, body: ProbeBody) -> dict[str, Any]:
    """Sends one tiny chat request to a configured provider: `ok` with the reply, or the error, and
    the latency. Not recorded as an interaction and not counted against budgets."""
    ai = _router(request)
    provider = ai.providers.get(body.provider) if ai is not None else None
    if provider is None:
        raise NotFound(f"provider {body.provider!r} is not configured")
    started = time.monotonic()
    try:
        reply = provider.chat(body.model, ChatRequest((Message("user", "Reply with the word ok."),), max_tokens=8))
    except ProviderError as e:
        return {"ok": False, "error": str(e), "latency_ms": round((time.monotonic() - started) * 1000, 1)}
    return {
        "ok": True, "reply": reply.text[:200], "model": reply.model,
        "latency_ms": round((time.monotonic() - started) * 1000, 1),
    }  # fmt: skip


Start = Annotated[str | None, Query(description="RFC 3339, Unix ns, or now-15m (default: end - 1h)")]
End = Annotated[str | None, Query(description="RFC 3339, Unix ns, or now (default: now)")]
Stream = Annotated[bool, Query(description="server-sent events: evidence, the model's text as written, the result")]


def _explained(request: Request, ev: EvidenceSet, stream: bool) -> Any:
    ai = _router(request)
    if not stream:
        return {**ev.to_json(), "narrative": explain(ev, ai)}
    events: queue.Queue[tuple[str, Any] | None] = queue.Queue()

    def work() -> None:
        try:
            narrative = explain(ev, ai, on_delta=lambda text: events.put(("delta", {"text": text})))
            events.put(("narrative", narrative))
        except Exception as e:  # the stream must end with a reason, not hang
            events.put(("error", {"error": f"{type(e).__name__}: {e}"}))
        finally:
            events.put(None)

    def sse() -> Iterator[str]:
        yield f"event: evidence\ndata: {json.dumps(ev.to_json(), default=str)}\n\n"
        threading.Thread(target=work, name="kokanee-explain", daemon=True).start()
        while (item := events.get()) is not None:
            yield f"event: {item[0]}\ndata: {json.dumps(item[1], default=str)}\n\n"

    return StreamingResponse(sse(), media_type="text/event-stream")


@router.get("/explain/services/{name}", tags=["ai"])
def explain_service(request: Request, name: str, start: Start = None, end: End = None, stream: Stream = False) -> Any:
    """A narrative of one service's health from the evidence (RED against baseline, health, operations,
    edges, errors, anomalies and causes), each sentence citing evidence ids. A model's narrative is
    verified (unsupported sentences removed); without a model, a template narrative."""
    w = window(start, end)
    slo = getattr(request.app.state, "slo", None)
    ev = for_service(_store(request), name, w.start_ns, w.end_ns, slo)
    if not ev.items:
        raise NotFound(f"service {name!r} served no requests between start and end")
    return _explained(request, ev, stream)


@router.get("/explain/traces/{trace_id}", tags=["ai"])
def explain_trace(request: Request, trace_id: str, stream: Stream = False) -> Any:
    """A narrative of one trace: where it spent its time (critical path), its slowest and failed spans."""
    ev = for_trace(_store(request), hex_id(trace_id, 32, "trace_id"))
    if ev is None:
        raise NotFound(f"trace {trace_id} not found")
    return _explained(request, ev, stream)


@router.get("/explain/incidents/{incident_id}", tags=["ai"])
def explain_incident(request: Request, incident_id: str, stream: Stream = False) -> Any:
    """A narrative of an incident: its services' health and RED, anomalies and ranked causes."""
    slo = getattr(request.app.state, "slo", None)
    ev = for_incident(_store(request), incident_id, now_ns(), slo)
    if ev is None:
        raise NotFound(f"incident {incident_id!r} not found")
    return _explained(request, ev, stream)


class GenerateBody(BaseModel):
    role: Role = Field(description="sre, developer or manager")


@router.get("/dashboards", tags=["dashboards"])
def dashboards(request: Request) -> dict[str, Any]:
    """Saved dashboards, newest first."""
    return {"dashboards": list_dashboards(_store(request))}


@router.post("/dashboards/generate", tags=["dashboards"], dependencies=[requires(UserRole.editor)])
def generate_dashboard(request: Request, body: GenerateBody) -> dict[str, Any]:
    """Generates a dashboard for a role from the data present (a model when one is routed for
    `dashboard`, heuristics otherwise), saves it and returns it."""
    spec, source, problems = generate(_store(request), _router(request), body.role)
    dashboard_id = save(_store(request), spec, source=source)
    return {"id": dashboard_id, "source": source, "spec": spec.model_dump(), "model_problems": problems}


@router.post("/dashboards", tags=["dashboards"], dependencies=[requires(UserRole.editor)])
def create_dashboard(request: Request, spec: DashboardSpec) -> dict[str, Any]:
    """Saves a new dashboard; every panel's query must pass the SQL sandbox."""
    return {"id": save(_store(request), spec), "spec": spec.model_dump()}


@router.get("/dashboards/{dashboard_id}", tags=["dashboards"])
def get_dashboard(request: Request, dashboard_id: str) -> dict[str, Any]:
    found = get_saved(_store(request), dashboard_id)
    if found is None:
        raise NotFound(f"dashboard {dashboard_id!r} not found")
    return found


@router.put("/dashboards/{dashboard_id}", tags=["dashboards"], dependencies=[requires(UserRole.editor)])
def update_dashboard(request: Request, dashboard_id: str, spec: DashboardSpec) -> dict[str, Any]:
    """Replaces a dashboard's spec (validated as on create)."""
    if get_saved(_store(request), dashboard_id) is None:
        raise NotFound(f"dashboard {dashboard_id!r} not found")
    save(_store(request), spec, dashboard_id)
    return {"id": dashboard_id, "spec": spec.model_dump()}


@router.delete("/dashboards/{dashboard_id}", tags=["dashboards"], dependencies=[requires(UserRole.editor)])
def delete_dashboard(request: Request, dashboard_id: str) -> dict[str, Any]:
    if not delete(_store(request), dashboard_id):
        raise NotFound(f"dashboard {dashboard_id!r} not found")
    return {"deleted": dashboard_id}


@router.get("/review", tags=["ai"])
def architecture_review(
    request: Request,
    start: Start = None,
    end: End = None,
    entries: Annotated[int, Query(ge=1, le=50, description="heaviest entry operations sampled")] = 10,
    per_entry: Annotated[int, Query(ge=1, le=500, description="newest traces per entry")] = 50,
) -> dict[str, Any]:
    """Findings of the deterministic detectors over sampled traces (N+1, chatty edges, deep chains,
    fan-out, retry storms, long tails, single points of failure, swallowed or re-thrown errors),
    ranked, with evidence and sample traces; `narrative` summarises them with recommendations
    (a model's, verified against the findings, or a template)."""
    w = window(start, end)
    report = review(_store(request), w.start_ns, w.end_ns, entries, per_entry)
    return {**report, "narrative": summarize(report, _router(request))}


@router.get("/ai/path-names", tags=["ai"])
def path_names(
    request: Request,
    start: Start = None,
    end: End = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """Business names for the heaviest entry operations (critical request paths): a model's when
    one is routed for `naming`, route-based otherwise."""
    w = window(start, end)
    entries = top_entry_operations(_store(request), w.start_ns, w.end_ns, None, limit)
    names, source = name_paths([e.label for e in entries], _router(request))
    return {
        "source": source,
        "paths": [{"service": e.service, "operation": e.operation, "label": e.label, "name": names[e.label]}
                  for e in entries],
    }  # fmt: skip
