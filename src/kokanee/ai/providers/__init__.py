"""LLM providers: two wire protocols (OpenAI-compatible chat completions, Anthropic Messages)
behind one interface, over plain httpx."""

from kokanee.ai.providers.base import ChatRequest, ChatResponse, Message, Provider, ProviderError

__all__ = ["ChatRequest", "ChatResponse", "Message", "Provider", "ProviderError"]
