"""The SQL sandbox: one read-only SELECT over kokanee's tables, or a 400 that says why not."""

from __future__ import annotations

import re

import httpx
import pytest

from kokanee.ai.dashboards import heuristic
from kokanee.store.client import QueryError, Store
from kokanee.store.sandbox import Limits, SandboxRefused, _allowed, check_sql, run_sql
from kokanee.store.sandbox_functions import AGGREGATE_FUNCTIONS, SCALAR_FUNCTIONS
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


# What dashboards, the ask page and people write: aggregates with combinators and parameters,
# percentiles, time buckets, map and JSON access, arrays and lambdas, window functions, conditionals,
# casts, string search, formatting. Each must pass the check and run on ClickHouse (empty tables).
LEGITIMATE = [
    "SELECT ServiceName, count() AS spans, countIf(StatusCode = 'Error') AS errors, "
    "round(quantile(0.95)(Duration) / 1e6, 1) AS p95_ms FROM otel_traces "
    "WHERE Timestamp >= now() - INTERVAL 1 HOUR GROUP BY ServiceName ORDER BY errors DESC LIMIT 20",
    "SELECT toStartOfInterval(Timestamp, INTERVAL 5 MINUTE) AS time, quantiles(0.5, 0.9, 0.99)(Duration) AS q, "
    "uniq(TraceId), uniqExact(SpanName), avgIf(Duration, StatusCode = 'Error'), sumIf(1, Duration > 1e9) "
    "FROM otel_traces GROUP BY time ORDER BY time WITH FILL STEP INTERVAL 5 MINUTE",
    "SELECT SpanAttributes['http.route'] AS route, argMax(SpanName, Duration), anyLast(StatusMessage), "
    "topK(5)(StatusMessage), groupArray(3)(TraceId), median(Duration), stddevPop(Duration), min(Timestamp), "
    "max(Timestamp) FROM otel_traces WHERE mapContains(SpanAttributes, 'http.route') GROUP BY route LIMIT 10",
    "SELECT ServiceName, sum(Requests) AS requests, sum(Errors) / greatest(sum(Requests), 1) AS error_rate, "
    "kokanee_quantiles(sumMap(DurationHistogram))[3] / 1e6 AS p95_ms, "
    "finalizeAggregation(sumMapState(DurationHistogram)) FROM kokanee_red_1m "
    "WHERE Minute >= toDateTime(1700000000) GROUP BY ServiceName",
    "SELECT Minute, ServiceName, sum(Requests) AS r, lagInFrame(sum(Requests)) OVER (PARTITION BY ServiceName "
    "ORDER BY Minute) AS prev, row_number() OVER (ORDER BY Minute) AS n FROM kokanee_service_red_1m "
    "GROUP BY Minute, ServiceName",
    "SELECT SeverityText, count() FROM otel_logs WHERE Body ILIKE '%timeout%' OR match(Body, 'err(or)?') "
    "OR positionCaseInsensitive(Body, 'refused') > 0 GROUP BY SeverityText",
    "SELECT JSONExtractString(Body, 'user') AS user_name, JSONExtractInt(Body, 'status'), "
    "simpleJSONExtractString(Body, 'k'), isValidJSON(Body) FROM otel_logs LIMIT 5",
    "SELECT arrayJoin(mapKeys(ResourceAttributes)) AS key, count() FROM otel_traces GROUP BY key",
    "SELECT k, count() FROM (SELECT SpanAttributes FROM otel_traces LIMIT 100) "
    "ARRAY JOIN mapKeys(SpanAttributes) AS k GROUP BY k",
    "SELECT arrayMap(x -> x * 2, [1, 2, 3]), arrayFilter(x -> x > 1, [1, 2]), arraySum([1, 2]), "
    "has(['a'], 'a'), length([1]), arrayStringConcat(['a', 'b'], ','), arraySort([3, 1])",
    "SELECT CASE WHEN Duration > 1e9 THEN 'slow' ELSE 'ok' END AS speed, if(StatusCode = 'Error', 1, 0), "
    "multiIf(Duration < 1e6, 'fast', Duration < 1e9, 'ok', 'slow'), coalesce(nullIf(StatusMessage, ''), '-'), "
    "ifNull(NULL, 1) FROM otel_traces LIMIT 1",
    "SELECT CAST(Duration AS Float64), toString(Timestamp), toDate(Timestamp), toUnixTimestamp64Milli(Timestamp), "
    "toDateTime64(Timestamp, 3), parseDateTimeBestEffortOrNull('2024-01-01'), Duration::Int64, "
    "toTypeName(Duration), formatReadableSize(1024), formatDateTime(Timestamp, '%F %T') FROM otel_traces LIMIT 1",
    "SELECT lower(ServiceName), upper(SpanName), concat(ServiceName, '/', SpanName), substring(TraceId, 1, 8), "
    "replaceAll(SpanName, '/', '_'), splitByChar('/', SpanName), startsWith(SpanName, 'GET'), trim(SpanName), "
    "length(StatusMessage), extract(SpanName, '[a-z]+'), leftPad(ServiceName, 20, ' ') FROM otel_traces LIMIT 1",
    "SELECT date_diff('second', min(Timestamp), max(Timestamp)), dateTrunc('hour', now()), toStartOfMinute(now()), "
    "today() - 1, toHour(now()), EXTRACT(YEAR FROM now()), now64(3) - INTERVAL 15 MINUTE, abs(-1), sqrt(4), "
    "pow(2, 10), log(10), exp(1), round(3.14159, 2), floor(1.5), intDiv(7, 2), 7 % 3 FROM otel_traces",
    "SELECT Client, Server, sum(Requests), sum(Failures) FROM kokanee_service_edges_1m GROUP BY Client, Server",
    "SELECT IncidentId, Title, Services, Status FROM kokanee_incidents FINAL ORDER BY OpenedAt DESC LIMIT 10",
    "SELECT MetricName, avg(Value), quantileTDigest(0.99)(Value), anyHeavy(ServiceName) FROM otel_metrics_gauge "
    "GROUP BY MetricName",
    "WITH slow AS (SELECT TraceId FROM otel_traces WHERE Duration > 1e9) SELECT count() FROM otel_logs "
    "WHERE TraceId IN (SELECT TraceId FROM slow)",
    "SELECT uniqIf(TraceId, StatusCode = 'Error') / greatest(uniq(TraceId), 1), countDistinct(ServiceName), "
    "count(DISTINCT SpanName), any(SpanKind), sumForEach([Duration]), avgOrNull(Duration), "
    "quantileIf(0.9)(Duration, StatusCode = 'Error') FROM otel_traces",
    "SELECT cityHash64(TraceId) % 10, hex(SpanId), toUUIDOrNull(TraceId), domain('https://a.example/x'), "
    "IPv4NumToString(toUInt32(1)), rand() > 0 FROM otel_traces LIMIT 1",
]


