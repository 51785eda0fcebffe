"""POST /api/v1/query: the user's own ClickHouse SELECT, through the read-only sandbox."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from kokanee.api.auth.access import requires
from kokanee.api.auth.roles import Role
from kokanee.api.errors import BadRequest
from kokanee.store.client import Store
from kokanee.store.sandbox import SandboxRefused, run_sql

router = APIRouter(prefix="/api/v1")


class QueryBody(BaseModel):
    sql: str = Field(description="One ClickHouse SELECT over otel_* and kokanee_* tables", max_length=100_000)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID | IPv4Address | IPv6Address):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value


@router.post("/query", tags=["query"], dependencies=[requires(Role.viewer)])
def query(request: Request, body: QueryBody) -> dict[str, Any]:
    """Columns and rows, or a 400 saying why the statement was refused or failed."""
    store: Store = request.app.state.store
    try:
        result, truncated = run_sql(store, body.sql)
    except SandboxRefused as e:
        raise BadRequest(str(e)) from e
    return {
        "columns": result.columns,
        "rows": [[_json_value(v) for v in row] for row in result.rows],
        "truncated": truncated,
    }
