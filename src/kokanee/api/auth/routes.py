"""Sign-in, sign-out and who am I (`/api/v1/auth/*`); users and API tokens for admins."""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any

from cachetools import TTLCache
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from kokanee.api.auth import tokens, users
from kokanee.api.auth.access import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Auth,
    Unauthorized,
    csrf_token,
    current,
    public,
    requires,
)
from kokanee.api.auth.metrics import SIGNINS
from kokanee.api.auth.roles import Identity, Role
from kokanee.api.errors import ApiError, BadRequest, NotFound

router = APIRouter(prefix="/api/v1")
# Who signed in, who failed, and every change to users and tokens, with who made it: an audit trail.
log = logging.getLogger("kokanee.auth")

MAX_FAILURES = 10  # wrong passwords for one name from one address before sign-in pauses
FAILURE_WINDOW_S = 300


class TooManyRequests(ApiError):
    status = 429


class Conflict(ApiError):
    status = 409


class _Failures:
    """Failed sign-ins per (address, name), forgotten FAILURE_WINDOW_S after the last one."""

    def __init__(self) -> None:
        self._counts: TTLCache[tuple[str, str], int] = TTLCache(maxsize=10_000, ttl=FAILURE_WINDOW_S)
        self._lock = threading.Lock()

    def count(self, key: tuple[str, str]) -> int:
        with self._lock:
            failures: int = self._counts.get(key, 0)
            return failures

    def add(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1

    def clear(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._counts.pop(key, None)


_failures = _Failures()


def _auth(request: Request) -> Auth:
    auth: Auth = request.app.state.auth
    return auth


def _secure(request: Request) -> bool:
    """Whether the browser reached us over TLS (directly, or through a proxy that says so)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _me(identity: Identity, auth: Auth) -> dict[str, Any]:
    return {"user": identity.user_id, "role": identity.role.value, "via": identity.via, "auth": auth.enabled}


class SignIn(BaseModel):
    user: str = Field(min_length=1, max_length=64, description="user id (the sign-in name)")
    password: str = Field(min_length=1, max_length=users.MAX_PASSWORD)


@router.post("/auth/login", tags=["auth"], dependencies=[public()])
def login(request: Request, response: Response, body: SignIn) -> dict[str, Any]:
    """Signs in with a user id and password: sets the session cookie (HttpOnly) and the CSRF
    cookie whose value writes must send back in `X-CSRF-Token`. 401 when either is wrong; 429
    after 10 failures for one name from one address, for 5 minutes."""
    auth = _auth(request)
    if not auth.enabled:
        raise BadRequest("sign-in is off: this kokanee runs without auth (start it with --auth on)")
    key = (request.client.host if request.client else "", body.user.strip().lower())
    if _failures.count(key) >= MAX_FAILURES:
        SIGNINS.labels("throttled").inc()
        log.warning("sign-in paused for %r from %s: %d failures", key[1], key[0], MAX_FAILURES)
        raise TooManyRequests(f"too many failed sign-ins for {key[1]!r}: wait {FAILURE_WINDOW_S // 60} minutes")
    user = users.verify(auth.store, body.user, body.password)
    if user is None:
        _failures.add(key)
        SIGNINS.labels("wrong").inc()
        log.warning("failed sign-in for %r from %s", key[1], key[0])
        raise Unauthorized("wrong user or password")
    _failures.clear(key)
    SIGNINS.labels("ok").inc()
    log.info("%s signed in from %s", user.user_id, key[0])
    agent = request.headers.get("user-agent", "")[:200]
    session, record = tokens.issue(auth.store, "session", user.user_id, name=agent)
    secure = _secure(request)
    csrf = csrf_token(session)
    response.set_cookie(
        SESSION_COOKIE, session, max_age=tokens.SESSION_TTL_S, httponly=True, samesite="lax", secure=secure
    )
    response.set_cookie(CSRF_COOKIE, csrf, max_age=tokens.SESSION_TTL_S, httponly=False, samesite="lax", secure=secure)
    identity = Identity(user.user_id, frozenset({user.role}), "session", record.token_id)
    return {**_me(identity, auth), "csrf_token": csrf}


@router.post("/auth/logout", tags=["auth"], dependencies=[requires(Role.viewer)])
def logout(request: Request, response: Response) -> dict[str, Any]:
    """Ends this browser's session and clears its cookies."""
    identity = current(request)
    auth = _auth(request)
    if identity.session_id is not None:
        found = tokens.get(auth.store, identity.session_id)
        if found is not None:
            tokens.revoke(auth.store, found)
        auth.forget()
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, httponly=name == SESSION_COOKIE, samesite="lax", secure=_secure(request))
    return {"signed_out": identity.user_id}


@router.get("/auth/me", tags=["auth"], dependencies=[requires(Role.viewer)])
def me(request: Request) -> dict[str, Any]:
    """Who this request acts as: user id, role, how it proved it (session, token, api-token, or
    open where auth is off) and whether auth is on. 401 when nobody is signed in."""
    return _me(current(request), _auth(request))


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=users.MAX_PASSWORD)
    new_password: str = Field(min_length=users.MIN_PASSWORD, max_length=users.MAX_PASSWORD)


