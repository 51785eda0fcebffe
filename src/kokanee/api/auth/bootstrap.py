"""Turning auth on at start: whether it is on, and the first admin.

Auth is on unless the API listens only on loopback (then only this machine's users reach it, as
before users existed). `--auth on|off` overrides that; `--api-token` alone turns it on, as it
always guarded the API. A store without users gets an `admin` at the first start with auth on,
with KOKANEE_ADMIN_PASSWORD or a random password printed once (only its hash is kept).
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import sys
from typing import Literal

from kokanee.api.auth import users
from kokanee.api.auth.roles import Role
from kokanee.store.client import Store

log = logging.getLogger(__name__)

AuthSetting = Literal["auto", "on", "off"]
FIRST_ADMIN = "admin"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def auth_enabled(setting: AuthSetting, host: str, api_token: str | None) -> bool:
    if setting != "auto":
        return setting == "on"
    return bool(api_token) or not is_loopback(host)


def start_auth(
    store: Store, setting: AuthSetting, host: str, api_token: str | None, admin_password: str | None
) -> bool:
    """Decides whether auth is on, warns where that is unwise, and creates the first admin."""
    enabled = auth_enabled(setting, host, api_token)
    if not enabled:
        if not is_loopback(host):
            log.warning(
                "auth is off and the API listens on %s: anyone who can reach it can read everything and "
                "change alert rules, AI keys and retention (start with --auth on)",
                host,
            )
        return False
    if users.count(store) == 0:
        password = admin_password or secrets.token_urlsafe(15)
        users.create(store, FIRST_ADMIN, Role.admin, password)
        if admin_password:
            log.info("auth is on: created user %r with the password from KOKANEE_ADMIN_PASSWORD", FIRST_ADMIN)
        else:
            # Printed rather than logged, so log handlers (a JSON shipper) never see it.
            print(
                f"\nkokanee: auth is on. Created user '{FIRST_ADMIN}' with password:\n\n    {password}\n\n"
                "It is shown only this once; sign in and change it (or add users) under Settings → Users.\n",
                file=sys.stderr,
                flush=True,
            )
    else:
        log.info("auth is on (%d users)", users.count(store))
    return True
