"""Who a request is, and whether its route lets it in: one check for every route.

Routes declare what they need with `dependencies=[requires(Role.editor)]`; `enforce`, an app-wide
dependency, reads that declaration from the matched route and answers 401 (nobody signed in) or
403 (signed in, role too low, or a cookie-borne write without its CSRF token). An `/api` route
that declares nothing needs a viewer to read (GET, HEAD) and an editor for anything else; a path
outside `/api` (the UI's page, `/metrics`, `/docs`) and the few in OPEN_PATHS are public.

A request proves who it is with `Authorization: Bearer` (the static `--api-token`, or an API
token) or with the session cookie the sign-in page set. Cookie-borne writes must echo the CSRF
token (the `kokanee_csrf` cookie, readable by the page) in `X-CSRF-Token`: a page on another site
can make the browser send the cookie, but cannot read the CSRF cookie to copy it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from fastapi import Depends, FastAPI, Request, Response
from fastapi.routing import APIRoute

from kokanee.api.auth import tokens, users
from kokanee.api.auth.metrics import DENIED
from kokanee.api.auth.roles import OPEN, STATIC_TOKEN, Identity, Role, at_most
from kokanee.api.errors import ApiError, error_body
from kokanee.store.client import Store

SESSION_COOKIE = "kokanee_session"
CSRF_COOKIE = "kokanee_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# /api paths anyone may call even with auth on: readiness probes, and signing in itself.
OPEN_PATHS = frozenset({"/api/v1/health", "/api/v1/auth/login"})
NOT_SIGNED_IN = "not signed in: sign in, or send Authorization: Bearer <token>"
CACHE_S = 10.0  # another process's revocation takes effect within this long (this one's at once)


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


@dataclass(frozen=True)
class Access:
    """A route's declared need: a role, or None for public. FastAPI calls it (it does nothing);
    `enforce` finds it among the route's dependencies."""

    role: Role | None

    def __call__(self) -> None:
        return None


def requires(role: Role) -> Any:
    """`dependencies=[requires(Role.editor)]`: the route needs at least that role."""
    return Depends(Access(role))


def public() -> Any:
    """`dependencies=[public()]`: anyone may call the route, signed in or not."""
    return Depends(Access(None))


def declared(route: APIRoute) -> Access | None:
    for dependency in route.dependencies:
        if isinstance(dependency.dependency, Access):
            return dependency.dependency
    return None


def needed(route: APIRoute, method: str, path: str) -> Access:
    """What `route` needs for `method` at `path` (as served, prefixes included): its declaration,
    else the default for the path and method."""
    found = declared(route)
    if found is not None:
        return found
    if not path.startswith("/api/") or path in OPEN_PATHS:
        return Access(None)
    return Access(Role.viewer if method in SAFE_METHODS else Role.editor)


def served_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    """(path as served, route) for every APIRoute, through included routers: FastAPI keeps an
    included router whole (its routes are not copied into `app.routes`)."""
    found: list[tuple[str, APIRoute]] = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            found.append((route.path, route))
        for context in getattr(route, "effective_route_contexts", lambda: [])():
            if isinstance(context.original_route, APIRoute):
                found.append((context.path, context.original_route))
    return found


def csrf_token(session: str) -> str:
    """The CSRF token that goes with a session: derived from it, so nothing more is stored."""
    return hmac.new(session.encode(), b"kokanee-csrf", hashlib.sha256).hexdigest()[:32]


