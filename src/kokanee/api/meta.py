"""Routes every kokanee process serves on its API port, whatever its role: readiness for
orchestrators (`/api/v1/health`) and Prometheus self-metrics (`/metrics`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kokanee import __version__
from kokanee.store.client import Store


def add_meta_routes(app: FastAPI, store: Store, status: Callable[[], dict[str, Any]] | None = None) -> None:
    @app.get("/api/v1/health", tags=["meta"])
    def health() -> JSONResponse:
        """Ready (200) only when the store answers; 503 otherwise."""
        store_ok = store.ping()
        body: dict[str, Any] = {
            "status": "ok" if store_ok else "unavailable",
            "store": store_ok,
            "version": __version__,
        }
        if status is not None:
            body.update(status())
        return JSONResponse(body, status_code=200 if store_ok else 503)

    @app.get("/metrics", tags=["meta"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def meta_app(store: Store, status: Callable[[], dict[str, Any]] | None = None) -> FastAPI:
    """The API port of a process without the API (an ingest node, the worker): health and metrics only."""
    app = FastAPI(title="kokanee", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    add_meta_routes(app, store, status)
    return app
