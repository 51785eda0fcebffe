"""The read-only SQL sandbox: one SELECT over kokanee's tables, run under time and row limits.

Checked twice: sqlglot parses the statement (ClickHouse dialect) and refuses anything but a
single SELECT over allowed tables, calling allowed functions (kokanee.store.sandbox_functions: an
allowlist, so server introspection such as version() or currentUser() is refused by omission), with
no table functions, SETTINGS or system tables; then ClickHouse runs it with `readonly` so even a
missed case cannot write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from kokanee.store.client import QueryResult, Store
from kokanee.store.sandbox_functions import AGGREGATE_FUNCTIONS, SCALAR_FUNCTIONS
from kokanee.store.schema import SIGNAL_TABLES

ALLOWED_TABLES = frozenset(
    {t for tables in SIGNAL_TABLES.values() for t in tables}
    | {"otel_traces_trace_id_ts", "kokanee_fault_labels"}
    # Derived tables: what questions about health and incidents are best answered from.
    | {"kokanee_red_1m", "kokanee_red_1h", "kokanee_service_red_1m", "kokanee_service_red_1h"}
    | {"kokanee_service_edges_1m", "kokanee_service_edges_1h"}
    | {"kokanee_anomalies", "kokanee_incidents", "kokanee_log_templates"}
)


class SandboxRefused(ValueError):
    """The statement is not allowed; the message says why and what is."""


@dataclass(frozen=True)
class Limits:
    max_rows: int = 10_000
    max_seconds: float = 10.0
    max_rows_to_read: int = 500_000_000
    max_memory_bytes: int = 4_000_000_000


def check_sql(sql: str, allowed: frozenset[str] = ALLOWED_TABLES) -> exp.Query:
    """Returns the parsed statement (comments removed), or raises SandboxRefused naming the problem."""
    if len(sql) > MAX_SQL_CHARS:
        raise SandboxRefused(f"the statement is longer than {MAX_SQL_CHARS} characters")
    try:
        statements = [s for s in sqlglot.parse(sql, read="clickhouse") if s is not None]
    except (ParseError, TokenError) as e:
        raise SandboxRefused(f"cannot parse the SQL: {str(e).splitlines()[0]}") from e
    except RecursionError as e:
        raise SandboxRefused("the statement nests too deeply") from e
    except Exception as e:  # sqlglot can fail in other ways on odd input (map(x): IndexError); refuse, never crash
        raise SandboxRefused(f"cannot parse the SQL ({type(e).__name__}: {e})") from e
    if len(statements) != 1:
        raise SandboxRefused("send exactly one statement")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise SandboxRefused(f"only SELECT queries are allowed, not {tree.key.upper()}")
    for node in tree.walk():
        # Comments are dropped, not re-rendered: a comment holding "*/" could close the one we write.
        node.comments = None
    for query in tree.find_all(exp.Query):
        if query.args.get("settings"):
            raise SandboxRefused("SETTINGS clauses are not allowed; limits are set by kokanee")
        if query.args.get("format"):
            raise SandboxRefused("FORMAT clauses are not allowed; results come back as JSON")
        with_ = query.args.get("with_") or query.args.get("with")
        if isinstance(with_, exp.With) and with_.args.get("recursive"):
            raise SandboxRefused("recursive CTEs are not allowed")
    if tree.find(exp.Placeholder):
        raise SandboxRefused("query parameters ({name:Type}) are not supported here; write the values")
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise SandboxRefused(f"table functions are not allowed ({table.this.sql(dialect='clickhouse')[:60]})")
        name = table.name
        if table.db or table.catalog:
            raise SandboxRefused(f"qualified table names are not allowed ({table.sql(dialect='clickhouse')})")
        if name not in allowed and name not in _visible_ctes(table):
            raise SandboxRefused(f"table {name!r} is not allowed; allowed: {', '.join(sorted(allowed))}")
    for join in tree.find_all(exp.Join):
        kind = (join.args.get("kind") or "").upper()
        if kind == "ARRAY":
            continue
        if kind == "CROSS" or not (join.args.get("on") or join.args.get("using")):
            raise SandboxRefused("joins need an ON or USING condition (cross joins scan too much)")
        on = join.args.get("on")
        if on is not None and not on.find(exp.Column):
            raise SandboxRefused("a join condition must compare columns (ON 1 = 1 is a cross join)")
    for node in tree.find_all(exp.In):
        if node.args.get("field") is not None or _names_a_table(node.expressions):
            raise SandboxRefused("IN needs a list or a subquery, not a table name")
    _check_identifiers(tree)
    for func in tree.find_all(exp.Func):
        if isinstance(func, (exp.Connector, exp.Collate)):  # AND, OR, XOR, COLLATE: operators, not calls
            continue
        name = _function_name(func)
        if not _allowed(name):
            raise SandboxRefused(
                f"function {name}() is not allowed; the sandbox allows aggregate, math, string, date and time, "
                "array, map, JSON, conditional and type-conversion functions"
            )
        if name.lower() in _BY_AGGREGATE_NAME:
            _check_named_aggregate(func, name)
        if name.lower() in _SIZED_FUNCTIONS:
            for literal in func.find_all(exp.Literal):
                if not literal.is_string and _number(literal.this) > _MAX_GENERATED:
                    raise SandboxRefused(f"{name}() with {literal.this} elements is too big")
    return tree


def _visible_ctes(table: exp.Table) -> set[str]:
    """Names of the CTEs in scope at `table`: those of the queries that enclose it."""
    names: set[str] = set()
    node: exp.Expr | None = table
    while node is not None:
        if isinstance(node, exp.Query):
            with_ = node.args.get("with_") or node.args.get("with")
            if isinstance(with_, exp.With):
                names |= {cte.alias_or_name for cte in with_.expressions}
        node = node.parent
    return names


def _function_name(func: exp.Func) -> str:
    """The name ClickHouse will run: sqlglot maps many functions to its own nodes (uniq -> ApproxDistinct,
    VERSION() -> CurrentVersion), so the name is read from the statement as it will be rendered."""
    if isinstance(func, exp.Anonymous):
        return func.name
    if isinstance(func, exp.Apply):  # `* APPLY(f)` calls f by name on every column
        applied = func.expression
        return applied.name if isinstance(applied, exp.Var) else "apply"
    if isinstance(func, exp.Array):  # [a, b]
        return "array"
    try:
        rendered = func.sql(dialect="clickhouse")
    except Exception as e:  # what cannot be rendered cannot be checked: refuse it
        raise SandboxRefused(f"cannot check {type(func).__name__} ({type(e).__name__}: {e})") from e
    head = _HEAD.match(rendered)
    return head.group(1) if head else type(func).__name__


def _names_a_table(values: list[exp.Expr]) -> bool:
    """ClickHouse reads `x IN (t)` and `x IN ((db.t))` as `x IN t`: one name alone, in any parentheses."""
    if len(values) != 1:
        return False
    value = values[0]
    while isinstance(value, exp.Paren):
        value = value.this
    return isinstance(value, exp.Column | exp.Dot | exp.Identifier | exp.Table)


def _check_identifiers(tree: exp.Query) -> None:
    """ClickHouse runs a few functions named without parentheses (`SELECT currentUser`), and its
    virtual columns (`_part`, `_disk_name`, ...) describe storage, not data: both are refused unless
    the statement itself defines the name (an alias, a CTE, a lambda argument)."""
    defined = {node.alias.lower() for node in tree.find_all(exp.Alias, exp.TableAlias, exp.CTE) if node.alias}
    defined |= {p.name.lower() for lam in tree.find_all(exp.Lambda) for p in lam.expressions}
    for column in tree.find_all(exp.Column):
        name = column.name.lower()
        if name in defined:
            continue
        if not column.table and name in _BARE_CALLS:
            raise SandboxRefused(f"{column.name} calls the function {column.name}(), which is not allowed")
        if name.startswith("_"):
            raise SandboxRefused(f"virtual columns such as {column.name} describe storage; they are not allowed")


def _check_named_aggregate(func: exp.Func, name: str) -> None:
    """arrayReduce('sum', ...) and the like run the aggregate named by their first argument."""
    args = func.expressions if isinstance(func, exp.Anonymous) else [func.this, *func.expressions]
    first = next((a for a in args if isinstance(a, exp.Expr)), None)
    if not (isinstance(first, exp.Literal) and first.is_string):
        raise SandboxRefused(f"{name}() needs the aggregate's name as a string literal")
    aggregate = first.this.split("(", 1)[0].strip()
    if not _allowed(aggregate):
        raise SandboxRefused(f"{name}() with aggregate {aggregate} is not allowed")


def _allowed(name: str) -> bool:
    lowered = name.lower()
    if lowered in SCALAR_FUNCTIONS or lowered in AGGREGATE_FUNCTIONS or lowered in _SYNTAX:
        return True
    return lowered in _UDFS or _combined_aggregate(lowered)


def _combined_aggregate(name: str) -> bool:
    """Whether `name` is an allowed aggregate with combinators (sumIf, uniqMerge, avgStateIf, sumMapOrNull)."""
    frontier = {name}
    for _ in range(_MAX_COMBINATORS):
        bases = {n[: -len(c)] for n in frontier for c in _COMBINATORS if n.endswith(c) and len(n) > len(c)}
        if bases & AGGREGATE_FUNCTIONS:
            return True
        frontier = bases
    return False


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


MAX_SQL_CHARS = 100_000
_MAX_GENERATED = 10_000_000
_HEAD = re.compile(r"[`\"]?([A-Za-z_][A-Za-z0-9_]*)")
# SQL syntax sqlglot models as functions: CASE, CAST(x AS T), EXTRACT(... FROM ...), COLUMNS('re'), EXISTS.
_SYNTAX = frozenset({"case", "cast", "extract", "columns", "countdistinct", "grouping", "exists"})
_UDFS = frozenset({"kokanee_quantiles"})  # defined by kokanee.store.schema_derived
# ClickHouse's aggregate combinators, as suffixes; a name may stack a few (sumMapStateIf).
_COMBINATORS = (
    "if", "array", "map", "state", "simplestate", "merge", "mergestate", "foreach", "distinct", "ordefault",
    "ornull", "resample", "argmin", "argmax", "tuple",
)  # fmt: skip
_MAX_COMBINATORS = 4
# Functions ClickHouse also runs when named without parentheses (found by trying every function
# name bare; tests/test_sandbox.py repeats that) and that the allowlist leaves out.
_BARE_CALLS = frozenset(
    {"currentdatabase", "current_database", "database", "schema", "currentuser", "current_user", "user",
     "session_user", "currenthandler", "currentrequesturl"}
)  # fmt: skip
# Functions that run the aggregate their first argument names.
_BY_AGGREGATE_NAME = frozenset({"arrayreduce", "arrayreduceinranges", "initializeaggregation"})
# Functions whose size argument allocates that many values: a literal over the cap is a memory bomb.
_SIZED_FUNCTIONS = frozenset(
    {"range", "repeat", "space", "randomstring", "randomfixedstring", "randomprintableascii", "randomstringutf8",
     "arraywithconstant", "arrayresize", "pad", "lpad", "rpad", "leftpad", "rightpad", "leftpadutf8", "rightpadutf8",
     "timeslots", "bar", "sparkbar", "tofixedstring"}
)  # fmt: skip


def run_sql(store: Store, sql: str, limits: Limits = Limits()) -> tuple[QueryResult, bool]:
    """Runs a checked SELECT; returns the rows (at most `max_rows`) and whether more were cut off."""
    tree = check_sql(sql)
    try:
        rendered = tree.sql(dialect="clickhouse")
    except Exception as e:  # checked but not renderable: refuse rather than fail with a 500
        raise SandboxRefused(f"cannot render the statement ({type(e).__name__}: {e})") from e
    wrapped = f"SELECT * FROM ({rendered}) LIMIT {limits.max_rows + 1}"
    result = store.query(
        wrapped,
        settings={
            "readonly": 2,
            "max_execution_time": limits.max_seconds,
            "max_rows_to_read": limits.max_rows_to_read,
            "max_result_rows": limits.max_rows + 1,
            "result_overflow_mode": "break",
            "max_memory_usage": limits.max_memory_bytes,
        },
    )
    truncated = len(result.rows) > limits.max_rows
    return QueryResult(result.columns, result.rows[: limits.max_rows]), truncated
