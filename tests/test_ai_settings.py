"""AI settings edited over the API (what the settings page does): a saved configuration routes the
next question without a restart, keys never come back, a provider edited without its key keeps it,
a wrong configuration is refused naming the key and changes nothing, the settings survive a
restart, and forgetting them goes back to --ai-config and the environment.

The model endpoint is a FAKE: tests/llm/standin.py on loopback, answering every chat completion
with the same OpenAI-shaped reply and recording what it was sent (the key it was given, the
token limit). A real OpenAI-compatible server (llama.cpp) is exercised in test_ai_llama.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.llm.standin import Reply, StandIn, json_reply
from tests.server import KokaneeServer

SECRET = "sk-test-never-returned"
# The environment of the test run must not configure a model behind the test's back.
NO_AI_ENV = {"KOKANEE_OPENAI_BASE_URL": "", "KOKANEE_ANTHROPIC_API_KEY": ""}
QUESTION = "who wrote this?"  # no deterministic answer: only a model answers it


SQL_REPLY = "```sql\nSELECT count() AS spans FROM otel_traces\n```"


def completion() -> Reply:
    return json_reply({
        "id": "chatcmpl-fake", "object": "chat.completion", "model": "tiny-sql",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": SQL_REPLY}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    })  # fmt: skip


def fake_settings(url: str, **sql: Any) -> dict[str, Any]:
    return {
        "providers": {"fake": {"kind": "openai", "base_url": f"{url}/v1", "api_key": SECRET, "max_retries": 0}},
        "tasks": {"sql": {"models": ["fake/tiny-sql"], **sql}},
    }


def put(server: KokaneeServer, body: Any) -> httpx.Response:
    return httpx.put(f"{server.api_url}/api/v1/ai/config", json=body, timeout=30)


def ask(server: KokaneeServer) -> dict[str, Any]:
    r = httpx.post(f"{server.api_url}/api/v1/ask", json={"question": QUESTION}, timeout=60)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def sql_use_today(config: dict[str, Any]) -> int:
    return int(next(t for t in config["tasks"] if t["task"] == "sql")["tokens_today"])


def test_saved_settings_route_the_next_question_keep_their_key_and_survive_a_restart(
    start_kokanee: Callable[..., KokaneeServer], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = start_kokanee(data_dir=data, env=NO_AI_ENV)
    before = server.get("/api/v1/ai/config")
    assert (before["source"], before["configured"]) == ("none", False)
    assert ask(server)["needs_model"] is True

    with StandIn([completion() for _ in range(20)]) as fake:
        saved = put(server, fake_settings(fake.url, max_tokens=256))
        assert saved.status_code == 200, saved.text
        assert SECRET not in saved.text
        body = saved.json()
        assert (body["source"], body["configured"]) == ("ui", True)
        assert body["providers"] == [{"name": "fake", "kind": "openai", "base_url": f"{fake.url}/v1", "api_key_env": "",
                                      "has_key": True, "timeout_s": 60.0, "max_retries": 0}]  # fmt: skip
        assert "api_key" not in body["settings"]["providers"]["fake"]

        # No restart: the next question goes to the saved provider, with the saved key.
        answer = ask(server)
        assert (answer["source"], answer["model"]) == ("model", "fake/tiny-sql")
        assert answer["sql"] == "SELECT count() AS spans FROM otel_traces"
        assert fake.seen[-1].path == "/v1/chat/completions"
        assert fake.seen[-1].headers["authorization"] == f"Bearer {SECRET}"
        assert fake.seen[-1].body["max_tokens"] == 256
        calls = server.get("/api/v1/ai/interactions", task="sql")["interactions"]
        assert (calls[0]["provider"], calls[0]["model"], calls[0]["outcome"]) == ("fake", "tiny-sql", "ok")
        assert sql_use_today(server.get("/api/v1/ai/config")) == 15

        # The form sends back `settings` without the key: the stored key is kept, and so is today's use.
        settings = server.get("/api/v1/ai/config")["settings"]
        settings["tasks"]["sql"]["max_tokens"] = 128
        edited = put(server, settings)
        assert edited.status_code == 200, edited.text
        assert edited.json()["providers"][0]["has_key"] is True and SECRET not in edited.text
        assert sql_use_today(edited.json()) == 15
        ask(server)
        assert fake.seen[-1].headers["authorization"] == f"Bearer {SECRET}"
        assert fake.seen[-1].body["max_tokens"] == 128

        # Wrong settings: 400 naming the key, and nothing changes.
        current = server.get("/api/v1/ai/config")
        moved = json.loads(json.dumps(settings))
        moved["providers"]["fake"]["base_url"] = "http://127.0.0.1:9/v1"
        wrong = {
            "provider 'nobody' is not configured": {**settings, "tasks": {"sql": {"models": ["nobody/m"]}}},
            "providers.fake.kind": {**settings, "providers": {"fake": {"kind": "grpc", "base_url": "http://x"}}},
            "tasks.poetry: unknown task": {**settings, "tasks": {"poetry": {"models": []}}},
            "colour: Extra inputs are not permitted": {**settings, "colour": "blue"},
            "providers.fake.timeout_s": {
                **settings,
                "providers": {"fake": {"kind": "openai", "base_url": "http://x", "timeout_s": 0}},
            },
            "providers.a/b: a provider's name": {**settings, "providers": {"a/b": {"kind": "anthropic"}}},
            # A stored key is never sent to a base URL it was not given for.
            "providers.fake.api_key: the provider now goes to another protocol or base URL": moved,
        }
        for message, bad in wrong.items():
            refused = put(server, bad)
            assert refused.status_code == 400 and message in refused.json()["error"], (message, refused.text)
        unchanged = server.get("/api/v1/ai/config")
        assert (unchanged["source"], unchanged["settings"]) == ("ui", current["settings"])

        # The SQL sandbox cannot read the stored key.
        leak = httpx.post(f"{server.api_url}/api/v1/query", json={"sql": "SELECT Config FROM kokanee_ai_settings"},
                          timeout=30)  # fmt: skip
        assert leak.status_code == 400 and "not allowed" in leak.json()["error"] and SECRET not in leak.text

        # A restart on the same data directory starts with the saved settings and key.
        server.stop()
        server = start_kokanee(data_dir=data, env=NO_AI_ENV)
        restarted = server.get("/api/v1/ai/config")
        assert (restarted["source"], restarted["settings"]) == ("ui", current["settings"])
        assert restarted["providers"][0]["has_key"] is True
        assert sql_use_today(restarted) == 30  # budgets resume from the recorded interactions
        assert ask(server)["model"] == "fake/tiny-sql"
        assert fake.seen[-1].headers["authorization"] == f"Bearer {SECRET}"

        probe = httpx.post(f"{server.api_url}/api/v1/ai/config/test", json={"provider": "fake", "model": "tiny-sql"},
                           timeout=30).json()  # fmt: skip
        assert probe["ok"] is True and "SELECT count()" in probe["reply"] and probe["latency_ms"] >= 0
        missing = httpx.post(f"{server.api_url}/api/v1/ai/config/test", json={"provider": "nope", "model": "m"})
        assert missing.status_code == 404 and "'nope' is not configured" in missing.json()["error"]

        # Forgetting them: no model again (no file, no environment), at once and after a restart.
        seen = len(fake.seen)
        forgotten = httpx.delete(f"{server.api_url}/api/v1/ai/config", timeout=30).json()
        assert (forgotten["source"], forgotten["configured"], forgotten["providers"]) == ("none", False, [])
        assert ask(server)["needs_model"] is True
        server.stop()
        server = start_kokanee(data_dir=data, env=NO_AI_ENV)
        assert server.get("/api/v1/ai/config")["source"] == "none"
        assert len(fake.seen) == seen


def test_forgetting_saved_settings_goes_back_to_the_ai_config_file(
    start_kokanee: Callable[..., KokaneeServer], tmp_path: Path
) -> None:
    with StandIn([completion() for _ in range(10)]) as fake:
        path = tmp_path / "ai.toml"
        path.write_text(
            f'[providers.filellm]\nkind = "openai"\nbase_url = "{fake.url}/v1"\napi_key_env = "FAKE_KEY"\n'
            'max_retries = 0\n[tasks.default]\nmodels = ["filellm/from-file"]\n'
        )
        data = tmp_path / "data"
        server = start_kokanee("--ai-config", str(path), data_dir=data, env={**NO_AI_ENV, "FAKE_KEY": "from-env"})
        from_file = server.get("/api/v1/ai/config")
        assert from_file["source"] == "file"
        assert [(p["name"], p["api_key_env"], p["has_key"]) for p in from_file["providers"]] == [
            ("filellm", "FAKE_KEY", True)
        ]

        assert put(server, fake_settings(fake.url)).json()["source"] == "ui"
        assert ask(server)["model"] == "fake/tiny-sql"
        assert fake.seen[-1].headers["authorization"] == f"Bearer {SECRET}"

        back = httpx.delete(f"{server.api_url}/api/v1/ai/config", timeout=30).json()
        assert back["source"] == "file" and back["settings"] == from_file["settings"]
        assert ask(server)["model"] == "filellm/from-file"
        assert fake.seen[-1].headers["authorization"] == "Bearer from-env"

        server.stop()
        server = start_kokanee("--ai-config", str(path), data_dir=data, env={**NO_AI_ENV, "FAKE_KEY": "from-env"})
        assert server.get("/api/v1/ai/config")["source"] == "file"
