"""The HTTP API (JSON, OpenAPI at /docs) and Prometheus self-metrics at /metrics."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kokanee import __version__
from kokanee.api.errors import error_body, install_handlers
from kokanee.api.routes_ai import router as ai_router
from kokanee.api.routes_alerts import router as alerts_router
from kokanee.api.routes_analysis import router as analysis_router
from kokanee.api.routes_anomalies import router as anomalies_router
from kokanee.api.routes_capture import router as capture_router
from kokanee.api.routes_labels import router as labels_router
from kokanee.api.routes_query import router as query_router
from kokanee.api.routes_rca import router as rca_router
from kokanee.api.routes_signals import router as signals_router
from kokanee.api.routes_topology import router as topology_router
from kokanee.api.static import mount_ui
from kokanee.store.client import Store

# Paths anyone may read even when an API token is set: liveness for orchestrators, and docs.
_OPEN_PATHS = ("/api/v1/health", "/docs", "/openapi.json", "/metrics")


def create_app(
    store: Store, api_token: str | None = None, status: Callable[[], dict[str, Any]] | None = None
) -> FastAPI:
    app = FastAPI(
        title="kokanee",
        version=__version__,
        description="OpenTelemetry in, answers out. Times are RFC 3339 or Unix nanoseconds; "
        "durations in the data are nanoseconds.",
    )
    app.state.store = store
    install_handlers(app)

    if api_token:
        expected = f"Bearer {api_token}".encode()

        @app.middleware("http")
        async def _auth(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            path = request.url.path
            if path.startswith("/api/") and not path.startswith(_OPEN_PATHS):
                given = request.headers.get("authorization", "").encode()
                if not hmac.compare_digest(given, expected):
                    return error_body("missing or wrong bearer token", 401)
            return await call_next(request)

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

    app.include_router(signals_router)
    app.include_router(query_router)
    app.include_router(labels_router)
    app.include_router(topology_router)
    app.include_router(analysis_router)
    app.include_router(alerts_router)
    app.include_router(ai_router)
    app.include_router(anomalies_router)
    app.include_router(capture_router)
    app.include_router(rca_router)
    mount_ui(app)  # last: it answers every other GET with the UI's page
    return app
