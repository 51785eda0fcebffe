"""Any OpenAI-compatible chat-completions endpoint: OpenAI, vLLM, Ollama, LM Studio, llama.cpp's
server. `POST {base_url}/chat/completions`, bearer key, streaming as server-sent events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from kokanee.ai.providers.base import ChatRequest, ChatResponse, OnDelta, ProviderError
from kokanee.ai.providers.http import HttpPolicy, send


class OpenAICompatible:
    kind = "openai"

    def __init__(self, name: str, base_url: str, api_key: str = "", policy: HttpPolicy | None = None) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.policy = policy or HttpPolicy()
        self._client = httpx.Client()

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        return headers

    def _body(self, model: str, request: ChatRequest, stream: bool) -> dict[str, Any]:
        messages = [{"role": "system", "content": request.system}] if request.system else []
        messages += [{"role": m.role, "content": m.content} for m in request.messages]
        body: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def chat(self, model: str, request: ChatRequest) -> ChatResponse:
        url = f"{self.base_url}/chat/completions"
        with send(self._client, url, self._headers(), self._body(model, request, False), self.policy) as response:
            try:
                data = response.json()
                choice = data["choices"][0]
                text = choice["message"].get("content") or ""
            except (ValueError, KeyError, IndexError, TypeError) as e:
                raise ProviderError(f"unexpected reply from {url}: {response.text[:200]}") from e
        usage = data.get("usage") or {}
        return ChatResponse(
            text=text,
            model=str(data.get("model") or model),
            input_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=str(choice.get("finish_reason") or ""),
        )

    def stream(self, model: str, request: ChatRequest, on_delta: OnDelta) -> ChatResponse:
        url = f"{self.base_url}/chat/completions"
        parts: list[str] = []
        usage: dict[str, Any] = {}
        finish = ""
        served_model = model
        with send(self._client, url, self._headers(), self._body(model, request, True), self.policy, True) as response:
            for data in sse_data(response):
                if data == "[DONE]":
                    break
                try:
                    event = json.loads(data)
                except ValueError as e:
                    raise ProviderError(f"unreadable stream event from {url}: {data[:200]}") from e
                served_model = str(event.get("model") or served_model)
                usage = event.get("usage") or usage
                for choice in event.get("choices") or []:
                    delta = (choice.get("delta") or {}).get("content")
                    if delta:
                        parts.append(delta)
                        on_delta(delta)
                    finish = choice.get("finish_reason") or finish
        return ChatResponse(
            text="".join(parts),
            model=served_model,
            input_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=str(finish),
        )


def sse_data(response: httpx.Response) -> Iterator[str]:
    """The `data:` payloads of a server-sent event stream, one per event (multi-line data joined)."""
    lines: list[str] = []
    for line in response.iter_lines():
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
            continue
        if line.startswith("data:"):
            lines.append(line[5:].lstrip(" "))
    if lines:
        yield "\n".join(lines)
