"""Every route says who may call it. With auth on, each /api route refuses the anonymous (401)
but the open ones, each write refuses a viewer (403) but the few a viewer may make, and each
admin route refuses an editor: walked over the served route list, so a new route is covered."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from kokanee.api.app import create_app
from kokanee.api.auth import tokens, users
from kokanee.api.auth.access import declared, needed, served_routes
from kokanee.api.auth.roles import Role
from kokanee.store.client import Store

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Documented in docs/security.md.
OPEN = {("GET", "/api/v1/health"), ("POST", "/api/v1/auth/login")}
VIEWER_WRITES = {
    ("POST", "/api/v1/query"), ("POST", "/api/v1/ask"), ("POST", "/api/v1/rca"), ("POST", "/api/v1/models/score"),
    ("POST", "/api/v1/auth/logout"), ("PUT", "/api/v1/auth/password"),
}  # fmt: skip
ADMIN = {
    ("GET", "/api/v1/users"), ("POST", "/api/v1/users"), ("PATCH", "/api/v1/users/{user_id}"),
    ("DELETE", "/api/v1/users/{user_id}"), ("GET", "/api/v1/tokens"), ("POST", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/{token_id}"), ("PUT", "/api/v1/ai/config"), ("DELETE", "/api/v1/ai/config"),
    ("POST", "/api/v1/ai/config/test"), ("POST", "/api/v1/channels"), ("PUT", "/api/v1/channels/{channel_id}"),
    ("DELETE", "/api/v1/channels/{channel_id}"), ("POST", "/api/v1/capture/retention/run"),
}  # fmt: skip


def _routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """(method, path, route) for every /api route the API serves, checked against its OpenAPI list."""
    found = [
        (method, path, route)
        for path, route in served_routes(app)
        if path.startswith("/api/")
        for method in sorted(route.methods)
    ]
    listed = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    assert {(m, p) for m, p, _ in found} == listed, "every /api route is in the OpenAPI schema, and only those"
    return found


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


@pytest.fixture
def app_client(chdb_store: Store) -> Iterator[TestClient]:
    for table in ("kokanee_users", "kokanee_api_tokens"):
        chdb_store.command(f"TRUNCATE TABLE {table}")
    yield TestClient(create_app(chdb_store, auth=True))


def _app(client: TestClient) -> FastAPI:
    assert isinstance(client.app, FastAPI)
    return client.app


def _token(store: Store, role: Role) -> dict[str, str]:
    """A bearer header for a service account with `role` (no password hashing: quick)."""
    users.create(store, f"svc-{role.value}", role, None, kind="service")
    text, _ = tokens.issue(store, "api", f"svc-{role.value}", "route walk")
    return {"Authorization": f"Bearer {text}"}


def test_every_write_route_declares_the_role_it_needs(app_client: TestClient) -> None:
    undeclared = [f"{m} {p}" for m, p, r in _routes(_app(app_client)) if m in WRITES and declared(r) is None]
    assert undeclared == [], "declare dependencies=[requires(Role.…)] on these"


def test_the_declared_roles_are_the_documented_ones(app_client: TestClient) -> None:
    routes = _routes(_app(app_client))
    assert {(m, p) for m, p, r in routes if needed(r, m, p).role is None} == OPEN
    assert {(m, p) for m, p, r in routes if m in WRITES and needed(r, m, p).role == Role.viewer} == VIEWER_WRITES
    assert {(m, p) for m, p, r in routes if needed(r, m, p).role == Role.admin} == ADMIN


def test_every_api_route_refuses_the_anonymous(app_client: TestClient) -> None:
    let_in = []
    for method, path, _ in _routes(_app(app_client)):
        if (method, path) in OPEN:
            continue
        response = app_client.request(method, _url(path))
        if response.status_code != 401 or "not signed in" not in response.json()["error"]:
            let_in.append(f"{method} {path}: {response.status_code}")
        elif response.headers.get("www-authenticate") != 'Bearer realm="kokanee"':
            let_in.append(f"{method} {path}: no WWW-Authenticate header")
    assert let_in == []
    assert app_client.get("/api/v1/health").status_code == 200


def test_every_write_route_refuses_a_viewer(app_client: TestClient, chdb_store: Store) -> None:
    viewer = _token(chdb_store, Role.viewer)
    let_in = []
    for method, path, route in _routes(_app(app_client)):
        if method not in WRITES or (method, path) in VIEWER_WRITES | OPEN:
            continue
        response = app_client.request(method, _url(path), headers=viewer)
        needs = needed(route, method, path).role
        assert needs is not None
        expected = f"{method} {route.path} needs the {needs.value} role; svc-viewer is a viewer"
        if response.status_code != 403 or response.json() != {"error": expected}:
            let_in.append(f"{method} {path}: {response.status_code} {response.text[:100]}")
    assert let_in == []
    assert app_client.get("/api/v1/services", headers=viewer).status_code == 200  # reads are a viewer's


def test_every_admin_route_refuses_an_editor(app_client: TestClient, chdb_store: Store) -> None:
    editor = _token(chdb_store, Role.editor)
    let_in = []
    for method, path, _ in _routes(_app(app_client)):
        if (method, path) not in ADMIN:
            continue
        response = app_client.request(method, _url(path), headers=editor)
        if response.status_code != 403 or "needs the admin role; svc-editor is an editor" not in response.text:
            let_in.append(f"{method} {path}: {response.status_code} {response.text[:100]}")
    assert let_in == []


def test_with_auth_off_everyone_acts_as_the_local_admin(chdb_store: Store) -> None:
    client = TestClient(create_app(chdb_store))
    assert client.get("/api/v1/auth/me").json() == {"user": "local", "role": "admin", "via": "open", "auth": False}
    assert client.get("/api/v1/users").status_code == 200
    refused = client.post("/api/v1/auth/login", json={"user": "admin", "password": "whatever1"})
    assert refused.status_code == 400
    assert "sign-in is off" in refused.json()["error"]


def test_the_api_reference_says_who_may_call_each_route(app_client: TestClient) -> None:
    schema = app_client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for method, path, route in _routes(_app(app_client)):
        operation = schema["paths"][path][method.lower()]
        role = needed(route, method, path).role
        assert operation["x-kokanee-role"] == (role.value if role else "anyone"), f"{method} {path}"
        first_line = f"Needs the {role.value} role." if role else "Open to anyone, signed in or not."
        assert operation["description"].startswith(first_line), f"{method} {path}"
    assert schema["paths"]["/api/v1/alert-rules"]["post"]["x-kokanee-role"] == "editor"