class Auth:
    """Resolves requests to identities (app.state.auth). With `enabled` False everyone is OPEN."""

    def __init__(self, store: Store, enabled: bool, api_token: str | None = None) -> None:
        self.store = store
        self.enabled = enabled
        self.api_token = api_token
        self._cache: TTLCache[str, Identity | None] = TTLCache(maxsize=4096, ttl=CACHE_S)
        self._lock = threading.Lock()
        self._granted: dict[str, Identity] = {}

    def grant(self, identity: Identity) -> str:
        """A bearer token for `identity` that lives only in this process's memory (never stored,
        never shown): for parts of kokanee that call its own API as a client, like the served demo."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._granted[tokens.digest(token)] = identity
        return token

    def forget(self) -> None:
        """Drops cached identities: call after a user or token changes."""
        with self._lock:
            self._cache.clear()

    def identify(self, request: Request) -> tuple[Identity | None, str | None]:
        """The request's identity, and a problem to answer with (or None): 401 if there is no
        identity, 403 if there is one (a write whose CSRF token is missing or wrong)."""
        if not self.enabled:
            return OPEN, None
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            credential = credential.strip()
            if self.api_token and hmac.compare_digest(credential.encode(), self.api_token.encode()):
                return STATIC_TOKEN, None
            granted = self._granted.get(tokens.digest(credential))
            if granted is not None:
                return granted, None
            identity = self._resolve(credential, "api")
            return (identity, None) if identity else (None, "missing or wrong bearer token")
        session = request.cookies.get(SESSION_COOKIE)
        if not session:
            return None, None
        identity = self._resolve(session, "session")
        if identity is None:
            return None, "your session has ended: sign in again"
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), csrf_token(session).encode()):
                return identity, f"missing or wrong {CSRF_HEADER} header (send the {CSRF_COOKIE} cookie's value)"
        return identity, None

    def _resolve(self, credential: str, kind: tokens.Kind) -> Identity | None:
        # Cached by digest, found or not: a token never turns valid after it was refused, and
        # answering a flood of wrong tokens from memory keeps it off the store.
        key = f"{kind}:{tokens.digest(credential)}"
        with self._lock:
            if key in self._cache:
                cached: Identity | None = self._cache[key]
                return cached
        identity = self._lookup(credential, kind)
        with self._lock:
            self._cache[key] = identity
        return identity

    def _lookup(self, credential: str, kind: tokens.Kind) -> Identity | None:
        token = tokens.lookup(self.store, credential, kind)
        if token is None:
            return None
        user = users.get(self.store, token.user_id)
        if user is None or user.disabled:
            return None
        role = at_most(user.role, token.role) if token.role else user.role
        via = "session" if kind == "session" else "token"
        return Identity(user.user_id, frozenset({role}), via, token.token_id if kind == "session" else None)


def enforce(request: Request) -> None:
    """The app-wide dependency: lets the request through or raises 401/403; sets
    `request.state.identity` for the route (see `current`)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    # The route's own path, unless a prefix was added when its router was included: then the URL's.
    path = route.path if route.path.startswith("/api/") else request.url.path
    access = needed(route, request.method, path)
    auth: Auth = request.app.state.auth
    if access.role is None:
        return
    identity, problem = auth.identify(request)
    if identity is None:
        DENIED.labels("401").inc()
        raise Unauthorized(problem or NOT_SIGNED_IN)
    if not identity.has(access.role):
        DENIED.labels("403").inc()
        raise Forbidden(
            f"{request.method} {route.path} needs the {access.role.value} role; "
            f"{identity.user_id} is {_article(identity.role.value)} {identity.role.value}"
        )
    if problem:
        DENIED.labels("403").inc()
        raise Forbidden(problem)
    request.state.identity = identity


def current(request: Request) -> Identity:
    """The identity `enforce` let in (OPEN where auth is off); only for routes that need a role."""
    identity: Identity | None = getattr(request.state, "identity", None)
    if identity is None:
        raise Unauthorized(NOT_SIGNED_IN)
    return identity


def install(app: FastAPI, store: Store, enabled: bool, api_token: str | None) -> None:
    """Puts `enforce` in front of every route added from now on: call before adding any."""
    app.state.auth = Auth(store, enabled, api_token)
    app.router.dependencies.append(Depends(enforce))

    async def unauthorized(request: Request, exc: Exception) -> Response:
        response = error_body(str(exc), 401)
        response.headers["WWW-Authenticate"] = 'Bearer realm="kokanee"'
        return response

    app.add_exception_handler(Unauthorized, unauthorized)
    _document_roles(app)


def _document_roles(app: FastAPI) -> None:
    """Says in the OpenAPI schema (so /docs and the API reference) who may call each operation:
    `x-kokanee-role` and a line in its description, and the bearer scheme /docs can send."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "an API token (kok_…) or --api-token"}
        }
        for path, route in served_routes(app):
            for method in route.methods or ():
                operation = schema["paths"].get(path, {}).get(method.lower())
                if operation is None:
                    continue
                role = needed(route, method, path).role
                operation["x-kokanee-role"] = role.value if role else "anyone"
                who = f"Needs the {role.value} role." if role else "Open to anyone, signed in or not."
                operation["description"] = f"{who}\n\n{operation.get('description', '')}".strip()
                if role:
                    operation["security"] = [{"bearer": []}]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"
