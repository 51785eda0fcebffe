"""The providers' wire protocols, retries, the router's fallback chain, budgets and the record of
every interaction. Anthropic's API cannot be reached from here: its client is tested against a
stand-in (tests/llm/standin.py) replaying recorded responses; so are failures (429, 503, hangs)
that a real server will not produce on demand. The OpenAI-compatible protocol is tested against a
real llama.cpp server in test_ai_llama.py."""

from __future__ import annotations

import uuid
from email.utils import formatdate
from pathlib import Path
from time import time

import httpx
import pytest

from kokanee.ai.ask import ask
from kokanee.ai.config import AiConfig, AiConfigError, load_ai_config
from kokanee.ai.interactions import compare_models, list_interactions
from kokanee.ai.providers.anthropic import ANTHROPIC_VERSION, Anthropic
from kokanee.ai.providers.base import ChatRequest, Message, ProviderError
from kokanee.ai.providers.http import HttpPolicy, retry_after_s, send
from kokanee.ai.router import Router
from kokanee.store.client import Store
from tests.llm.spans import Shop
from tests.llm.standin import Reply, StandIn, json_reply, recorded, sse_reply

HELLO = ChatRequest((Message("user", "errors per service?"),), system="be brief", max_tokens=100)


def anthropic_message(text: str, inp: int = 100, out: int = 20) -> Reply:
    return json_reply({
        "id": "msg_x", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
        "usage": {"input_tokens": inp, "output_tokens": out},
    })  # fmt: skip


def test_anthropic_messages_request_and_recorded_reply() -> None:
    with StandIn([Reply(200, recorded("anthropic_message.json"))]) as api:
        reply = Anthropic("claude", "sk-test", api.url).chat("claude-sonnet-4-5", HELLO)
    sent = api.seen[0]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == "sk-test" and sent.headers["anthropic-version"] == ANTHROPIC_VERSION
    assert sent.body == {"model": "claude-sonnet-4-5", "max_tokens": 100, "temperature": 0.0, "system": "be brief",
                         "messages": [{"role": "user", "content": "errors per service?"}]}  # fmt: skip
    assert reply.text.startswith("```sql\nSELECT ServiceName")
    assert (reply.input_tokens, reply.output_tokens, reply.finish_reason) == (1523, 48, "end_turn")
    assert reply.model == "claude-sonnet-4-5-20250929"


def test_anthropic_stream_events() -> None:
    pieces: list[str] = []
    with StandIn([sse_reply("anthropic_stream.sse")]) as api:
        reply = Anthropic("claude", "k", api.url).stream("claude-sonnet-4-5", HELLO, pieces.append)
    assert api.seen[0].body["stream"] is True
    assert pieces == ["checkout is critical: ", "its error rate is 50% [E1]."]
    assert reply.text == "".join(pieces)
    assert (reply.input_tokens, reply.output_tokens, reply.finish_reason) == (472, 15, "end_turn")


def test_an_error_event_mid_stream_is_a_retryable_failure() -> None:
    with StandIn([sse_reply("anthropic_stream_error.sse")]) as api, pytest.raises(ProviderError) as e:
        Anthropic("claude", "k", api.url, HttpPolicy(max_retries=0)).stream("m", HELLO, lambda _: None)
    assert e.value.retryable and "Overloaded" in str(e.value)


def test_retries_honour_retry_after_then_succeed() -> None:
    waits: list[float] = []
    replies = [
        json_reply({"error": {"message": "rate limited"}}, 429, **{"retry-after": "2"}),
        Reply(529, recorded("anthropic_overloaded.json"), {"retry-after": formatdate(time() + 30, usegmt=True)}),
        anthropic_message("ok"),
    ]
    with StandIn(replies) as api, httpx.Client() as client:
        policy = HttpPolicy(max_retries=3, max_wait_s=60)
        with send(client, f"{api.url}/v1/messages", {}, {"a": 1}, policy, sleep=waits.append) as response:
            assert response.json()["content"][0]["text"] == "ok"
    assert len(api.seen) == 3
    assert waits[0] == 2.0 and 28 <= waits[1] <= 30


