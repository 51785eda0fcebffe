"""Users, sign-in sessions and API tokens through the API, in-process over the test store."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from kokanee.api.app import create_app
from kokanee.api.auth import bootstrap, routes, users
from kokanee.api.auth.roles import Role
from kokanee.config import ConfigError, load_config
from kokanee.store.client import Store

STATIC = "static-api-token"
PANEL = {"title": "requests", "sql": "SELECT count() FROM otel_traces", "chart": "stat"}


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """argon2id still, with the smallest cost: the server's 64 MiB, 3-pass hash is ~0.1-0.5 s a time."""
    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    users._dummy_hash.cache_clear()
    yield
    users._dummy_hash.cache_clear()


@pytest.fixture
def store(chdb_store: Store) -> Store:
    for table in ("kokanee_users", "kokanee_api_tokens"):
        chdb_store.command(f"TRUNCATE TABLE {table}")
    return chdb_store


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    yield TestClient(create_app(store, STATIC, auth=True))


ADMIN = {"Authorization": f"Bearer {STATIC}"}


def _sign_in(client: TestClient, user: str, password: str) -> dict[str, str]:
    """Signs `client` in (cookies kept); the CSRF header its writes must send."""
    r = client.post("/api/v1/auth/login", json={"user": user, "password": password})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"]}


def test_sign_in_sets_a_session_cookie_that_scripts_cannot_read(client: TestClient, store: Store) -> None:
    users.create(store, "Ana", Role.editor, "correct horse")
    r = client.post("/api/v1/auth/login", json={"user": "ana", "password": "correct horse"})
    assert r.status_code == 200
    assert r.json() == {
        "user": "ana",
        "role": "editor",
        "via": "session",
        "auth": True,
        "csrf_token": r.json()["csrf_token"],
    }
    cookies = {c.split("=")[0]: c for c in r.headers.get_list("set-cookie")}
    assert "HttpOnly" in cookies["kokanee_session"] and "SameSite=lax" in cookies["kokanee_session"]
    assert "HttpOnly" not in cookies["kokanee_csrf"]  # the page reads it to send it back
    assert "Secure" not in cookies["kokanee_session"]  # plain http: a Secure cookie would never come back
    assert client.get("/api/v1/auth/me").json() == {"user": "ana", "role": "editor", "via": "session", "auth": True}


def test_behind_a_tls_proxy_the_cookies_are_secure(client: TestClient, store: Store) -> None:
    users.create(store, "ana", Role.viewer, "correct horse")
    r = client.post(
        "/api/v1/auth/login", json={"user": "ana", "password": "correct horse"}, headers={"X-Forwarded-Proto": "https"}
    )
    assert all("Secure" in c for c in r.headers.get_list("set-cookie"))


def test_a_wrong_password_or_user_is_401_and_says_no_more(client: TestClient, store: Store) -> None:
    users.create(store, "ana", Role.viewer, "correct horse")
    for user, password in (("ana", "wrong horse"), ("nobody", "correct horse")):
        r = client.post("/api/v1/auth/login", json={"user": user, "password": password})
        assert (r.status_code, r.json()) == (401, {"error": "wrong user or password"})
    assert "kokanee_session" not in client.cookies


def test_repeated_failures_pause_sign_in_for_that_name(
    client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "MAX_FAILURES", 2)
    monkeypatch.setattr(routes, "_failures", routes._Failures())
    users.create(store, "ana", Role.viewer, "correct horse")
    for _ in range(2):
        assert client.post("/api/v1/auth/login", json={"user": "ana", "password": "nope-nope"}).status_code == 401
    paused = client.post("/api/v1/auth/login", json={"user": "ana", "password": "correct horse"})
    assert paused.status_code == 429
    assert "too many failed sign-ins for 'ana'" in paused.json()["error"]


def test_cookie_writes_need_the_csrf_header(client: TestClient, store: Store) -> None:
    users.create(store, "ana", Role.editor, "correct horse")
    csrf = _sign_in(client, "ana", "correct horse")
    spec = {"title": "mine", "panels": [PANEL]}
    forged = client.post("/api/v1/dashboards", json=spec)  # what a page on another site could send
    assert forged.status_code == 403
    assert "X-CSRF-Token" in forged.json()["error"]
    wrong = client.post("/api/v1/dashboards", json=spec, headers={"X-CSRF-Token": "0" * 32})
    assert wrong.status_code == 403
    assert client.post("/api/v1/dashboards", json=spec, headers=csrf).status_code == 200
    assert client.get("/api/v1/dashboards").status_code == 200  # reads need no token


