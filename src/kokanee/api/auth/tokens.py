"""API tokens and sign-in sessions in `kokanee_api_tokens`: only their SHA-256 is stored.

A token is 256 random bits, so a fast hash is enough (nothing to guess from it, unlike a password);
the first 24 hex digits of the digest are the row's key, so a token is found without a scan. API
tokens start with `kok_` so secret scanners and people can tell them apart from other secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

from kokanee.api.auth.roles import Role, parse_role
from kokanee.api.auth.users import next_version
from kokanee.store.client import Store

Kind = Literal["api", "session"]
API_PREFIX = "kok_"
SESSION_TTL_S = 7 * 24 * 3600  # a signed-in browser stays signed in for a week, then signs in again


@dataclass(frozen=True)
class Token:
    token_id: str
    kind: Kind
    user_id: str
    name: str
    role: Role | None  # None: the user's own role
    created_at_ms: int
    expires_at_ms: int  # 0: never
    revoked: bool
    token_hash: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.token_id, "user": self.user_id, "name": self.name,
            "role": self.role.value if self.role else None, "created_at_unix_ms": self.created_at_ms,
            "expires_at_unix_ms": self.expires_at_ms or None, "revoked": self.revoked,
        }  # fmt: skip

    def live(self, now_ms: int) -> bool:
        return not self.revoked and (self.expires_at_ms == 0 or now_ms < self.expires_at_ms)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_id(token: str) -> str:
    return digest(token)[:24]


def _write(store: Store, t: Token) -> None:
    store.command(
        "INSERT INTO kokanee_api_tokens (TokenId, TokenHash, Kind, UserId, Name, Role, CreatedAt, ExpiresAt, "
        "Revoked, Version) VALUES ({id:String}, {hash:String}, {kind:String}, {user:String}, {name:String}, "
        "{role:String}, fromUnixTimestamp64Milli({created:Int64}), fromUnixTimestamp64Milli({expires:Int64}), "
        "{revoked:UInt8}, {version:UInt64})",
        parameters={
            "id": t.token_id, "hash": t.token_hash, "kind": t.kind, "user": t.user_id, "name": t.name,
            "role": t.role.value if t.role else "", "created": t.created_at_ms, "expires": t.expires_at_ms,
            "revoked": int(t.revoked), "version": next_version(),
        },
    )  # fmt: skip


def issue(
    store: Store, kind: Kind, user_id: str, name: str = "", role: Role | None = None, ttl_s: float | None = None
) -> tuple[str, Token]:
    """A new token for `user_id`: the token itself (shown once, never stored) and its record."""
    secret = secrets.token_urlsafe(32)
    text = f"{API_PREFIX}{secret}" if kind == "api" else secret
    now_ms = time.time_ns() // 1_000_000
    if kind == "session":
        ttl_s = SESSION_TTL_S
    expires = now_ms + int(ttl_s * 1000) if ttl_s else 0
    record = Token(token_id(text), kind, user_id, name, role, now_ms, expires, False, digest(text))
    _write(store, record)
    return text, record


_SELECT = (
    "SELECT TokenId, Kind, UserId, Name, Role, toUnixTimestamp64Milli(CreatedAt), "
    "toUnixTimestamp64Milli(ExpiresAt), Revoked, TokenHash FROM kokanee_api_tokens FINAL"
)


def _token(row: tuple[Any, ...]) -> Token:
    kind: Kind = "session" if row[1] == "session" else "api"
    role = parse_role(str(row[4])) if row[4] else None
    return Token(str(row[0]), kind, str(row[2]), str(row[3]), role, int(row[5]), int(row[6]), bool(row[7]), str(row[8]))


def lookup(store: Store, text: str, kind: Kind) -> Token | None:
    """The live token of that kind whose text this is, or None."""
    if kind == "api" and not text.startswith(API_PREFIX):
        return None
    hashed = digest(text)
    rows = store.query(f"{_SELECT} WHERE TokenId = {{id:String}}", parameters={"id": hashed[:24]}).rows
    if not rows:
        return None
    found = _token(rows[0])
    if found.kind != kind or not hmac.compare_digest(found.token_hash, hashed):
        return None
    return found if found.live(time.time_ns() // 1_000_000) else None


def get(store: Store, tid: str) -> Token | None:
    rows = store.query(f"{_SELECT} WHERE TokenId = {{id:String}}", parameters={"id": tid}).rows
    return _token(rows[0]) if rows else None


def list_tokens(store: Store, kind: Kind = "api", user_id: str | None = None) -> list[Token]:
    where = "WHERE Kind = {kind:String}" + (" AND UserId = {user:String}" if user_id is not None else "")
    rows = store.query(
        f"{_SELECT} {where} ORDER BY CreatedAt DESC", parameters={"kind": kind, "user": user_id or ""}
    ).rows
    return [_token(row) for row in rows]


def revoke(store: Store, t: Token) -> Token:
    gone = Token(t.token_id, t.kind, t.user_id, t.name, t.role, t.created_at_ms, t.expires_at_ms, True, t.token_hash)
    _write(store, gone)
    return gone


def revoke_sessions(store: Store, user_id: str, keep: str | None = None) -> int:
    """Signs a user out everywhere (after a password change: everywhere but `keep`); how many."""
    now_ms = time.time_ns() // 1_000_000
    ended = [t for t in list_tokens(store, "session", user_id) if t.live(now_ms) and t.token_id != keep]
    for t in ended:
        revoke(store, t)
    return len(ended)
