"""A JSON API router over a real store, in-process: for tests of one route module's answers."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from kokanee.api.errors import install_handlers
from kokanee.store.client import Store


def api_client(store: Store, router: APIRouter) -> TestClient:
    """The router's routes on `store`, with the server's error handlers (4xx bodies as served)."""
    app = FastAPI()
    app.state.store = store
    install_handlers(app)
    app.include_router(router)
    return TestClient(app)