@router.put("/auth/password", tags=["auth"], dependencies=[requires(Role.viewer)])
def change_password(request: Request, body: PasswordChange) -> dict[str, Any]:
    """Changes the signed-in user's own password (the current one is asked again); every other
    session of theirs ends."""
    identity = current(request)
    auth = _auth(request)
    if identity.via in ("open", "api-token"):
        raise BadRequest(f"{identity.user_id} is not a user with a password")
    user = users.verify(auth.store, identity.user_id, body.current_password)
    if user is None:
        raise BadRequest("current_password: wrong password")
    users.update(auth.store, user, password=body.new_password)
    ended = tokens.revoke_sessions(auth.store, user.user_id, keep=identity.session_id)
    auth.forget()
    log.info("%s changed their password (%d other sessions ended)", user.user_id, ended)
    return {"user": user.user_id, "other_sessions_ended": ended}


# ---- users (admin) ----


class NewUser(BaseModel):
    id: str = Field(min_length=1, max_length=64, description="the sign-in name (stored in lower case)")
    role: Role = Role.viewer
    password: str | None = Field(None, max_length=users.MAX_PASSWORD, description="not for service accounts")
    service_account: bool = Field(False, description="no password: signs in only with API tokens")


class UserChange(BaseModel):
    role: Role | None = None
    password: str | None = Field(None, max_length=users.MAX_PASSWORD)
    disabled: bool | None = None


def _user(auth: Auth, user_id: str) -> users.User:
    found = users.get(auth.store, user_id)
    if found is None:
        raise NotFound(f"no user {user_id!r}")
    return found


def _keep_an_admin(auth: Auth, leaving: users.User) -> None:
    """Refuses to remove the last enabled admin: nobody could manage users after that."""
    if leaving.role != Role.admin or leaving.disabled:
        return
    admins = [u for u in users.list_users(auth.store) if u.role == Role.admin and not u.disabled]
    others = [u for u in admins if u.user_id != leaving.user_id]
    if not others:
        raise Conflict(f"{leaving.user_id} is the last admin: make another admin first")


@router.get("/users", tags=["auth"], dependencies=[requires(Role.admin)])
def list_users(request: Request) -> dict[str, Any]:
    """Every user and service account (never their password hashes)."""
    return {"users": [u.to_json() for u in users.list_users(_auth(request).store)]}


@router.post("/users", tags=["auth"], status_code=201, dependencies=[requires(Role.admin)])
def create_user(request: Request, body: NewUser) -> dict[str, Any]:
    """A user who signs in with a password, or (`service_account`) one that only has API tokens."""
    auth = _auth(request)
    try:
        made = users.create(
            auth.store, body.id, body.role, body.password, "service" if body.service_account else "local"
        )
    except users.UserExists as e:
        raise Conflict(str(e)) from e
    except users.UserError as e:
        raise BadRequest(str(e)) from e
    log.info("%s created %s %r (%s)", current(request).user_id, made.kind, made.user_id, made.role.value)
    return made.to_json()


