"""The provider interface: a chat request in, a reply with token counts out, optionally streamed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Message:
    role: str  # user | assistant
    content: str


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[Message, ...]
    system: str = ""
    max_tokens: int = 512
    temperature: float = 0.0
    stop: tuple[str, ...] = field(default_factory=tuple)

    def prompt_text(self) -> str:
        """The whole prompt as one text, the way it is recorded."""
        parts = [f"[system]\n{self.system}"] if self.system else []
        parts += [f"[{m.role}]\n{m.content}" for m in self.messages]
        return "\n\n".join(parts)


@dataclass(frozen=True)
class ChatResponse:
    text: str
    model: str
    input_tokens: int
    output_tokens: int
    finish_reason: str = ""


class ProviderError(RuntimeError):
    """A call failed. `retryable`: worth trying again (429, 5xx, network); `status`: HTTP status."""

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


OnDelta = Callable[[str], None]


class Provider(Protocol):
    name: str
    kind: str

    def chat(self, model: str, request: ChatRequest) -> ChatResponse:
        """One reply, whole."""
        ...

    def stream(self, model: str, request: ChatRequest, on_delta: OnDelta) -> ChatResponse:
        """The reply as it is written: `on_delta` gets each piece of text; returns the whole."""
        ...
