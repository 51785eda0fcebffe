"""The read-only SQL sandbox: one SELECT over kokanee's tables, run under time and row limits.

Checked twice: sqlglot parses the statement (ClickHouse dialect) and refuses anything but a
single SELECT over allowed tables with no table functions, SETTINGS or system tables; then
ClickHouse runs it with `readonly` so even a missed case cannot write.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from kokanee.store.client import QueryResult, Store
from kokanee.store.schema import SIGNAL_TABLES

ALLOWED_TABLES = frozenset(
    {t for tables in SIGNAL_TABLES.values() for t in tables}
    | {"otel_traces_trace_id_ts", "kokanee_fault_labels", "kokanee_red_1m", "kokanee_service_edges_1m"}
)


class SandboxRefused(ValueError):
    """The statement is not allowed; the message says why and what is."""


@dataclass(frozen=True)
class Limits:
    max_rows: int = 10_000
    max_seconds: float = 10.0
    max_rows_to_read: int = 500_000_000


def check_sql(sql: str, allowed: frozenset[str] = ALLOWED_TABLES) -> exp.Query:
    """Returns the parsed statement, or raises SandboxRefused naming the problem."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="clickhouse") if s is not None]
    except ParseError as e:
        raise SandboxRefused(f"cannot parse the SQL: {str(e).splitlines()[0]}") from e
    if len(statements) != 1:
        raise SandboxRefused("send exactly one statement")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise SandboxRefused(f"only SELECT queries are allowed, not {tree.key.upper()}")
    if any(node.args.get("settings") for node in tree.find_all(exp.Query)):
        raise SandboxRefused("SETTINGS clauses are not allowed; limits are set by kokanee")
    cte_names = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise SandboxRefused(f"table functions are not allowed ({table.this.sql(dialect='clickhouse')[:60]})")
        name = table.name
        if table.db or table.catalog:
            raise SandboxRefused(f"qualified table names are not allowed ({table.sql(dialect='clickhouse')})")
        if name not in allowed and name not in cte_names:
            raise SandboxRefused(f"table {name!r} is not allowed; allowed: {', '.join(sorted(allowed))}")
    for func in tree.find_all(exp.Anonymous):
        if func.name.lower() in _DENIED_FUNCTIONS:
            raise SandboxRefused(f"function {func.name} is not allowed")
    return tree


# Functions that reach outside the data (files, network, other servers) even in an expression.
_DENIED_FUNCTIONS = frozenset(
    {"url", "file", "s3", "s3cluster", "hdfs", "remote", "remotesecure", "cluster", "mysql", "postgresql",
     "jdbc", "odbc", "input", "executable", "dictget", "azureblobstorage", "gcs", "iceberg", "deltalake"}
)  # fmt: skip


def run_sql(store: Store, sql: str, limits: Limits = Limits()) -> tuple[QueryResult, bool]:
    """Runs a checked SELECT; returns the rows (at most `max_rows`) and whether more were cut off."""
    tree = check_sql(sql)
    wrapped = f"SELECT * FROM ({tree.sql(dialect='clickhouse')}) LIMIT {limits.max_rows + 1}"
    result = store.query(
        wrapped,
        settings={
            "readonly": 2,
            "max_execution_time": limits.max_seconds,
            "max_rows_to_read": limits.max_rows_to_read,
            "max_result_rows": limits.max_rows + 1,
            "result_overflow_mode": "break",
        },
    )
    truncated = len(result.rows) > limits.max_rows
    return QueryResult(result.columns, result.rows[: limits.max_rows]), truncated
