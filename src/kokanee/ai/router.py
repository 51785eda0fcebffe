"""Routing a task to a model: the task's model list tried in order (a provider that fails or a
task over its budget moves on to the next), every call recorded, and None at the end of the chain
so the caller falls back to kokanee's deterministic analysis."""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from kokanee.ai.config import AiConfig
from kokanee.ai.interactions import Interaction, record, usage_today
from kokanee.ai.providers.anthropic import DEFAULT_BASE_URL, Anthropic
from kokanee.ai.providers.base import ChatRequest, ChatResponse, OnDelta, Provider, ProviderError
from kokanee.ai.providers.http import HttpPolicy
from kokanee.ai.providers.openai import OpenAICompatible
from kokanee.store.client import QueryError, Store, StoreUnavailable

log = logging.getLogger(__name__)

_DAY_S = 86_400.0
Check = Callable[[str], str | None]  # the reply's problem, or None when it is usable


@dataclass(frozen=True)
class Attempt:
    provider: str
    model: str
    outcome: str
    detail: str
    latency_ms: float


@dataclass
class Routed:
    """The reply of the first model that answered (`rejection` set when `check` refused it), or
    `response` None when no model answered; `attempts` lists every try."""

    response: ChatResponse | None = None
    provider: str = ""
    model: str = ""
    rejection: str | None = None
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.response is not None and self.rejection is None


def build_providers(config: AiConfig, env: Mapping[str, str] | None = None) -> dict[str, Provider]:
    env = os.environ if env is None else env
    providers: dict[str, Provider] = {}
    for name, p in config.providers.items():
        policy = HttpPolicy(timeout_s=p.timeout_s, max_retries=p.max_retries)
        if p.kind == "openai":
            providers[name] = OpenAICompatible(name, p.base_url, p.key(env), policy)
        else:
            providers[name] = Anthropic(name, p.key(env), p.base_url or DEFAULT_BASE_URL, policy)
    return providers


class _Budget:
    """Tokens and dollars spent per task over a sliding day."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._spent: dict[str, collections.deque[tuple[float, int, float]]] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def add(self, task: str, tokens: int, cost: float) -> None:
        with self._lock:
            self._spent[task].append((self._clock(), tokens, cost))

    def used(self, task: str) -> tuple[int, float]:
        with self._lock:
            entries = self._spent[task]
            while entries and entries[0][0] < self._clock() - _DAY_S:
                entries.popleft()
            return sum(e[1] for e in entries), sum(e[2] for e in entries)


class Router:
    def __init__(
        self,
        config: AiConfig,
        store: Store | None,
        providers: dict[str, Provider] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.store = store
        self.providers = providers if providers is not None else build_providers(config)
        self.budget = _Budget(clock)
        self._swap = threading.Lock()
        if store is not None:
            try:
                for task, (tokens, cost) in usage_today(store).items():
                    self.budget.add(task, tokens, cost)
            except (QueryError, StoreUnavailable):
                log.warning("AI budgets start at zero: the interactions table could not be read")

    def reconfigure(self, config: AiConfig, providers: dict[str, Provider] | None = None) -> None:
        """Routes by `config` from now on (settings saved from the UI, no restart). Budgets spent
        today carry over; a call already under way finishes on the providers it started with."""
        built = providers if providers is not None else build_providers(config)
        with self._swap:
            self.config, self.providers = config, built

    def _current(self) -> tuple[AiConfig, dict[str, Provider]]:
        # One call sees one configuration: a route from the old one never meets the new providers.
        with self._swap:
            return self.config, self.providers

    def configured(self, task: str) -> bool:
        return bool(self.config.route(task).models)

    def models(self, task: str) -> list[str]:
        return list(self.config.route(task).models)

    def cost(self, ref: str, input_tokens: int, output_tokens: int, config: AiConfig | None = None) -> float:
        price = (config or self.config).prices.get(ref)
        if price is None:
            return 0.0
        return (input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok) / 1e6

    def _over_budget(self, task: str, config: AiConfig) -> str | None:
        route = config.route(task)
        tokens, cost = self.budget.used(task)
        if route.budget_tokens_per_day is not None and tokens >= route.budget_tokens_per_day:
            return f"task {task} used {tokens} of {route.budget_tokens_per_day} tokens today"
        if route.budget_usd_per_day is not None and cost >= route.budget_usd_per_day:
            return f"task {task} spent ${cost:.4f} of ${route.budget_usd_per_day:g} today"
        return None

    def _record(self, item: Interaction) -> None:
        if self.store is not None:
            record(self.store, item)

    def complete(
        self,
        task: str,
        request: ChatRequest,
        check: Check | None = None,
        conversation_id: str = "",
        on_delta: OnDelta | None = None,
    ) -> Routed:
        config, providers = self._current()
        route = config.route(task)
        request = replace(request, max_tokens=min(request.max_tokens, route.max_tokens))
        prompt = request.prompt_text()
        routed = Routed()
        for ref in route.models:
            provider_name, _, model = ref.partition("/")
            over = self._over_budget(task, config)
            if over is not None:
                routed.attempts.append(Attempt(provider_name, model, "budget", over, 0.0))
                self._record(Interaction(task, provider_name, model, prompt, "", 0.0, 0, 0, 0.0, "budget", over,
                                         conversation_id))  # fmt: skip
                continue
            provider = providers[provider_name]
            started = time.monotonic()
            try:
                if on_delta is not None:
                    response = provider.stream(model, request, on_delta)
                else:
                    response = provider.chat(model, request)
            except ProviderError as e:
                latency = (time.monotonic() - started) * 1000
                outcome = "timeout" if "timed out" in str(e) else "error"
                routed.attempts.append(Attempt(provider_name, model, outcome, str(e), latency))
                self._record(Interaction(task, provider_name, model, prompt, "", latency, 0, 0, 0.0, outcome, str(e),
                                         conversation_id))  # fmt: skip
                log.info("%s via %s failed (%s); trying the next model", task, ref, e)
                continue
            latency = (time.monotonic() - started) * 1000
            cost = self.cost(ref, response.input_tokens, response.output_tokens, config)
            self.budget.add(task, response.input_tokens + response.output_tokens, cost)
            rejection = check(response.text) if check is not None else None
            outcome = "ok" if rejection is None else "rejected"
            routed.attempts.append(Attempt(provider_name, model, outcome, rejection or "", latency))
            self._record(
                Interaction(task, provider_name, response.model or model, prompt, response.text, latency,
                            response.input_tokens, response.output_tokens, cost, outcome, rejection or "",
                            conversation_id)
            )  # fmt: skip
            routed.response, routed.provider, routed.model, routed.rejection = response, provider_name, model, rejection
            return routed
        return routed

    def record_fallback(self, task: str, prompt: str, answer: str, detail: str, conversation_id: str = "") -> None:
        """The deterministic answer given instead of (or without) a model, recorded like a model's."""
        self._record(Interaction(task, "kokanee", "deterministic", prompt, answer, 0.0, 0, 0, 0.0, "fallback", detail,
                                 conversation_id))  # fmt: skip