def test_a_viewer_is_told_which_role_a_write_needs(client: TestClient, store: Store) -> None:
    users.create(store, "vic", Role.viewer, "correct horse")
    csrf = _sign_in(client, "vic", "correct horse")
    r = client.post("/api/v1/alert-rules", json={"id": "x"}, headers=csrf)
    assert r.status_code == 403
    assert r.json() == {"error": "POST /api/v1/alert-rules needs the editor role; vic is a viewer"}
    assert client.post("/api/v1/query", json={"sql": "SELECT 1"}, headers=csrf).status_code == 200


def test_sign_out_ends_the_session_everywhere_it_was_copied(client: TestClient, store: Store) -> None:
    users.create(store, "ana", Role.viewer, "correct horse")
    csrf = _sign_in(client, "ana", "correct horse")
    stolen = dict(client.cookies)
    r = client.post("/api/v1/auth/logout", headers=csrf)
    assert r.json() == {"signed_out": "ana"}
    assert "kokanee_session" not in client.cookies
    replayed = TestClient(client.app, cookies=stolen)
    r = replayed.get("/api/v1/services")
    assert (r.status_code, r.json()) == (401, {"error": "your session has ended: sign in again"})


def test_admin_manages_users_and_the_last_admin_stays(client: TestClient, store: Store) -> None:
    made = client.post("/api/v1/users", json={"id": "Bo", "role": "editor", "password": "bo-password"}, headers=ADMIN)
    assert made.status_code == 201
    assert made.json()["id"] == "bo" and made.json()["role"] == "editor" and made.json()["has_password"]
    assert "password" not in made.text.replace("has_password", "")
    again = client.post("/api/v1/users", json={"id": "bo", "password": "bo-password"}, headers=ADMIN)
    assert (again.status_code, again.json()) == (409, {"error": "user 'bo' exists"})
    short = client.post("/api/v1/users", json={"id": "cy", "password": "short"}, headers=ADMIN)
    assert (short.status_code, short.json()) == (400, {"error": "password: at least 8 characters"})
    bad_role = client.post("/api/v1/users", json={"id": "cy", "role": "root", "password": "cy-password"}, headers=ADMIN)
    assert bad_role.status_code == 400 and "role" in bad_role.json()["error"]

    users.create(store, "root", Role.admin, "root-password")
    last = client.patch("/api/v1/users/root", json={"role": "viewer"}, headers=ADMIN)
    assert (last.status_code, last.json()) == (409, {"error": "root is the last admin: make another admin first"})
    assert client.delete("/api/v1/users/root", headers=ADMIN).status_code == 409
    assert client.patch("/api/v1/users/bo", json={"role": "admin"}, headers=ADMIN).json()["role"] == "admin"
    assert client.delete("/api/v1/users/root", headers=ADMIN).json() == {"deleted": "root", "revoked": 0}
    assert [u["id"] for u in client.get("/api/v1/users", headers=ADMIN).json()["users"]] == ["bo"]


def test_disabling_a_user_ends_their_session(client: TestClient, store: Store) -> None:
    users.create(store, "ana", Role.editor, "correct horse")
    browser = TestClient(client.app)
    _sign_in(browser, "ana", "correct horse")
    assert browser.get("/api/v1/services").status_code == 200
    assert client.patch("/api/v1/users/ana", json={"disabled": True}, headers=ADMIN).json()["disabled"] is True
    assert browser.get("/api/v1/services").status_code == 401
    refused = browser.post("/api/v1/auth/login", json={"user": "ana", "password": "correct horse"})
    assert refused.status_code == 401


def test_api_tokens_are_shown_once_act_for_their_user_and_can_be_revoked(client: TestClient, store: Store) -> None:
    assert client.post("/api/v1/users", json={"id": "ci", "role": "editor", "service_account": True}, headers=ADMIN)
    made = client.post("/api/v1/tokens", json={"user": "ci", "name": "deploy markers"}, headers=ADMIN)
    assert made.status_code == 201
    token, token_id = made.json()["token"], made.json()["id"]
    assert token.startswith("kok_")
    listed = client.get("/api/v1/tokens", headers=ADMIN).json()["tokens"]
    assert [t["name"] for t in listed] == ["deploy markers"] and token not in str(listed)
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/auth/me", headers=bearer).json() == {
        "user": "ci", "role": "editor", "via": "token", "auth": True,
    }  # fmt: skip
    assert client.post("/api/v1/dashboards", json={"title": "ci", "panels": [PANEL]}, headers=bearer).status_code == 200
    assert client.get("/api/v1/users", headers=bearer).status_code == 403
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=ADMIN).json() == {"revoked": token_id}
    r = client.get("/api/v1/services", headers=bearer)
    assert (r.status_code, r.json()) == (401, {"error": "missing or wrong bearer token"})


