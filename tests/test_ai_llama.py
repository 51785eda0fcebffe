"""The OpenAI-compatible protocol against a real server: llama.cpp's (llama-cpp-python) on
loopback with a 270M model. The model answers badly, which is the point: these tests check that
kokanee speaks the protocol (whole and streamed), extracts what it can, sends refused or failing
SQL back for repair, falls back along the chain and finally to its own answers, and records it all."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from kokanee.ai.ask import ask
from kokanee.ai.config import load_ai_config
from kokanee.ai.dashboards import generate
from kokanee.ai.evidence import for_service
from kokanee.ai.interactions import list_interactions
from kokanee.ai.narrative import explain
from kokanee.ai.providers.base import ChatRequest, Message
from kokanee.ai.providers.openai import OpenAICompatible
from kokanee.ai.router import Router
from kokanee.ai.verify import verify
from kokanee.store.client import Store
from tests.llm.llama import MODEL, LlamaServer, start_llama
from tests.llm.spans import Shop
from tests.server import KokaneeServer, free_port

# The model writes slowly on a busy machine; these tests wait for it rather than time out.
pytestmark = pytest.mark.timeout(900)
HELLO = ChatRequest((Message("user", "Write one SQL query that counts the rows of a table."),), max_tokens=24)


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    server = start_llama(tmp_path_factory.mktemp("llama"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shop(chdb_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Shop:
    shop = Shop()
    req, _ = shop.traces(minutes_ago=5, count=10)
    chdb_store.insert_otlp("traces", [req.SerializeToString()], uuid.uuid4().hex, tmp_path_factory.mktemp("spool"))
    return shop


def _router(store: Store, tmp_path: Path, llama: LlamaServer, first: str = "") -> Router:
    chain = ", ".join(f'"{m}"' for m in ([first] if first else []) + [f"llama/{MODEL}"])
    dead = f'[providers.dead]\nkind = "openai"\nbase_url = "http://127.0.0.1:{free_port()}/v1"\nmax_retries = 1\n'
    path = tmp_path / "ai.toml"
    path.write_text(
        f'[providers.llama]\nkind = "openai"\nbase_url = "{llama.base_url}"\ntimeout_s = 240\n{dead}'
        # Few tokens per reply: on a busy 2-core machine the model writes about one token a second.
        f"[tasks.default]\nmodels = [{chain}]\nmax_tokens = 12\n"
    )
    return Router(load_ai_config(path, env={}), store)


def test_chat_completion(llama: LlamaServer) -> None:
    reply = OpenAICompatible("llama", llama.base_url).chat(MODEL, HELLO)
    assert reply.model == MODEL
    assert reply.input_tokens > 5 and 0 < reply.output_tokens <= 24
    assert reply.finish_reason in ("stop", "length") and reply.text.strip()


def test_streamed_completion(llama: LlamaServer) -> None:
    pieces: list[str] = []
    reply = OpenAICompatible("llama", llama.base_url).stream(MODEL, HELLO, pieces.append)
    assert len(pieces) >= 2 and "".join(pieces) == reply.text and reply.text.strip()
    assert reply.finish_reason in ("stop", "length")


def test_a_dead_provider_falls_through_to_llama(chdb_store: Store, tmp_path: Path, llama: LlamaServer) -> None:
    routed = _router(chdb_store, tmp_path, llama, first="dead/m").complete("summary", HELLO)
    assert [(a.provider, a.outcome) for a in routed.attempts] == [("dead", "error"), ("llama", "ok")]
    assert "cannot reach" in routed.attempts[0].detail and routed.ok


def test_sql_repairs_then_fallback_all_recorded(
    chdb_store: Store, tmp_path: Path, llama: LlamaServer, shop: Shop
) -> None:
    answer = ask(chdb_store, _router(chdb_store, tmp_path, llama), f"What is the error rate of {shop.checkout}?")
    outcomes = [a["outcome"] for a in answer.attempts]
    records = list_interactions(chdb_store, 20, conversation=answer.conversation_id)[::-1]  # oldest first
    assert [r["outcome"] for r in records if r["outcome"] != "fallback"] == outcomes
    if outcomes[-1] == "ok":  # the model's SQL passed the sandbox and ran
        assert answer.source == "model" and answer.sql is not None
        return
    assert outcomes == ["rejected"] * 3  # the first try and two repairs
    assert answer.source == "deterministic" and answer.rows == [[shop.checkout, 10, 5, 0.5]]
    assert records[-1]["outcome"] == "fallback" and records[-1]["provider"] == "kokanee"
    for before, after in itertools.pairwise(records[:3]):
        # Each repair carries the previous reply and why it was refused.
        assert before["detail"] in after["prompt"] and "That did not work" in after["prompt"]
    assert all(r["model"] == MODEL and r["input_tokens"] > 100 for r in records[:3])


def test_dashboard_json_is_extracted_and_validated_or_replaced(
    chdb_store: Store, tmp_path: Path, llama: LlamaServer, shop: Shop
) -> None:
    spec, source, problems = generate(chdb_store, _router(chdb_store, tmp_path, llama), "sre")
    if source == "model":
        assert spec.panels and len(problems) <= 1
        return
    assert source == "heuristic" and spec.title == "Service health (SRE)"
    assert len(problems) == 2 and all(("JSON" in p or "invalid" in p) for p in problems)


def test_a_narrative_keeps_only_supported_sentences(
    chdb_store: Store, tmp_path: Path, llama: LlamaServer, shop: Shop
) -> None:
    end = time.time_ns()
    ev = for_service(chdb_store, shop.checkout, end - 15 * 60 * 10**9, end)
    pieces: list[str] = []
    result = explain(ev, _router(chdb_store, tmp_path, llama), on_delta=pieces.append)
    assert pieces  # streamed from the server as it was written
    if result["source"] == "model":
        assert result["text"] and verify(result["text"], ev).removed == []
    else:
        assert result["text"].startswith(f"{shop.checkout} is critical") and result["model"] == f"llama/{MODEL}"
        assert all(not c["supported"] for c in result["claims"])


def test_a_server_with_an_ai_config(
    start_kokanee: Callable[..., KokaneeServer], llama: LlamaServer, tmp_path: Path
) -> None:
    path = tmp_path / "ai.toml"
    path.write_text(f'repairs = 0\n[providers.local]\nkind = "openai"\nbase_url = "{llama.base_url}"\n'
                    f'[tasks.sql]\nmodels = ["local/{MODEL}"]\nmax_tokens = 8\n')  # fmt: skip
    server = start_kokanee("--ai-config", str(path))
    config = server.get("/api/v1/ai/config")
    assert config["configured"] and config["source"] == "file"
    assert [{k: p[k] for k in ("name", "kind", "base_url", "has_key")} for p in config["providers"]] == [
        {"name": "local", "kind": "openai", "base_url": llama.base_url, "has_key": False}
    ]
    assert next(t for t in config["tasks"] if t["task"] == "sql")["models"] == [f"local/{MODEL}"]
    body = httpx.post(f"{server.api_url}/api/v1/ask", json={"question": "p95 latency by service"}, timeout=600).json()
    assert body["answered"] and body["attempts"] and body["attempts"][0]["model"] == MODEL
    listed = server.get("/api/v1/ai/interactions", conversation=body["conversation_id"])["interactions"]
    assert {i["provider"] for i in listed} <= {"local", "kokanee"} and len(listed) >= len(body["attempts"])
    models = server.get("/api/v1/ai/models")["models"]
    assert any(m["provider"] == "local" and m["model"] == MODEL and m["calls"] >= 1 for m in models)
