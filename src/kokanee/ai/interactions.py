"""The record of every model interaction: written after each call, listed and compared per model."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from kokanee.store.client import Store, StoreUnavailable

log = logging.getLogger(__name__)

OUTCOMES = ("ok", "rejected", "error", "timeout", "budget", "fallback")


@dataclass(frozen=True)
class Interaction:
    task: str
    provider: str
    model: str
    prompt: str
    response: str
    latency_ms: float
    input_tokens: int
    output_tokens: int
    cost_usd: float
    outcome: str  # one of OUTCOMES
    detail: str = ""
    conversation_id: str = ""
    interaction_id: str = field(default_factory=lambda: uuid.uuid4().hex)


_COLUMNS = (
    "InteractionId, ConversationId, Task, Provider, Model, Prompt, Response, LatencyMs, InputTokens, "
    "OutputTokens, CostUsd, Outcome, Detail"
)


def record(store: Store, item: Interaction) -> None:
    """Stores one interaction; a store that cannot write loses the record, never the answer."""
    try:
        store.command(
            f"INSERT INTO kokanee_ai_interactions (At, {_COLUMNS}) VALUES (now64(3), {{id:String}}, {{conv:String}}, "
            "{task:String}, {provider:String}, {model:String}, {prompt:String}, {response:String}, "
            "{latency:Float64}, {inp:UInt32}, {out:UInt32}, {cost:Float64}, {outcome:String}, {detail:String})",
            parameters={
                "id": item.interaction_id, "conv": item.conversation_id, "task": item.task,
                "provider": item.provider, "model": item.model, "prompt": item.prompt, "response": item.response,
                "latency": item.latency_ms, "inp": item.input_tokens, "out": item.output_tokens,
                "cost": item.cost_usd, "outcome": item.outcome, "detail": item.detail[:2000],
            },
        )  # fmt: skip
    except StoreUnavailable:
        log.warning("could not record an AI interaction (store unavailable)")


def list_interactions(
    store: Store, limit: int = 100, task: str | None = None, conversation: str | None = None
) -> list[dict[str, Any]]:
    where = ["1"]
    params: dict[str, Any] = {"limit": limit}
    if task:
        where.append("Task = {task:String}")
        params["task"] = task
    if conversation:
        where.append("ConversationId = {conv:String}")
        params["conv"] = conversation
    rows = store.query(
        f"SELECT toUnixTimestamp64Milli(At) AS at_ms, {_COLUMNS} FROM kokanee_ai_interactions "
        f"WHERE {' AND '.join(where)} ORDER BY At DESC LIMIT {{limit:UInt32}}",
        parameters=params,
    ).dicts()
    return [
        {
            "at_unix_ms": int(r["at_ms"]), "id": r["InteractionId"], "conversation_id": r["ConversationId"],
            "task": r["Task"], "provider": r["Provider"], "model": r["Model"], "prompt": r["Prompt"],
            "response": r["Response"], "latency_ms": round(float(r["LatencyMs"]), 1),
            "input_tokens": int(r["InputTokens"]), "output_tokens": int(r["OutputTokens"]),
            "cost_usd": float(r["CostUsd"]), "outcome": r["Outcome"], "detail": r["Detail"],
        }
        for r in rows
    ]  # fmt: skip


def compare_models(store: Store, since_hours: int = 24 * 30) -> list[dict[str, Any]]:
    """Per task, provider and model: calls, success share, latency percentiles, tokens and cost."""
    rows = store.query(
        """SELECT Task, Provider, Model, count() AS calls, countIf(Outcome = 'ok') AS ok,
            countIf(Outcome = 'rejected') AS rejected, countIf(Outcome IN ('error', 'timeout')) AS failed,
            quantile(0.5)(LatencyMs) AS p50, quantile(0.95)(LatencyMs) AS p95,
            sum(InputTokens) AS input_tokens, sum(OutputTokens) AS output_tokens, sum(CostUsd) AS cost
        FROM kokanee_ai_interactions WHERE At >= now64(3) - toIntervalHour({h:UInt32})
        GROUP BY Task, Provider, Model ORDER BY Task, calls DESC""",
        parameters={"h": since_hours},
    ).dicts()
    return [
        {
            "task": r["Task"], "provider": r["Provider"], "model": r["Model"], "calls": int(r["calls"]),
            "ok": int(r["ok"]), "rejected": int(r["rejected"]), "failed": int(r["failed"]),
            "success_rate": round(int(r["ok"]) / int(r["calls"]), 4) if r["calls"] else 0.0,
            "p50_latency_ms": round(float(r["p50"]), 1), "p95_latency_ms": round(float(r["p95"]), 1),
            "input_tokens": int(r["input_tokens"]), "output_tokens": int(r["output_tokens"]),
            "cost_usd": round(float(r["cost"]), 6),
        }
        for r in rows
    ]  # fmt: skip


def usage_today(store: Store) -> dict[str, tuple[int, float]]:
    """Tokens and cost per task over the last 24 hours: where the budgets start after a restart."""
    rows = store.query(
        "SELECT Task, sum(InputTokens + OutputTokens), sum(CostUsd) FROM kokanee_ai_interactions "
        "WHERE At >= now64(3) - INTERVAL 1 DAY GROUP BY Task"
    ).rows
    return {str(r[0]): (int(r[1]), float(r[2])) for r in rows}
