"""Sign-in and roles in a real browser: with auth on, the UI asks who you are; a viewer reads but
sees no Edit, Delete or New buttons and gets a 403 naming the role if it calls a write anyway; an
editor edits; an admin also manages users and API tokens. Screenshots in tests/e2e/artifacts/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.e2e.browser import expect, open_page, shot
from tests.server import KokaneeServer

TOKEN, ADMIN_PASSWORD = "ui-auth-static", "first-admin-password"
PASSWORDS = {"vera": "vera-viewer-pw", "ed": "ed-editor-pw", "admin": ADMIN_PASSWORD}
DASHBOARD = {
    "title": "Checkout health", "role": "sre",
    "panels": [{"title": "Spans", "sql": "SELECT count() AS spans FROM otel_traces", "chart": "stat"}],
}  # fmt: skip
RULE = {"id": "ui-auth-errors", "kind": "threshold", "signal": "error_rate", "service": "*", "value": 0.5,
        "window": "5m", "severity": "critical"}  # fmt: skip


def _sign_in(browser: Any, server: KokaneeServer, user: str, path: str) -> tuple[Any, list[str]]:
    page, errors = open_page(browser)
    page.goto(f"{server.api_url}{path}")
    form = page.get_by_test_id("signin")
    form.get_by_label("User").fill(user)
    form.get_by_label("Password").fill(PASSWORDS[user])
    form.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("user-menu")).to_contain_text(user)
    return page, errors


def _write_as_page(page: Any, method: str, path: str) -> Any:
    """What the page's own fetch gets for a write, sent as the UI sends writes (CSRF header)."""
    return page.evaluate(
        """async ([method, path]) => {
            const csrf = document.cookie.split("; ").find((c) => c.startsWith("kokanee_csrf=")).split("=")[1];
            const r = await fetch(path, {method, headers: {"X-CSRF-Token": csrf, "Content-Type": "application/json"}});
            return [r.status, await r.json()];
        }""",
        [method, path],
    )


def test_each_role_sees_what_it_may_do(start_kokanee: Callable[..., KokaneeServer], browser: Any) -> None:
    server = start_kokanee("--auth", "on", "--api-token", TOKEN, env={"KOKANEE_ADMIN_PASSWORD": ADMIN_PASSWORD})
    api = httpx.Client(base_url=f"{server.api_url}/api/v1", headers={"Authorization": f"Bearer {TOKEN}"})
    for user, role in (("vera", "viewer"), ("ed", "editor")):
        assert api.post("/users", json={"id": user, "role": role, "password": PASSWORDS[user]}).status_code == 201
    dashboard = api.post("/dashboards", json=DASHBOARD).json()["id"]
    assert api.post("/alert-rules", json=RULE).status_code == 201

    # Nobody signed in: the sign-in page, and a wrong password is said so.
    page, errors = open_page(browser)
    page.goto(f"{server.api_url}/dashboards/{dashboard}")
    form = page.get_by_test_id("signin")
    form.get_by_label("User").fill("vera")
    form.get_by_label("Password").fill("not-her-password")
    form.get_by_role("button", name="Sign in").click()
    expect(form.get_by_role("alert")).to_contain_text("wrong user or password")
    shot(page, "auth-01-sign-in")

    # A viewer: reads the dashboard and the rules, no buttons to change them, and 403 if it tries.
    form.get_by_label("Password").fill(PASSWORDS["vera"])
    form.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("user-role")).to_have_text("viewer")
    expect(page.get_by_role("heading", name="Checkout health")).to_be_visible()
    expect(page.get_by_role("button", name="Edit")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)
    expect(page.get_by_text("Users and tokens")).to_have_count(0)
    shot(page, "auth-02-viewer-dashboard")
    status, body = _write_as_page(page, "DELETE", f"/api/v1/dashboards/{dashboard}")
    assert (status, body) == (
        403,
        {"error": "DELETE /api/v1/dashboards/{dashboard_id} needs the editor role; vera is a viewer"},
    )
    page.get_by_role("link", name="Alerts", exact=True).click()
    expect(page.get_by_test_id("alert-rules")).to_contain_text("ui-auth-errors")
    expect(page.get_by_test_id("new-rule")).to_have_count(0)
    expect(page.get_by_test_id("silences").get_by_role("button", name="Silence")).to_have_count(0)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_test_id("signin")).to_be_visible()
    assert page.evaluate("async () => (await fetch('/api/v1/services')).status") == 401

    # An editor: the same pages with their buttons; no user management.
    page, editor_errors = _sign_in(browser, server, "ed", f"/dashboards/{dashboard}")
    errors += editor_errors
    expect(page.get_by_test_id("user-role")).to_have_text("editor")
    page.get_by_role("button", name="Edit").click()
    expect(page.get_by_role("button", name="Save")).to_be_visible()
    expect(page.get_by_text("Users and tokens")).to_have_count(0)
    page.get_by_role("link", name="Alerts", exact=True).click()
    expect(page.get_by_test_id("new-rule")).to_be_visible()
    assert _write_as_page(page, "GET", "/api/v1/users")[0] == 403
    shot(page, "auth-03-editor-alerts")

    # The admin (password from KOKANEE_ADMIN_PASSWORD): users and a token shown once.
    page, admin_errors = _sign_in(browser, server, "admin", "/")
    errors += admin_errors
    page.get_by_role("link", name="Users and tokens").click()
    users = page.get_by_test_id("users")
    expect(users).to_contain_text("vera")
    expect(users.get_by_label("Role of ed")).to_have_value("editor")
    made = page.get_by_test_id("new-token")
    made.get_by_label("For").select_option("vera")
    made.get_by_label("Name").fill("grafana")
    made.get_by_role("button", name="Create token").click()
    shown = page.get_by_test_id("new-token-value")
    expect(shown).to_contain_text("kok_")
    token = shown.locator("code").inner_text()
    expect(page.get_by_test_id("tokens")).to_contain_text("grafana")
    shot(page, "auth-04-admin-users", full_page=True)
    me = httpx.get(f"{server.api_url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {"user": "vera", "role": "viewer", "via": "token", "auth": True}
    assert errors == []
