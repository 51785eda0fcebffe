"""Questions to SQL without a model: the deterministic parser's answers on hand-built traffic, the
SQL it shows (which the sandbox runs as it would anyone's), and the honest answer to the rest."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from kokanee.ai.ask import ask
from kokanee.ai.chart import choose_chart
from kokanee.store.client import Store
from kokanee.store.sandbox import check_sql, run_sql
from tests.llm.spans import Shop
from tests.server import KokaneeServer


@pytest.fixture(scope="module")
def shop(chdb_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Shop:
    shop = Shop()
    req, _ = shop.traces(minutes_ago=5, count=30)
    chdb_store.insert_otlp("traces", [req.SerializeToString()], uuid.uuid4().hex, tmp_path_factory.mktemp("spool"))
    return shop


def test_error_rate_of_one_service(chdb_store: Store, shop: Shop) -> None:
    answer = ask(chdb_store, None, f"What is the error rate of {shop.checkout} in the last 15 minutes?")
    assert answer.answered and answer.source == "deterministic"
    rows = [dict(zip(answer.columns, r, strict=True)) for r in answer.rows]
    assert rows == [{"service": shop.checkout, "requests": 30, "errors": 15, "error_rate": 0.5}]
    assert answer.chart["kind"] == "stat"
    assert "50.0%" in answer.text and shop.checkout in answer.text
    assert answer.sql is not None and f"ServiceName = '{shop.checkout}'" in answer.sql


def test_errors_by_operation_rank_the_failing_entry_first(chdb_store: Store, shop: Shop) -> None:
    answer = ask(chdb_store, None, f"errors by operation for {shop.frontend} over the past 30 minutes")
    rows = [dict(zip(answer.columns, r, strict=True)) for r in answer.rows]
    assert [(r["operation"], r["errors"]) for r in rows] == [("POST /api/checkout", 15), ("GET /api/products", 0)]
    assert answer.chart == {"kind": "bar", "x": "service", "y": ["requests", "errors", "error_rate"], "series": None}


def test_latency_percentile_by_operation(chdb_store: Store, shop: Shop) -> None:
    answer = ask(chdb_store, None, f"p99 latency per operation of {shop.frontend} in the last hour")
    rows = {r[answer.columns.index("operation")]: dict(zip(answer.columns, r, strict=True)) for r in answer.rows}
    assert set(rows) == {"POST /api/checkout", "GET /api/products"}
    assert rows["POST /api/checkout"]["p99_ms"] == pytest.approx(400, rel=0.05)
    assert rows["GET /api/products"]["p50_ms"] == pytest.approx(120, rel=0.05)
    assert answer.columns[0:2] == ["service", "operation"]
    assert "p99" in answer.text


def test_slowest_operations_and_top_errors(chdb_store: Store, shop: Shop) -> None:
    slowest = ask(chdb_store, None, f"slowest operations of {shop.checkout}")
    assert slowest.rows[0][slowest.columns.index("operation")] == "PlaceOrder"
    top = ask(chdb_store, None, f"what are the top errors in {shop.checkout}?")
    rows = [dict(zip(top.columns, r, strict=True)) for r in top.rows]
    assert rows[0]["message"] == "payment declined" and rows[0]["errors"] == 15
    assert len(rows[0]["sample_trace_id"]) == 32


def test_rate_over_time_is_a_line(chdb_store: Store, shop: Shop) -> None:
    answer = ask(chdb_store, None, f"request rate of {shop.catalog} over time, last 30 minutes")
    assert answer.chart["kind"] == "line" and answer.chart["x"] == "time"
    assert sum(r[answer.columns.index("requests")] for r in answer.rows) == 30


def test_what_changed_compares_with_the_window_before(chdb_store: Store, shop: Shop) -> None:
    answer = ask(chdb_store, None, f"what changed for {shop.checkout} in the last 15 minutes?")
    rows = [dict(zip(answer.columns, r, strict=True)) for r in answer.rows]
    assert rows[0]["service"] == shop.checkout
    assert (rows[0]["requests_now"], rows[0]["requests_before"]) == (30, 0)
    assert rows[0]["error_rate_now"] == 0.5


def test_the_shown_sql_passes_the_sandbox_and_gives_the_same_rows(chdb_store: Store, shop: Shop) -> None:
    answer = ask(chdb_store, None, f"p95 latency by service for {shop.catalog}")
    assert answer.sql is not None
    check_sql(answer.sql)
    result, _ = run_sql(chdb_store, answer.sql)
    assert [list(r) for r in result.rows] == answer.rows


def test_other_questions_get_an_honest_answer_not_an_error(chdb_store: Store, shop: Shop) -> None:
    answer = ask(chdb_store, None, "which customers bought red shoes yesterday?")
    assert not answer.answered and answer.needs_model and answer.sql is None
    assert "configure a model" in answer.text


def test_chart_kinds_follow_the_shape() -> None:
    assert choose_chart(["n"], [(3,)])["kind"] == "stat"
    assert choose_chart(["service", "n"], [("a", 1), ("b", 2)])["kind"] == "bar"
    assert choose_chart(["a", "b"], [("x", "y")])["kind"] == "table"
    assert choose_chart([], [])["kind"] == "table"


def test_the_ask_endpoint(kokanee_server: KokaneeServer, tmp_path: Path) -> None:
    url = f"{kokanee_server.api_url}/api/v1/ask"
    shop = Shop()
    req, _ = shop.traces(minutes_ago=3, count=4)
    sent = httpx.post(f"{kokanee_server.otlp_http_url}/v1/traces", content=req.SerializeToString(),
                      headers={"Content-Type": "application/x-protobuf"})  # fmt: skip
    assert sent.status_code == 200
    kokanee_server.wait_for(
        f"SELECT sum(Requests) AS n FROM kokanee_red_1m WHERE ServiceName = '{shop.checkout}'",
        lambda rows: rows[0]["n"] == 4,
    )
    body = httpx.post(url, json={"question": f"error rate of {shop.checkout}"}, timeout=30).json()
    assert body["answered"] and body["rows"] == [[shop.checkout, 4, 2, 0.5]]
    assert body["chart"]["kind"] == "stat"
    honest = httpx.post(url, json={"question": "who wrote this?"}, timeout=30)
    assert honest.status_code == 200 and honest.json()["needs_model"] is True
    empty = httpx.post(url, json={"question": ""}, timeout=30)
    assert empty.status_code == 400 and "question" in empty.json()["error"]
