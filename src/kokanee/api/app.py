"""The HTTP API (JSON, OpenAPI at /docs) and Prometheus self-metrics at /metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from kokanee import __version__
from kokanee.api.auth.access import install as install_auth
from kokanee.api.auth.routes import router as auth_router
from kokanee.api.errors import install_handlers
from kokanee.api.meta import add_meta_routes
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


def create_app(
    store: Store,
    api_token: str | None = None,
    status: Callable[[], dict[str, Any]] | None = None,
    auth: bool | None = None,
) -> FastAPI:
    """`auth`: users, roles and sign-in on or off (default: on when `api_token` is set, which then
    also signs in as an admin); see kokanee.api.auth."""
    app = FastAPI(
        title="kokanee",
        version=__version__,
        description="OpenTelemetry in, answers out. Times are RFC 3339 or Unix nanoseconds; "
        "durations in the data are nanoseconds.",
    )
    app.state.store = store
    install_handlers(app)
    install_auth(app, store, bool(api_token) if auth is None else auth, api_token)  # before any route
    add_meta_routes(app, store, status)  # health and metrics, as on every role
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
    app.include_router(auth_router)
    mount_ui(app)  # last: it answers every other GET with the UI's page
    return app
