"""Roles and identities: what a request may do, independent of how it proved who it is."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """Each role includes the ones before it: an editor may do what a viewer may, an admin all."""

    viewer = "viewer"  # read everything, ask the AI, run sandboxed SQL
    editor = "editor"  # dashboards, alert rules, silences, reports, capture sessions, feedback and labels
    admin = "admin"  # users, API tokens, AI providers and keys, notification channels, retention


_RANK = {Role.viewer: 1, Role.editor: 2, Role.admin: 3}


def parse_role(text: str) -> Role:
    """`text` as a Role; ValueError naming the roles there are."""
    try:
        return Role(text)
    except ValueError:
        raise ValueError(f"unknown role {text!r}: use viewer, editor or admin") from None


def at_most(a: Role, b: Role) -> Role:
    """The lesser of two roles (a token limited to a role below its user's acts with that one)."""
    return a if _RANK[a] <= _RANK[b] else b


@dataclass(frozen=True)
class Identity:
    """Who a request acts for: a user id and its roles (an OIDC subject maps onto the same shape).

    `via` says how it was proven (session, token, api-token, open) for logs and `/auth/me`;
    `session_id` is the session's token id when it came from the sign-in cookie.
    """

    user_id: str
    roles: frozenset[Role]
    via: str
    session_id: str | None = None

    def has(self, role: Role) -> bool:
        return any(_RANK[r] >= _RANK[role] for r in self.roles)

    @property
    def role(self) -> Role:
        """The highest role held (what the UI shows)."""
        return max(self.roles, key=_RANK.__getitem__) if self.roles else Role.viewer


# With auth off every request acts as this one: kokanee on loopback, as before users existed.
OPEN = Identity("local", frozenset({Role.admin}), via="open")
# The static --api-token: an admin, kept for scripts written before users existed.
STATIC_TOKEN = Identity("api-token", frozenset({Role.admin}), via="api-token")
# The demo a server runs beside itself: it writes fault labels, nothing more.
DEMO_IDENTITY = Identity("demo", frozenset({Role.editor}), via="process")