@router.patch("/users/{user_id}", tags=["auth"], dependencies=[requires(Role.admin)])
def change_user(request: Request, user_id: str, body: UserChange) -> dict[str, Any]:
    """Changes a user's role, password or disabled flag; a new password or disabling ends their sessions."""
    auth = _auth(request)
    user = _user(auth, user_id)
    if (body.role is not None and body.role != Role.admin) or body.disabled:
        _keep_an_admin(auth, user)
    try:
        changed = users.update(auth.store, user, role=body.role, password=body.password, disabled=body.disabled)
    except users.UserError as e:
        raise BadRequest(str(e)) from e
    if body.password is not None or body.disabled:
        tokens.revoke_sessions(auth.store, user.user_id)
    auth.forget()
    what = body.model_dump(mode="json", exclude_none=True)
    if body.password is not None:
        what["password"] = "(new)"
    log.info("%s changed user %r: %s", current(request).user_id, user.user_id, what)
    return changed.to_json()


@router.delete("/users/{user_id}", tags=["auth"], dependencies=[requires(Role.admin)])
def delete_user(request: Request, user_id: str) -> dict[str, Any]:
    """Deletes a user and revokes their sessions and API tokens."""
    auth = _auth(request)
    user = _user(auth, user_id)
    _keep_an_admin(auth, user)
    users.delete(auth.store, user)
    revoked = tokens.revoke_sessions(auth.store, user.user_id)
    for t in tokens.list_tokens(auth.store, "api", user.user_id):
        if not t.revoked:
            tokens.revoke(auth.store, t)
            revoked += 1
    auth.forget()
    log.info("%s deleted user %r (%d tokens and sessions revoked)", current(request).user_id, user.user_id, revoked)
    return {"deleted": user.user_id, "revoked": revoked}


# ---- API tokens (admin) ----


class NewToken(BaseModel):
    user: str = Field(min_length=1, max_length=64, description="the user or service account it acts for")
    name: str = Field(min_length=1, max_length=200, description="what it is for, e.g. 'ci deploy marker'")
    role: Role | None = Field(None, description="act with this role where it is below the user's (default: theirs)")
    expires_in_days: float | None = Field(None, gt=0, le=3650, description="default: never")


@router.get("/tokens", tags=["auth"], dependencies=[requires(Role.admin)])
def list_tokens(
    request: Request, user: Annotated[str | None, Query(description="only this user's tokens")] = None
) -> dict[str, Any]:
    """API tokens, newest first: their ids, names and users, never the tokens themselves."""
    found = tokens.list_tokens(_auth(request).store, "api", user.strip().lower() if user else None)
    return {"tokens": [t.to_json() for t in found]}


@router.post("/tokens", tags=["auth"], status_code=201, dependencies=[requires(Role.admin)])
def create_token(request: Request, body: NewToken) -> dict[str, Any]:
    """A new API token for a user or service account, sent as `Authorization: Bearer <token>`.
    `token` is in this answer only: kokanee keeps its hash, so save it now."""
    auth = _auth(request)
    user = _user(auth, body.user)
    ttl_s = body.expires_in_days * 86400 if body.expires_in_days else None
    text, record = tokens.issue(auth.store, "api", user.user_id, body.name, body.role, ttl_s)
    log.info("%s created API token %s (%r) for %r", current(request).user_id, record.token_id, body.name, user.user_id)
    return {"token": text, **record.to_json()}


@router.delete("/tokens/{token_id}", tags=["auth"], dependencies=[requires(Role.admin)])
def revoke_token(request: Request, token_id: str) -> dict[str, Any]:
    """Revokes an API token: it is refused from now on (by other kokanee processes within 10 s)."""
    auth = _auth(request)
    found = tokens.get(auth.store, token_id)
    if found is None or found.kind != "api":
        raise NotFound(f"no API token {token_id!r}")
    tokens.revoke(auth.store, found)
    auth.forget()
    log.info("%s revoked API token %s (%r) of %r", current(request).user_id, token_id, found.name, found.user_id)
    return {"revoked": token_id}