def test_a_token_can_be_held_below_its_users_role(client: TestClient, store: Store) -> None:
    users.create(store, "ops", Role.admin, "ops-password")
    made = client.post("/api/v1/tokens", json={"user": "ops", "name": "grafana", "role": "viewer"}, headers=ADMIN)
    bearer = {"Authorization": f"Bearer {made.json()['token']}"}
    assert client.get("/api/v1/auth/me", headers=bearer).json()["role"] == "viewer"
    assert client.post("/api/v1/dashboards", json={"title": "x", "panels": [PANEL]}, headers=bearer).status_code == 403


def test_users_change_their_own_password_and_other_sessions_end(client: TestClient, store: Store) -> None:
    users.create(store, "ana", Role.viewer, "correct horse")
    laptop, phone = TestClient(client.app), TestClient(client.app)
    csrf = _sign_in(laptop, "ana", "correct horse")
    _sign_in(phone, "ana", "correct horse")
    wrong = laptop.put(
        "/api/v1/auth/password", json={"current_password": "nope", "new_password": "battery staple"}, headers=csrf
    )
    assert (wrong.status_code, wrong.json()) == (400, {"error": "current_password: wrong password"})
    r = laptop.put(
        "/api/v1/auth/password",
        json={"current_password": "correct horse", "new_password": "battery staple"},
        headers=csrf,
    )
    assert r.json() == {"user": "ana", "other_sessions_ended": 1}
    assert laptop.get("/api/v1/services").status_code == 200
    assert phone.get("/api/v1/services").status_code == 401
    assert users.verify(store, "ana", "battery staple") is not None


def test_password_hashes_never_reach_the_sql_sandbox(client: TestClient) -> None:
    for table in ("kokanee_users", "kokanee_api_tokens"):
        r = client.post("/api/v1/query", json={"sql": f"SELECT * FROM {table}"}, headers=ADMIN)
        assert r.status_code == 400 and f"table '{table}' is not allowed" in r.json()["error"]


@pytest.mark.parametrize(
    ("setting", "host", "api_token", "on"),
    [
        ("auto", "127.0.0.1", None, False),
        ("auto", "::1", None, False),
        ("auto", "localhost", None, False),
        ("auto", "0.0.0.0", None, True),
        ("auto", "10.1.2.3", None, True),
        ("auto", "127.0.0.1", "t", True),
        ("off", "0.0.0.0", None, False),
        ("on", "127.0.0.1", None, True),
    ],
    ids=lambda v: repr(v),
)
def test_auth_is_on_unless_only_loopback_listens(
    setting: bootstrap.AuthSetting, host: str, api_token: str | None, on: bool
) -> None:
    assert bootstrap.auth_enabled(setting, host, api_token) is on


def test_the_first_start_creates_an_admin_with_the_given_password(store: Store) -> None:
    assert bootstrap.start_auth(store, "on", "127.0.0.1", None, "first-admin-pw") is True
    assert users.verify(store, "admin", "first-admin-pw") is not None
    assert bootstrap.start_auth(store, "on", "127.0.0.1", None, "another-password") is True  # not again
    assert users.verify(store, "admin", "another-password") is None


def test_without_a_password_the_first_admins_is_printed_once(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    bootstrap.start_auth(store, "on", "127.0.0.1", None, None)
    printed = capsys.readouterr().err
    password = printed.split("with password:")[1].split()[0]
    assert users.verify(store, "admin", password) is not None
    bootstrap.start_auth(store, "on", "127.0.0.1", None, None)
    assert "password" not in capsys.readouterr().err


def test_listening_beyond_loopback_without_auth_warns(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert bootstrap.start_auth(store, "off", "0.0.0.0", None, None) is False
    assert "auth is off and the API listens on 0.0.0.0" in caplog.text
    assert users.count(store) == 0


def test_auth_off_with_an_api_token_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="auth off leaves the API open, so --api-token would guard nothing"):
        load_config({"auth": "off", "api_token": "t"})
    assert load_config({"auth": "on", "api_token": "t"}).auth == "on"


def test_sign_ins_and_changes_leave_an_audit_trail_without_secrets(
    client: TestClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    def count(outcome: str) -> float:
        return REGISTRY.get_sample_value("kokanee_auth_signins_total", {"outcome": outcome}) or 0.0

    wrong_before, ok_before = count("wrong"), count("ok")
    users.create(store, "ana", Role.viewer, "correct horse")
    with caplog.at_level(logging.INFO, logger="kokanee.auth"):
        client.post("/api/v1/auth/login", json={"user": "ana", "password": "wrong horse"})
        _sign_in(client, "ana", "correct horse")
        client.patch("/api/v1/users/ana", json={"password": "battery staple"}, headers=ADMIN)
    assert "failed sign-in for 'ana' from testclient" in caplog.text
    assert "ana signed in from testclient" in caplog.text
    assert "api-token changed user 'ana': {'password': '(new)'}" in caplog.text
    assert "horse" not in caplog.text and "battery" not in caplog.text
    assert (count("wrong") - wrong_before, count("ok") - ok_before) == (1, 1)
