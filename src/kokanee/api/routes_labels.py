"""Fault labels: the ground truth of injected faults (demo shop, imported datasets)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from kokanee.api.auth.access import requires
from kokanee.api.auth.roles import Role
from kokanee.store.client import Store
from kokanee.store.timeparse import rfc3339

router = APIRouter(prefix="/api/v1")


class FaultLabel(BaseModel):
    start: int = Field(description="Unix nanoseconds", ge=0)
    end: int | None = Field(None, description="Unix nanoseconds; null while the fault is active", ge=0)
    service: str = Field(max_length=500)
    kind: str = Field(max_length=200)
    source: str = Field("api", max_length=200)
    detail: str = Field("", max_length=10_000)


class FaultLabels(BaseModel):
    labels: list[FaultLabel] = Field(max_length=10_000)


@router.post("/fault-labels", tags=["labels"], dependencies=[requires(Role.editor)])
def add_labels(request: Request, body: FaultLabels) -> dict[str, Any]:
    """Adds labels; a label posted again with its end replaces the open one (same start, service, kind)."""
    store: Store = request.app.state.store
    if body.labels:
        import pyarrow as pa

        table = pa.table(
            {
                "Start": pa.array([label.start for label in body.labels], pa.timestamp("ns")),
                "End": pa.array([label.end for label in body.labels], pa.timestamp("ns")),
                "ServiceName": [label.service for label in body.labels],
                "Kind": [label.kind for label in body.labels],
                "Source": [label.source for label in body.labels],
                "Detail": [label.detail for label in body.labels],
            }
        )
        store.insert_arrow("kokanee_fault_labels", table)
    return {"inserted": len(body.labels)}


@router.get("/fault-labels", tags=["labels"])
def labels(request: Request, source: str | None = None) -> dict[str, Any]:
    store: Store = request.app.state.store
    where = "WHERE Source = {source:String}" if source else ""
    rows = store.query(
        "SELECT toUnixTimestamp64Nano(Start) AS s,"
        " if(isNull(End), NULL, toUnixTimestamp64Nano(assumeNotNull(End))) AS e,"
        f" ServiceName, Kind, Source, Detail FROM kokanee_fault_labels FINAL {where} ORDER BY Start",
        parameters={"source": source} if source else None,
    ).dicts()
    return {
        "labels": [
            {"start": rfc3339(int(r["s"])), "start_unix_nano": int(r["s"]),
             "end": rfc3339(int(r["e"])) if r["e"] is not None else None,
             "end_unix_nano": int(r["e"]) if r["e"] is not None else None,
             "service": r["ServiceName"], "kind": r["Kind"], "source": r["Source"], "detail": r["Detail"]}
            for r in rows
        ]
    }  # fmt: skip