@pytest.mark.parametrize("sql", LEGITIMATE)
def test_the_queries_dashboards_and_people_write_pass_and_run(sql: str, chdb_store: Store) -> None:
    check_sql(sql)
    run_sql(chdb_store, sql)


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT version()", "version()"),
        ("SELECT currentUser()", "currentUser()"),
        ("SELECT `version`()", "version()"),  # sqlglot's own node for it (CurrentVersion)
        ("SELECT current_user", "current_user()"),
        ("SELECT count() FROM otel_traces WHERE ServiceName = hostName()", "hostName()"),
        ("SELECT * APPLY(uptime) FROM otel_traces", "uptime()"),
        ("SELECT dictGet('d', 'v', 1)", "dictGet()"),
    ],
)
def test_functions_outside_the_allowlist_are_refused_by_name(sql: str, named: str) -> None:
    with pytest.raises(SandboxRefused, match=re.compile(re.escape(f"function {named} is not allowed"), re.I)):
        check_sql(sql)


def test_the_allowlist_names_real_functions_and_lets_no_other_through_by_combinators(chdb_store: Store) -> None:
    """Every listed name is one of this ClickHouse's functions, and no unlisted function passes by
    looking like an allowed aggregate with a combinator (the way sumIf or uniqMerge pass)."""
    rows = [str(row[0]) for row in chdb_store.query("SELECT name FROM system.functions").rows]
    known = {name.lower() for name in rows}
    assert sorted((AGGREGATE_FUNCTIONS | SCALAR_FUNCTIONS) - known) == []
    listed = AGGREGATE_FUNCTIONS | SCALAR_FUNCTIONS
    slipped = [name for name in rows if name.lower() not in listed and _allowed(name) and name != "kokanee_quantiles"]
    assert slipped == []


@pytest.mark.parametrize("role", ["sre", "developer", "manager"])
def test_the_built_in_dashboards_pass_the_sandbox_and_run(role: str, chdb_store: Store) -> None:
    spec = heuristic(role, {"services": ["cart", "pay'ment"], "gauges": ["cpu"], "log_rows_24h": 10})
    for panel in spec.panels:
        run_sql(chdb_store, panel.sql)


def test_functions_clickhouse_calls_without_parentheses_are_refused_bare(chdb_store: Store) -> None:
    """ClickHouse runs a few functions named bare (`SELECT currentUser`): try every function name
    outside the allowlist that way; each one that runs must be refused, also in any letter case."""
    listed = AGGREGATE_FUNCTIONS | SCALAR_FUNCTIONS
    names = [str(row[0]) for row in chdb_store.query("SELECT name FROM system.functions").rows]
    bare = []
    for name in (n for n in names if n.lower() not in listed and re.fullmatch(r"\w+", n)):
        try:
            chdb_store.query(f"SELECT {name}")
        except QueryError:
            continue
        bare.append(name)
    assert {"currentUser", "currentDatabase", "user"} <= set(bare)
    for name in bare + [n.upper() for n in bare]:
        with pytest.raises(SandboxRefused, match=r"calls the function|function \w+\(\) is not allowed"):
            check_sql(f"SELECT {name}")
    # A name the statement defines is its own: an alias, a lambda's argument.
    check_sql("SELECT JSONExtractString(Body, 'user') AS user FROM otel_logs ORDER BY user")
    check_sql("SELECT arrayMap(user -> length(user), ['a'])")


def test_what_the_parser_cannot_handle_is_refused_not_a_crash() -> None:
    with pytest.raises(SandboxRefused, match="nests too deeply"):
        check_sql("SELECT " + "abs(" * 5000 + "1" + ")" * 5000)
    with pytest.raises(SandboxRefused, match="cannot parse"):
        check_sql("SELECT map(x) FROM otel_traces")  # an IndexError inside sqlglot
