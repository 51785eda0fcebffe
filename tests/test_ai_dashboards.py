"""Generated dashboards: heuristic specs per role whose every query runs in the sandbox, a model's
spec validated (and refused when it is not valid), and the save / edit / delete API."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from kokanee.ai.config import load_ai_config
from kokanee.ai.dashboards import ROLES, DashboardSpec, generate, heuristic
from kokanee.ai.router import Router
from kokanee.store.client import Store
from kokanee.store.sandbox import run_sql
from tests.llm.spans import Shop
from tests.llm.standin import StandIn, json_reply
from tests.server import KokaneeServer


@pytest.fixture(scope="module")
def shop(chdb_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Shop:
    shop = Shop()
    req, _ = shop.traces(minutes_ago=5, count=50)  # more than other tests' shops: it tops the busiest lists
    spool = tmp_path_factory.mktemp("spool")
    chdb_store.insert_otlp("traces", [req.SerializeToString()], uuid.uuid4().hex, spool)
    chdb_store.insert_otlp("logs", [shop.logs().SerializeToString()], uuid.uuid4().hex, spool)
    return shop


@pytest.mark.parametrize("role", ROLES)
def test_every_heuristic_panel_runs_in_the_sandbox(chdb_store: Store, shop: Shop, role: str) -> None:
    spec, source, _ = generate(chdb_store, None, role)
    assert source == "heuristic" and spec.role == role and len(spec.panels) >= 3
    for panel in spec.panels:
        result, _ = run_sql(chdb_store, panel.sql)
        if panel.chart == "line":
            assert result.columns[0] == "time", panel.title
    if role == "sre":
        requests = next(p for p in spec.panels if p.title == "Requests by service")
        rows = dict(run_sql(chdb_store, requests.sql)[0].rows)
        assert rows[shop.frontend] == 100 and rows[shop.checkout] == 50
    if role == "developer":
        assert any(p.title == "Error logs per minute" for p in spec.panels)


def test_specs_are_validated() -> None:
    good = heuristic("manager", {"services": ["a"], "gauges": [], "log_rows_24h": 0}).model_dump()
    DashboardSpec.model_validate(good)
    cases = [
        ({"sql": "DROP TABLE otel_traces"}, "panels.0.sql", "only SELECT"),
        ({"sql": "SELECT * FROM system.users"}, "panels.0.sql", "qualified table names"),
        ({"chart": "radar"}, "panels.0.chart", "line"),
        ({"colour": "red"}, "panels.0.colour", "Extra inputs"),
        ({"thresholds": [{"value": 1, "color": "mauve"}]}, "panels.0.thresholds.0.color", "green"),
    ]
    for change, where, says in cases:
        spec = json.loads(json.dumps(good))
        spec["panels"][0].update(change)
        with pytest.raises(ValidationError) as e:
            DashboardSpec.model_validate(spec)
        assert where in str(e.value).replace("\n", ".").replace(" ", "") or where.split(".")[-1] in str(e.value)
        assert says in str(e.value)
    with pytest.raises(ValidationError):
        DashboardSpec.model_validate({**good, "panels": []})


def _router(store: Store, tmp_path: Path, url: str) -> Router:
    path = tmp_path / "ai.toml"
    path.write_text(f'[providers.c]\nkind = "anthropic"\nbase_url = "{url}"\napi_key = "k"\n'
                    '[tasks.dashboard]\nmodels = ["c/claude"]\n')  # fmt: skip
    return Router(load_ai_config(path, env={}), store)


def _message(text: str):  # type: ignore[no-untyped-def]
    return json_reply({"id": "m", "type": "message", "role": "assistant", "model": "claude",
                       "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                       "usage": {"input_tokens": 10, "output_tokens": 10}})  # fmt: skip


def test_a_model_spec_is_used_when_valid_and_repaired_or_replaced_when_not(
    chdb_store: Store, shop: Shop, tmp_path: Path
) -> None:
    sql = f"SELECT sum(Errors) AS errors FROM kokanee_red_1m WHERE ServiceName = '{shop.checkout}'"
    panel = {"title": "Errors", "chart": "stat", "unit": "count", "sql": sql}
    spec = {"title": "Checkout", "panels": [panel]}
    bad = {**spec, "panels": [{**panel, "sql": "SELECT * FROM url('http://x', CSV)"}]}
    replies = [_message(f"Here it is:\n```json\n{json.dumps(bad)}\n```"), _message(json.dumps(spec))]
    with StandIn(replies) as claude:
        got, source, problems = generate(chdb_store, _router(chdb_store, tmp_path, claude.url), "developer")
    assert source == "model" and got.title == "Checkout" and got.role == "developer"
    assert "table functions are not allowed" in problems[0]
    assert "table functions are not allowed" in claude.seen[1].body["messages"][-1]["content"]
    with StandIn([_message("I cannot do that."), _message("{not json")]) as claude:
        got, source, problems = generate(chdb_store, _router(chdb_store, tmp_path, claude.url), "sre")
    assert source == "heuristic" and got.title == "Service health (SRE)" and len(problems) == 2


def test_generate_save_edit_delete(kokanee_server: KokaneeServer) -> None:
    api = kokanee_server.api_url
    made = httpx.post(f"{api}/api/v1/dashboards/generate", json={"role": "sre"}, timeout=60).json()
    assert made["source"] == "heuristic" and made["spec"]["role"] == "sre"
    listed = httpx.get(f"{api}/api/v1/dashboards").json()["dashboards"]
    assert any(d["id"] == made["id"] and d["panels"] == len(made["spec"]["panels"]) for d in listed)
    edited = {**made["spec"], "title": "My SRE board", "panels": made["spec"]["panels"][:2]}
    assert httpx.put(f"{api}/api/v1/dashboards/{made['id']}", json=edited).status_code == 200
    got = httpx.get(f"{api}/api/v1/dashboards/{made['id']}").json()
    assert got["spec"]["title"] == "My SRE board" and len(got["spec"]["panels"]) == 2
    broken = {**edited, "panels": [{**edited["panels"][0], "sql": "TRUNCATE TABLE otel_logs"}]}
    refused = httpx.put(f"{api}/api/v1/dashboards/{made['id']}", json=broken)
    assert refused.status_code == 400 and "panels.0.sql" in refused.json()["error"]
    assert "only SELECT" in refused.json()["error"]
    assert httpx.post(f"{api}/api/v1/dashboards/generate", json={"role": "ceo"}).status_code == 400
    assert httpx.delete(f"{api}/api/v1/dashboards/{made['id']}").status_code == 200
    assert httpx.get(f"{api}/api/v1/dashboards/{made['id']}").status_code == 404
    assert httpx.put(f"{api}/api/v1/dashboards/{made['id']}", json=edited).status_code == 404
