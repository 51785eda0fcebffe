"""Business names for critical request paths: from routes without a model, from a model when its
answer covers every path with a short name."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from kokanee.ai.config import load_ai_config
from kokanee.ai.interactions import list_interactions
from kokanee.ai.naming import name_paths, route_name
from kokanee.ai.router import Router
from kokanee.store.client import Store
from tests.llm.spans import Shop
from tests.llm.standin import StandIn, json_reply
from tests.server import KokaneeServer


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("POST /api/checkout", "checkout"),
        ("GET /api/products", "browse products"),
        ("GET /api/products/{id}", "view product"),
        ("GET /api/v1/users/123/orders", "browse orders"),
        ("DELETE /cart/{id}", "delete cart"),
        ("POST /login", "login"),
        ("GET /", "home"),
        ("PlaceOrder", "place order"),
    ],
)
def test_route_names(label: str, name: str) -> None:
    assert route_name(label) == name


def _message(text: str):  # type: ignore[no-untyped-def]
    return json_reply({"id": "m", "type": "message", "role": "assistant", "model": "claude",
                       "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                       "usage": {"input_tokens": 10, "output_tokens": 10}})  # fmt: skip


def test_model_names_are_used_only_when_complete_and_short(chdb_store: Store, tmp_path: Path) -> None:
    labels = ["POST /api/checkout", "GET /api/products"]
    good = {"POST /api/checkout": "place an order", "GET /api/products": "browse the catalog"}
    partial = {"POST /api/checkout": "buy"}
    rambling = {**good, "GET /api/products": "the user looks at a very long list of products"}
    path = tmp_path / "ai.toml"
    with StandIn([_message(json.dumps(good)), _message(json.dumps(partial)), _message(json.dumps(rambling))]) as api:
        path.write_text(f'[providers.c]\nkind = "anthropic"\nbase_url = "{api.url}"\napi_key = "k"\n'
                        '[tasks.naming]\nmodels = ["c/claude"]\n')  # fmt: skip
        router = Router(load_ai_config(path, env={}), chdb_store)
        assert name_paths(labels, router) == (good, "model")
        assert name_paths(labels, router) == ({"POST /api/checkout": "checkout",
                                               "GET /api/products": "browse products"}, "routes")  # fmt: skip
        assert name_paths(labels, router)[1] == "routes"
    assert "POST /api/checkout" in api.seen[0].body["messages"][0]["content"]
    fallbacks = [i for i in list_interactions(chdb_store, 50, task="naming") if i["outcome"] == "fallback"]
    assert any("no name for GET /api/products" in i["detail"] for i in fallbacks)
    assert any("names too long" in i["detail"] for i in fallbacks)


def test_the_path_names_endpoint(kokanee_server: KokaneeServer) -> None:
    shop = Shop()
    req, _ = shop.traces(minutes_ago=3, count=3)
    httpx.post(f"{kokanee_server.otlp_http_url}/v1/traces", content=req.SerializeToString(),
               headers={"Content-Type": "application/x-protobuf"}).raise_for_status()  # fmt: skip
    kokanee_server.wait_for(f"SELECT count() AS n FROM otel_traces WHERE ServiceName = '{shop.frontend}'",
                            lambda rows: rows[0]["n"] == 12)  # fmt: skip
    body = kokanee_server.get("/api/v1/ai/path-names", start="now-15m", limit=100)
    ours = {p["label"]: p["name"] for p in body["paths"] if p["service"] == shop.frontend}
    assert body["source"] == "routes"
    assert ours == {"POST /api/checkout": "checkout", "GET /api/products": "browse products"}