def test_client_errors_are_not_retried_and_long_waits_give_up() -> None:
    waits: list[float] = []
    with StandIn([json_reply({"error": {"message": "bad key"}}, 401)]) as api, httpx.Client() as client:
        with (
            pytest.raises(ProviderError, match="HTTP 401: bad key") as e,
            send(client, api.url, {}, {}, HttpPolicy(max_retries=3), sleep=waits.append),
        ):
            pass
        assert not e.value.retryable and len(api.seen) == 1
    with StandIn([json_reply({}, 429, **{"retry-after": "3600"})]) as api, httpx.Client() as client:
        with (
            pytest.raises(ProviderError, match="HTTP 429") as e,
            send(client, api.url, {}, {}, HttpPolicy(max_retries=3, max_wait_s=30), sleep=waits.append),
        ):
            pass
        assert e.value.retryable and len(api.seen) == 1 and waits == []
    assert retry_after_s("1.5") == 1.5 and retry_after_s("soon") is None


def _router(store: Store, tmp_path: Path, toml: str, **urls: object) -> Router:
    path = tmp_path / "ai.toml"
    path.write_text(toml.format(**urls))
    return Router(load_ai_config(path, env={}), store)


CHAIN = """
[providers.flaky]
kind = "openai"
base_url = "{flaky}/v1"
max_retries = 1
timeout_s = 5
[providers.claude]
kind = "anthropic"
base_url = "{claude}"
api_key = "k"
[tasks.sql]
models = ["flaky/small", "claude/claude-sonnet-4-5"]
[prices."claude/claude-sonnet-4-5"]
input_per_mtok = 3.0
output_per_mtok = 15.0
"""


def test_a_failing_provider_falls_through_to_the_next_and_both_are_recorded(chdb_store: Store, tmp_path: Path) -> None:
    conversation = uuid.uuid4().hex
    with (
        StandIn([json_reply({"error": "down"}, 503), json_reply({"error": "down"}, 503)]) as flaky,
        StandIn([anthropic_message("SELECT 1", inp=1000, out=100)]) as claude,
    ):
        router = _router(chdb_store, tmp_path, CHAIN, flaky=flaky.url, claude=claude.url)
        routed = router.complete("sql", HELLO, conversation_id=conversation)
    assert routed.ok and routed.provider == "claude" and routed.response is not None
    assert [(a.provider, a.outcome) for a in routed.attempts] == [("flaky", "error"), ("claude", "ok")]
    assert len(flaky.seen) == 2 and flaky.seen[0].path == "/v1/chat/completions"
    rows = list_interactions(chdb_store, 10, conversation=conversation)
    assert {(r["provider"], r["outcome"]) for r in rows} == {("flaky", "error"), ("claude", "ok")}
    ok = next(r for r in rows if r["outcome"] == "ok")
    assert ok["cost_usd"] == pytest.approx(1000 * 3 / 1e6 + 100 * 15 / 1e6)
    assert "errors per service?" in ok["prompt"] and ok["response"] == "SELECT 1"
    compared = {(m["task"], m["provider"]): m for m in compare_models(chdb_store)}
    assert compared[("sql", "claude")]["calls"] >= 1 and compared[("sql", "flaky")]["failed"] >= 1


def test_a_hanging_provider_times_out(chdb_store: Store, tmp_path: Path) -> None:
    toml = CHAIN.replace("timeout_s = 5", "timeout_s = 0.3").replace("max_retries = 1", "max_retries = 0")
    with StandIn([Reply(delay_s=3)]) as flaky, StandIn([anthropic_message("SELECT 2")]) as claude:
        routed = _router(chdb_store, tmp_path, toml, flaky=flaky.url, claude=claude.url).complete("sql", HELLO)
    assert [(a.provider, a.outcome) for a in routed.attempts] == [("flaky", "timeout"), ("claude", "ok")]


