"""Anthropic's Messages API: `POST {base_url}/v1/messages` with `x-api-key` and
`anthropic-version`; streaming as typed server-sent events (message_start, content_block_delta,
message_delta, message_stop, error)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from kokanee.ai.providers.base import ChatRequest, ChatResponse, OnDelta, ProviderError
from kokanee.ai.providers.http import HttpPolicy, send
from kokanee.ai.providers.openai import sse_data

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_BASE_URL = "https://api.anthropic.com"


class Anthropic:
    kind = "anthropic"

    def __init__(
        self, name: str, api_key: str, base_url: str = DEFAULT_BASE_URL, policy: HttpPolicy | None = None
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.policy = policy or HttpPolicy()
        self._client = httpx.Client()

    def _headers(self) -> dict[str, str]:
        return {"x-api-key": self.api_key, "anthropic-version": ANTHROPIC_VERSION, "content-type": "application/json"}

    def _body(self, model: str, request: ChatRequest, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        if request.system:
            body["system"] = request.system
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        if stream:
            body["stream"] = True
        return body

    def chat(self, model: str, request: ChatRequest) -> ChatResponse:
        url = f"{self.base_url}/v1/messages"
        with send(self._client, url, self._headers(), self._body(model, request, False), self.policy) as response:
            try:
                data = response.json()
                blocks = data["content"]
            except (ValueError, KeyError, TypeError) as e:
                raise ProviderError(f"unexpected reply from {url}: {response.text[:200]}") from e
        usage = data.get("usage") or {}
        return ChatResponse(
            text="".join(b.get("text", "") for b in blocks if b.get("type") == "text"),
            model=str(data.get("model") or model),
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
            finish_reason=str(data.get("stop_reason") or ""),
        )

    def stream(self, model: str, request: ChatRequest, on_delta: OnDelta) -> ChatResponse:
        url = f"{self.base_url}/v1/messages"
        parts: list[str] = []
        input_tokens = output_tokens = 0
        finish = ""
        served_model = model
        with send(self._client, url, self._headers(), self._body(model, request, True), self.policy, True) as response:
            for data in sse_data(response):
                try:
                    event = json.loads(data)
                except ValueError as e:
                    raise ProviderError(f"unreadable stream event from {url}: {data[:200]}") from e
                kind = event.get("type")
                if kind == "message_start":
                    message = event.get("message") or {}
                    served_model = str(message.get("model") or served_model)
                    input_tokens = int((message.get("usage") or {}).get("input_tokens") or 0)
                elif kind == "content_block_delta":
                    delta = event.get("delta") or {}
                    if delta.get("type") == "text_delta" and delta.get("text"):
                        parts.append(delta["text"])
                        on_delta(delta["text"])
                elif kind == "message_delta":
                    finish = str((event.get("delta") or {}).get("stop_reason") or finish)
                    output_tokens = int((event.get("usage") or {}).get("output_tokens") or output_tokens)
                elif kind == "error":
                    err = event.get("error") or {}
                    retryable = err.get("type") in ("overloaded_error", "rate_limit_error", "api_error")
                    raise ProviderError(f"stream error: {err.get('message', err)}", retryable=retryable)
                elif kind == "message_stop":
                    break
        return ChatResponse("".join(parts), served_model, input_tokens, output_tokens, finish)
