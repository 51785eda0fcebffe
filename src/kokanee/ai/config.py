"""Which models kokanee may use, for which task: a TOML file (`--ai-config`) and/or environment.

```toml
[providers.local]                 # any OpenAI-compatible endpoint
kind = "openai"
base_url = "http://127.0.0.1:8000/v1"
api_key_env = "LOCAL_KEY"         # or api_key = "..." (optional for local servers)
timeout_s = 60
max_retries = 2

[providers.claude]
kind = "anthropic"
api_key_env = "ANTHROPIC_API_KEY"

[tasks.default]                   # any task without its own table
models = ["local/qwen2.5-7b"]
[tasks.sql]
models = ["local/qwen2.5-coder", "claude/claude-sonnet-4-5"]   # tried in order
max_tokens = 512
budget_tokens_per_day = 200000    # past it, the task falls back to kokanee's own analysis
budget_usd_per_day = 2.0

[prices."claude/claude-sonnet-4-5"]
input_per_mtok = 3.0
output_per_mtok = 15.0
```

Without a file, the environment can add one provider of each kind, used for every task:
`KOKANEE_OPENAI_BASE_URL`, `KOKANEE_OPENAI_MODEL`, `KOKANEE_OPENAI_API_KEY`;
`KOKANEE_ANTHROPIC_API_KEY`, `KOKANEE_ANTHROPIC_MODEL`, `KOKANEE_ANTHROPIC_BASE_URL`.

Settings saved from the UI (`PUT /api/v1/ai/config`, the same shape as JSON) replace both while
they exist; see kokanee.ai.settings.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

TASKS = ("analysis", "sql", "summary", "dashboard", "naming")
# A route names `provider/model`, so a provider's name cannot hold a slash (or be empty).
_PROVIDER_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class AiConfigError(ValueError):
    """The AI configuration is wrong; the message names the key."""


class ProviderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["openai", "anthropic"]
    base_url: str = ""
    api_key: str = ""
    api_key_env: str = ""
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(2, ge=0, le=10)

    @model_validator(mode="after")
    def _openai_needs_url(self) -> ProviderConfig:
        if self.kind == "openai" and not self.base_url:
            raise ValueError("an openai-compatible provider needs base_url (e.g. http://127.0.0.1:8000/v1)")
        return self

    def key(self, env: Mapping[str, str]) -> str:
        return self.api_key or (env.get(self.api_key_env, "") if self.api_key_env else "")


class TaskConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[str] = Field(default_factory=list, description="provider/model, tried in order")
    max_tokens: int = Field(1024, gt=0)
    budget_tokens_per_day: int | None = Field(None, gt=0)
    budget_usd_per_day: float | None = Field(None, gt=0)


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_per_mtok: float = Field(0.0, ge=0)
    output_per_mtok: float = Field(0.0, ge=0)


class AiConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    tasks: dict[str, TaskConfig] = Field(default_factory=dict)
    prices: dict[str, Price] = Field(default_factory=dict)
    repairs: int = Field(2, ge=0, le=3, description="times a refused or failing SQL goes back to the model")

    @model_validator(mode="after")
    def _routes_name_known_providers(self) -> AiConfig:
        for name in self.providers:
            if not _PROVIDER_NAME.fullmatch(name):
                raise ValueError(f"providers.{name}: a provider's name is letters, digits, '-', '_' or '.'")
        for task, route in self.tasks.items():
            if task != "default" and task not in TASKS:
                raise ValueError(f"tasks.{task}: unknown task; tasks are default, {', '.join(TASKS)}")
            for ref in route.models:
                provider, _, model = ref.partition("/")
                if not model:
                    raise ValueError(f"tasks.{task}: {ref!r} must be provider/model")
                if provider not in self.providers:
                    raise ValueError(f"tasks.{task}: provider {provider!r} is not configured")
        return self

    def route(self, task: str) -> TaskConfig:
        return self.tasks.get(task) or self.tasks.get("default") or TaskConfig.model_validate({})

    @property
    def configured(self) -> bool:
        return any(self.route(t).models for t in TASKS)


def describe(e: ValidationError) -> str:
    """Pydantic's problems in the user's keys: `providers.local.kind: Input should be ...`."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'ai config'}: {err['msg'].removeprefix('Value error, ')}"
        for err in e.errors()
    )


def _from_env(env: Mapping[str, str]) -> dict[str, object]:
    providers: dict[str, object] = {}
    models: list[str] = []
    if env.get("KOKANEE_OPENAI_BASE_URL"):
        providers["openai"] = {"kind": "openai", "base_url": env["KOKANEE_OPENAI_BASE_URL"],
                               "api_key_env": "KOKANEE_OPENAI_API_KEY"}  # fmt: skip
        models.append(f"openai/{env.get('KOKANEE_OPENAI_MODEL') or 'default'}")
    if env.get("KOKANEE_ANTHROPIC_API_KEY"):
        anthropic: dict[str, str] = {"kind": "anthropic", "api_key_env": "KOKANEE_ANTHROPIC_API_KEY"}
        if env.get("KOKANEE_ANTHROPIC_BASE_URL"):
            anthropic["base_url"] = env["KOKANEE_ANTHROPIC_BASE_URL"]
        providers["anthropic"] = anthropic
        models.append(f"anthropic/{env.get('KOKANEE_ANTHROPIC_MODEL') or 'claude-sonnet-4-5'}")
    return {"providers": providers, "tasks": {"default": {"models": models}} if models else {}}


def load_ai_config(path: Path | None, env: Mapping[str, str] | None = None) -> AiConfig:
    """The file's settings, with providers from the environment added where the file has none."""
    env = os.environ if env is None else env
    data: dict[str, object] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise AiConfigError(f"{path}: {e}") from e
    from_env = _from_env(env)
    providers = dict(from_env["providers"])  # type: ignore[call-overload]
    providers.update(data.get("providers") or {})  # type: ignore[call-overload]
    tasks = dict(from_env["tasks"])  # type: ignore[call-overload]
    tasks.update(data.get("tasks") or {})  # type: ignore[call-overload]
    try:
        return AiConfig(**{**data, "providers": providers, "tasks": tasks})  # type: ignore[arg-type]
    except ValidationError as e:
        where = f"{path}: " if path else ""
        raise AiConfigError(where + describe(e)) from e