def test_a_task_over_its_budget_falls_back(chdb_store: Store, tmp_path: Path) -> None:
    toml = """
[providers.claude]
kind = "anthropic"
base_url = "{claude}"
api_key = "k"
[tasks.naming]
models = ["claude/claude-haiku-4-5"]
budget_tokens_per_day = {budget}
"""
    # Budgets count today's recorded use, which other tests in this shared store add to.
    before = _router(chdb_store, tmp_path, toml, claude="http://unused", budget=1).budget.used("naming")[0]
    budget = before + 500
    with StandIn([anthropic_message("checkout", inp=400, out=200), anthropic_message("never sent")]) as claude:
        router = _router(chdb_store, tmp_path, toml, claude=claude.url, budget=str(budget))
        first = router.complete("naming", HELLO)
        second = router.complete("naming", HELLO)
    assert first.ok and second.response is None
    detail = second.attempts[0].detail
    assert second.attempts[0].outcome == "budget" and f"{before + 600} of {budget} tokens" in detail
    assert len(claude.seen) == 1


def test_refused_sql_goes_back_for_repair_then_runs(chdb_store: Store, tmp_path: Path) -> None:
    shop = Shop()
    req, _ = shop.traces(minutes_ago=4, count=6)
    chdb_store.insert_otlp("traces", [req.SerializeToString()], uuid.uuid4().hex, tmp_path)
    toml = """
[providers.claude]
kind = "anthropic"
base_url = "{claude}"
api_key = "k"
[tasks.sql]
models = ["claude/claude-sonnet-4-5"]
"""
    good = (f"```sql\nSELECT ServiceName AS service, sum(Errors) AS errors FROM kokanee_red_1m "
            f"WHERE ServiceName = '{shop.checkout}' GROUP BY service\n```")  # fmt: skip
    replies = [
        anthropic_message("Sure! ```sql\nSELECT * FROM system.users\n```"),
        anthropic_message("SELECT nope FROM otel_traces"),
        anthropic_message(good),
    ]
    with StandIn(replies) as claude:
        answer = ask(chdb_store, _router(chdb_store, tmp_path, toml, claude=claude.url), "errors of checkout?")
    assert answer.source == "model" and answer.rows == [[shop.checkout, 3]]
    assert [a["outcome"] for a in answer.attempts] == ["rejected", "rejected", "ok"]
    second, third = claude.seen[1].body["messages"], claude.seen[2].body["messages"]
    assert "refused by the sandbox" in second[-1]["content"] and "qualified table names" in second[-1]["content"]
    assert "ClickHouse error" in third[-1]["content"] and "nope" in third[-1]["content"]
    assert len(third) == 5  # question, reply, refusal, reply, error


def test_bad_ai_config_names_the_key(tmp_path: Path) -> None:
    cases = {
        'providers.x.kind = "gpt"': "providers.x.kind",
        '[providers.x]\nkind = "openai"': "needs base_url",
        '[tasks.sql]\nmodels = ["nobody/m"]': "provider 'nobody' is not configured",
        "[tasks.poetry]\nmodels = []": "tasks.poetry: unknown task",
        "repairs = 9": "repairs",
        "[[broken": "ai.toml",
    }
    for text, message in cases.items():
        path = tmp_path / "ai.toml"
        path.write_text(text)
        with pytest.raises(AiConfigError, match=message):
            load_ai_config(path, env={})


def test_environment_configures_one_provider_of_each_kind() -> None:
    config = load_ai_config(None, env={
        "KOKANEE_OPENAI_BASE_URL": "http://127.0.0.1:1/v1", "KOKANEE_OPENAI_MODEL": "qwen",
        "KOKANEE_ANTHROPIC_API_KEY": "k",
    })  # fmt: skip
    assert config.route("sql").models == ["openai/qwen", "anthropic/claude-sonnet-4-5"]
    assert config.providers["anthropic"].key({"KOKANEE_ANTHROPIC_API_KEY": "k"}) == "k"
    assert not AiConfig().configured
