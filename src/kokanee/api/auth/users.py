"""Local users in `kokanee_users`: argon2id password hashes, a role, and service accounts.

Passwords are hashed with argon2-cffi's defaults (argon2id, 64 MiB, 3 passes) and re-hashed at
sign-in when those defaults change. A user id is the sign-in name in lower case.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kokanee.api.auth.roles import Role, parse_role
from kokanee.store.client import Store

Kind = Literal["local", "service"]
MIN_PASSWORD = 8  # NIST SP 800-63B's floor for passwords a user chooses
MAX_PASSWORD = 1024  # argon2 takes any length; this keeps a request from costing more than a hash
_USER_ID = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so a wrong name costs as long as a wrong password."""
    return _hasher.hash("kokanee-no-such-user")


class UserError(ValueError):
    """A bad user id, role or password; the message says which and why."""


class UserExists(UserError):
    pass


@dataclass(frozen=True)
class User:
    user_id: str
    role: Role
    kind: Kind
    disabled: bool
    created_at_ms: int
    password_hash: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.user_id, "role": self.role.value, "kind": self.kind, "disabled": self.disabled,
            "created_at_unix_ms": self.created_at_ms, "has_password": bool(self.password_hash),
        }  # fmt: skip


_clock = threading.Lock()
_last_version = 0


def next_version() -> int:
    """Nanoseconds, strictly increasing in this process: two writes in one millisecond keep their order."""
    global _last_version
    with _clock:
        _last_version = max(time.time_ns(), _last_version + 1)
        return _last_version


def check_user_id(user_id: str) -> str:
    normal = user_id.strip().lower()
    if not _USER_ID.fullmatch(normal):
        raise UserError(
            f"user id {user_id!r}: 1 to 64 characters, letters, digits and . _ @ -, starting with a letter or digit"
        )
    return normal


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"password: at most {MAX_PASSWORD} characters")
    return password


def _write(store: Store, user: User, deleted: bool = False) -> None:
    store.command(
        "INSERT INTO kokanee_users (UserId, PasswordHash, Role, Kind, Disabled, CreatedAt, Version, Deleted) "
        "VALUES ({id:String}, {hash:String}, {role:String}, {kind:String}, {disabled:UInt8}, "
        "fromUnixTimestamp64Milli({created:Int64}), {version:UInt64}, {deleted:UInt8})",
        parameters={
            "id": user.user_id, "hash": user.password_hash, "role": user.role.value, "kind": user.kind,
            "disabled": int(user.disabled), "created": user.created_at_ms, "version": next_version(),
            "deleted": int(deleted),
        },
    )  # fmt: skip


_SELECT = (
    "SELECT UserId, Role, Kind, Disabled, toUnixTimestamp64Milli(CreatedAt), PasswordHash "
    "FROM kokanee_users FINAL WHERE Deleted = 0"
)


def _user(row: tuple[Any, ...]) -> User:
    kind: Kind = "service" if row[2] == "service" else "local"
    return User(str(row[0]), parse_role(str(row[1])), kind, bool(row[3]), int(row[4]), str(row[5]))


def get(store: Store, user_id: str) -> User | None:
    rows = store.query(f"{_SELECT} AND UserId = {{id:String}}", parameters={"id": user_id.strip().lower()}).rows
    return _user(rows[0]) if rows else None


def list_users(store: Store) -> list[User]:
    return [_user(row) for row in store.query(f"{_SELECT} ORDER BY UserId").rows]


def count(store: Store) -> int:
    rows = store.query("SELECT count() FROM kokanee_users FINAL WHERE Deleted = 0").rows
    return int(rows[0][0]) if rows else 0


def create(store: Store, user_id: str, role: Role, password: str | None, kind: Kind = "local") -> User:
    """A new user (UserError if the id is taken or bad). A local user needs a password; a service
    account has none and signs in only with API tokens."""
    user_id = check_user_id(user_id)
    if kind == "local" and password is None:
        raise UserError("password: a user who signs in needs one (or make a service account)")
    if kind == "service" and password is not None:
        raise UserError("password: a service account has none; it uses API tokens")
    if get(store, user_id) is not None:
        raise UserExists(f"user {user_id!r} exists")
    hashed = _hasher.hash(check_password(password)) if password is not None else ""
    user = User(user_id, role, kind, False, time.time_ns() // 1_000_000, hashed)
    _write(store, user)
    return user


def update(
    store: Store, user: User, role: Role | None = None, password: str | None = None, disabled: bool | None = None
) -> User:
    if password is not None and user.kind == "service":
        raise UserError("password: a service account has none; it uses API tokens")
    changed = User(
        user.user_id,
        role if role is not None else user.role,
        user.kind,
        disabled if disabled is not None else user.disabled,
        user.created_at_ms,
        _hasher.hash(check_password(password)) if password is not None else user.password_hash,
    )
    _write(store, changed)
    return changed


def delete(store: Store, user: User) -> None:
    _write(store, user, deleted=True)


def verify(store: Store, user_id: str, password: str) -> User | None:
    """The user if `password` is theirs and they may sign in; None otherwise, in about the same time."""
    user = get(store, user_id) if _USER_ID.fullmatch(user_id.strip().lower()) else None
    hashed = user.password_hash if user is not None and user.password_hash else _dummy_hash()
    try:
        _hasher.verify(hashed, password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.password_hash or user.disabled:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user = update(store, user, password=password)
    return user
