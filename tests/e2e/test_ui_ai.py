"""The AI pages in a real browser (Debian chromium via Playwright) against `kokanee serve` holding
the test shop's traffic: the Ask console answers a question with SQL, a chart and rows, the SQL tab
runs and refuses statements, a generated dashboard renders its panels, the review lists the N+1,
and the AI interactions page says no model is configured. Screenshots in tests/e2e/artifacts/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.e2e.browser import expect, open_page, shot
from tests.llm.spans import Shop
from tests.server import KokaneeServer


def test_ai_pages(start_kokanee: Callable[..., KokaneeServer], browser: Any) -> None:
    server = start_kokanee()
    shop = Shop()
    req, _ = shop.traces(minutes_ago=4, count=20)
    sent = httpx.post(f"{server.otlp_http_url}/v1/traces", content=req.SerializeToString(),
                      headers={"Content-Type": "application/x-protobuf"})  # fmt: skip
    assert sent.status_code == 200
    server.wait_for(f"SELECT sum(Requests) AS n FROM kokanee_red_1m WHERE ServiceName = '{shop.checkout}'",
                    lambda rows: rows[0]["n"] == 20)  # fmt: skip
    page, errors = open_page(browser)

    page.goto(f"{server.api_url}/ask")
    page.get_by_label("Question").fill(f"error rate by operation for {shop.frontend} in the last 15 minutes")
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.get_by_test_id("ai-answer-text")).to_contain_text("POST /api/checkout with 10 errors in 20 requests")
    expect(page.get_by_test_id("ai-sql")).to_contain_text("FROM kokanee_red_1m")
    expect(page.get_by_test_id("ai-chart").locator("canvas")).to_have_count(1)
    expect(page.get_by_test_id("ai-rows").locator("tbody tr")).to_have_count(2)
    expect(page.get_by_test_id("ai-history")).to_contain_text("error rate by operation")
    shot(page, "ai-ask")

    page.get_by_label("Question").fill("which customers bought red shoes?")
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.get_by_test_id("ai-answer-text")).to_contain_text("configure a model")

    page.get_by_role("tab", name="SQL").click()
    sql = (f"SELECT SpanName, count() AS spans FROM otel_traces WHERE ServiceName = '{shop.catalog}' "
           "GROUP BY SpanName ORDER BY spans DESC")  # fmt: skip
    page.get_by_label("SQL").fill(sql)
    page.get_by_role("button", name="Run (Ctrl+Enter)").click()
    expect(page.get_by_test_id("sql-result")).to_contain_text("SELECT products")
    expect(page.get_by_test_id("sql-result")).to_contain_text("240")
    shot(page, "ai-sql")
    page.get_by_label("SQL").fill("DROP TABLE otel_traces")
    page.get_by_role("button", name="Run (Ctrl+Enter)").click()
    expect(page.get_by_role("alert")).to_contain_text("only SELECT queries are allowed")

    page.goto(f"{server.api_url}/dashboards")
    page.get_by_role("button", name="Generate for SRE").click()
    expect(page.get_by_role("heading", name="Service health (SRE)")).to_be_visible()
    expect(page.get_by_test_id("dash-panel")).to_have_count(5)
    expect(page.get_by_test_id("dash-panel").first.locator(".ai-stat-value")).to_contain_text("%")
    expect(page.get_by_test_id("dash-panel").nth(1).locator("canvas")).to_have_count(1)
    expect(page.get_by_text("Loading panel…")).to_have_count(0)
    shot(page, "ai-dashboard", full_page=True)

    page.goto(f"{server.api_url}/review")
    expect(page.get_by_test_id("review-findings")).to_contain_text(f"N+1: ListProducts in {shop.catalog}")
    expect(page.get_by_test_id("review-narrative")).to_contain_text("batch the repeated calls")
    shot(page, "ai-review")

    page.goto(f"{server.api_url}/ai")
    expect(page.get_by_test_id("ai-config")).to_contain_text("No model is configured")
    shot(page, "ai-interactions")

    # The settings page: a route naming an unknown provider is refused with the field named; a
    # valid one is saved, shown on the interactions page, and reverting returns to no model.
    page.get_by_test_id("ai-settings-link").click()
    page.get_by_test_id("ai-provider-add").click()
    page.get_by_test_id("ai-provider-name-0").fill("local")
    page.get_by_test_id("ai-provider-url-0").fill("http://127.0.0.1:9/v1")
    page.get_by_test_id("ai-task-models-sql").fill("nobody/m")
    page.get_by_test_id("ai-settings-save").click()
    expect(page.get_by_role("alert")).to_contain_text("provider 'nobody' is not configured")
    page.get_by_test_id("ai-task-models-sql").fill("local/qwen")
    page.get_by_test_id("ai-settings-save").click()
    expect(page.get_by_test_id("ai-settings-source")).to_contain_text("saved on this page")
    shot(page, "ai-settings")
    page.goto(f"{server.api_url}/ai")
    expect(page.get_by_test_id("ai-config")).to_contain_text("local")
    page.goto(f"{server.api_url}/ai/settings")
    page.get_by_test_id("ai-settings-revert").click()
    expect(page.get_by_test_id("ai-provider-row")).to_have_count(0)
    assert errors == []
