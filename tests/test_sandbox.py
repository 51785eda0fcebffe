"""The SQL sandbox: one read-only SELECT over kokanee's tables, or a 400 that says why not."""

from __future__ import annotations

import httpx
import pytest

from kokanee.store.client import Store
from kokanee.store.sandbox import Limits, SandboxRefused, check_sql, run_sql
from tests.server import KokaneeServer


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("DROP TABLE otel_traces", "only SELECT"),
        ("INSERT INTO otel_traces (TraceId) VALUES ('x')", "only SELECT"),
        ("SELECT 1; SELECT 2", "exactly one statement"),
        ("SELECT * FROM system.tables", "qualified table names"),
        ("SELECT * FROM url('http://169.254.169.254/latest', CSV)", "table functions"),
        ("SELECT * FROM file('/etc/passwd', LineAsString)", "table functions"),
        ("SELECT * FROM remote('other:9000', default.t)", "table functions"),
        ("SELECT * FROM numbers(10)", "table functions"),
        ("SELECT count() FROM otel_traces SETTINGS max_execution_time = 1000", "SETTINGS"),
        ("SELECT * FROM secrets", "table 'secrets' is not allowed"),
        ("SELECT * FROM otel_traces WHERE TraceId IN (SELECT name FROM system.users)", "qualified"),
        ("SELEC oops", "only SELECT"),
        ("SELECT (", "cannot parse"),
    ],
)
def test_refused_statements_say_why(sql: str, says: str) -> None:
    with pytest.raises(SandboxRefused, match=says):
        check_sql(sql)


def test_ctes_joins_and_subqueries_over_allowed_tables_pass() -> None:
    check_sql(
        "WITH slow AS (SELECT TraceId FROM otel_traces WHERE Duration > 1e9) "
        "SELECT l.Body FROM otel_logs AS l INNER JOIN slow ON l.TraceId = slow.TraceId"
    )


def test_rows_are_capped_and_marked_truncated(chdb_store: Store) -> None:
    chdb_store.command("TRUNCATE TABLE kokanee_fault_labels")
    chdb_store.command(
        "INSERT INTO kokanee_fault_labels (Start, ServiceName, Kind, Source, Detail) "
        "SELECT now64(9), toString(number), 'k', 'test', '' FROM numbers(50)"
    )
    result, truncated = run_sql(chdb_store, "SELECT ServiceName FROM kokanee_fault_labels", Limits(max_rows=10))
    assert len(result.rows) == 10
    assert truncated
    result, truncated = run_sql(chdb_store, "SELECT count() FROM kokanee_fault_labels", Limits(max_rows=10))
    assert result.rows == [(50,)] and not truncated


def test_the_query_endpoint_answers_rows_or_a_400(kokanee_server: KokaneeServer) -> None:
    ok = httpx.post(
        f"{kokanee_server.api_url}/api/v1/query", json={"sql": "SELECT 1 + 1 AS two FROM otel_traces LIMIT 1"}
    )
    assert ok.status_code == 200
    assert ok.json()["columns"] == ["two"]
    refused = httpx.post(f"{kokanee_server.api_url}/api/v1/query", json={"sql": "DROP TABLE otel_logs"})
    assert refused.status_code == 400
    assert "only SELECT" in refused.json()["error"]
    broken = httpx.post(f"{kokanee_server.api_url}/api/v1/query", json={"sql": "SELECT nope FROM otel_logs"})
    assert broken.status_code == 400
    assert "nope" in broken.json()["error"]
    assert httpx.post(f"{kokanee_server.api_url}/api/v1/query", json={}).status_code == 400
